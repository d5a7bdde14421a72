"""GET /api/v1/campaigns/<public_id>/disbursements: a public campaign's disbursements as JSON.

The same facts as the campaign page: payee display name, category, purpose, amount (minor units),
the ledger entry and the evidence hash; the evidence address only when the document is public.
A disbursement corrected as recorded in error stays listed, with `reversed` naming the correcting
entry and its reason; `disbursed` counts only the ones that stand (the campaign's running total,
whatever the page). Pages of `limit` (100, at most 500), newest payment first; `next` links on.
"""
from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, request, url_for
from flask_babel import gettext as _

from amanah import openapi
from amanah.errors import error_response
from campaigns import services as campaign_services
from treasury import disbursements
from treasury.models import EVIDENCE_TYPES, PayeeKind, SpendingCategory

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


DEFAULT_LIMIT, MAX_LIMIT = 100, 500
_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2})_(\d{1,18})")


def _cursor(d) -> str:
    """Where the next page starts: after this disbursement (paid on, id), in the list's order."""
    return f"{d.paid_on.isoformat()}_{d.id}"


def _page_params():
    """(limit, before) from the query, or an error response naming the bad parameter."""
    raw_limit = request.args.get("limit", "")
    limit = DEFAULT_LIMIT
    if raw_limit:
        if not (raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT):
            return None, error_response(400, _("The parameter %(name)s must be a whole number from 1 to "
                                               "%(max)d.", name="limit", max=MAX_LIMIT), field="limit")
        limit = int(raw_limit)
    raw_before = request.args.get("before", "")
    before = None
    if raw_before:
        match = _CURSOR.fullmatch(raw_before)
        try:
            before = (dt.date.fromisoformat(match.group(1)), int(match.group(2))) if match else None
        except ValueError:
            before = None
        if before is None:
            return None, error_response(400, _("The parameter before must be the `next` link's value."),
                                        field="before")
    return (limit, before), None


@bp.get("/<public_id>/disbursements")
def list_disbursements(public_id: str):
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or not campaign.is_public:
        abort(404)
    params, failure = _page_params()
    if failure:
        return failure
    limit, before = params
    rows = disbursements.for_campaign(campaign, limit=limit + 1, before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    response = {
        "campaign": campaign.public_id,
        "currency": campaign.currency,
        "balance": disbursements.available_balance(campaign),
        "disbursed": disbursements.total_disbursed(campaign),
        "items": [disbursement_json(d) for d in rows],
        "next": url_for("treasury_api.list_disbursements", public_id=public_id, limit=limit,
                        before=_cursor(rows[-1]), _external=True) if more else None,
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
            "next": {"type": ["string", "null"],
                     "description": "The next page (the same `limit`), or null on the last one."},
        },
        "required": ["campaign", "currency", "balance", "disbursed", "items", "next"],
    },
}
PATHS = {
    PATH: {
        "get": {
            "summary": "A public campaign's disbursements, newest payment first",
            "tags": ["treasury"],
            "parameters": [{"name": "public_id", "in": "path", "required": True,
                            "schema": {"type": "string"},
                            "description": "The campaign's public id (12 lowercase base32 characters)."},
                           {"name": "limit", "in": "query", "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                       "default": DEFAULT_LIMIT},
                            "description": "Disbursements per page."},
                           {"name": "before", "in": "query", "required": False,
                            "schema": {"type": "string",
                                       "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{1,18}$"},
                            "description": "Where a page starts: taken from the previous page's `next`."}],
            "responses": {
                "200": {"description": "The disbursements.",
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/DisbursementList"}}}},
                "400": {"description": "A bad `limit` or `before`; `field` names it.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "No such public campaign.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
    },
}
TAGS = [{"name": "treasury", "description": "What campaigns paid out, with evidence."}]


def init_app(app) -> None:
    app.register_blueprint(bp)
    openapi.register_paths(PATHS, schemas=SCHEMAS, tags=TAGS)
    openapi.init_app(app)
