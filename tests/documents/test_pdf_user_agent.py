"""Documents are laid out with their own user-agent stylesheet (static/css/documents-ua.css) instead
of WeasyPrint's whole HTML one: every page must come out exactly as under WeasyPrint's, and
WeasyPrint must still be asking documents/pdf.py for it."""
from __future__ import annotations

import base64
import io
import re

import pytest
from pypdf import PdfReader

from documents import pdf, qr, receipts
from tests.factories.documents import every_document

TEMPLATES = pdf.ROOT / "templates" / "documents"
# Web pages that live beside the document templates (the bulk ZIP form, its progress, a panel).
NOT_PDF = {"bulk_form.html", "job.html", "_campaign_documents.html", "_signature_check.html"}
# Inline, and styled by no user-agent rule in WeasyPrint's sheet either.
UNSTYLED = {"span"}

# Every element the document templates use, nested the way they nest them, under documents.css.
EVERY_ELEMENT = """<!doctype html><html lang="id"><head><meta charset="utf-8"><title>Semua</title></head>
<body class="numbered"><div class="org"><div class="name">Yayasan Contoh</div><div>Jl. Contoh 1</div></div>
<h1>Laporan AMN-2026-000001</h1>
<div class="fields"><p class="serial">Nomor&#9;AMN-2026-000001</p>
<p class="amount">Donasi&#9;Rp 10.000<span class="words">
sepuluh ribu rupiah</span></p><p class="item">Biaya&#9;Rp 1.000</p></div>
<p class="statement">Diberikan secara sukarela.<br>Baris kedua.</p>
<h2>Indikator</h2>
<table class="rows">
<thead><tr><th class="date">Tanggal</th><th>Nama</th><th class="num">Nilai</th></tr></thead>
<tbody><tr><td>1 Des</td><td>Sumur<br><span class="muted">target 2027</span></td><td class="num">2</td></tr>
<tr class="total"><td>Jumlah</td><td></td><td class="num">2</td></tr></tbody></table>
<table class="fields"><tr><th>Hash</th><td class="hash">ab12<br>cd34</td></tr></table>
<h3>#1 Dua sumur</h3><p class="muted">1 Des 2026</p>
<ul><li>Sumur: 2</li><li>Rumah: 35,5 %<ul><li>RT 03</li></ul></li></ul>
<pre class="hash">amanah.localhost/ledger
10
q83vEjRWeJA=</pre>
<div class="proof"><img src="data:image/png;base64,{qr}" alt="QR"><p class="ledger">Entri 0</p>
<p>Hash daun:
180c044d1873f5e464a342ab48adaa23</p></div>
</body></html>"""


def _pages(data: bytes) -> tuple[list, list, list]:
    """Each page's size and drawing (its content stream, decompressed), the outline as nested
    (title, page, target) entries, and each page's annotations (links), from a PDF."""
    reader = PdfReader(io.BytesIO(data))
    drawings = [(tuple(page.mediabox), page.get_contents().get_data()) for page in reader.pages]

    def outline(items):
        return [outline(item) if isinstance(item, list)
                else (item.title, reader.get_destination_page_number(item), item.get("/Top"))
                for item in items]
    links = [[(a.get_object().get("/Subtype"), str(a.get_object().get("/Rect")))
              for a in page.get("/Annots") or []] for page in reader.pages]
    return drawings, outline(reader.outline), links


def _both_ways(html: str) -> tuple[bytes, bytes]:
    from weasyprint import HTML
    work = pdf.worker()
    options = dict(stylesheets=[work.stylesheet], font_config=work.font_config, uncompressed_pdf=True)
    with pdf._render_lock:
        theirs = HTML(string=html, base_url=pdf.BASE_URL, url_fetcher=work.fetcher).write_pdf(**options)
        ours = work.html(string=html, base_url=pdf.BASE_URL, url_fetcher=work.fetcher).write_pdf(**options)
    return theirs, ours


def test_every_document_kind_lays_out_as_under_weasyprints_own_stylesheet(app, client, monkeypatch):
    rendered = {}
    render_html = pdf.render_html

    def keep(template, context, locale):
        rendered[template] = html = render_html(template, context, locale)
        return html
    monkeypatch.setattr(pdf, "render_html", keep)
    every_document(app, client)
    assert set(rendered) >= {"receipt.html", "credit_note.html", "cancellation.html", "statement.html",
                             "impact_report.html", "campaign_report.html"}
    with app.app_context():
        link = "https://amanah.localhost/ledger/receipt-proof#1-" + "a" * 43
        picture = base64.b64encode(qr.png(qr.matrix(link, receipts.MASK))).decode()
        rendered["every element"] = EVERY_ELEMENT.replace("{qr}", picture)
        for name, html in rendered.items():
            theirs, ours = _both_ways(html)
            assert _pages(ours) == _pages(theirs), name
            assert _pages(ours)[0] and all(drawing for _size, drawing in _pages(ours)[0]), name


def test_weasyprint_asks_for_the_documents_user_agent_stylesheet(app, monkeypatch):
    """If a WeasyPrint release stopped calling HTML._ua_stylesheets, documents would silently
    fall back to its whole sheet (and to its cost)."""
    with app.app_context():
        work = pdf.worker()
        asked = []
        original = work.html._ua_stylesheets

        def spy(self, forms=False):
            asked.append(forms)
            return original(self, forms)
        monkeypatch.setattr(work.html, "_ua_stylesheets", spy)
        pdf.render_pdf("receipt.html", _receipt_context(), locale="id", sign=False, variant=None)
    assert len(asked) == 1 and not asked[0]  # once, without form fields


def _receipt_context() -> dict:
    return {"serial": "AMN-2026-000001", "organization": {"name": "Yayasan Contoh"},
            "donor": {"name": "Siti"}, "lines": [], "currency": "IDR",
            "campaign": {"title": "Air", "public_id": "abc"}, "category_text": "",
            "payment_method_text": "Sandbox", "received_text": "1 Des", "issued_text": "1 Des",
            "ledger": {"seq": 1, "leaf_hash": "ab"},
            "proof": {"origin": "o", "size": 2, "root": "cd", "url": "https://x/#1"}, "qr": ""}


PDF_TEMPLATES = sorted(p.name for p in TEMPLATES.glob("*.html") if p.name not in NOT_PDF)


@pytest.mark.parametrize("template", PDF_TEMPLATES)
def test_the_stylesheet_styles_every_element_the_templates_use(template):
    sheet = re.sub(r"/\*.*?\*/", "", (pdf.STATIC / "css" / "documents-ua.css").read_text(), flags=re.S)
    styled = set(re.findall(r"(?<![\w.#:-])([a-z][a-z0-9]*)(?=[\s,{>:)])", sheet)) | UNSTYLED
    used = set(re.findall(r"<([a-z][a-z0-9]*)", (TEMPLATES / template).read_text()))
    assert used <= styled, f"{template} uses {sorted(used - styled)}: give them their user-agent rules"
