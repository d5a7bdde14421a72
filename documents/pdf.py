"""PDF rendering for receipts, credit notes, statements and reports (WeasyPrint).

Templates (templates/documents/*.html, Jinja with autoescaping) are rendered from plain dicts only,
never ORM objects, so a document shows what its service chose to copy and nothing lazy-loads
during rendering. The URL fetcher allows the app's own fonts, stylesheets and images and PNG data
URIs we make ourselves (the QR code); anything else (http:, file: elsewhere, ...) stops rendering
with an error instead of being fetched or silently left out. Fonts are bundled (static/fonts,
DejaVu Sans, which covers Indonesian); one FontConfiguration and one parsed stylesheet are kept
per worker process.
"""
from __future__ import annotations

import atexit
import base64
import binascii
import datetime as dt
import io
import mimetypes
import multiprocessing
import os
import signal
import threading
import zlib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.request import url2pathname

import pydyf
from flask import current_app
from flask_babel import force_locale, gettext

from amanah.config import ROOT
from documents import signing

STATIC = (ROOT / "static").resolve()
ALLOWED_DIRS = tuple(STATIC / name for name in ("fonts", "css", "img"))
STYLESHEET = STATIC / "css" / "documents.css"
UA_STYLESHEET = STATIC / "css" / "documents-ua.css"
BASE_URL = STATIC.as_uri() + "/"
OUTPUT_INTENT = "amanah-srgb"
PNG_DATA_URI = "data:image/png;base64,"
COMPRESSION_LEVEL = 6
PDF_VARIANT = "pdf/a-3b"  # PDF/A-3 allows embedded files: receipts carry their ledger entry


class RenderError(RuntimeError):
    """A document could not be rendered (e.g. its template asked for a resource we refuse)."""


@dataclass(frozen=True)
class FileAttachment:
    name: str
    data: bytes
    description: str


def _refuse(url: str):
    from weasyprint.urls import FatalURLFetchingError

    class ResourceRefused(FatalURLFetchingError):
        pass

    return ResourceRefused(f"documents may only use the app's own static files, not {url[:100]!r}")


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Serves static/fonts, static/css and static/img from disk, and our own PNG data URIs."""

        def fetch(self, url, headers=None):
            if url.startswith(PNG_DATA_URI):
                # Decoded here: urllib's data: handler parses a MIME header for each image.
                try:
                    data = base64.b64decode(url[len(PNG_DATA_URI):], validate=True)
                except binascii.Error:
                    raise _refuse(url) from None
                return URLFetcherResponse(url, data, {"Content-Type": "image/png"})
            if not url.startswith("file:"):
                raise _refuse(url)
            local = url.split("?")[0].split("#")[0].removeprefix("file://")
            path = Path(url2pathname(local)).resolve()
            if not any(path.is_relative_to(d) for d in ALLOWED_DIRS) or not path.is_file():
                raise _refuse(url)
            mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mimetype})

    return StaticOnlyFetcher


class _Worker:
    """What one process keeps between renderings; rebuilt after a fork."""

    def __init__(self):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration
        self.pid = os.getpid()
        self.fetcher = _fetcher_class()()
        self.font_config = FontConfiguration()
        self.stylesheet = CSS(filename=str(STYLESHEET), url_fetcher=self.fetcher,
                              font_config=self.font_config)
        self.html = _html_class(CSS(filename=str(UA_STYLESHEET), url_fetcher=self.fetcher))
        self.color_profiles = {OUTPUT_INTENT: _srgb_profile()}


def _html_class(ua_stylesheet):
    """weasyprint.HTML with documents-ua.css as its user-agent stylesheet.

    WeasyPrint takes the user-agent sheets from HTML._ua_stylesheets(), the hook its own tests
    override the same way; there is no public option. Its whole HTML sheet cost a receipt's first
    rendering about 2 ms more (its rules on attributes are tried on every element).
    tests/documents/test_pdf_user_agent.py fails if WeasyPrint stops calling the hook or if a
    document lays out differently under this sheet than under WeasyPrint's."""
    from weasyprint import HTML

    class DocumentHTML(HTML):
        def _ua_stylesheets(self, forms=False):
            if forms:  # documents have no form fields (pdf_forms is never set)
                return super()._ua_stylesheets(forms)
            return [ua_stylesheet]

    return DocumentHTML


def _srgb_profile():
    """PDF/A's output intent, read once (WeasyPrint's own 'srgb' intent leaves the file open)."""
    from weasyprint.css import ColorProfile
    data = (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
    return ColorProfile(io.BytesIO(data), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))


_worker_lock = threading.Lock()
# Pango and the font configuration are shared: one rendering at a time per process. Also held
# while forking render processes, so that no thread is inside Pango or fontconfig at that moment.
_render_lock = threading.Lock()


def _fresh_locks_in_child() -> None:
    # A forked child has only the forking thread: a lock another thread held would stay held.
    global _worker_lock, _render_lock
    _worker_lock, _render_lock = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_fresh_locks_in_child)

_workers: dict[int, _Worker] = {}
# Let the font configurations go while the interpreter is still whole: WeasyPrint's __del__ fails
# (harmlessly, but loudly) when it runs during the interpreter's final teardown.
atexit.register(_workers.clear)


