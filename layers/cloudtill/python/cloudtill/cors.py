"""The storefront CORS policy, defined once: the functions answer with it (Powertools' CORSConfig),
API Gateway's preflight and gateway responses are built from it (infra/constructs/api.py), and the
local gateway answers preflights from it (localrt/gateway.py).

Origins come from the region's `ShopSettings.cors_origins` (validated with the settings at cold
start). No credentials mode: storefronts authenticate with headers (bearer token, checkout token),
never cookies, so `Access-Control-Allow-Credentials` is never sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools.event_handler import CORSConfig

# What storefronts send cross-origin: JSON bodies, the admin bearer token, the checkout's token,
# the idempotency key of a checkout retry and the cart token of the carts API.
ALLOW_HEADERS: tuple[str, ...] = (
    "Content-Type",
    "Authorization",
    "X-Checkout-Token",
    "Idempotency-Key",
    "X-Cart-Token",
)
# Response headers a storefront script must be able to read (a created resource, a back-off).
EXPOSE_HEADERS: tuple[str, ...] = ("Location", "Retry-After")
# How long a browser may reuse a preflight answer.
PREFLIGHT_MAX_AGE_SECONDS = 600
# Gateway-generated errors (no function ran) are generic problem documents without credentials, so
# every origin may read them; API Gateway cannot pick the origin per request there.
GATEWAY_ERROR_ALLOW_ORIGIN = "*"


def cors_config(origins: Sequence[str]) -> CORSConfig | None:
    """Powertools' CORS configuration for `origins` (None: no origin is allowed, no CORS headers)."""
    if not origins:
        return None
    first, *others = origins
    return CORSConfig(
        allow_origin=first,
        extra_origins=list(others),
        allow_headers=list(ALLOW_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
    )


def allow_headers() -> list[str]:
    """The `Access-Control-Allow-Headers` list, the same on the preflight and on function responses
    (Powertools adds its own required headers to ours)."""
    config = cors_config(["https://example.invalid"])
    assert config is not None
    return sorted(config.allow_headers)


def allowed_origin(origins: Sequence[str], origin: str | None) -> str | None:
    """The origin to name in `Access-Control-Allow-Origin` for a request from `origin`, if allowed."""
    return origin if origin is not None and origin in origins else None
