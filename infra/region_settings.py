"""Typed deployment settings: what differs per region (`infra/regions/<region>.json`) and per
stage (`infra/stages/<stage>.json`).

Constructs read these models and never branch on a region or stage name themselves. Both files
are validated at synth time, so a typo fails `cdk synth` rather than a deployed function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cloudtill.settings import ShopSettings
from pydantic import BaseModel, ConfigDict, Field, field_validator

SETTINGS_DIR = Path(__file__).resolve().parent
REGIONS_DIR = SETTINGS_DIR / "regions"
STAGES_DIR = SETTINGS_DIR / "stages"

Stage = Literal["dev", "staging", "prod"]
_REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
# The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class RegionSettings(BaseModel):
    """One regional stack: the shop it runs (currency, tax, shipping, time zone) and its region."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str = Field(pattern=_REGION_PATTERN.pattern)
    shop: ShopSettings


class StageSettings(BaseModel):
    """Operational knobs that differ between dev, staging and prod."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Stage
    log_retention_days: int = Field(ge=1)
    # API Gateway stage-wide throttling (steady requests/s and burst).
    api_rate_limit: int = Field(ge=1)
    api_burst_limit: int = Field(ge=1)
    # WAF rate-based rule: requests per client IP per 5 minutes before blocking.
    waf_requests_per_5_minutes_per_ip: int = Field(ge=10)
    # Fixed monthly costs that buy little where no shopper is (docs/benchmarks.md section 5): the
    # WAF web ACL and its rules (~$8), the dashboard (~$3). Stage throttling stays either way.
    web_acl: bool = True
    dashboard: bool = True
    # Whether the admin user pool and the log groups survive deleting the stack.
    retain_user_pool: bool = True
    retain_logs: bool = True
    # Whether every stateful resource (infra/stateful.py: tables, buckets, user pools, the bus,
    # queues, secrets, KMS keys) is RETAINed on stack delete and on replacement.
    retain_stateful_resources: bool = True
    # The alarm fires when a function reports at least this many errors in 5 minutes.
    function_error_alarm_threshold: int = Field(default=1, ge=1)
    # Refuse to synthesize a region whose shop addresses are still the examples the repository ships
    # (`placeholder_settings`): customers would get no e-mail and alarms would reach nobody.
    refuse_placeholder_settings: bool = False
    # Lambda SnapStart: every function gets a published version and a `live` alias, which the API,
    # queues, schedules and the state machine invoke; a cold start restores a snapshot taken after
    # init (docs/infrastructure.md "SnapStart": what it costs, what runs after a restore).
    snap_start: bool = False

    @field_validator("log_retention_days")
    @classmethod
    def _retention_cloudwatch_accepts(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs retention must be one of {LOG_RETENTION_DAYS}")
        return value


# Names reserved for documentation and testing (RFC 2606, RFC 6761): never a real shop's address.
_PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
_PLACEHOLDER_SUFFIXES = (".example", ".test", ".invalid", ".localhost")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}  # noqa: S104 (names compared, nothing bound)


class SettingsRefused(ValueError):
    """Region or stage settings the synth cannot use; `infra.app` prints the message alone."""


def _placeholder_host(host: str) -> str | None:
    """Why `host` is not a real shop's (None when it may be)."""
    host = host.lower().rstrip(".")
    if host in _LOCAL_HOSTS:
        return f"{host} is this machine, not a deployed shop"
    for domain in _PLACEHOLDER_DOMAINS:
        if host == domain or host.endswith("." + domain):
            return f"{domain} is a placeholder domain"
    for suffix in _PLACEHOLDER_SUFFIXES:
        if host.endswith(suffix) or host == suffix[1:]:
            return f"{suffix} names are reserved for testing"
    return None


def _url_host(url: str) -> str:
    return urlsplit(url).hostname or ""


def placeholder_settings(shop: ShopSettings) -> list[str]:
    """The shop settings still holding example values: one line per field, saying why."""
    problems = []
    for name in ("sender_email", "ops_email"):
        address: str = getattr(shop, name)
        why = _placeholder_host(address.rpartition("@")[2])
        if why:
            problems.append(f"shop.{name} {address!r}: {why}")
    for index, origin in enumerate(shop.cors_origins):
        why = _placeholder_host(_url_host(origin))
        if why:
            problems.append(f"shop.cors_origins[{index}] {origin!r}: {why}")
    why = _placeholder_host(_url_host(shop.storefront_url))
    if why:
        given = "" if "storefront_url" in shop.model_fields_set else " (the default: set it)"
        problems.append(f"shop.storefront_url {shop.storefront_url!r}{given}: {why}")
    return problems


def check_deployable(
    stage: StageSettings, regions: Sequence[RegionSettings], regions_dir: Path = REGIONS_DIR
) -> None:
    """Refuses (one ValueError listing every field of every region) a stage that must not run on
    example addresses."""
    if not stage.refuse_placeholder_settings:
        return
    found = [(region, placeholder_settings(region.shop)) for region in regions]
    if any(problems for _, problems in found):
        raise SettingsRefused(
            f"Refused for stage {stage.stage!r}: region settings still hold placeholder values. "
            "Edit them to your shop's own (README, Deploying):\n"
            + "\n".join(
                f"{regions_dir / f'{region.region}.json'}:\n  " + "\n  ".join(problems)
                for region, problems in found
                if problems
            )
        )


def load_region_settings(region: str, regions_dir: Path = REGIONS_DIR) -> RegionSettings:
    settings_file = regions_dir / f"{region}.json"
    if not settings_file.is_file():
        known = sorted(p.stem for p in regions_dir.glob("*.json"))
        raise SettingsRefused(f"no settings for region {region!r}: add {settings_file} (known: {known})")
    settings = RegionSettings.model_validate(json.loads(settings_file.read_text()))
    if settings.region != region:
        raise SettingsRefused(f"{settings_file} declares region {settings.region!r}, expected {region!r}")
    return settings


def load_stage_settings(stage: str, stages_dir: Path = STAGES_DIR) -> StageSettings:
    settings_file = stages_dir / f"{stage}.json"
    if not settings_file.is_file():
        known = sorted(p.stem for p in stages_dir.glob("*.json"))
        raise SettingsRefused(f"no settings for stage {stage!r}: add {settings_file} (known: {known})")
    settings = StageSettings.model_validate(json.loads(settings_file.read_text()))
    if settings.stage != stage:
        raise SettingsRefused(f"{settings_file} declares stage {settings.stage!r}, expected {stage!r}")
    return settings


def parse_regions(value: str) -> list[str]:
    """`eu-west-1,us-east-1` -> ["eu-west-1", "us-east-1"] (the `-c regions=` context value)."""
    regions = [r.strip() for r in value.split(",") if r.strip()]
    if not regions:
        raise ValueError("no regions given: use -c regions=eu-west-1[,us-east-1]")
    if len(set(regions)) != len(regions):
        raise ValueError(f"duplicate region in {value!r}")
    return regions