def worker() -> _Worker:
    """This process's renderer state (a forked worker builds its own)."""
    with _worker_lock:
        found = _workers.get(os.getpid())
        if found is None:
            found = _workers[os.getpid()] = _Worker()
        return found


_PLAIN = (str, int, float, bool, type(None), dt.date, dt.datetime)


def check_plain(value, where: str = "context") -> None:
    """Refuse anything but dicts, lists and scalars: documents never see ORM objects."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_plain(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(f"{where} is a {type(value).__name__}; documents render plain data only")


def render_html(template: str, context: dict, locale: str) -> str:
    check_plain(context)
    with force_locale(locale):
        return current_app.jinja_env.get_template(f"documents/{template}").render(doc=context, locale=locale)


def render_pdf(template: str, context: dict, *, locale: str,
               attachments: list[FileAttachment] = (), variant: str | None = PDF_VARIANT,
               sign: bool = True) -> bytes:
    """The PDF of templates/documents/<template> for `context` in `locale`, signed (PAdES) by the
    organization's key over the whole file, attachments included (documents.signing).

    Without a timestamp authority the signature's place is written with the document
    (signing.SignatureSlot, WeasyPrint's finisher) and filled in after; with one, pyHanko signs
    the finished file as an incremental update, asking the authority for its token."""
    from weasyprint import Attachment
    from weasyprint.urls import FatalURLFetchingError

    html = render_html(template, context, locale)
    work = worker()
    files = [Attachment(string=a.data, name=a.name, description=a.description,
                        url_fetcher=work.fetcher, relationship="Source") for a in attachments]
    slot = None
    if sign:
        issuer = context.get("organization") or {}
        with force_locale(locale):
            reason = gettext("Issued by %(name)s", name=issuer.get("name") or current_app.config["ORG_NAME"])
        location = issuer.get("address") or ""
        if not signing.timestamp_authority():
            slot = signing.SignatureSlot(reason=reason, location=location)
    try:
        with _render_lock:
            document = work.html(string=html, base_url=BASE_URL, url_fetcher=work.fetcher)
            pdf = document.write_pdf(stylesheets=[work.stylesheet], font_config=work.font_config,
                                     attachments=files, pdf_variant=variant, finisher=_Finisher(slot),
                                     color_profiles=work.color_profiles, output_intent=OUTPUT_INTENT)
    except FatalURLFetchingError as exc:
        raise RenderError(str(exc)) from None
    if not sign:
        return pdf
    if slot is not None:
        return slot.seal(pdf)
    return signing.sign_pdf(pdf, reason=reason, location=location)


class _Finisher:
    """What is done to the PDF WeasyPrint has built, right before it is written (its finisher):
    streams compressed at zlib's default level, and the signature's place when there is one."""

    def __init__(self, slot: signing.SignatureSlot | None):
        self.slot = slot

    def __call__(self, document, pdf) -> None:
        compress_streams(pdf)
        if self.slot is not None:
            self.slot(document, pdf)


def compress_streams(pdf, level: int = COMPRESSION_LEVEL) -> None:
    """Deflate the streams pydyf would deflate, at `level` rather than pydyf's 9.

    Level 9 took a receipt 3 ms (its font subsets are most of its 70 KB of streams); level 6,
    zlib's default, takes half that for files a hundred bytes larger. A stream's data is what
    pydyf writes for it uncompressed, between "stream" and "endstream"."""
    for item in pdf.objects:
        if not isinstance(item, pydyf.Stream) or not item.compress or "Filter" in item.extra:
            continue
        item.compress = False
        written = item.data
        start = written.index(b"\nstream\n") + len(b"\nstream\n")
        raw = written[start:-len(b"\nendstream")]
        if b"/Length %d" % len(raw) not in written[:start]:  # not the layout expected: leave it to pydyf
            item.compress = True
            continue
        item.stream = [zlib.compress(raw, level)]
        item.extra["Filter"] = "/FlateDecode"


def fork_pool(processes: int, initializer=None, initargs=()):
    """A pool of `processes` forked render processes (multiprocessing.Pool; the caller closes it).

    Forked, not spawned: a spawned process would spend seconds importing WeasyPrint and the app
    before its first page. The fork happens while this process renders nothing, and each child
    builds its own fonts and Pango state (worker() is per process).
    """
    with _render_lock:
        return multiprocessing.get_context("fork").Pool(processes, _start_render_process,
                                                        (initializer, initargs))


STOP_GRACE_SECONDS = 10


def stop_pool(pool) -> None:
    """Pool.terminate(), then SIGKILL for any render process still there after a grace period.

    terminate() takes the task queue's lock for good and SIGTERMs the children; rarely (seen in
    CI, under load) a child blocked on that lock outlives it, and terminate() then waits for it
    forever, holding the bulk job, or the test, with it."""
    processes = list(pool._pool)
    stopper = threading.Thread(target=pool.terminate, name="render-pool-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_GRACE_SECONDS)
    if stopper.is_alive():
        for process in processes:
            if process.exitcode is None:
                process.kill()
        stopper.join()
    pool.join()


def _start_render_process(initializer, initargs) -> None:
    """First thing in a forked render process: die on SIGTERM and SIGINT again.

    A fork inherits the parent's signal handlers. An RQ worker (bulk jobs with REDIS_URL) handles
    SIGTERM as "stop after this job" and returns, so Pool.terminate() would wait forever for a
    render process blocked on its task queue."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)
