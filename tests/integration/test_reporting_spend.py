"""Marketing spend through the admin API: recorded once per day and channel (a second POST replaces
it), listed by day range, bad input refused with a 422 naming the field, and the day's report puts it
beside the channel's new customers (acquisition)."""

from __future__ import annotations

import httpx
import pytest

DAY = "2031-03-04"  # a day no other test reports on


def spend(channel: str, amount: int = 12345, **changes: object) -> dict[str, object]:
    return {"date": DAY, "channel": channel, "amount": amount, "currency": "EUR", **changes}


def test_spend_is_idempotent_per_day_and_channel_and_reported(admin: httpx.Client, unique: str) -> None:
    channel = f"ads-{unique}"

    first = admin.post("/admin/marketing-spend", json=spend(channel, 1000))
    again = admin.post("/admin/marketing-spend", json=spend(channel, 2500))

    assert first.status_code == 200, first.text
    assert first.json() == spend(channel, 1000)
    assert again.status_code == 200, again.text
    listed = admin.get("/admin/marketing-spend", params={"from": DAY, "to": DAY})
    assert listed.status_code == 200, listed.text
    assert [row for row in listed.json()["items"] if row["channel"] == channel] == [spend(channel, 2500)]

    built = admin.post(f"/admin/reports/{DAY}")
    assert built.status_code == 200, built.text
    report = admin.get(f"/admin/reports/{DAY}").json()
    [row] = [c for c in report["acquisition"]["day"]["channels"] if c["channel"] == channel]
    assert row == {"channel": channel, "spend": 2500, "new_customers": 0, "cac": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (spend("ads", date="2031-02-30"), "date"),
        (spend("ads", date="yesterday"), "date"),
        (spend("Bad Channel!"), "channel"),
        (spend("ads", amount=-1), "amount"),
        (spend("ads", amount="12"), "amount"),
        (spend("ads", currency="USD"), "currency"),
        ({"date": DAY, "channel": "ads", "amount": 1}, "currency"),
        ({**spend("ads"), "note": "x"}, "note"),
    ],
)
def test_bad_spend_is_a_422_naming_the_field(
    admin: httpx.Client, body: dict[str, object], field: str
) -> None:
    response = admin.post("/admin/marketing-spend", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in {error["field"] for error in response.json().get("errors", [])}, response.json()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2031-03-05", "to": DAY}, "to"),
        ({"from": "2031-13-01", "to": DAY}, "from"),
        ({"to": DAY}, "from"),
    ],
)
def test_bad_spend_ranges_are_422_naming_the_field(
    admin: httpx.Client, params: dict[str, str], field: str
) -> None:
    response = admin.get("/admin/marketing-spend", params=params)

    assert response.status_code == 422, response.text
    assert field in {error["field"] for error in response.json().get("errors", [])}, response.json()


def test_week_and_month_reports_through_the_admin_route(admin: httpx.Client) -> None:
    week = admin.post("/admin/reports/2031-W10")
    month = admin.post("/admin/reports/2031-03")

    assert week.status_code == 200, week.text
    assert week.json()["keys"]["json"] == "reports/weekly/2031-W10/report.json"
    assert month.status_code == 200, month.text
    stored = admin.get("/admin/reports/2031-03").json()
    assert (stored["kind"], stored["days"]) == ("month", {"from": "2031-03-01", "to": "2031-03-31"})
    bad = admin.post("/admin/reports/2031-W60")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "date"
