"""The HTTP side every API function shares: one resolver factory and one entry point.

`create_app()` gives a Powertools REST resolver with request validation (pydantic models -> OpenAPI)
and the problem+json error mapping. `handle()` refuses, before any parsing, oversized bodies and admin
calls without the admin group, then resolves.
"""

from __future__ import annotations

import base64
import binascii
from re import Match
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from cloudtill.errors import DomainError, FieldError, MalformedRequest, PayloadTooLarge, Unauthorized
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


class _DecodingRestResolver(APIGatewayRestResolver):
    """API Gateway REST delivers `path` still percent-encoded (only `pathParameters` are decoded), and
    Powertools takes path parameters from `path`: `/admin/stock/A%20B` would reach the handler as the
    SKU `A%20B`. Routes are matched on the encoded path (so `%2F` stays inside one segment); each
    parameter is decoded afterwards, as API Gateway decodes `pathParameters`."""

    def _convert_matches_into_route_keys(self, match: Match[str]) -> dict[str, str]:
        return {name: unquote(value) for name, value in match.groupdict().items()}


def create_app() -> APIGatewayRestResolver:
    app = _DecodingRestResolver(enable_validation=True)
    register_problem_handlers(app)
    return app


def _refusal(event: dict[str, Any], max_body_bytes: int) -> DomainError | None:
    body = event.get("body") or ""
    if len(body.encode() if isinstance(body, str) else body) > max_body_bytes:
        return PayloadTooLarge(
            f"The request body is larger than {max_body_bytes} bytes.",
            [FieldError("body", f"at most {max_body_bytes} bytes")],
        )
    # Every body this API accepts is UTF-8 JSON; a binary (base64-delivered) body that is not UTF-8
    # text would make Powertools' body decoding raise (a 500) instead of a client error.
    if body and event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return MalformedRequest(
                "The request body is not UTF-8 text.", [FieldError("body", "must be UTF-8 encoded JSON")]
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
