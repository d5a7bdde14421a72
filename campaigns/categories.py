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

# What each kind covers, in a few examples (the home page's category links).
DESCRIPTIONS = {
    Category.SOCIAL: _l("aid for the elderly, people with disabilities and neglected children"),
    Category.EDUCATION: _l("free tutoring, skills training, community reading gardens"),
    Category.HEALTH: _l("posyandu, health education, immunization, community clinics"),
    Category.ECONOMY: _l("cooperatives, small business (UMKM) training and programs"),
    Category.CULTURE: _l("religious activities, the arts, preserving local culture"),
    Category.DIGITAL: _l("free internet access, digital literacy, public service apps"),
}

CODES: tuple[str, ...] = tuple(c.value for c in Category)


def label(code: str) -> str:
    return str(LABELS[Category(code)])


def choices() -> list[tuple[str, str]]:
    return [(c.value, str(LABELS[c])) for c in Category]
