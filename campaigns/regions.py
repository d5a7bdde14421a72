"""Indonesia's 38 provinces with BPS's two-digit codes (Kode Wilayah Kerja Statistik).

BPS and Kemendagri agree on every code except the Papua provinces created in 2022, where
Kemendagri numbers differently (91 Papua, 92 Papua Barat, 93 Papua Selatan, ...). We store
BPS codes; a code, once used, never changes meaning. Names are proper nouns, not translated;
but people search in English too ("West Java", "North Sumatra") and with everyday short forms
("Jabar", "Jogja", "NTT"), so search knows those spellings (`codes_for_word`).
"""
from __future__ import annotations

import re
import unicodedata

PROVINCES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua Barat",
    "92": "Papua Barat Daya",
    "94": "Papua",
    "95": "Papua Selatan",
    "96": "Papua Tengah",
    "97": "Papua Pegunungan",
}

CODES: tuple[str, ...] = tuple(PROVINCES)

# How the provinces are written in English where it differs, and common short forms in both languages.
ENGLISH: dict[str, str] = {
    "12": "North Sumatra", "13": "West Sumatra", "16": "South Sumatra",
    "19": "Bangka Belitung Islands", "21": "Riau Islands", "31": "Jakarta Special Capital Region",
    "32": "West Java", "33": "Central Java", "34": "Special Region of Yogyakarta", "35": "East Java",
    "52": "West Nusa Tenggara", "53": "East Nusa Tenggara",
    "61": "West Kalimantan West Borneo", "62": "Central Kalimantan Central Borneo",
    "63": "South Kalimantan South Borneo", "64": "East Kalimantan East Borneo",
    "65": "North Kalimantan North Borneo",
    "71": "North Sulawesi North Celebes", "72": "Central Sulawesi Central Celebes",
    "73": "South Sulawesi South Celebes", "74": "Southeast Sulawesi Southeast Celebes",
    "76": "West Sulawesi West Celebes", "81": "Moluccas", "82": "North Maluku North Moluccas",
    "91": "West Papua", "92": "Southwest Papua", "95": "South Papua", "96": "Central Papua",
    "97": "Highland Papua",
}
SHORT_FORMS: dict[str, str] = {
    "11": "NAD", "12": "Sumut", "13": "Sumbar", "16": "Sumsel", "19": "Babel", "21": "Kepri",
    "31": "Jakarta", "32": "Jabar", "33": "Jateng", "34": "DIY Jogja Yogya Jogjakarta", "35": "Jatim",
    "52": "NTB", "53": "NTT", "61": "Kalbar", "62": "Kalteng", "63": "Kalsel", "64": "Kaltim",
    "65": "Kaltara", "71": "Sulut", "72": "Sulteng", "73": "Sulsel", "74": "Sultra", "76": "Sulbar",
    "82": "Malut", "91": "Pabar", "92": "PBD", "95": "Papsel", "96": "Papteng",
}
# Words too common to say anything about a place ("Posyandu di Sleman", "Special Region of ...").
_NOT_A_PLACE = {"di", "of", "the"}


def _fold(text: str) -> str:
    """Lower case without accents, for comparing what people type with the names."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _tokens(*names: str) -> set[str]:
    return {t for name in names for t in re.split(r"[^0-9a-z]+", _fold(name)) if t and t not in _NOT_A_PLACE}


_TOKENS: dict[str, set[str]] = {
    code: _tokens(name, ENGLISH.get(code, ""), SHORT_FORMS.get(code, "")) for code, name in PROVINCES.items()
}


def codes_for_word(word: str) -> frozenset[str]:
    """The provinces one search word names, in Indonesian or English: 'Papua' gives the six Papua
    provinces, 'west' every western one (not Southwest Papua), 'Sumatra' and 'Sumatera' the same.
    A word of four letters or more also matches the start of a name's word ('Kalim')."""
    folded = re.sub(r"[^0-9a-z]+", "", _fold(word))
    if not folded or folded in _NOT_A_PLACE:
        return frozenset()
    return frozenset(code for code, tokens in _TOKENS.items()
                     if folded in tokens or (len(folded) >= 4 and any(t.startswith(folded) for t in tokens)))


def name(code: str) -> str:
    return PROVINCES[code]


def choices() -> list[tuple[str, str]]:
    """Alphabetical, as people look for a name rather than a code."""
    return sorted(PROVINCES.items(), key=lambda item: item[1])
