"""Indonesia's 38 provinces with BPS's two-digit codes (Kode Wilayah Kerja Statistik).

BPS and Kemendagri agree on every code except the Papua provinces created in 2022, where
Kemendagri numbers differently (91 Papua, 92 Papua Barat, 93 Papua Selatan, ...). We store
BPS codes; a code, once used, never changes meaning. Names are proper nouns, not translated.
"""
from __future__ import annotations

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


def name(code: str) -> str:
    return PROVINCES[code]


def choices() -> list[tuple[str, str]]:
    """Alphabetical, as people look for a name rather than a code."""
    return sorted(PROVINCES.items(), key=lambda item: item[1])
