"""Text hygiene for what people type: which characters are refused, and how text is tidied."""
from __future__ import annotations

import re
import unicodedata

# C0 control characters and DEL, except tab, line feed and carriage return: nothing a person types
# needs them, and they can hide text or corrupt what is shown, exported or signed.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def one_line(text: str | None) -> str:
    """`text` on one line: newlines and runs of whitespace become one space, none at either end."""
    return " ".join((text or "").split())


def ascii_slug(text: str | None, max_length: int) -> str:
    """Lowercase ASCII letters and digits joined by hyphens, at most `max_length` long ("" if none):
    "Yayasan Peduli Anak (Bandung)" -> "yayasan-peduli-anak-bandung"."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_length].rstrip("-")
