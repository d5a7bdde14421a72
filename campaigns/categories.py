"""The six kinds of community service a campaign can support (see docs: layanan komunitas)."""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class Category(enum.StrEnum):
    SOCIAL = "social"
    EDUCATION = "education"
    HEALTH = "health"
    ECONOMY = "economy"
    CULTURE = "culture"
    DIGITAL = "digital"


LABELS = {
    Category.SOCIAL: _l("Social services"),
    Category.EDUCATION: _l("Community education"),
    Category.HEALTH: _l("Community health"),
    Category.ECONOMY: _l("Local economy: cooperatives, UMKM"),
    Category.CULTURE: _l("Culture and religion"),
    Category.DIGITAL: _l("Digital community services"),
}

CODES: tuple[str, ...] = tuple(c.value for c in Category)


def label(code: str) -> str:
    return str(LABELS[Category(code)])


def choices() -> list[tuple[str, str]]:
    return [(c.value, str(LABELS[c])) for c in Category]
