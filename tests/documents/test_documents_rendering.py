"""Amounts in words, and the PDF renderer's refusals (plain data only, own static files only)."""
from __future__ import annotations

import zlib

import pydyf
import pytest

from documents import pdf
from documents.pdf import COMPRESSION_LEVEL, compress_streams
from documents.words import amount_in_words, english, terbilang


@pytest.mark.parametrize("n, words", [
    (0, "nol"), (1, "satu"), (10, "sepuluh"), (11, "sebelas"), (12, "dua belas"), (19, "sembilan belas"),
    (20, "dua puluh"), (21, "dua puluh satu"), (100, "seratus"), (101, "seratus satu"),
    (111, "seratus sebelas"), (250, "dua ratus lima puluh"), (1000, "seribu"), (1001, "seribu satu"),
    (1100, "seribu seratus"), (2000, "dua ribu"), (11_000, "sebelas ribu"), (100_000, "seratus ribu"),
    (1_000_000, "satu juta"), (1_500_000, "satu juta lima ratus ribu"),
    (21_345_678, "dua puluh satu juta tiga ratus empat puluh lima ribu enam ratus tujuh puluh delapan"),
    (1_000_000_000, "satu miliar"), (2_000_000_000_000, "dua triliun"),
])
def test_terbilang(n, words):
    assert terbilang(n) == words


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (99, "ninety-nine"), (100, "one hundred"),
    (1_500_000, "one million five hundred thousand"), (2_000_000_001, "two billion one"),
])
def test_english_words(n, words):
    assert english(n) == words


def test_amounts_in_words_name_the_currency_and_say_fractions():
    assert amount_in_words(150_000_000, "IDR", "id") == "satu juta lima ratus ribu rupiah"
    assert amount_in_words(150_000_000, "IDR", "en") == "one million five hundred thousand rupiah"
    assert amount_in_words(1_050, "USD", "en") == "ten US dollars and fifty cents"
    assert amount_in_words(1_050, "USD", "id") == "sepuluh dolar Amerika Serikat dan lima puluh sen"
    assert amount_in_words(3_000, "JPY", "id") == "tiga ribu yen"
    with pytest.raises(ValueError):
        terbilang(-1)
    with pytest.raises(ValueError):
        english(10**15)


@pytest.mark.parametrize("src", [
    "http://example.org/logo.png", "https://example.org/x.css", "file:///etc/passwd",
    "../../amanah/config.py", "ftp://example.org/x.png", "data:text/html;base64,PGI+",
])
def test_renderer_refuses_anything_but_own_static_files(app, monkeypatch, src):
    def html(template, context, locale):
        return f'<html lang="en"><head><title>t</title></head><body><img src="{src}"></body></html>'

    monkeypatch.setattr(pdf, "render_html", html)
    with app.app_context(), pytest.raises(pdf.RenderError, match="only use the app's own static files"):
        pdf.render_pdf("receipt.html", {}, locale="en")


def test_renderer_allows_own_static_images_and_refuses_orm_objects(app, monkeypatch):
    from accounts.models import User

    def html(template, context, locale):
        return ('<html lang="en"><head><title>t</title></head>'
                '<body><img src="img/logo.svg"><p>é</p></body></html>')

    monkeypatch.setattr(pdf, "render_html", html)
    with app.app_context():
        assert pdf.render_pdf("receipt.html", {}, locale="en").startswith(b"%PDF-")
    with pytest.raises(TypeError, match="plain data only"):
        pdf.check_plain({"donor": {"user": User(email="a@example.test")}})


def test_documents_set_language_and_title(app):
    with app.app_context():
        html = pdf.render_html("base.html", {"organization": {"name": "<b>Yayasan</b>", "address": "",
                                                              "registration_no": ""}}, "en")
    assert '<html lang="en">' in html and "<title>" in html
    assert "&lt;b&gt;Yayasan&lt;/b&gt;" in html  # autoescaped


def test_streams_are_deflated_at_the_default_level_and_read_back_the_same():
    """documents.pdf.compress_streams: what pydyf would have written, deflated at level 6, and a
    stream that already has its filter (an image's PNG data) left as it is."""
    content = [b"BT", b"/F1 12 Tf", b"(Rp 1.500.000) Tj", b"ET"] * 50
    document = pydyf.PDF()
    text = pydyf.Stream(list(content), {"Type": "/XObject"}, compress=True)
    image = pydyf.Stream([b"already deflated"], {"Filter": "/FlateDecode"}, compress=False)
    document.add_object(text)
    document.add_object(image)
    compress_streams(document)
    assert text.extra["Filter"] == "/FlateDecode" and not text.compress
    assert zlib.decompress(text.stream[0]) == b"\n".join(content)
    assert text.stream[0] == zlib.compress(b"\n".join(content), COMPRESSION_LEVEL)
    assert image.stream == [b"already deflated"]
