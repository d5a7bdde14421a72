"""The OpenAPI document: complete for the ledger, extensible by packages, and true (schemathesis)."""
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from amanah import openapi
from amanah.extensions import db
from campaigns import openapi as campaigns_openapi
from ledger import checkpoints
from ledger import openapi as ledger_openapi
from opendata import openapi as opendata_openapi
from tests.factories.giving import make_campaign
from tests.factories.ledger import add, fill


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)


def test_document_is_openapi_31_and_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    described = set(document["paths"])
    routes = {openapi_path(rule.rule) for rule in app.url_map.iter_rules()
              if (rule.rule.startswith("/api/v1/") and rule.rule != openapi.DOCUMENT_PATH)
              or rule.endpoint.startswith("ledger.")
              or rule.endpoint in ("opendata.aggregates_json", "opendata.aggregates_csv")
              or rule.endpoint in ("ledger_pages.export_csv", "ledger_pages.entry_proof_json",
                                   "ledger_pages.entry_proof_text")}
    assert routes and routes <= described, routes - described
    for path, item in document["paths"].items():
        for operation in (v for k, v in item.items() if k == "get"):
            assert operation["responses"], path
    schemas = document["components"]["schemas"]
    refs = {v.rsplit("/", 1)[1] for v in _refs(document)}
    assert refs <= set(schemas), refs - set(schemas)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_packages_extend_the_document_and_conflicts_are_refused(client, monkeypatch):
    monkeypatch.setattr(openapi, "_paths", dict(openapi._paths))
    monkeypatch.setattr(openapi, "_schemas", dict(openapi._schemas))
    item = {"get": {"summary": "Campaigns", "responses": {"200": {"description": "ok"}}}}
    openapi.register_paths({"/api/v1/example": item}, schemas={"Example": {"type": "object"}})
    openapi.register_paths({"/api/v1/example": item})  # the same again: harmless
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["paths"]["/api/v1/example"] == item and "Example" in document["components"]["schemas"]
    with pytest.raises(openapi.OpenAPIConflict):
        openapi.register_paths({"/api/v1/example": {"get": {"summary": "other", "responses": {}}}})
    with pytest.raises(openapi.OpenAPIConflict):
        openapi.register_paths({}, schemas={"Example": {"type": "string"}})


@pytest.fixture
def api_schema(app):
    with app.app_context():
        fill(20)
        fill(5, campaign="other0001")
        add(kind="fee", campaign="cheap0001", amount=-100)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
        make_campaign()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _negatable(item: dict) -> bool:
    """Whether some parameter has a constraint that invalid data can break."""
    parameters = item.get("parameters", []) + item["get"].get("parameters", [])
    return any(set(p["schema"]) - {"type"} or p["schema"].get("type") != "string" for p in parameters)


OPERATIONS = [(path, mode) for path, item in sorted((ledger_openapi.PATHS | campaigns_openapi.PATHS
                                                     | opendata_openapi.PATHS).items())
              for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
              if mode is GenerationMode.POSITIVE or _negatable(item)]


# One test per operation and generation mode; the operation is looked up in the served document.
# (schemathesis.pytest.from_fixture needs pytest internals that pytest 9 no longer has.)
@pytest.mark.parametrize(("path", "mode"), OPERATIONS, ids=[f"{p}-{m.value}" for p, m in OPERATIONS])
def test_every_operation_answers_without_server_errors_and_as_documented(api_schema, path, mode):
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def check(case):
        case.call_and_validate(checks=CHECKS)

    check()
