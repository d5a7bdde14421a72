"""The OpenAPI 3.1 description of the read-only campaigns API (/api/v1/campaigns...).

Registered into the site-wide document (amanah.openapi) by campaigns.init_app; the schemathesis
test in tests/test_openapi.py holds the two to each other.
"""
from __future__ import annotations

from amanah import openapi
from campaigns import categories, regions
from campaigns.lifecycle import PUBLIC_STATUSES, Status
from campaigns.search import MAX_PAGE, QUERY_MAX, SORTS
from organizations.models import OrganizationType

TAG = {"name": "campaigns", "description": "Published and closed campaigns with their ledger totals."}
MINOR = {"type": "integer", "description": "Integer minor units of the campaign's currency."}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_400 = _json("A parameter is invalid; `field` names it.", {"$ref": "#/components/schemas/Error"})
ERROR_404 = _json("No public campaign has this id.", {"$ref": "#/components/schemas/Error"})

FILTERS = [
    _query("q", {"type": "string", "maxLength": QUERY_MAX}, "Words to find in title, city, "
           "beneficiaries and story (PostgreSQL full-text search, or a substring match on SQLite)."),
    _query("category", {"type": "string", "enum": list(categories.CODES)}, "Only this category."),
    _query("region", {"type": "string", "enum": list(regions.CODES)},
           "Only this province (BPS province code)."),
    _query("status", {"type": "string", "enum": [s.value for s in PUBLIC_STATUSES]},
           "Only published (open) or closed campaigns; both when absent."),
    _query("sort", {"type": "string", "enum": list(SORTS)},
           "newest (default), ending (deadline soonest), funded (most raised), closest (to the goal)."),
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page number, from 1."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 50}, "Campaigns per page (default 20)."),
]

SCHEMAS = {
    "CampaignTotals": {
        "type": "object",
        "description": "Running totals kept with the ledger, in minor units.",
        "properties": dict.fromkeys(("raised", "refunded", "chargebacks", "fees", "disbursed",
                                     "net_raised", "balance"), MINOR)
        | {"donation_count": {"type": "integer", "minimum": 0}},
        "required": ["raised", "refunded", "chargebacks", "fees", "disbursed", "net_raised", "balance",
                     "donation_count"],
    },
    "Campaign": {
        "type": "object",
        "properties": {
            "public_id": {"type": "string", "pattern": "^[a-z2-7]{12}$"},
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
            "status": {"type": "string", "enum": [s.value for s in Status]},
            "category": {"type": "string", "enum": list(categories.CODES)},
            "region": {"type": "string", "enum": list(regions.CODES)},
            "region_name": {"type": "string"},
            "city": {"type": "string"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "goal": MINOR,
            "deadline": {"type": "string", "format": "date"},
            "published_at": NULLABLE_TIME,
            "closed_at": NULLABLE_TIME,
            "organizer": {"type": "string", "description": "The organizer's display name."},
            "organization": {
                "oneOf": [{"$ref": "#/components/schemas/OrganizationRef"}, {"type": "null"}],
                "description": "The organization that runs it; null for a person's own campaign."},
            "totals": {"$ref": "#/components/schemas/CampaignTotals"},
            "beneficiary": {"type": "string", "description": "Only on a single campaign."},
            "story_html": {"type": "string", "description": "Sanitized HTML; only on a single campaign."},
            "feed_url": {"type": "string", "format": "uri", "description": "Only on a single campaign."},
            "indicators": {"type": "array", "description": "On a single campaign and an organization's: "
                           "its outcome "
                           "indicators, values in hundredths of their unit; `latest` from the newest "
                           "report giving one.",
                           "items": {"type": "object", "properties": {
                               "name": {"type": "string"}, "unit": {"type": "string"},
                               "kind": {"type": "string", "enum": ["count", "percent", "measure"]},
                               "direction": {"type": "string", "enum": ["increase", "decrease"]},
                               "baseline": {"type": "integer"}, "target": {"type": "integer"},
                               "due": {"type": "string", "format": "date"},
                               "latest": {"type": ["integer", "null"]}}}},
            "reports": {"type": "array", "description": "On a single campaign and an organization's: "
                        "its progress reports, "
                        "newest first, each anchored by the ledger entry `ledger_seq` whose `evidence` is "
                        "`sha256`.",
                        "items": {"type": "object", "properties": {
                            "number": {"type": "integer"}, "title": {"type": "string"},
                            "at": {"type": "string", "format": "date-time"}, "final": {"type": "boolean"},
                            "corrects": {"type": ["integer", "null"]},
                            "url": {"type": "string", "format": "uri"},
                            "document_url": {"type": "string", "format": "uri"},
                            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                            "ledger_seq": {"type": "integer"},
                            "evidence": {"type": "array", "items": {"type": "string"}}}}},
        },
        "required": ["public_id", "slug", "title", "url", "status", "category", "region", "city",
                     "currency", "goal", "deadline", "organizer", "organization", "totals"],
    },
    "OrganizationRef": {
        "type": "object",
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "type": {"type": "string", "enum": [t.value for t in OrganizationType]},
            "verified": {"type": "boolean", "description": "An admin checked its legal documents."},
            "url": {"type": "string", "format": "uri"},
        },
        "required": ["slug", "name", "type", "verified", "url"],
    },
    "Organization": {
        "type": "object",
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "type": {"type": "string", "enum": [t.value for t in OrganizationType]},
            "verified": {"type": "boolean"},
            "verified_at": NULLABLE_TIME,
            "legal_basis": {"type": "string"},
            "npwp": {"type": ["string", "null"], "pattern": "^[0-9]{15,16}$"},
            "address": {"type": "string"},
            "contact": {"type": "string"},
            "description_html": {"type": "string", "description": "Sanitized HTML."},
            "url": {"type": "string", "format": "uri"},
            "totals": {"type": "object", "description": "Its public campaigns' totals, per currency.",
                       "additionalProperties": {"$ref": "#/components/schemas/CampaignTotals"}},
            "campaigns": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}},
        },
        "required": ["slug", "name", "type", "verified", "verified_at", "legal_basis", "npwp", "address",
                     "contact", "description_html", "url", "totals", "campaigns"],
    },
    "CampaignPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
        },
        "required": ["items", "page", "per_page", "pages", "total"],
    },
}

PATHS = {
    "/api/v1/campaigns": {"get": {
        "summary": "Public campaigns, filtered, sorted and paginated",
        "tags": ["campaigns"],
        "parameters": FILTERS,
        "responses": {"200": _json("One page of campaigns.", {"$ref": "#/components/schemas/CampaignPage"}),
                      "400": ERROR_400},
    }},
    "/api/v1/campaigns/{public_id}": {"get": {
        "summary": "One public campaign with its story and totals",
        "tags": ["campaigns"],
        "parameters": [{"name": "public_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "The campaign's immutable public id."}],
        "responses": {"200": _json("The campaign.", {"$ref": "#/components/schemas/Campaign"}),
                      "404": ERROR_404},
    }},
}


PATHS["/api/v1/organizations/{slug}"] = {"get": {
    "summary": "One organization with its public campaigns and their combined totals",
    "tags": ["campaigns"],
    "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"},
                    "description": "The organization's slug, as in its page's address."}],
    "responses": {"200": _json("The organization.", {"$ref": "#/components/schemas/Organization"}),
                  "404": _json("No organization has this slug.", {"$ref": "#/components/schemas/Error"})},
}}


def register() -> None:
    openapi.register_paths(PATHS, schemas=SCHEMAS, tags=[TAG])
