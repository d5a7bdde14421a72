"""Positions in Indonesia: parsing typed coordinates, great-circle distances, and the bundled
towns (maps/data/cities.csv, GeoNames, CC BY 4.0) a visitor can name instead of a position.

Pure Python: no Flask, no database; the messages are lazy translations.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import math
import re
import unicodedata
from pathlib import Path

from flask_babel import lazy_gettext as _l

from amanah.errors import UserError

DATA = Path(__file__).resolve().parent / "data"
EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


@dataclasses.dataclass(frozen=True)
class Bounds:
    south: float
    north: float
    west: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    def grown(self, degrees: float) -> Bounds:
        return Bounds(self.south - degrees, self.north + degrees, self.west - degrees, self.east + degrees)


# Indonesia with a margin around its outermost islands (Weh 5.9 N, Rote/Ndana 11.0 S, Sabang 95.0 E,
# the border with Papua New Guinea 141.0 E).
BOUNDS = Bounds(south=-11.2, north=6.2, west=94.7, east=141.2)

_NUMBER = re.compile(r"^[+-]?(\d{1,3})([.,]\d{1,8})?$")


def parse_degrees(text: str | None, field: str, low: float, high: float) -> float:
    """A latitude or longitude typed in decimal degrees ('-6.2146' or '-6,2146'); UserError naming
    `field` when it is malformed or outside [low, high]."""
    raw = (text or "").strip().replace("\u2212", "-")  # a typographic minus, as phones type it
    if not raw:
        raise UserError(_l("Enter the coordinate in decimal degrees, e.g. -6.2146."), field=field)
    if not _NUMBER.match(raw):
        raise UserError(_l("Write the coordinate in decimal degrees, e.g. -6.2146 (no degree signs or "
                           "letters)."), field=field)
    value = float(raw.replace(",", "."))
    if not low <= value <= high:
        raise UserError(_l("This is outside Indonesia: use a value from %(low)s to %(high)s.",
                           low=low, high=high), field=field)
    return value


def parse_position(lat: str | None, lon: str | None, lat_field: str = "latitude",
                   lon_field: str = "longitude") -> tuple[float, float]:
    return (parse_degrees(lat, lat_field, BOUNDS.south, BOUNDS.north),
            parse_degrees(lon, lon_field, BOUNDS.west, BOUNDS.east))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on a sphere of the Earth's mean radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def distance_to_box_km(lat: float, lon: float, box: Bounds) -> float:
    """At most the distance from (lat, lon) to anything inside `box` (a lower bound, used to skip
    provinces that cannot hold anything nearer than what was already found)."""
    if box.contains(lat, lon):
        return 0.0
    nearest_lat = min(max(lat, box.south), box.north)
    nearest_lon = min(max(lon, box.west), box.east)
    # Along a meridian the clamped point is the nearest; across, a parallel bends toward the pole,
    # so the true nearest point can be a little closer; and a point may lie up to ~28 km outside its
    # province's box (maps.services.PROVINCE_MARGIN): take off margins to stay a lower bound.
    return max(0.0, distance_km(lat, lon, nearest_lat, nearest_lon) * 0.98 - 30.0)


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: how names are compared."""
    text = unicodedata.normalize("NFKD", (text or "").casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.split(r"[^0-9a-z]+", text)).strip()


# Words that say what kind of place follows ("Kabupaten Sleman", "Kota Semarang", "Sleman Regency").
_KIND = re.compile(r"^(kabupaten|kab|kota|kotamadya|regency|city of|city)\s+|\s+(regency|city)$")


def place_key(text: str) -> str:
    return _KIND.sub("", fold(text)).strip()


@dataclasses.dataclass(frozen=True)
class Town:
    name: str
    province: str  # BPS code
    lat: float
    lon: float
    population: int

    @property
    def key(self) -> str:
        return place_key(self.name)


@functools.cache
def towns() -> tuple[Town, ...]:
    with open(DATA / "cities.csv", newline="", encoding="utf-8") as f:
        return tuple(Town(row["name"], row["province"], float(row["lat"]), float(row["lon"]),
                          int(row["population"])) for row in csv.DictReader(f))


@functools.cache
def _towns_by_key() -> dict[str, tuple[Town, ...]]:
    found: dict[str, list[Town]] = {}
    for town in towns():
        found.setdefault(town.key, []).append(town)
    return {key: tuple(sorted(ts, key=lambda t: -t.population)) for key, ts in found.items()}


def find_towns(text: str) -> tuple[Town, ...]:
    """Towns named `text` ('Kota Bandung', 'bandung', 'Bandung City'), the most populous first."""
    return _towns_by_key().get(place_key(text), ())


def town_in(text: str, province: str) -> Town | None:
    """The town `text` names in `province`, if the bundled list has it."""
    return next((t for t in find_towns(text) if t.province == province), None)


@functools.cache
def province_reference(province: str) -> Town:
    """The province's most populous listed town: where a campaign whose town is not listed is
    placed for distances (said as approximate on the page)."""
    return max((t for t in towns() if t.province == province), key=lambda t: t.population)

