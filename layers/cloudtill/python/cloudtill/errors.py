"""Domain errors. Domain code raises these; `cloudtill.problems` maps them to HTTP responses.

Each class names its problem type (a stable slug) and HTTP status once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass
class FieldError:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class DomainError(Exception):
    status: ClassVar[int] = 400
    type_slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class MalformedRequest(DomainError):
    status = 400
    type_slug = "malformed-request"
    title = "Malformed request"


class InvalidCursor(DomainError):
    """A paging cursor this listing did not issue (malformed, forged, or from another listing)."""

    status = 400
    type_slug = "invalid-cursor"
    title = "Invalid cursor"

    def __init__(self, message: str) -> None:
        super().__init__(f"cursor: {message}", [FieldError("cursor", message)])


class Unauthorized(DomainError):
    status = 401
    type_slug = "unauthorized"
    title = "Authentication required"


class NotFound(DomainError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class VersionConflict(Conflict):
    type_slug = "version-conflict"
    title = "The resource was changed by someone else"

    @classmethod
    def stale(cls, resource: str, current_version: int) -> VersionConflict:
        return cls(
            f"{resource} is at version {current_version}; read it again and retry.",
            [FieldError("version", f"stale; current version is {current_version}")],
            current_version=current_version,
        )


class DuplicateSku(Conflict):
    type_slug = "duplicate-sku"
    title = "SKU already exists"


class OutOfStock(Conflict):
    type_slug = "out-of-stock"
    title = "Not enough stock"


class UnsupportedMediaType(DomainError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Send JSON"


class PayloadTooLarge(DomainError):
    status = 413
    type_slug = "payload-too-large"
    title = "Request body too large"


class ServiceUnavailable(DomainError):
    """A provider we depend on (Stripe) failed; nothing was kept, the client may retry."""

    status = 503
    type_slug = "service-unavailable"
    title = "Temporarily unavailable"


class ValidationFailed(DomainError):
    status = 422
    type_slug = "validation-failed"
    title = "Validation failed"

    @classmethod
    def for_field(cls, field_name: str, message: str) -> ValidationFailed:
        return cls(f"{field_name}: {message}", [FieldError(field_name, message)])


class TransientError(Exception):
    """Worth retrying: a race that a fresh read resolves, or a dependency (DynamoDB, Stripe) that is
    busy or down for a moment. The state machine's Retry lists match this class name, queue consumers
    leave the message to be redelivered, and an API route answers 503 with `Retry-After`."""


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined: a programming error, never client input."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine {left} with {right}")
