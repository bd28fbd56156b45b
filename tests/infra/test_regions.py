"""One self-contained stack per region, each selling with its own region's shop settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudtill.settings import ShopSettings

from infra.region_settings import load_region_settings, load_stage_settings, parse_regions
from tests.infra.conftest import REGIONS, Synthesis
from tests.infra.template_checks import resources_of_type


def test_one_stack_per_region_named_after_stage_and_region(synthesis: Synthesis) -> None:
    assert set(synthesis.templates) == set(REGIONS)
    for region in REGIONS:
        assert synthesis.template_path(region).name == f"cloudtill-dev-{region}.template.json"


@pytest.mark.parametrize(("region", "currency"), [("eu-west-1", "EUR"), ("us-east-1", "USD")])
def test_every_function_gets_its_regions_shop_settings(
    templates: dict[str, dict[str, Any]], region: str, currency: str
) -> None:
    functions = resources_of_type(templates[region], "AWS::Lambda::Function")
    shop_settings = [
        ShopSettings.model_validate_json(f["Properties"]["Environment"]["Variables"]["SHOP_SETTINGS"])
        for f in functions.values()
        if "SHOP_SETTINGS" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert shop_settings, f"no cloudtill function in the {region} template"
    assert {s.currency for s in shop_settings} == {currency}
    assert all(s == load_region_settings(region).shop for s in shop_settings)


def test_regions_differ_where_the_shops_differ() -> None:
    eu, us = load_region_settings("eu-west-1").shop, load_region_settings("us-east-1").shop
    assert (eu.timezone, us.timezone) == ("Europe/Dublin", "America/New_York")
    assert set(eu.countries) == {"IE", "DE", "FR", "NL", "GB"}
    assert set(us.countries) == {"US", "CA"}


def test_stacks_do_not_reference_each_other(templates: dict[str, dict[str, Any]]) -> None:
    for template in templates.values():
        text = json.dumps(template)
        assert "Fn::ImportValue" not in text


def test_unknown_region_and_stage_fail_with_the_file_to_add() -> None:
    with pytest.raises(ValueError, match=r"ap-south-1\.json"):
        load_region_settings("ap-south-1")
    with pytest.raises(ValueError, match=r"qa\.json"):
        load_stage_settings("qa")
    with pytest.raises(ValueError, match="duplicate"):
        parse_regions("eu-west-1,eu-west-1")
