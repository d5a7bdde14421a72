"""The ledger's public HTTP endpoints (LEDGER.md), open to everyone without an account."""
from __future__ import annotations

import gzip

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context, url_for
from flask_babel import gettext as _

from amanah.extensions import db
from ledger import checkpoints, cosignature, queries, storage, tiles, tree, witnesses
from ledger.consistency import CheckpointRefused
from ledger.models import LedgerCheckpoint, LedgerCosignature
from ledger.params import ParamError, int_param, param_error, size_param

bp = Blueprint("ledger", __name__, url_prefix="/ledger")
bp.register_error_handler(ParamError, param_error)

IMMUTABLE = "public, max-age=31536000, immutable"
# A partial tile never changes either, but clients should move on to the full one once it exists.
PARTIAL_TILE = "public, max-age=60"
EXPORT_BATCH = 2000  # leaves per query and per chunk written


def checkpoint_refused(exc: CheckpointRefused):
    """The stored ledger does not extend what was signed (consistency.py logged why): sign nothing."""
    db.session.rollback()
    response = Response(_("The ledger cannot be signed: it does not extend the checkpoint already "
                          "published. The operators have been alerted.") + "\n",
                        status=503, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


bp.register_error_handler(CheckpointRefused, checkpoint_refused)


def text_response(body: str, cache: str) -> Response:
    response = Response(body, mimetype="text/plain")
    response.headers["Cache-Control"] = cache
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/checkpoint")
def checkpoint():
    """The newest checkpoint with every witness cosignature collected for it (C2SP: extra signature
    lines of the same note). Witnesses that have not cosigned it are asked in the background."""
    cp = checkpoints.checkpoint_for_current_size(db.session)
    found = witnesses.cosignatures(db.session, cp.size)
    db.session.commit()
    if witnesses.missing(found):
        witnesses.schedule(current_app._get_current_object(), cp.size)
    return text_response(cosignature.add_signature_lines(cp.note, [c.line for c in found]), "no-cache")


@bp.get("/key")
def key():
    return text_response(checkpoints.verifier_key_text() + "\n", "public, max-age=3600")


def cosignature_json(c: LedgerCosignature) -> dict:
    return {"witness": c.witness, "key_id": c.key_id.hex(), "timestamp": c.timestamp,
            "line": c.line.rstrip("\n")}


@bp.get("/checkpoints")
def checkpoint_list():
    """Stored checkpoints, newest first, keyset-paginated by size (?before=SIZE), each with the
    witness cosignatures collected for it (the signature lines that /ledger/checkpoints/<size> adds
    to its note)."""
    limit = int_param("limit", default=100, minimum=1, maximum=1000)
    query = db.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(limit)
    if request.args.get("before"):
        query = query.where(LedgerCheckpoint.size < int_param("before", maximum=2**63 - 1))
    rows = db.session.execute(query).scalars().all()
    cosigned: dict[int, list] = {}
    if rows:
        found = db.session.execute(db.select(LedgerCosignature).where(
            LedgerCosignature.size.between(rows[-1].size, rows[0].size))
            .order_by(LedgerCosignature.size, LedgerCosignature.witness)).scalars()
        for c in found:
            cosigned.setdefault(c.size, []).append(cosignature_json(c))
    body = {"checkpoints": [{"size": cp.size, "root": cp.root.hex(), "created_at": cp.created_at.isoformat(),
                             "note": cp.note, "cosignatures": cosigned.get(cp.size, []),
                             "url": url_for("ledger.checkpoint_at", size=cp.size)} for cp in rows]}
    if len(rows) == limit:
        # url_for, not request.path: the link keeps the app's mount point (SCRIPT_NAME), as "url" does.
        body["next"] = url_for(request.endpoint, before=rows[-1].size, limit=limit)
    return jsonify(body)


def cosigned_cache_control(size: int) -> str:
    """Immutable once the checkpoint of `size` can gain no more cosignatures (witnesses.py);
    before that caches must revalidate (the ETag makes that cheap) to see those that arrive."""
    return IMMUTABLE if witnesses.cosignatures_final(db.session, size) else "no-cache"


def conditional(response: Response) -> Response:
    """A strong ETag over the body, and a 304 when the client has it."""
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/checkpoints/<size>")
def checkpoint_at(size: str):
    """The stored checkpoint of `size` with every witness cosignature collected for it so far.
    Receipts' proofs name their checkpoint's size; their cosignatures mostly arrive after the
    receipt was made, and this is where a verifier finds them."""
    # Taken as text, so that anything that is not a stored size gets the same plain-text 404.
    number = int(size) if size.isascii() and size.isdigit() and len(size) <= 18 else -1
    cp = checkpoints.get(db.session, number) if number >= 0 else None
    if cp is None:
        response = text_response(_("No checkpoint of size %(size)s was signed.", size=size[:40]) + "\n",
                                 "no-cache")
        response.status_code = 404
        return response
    body = witnesses.cosigned_note(db.session, cp)
    return conditional(text_response(body, cosigned_cache_control(number)))


@bp.get("/export.jsonl")
def export_jsonl():
    current = storage.size(db.session)
    start = int_param("start", default=0, maximum=current)
    end = int_param("end", default=current, maximum=current)
    if end < start:
        raise ParamError("end", _("The parameter end must not be smaller than start."))

    def generate():
        # Hand the server one batch of leaves at a time (about 500 KiB): one write (and one HTTP
        # chunk) per leaf costs more than reading the leaf, while bounded batches keep memory flat.
        for leaves in storage.iter_leaf_batches(db.session, start, end, EXPORT_BATCH):
            yield b"\n".join(leaves) + b"\n"

    response = Response(stream_with_context(generate()), mimetype="application/jsonl")
    response.headers["Content-Disposition"] = f'inline; filename="ledger-{start}-{end}.jsonl"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    # A range the ledger already holds can never change: the ledger only grows.
    response.headers["Cache-Control"] = IMMUTABLE if "end" in request.args else "no-cache"
    return response


@bp.get("/proof/inclusion")
def inclusion_proof():
    tree_size = size_param("size", minimum=1)
    index = int_param("index")
    if index >= tree_size:
        raise ParamError("index", _("The parameter index must be smaller than size."))
    proof = storage.inclusion_proof(db.session, index, tree_size)
    response = jsonify({"index": index, "size": tree_size,
                        "leaf_hash": storage.leaf_hash_at(db.session, index).hex(),
                        "proof": tree.proof_to_hex(proof)})
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/proof/consistency")
def consistency_proof():
    tree_size = size_param("size", minimum=1)
    old = int_param("old", minimum=1)
    if old > tree_size:
        raise ParamError("old", _("The parameter old must not be larger than size."))
    proof = storage.consistency_proof(db.session, old, tree_size)
    response = jsonify({"old": old, "size": tree_size, "proof": tree.proof_to_hex(proof)})
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def no_tile() -> Response:
    response = text_response(_("No such tile: the path names no tile, or the newest checkpoint does "
                               "not cover it yet.") + "\n", "no-cache")
    response.status_code = 404
    return response


@bp.get("/tile/<path:path>")
def tile(path: str):
    """C2SP tlog-tiles: hash tiles and entry bundles of the tree up to the newest signed checkpoint
    (the tile root is /ledger/checkpoint). A tile the checkpoint does not cover yet is a 404."""
    try:
        wanted = tiles.parse_tile_path(path)
    except tiles.TileError:
        return no_tile()
    with queries.reader() as source:  # PostgreSQL: one round trip, in autocommit
        signed, body = storage.read_tile(source, wanted)
    if wanted.needs() > signed:
        return no_tile()
    if body is None:
        raise storage.LedgerError(f"the stored ledger lacks the data of tile {wanted.path()}")
    response = Response(body, mimetype="application/octet-stream")
    if wanted.level is None:
        response.vary.add("Accept-Encoding")
        if request.accept_encodings["gzip"] > 0:
            response.set_data(gzip.compress(body, compresslevel=1, mtime=0))
            response.headers["Content-Encoding"] = "gzip"
    response.headers["Cache-Control"] = IMMUTABLE if wanted.full else PARTIAL_TILE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
