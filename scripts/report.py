"""Build daily reports against the running local backend (`make run`): one day or a range (backfill).

    make report DATE=2026-07-15
    make report FROM=2026-07-01 TO=2026-07-15
    python scripts/report.py --from 2026-07-01 --to 2026-07-15 [--base-url URL] [--admin-token TOKEN]

Each day fires the `nightly-report` schedule now with `{"date": day}` (`POST /_local/schedules/
nightly-report/run`), or, with an admin token (the one `make run` printed; also `ADMIN_TOKEN`), calls
`POST /admin/reports/{day}` as ops would. Re-running a day rewrites the same files with the same content.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta

import httpx
from tqdm import tqdm

MAX_DAYS = 366


def days_between(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="report", description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, help="one day (YYYY-MM-DD)")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first day of a range")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day of a range (inclusive)")
    parser.add_argument(
        "--base-url",
        default=os.environ.get("BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
    )
    parser.add_argument("--admin-token", default=os.environ.get("ADMIN_TOKEN") or None)
    args = parser.parse_args(argv)
    if args.date and (args.first or args.last):
        parser.error("give DATE or FROM/TO, not both")
    if not args.date and not (args.first and args.last):
        parser.error("give DATE=YYYY-MM-DD, or FROM=YYYY-MM-DD and TO=YYYY-MM-DD")
    if args.date:
        args.first = args.last = args.date
    if args.last < args.first:
        parser.error("TO is before FROM")
    if (args.last - args.first).days + 1 > MAX_DAYS:
        parser.error(f"at most {MAX_DAYS} days at a time")
    return args


def run_day(client: httpx.Client, day: str, admin_token: str | None) -> dict[str, object]:
    if admin_token:
        response = client.post(f"/admin/reports/{day}", headers={"Authorization": f"Bearer {admin_token}"})
        response.raise_for_status()
        return dict(response.json())
    response = client.post("/_local/schedules/nightly-report/run", json={"date": day})
    response.raise_for_status()
    return dict(response.json()["result"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    days = days_between(args.first, args.last)
    written = []
    with httpx.Client(base_url=args.base_url, timeout=180) as client:
        try:
            for day in tqdm(days, desc="reports", unit="day", disable=len(days) == 1):
                written.append((day, run_day(client, day, args.admin_token)))
        except httpx.HTTPError as error:
            detail = getattr(getattr(error, "response", None), "text", "")
            print(f"report failed: {error} {detail}".strip(), file=sys.stderr)
            print("is the local backend running (`make run`)?", file=sys.stderr)
            return 1
    for day, result in written:
        summary = result.get("summary", {})
        keys = result.get("keys", {})
        print(f"{day}: {summary} -> {keys.get('json') if isinstance(keys, dict) else keys}")
        # The local backend serves the files it wrote (GET /_local/reports/{day}/{file}).
        print(f"  open: {args.base_url.rstrip('/')}/_local/reports/{day}/report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
