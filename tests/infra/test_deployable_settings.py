"""A prod synth refuses region files whose sender, ops address, storefront URL or CORS origins are
still the repository's placeholders (example.com, localhost); dev synthesizes them as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cloudtill.settings import ShopSettings

from infra.app import build_app, create_app
from infra.region_settings import placeholder_settings
from tests.infra.conftest import REGIONS, Synthesis
from tests.infra.deployable import OWN_ADDRESSES
from tests.infra.template_checks import resources_of_type


def test_a_prod_synth_refuses_the_example_region_files(layer_dirs: dict[str, Path]) -> None:
    # Given the region files as the repository ships them
    app = create_app({"stage": "prod", "regions": ",".join(REGIONS)})
    # When prod is synthesized
    with pytest.raises(ValueError) as refused:
        build_app(app, with_nag=False, layer_dirs=layer_dirs)
    # Then it is refused before any stack is built, naming each file and every placeholder field
    message = str(refused.value)
    assert app.node.children == []
    assert "Refused for stage 'prod'" in message
    for expected in (
        "eu-west-1.json:",
        "us-east-1.json:",
        "shop.sender_email 'shop@example.com': example.com is a placeholder domain",
        "shop.sender_email 'shop-us@example.com'",
        "shop.ops_email 'ops@example.com'",
        "shop.cors_origins[0] 'https://shop.example.com'",
        "shop.cors_origins[1] 'http://localhost:3000': localhost is this machine",
        "shop.storefront_url 'http://localhost:3000' (the default: set it)",
    ):
        assert expected in message, message


def test_dev_synthesizes_the_example_region_files(layer_dirs: dict[str, Path]) -> None:
    app = create_app({"stage": "dev", "regions": ",".join(REGIONS)})
    stacks = build_app(app, with_nag=False, layer_dirs=layer_dirs)
    assert [stack.region for stack in stacks] == list(REGIONS)


def test_a_prod_synth_of_a_shops_own_addresses_passes(prod_synthesis: Synthesis) -> None:
    assert prod_synthesis.error is None, prod_synthesis.error
    for region in REGIONS:
        identities = resources_of_type(prod_synthesis.templates[region], "AWS::SES::EmailIdentity")
        assert [i["Properties"]["EmailIdentity"] for i in identities.values()] == [
            OWN_ADDRESSES[region]["sender_email"]
        ]
        variables = [
            f["Properties"]["Environment"]["Variables"]
            for f in resources_of_type(prod_synthesis.templates[region], "AWS::Lambda::Function").values()
            if "SHOP_SETTINGS" in f["Properties"].get("Environment", {}).get("Variables", {})
        ]
        assert variables
        assert {json.loads(v["SHOP_SETTINGS"])["ops_email"] for v in variables} == {"ops@cloudtill.dev"}


@pytest.mark.parametrize(
    ("changes", "flagged"),
    [
        ({"sender_email": "shop@mail.example.org"}, "shop.sender_email"),
        ({"ops_email": "ops@shop.test"}, "shop.ops_email"),
        ({"cors_origins": ["https://shop.cloudtill.dev", "https://127.0.0.1:8443"]}, "shop.cors_origins[1]"),
        ({"storefront_url": "http://localhost:3000"}, "shop.storefront_url"),
        ({"storefront_url": "https://shop.localhost"}, "shop.storefront_url"),
    ],
)
def test_each_kind_of_placeholder_is_named(changes: dict[str, object], flagged: str) -> None:
    own = {**OWN_ADDRESSES["eu-west-1"], **changes}
    assert [p.split(" ")[0] for p in placeholder_settings(ShopSettings.model_validate(own))] == [flagged]


def test_a_shops_own_addresses_are_not_placeholders() -> None:
    own = {**OWN_ADDRESSES["eu-west-1"], "sender_email": "hello@example.company.com"}
    assert placeholder_settings(ShopSettings.model_validate(own)) == []
