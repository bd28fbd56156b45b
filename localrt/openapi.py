"""One OpenAPI document for the whole API, merged from each function's generated document.

Each function's Powertools resolver generates the document of its own routes from its pydantic models;
this joins them, keeps only the routes the wiring declares (never `/_local/`), documents the admin
bearer scheme and the problem+json error responses every route can return.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from infra.wiring import ROUTES

ROOT = Path(__file__).resolve().parent.parent

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_PROBLEM_STATUSES = {
    "400": "Malformed request",
    "404": "Not found",
    "409": "Conflict",
    "413": "Request body too large",
    "415": "Body not sent as JSON",
    "422": "Validation failed",
}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def merge(documents: list[dict[str, Any]], version: str) -> dict[str, Any]:
    declared = {(r.method.lower(), r.path): r for r in ROUTES}
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for document in documents:
        schemas.update(document.get("components", {}).get("schemas", {}))
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                route = declared.get((method, path))
                if route is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status, description in _PROBLEM_STATUSES.items():
                    responses[status] = _problem_response(description)
                if route.auth == "admin":
                    operation["security"] = [{"adminBearer": []}]
                    responses["401"] = _problem_response("Missing or invalid admin token")
                paths.setdefault(path, {})[method] = operation
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cloudtill API",
            "version": version,
            "description": "Serverless commerce backend: catalog, checkout, payments, orders, stock.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"adminBearer": {"type": "http", "scheme": "bearer"}},
        },
    }


# Swagger UI's files, from npm `swagger-ui-dist` (pinned in package.json; `make install` puts it in
# node_modules): `/docs` works without internet.
SWAGGER_UI_DIST = Path(os.environ.get("SWAGGER_UI_DIST") or ROOT / "node_modules" / "swagger-ui-dist")
SWAGGER_UI_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
ASSETS_PATH = "/_local/swagger-ui"

SWAGGER_UI = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>cloudtill API (local)</title>
<link rel="icon" href="{ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "/openapi.json", dom_id: "#ui"}});</script>
</body></html>
"""


def swagger_asset(name: str) -> tuple[bytes, str] | None:
    """(content, type) of one of Swagger UI's files; None for any other name or when not installed."""
    content_type = SWAGGER_UI_ASSETS.get(name)
    path = SWAGGER_UI_DIST / name
    if content_type is None or not path.is_file():
        return None
    return path.read_bytes(), content_type
