"""The OpenAPI 3.1 description of the ledger's machine endpoints: /api/v1/ledger/* and /ledger/*.

Registered into the site-wide document (amanah.openapi) by ledger.blueprints.init_app.
"""
from __future__ import annotations

from amanah import openapi

HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
SEQ_MAX = 2**63 - 1
KINDS = ["donation", "refund", "refund_reversal", "chargeback", "chargeback_reversal", "fee", "fee_reversal",
         "disbursement", "disbursement_reversal", "report"]
CAMPAIGN_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def seq_query(name: str, description: str, required: bool = False, minimum: int = 0) -> dict:
    return query(name, {"type": "integer", "minimum": minimum, "maximum": SEQ_MAX}, description, required)


def json_response(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def text_response(description: str, mimetype: str = "text/plain") -> dict:
    return {"description": description, "content": {mimetype: {"schema": {"type": "string"}}}}


ERROR_400 = json_response("A parameter is missing or invalid; `parameter` names it.", ref("Error"))
ERROR_404 = json_response("No such entry or campaign.", ref("Error"))

FILTERS = [
    query("kind", {"type": "string", "enum": KINDS}, "Only entries of this kind."),
    query("campaign", {"type": "string", "pattern": CAMPAIGN_PATTERN}, "Only this campaign's entries."),
    query("from", {"type": "string", "format": "date"}, "First day (UTC) included, YYYY-MM-DD."),
    query("to", {"type": "string", "format": "date"},
          "Last day (UTC) included, YYYY-MM-DD; not before `from`."),
    seq_query("ref", "Only the entries that refer to this entry (a donation's refunds, fee and "
                     "chargebacks, a disbursement's correction, a refund's reversal)."),
]
RANGE = [
    seq_query("start", "First seq included (default 0); at most the ledger's size."),
    seq_query("end", "First seq not included (default: the ledger's size). With `end`, the answer "
                     "never changes and is cached as immutable."),
]
SEQ_PATH = {"name": "seq", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 0},
            "description": "The entry's position (Merkle leaf index)."}


