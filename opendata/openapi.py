"""The OpenAPI description of /data/aggregates.json and /data/aggregates.csv (amanah.openapi)."""
from __future__ import annotations

from amanah import openapi
from campaigns import categories, regions
from campaigns.services import CAMPAIGN_CURRENCIES
from opendata.services import FIELDS, LICENCE, NOTES, ROW_FIELDS

MONTH = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}
TEXT_FIELDS = ("month", "category", "province", "currency")


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PARAMETERS = [
    _query("category", {"type": "string", "enum": ["", *categories.CODES]},
           "Only rows of this category (empty: every category and the totals over them)."),
    _query("province", {"type": "string", "enum": ["", *regions.CODES]},
           "Only rows of this province, a BPS two-digit code (empty: every province and the totals)."),
    _query("from", MONTH, "First month included, YYYY-MM in WIB; with `from` or `to` only month rows "
                          "are given, not the all-time totals (month `*`)."),
    _query("to", MONTH, "Last month included, YYYY-MM in WIB; not before `from`."),
    _query("currency", {"type": "string", "enum": list(CAMPAIGN_CURRENCIES)}, "Currency (default IDR)."),
]
ERROR_400 = {"description": "A parameter is invalid or unknown; `field` names it.",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
LICENCE_NOTE = f"Open data under {LICENCE['name']} ({LICENCE['identifier']}, {LICENCE['url']})."

SCHEMAS = {
    "AggregateRow": {
        "type": "object",
        "description": "One bucket of the ledger's entries. " + NOTES,
        "properties": {name: ({"type": "string", "description": FIELDS[name]} if name in TEXT_FIELDS
                              else {"type": "integer", "minimum": 0, "description": FIELDS[name]})
                       for name in ROW_FIELDS},
        "required": list(ROW_FIELDS),
    },
    "Aggregates": {
        "type": "object",
        "description": LICENCE_NOTE,
        "properties": {
            "title": {"type": "string"},
            "licence": {"type": "object",
                        "properties": {"name": {"type": "string"},
                                       "identifier": {"type": "string", "const": "CC-BY-4.0"},
                                       "url": {"type": "string"}},
                        "required": ["name", "identifier", "url"]},
            "attribution": {"type": "string"},
            "ledger_size": {"type": "integer", "minimum": 0,
                            "description": "The rows count the entries with seq below this, read in one "
                                           "snapshot with them."},
            "checkpoint_size": {"type": ["integer", "null"],
                                "description": "The smallest signed checkpoint covering ledger_size "
                                               "(null: none signed yet)."},
            "ledger_export": {"type": "string", "description": "The entries the rows count."},
            "month_timezone": {"type": "string"},
            "filters": {"type": "object"},
            "fields": {"type": "object"},
            "notes": {"type": "string"},
            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/AggregateRow"}},
        },
        "required": ["licence", "ledger_size", "checkpoint_size", "rows"],
    },
}

PATHS = {
    "/data/aggregates.json": {"get": {
        "summary": "Giving by month, category and province (open data, JSON)", "tags": ["open data"],
        "description": LICENCE_NOTE + " " + NOTES, "parameters": PARAMETERS,
        "responses": {"200": {"description": "The rows, with their licence and provenance.",
                              "content": {"application/json": {
                                  "schema": {"$ref": "#/components/schemas/Aggregates"}}}},
                      "400": ERROR_400}}},
    "/data/aggregates.csv": {"get": {
        "summary": "Giving by month, category and province (open data, CSV)", "tags": ["open data"],
        "description": LICENCE_NOTE + " The first lines start with `#` (licence, ledger size, checkpoint "
                       "size); then a header row with the fields of AggregateRow.",
        "parameters": PARAMETERS,
        "responses": {"200": {"description": "The rows as CSV.",
                              "content": {"text/csv": {"schema": {"type": "string"}}}},
                      "400": ERROR_400}}},
}
TAGS = [{"name": "open data", "description": "Aggregates of the ledger under CC BY 4.0 (see /data)."}]


def register() -> None:
    openapi.register_paths(PATHS, schemas=SCHEMAS, tags=TAGS)
