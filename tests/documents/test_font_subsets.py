"""Documents are set in the Latin subset of DejaVu Sans first and the whole font after it: the
committed subsets are exactly what documents/font_subsets.py makes of the bundled fonts, a Latin
receipt embeds only the subset, and a name in another script DejaVu covers is still drawn."""
from __future__ import annotations

import io

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from documents import font_subsets, receipts
from tests.factories.documents import make_campaign, paid_donation, pdf_text


@pytest.mark.parametrize("source, subset", sorted(font_subsets.SUBSETS.items()))
def test_the_committed_subsets_are_made_from_the_bundled_fonts(tmp_path, source, subset):
    font_subsets.make_subset(font_subsets.FONTS / source, tmp_path / subset)
    made, committed = TTFont(tmp_path / subset), TTFont(font_subsets.FONTS / subset)
    assert committed["cmap"].getBestCmap() == made["cmap"].getBestCmap()
    assert set(committed["cmap"].getBestCmap()) == font_subsets.codepoints() & set(
        TTFont(font_subsets.FONTS / source)["cmap"].getBestCmap())
    assert committed.getGlyphOrder() == made.getGlyphOrder()
    for name in ("A", "a", "Rdieresis" if "Rdieresis" in made.getGlyphOrder() else "z"):
        assert committed["glyf"][name].getCoordinates(committed["glyf"])[0] == \
            made["glyf"][name].getCoordinates(made["glyf"])[0]
    assert committed["name"].getDebugName(6).endswith("-LatinSubset")


def _fonts(data: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(data))
    found = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            found.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    return found


@pytest.mark.parametrize("name, whole_font", [("Siti Rahayu", False), ("Дмитрий Σοφία", True)])
def test_a_receipt_draws_every_script_dejavu_covers(app, name, whole_font):
    with app.app_context():
        donation_id = paid_donation(app, make_campaign(), name=name)
        data, _ = receipts.document_pdf(receipts.receipt_of(donation_id))
    assert name in pdf_text(data)
    fonts = _fonts(data)
    # WeasyPrint names an embedded font after its @font-face family (and weight).
    assert {"Amanah-Doc-Latin", "Amanah-Doc-Latin-Bold"} <= fonts, fonts
    assert ("Amanah-Doc" in fonts) == whole_font, fonts