def get(summary: str, tag: str, responses: dict, parameters: list | None = None,
        description: str = "") -> dict:
    operation = {"summary": summary, "tags": [tag], "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if description:
        operation["description"] = description
    return {"get": operation}


SCHEMAS = {
    "EntryFields": {
        "type": "object",
        "description": "The entry's members, exactly as in its leaf (see docs/ledger.md).",
        "properties": {
            "v": {"type": "integer", "const": 1},
            "seq": {"type": "integer", "minimum": 0},
            "prev": HEX32,
            "at": {"type": "string"},
            "kind": {"type": "string"},
            "campaign": {"type": "string"},
            "amount": {"type": "integer"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "ref": {"type": "integer", "minimum": 0},
            "memo": {"type": "string"},
            "evidence": HEX32,
            "donor": HEX32,
            "payment": {"type": "string"},
        },
        "required": ["v", "seq", "prev", "at", "kind", "campaign", "amount", "currency"],
        "additionalProperties": False,
    },
    "Entry": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer", "minimum": 0},
            "leaf_hash": HEX32,
            "leaf": {"type": "string", "description": "The exact leaf bytes (UTF-8 JSON, RFC 8785)."},
            "entry": ref("EntryFields"),
            "links": {"type": "object",
                      "properties": {"self": {"type": "string"}, "html": {"type": "string"}},
                      "required": ["self", "html"]},
        },
        "required": ["seq", "leaf_hash", "leaf", "entry", "links"],
    },
    "EntryList": {
        "type": "object",
        "properties": {
            "size": {"type": "integer", "minimum": 0, "description": "Entries in the whole ledger."},
            "entries": {"type": "array", "items": ref("Entry")},
            "next": {"type": ["string", "null"], "description": "The page of older entries."},
            "newer": {"type": ["string", "null"], "description": "The page of newer entries."},
        },
        "required": ["size", "entries", "next", "newer"],
    },
    "Cosignature": {
        "type": "object",
        "description": "A witness's C2SP tlog-cosignature (cosignature/v1) of the checkpoint.",
        "properties": {
            "witness": {"type": "string", "description": "The witness key's name."},
            "key_id": {"type": "string", "pattern": "^[0-9a-f]{8}$",
                       "description": "The witness key id, hex: SHA-256(name, newline, 0x04, key)[:4]."},
            "timestamp": {"type": "integer", "minimum": 1,
                          "description": "When the witness cosigned, POSIX seconds (signed too)."},
            "line": {"type": "string", "description": "The signature line added to the checkpoint's note."},
        },
        "required": ["witness", "key_id", "timestamp", "line"],
    },
    "Checkpoint": {
        "type": "object",
        "properties": {"size": {"type": "integer", "minimum": 0}, "root": HEX32,
                       "created_at": {"type": "string"},
                       "note": {"type": "string", "description": "The note, signed by the log only."},
                       "cosignatures": {
                           "type": "array", "items": ref("Cosignature"),
                           "description": "The witness cosignatures collected so far, by witness name; a "
                                          "checkpoint gains none once a larger one is two minutes old."},
                       "url": {"type": "string",
                               "description": "/ledger/checkpoints/{size}: the note with its cosignatures."}},
        "required": ["size", "root", "created_at", "note", "cosignatures", "url"],
    },
    "CheckpointList": {
        "type": "object",
        "properties": {"checkpoints": {"type": "array", "items": ref("Checkpoint")},
                       "next": {"type": "string"}},
        "required": ["checkpoints"],
    },
    "InclusionProof": {
        "type": "object",
        "properties": {"index": {"type": "integer", "minimum": 0}, "size": {"type": "integer", "minimum": 1},
                       "leaf_hash": HEX32, "proof": {"type": "array", "items": HEX32}},
        "required": ["index", "size", "leaf_hash", "proof"],
    },
    "ConsistencyProof": {
        "type": "object",
        "properties": {"old": {"type": "integer", "minimum": 1}, "size": {"type": "integer", "minimum": 1},
                       "proof": {"type": "array", "items": HEX32}},
        "required": ["old", "size", "proof"],
    },
    "ProofBundle": {
        "type": "object",
        "description": "An inclusion proof with everything needed to check it offline, in the spirit of "
                       "C2SP tlog-proof; `tlog_proof` is the same proof in tlog-proof@v1 text form.",
        "properties": {
            "format": {"type": "string", "const": "amanah-inclusion-proof@v1"},
            "index": {"type": "integer", "minimum": 0},
            "size": {"type": "integer", "minimum": 1},
            "leaf": {"type": "string"},
            "leaf_hash": HEX32,
            "proof": {"type": "array", "items": HEX32},
            "root": HEX32,
            "checkpoint": {"type": "string", "description": "The signed checkpoint note."},
            "tlog_proof": {"type": "string"},
        },
        "required": ["format", "index", "size", "leaf", "leaf_hash", "proof", "root", "checkpoint",
                     "tlog_proof"],
    },
    "CampaignFinances": {
        "type": "object",
        "description": "A campaign's money from its running totals, in minor units, as positive magnitudes.",
        "properties": {
            "campaign": {"type": "string"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            **{name: {"type": "integer"} for name in (
                "raised", "refunded", "chargebacks", "fees", "disbursed", "net_raised", "money_out",
                "balance", "donation_count", "entry_count", "last_seq")},
            "fee_ratio": {"type": ["number", "null"],
                          "description": "fees / net_raised; null while nothing has been raised."},
            "fee_ratio_ceiling": {"type": "number"},
            "fee_ratio_exceeded": {"type": "boolean"},
            "updated_at": {"type": "string"},
            "series": {"type": "array", "maxItems": 260, "items": {
                "type": "object",
                "properties": {"at": {"type": "string"}, "money_in": {"type": "integer"},
                               "money_out": {"type": "integer"}},
                "required": ["at", "money_in", "money_out"]}},
            "links": {"type": "object"},
        },
        "required": ["campaign", "currency", "raised", "refunded", "chargebacks", "fees", "disbursed",
                     "net_raised", "money_out", "balance", "fee_ratio", "fee_ratio_exceeded", "series"],
    },
}

NOT_MODIFIED = {"description": "Not modified (the ETag given in If-None-Match is current)."}
INCLUSION_PARAMS = [seq_query("index", "The entry's seq.", required=True),
                    seq_query("size", "Tree size; at most the ledger's size.", required=True, minimum=1)]
CONSISTENCY_PARAMS = [seq_query("old", "The older tree size.", required=True, minimum=1),
                      seq_query("size", "The newer tree size; at most the ledger's size.", required=True,
                                minimum=1)]
CHECKPOINT_PARAMS = [seq_query("before", "Only checkpoints of a smaller size (the `next` link sets it)."),
                     query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                           "Page size (default 100).")]

