"""`/docs` works offline: Swagger UI's assets come from the local gateway (npm `swagger-ui-dist`, pinned
in package.json), and headless Chromium that cannot resolve any other host renders every operation."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx

from tests.integration.conftest import RunningBackend
from tests.integration.test_reporting_html import CHROMIUM_FLAGS, chromium

# Every host but loopback is unresolvable: a page that needs a CDN stays blank.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


def test_docs_page_refers_only_to_local_assets(api: httpx.Client) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/"), source
        asset = api.get(source)
        assert asset.status_code == 200, source
        assert asset.content, source


def test_docs_render_every_operation_offline(
    backend: RunningBackend, api: httpx.Client, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    dumped = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            OFFLINE,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{backend.base_url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    listed = set(re.findall(r'data-path="([^"]+)"', dumped.stdout))
    documented = set(api.get("/openapi.json").json()["paths"])
    assert documented, "no paths in the OpenAPI document"
    assert listed == documented, (sorted(documented - listed), dumped.stdout[:1000])
