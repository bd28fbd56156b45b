"""The HTTP side every API function shares: one resolver factory and one entry point.

`create_app()` gives a Powertools REST resolver with request validation (pydantic models -> OpenAPI)
and the problem+json error mapping. `handle()` refuses, before any parsing, oversized bodies and admin
calls without the admin group, then resolves.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from cloudtill.errors import DomainError, FieldError, PayloadTooLarge, Unauthorized
from cloudtill.problems import domain_problem_proxy, register_problem_handlers

ADMIN_PREFIX = "/admin/"
ADMIN_GROUP = "admin"


def caller_groups(event: dict[str, Any]) -> set[str]:
    """Groups of the caller as API Gateway's Cognito authorizer (or the local gateway) passes them."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    groups = (authorizer.get("claims") or {}).get("cognito:groups", "")
    if isinstance(groups, list):
        return {str(g) for g in groups}
    # API Gateway flattens the claim to a string such as "[admin ops]" or "admin,ops".
    return {g for g in str(groups).strip("[]").replace(",", " ").split() if g}


def create_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    register_problem_handlers(app)
    return app


def _refusal(event: dict[str, Any], max_body_bytes: int) -> DomainError | None:
    body = event.get("body") or ""
    if len(body.encode() if isinstance(body, str) else body) > max_body_bytes:
        return PayloadTooLarge(
            f"The request body is larger than {max_body_bytes} bytes.",
            [FieldError("body", f"at most {max_body_bytes} bytes")],
        )
    # Defence in depth behind the authorizer: a valid user token is not enough, the admin group is.
    if str(event.get("path", "")).startswith(ADMIN_PREFIX) and ADMIN_GROUP not in caller_groups(event):
        return Unauthorized("Admin routes need a token of the admin group.")
    return None


def handle(
    app: APIGatewayRestResolver, event: dict[str, Any], context: Any, max_body_bytes: int
) -> dict[str, Any]:
    refusal = _refusal(event, max_body_bytes)
    if refusal is not None:
        return domain_problem_proxy(refusal)
    return app.resolve(event, context)
