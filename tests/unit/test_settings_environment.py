"""Settings read from the environment with plain pydantic (no pydantic-settings at cold start)."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from cloudtill.settings import EnvSettings, Settings
from pydantic import Field, ValidationError


def test_settings_read_plain_and_json_variables_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "main")
    monkeypatch.setenv("stage", "prod")
    monkeypatch.setenv("CHECKOUT_TTL_SECONDS", "600")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_x")
    monkeypatch.setenv(
        "SHOP_SETTINGS",
        json.dumps(
            {"currency": "GBP", "tax_rates_bps": {"GB": 2000, "IE": 2300, "DE": 1900, "FR": 2000, "NL": 2100}}
        ),
    )
    settings = Settings()  # type: ignore[call-arg]
    assert (settings.table_name, settings.stage, settings.checkout_ttl_seconds) == ("main", "prod", 600)
    assert settings.shop_settings.currency == "GBP" and settings.shop_settings.tax_rates_bps["GB"] == 2000
    assert settings.stripe_api_key is not None and settings.stripe_api_key.get_secret_value() == "sk_test_x"
    assert "sk_test_x" not in repr(settings)
    # Arguments win over the environment; unknown variables are ignored.
    monkeypatch.setenv("SOMETHING_ELSE", "x")
    assert Settings(table_name="other").table_name == "other"  # type: ignore[call-arg]


def test_missing_or_invalid_values_fail_at_init_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(ValidationError) as missing:
        Settings()  # type: ignore[call-arg]
    assert missing.value.errors()[0]["loc"] == ("table_name",)
    monkeypatch.setenv("TABLE_NAME", "main")
    monkeypatch.setenv("CHECKOUT_TTL_SECONDS", "0")
    with pytest.raises(ValidationError) as invalid:
        Settings()  # type: ignore[call-arg]
    assert invalid.value.errors()[0]["loc"] == ("checkout_ttl_seconds",)


def test_a_prefix_and_an_alias_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    class Prefixed(EnvSettings):
        env_prefix: ClassVar[str] = "THING_"
        size: int = 1
        shared: str | None = Field(default=None, validation_alias="SHARED_NAME")
        tags: list[str] = Field(default_factory=list)

    monkeypatch.setenv("THING_SIZE", "3")
    monkeypatch.setenv("SIZE", "9")
    monkeypatch.setenv("SHARED_NAME", "s")
    monkeypatch.setenv("THING_TAGS", '["a", "b"]')
    thing = Prefixed()
    assert (thing.size, thing.shared, thing.tags) == (3, "s", ["a", "b"])
