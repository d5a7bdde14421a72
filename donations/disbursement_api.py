"""GET /api/v1/campaigns/<public_id>/disbursements: a public campaign's disbursements as JSON.

The same facts as the campaign page: payee display name, category, purpose, amount (minor units),
the ledger entry and the evidence hash; the evidence address only when the document is public.
A disbursement corrected as recorded in error stays listed, with `reversed` naming the correcting
entry and its reason; `disbursed` counts only the ones that stand.
"""
from __future__ import annotations

from flask import Blueprint, abort, url_for

from campaigns import services as campaign_services
from donations import disbursements
from donations.disbursement_models import EVIDENCE_TYPES, PayeeKind, SpendingCategory

bp = Blueprint("treasury_api", __name__, url_prefix="/api/v1/campaigns")

HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
PATH = "/api/v1/campaigns/{public_id}/disbursements"


def disbursement_json(d) -> dict:
    return {
        "paid_on": d.paid_on.isoformat(),
        "amount": d.amount,
        "currency": d.currency,
        "payee": d.payee_name,
        "payee_kind": d.payee_kind,
        "category": d.category,
        "purpose": d.purpose,
        "ledger_seq": d.ledger_seq,
        "ledger_entry_url": url_for("ledger_pages.entry", seq=d.ledger_seq, _external=True),
        "evidence_sha256": d.evidence_sha256,
        "evidence_type": d.evidence_type,
        "evidence_public": d.evidence_public,
        "evidence_url": url_for("treasury.evidence", sha256=d.evidence_sha256, _external=True)
        if d.evidence_public else None,
        "recorded_at": d.created_at.isoformat(),
        "reversed": reversal_json(d.reversal) if d.reversal is not None else None,
    }


def reversal_json(r) -> dict:
    return {
        "reason": r.reason,
        "ledger_seq": r.ledger_seq,
        "ledger_entry_url": url_for("ledger_pages.entry", seq=r.ledger_seq, _external=True),
        "reversed_at": r.created_at.isoformat(),
    }


@bp.get("/<public_id>/disbursements")
def list_disbursements(public_id: str):
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or not campaign.is_public:
        abort(404)
    rows = disbursements.for_campaign(campaign)
    response = {
        "campaign": campaign.public_id,
        "currency": campaign.currency,
        "balance": disbursements.available_balance(campaign),
        "disbursed": disbursements.net_disbursed(rows),
        "items": [disbursement_json(d) for d in rows],
    }
    return response, 200, {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}


SCHEMAS = {
    "Disbursement": {
        "type": "object",
        "properties": {
            "paid_on": {"type": "string", "format": "date"},
            "amount": {"type": "integer", "minimum": 1, "description": "Minor units, positive."},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "payee": {"type": "string",
                      "description": "An organization, or a private person's display name."},
            "payee_kind": {"type": "string", "enum": [k.value for k in PayeeKind]},
            "category": {"type": "string", "enum": [c.value for c in SpendingCategory]},
            "purpose": {"type": "string", "description": "The ledger entry's memo."},
            "ledger_seq": {"type": "integer", "minimum": 0},
            "ledger_entry_url": {"type": "string"},
            "evidence_sha256": HEX32,
            "evidence_type": {"type": "string", "enum": list(EVIDENCE_TYPES)},
            "evidence_public": {"type": "boolean"},
            "evidence_url": {"type": ["string", "null"],
                             "description": "Null while the document is withheld."},
            "recorded_at": {"type": "string"},
            "reversed": {"oneOf": [{"$ref": "#/components/schemas/DisbursementReversal"}, {"type": "null"}],
                         "description": "Null unless the disbursement was recorded in error and reversed "
                                        "by a disbursement_reversal entry; a reversed one is not counted "
                                        "in `disbursed`."},
        },
        "required": ["paid_on", "amount", "currency", "payee", "payee_kind", "category", "purpose",
                     "ledger_seq", "ledger_entry_url", "evidence_sha256", "evidence_type", "evidence_public",
                     "evidence_url", "recorded_at", "reversed"],
    },
    "DisbursementReversal": {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "description": "Why it was corrected: the reversing entry's memo."},
            "ledger_seq": {"type": "integer", "minimum": 0,
                           "description": "The disbursement_reversal entry; its `ref` is the "
                                          "disbursement's."},
            "ledger_entry_url": {"type": "string"},
            "reversed_at": {"type": "string"},
        },
        "required": ["reason", "ledger_seq", "ledger_entry_url", "reversed_at"],
    },
    "DisbursementList": {
        "type": "object",
        "properties": {
            "campaign": {"type": "string"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "balance": {"type": "integer", "description": "Available to disburse, minor units."},
            "disbursed": {"type": "integer", "minimum": 0,
                          "description": "Minor units; reversed disbursements are not counted."},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Disbursement"}},
        },
        "required": ["campaign", "currency", "balance", "disbursed", "items"],
    },
}
PATHS = {
    PATH: {
        "get": {
            "summary": "A public campaign's disbursements, newest payment first",
            "tags": ["treasury"],
            "parameters": [{"name": "public_id", "in": "path", "required": True,
                            "schema": {"type": "string"},
                            "description": "The campaign's public id (12 lowercase base32 characters)."}],
            "responses": {
                "200": {"description": "The disbursements.",
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/DisbursementList"}}}},
                "404": {"description": "No such public campaign.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
    },
}
TAGS = [{"name": "treasury", "description": "What campaigns paid out, with evidence."}]


def init_app(app) -> None:
    from amanah import openapi

    app.register_blueprint(bp)
    openapi.register_paths(PATHS, schemas=SCHEMAS, tags=TAGS)
    openapi.init_app(app)
