"""What API Gateway answers by itself, before any function runs: its gateway responses (RFC 9457
problem JSON like the functions' errors) and its CORS preflight. No CDK types here: the stack
(infra/constructs/api.py) builds them from this module and the local gateway (localrt/gateway.py)
answers the same status, headers and body.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cloudtill.cors import GATEWAY_ERROR_ALLOW_ORIGIN, PREFLIGHT_MAX_AGE_SECONDS, allow_headers
from cloudtill.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE


@dataclass(frozen=True)
class ProblemResponse:
    """An API Gateway-generated error, answered as RFC 9457 problem JSON like the functions' errors."""

    response_type: str  # API Gateway's response type (apigateway.ResponseType)
    status: int | None  # None: keep API Gateway's status (the DEFAULT_* catch-alls)
    type_slug: str  # same `type` URIs as cloudtill.problems
    title: str


# Errors API Gateway answers itself, before any function runs.
PROBLEM_RESPONSES: tuple[ProblemResponse, ...] = (
    # An unknown path, or a method no route of the path has (TRACE included): REST APIs call it
    # "missing authentication token" (403); to a client it is a 404.
    ProblemResponse("MISSING_AUTHENTICATION_TOKEN", 404, "not-found", "Not Found"),
    ProblemResponse("UNAUTHORIZED", 401, "unauthorized", "Unauthorized"),
    ProblemResponse("ACCESS_DENIED", 403, "forbidden", "Forbidden"),
    ProblemResponse("WAF_FILTERED", 403, "forbidden", "Forbidden"),
    ProblemResponse("THROTTLED", 429, "too-many-requests", "Too Many Requests"),
    ProblemResponse("QUOTA_EXCEEDED", 429, "too-many-requests", "Too Many Requests"),
    ProblemResponse("BAD_REQUEST_BODY", 400, "malformed-request", "Bad Request"),
    ProblemResponse("BAD_REQUEST_PARAMETERS", 400, "malformed-request", "Bad Request"),
    ProblemResponse("REQUEST_TOO_LARGE", 413, "payload-too-large", "Content Too Large"),
    ProblemResponse("INTEGRATION_TIMEOUT", 504, "gateway-timeout", "Gateway Timeout"),
    ProblemResponse("DEFAULT_4XX", None, "client-error", "Client Error"),
    ProblemResponse("DEFAULT_5XX", None, "server-error", "Server Error"),
)
PROBLEMS_BY_TYPE = {problem.response_type: problem for problem in PROBLEM_RESPONSES}

# The headers of every gateway response: a problem document any storefront may read (without the
# allow-origin header a browser reports a CORS failure instead of the 401/429).
GATEWAY_RESPONSE_HEADERS = {
    "Content-Type": PROBLEM_CONTENT_TYPE,
    "Access-Control-Allow-Origin": GATEWAY_ERROR_ALLOW_ORIGIN,
}


def problem_template(problem: ProblemResponse) -> str:
    """The VTL body of a gateway response (`$context.error.messageString` is already quoted)."""
    body = json.dumps({"type": PROBLEM_TYPE_BASE + problem.type_slug, "title": problem.title})[:-1]
    if problem.status is not None:
        body += f', "status": {problem.status}'
    return body + ', "detail": $context.error.messageString, "request_id": "$context.requestId"}'


def problem_document(response_type: str, status: int, message: str, request_id: str) -> dict[str, Any]:
    """The body API Gateway renders from `problem_template` (what the local gateway answers). A
    catch-all's template cannot know its status, so in AWS its body has no `status` member; the
    local one names `status` (the status line's), which RFC 9457 clients may read either way."""
    problem = PROBLEMS_BY_TYPE[response_type]
    return {
        "type": PROBLEM_TYPE_BASE + problem.type_slug,
        "title": problem.title,
        "status": problem.status if problem.status is not None else status,
        "detail": message,
        "request_id": request_id,
    }


def preflight_methods(route_methods: Iterable[str]) -> list[str]:
    """`Access-Control-Allow-Methods` of every resource's preflight (the API's methods, OPTIONS)."""
    return sorted({*route_methods, "OPTIONS"})


def preflight_headers(origins: Sequence[str], origin: str | None, methods: Sequence[str]) -> dict[str, str]:
    """The headers of the preflight's mock integration as CDK builds it: the static allow-origin is
    the first configured origin, replaced by the request's `Origin` when that one is configured; a
    foreign origin is therefore never named, and the browser refuses the call."""
    allow_origin = origin if origin is not None and origin in origins else origins[0]
    return {
        "Access-Control-Allow-Headers": ",".join(allow_headers()),
        "Access-Control-Allow-Origin": allow_origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": ",".join(methods),
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }
