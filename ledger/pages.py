"""The ledger's public pages: every entry, one entry with its proof, a campaign's finances, the
auditor's guide, and the CSV export. Views only parse input, call ledger.queries (and
ledger.formatting) and render.

Caching: an entry page depends only on its (immutable) entry, so its ETag is the leaf hash plus the
locale and viewer, and it may be kept for a day. List pages carry an ETag derived from the ledger's
head (its size), a campaign page from the campaign's last entry, the guide from the latest
checkpoint, so a conditional GET costs one indexed read and no rendering.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_percent
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from amanah import money
from amanah.errors import error_response
from amanah.extensions import db
from amanah.frame import render_framed
from amanah.i18n import current_locale, format_wib
from amanah.translated_templates import render_translated
from ledger import checkpoints, csv_export, formatting, queries, witnesses
from ledger.consistency import CheckpointRefused
from ledger.params import ParamError, int_param, param_error
from ledger.views import IMMUTABLE, checkpoint_refused, conditional, cosigned_cache_control

bp = Blueprint("ledger_pages", __name__, url_prefix="/ledger")
bp.register_error_handler(ParamError, param_error)
bp.register_error_handler(CheckpointRefused, checkpoint_refused)

PAGE_SIZE = 50
CAMPAIGN_PAGE_SIZE = 20
CHECKPOINT_PAGE_SIZE = 20
ENTRY_MAX_AGE = 86400  # a day: the entry never changes, the page around it (menus, wording) may
VARY = "Accept-Language, Cookie"


# ---- conditional requests ----

def _templates_version() -> str:
    """Changes when a deployment changes the templates or catalogs, so old ETags stop matching."""
    cached = current_app.extensions.get("ledger.templates_version")
    if cached is None:
        root = Path(current_app.root_path)
        digest = hashlib.sha256()
        for path in sorted([*root.glob("templates/ledger/*.html"), root / "templates/base.html",
                            root / "templates/_account_menu.html",
                            *root.glob("translations/*/LC_MESSAGES/messages.mo")]):
            if path.exists():
                digest.update(path.name.encode() + path.read_bytes())
        cached = current_app.extensions["ledger.templates_version"] = digest.hexdigest()[:12]
    return cached


def page_etag(*parts) -> str:
    """An ETag for an HTML page: its own parts plus what every page varies on (locale, viewer)."""
    viewer = f"user{current_user.get_id()}" if current_user.is_authenticated else "anonymous"
    key = "|".join(str(p) for p in (*parts, current_locale(), viewer, _templates_version()))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def not_modified(etag: str, last_modified=None) -> Response | None:
    """A 304 when the client's copy is current (If-None-Match wins over If-Modified-Since)."""
    if request.if_none_match:
        fresh = request.if_none_match.contains_weak(etag)
    else:
        fresh = (last_modified is not None and request.if_modified_since is not None
                 and last_modified.replace(microsecond=0) <= request.if_modified_since)
    if not fresh:
        return None
    return Response(status=304)


def cached(render, *, etag: str, cache_control: str, last_modified=None, weak: bool = True) -> Response:
    """Answer 304 from the validators alone, or render and attach them."""
    response = not_modified(etag, last_modified) or make_response(render())
    if response.status_code in (200, 304):
        response.set_etag(etag, weak=weak)
        if last_modified is not None:
            response.last_modified = last_modified
        if current_user.is_authenticated:
            cache_control = cache_control.replace("public", "private")
        response.headers["Cache-Control"] = cache_control
        response.vary.update(v.strip() for v in VARY.split(","))
    return response


# ---- template helpers: the tables are most of a page's cost, so these do the least per row ----

def kind_names() -> dict[str, str]:
    """The kinds' labels in the request's language, translated once per table."""
    return {kind: str(label) for kind, label in formatting.KIND_LABELS.items()}


@lru_cache(maxsize=65536)
def _money(minor: int, currency: str, locale: str) -> str:
    return money.format_money(minor, currency, locale)


def money_formatter():
    """format(minor, currency) in the request's locale, with the locale looked up once."""
    locale = current_locale()
    return lambda minor, currency: _money(minor, currency, locale)


def iso_minute(at: dt.datetime) -> str:
    """'2026-03-01 08:00': tables show UTC times to the minute, the same in every language."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def iso_instant(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def percent(ratio) -> str:
    return format_percent(float(ratio), "#,##0.0%")


def proof_view(bundle: queries.InclusionBundle) -> dict:
    """An inclusion proof as the entry page shows it: hashes in hex, made here and not by the
    template, where each call costs several times more."""
    return {"size": bundle.size, "root": bundle.root.hex(), "hashes": [h.hex() for h in bundle.proof],
            "checkpoint": bundle.checkpoint}


_URL_MARK = 7_300_000_000_000_000_000  # larger than any seq or size, and still a valid route int
_url_patterns: dict[tuple, str] = {}


def int_url(endpoint: str, **values: int) -> str:
    """url_for(endpoint, **values) for integer values, built through the URL map only once per
    endpoint, names and script root (with marker numbers in place of the values) and then filled
    in. An entry page links to a dozen URLs; url_for's map lookups were a twentieth of its time."""
    key = (endpoint, tuple(values), request.script_root)
    pattern = _url_patterns.get(key)
    if pattern is None:
        built = url_for(endpoint, **{name: _URL_MARK + i for i, name in enumerate(values)})
        pattern = built.replace("{", "{{").replace("}", "}}")
        for i, name in enumerate(values):
            pattern = pattern.replace(str(_URL_MARK + i), "{" + name + "}")
        if len(_url_patterns) >= 1024:  # a dozen in use; more means odd script roots
            _url_patterns.clear()
        _url_patterns[key] = pattern
    return pattern.format(**{name: int(value) for name, value in values.items()})


def init_jinja(app) -> None:
    app.jinja_env.globals.update(kind_names=kind_names, money_formatter=money_formatter, int_url=int_url,
                                 campaign_names=queries.campaign_names)
    app.jinja_env.filters.update(ledger_time=iso_minute, ledger_iso=iso_instant, ledger_percent=percent)


# ---- server-side cache of page content ----

class FragmentCache:
    """Rendered page content (without the per-visitor frame: menus, form tokens), by key.

    Keys hold what the content depends on — e.g. the ledger's size for the list, the campaign's
    last entry for its page — so an entry can be served until the key itself changes; entries are
    never changed, only appended. Small and per process: it only spares rendering.
    """

    def __init__(self, capacity: int = 256):
        self.capacity = capacity
        self.items: OrderedDict[tuple, Markup] = OrderedDict()
        self.lock = threading.Lock()

    def get_or_render(self, key: tuple, render) -> Markup:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
                return found
        content = Markup(render())  # noqa: S704 - rendered by Jinja with autoescape
        with self.lock:
            self.items[key] = content
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)
        return content


def content(key: tuple, template: str, /, **context) -> Markup:
    """The template's output for `key` (plus locale and template version), rendered once."""
    cache = current_app.extensions.setdefault("ledger.fragments", FragmentCache())
    # host_url: content links are built for this host and script root (the guide's are absolute).
    full_key = (*key, current_locale(), _templates_version(), request.host_url)

    def render() -> str:
        return render_translated(template, **{name: value() if callable(value) else value
                                              for name, value in context.items()})

    return cache.get_or_render(full_key, render)


def page(title: str, body: Markup, status: int = 200):
    return render_framed("ledger/page.html", title=title, content=body, version=_templates_version()), status


# ---- pages ----

@bp.get("")
def index():
    try:
        filters = queries.parse_filters(request.args)
        before = queries.parse_seq_arg(request.args, "before")
        after = queries.parse_seq_arg(request.args, "after")
    except queries.FilterError as exc:
        body = Markup(render_template("ledger/index.html", filters=None, args=request.args,  # noqa: S704
                                      error=exc, page=None, kinds=formatting.KIND_LABELS))
        return page(_("Public ledger"), body, 400)
    head = queries.head()
    names = queries.names_version()  # the table names campaigns; a renamed one shows at once

    def render():
        body = content(("index", request.query_string, head.size, names), "ledger/index.html",
                       filters=filters, args=request.args, error=None, kinds=formatting.KIND_LABELS,
                       size=head.size,
                       page=lambda: queries.list_entries(filters, before=before, after=after,
                                                              limit=PAGE_SIZE))
        return page(_("Public ledger"), body)

    return cached(render, etag=page_etag("index", head.size, request.query_string, names),
                  cache_control="no-cache",
                  last_modified=head.last_at)


@bp.get("/entries/<bigint:seq>")
def entry(seq: int):
    detail = queries.get_entry(seq, with_proof_hashes=True)
    if detail is None:
        abort(404)
    names = queries.names_version()  # the page names its campaign; a renamed one shows at once

    def render():
        cp, signed = queries.proof_checkpoint(detail)
        if signed:
            db.session.commit()
        campaign_name = queries.campaign_name(detail.fields.get("campaign"))
        body = content(("entry", seq, detail.has_next, cp.size, names), "ledger/entry.html",
                       entry=detail, campaign_name=campaign_name,
                       proof=lambda: proof_view(queries.inclusion_bundle(detail, cp)))
        return page(_("Ledger entry %(seq)d", seq=seq), body)

    # The head entry's page still changes (a "next" link will appear); later ones never do.
    cache_control = f"public, max-age={ENTRY_MAX_AGE}" if detail.has_next else "no-cache"
    return cached(render, etag=page_etag("entry", detail.leaf_hash.hex(), detail.has_next, names),
                  cache_control=cache_control)


def _proof_bundle(seq_text: str):
    # The seq is taken as text so that anything that is not an entry gets the same JSON 404.
    seq = int(seq_text) if seq_text.isascii() and seq_text.isdigit() and len(seq_text) <= 19 else -1
    detail = queries.get_entry(seq)
    if detail is None:
        return None, (jsonify({"error": _("There is no entry %(seq)s.", seq=seq_text)}), 404)
    size = int_param("size", default=0) if request.args.get("size") else None
    cp, signed = queries.proof_checkpoint(detail, size)
    if cp is None:
        raise ParamError("size", _("No signed checkpoint of size %(size)d includes this entry.", size=size))
    if signed:
        db.session.commit()
    bundle = queries.inclusion_bundle(detail, cp)
    # The checkpoint with the witness cosignatures collected for it so far (C2SP: more signature
    # lines of the same note; a verifier that knows no witness ignores them).
    cosigned = witnesses.cosigned_text(db.session, bundle.size, bundle.checkpoint)
    return dataclasses.replace(bundle, checkpoint=cosigned), None


def _download(body: str, mimetype: str, filename: str, pinned_size: int | None) -> Response:
    """A proof download. Pinned to a size (?size=), it is immutable once that checkpoint's
    cosignatures are final; until then, and unpinned, caches revalidate it by its ETag."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = ("no-cache" if pinned_size is None
                                         else cosigned_cache_control(pinned_size))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return conditional(response)


@bp.get("/entries/<seq>/proof.json")
def entry_proof_json(seq: str):
    """The inclusion proof as a JSON download (optional ?size= pins the checkpoint)."""
    bundle, failure = _proof_bundle(seq)
    if failure:
        return failure
    body = current_app.json.dumps(bundle.to_json(), indent=2) + "\n"
    return _download(body, "application/json", f"ledger-entry-{seq}-proof-{bundle.size}.json",
                     bundle.size if "size" in request.args else None)


@bp.get("/entries/<seq>/proof.tlog-proof")
def entry_proof_text(seq: str):
    """The same proof in C2SP tlog-proof@v1 text form."""
    bundle, failure = _proof_bundle(seq)
    if failure:
        return failure
    return _download(bundle.tlog_proof(), "text/plain", f"ledger-entry-{seq}-{bundle.size}.tlog-proof",
                     bundle.size if "size" in request.args else None)


@bp.get("/campaigns/<campaign_id>")
def campaign(campaign_id: str):
    finances = queries.campaign_finances(campaign_id)
    if finances is None:
        abort(404)
    try:
        before = queries.parse_seq_arg(request.args, "before")
        after = queries.parse_seq_arg(request.args, "after")
    except queries.FilterError as exc:
        return error_response(400, exc.message, field=exc.field)
    names = queries.names_version()

    def render():
        filters = queries.EntryFilters(campaign=campaign_id)
        key = ("campaign", campaign_id, finances.last_seq, request.query_string, names)
        name = queries.campaign_name(campaign_id)
        body = content(key, "ledger/campaign.html", finances=finances, filters=filters, name=name,
                       chart=lambda: formatting.campaign_chart(finances),
                       page=lambda: queries.list_entries(filters, before=before, after=after,
                                                              limit=CAMPAIGN_PAGE_SIZE))
        title = name.title if name else campaign_id
        return page(_("Finances of campaign %(campaign)s", campaign=title), body)

    return cached(render,
                  etag=page_etag("campaign", campaign_id, finances.last_seq, request.query_string, names),
                  cache_control="no-cache", last_modified=finances.updated_at)


@bp.get("/verify")
def verify_guide():
    try:
        before = queries.parse_seq_arg(request.args, "before")
    except queries.FilterError as exc:
        return error_response(400, exc.message, field=exc.field)
    latest = checkpoints.latest(db.session)
    cosigned = witnesses.status(db.session)
    version = (latest.size if latest else -1, tuple((w.name, w.size) for w in cosigned))

    def render():
        def rows():
            return queries.checkpoint_page(before, CHECKPOINT_PAGE_SIZE)

        body = content(("verify", version, request.query_string), "ledger/verify.html",
                       key=checkpoints.verifier_key_text(), latest=latest, before=before, rows=rows,
                       origin=current_app.config["LEDGER_ORIGIN"], witness_status=cosigned)
        return page(_("Verify the ledger"), body)

    return cached(render, etag=page_etag("verify", version, request.query_string), cache_control="no-cache")


@bp.get("/export.csv")
def export_csv():
    """Entries as CSV (see ledger.csv_export), oldest first; same filters as the list."""
    try:
        filters = queries.parse_filters(request.args)
    except queries.FilterError as exc:
        raise ParamError(exc.field, exc.message) from None
    current = queries.head().size
    start = int_param("start", default=0, maximum=current)
    end = int_param("end", default=current, maximum=current)
    if end < start:
        raise ParamError("end", _("The parameter end must not be smaller than start."))
    locale = current_locale()
    rows = queries.iter_entry_rows(filters, start, end)
    response = Response(stream_with_context(csv_export.csv_chunks(rows, locale)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="ledger-{start}-{end}.csv"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    # With an explicit end the rows can never change; the formatted amounts follow the locale.
    response.headers["Cache-Control"] = IMMUTABLE if "end" in request.args else "no-cache"
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


@bp.get("/entries/<bigint:seq>/summary.json")
def entry_summary(seq: int):
    """What the receipt-proof page shows of a verified entry, in the page's language: amount,
    campaign (named and linked) and time, with the leaf hash the page checks against its proof."""
    detail = queries.get_entry(seq)
    if detail is None:
        return jsonify({"error": _("There is no entry %(seq)s.", seq=seq)}), 404
    f = detail.fields
    queries.names_version()  # a renamed campaign is named anew
    name = queries.campaign_name(f.get("campaign"))
    body = {
        "seq": detail.seq, "leaf_hash": detail.leaf_hash.hex(), "kind": detail.kind_label,
        "amount": money.format_money(f["amount"], f["currency"], current_locale()),
        "at": format_wib(dt.datetime.fromisoformat(f["at"].replace("Z", "+00:00"))),
        "campaign": {"id": f.get("campaign"), "title": name.title if name else f.get("campaign"),
                     "url": name.url if name else None,
                     "ledger_url": url_for("ledger_pages.campaign", campaign_id=f.get("campaign"))},
        "entry_url": int_url("ledger_pages.entry", seq=seq),
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.update(v.strip() for v in VARY.split(","))
    return response


@bp.get("/receipt-proof")
def receipt_proof():
    """Checks the proof in the link's fragment (from a receipt's QR code) with static JavaScript."""
    witness_keys = [w.key.text() for w in witnesses.configured(current_app.config)]
    # The default policy: at least one of the site's own witnesses (none configured: none asked).
    response = make_response(render_template(
        "ledger/receipt_proof.html", key=checkpoints.verifier_key_text(),
        origin=current_app.config["LEDGER_ORIGIN"], witness_keys=witness_keys,
        witness_min=min(1, len(witness_keys))))
    response.headers["Cache-Control"] = "no-cache"
    return response
