"""Route agreement: what each API function's resolver serves at run time is exactly what the wiring
(and so API Gateway and the local gateway) routes to it: method, path, function and who may call it.

The wiring reads the routes from the handlers' decorators (`infra/routes.py`); here each handler is
imported for real, in a fresh interpreter as Lambda starts one, and its Powertools resolver is asked
which routes it registered. A route registered in a way the reader misses, a path typed differently,
or a route in code no function serves makes this fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cloudtill import api

from infra import routes
from infra.wiring import FUNCTIONS, ROUTES, FunctionSpec, routes_of

ROOT = Path(__file__).resolve().parents[2]
API_FUNCTIONS = [spec for spec in FUNCTIONS if spec.trigger == "api"]
# Prints (method, path, refused without the admin group) of every route the resolver registered.
PROBE = """
import json, handler
from cloudtill.api import ADMIN_PREFIX
app = handler.app
print(json.dumps([
    [r.method, r.openapi_path, r.path.startswith(ADMIN_PREFIX)]
    for r in [*app._static_routes, *app._dynamic_routes]
]))
"""


def served_by_resolver(code_folder: str) -> set[tuple[str, str, bool]]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions" / code_folder), str(ROOT / "layers/cloudtill/python")]
        ),
        "TABLE_NAME": "t",
        "REPORTS_BUCKET": "b",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_METRICS_NAMESPACE": "cloudtill",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    return {(method, path, admin) for method, path, admin in json.loads(out.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("spec", API_FUNCTIONS, ids=[spec.name for spec in API_FUNCTIONS])
def test_each_api_functions_resolver_serves_exactly_its_wired_routes(spec: FunctionSpec) -> None:
    # Given what the function's resolver registered when its handler was imported
    served = served_by_resolver(spec.code_folder)
    # Then the wiring routes exactly those to this function, admin exactly where the function itself
    # refuses callers outside the admin group
    wired = {(r.method, r.path, r.auth == "admin") for r in routes_of(spec.name)}
    assert served == wired, f"{spec.name}: only in code {served - wired}; only wired {wired - served}"


def test_every_route_reaches_one_api_function_and_code_is_served_once() -> None:
    assert {r.function for r in ROUTES} <= {spec.name for spec in API_FUNCTIONS}
    # Code with routes is deployed behind the API once: a second API function of the same code would
    # serve the same paths under another role.
    folders = [spec.code_folder for spec in API_FUNCTIONS]
    assert len(folders) == len(set(folders))


def test_auth_follows_the_path_as_the_functions_own_check_does() -> None:
    assert routes.ADMIN_PREFIX == api.ADMIN_PREFIX
    for route in ROUTES:
        assert (route.auth == "admin") == route.path.startswith(api.ADMIN_PREFIX), route
    assert {r.path for r in ROUTES if r.auth == "webhook"} == {"/webhooks/stripe"}


def test_a_route_the_reader_cannot_see_is_refused(tmp_path: Path) -> None:
    # Given a handler registering a route without a decorator (invisible to a decorator reader)
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "handler.py").write_text(
        "app = object()\n\ndef ping():\n    return {}\n\napp.route('/ping', 'GET')(ping)\n"
    )
    # Then reading it fails and says how to register it
    with pytest.raises(routes.RouteReadError, match=r"register routes with @app\.<method>"):
        routes.handler_routes("stray", tmp_path)