PATHS = {
    "/api/v1/ledger/entries": get(
        "Entries, newest first", "ledger",
        {"200": json_response("A page of entries.", ref("EntryList")), "304": NOT_MODIFIED, "400": ERROR_400},
        [*FILTERS, seq_query("before", "Entries older than this seq (from `next`)."),
         seq_query("after", "Entries newer than this seq (from `newer`)."),
         query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (default 50).")],
        "Keyset-paginated: follow `next` for older entries."),
    "/api/v1/ledger/entries/{seq}": {**get(
        "One entry", "ledger",
        {"200": json_response("The entry; never changes (immutable caching).", ref("Entry")),
         "304": NOT_MODIFIED, "404": ERROR_404}), "parameters": [SEQ_PATH]},
    "/api/v1/ledger/checkpoints": get(
        "Signed checkpoints, newest first", "ledger",
        {"200": json_response("A page of checkpoints.", ref("CheckpointList")), "400": ERROR_400},
        CHECKPOINT_PARAMS),
    "/api/v1/ledger/proof/inclusion": get(
        "Inclusion proof (RFC 6962 audit path)", "ledger",
        {"200": json_response("The proof.", ref("InclusionProof")), "400": ERROR_400}, INCLUSION_PARAMS),
    "/api/v1/ledger/proof/consistency": get(
        "Consistency proof between two tree sizes", "ledger",
        {"200": json_response("The proof.", ref("ConsistencyProof")), "400": ERROR_400}, CONSISTENCY_PARAMS),
    "/api/v1/ledger/campaigns/{campaign_id}": {**get(
        "A campaign's finances", "ledger",
        {"200": json_response("Figures from the running totals and the cumulative series.",
                              ref("CampaignFinances")),
         "304": NOT_MODIFIED, "404": ERROR_404}),
        "parameters": [{"name": "campaign_id", "in": "path", "required": True,
                        "schema": {"type": "string"}, "description": "The campaign's public id."}]},
    "/ledger/checkpoint": get(
        "The latest signed checkpoint", "ledger files",
        {"200": text_response("A C2SP signed note over a tlog-checkpoint body.")}),
    "/ledger/key": get("The verifier key", "ledger files",
                       {"200": text_response("`<name>+<key id>+<base64 key>`, one line.")}),
    "/ledger/checkpoints": get(
        "Signed checkpoints, newest first", "ledger files",
        {"200": json_response("A page of checkpoints.", ref("CheckpointList")), "400": ERROR_400},
        CHECKPOINT_PARAMS),
    "/ledger/checkpoints/{size}": {**get(
        "A stored checkpoint with the witness cosignatures collected for it", "ledger files",
        {"200": text_response("The signed note with every cosignature so far as extra signature lines. "
                              "Cached as immutable once no more can arrive, else revalidated (ETag)."),
         "304": NOT_MODIFIED,
         "404": text_response("No checkpoint of this size was signed.")},
        description="Receipts' proofs name the size of their checkpoint; its cosignatures mostly arrive "
                    "later, and this is where verifiers find them."),
        "parameters": [{"name": "size", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": SEQ_MAX},
                        "description": "The checkpoint's tree size."}]},
    "/ledger/export.jsonl": get(
        "The leaves, one per line, byte-exact", "ledger files",
        {"200": text_response("Streamed JSON Lines.", "application/jsonl"), "400": ERROR_400}, RANGE),
    "/ledger/export.csv": get(
        "Entries as CSV for spreadsheets", "ledger files",
        {"200": text_response("Streamed CSV (UTF-8 with BOM); amounts formatted in the request's locale.",
                              "text/csv"), "400": ERROR_400},
        [*RANGE, *FILTERS]),
    "/ledger/proof/inclusion": get(
        "Inclusion proof (RFC 6962 audit path)", "ledger files",
        {"200": json_response("The proof.", ref("InclusionProof")), "400": ERROR_400}, INCLUSION_PARAMS),
    "/ledger/proof/consistency": get(
        "Consistency proof between two tree sizes", "ledger files",
        {"200": json_response("The proof.", ref("ConsistencyProof")), "400": ERROR_400}, CONSISTENCY_PARAMS),
    "/ledger/entries/{seq}/proof.json": {**get(
        "An entry's inclusion proof with its checkpoint, as a download", "ledger files",
        {"200": json_response("The proof bundle.", ref("ProofBundle")), "400": ERROR_400, "404": ERROR_404},
        [seq_query("size", "Prove against the stored checkpoint of this size (default: the latest).",
                   minimum=1)]),
        "parameters": [SEQ_PATH]},
    "/ledger/entries/{seq}/proof.tlog-proof": {**get(
        "An entry's inclusion proof in C2SP tlog-proof@v1 text form", "ledger files",
        {"200": text_response("index, base64 proof hashes, blank line, signed checkpoint."),
         "400": ERROR_400, "404": ERROR_404},
        [seq_query("size", "Prove against the stored checkpoint of this size (default: the latest).",
                   minimum=1)]),
        "parameters": [SEQ_PATH]},
    "/ledger/tile/{path}": get(
        "C2SP tlog-tiles: a hash tile or an entry bundle", "ledger files",
        {"200": {"description": "A hash tile (W concatenated 32-byte hashes, 256 when full) or an entry "
                                "bundle (each leaf after its big-endian uint16 length); immutable when full.",
                 "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
         "404": {"description": "The path names no tile, or the newest checkpoint does not cover it yet "
                                "(text); a path no route matches gets the site's HTML page.",
                 "content": {"text/plain": {"schema": {"type": "string"}},
                             "text/html": {"schema": {"type": "string"}}}}},
        [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]` (it holds slashes, which OpenAPI "
                         "path parameters cannot express): L the level 0-63, N in 3-digit groups, all but "
                         "the last prefixed with x (1234067: x001/x234/067), W the width of a partial "
                         "tile, 1-255."}],
        description="C2SP tlog-tiles (https://c2sp.org/tlog-tiles). The tile root is /ledger/checkpoint; "
                    "tiles the newest checkpoint does not cover are not found."),
}

TAGS = [
    {"name": "ledger", "description": "The public ledger as JSON."},
    {"name": "ledger files", "description": "Checkpoints, keys, exports and proofs for auditors' tools."},
]


def register() -> None:
    openapi.register_paths(PATHS, schemas=SCHEMAS, tags=TAGS)
