"""The one place mapping errors to RFC 9457 `application/problem+json` responses.

Every API function calls `register_problem_handlers(app)`: domain errors, request validation
errors (422 naming each field; malformed JSON 400 with its position), transient failures (503:
retry), unknown routes (404) and anything unexpected (500 without internals) all leave as problem
documents. Messages say what a value must look like in words, never as the regular expression.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from cloudtill.errors import DomainError, FieldError, MalformedRequest, TransientError
from cloudtill.observability import logger

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://cloudtill.dev/problems/"

# Where pydantic puts a request part in `loc`; we name fields as the client sent them.
_LOCATION_PREFIXES = {"body", "query", "path", "header", "headers", "querystring"}
# Seconds a client should wait after a 503 for a dependency that was busy (DynamoDB throttling, a
# transaction conflict): the moment is usually over by then.
RETRY_AFTER_SECONDS = 1

_SKU_WORDS = (
    "1 to 64 characters, none of / ? # % \\ or control characters, not starting or ending with a space"
)
_CURRENCY_WORDS = "a three-letter ISO 4217 currency code in capitals, such as EUR"
_DAY_WORDS = "a date written YYYY-MM-DD, such as 2026-11-23"
# What each `pattern` of the API's models and parameters asks for, in words: a client sees these
# instead of the regular expression (tests/unit/test_problem_messages.py checks every pattern has one).
PATTERN_WORDS: dict[str, str] = {
    r"^[^/?#%\\\s\x00-\x1f\x7f]([^/?#%\\\x00-\x1f\x7f]{0,62}[^/?#%\\\s\x00-\x1f\x7f])?$": _SKU_WORDS,
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$": "lower-case letters and digits, words joined by single hyphens (t-shirts)",
    r"^[A-Za-z0-9_-]{1,64}$": "1 to 64 letters, digits, underscores or hyphens",
    r"^[A-Za-z0-9_-]+$": "letters, digits, underscores or hyphens",
    r"^[A-Z]{3}$": _CURRENCY_WORDS,
    r"^\d{4}-\d{2}-\d{2}$": _DAY_WORDS,
    r"^[A-Za-z0-9 -]+$": "letters, digits, spaces and hyphens",
    r"^[A-Za-z]{2}$": "a two-letter ISO 3166-1 country code, such as IE",
    r"^\+?[0-9 ()-]{5,32}$": "5 to 32 digits, spaces, brackets or hyphens, optionally starting with +",
    r"^[A-Z0-9_-]{3,32}$": "3 to 32 letters, digits, underscores or hyphens",
    r"^[^@\s]+@[^@\s]+$": "an e-mail address, such as ann@example.com",
    r"^[a-z0-9][a-z0-9_-]{0,39}$": "1 to 40 lower-case letters, digits, underscores or hyphens, starting"
    " with a letter or digit (newsletter)",
    r"^(\d{4}-\d{2}-\d{2}|\d{4}-W\d{2}|\d{4}-\d{2})$": "a day (2026-12-04), an ISO week (2026-W49) or a"
    " month (2026-12)",
}


def problem_body(
    status: int,
    type_slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + type_slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [e.to_dict() for e in errors]
    if extra:
        body.update(extra)
    return body


def problem_response(
    status: int,
    type_slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body = problem_body(status, type_slug, title, detail, errors, extra)
    return Response(
        status_code=status, content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body), headers=headers
    )


def domain_problem(error: DomainError) -> Response[str]:
    return problem_response(
        error.status, error.type_slug, error.title, error.detail, error.errors, error.extra
    )


def domain_problem_proxy(error: DomainError) -> dict[str, Any]:
    """The same problem as a raw API Gateway proxy response, for errors raised before routing."""
    body = problem_body(error.status, error.type_slug, error.title, error.detail, error.errors, error.extra)
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": PROBLEM_CONTENT_TYPE},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "lines", 0, "sku")` -> `lines[0].sku`; `("query", "limit")` -> `limit`."""
    parts = list(loc)
    if parts and parts[0] in _LOCATION_PREFIXES:
        parts = parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part:
            name += f".{part}" if name else str(part)
    return name or "body"


def invalid_json(document: str, position: int, reason: str) -> MalformedRequest:
    """Where the body stops being JSON: line and column (from 1) and the character offset (from 0)."""
    line = document.count("\n", 0, position) + 1
    column = position - (document.rfind("\n", 0, position) + 1) + 1
    where = f"line {line}, column {column}"
    return MalformedRequest(
        f"The request body is not valid JSON: {reason} at {where} (character {position}).",
        [FieldError("body", f"invalid JSON at {where}: {reason}")],
        line=line,
        column=column,
        position=position,
    )


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        return f"must be {PATTERN_WORDS.get(pattern, 'in the format this field accepts (see the API docs)')}"
    return str(error.get("msg", "invalid value"))


def validation_problem(exc: RequestValidationError) -> Response[str]:
    raw = exc.errors()
    for e in raw:
        if e.get("type") == "json_invalid":
            loc = e.get("loc", ())
            position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            document = exc.body if isinstance(exc.body, str) else ""
            reason = str((e.get("ctx") or {}).get("error", "invalid JSON"))
            return domain_problem(invalid_json(document, position, reason))
    errors: list[FieldError] = []
    for e in raw:
        name = field_name(e.get("loc", ()))
        # Header names are matched case-insensitively by Powertools; show them as sent.
        if e.get("loc", ("",))[0] in {"header", "headers"}:
            name = name.replace("_", "-")
        errors.append(FieldError(name, _message(e)))
    detail = "; ".join(f"{fe.field}: {fe.message}" for fe in errors)
    return problem_response(422, "validation-failed", "Validation failed", detail, errors)


def register_problem_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response[str]:
        if error.status >= 500:
            logger.exception("domain error mapped to 5xx")
        return domain_problem(error)

    @app.exception_handler(TransientError)
    def _transient(error: TransientError) -> Response[str]:
        # Nothing the client did: a dependency was busy (throttled, conflicting, timed out). The
        # cause goes to the log, never into the answer.
        logger.warning("transient dependency error mapped to 503", extra={"error": str(error)})
        return problem_response(
            503,
            "service-unavailable",
            "Temporarily unavailable",
            "The service is busy right now; please retry shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestValidationError)
    def _validation(error: RequestValidationError) -> Response[str]:
        return validation_problem(error)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return problem_response(404, "not-found", "Not found", "No route or resource here.")
