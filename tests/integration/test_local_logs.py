"""Readable local logs (`make run` starts the backend with `--log-format text`): one line per request
(method, path, status, duration) and per event delivery (type, consumer), the functions' records as one
line each, no metric blobs or Powertools warnings, and a client that hangs up is one line, not a
traceback. (The JSON the functions write is untouched: the suite's own backend logs it, and
test_zz_log_hygiene.py reads it.)"""

from __future__ import annotations

import re
import socket
import struct
import time
from pathlib import Path

import httpx

from tests.integration.conftest import ADMIN_TOKEN, start_backend
from tests.integration.orders_support import create_checkout, pay, stocked_sku, wait_for, wait_for_order_id

TIME = r"^\d\d:\d\d:\d\d\.\d{3} "


def _hang_up(base_url: str, path: str) -> None:
    """Send a request and reset the connection without reading the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST


def test_text_logs_are_one_readable_line_each(tmp_path: Path, unique: str) -> None:
    with start_backend(tmp_path, extra_args=("--log-format", "text", "--no-seed")) as backend:
        api = httpx.Client(base_url=backend.base_url, timeout=60)
        admin = httpx.Client(
            base_url=backend.base_url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert api.get("/products").status_code == 200
        sku = stocked_sku(backend, admin, unique, 3)
        checkout = create_checkout(api, (sku, 1))
        pay(api, checkout)
        order_id = wait_for_order_id(api, checkout)
        assert api.delete("/admin/customers/someone@example.com").status_code == 401
        for _ in range(3):
            _hang_up(backend.base_url, "/openapi.json")
        wait_for(backend.log_text, lambda t: "client hung up" in t, "the hang-up logged")
        wait_for(
            backend.log_text,
            lambda t: re.search(r"event +.*OrderConfirmed.* -> notifications \(sqs\) ok", t) is not None,
            "the confirmation delivered",
        )
        time.sleep(1)
        log = backend.log_text()
    lines = log.splitlines()
    assert re.search(TIME + r"GET +/products 200 \d+ ms$", log, re.M), log[-3000:]
    assert re.search(TIME + r"POST +/checkouts 201 \d+ ms$", log, re.M), log[-3000:]
    assert re.search(TIME + rf"GET +/checkouts/{checkout['id']} 200 \d+ ms$", log, re.M), log[-3000:]
    assert re.search(TIME + r"POST +/_local/payments/\S+/confirm 200 \d+ ms$", log, re.M)
    # A path parameter that is an e-mail address stays a placeholder.
    assert re.search(TIME + r"DELETE +/admin/customers/\{email\} 401 \d+ ms$", log, re.M)
    assert "someone@example.com" not in log
    assert re.search(TIME + r"event +.*OrderConfirmed.* -> notifications \(sqs\) ok \d+ ms$", log, re.M)
    assert re.search(TIME + r"event +\S.* -> publisher \(dynamodbstreams\) ok \d+ ms$", log, re.M)
    # The functions' own records: one line each, with their service.
    assert re.search(TIME + r"INFO +\S+ +\S", log, re.M), log[-3000:]
    assert order_id
    assert '"_aws"' not in log and "CloudWatchMetrics" not in log
    assert "UserWarning" not in log
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:3000]
    hung = [ln for ln in lines if "client hung up" in ln]
    assert hung and all(re.match(TIME + r"GET +/openapi.json client hung up \d+ ms$", ln) for ln in hung), (
        hung
    )
    assert not [ln for ln in lines if ln.startswith("{")], [ln for ln in lines if ln.startswith("{")][:3]
