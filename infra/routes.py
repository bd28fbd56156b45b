"""The routes of the API, read from the handlers: each `api` function's resolver decorators are the one
place a route is written (`@app.get("/products/<product_id>", ...)` in `functions/<code>/handler.py`).

Read from the source (Python's `ast`), not by importing the handler: a handler reads its settings from
the environment at import, which the CDK app and the local runtime do not have. The reader accepts
exactly one form, a decorator `@app.<method>("<literal path>", ...)` on a top-level function, and refuses
anything else that registers on `app` (a computed path, `app.route(...)`, an included router), so a
route cannot exist at run time without the wiring seeing it. `tests/unit/test_route_agreement.py`
imports every handler and compares its resolver's routes with what is read here.

Who may call a route follows from its path, as the functions' own check does (`cloudtill.api`):
`/admin/...` needs a token of the admin group (API Gateway's Cognito authorizer), `/webhooks/...` is
authenticated by the caller's signature inside the function, anything else is public.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Literal

Auth = Literal["public", "admin", "webhook"]
# The prefix `cloudtill.api` refuses callers outside the admin group on (the route agreement test
# checks both agree); not imported: importing the API package would set up its logging here.
ADMIN_PREFIX = "/admin/"
WEBHOOK_PREFIX = "/webhooks/"
FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
# The resolver's name in every API handler.
RESOLVER = "app"
METHODS = ("get", "post", "put", "delete", "patch", "head")
# Resolver methods that register a route some other way: refused, so no route escapes the reader.
_REGISTERING = {"route", "include_router", "add_route"}


class RouteReadError(ValueError):
    """A handler registers a route in a form the wiring cannot read; the message says where."""


def auth_of(path: str) -> Auth:
    if path.startswith(ADMIN_PREFIX):
        return "admin"
    if path.startswith(WEBHOOK_PREFIX):
        return "webhook"
    return "public"


def gateway_path(rule: str) -> str:
    """Powertools' `<param>` segments in API Gateway's syntax (`{param}`)."""
    return re.sub(r"<(\w+)>", r"{\1}", rule)


@functools.cache
def handler_routes(code_folder: str, functions_dir: Path = FUNCTIONS_DIR) -> tuple[tuple[str, str], ...]:
    """(method, path) of every route of `functions/<code_folder>/handler.py`, in registration order
    (the local gateway matches in this order: a literal segment registered first wins, as in API
    Gateway)."""
    handler_file = functions_dir / code_folder / "handler.py"
    if not handler_file.is_file():
        return ()
    module = ast.parse(handler_file.read_text(), filename=str(handler_file))
    routes: list[tuple[int, str, str]] = []
    for node in ast.walk(module):
        if not isinstance(node, ast.Call) or not _on_resolver(node.func):
            continue
        assert isinstance(node.func, ast.Attribute)
        method = node.func.attr
        where = f"{handler_file}:{node.lineno}"
        if method in _REGISTERING:
            raise RouteReadError(f'{where}: register routes with @{RESOLVER}.<method>("/path") only')
        if method not in METHODS:
            continue
        if (
            not node.args
            or not isinstance(node.args[0], ast.Constant)
            or not isinstance(node.args[0].value, str)
        ):
            raise RouteReadError(f"{where}: a route's path must be a string literal")
        if not _is_top_level_decorator(module, node):
            raise RouteReadError(f"{where}: a route is a decorator of a top-level function")
        routes.append((node.lineno, method.upper(), gateway_path(node.args[0].value)))
    return tuple((method, path) for _, method, path in sorted(routes))


def _on_resolver(func: ast.expr) -> bool:
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == RESOLVER


def _is_top_level_decorator(module: ast.Module, call: ast.Call) -> bool:
    return any(
        call in node.decorator_list
        for node in module.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
