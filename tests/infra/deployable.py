"""Region files as a shop deploys them: the repository's, with the shop's own addresses in place of
the example ones a stage like prod refuses (`refuse_placeholder_settings`)."""

from __future__ import annotations

import json
from pathlib import Path

from infra.region_settings import REGIONS_DIR, load_stage_settings

# A shop's own addresses (cloudtill.dev is the project's domain, as in problem type URIs).
OWN_ADDRESSES = {
    "eu-west-1": {
        "sender_email": "orders@eu.cloudtill.dev",
        "ops_email": "ops@cloudtill.dev",
        "storefront_url": "https://shop.cloudtill.dev",
        "cors_origins": ["https://shop.cloudtill.dev"],
    },
    "us-east-1": {
        "sender_email": "orders@us.cloudtill.dev",
        "ops_email": "ops@cloudtill.dev",
        "storefront_url": "https://us.shop.cloudtill.dev",
        "cors_origins": ["https://us.shop.cloudtill.dev"],
    },
}


def deployable_regions_dir(directory: Path) -> Path:
    """Copies of infra/regions/*.json in `directory` with OWN_ADDRESSES filled in."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in sorted(REGIONS_DIR.glob("*.json")):
        settings = json.loads(source.read_text())
        settings["shop"].update(OWN_ADDRESSES.get(source.stem, {}))
        (directory / source.name).write_text(json.dumps(settings, indent=2))
    return directory


def regions_dir_for(stage: str, scratch: Path) -> Path:
    """The repository's region files, or deployable copies (in `scratch`) for a stage refusing them."""
    if load_stage_settings(stage).refuse_placeholder_settings:
        return deployable_regions_dir(scratch)
    return REGIONS_DIR
