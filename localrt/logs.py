"""Readable local logs (`make run`, `--log-format text`): one line per request, per event delivery and per
log record of a function, instead of the JSON a function writes for CloudWatch.

Only the local runtime changes how it shows them: the functions log exactly as in AWS (Powertools JSON),
and this module turns each JSON record into `time LEVEL function message key=value...` on its way to the
terminal. Metric blobs (EMF) are not written at all locally (`POWERTOOLS_METRICS_DISABLED`), nor
Powertools' warning that a handler published no metric. `--log-format json` (the default of
`python -m localrt`, and what the tests read) passes everything through untouched.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from typing import IO, Any

# What Powertools adds to every record: shown as the line's own columns or left out.
_STANDARD_KEYS = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
    "sampling_rate",
    "exception",
    "exception_name",
    "stack_trace",
}
# Locally only: the functions' metrics are not shown (CloudWatch reads them in AWS), nor the warning
# Powertools gives when a handler had none to publish.
TEXT_WORKER_ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "PYTHONWARNINGS": "ignore:No application metrics to publish:UserWarning",
}


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]


def format_record(line: str) -> str | None:
    """A function's output line as shown locally; None to leave it out."""
    text = line.rstrip("\n")
    if not text.startswith("{"):
        return text
    try:
        record: Any = json.loads(text)
    except ValueError:
        return text
    if not isinstance(record, dict):
        return text
    if "_aws" in record:  # a metric blob (EMF)
        return None
    if "level" not in record or "message" not in record:
        return text
    extras = " ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value, default=str)}"
        for key, value in record.items()
        if key not in _STANDARD_KEYS
    )
    message = record["message"] if isinstance(record["message"], str) else json.dumps(record["message"])
    shown = f"{record['level']:<7} {record.get('service', '-'):<13} {message}"
    if extras:
        shown += f"  {extras}"
    if record.get("exception"):
        shown += "\n" + str(record["exception"]).rstrip()
    return shown


class TextLog:
    """Writes time-stamped lines to `out`; `sink` is a file for child processes' output (formatted)."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "r", encoding="utf-8", errors="replace")
        self.sink: IO[str] = os.fdopen(write_fd, "w", buffering=1, encoding="utf-8")
        threading.Thread(target=self._pump, name="log-format", daemon=True).start()

    def line(self, text: str) -> None:
        with self._lock:
            self._out.write(f"{_now()} {text}\n")
            self._out.flush()

    def _pump(self) -> None:
        for raw in self._reader:
            shown = format_record(raw)
            if shown is not None:
                self.line(shown)

    def request(self, method: str, path: str, status: int | None, seconds: float) -> None:
        outcome = "client hung up" if status is None else str(status)
        self.line(f"{method:<7} {path} {outcome} {seconds * 1000:.0f} ms")

    def delivery(
        self, consumer: str, source: str, kinds: list[str], seconds: float, failed: str | None
    ) -> None:
        counted: dict[str, int] = {}
        for kind in kinds:
            counted[kind] = counted.get(kind, 0) + 1
        what = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in counted.items()) or "(no records)"
        outcome = f"failed: {failed}" if failed else "ok"
        self.line(f"event   {what} -> {consumer} ({source}) {outcome} {seconds * 1000:.0f} ms")
