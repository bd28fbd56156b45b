"""The multi-region roll-up: each region's figures as reported and converted, the total converted."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cloudtill.reporting.rollup import _rates, converter, rollup

from tests.reporting_scenario import REPORT_DAY, margin_scenario
from tests.unit.test_reporting_insights import report, seeded


def regional() -> dict[str, dict[str, Any]]:
    eu = report(seeded(margin_scenario()))
    us = json.loads(json.dumps(eu))
    us["currency"] = "USD"
    return {"eu": eu, "us": us}


def test_regions_are_kept_beside_the_converted_total() -> None:
    rolled = rollup(REPORT_DAY, regional(), "EUR", {"USD": Decimal("0.9")}, "ECB reference rate 2026-07-15")

    eu, us = rolled["regions"]["eu"], rolled["regions"]["us"]
    assert eu["reported"] == eu["converted"] and eu["rate"] is None
    assert us["reported"]["total_sales"] == 6030
    assert us["converted"]["total_sales"] == 5427  # 6030 x 0.9
    assert us["converted"]["gross_margin"] == 900
    assert rolled["total"]["total_sales"] == 6030 + 5427
    assert rolled["total"]["orders"] == 4
    assert rolled["total"]["tax_by_country"]["DE"] == {"collected": 570 + 513, "refunded": 570 + 513}
    assert rolled["total"]["average_order_value"] == 2864  # 11457 / 4, half up
    assert rolled["rates"]["source"] == "ECB reference rate 2026-07-15"


def test_a_missing_rate_is_an_error_naming_the_currency() -> None:
    with pytest.raises(SystemExit, match="USD"):
        rollup(REPORT_DAY, regional(), "EUR", {}, "none")


def test_rates_from_a_file_and_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "rates.json"
    path.write_text(json.dumps({"source": "ECB", "rates": {"usd": "0.91", "GBP": "1.17"}}))
    rates, source = _rates(str(path), ["USD=0.92"])
    assert (rates, source) == ({"USD": Decimal("0.92"), "GBP": Decimal("1.17")}, "ECB")
    assert converter("JPY", "EUR", {"JPY": Decimal("0.0062")})(10000) == 6200  # ¥10,000 -> €62.00


def test_the_cli_reads_each_stacks_report_from_its_bucket(tmp_path: Path) -> None:
    import boto3
    from cloudtill.reporting.rollup import main
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for name, report in regional().items():
            s3.create_bucket(Bucket=f"reports-{name}")
            s3.put_object(
                Bucket=f"reports-{name}", Key="reports/2026/07/15/report.json", Body=json.dumps(report)
            )
        out = tmp_path / "rollup.json"

        assert main(
            ["--date", REPORT_DAY, "--stack", "eu=reports-eu", "--stack", "us=reports-us@us-east-1",
             "--rate", "USD=0.9", "--out", str(out)]
        ) == 0  # fmt: skip

    rolled = json.loads(out.read_text())
    assert set(rolled["regions"]) == {"eu", "us"}
    assert rolled["total"]["total_sales"] == 6030 + 5427
    assert rolled["rates"] == {"source": "command line", "to": "EUR", "per_unit": {"USD": "0.9"}}
