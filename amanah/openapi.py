"""One OpenAPI 3.1 document for the whole site, served at /api/v1/openapi.json.

Each package describes its own machine endpoints and contributes them, usually from its init_app:

    from amanah import openapi
    openapi.register_paths({"/api/v1/campaigns": {"get": {...}}},
                           schemas={"Campaign": {...}}, tags=[{"name": "campaigns"}])

Paths and schemas are plain dicts in OpenAPI 3.1 form (JSON Schema 2020-12); refer to shared
schemas as {"$ref": "#/components/schemas/<Name>"}. Registering the same name twice with different
content is a programming error and raises at start-up, so two packages cannot silently overwrite
each other's definitions. `Error` is predefined: the JSON body of every 4xx/5xx answer.
"""
from __future__ import annotations

import copy

from flask import Blueprint, current_app, jsonify

OPENAPI_VERSION = "3.1.0"
DOCUMENT_PATH = "/api/v1/openapi.json"

_paths: dict[str, dict] = {}
_schemas: dict[str, dict] = {
    "Error": {
        "type": "object",
        "description": "Why the request failed, in the request's language; `field` names the bad query "
                       "parameter or body field.",
        "properties": {
            "error": {"type": "string"},
            "field": {"type": "string"},
        },
        "required": ["error"],
    },
}
_tags: dict[str, dict] = {}


class OpenAPIConflict(ValueError):
    pass


def _merge(target: dict, items: dict, what: str) -> None:
    for name, value in items.items():
        if name in target and target[name] != value:
            raise OpenAPIConflict(f"OpenAPI {what} {name!r} is already registered with other content")
        target[name] = copy.deepcopy(value)


def register_paths(paths: dict, schemas: dict | None = None, tags: list[dict] | None = None) -> None:
    """Add path items (and the component schemas and tags they use) to the document."""
    for path, item in paths.items():
        for method, operation in item.items():
            existing = _paths.get(path, {}).get(method)
            if existing is not None and existing != operation:
                raise OpenAPIConflict(f"OpenAPI operation {method.upper()} {path} is already registered")
        _paths.setdefault(path, {}).update(copy.deepcopy(item))
    _merge(_schemas, schemas or {}, "schema")
    _merge(_tags, {t["name"]: t for t in tags or []}, "tag")


def build_document(title: str = "Amanah API", version: str = "1") -> dict:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Public, read-only endpoints of Amanah: the transparency ledger, its proofs "
                           "and campaigns. No authentication. Money is always an integer in the "
                           "currency's ISO 4217 minor units.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "tags": [copy.deepcopy(t) for _, t in sorted(_tags.items())],
        "paths": {path: copy.deepcopy(_paths[path]) for path in sorted(_paths)},
        "components": {"schemas": copy.deepcopy(_schemas)},
    }


bp = Blueprint("openapi", __name__)


@bp.get(DOCUMENT_PATH)
def document():
    response = jsonify(build_document(version=current_app.config.get("API_VERSION", "1")))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def init_app(app) -> None:
    """Serve the document (idempotent: any package may call it)."""
    if "openapi" not in app.blueprints:
        app.register_blueprint(bp)
