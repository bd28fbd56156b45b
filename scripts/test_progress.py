"""Progress of `make test` while its suites run side by side (their output is held back until each
suite is done): reads the status files the suites keep (tests/conftest.py) and prints one line per suite
every `--every` seconds, and a line as soon as a suite finishes.

    python scripts/test_progress.py DIR [--every 30] [--suites integration faults unit+infra]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def describe(state: dict[str, Any], now: float) -> str:
    total = state.get("total")
    counted = f"{state['done']}/{total if total is not None else '?'} tests"
    failed = f", {state['failed']} failed" if state.get("failed") else ""
    if state.get("finished"):
        outcome = "passed" if state.get("exitstatus") == 0 else f"FAILED (exit {state.get('exitstatus')})"
        took = _duration(state.get("ended", now) - state["started"])
        return f"{state['suite']}: finished, {outcome}, {counted}{failed} in {took}"
    running = ""
    if state.get("running"):
        running = f", running {state['running']} ({_duration(now - state['running_since'])})"
    elif total is None:
        running = ", collecting"
    return f"{state['suite']}: {counted}{failed}{running}"


def read_states(folder: Path) -> dict[str, dict[str, Any]]:
    states = {}
    for path in sorted(folder.glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now: read at the next tick
        states[state["suite"]] = state
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="test_progress", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--every", type=float, default=30.0)
    parser.add_argument("--suites", nargs="*", default=[])
    args = parser.parse_args(argv)
    began = time.monotonic()
    if args.suites:
        print(
            f"[progress] running side by side: {', '.join(args.suites)}; each suite's output appears when "
            f"it is done, a progress line every {args.every:.0f} s",
            flush=True,
        )
    finished: set[str] = set()
    next_report = time.monotonic() + args.every
    while True:
        time.sleep(min(1.0, args.every))
        now = time.time()
        states = read_states(args.folder)
        for name, state in states.items():
            if state.get("finished") and name not in finished:
                finished.add(name)
                print(f"[progress {_duration(time.monotonic() - began)}] {describe(state, now)}", flush=True)
        if time.monotonic() >= next_report:
            next_report = time.monotonic() + args.every
            running = [describe(s, now) for n, s in states.items() if n not in finished]
            waiting = [s for s in args.suites if s not in states]
            if waiting:
                running += [f"{s}: starting" for s in waiting]
            if running:
                print(f"[progress {_duration(time.monotonic() - began)}] " + " | ".join(running), flush=True)
        if args.suites and set(args.suites) <= finished:
            return 0


if __name__ == "__main__":
    sys.exit(main())
