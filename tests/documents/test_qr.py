"""documents.qr makes exactly the QR symbol segno makes, for every version, and a PNG of it."""
from __future__ import annotations

import io
import random

import pytest
import segno
from PIL import Image

from documents import qr


def segno_rows(text: str, mask: int) -> tuple[int, ...]:
    code = segno.make(text, error="l", mask=mask)
    return tuple(int("".join("1" if m else "0" for m in row), 2) for row in code.matrix)


def link(length: int, seed: int = 0) -> str:
    rng = random.Random(seed * 10_000 + length)
    return "https://amanah.example/ledger/receipt-proof#" + "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789%/+=@.:-_,") for _ in range(length - 44))


# One length in (nearly) every version, the longest each version holds at level L, and lengths where
# segno raises the level (M, Q, H still fit the version) or a stream ends on a byte boundary.
LENGTHS = sorted({*range(64, 2954, 97), 78, 79, 80, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458,
                  520, 586, 644, 718, 792, 858, 929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732,
                  1840, 1952, 2068, 2188, 2303, 2431, 2563, 2699, 2809, 2953})


@pytest.mark.parametrize("length", LENGTHS)
def test_same_symbol_as_segno(length):
    text = link(length)
    assert qr.matrix(text, 4) == segno_rows(text, 4)


@pytest.mark.parametrize("mask", range(8))
def test_every_mask(mask):
    text = link(700, mask)
    assert qr.matrix(text, mask) == segno_rows(text, mask)


@pytest.mark.parametrize("text", ["https://a.example/", "HTTPS://A.EXAMPLE/" + "X" * 80,
                                  "https://b.example/ü" * 5])
def test_what_it_does_not_build_itself_comes_from_segno(text):
    assert qr.matrix(text, 4) == segno_rows(text, 4)


def test_png_is_one_grayscale_pixel_per_module_with_a_light_quiet_zone():
    rows = qr.matrix(link(300), 4)
    image = Image.open(io.BytesIO(qr.png(rows, border=4)))
    assert image.mode == "L"  # 8-bit grayscale: WeasyPrint places it without converting it
    size = len(rows)
    assert image.size == (size + 8, size + 8)
    dark = [[image.getpixel((x, y)) < 128 for x in range(image.width)] for y in range(image.height)]
    assert not any(dark[0]) and not any(dark[-1]) and not any(row[0] or row[-1] for row in dark)
    modules = [[bool(r >> (size - 1 - j) & 1) for j in range(size)] for r in rows]
    assert [row[4:-4] for row in dark[4:-4]] == modules
