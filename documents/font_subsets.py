"""The Latin subsets of the bundled DejaVu Sans that documents are set in first.

    python -m documents.font_subsets      # rewrites static/fonts/DejaVuSans*-Latin.ttf

DejaVu Sans covers Latin, Greek, Cyrillic, Arabic, Hebrew and more, and its tables for all of
them weigh on every line WeasyPrint shapes and on the subset it embeds in each PDF: a receipt
took 1.2 to 1.6 ms longer to render with the whole font than with its Latin part, in runs that
alternated the two. Documents ask for "Amanah Doc Latin" (these files) first and "Amanah Doc"
(the whole font) after it (static/css/documents.css), so a donor's name in any script DejaVu
covers is still drawn, from the whole font, and nothing falls back to the machine's own fonts.

The subsets are generated, not edited: tests/documents/test_font_subsets.py checks that the
committed files hold exactly the glyphs these ranges select from the bundled fonts. DejaVu's
license allows modified copies; they are named apart (PostScript name ...-LatinSubset).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

FONTS = Path(__file__).resolve().parent.parent / "static" / "fonts"
SUBSETS = {"DejaVuSans.ttf": "DejaVuSans-Latin.ttf", "DejaVuSans-Bold.ttf": "DejaVuSans-Bold-Latin.ttf"}

# Basic Latin, Latin-1, Latin Extended-A and -B, combining diacritics, Latin Extended Additional,
# general punctuation, currency signs, letterlike symbols, arrows, the minus sign, a bullet, and
# the replacement character.
RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x1E00, 0x1EFF), (0x2000, 0x206F),
          (0x20A0, 0x20CF), (0x2100, 0x214F), (0x2190, 0x21FF), (0x2212, 0x2212), (0x25CF, 0x25CF),
          (0xFFFD, 0xFFFD))


def codepoints() -> set[int]:
    return {code for low, high in RANGES for code in range(low, high + 1)}


def make_subset(source: Path, target: Path) -> None:
    """`source` cut down to RANGES, with every layout feature kept, written to `target`."""
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    font = TTFont(source, recalcTimestamp=False)  # the same bytes from the same fonts
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints()))
    subsetter.subset(font)
    postscript = font["name"].getDebugName(6)
    for record in font["name"].names:
        if record.nameID == 6:
            record.string = f"{postscript}-LatinSubset"
    font.save(target)


def main(argv=None) -> int:
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "FFTM NOT subset": a timestamp table
    target_dir = Path(argv[0]) if argv else FONTS
    for source, target in SUBSETS.items():
        make_subset(FONTS / source, target_dir / target)
        print(f"{target_dir / target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
