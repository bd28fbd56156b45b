"""Configuration as validated pydantic models, read once at cold start.

`ShopSettings` is what differs per region (currency, tax, shipping, time zone); the CDK app
reads it from `cdk.json` context and hands it to every function as the `SHOP_SETTINGS` JSON
variable, the local runtime does the same. `Settings` is a function's whole configuration.

`EnvSettings` reads a model from the environment with plain pydantic: pydantic-settings would do
the same and costs ~45 ms of every cold start to import.
"""

from __future__ import annotations

import functools
import json
import os
import re
import types
import typing
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

CountryCode = str  # ISO 3166-1 alpha-2, upper case
# A browser `Origin`: scheme, lower-case host, optional port; no path, no trailing slash, no wildcard.
_ORIGIN = re.compile(r"^(https|http)://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1"}


class ShippingMethod(BaseModel):
    """A shipping method: flat `price` (minor units), free when the subtotal reaches `free_above`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str
    price: int = Field(ge=0)
    free_above: int | None = Field(default=None, ge=0)
    countries: list[CountryCode] = Field(min_length=1)
    delivery_days: str | None = None


class ShopSettings(BaseModel):
    """Per-region shop settings (one regional stack sells in one currency)."""

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    timezone: str = "Europe/Dublin"
    locale: str = "en_IE"
    prices_include_tax: bool = True
    # Tax rate per destination country in basis points (2300 = 23 %).
    tax_rates_bps: dict[CountryCode, int] = Field(
        default_factory=lambda: {"IE": 2300, "DE": 1900, "FR": 2000, "NL": 2100, "GB": 2000}
    )
    shipping_methods: list[ShippingMethod] = Field(
        default_factory=lambda: [
            ShippingMethod(
                id="standard",
                name="Standard",
                price=495,
                free_above=5000,
                countries=["IE", "DE", "FR", "NL", "GB"],
                delivery_days="3-5",
            ),
            ShippingMethod(
                id="express",
                name="Express",
                price=1495,
                countries=["IE", "DE", "FR", "NL", "GB"],
                delivery_days="1-2",
            ),
        ]
    )
    sender_email: str = "shop@example.com"
    ops_email: str = "ops@example.com"
    # Shown in e-mails, and where their links (order page, retry payment) point.
    shop_name: str = "cloudtill"
    storefront_url: str = "http://localhost:3000"
    # Storefront origins allowed to call the API from a browser (exact `Origin` values).
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:3000"])
    # Units of one SKU a checkout may hold (its lines of that SKU together, so also any one line): an
    # anonymous checkout holds stock for its whole TTL, and this bounds what one request can take off
    # sale. The API's own bound on a line (999) stays the ceiling.
    max_quantity_per_sku: int = Field(default=10, ge=1, le=999)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not _ORIGIN.match(origin):
                raise ValueError(
                    f"cors_origins: {origin!r} is not an origin like https://shop.example.com "
                    "(scheme and lower-case host, optional port, no path or wildcard)"
                )
            scheme, _, host = origin.partition("://")
            if scheme == "http" and host.split(":")[0] not in _LOOPBACK_HOSTS:
                raise ValueError(f"cors_origins: {origin!r} must use https (http only for localhost)")
        if len(set(origins)) != len(origins):
            raise ValueError("cors_origins: an origin is listed twice")
        return origins

    @model_validator(mode="after")
    def _shipping_countries_have_tax(self) -> ShopSettings:
        for method in self.shipping_methods:
            missing = [c for c in method.countries if c not in self.tax_rates_bps]
            if missing:
                raise ValueError(f"shipping method {method.id} ships to {missing} without a tax rate")
        return self

    @property
    def countries(self) -> list[CountryCode]:
        return sorted({c for m in self.shipping_methods for c in m.countries})


def _is_structured(annotation: Any) -> bool:
    """Whether a field's value comes as JSON in its variable (models, lists, dicts, sets, tuples)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_structured(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is typing.Annotated:
        return _is_structured(typing.get_args(annotation)[0])
    if origin in (list, dict, set, frozenset, tuple):
        return True
    return isinstance(annotation, type) and issubclass(
        annotation, (BaseModel, list, dict, set, frozenset, tuple)
    )


class EnvSettings(BaseModel):
    """A model whose fields not given as arguments come from the environment: the variable named
    like the field in any case, with the class's `env_prefix`, or the field's `validation_alias`;
    structured values (models, lists, dicts) as JSON. Unknown variables are ignored."""

    model_config = ConfigDict(extra="ignore")
    env_prefix: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**self._from_environment(), **values})

    @classmethod
    def _from_environment(cls) -> dict[str, Any]:
        environment = {name.upper(): value for name, value in os.environ.items()}
        found: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            variable = (alias or f"{cls.env_prefix}{name}").upper()
            if variable in environment:
                raw = environment[variable]
                found[alias or name] = json.loads(raw) if _is_structured(field.annotation) else raw
        return found


class Settings(EnvSettings):
    """A function's configuration from its environment. Missing required values fail at init."""

    table_name: str
    idempotency_table_name: str = "cloudtill-idempotency"
    event_bus_name: str = "cloudtill"
    service_name: str = "cloudtill"
    stage: Literal["local", "dev", "staging", "prod"] = "local"
    shop_settings: ShopSettings = Field(default_factory=ShopSettings)
    checkout_ttl_seconds: int = Field(default=900, ge=1, le=86_400)
    max_request_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Payments (only functions declaring the Stripe secret get these). In AWS the key and webhook
    # secrets live in Secrets Manager (STRIPE_SECRET_ARN); locally they come straight from the environment.
    payment_capture: Literal["automatic", "manual"] = "automatic"
    stripe_api_base: str | None = None  # None: api.stripe.com; locally the localstripe emulator
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    # During a webhook secret rotation: the secret being replaced, still accepted until removed.
    stripe_webhook_secret_previous: SecretStr | None = None
    stripe_secret_arn: str | None = None
    # The order lifecycle state machine (checkout starts one execution per checkout).
    state_machine_arn: str | None = None


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, validated once (cold start)."""
    return Settings()  # type: ignore[call-arg]  # values come from the environment
