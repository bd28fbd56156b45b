"""Helpers of the security suites: routes generated from the wiring, path values, problem checks."""

from __future__ import annotations

import re
from typing import Any

import httpx

from infra.wiring import ROUTES, Route

PROBLEM = "application/problem+json"
# Values for path parameters that pass each route's own validation, so a refusal is the auth or size
# check under test and not a path validation error.
PATH_VALUES = {
    "product_id": "prod_security_probe",
    "order_id": "ord_security_probe",
    "checkout_id": "chk_security_probe",
    "sku": "SEC-PROBE-1",
    "code": "SECPROBE",
    "email": "probe@example.com",
    "fulfillment_id": "ful_security_probe",
    "return_id": "ret_security_probe",
    "name": "probe",
}


def concrete_path(route: Route) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "probe"), route.path)


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def admin_routes() -> list[Route]:
    return [r for r in ROUTES if r.auth == "admin"]


def body_routes() -> list[Route]:
    return [r for r in ROUTES if r.method in {"POST", "PUT", "PATCH"}]


def assert_problem(response: httpx.Response, status: int | set[int]) -> dict[str, Any]:
    statuses = {status} if isinstance(status, int) else status
    assert response.status_code in statuses, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == response.status_code
    return body
