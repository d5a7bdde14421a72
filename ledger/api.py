"""JSON API for the ledger under /api/v1/ledger: entries, checkpoints, proofs, campaign finances.

Read-only and public. Bad parameters get a 400 whose JSON names the parameter (as the /ledger/*
machine endpoints do); unknown entries and campaigns a 404. The OpenAPI description of these and of
/ledger/* lives in ledger.openapi and is served at /api/v1/openapi.json.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, abort, current_app, request, url_for

from ledger import caches, queries, views
from ledger.consistency import CheckpointRefused
from ledger.params import ParamError, int_param, param_error
from ledger.views import IMMUTABLE, checkpoint_refused

bp = Blueprint("ledger_api", __name__, url_prefix="/api/v1/ledger")
bp.register_error_handler(ParamError, param_error)
bp.register_error_handler(CheckpointRefused, checkpoint_refused)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# Same semantics and code as /ledger/checkpoints and /ledger/proof/*.
bp.add_url_rule("/checkpoints", "checkpoints", views.checkpoint_list, methods=["GET"])
bp.add_url_rule("/proof/inclusion", "inclusion_proof", views.inclusion_proof, methods=["GET"])
bp.add_url_rule("/proof/consistency", "consistency_proof", views.consistency_proof, methods=["GET"])


def entry_json(seq: int, leaf: bytes, leaf_hash: bytes, fields: dict) -> dict:
    return {
        "seq": seq,
        "leaf_hash": leaf_hash.hex(),
        "leaf": leaf.decode("utf-8"),
        "entry": fields,
        "links": {"self": url_for("ledger_api.entry", seq=seq),
                  "html": url_for("ledger_pages.entry", seq=seq)},
    }


def finances_json(finances: queries.CampaignFinances, points: list) -> dict:
    return {
        "campaign": finances.campaign,
        "currency": finances.currency,
        "raised": finances.raised,
        "refunded": finances.refunded,
        "chargebacks": finances.chargebacks,
        "fees": finances.fees,
        "disbursed": finances.disbursed,
        "net_raised": finances.net_raised,
        "money_out": finances.money_out,
        "balance": finances.balance,
        "fee_ratio": None if finances.fee_ratio is None else round(float(finances.fee_ratio), 6),
        "fee_ratio_ceiling": float(queries.FEE_CEILING),
        "fee_ratio_exceeded": finances.fee_ratio_exceeded,
        "donation_count": finances.donation_count,
        "entry_count": finances.entry_count,
        "last_seq": finances.last_seq,
        "updated_at": finances.updated_at.isoformat(),
        "series": [{"at": p.at.isoformat(), "money_in": p.money_in, "money_out": p.money_out}
                   for p in points],
        "links": {"html": url_for("ledger_pages.campaign", campaign_id=finances.campaign),
                  "entries": url_for("ledger_api.entries", campaign=finances.campaign)},
    }


def _with_validators(body: dict, etag: str, cache_control: str) -> Response:
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(_dumps(body), mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _dumps(body: dict) -> str:
    return current_app.json.dumps(body) + "\n"


@bp.get("/entries")
def entries():
    try:
        filters = queries.parse_filters(request.args)
        before = queries.parse_seq_arg(request.args, "before")
        after = queries.parse_seq_arg(request.args, "after")
    except queries.FilterError as exc:
        raise ParamError(exc.field, exc.message) from None
    limit = int_param("limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    size = queries.head().size
    etag = f"entries-{size}-{hash_query()}"
    if request.if_none_match.contains(etag):
        return _with_validators({}, etag, "no-cache")
    page = queries.list_entries(filters, before=before, after=after, limit=limit)
    args = {**filters.as_args(), "limit": limit}
    body = {
        "size": size,
        "entries": [entry_json(r.seq, r.leaf, r.leaf_hash, r.fields) for r in page.rows],
        "next": url_for("ledger_api.entries", before=page.older, **args) if page.older is not None else None,
        "newer": url_for("ledger_api.entries", after=page.newer, **args) if page.newer is not None else None,
    }
    return _with_validators(body, etag, "no-cache")


def hash_query() -> str:
    return hashlib.sha256(request.query_string).hexdigest()[:16]


@bp.get("/entries/<bigint:seq>")
def entry(seq: int):
    detail = queries.get_entry(seq)
    if detail is None:
        abort(404)
    body = entry_json(detail.seq, detail.leaf, detail.leaf_hash, detail.fields)
    # Everything in this answer is fixed forever by the leaf bytes.
    return _with_validators(body, detail.leaf_hash.hex(), IMMUTABLE)


@bp.get("/campaigns/<campaign_id>")
def campaign(campaign_id: str):
    finances = queries.campaign_finances(campaign_id)
    if finances is None:
        abort(404)
    etag = f"campaign-{finances.last_seq}"
    if request.if_none_match.contains(etag):
        return _with_validators({}, etag, "no-cache")
    return _with_validators(finances_json(finances, caches.chart_series(finances)), etag, "no-cache")
