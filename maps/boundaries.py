"""The provinces' shapes for the map (maps/data/provinces.json, from Natural Earth; see the README
there), the projection that placed them, and each province's extent in degrees.

Kalimantan Utara and the four provinces made in 2022 out of Papua and Papua Barat have no border
of their own in the data: they `share` the outline of the province they were split from, and the
page says so.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re

from campaigns import regions
from maps.geo import DATA, Bounds


@dataclasses.dataclass(frozen=True)
class Shape:
    code: str
    path: str  # SVG path data; for a province that shares an outline, the shared one's
    shares_with: str | None  # the code whose outline it shares, None when the outline is its own


@functools.cache
def _document() -> dict:
    return json.loads((DATA / "provinces.json").read_text(encoding="utf-8"))


def width() -> float:
    return _document()["width"]


def height() -> float:
    return _document()["height"]


def projection() -> dict:
    """The projection's parameters (west, north, scale, cos_lat0), for the page's script."""
    return dict(_document()["projection"])


def project(lat: float, lon: float) -> tuple[float, float]:
    """Degrees to the map's SVG coordinates."""
    p = _document()["projection"]
    return (round((lon - p["west"]) * p["cos_lat0"] * p["scale"], 1),
            round((p["north"] - lat) * p["scale"], 1))


def unproject(x: float, y: float) -> tuple[float, float]:
    """The map's SVG coordinates to degrees (latitude, longitude)."""
    p = _document()["projection"]
    return p["north"] - y / p["scale"], p["west"] + x / (p["cos_lat0"] * p["scale"])


@functools.cache
def shapes() -> dict[str, Shape]:
    """A shape for every one of the 38 BPS codes, in the order of `regions.CODES`."""
    provinces = _document()["provinces"]
    found = {}
    for code in regions.CODES:
        entry = provinces[code]
        own = entry.get("shares_outline")
        found[code] = Shape(code, provinces[own or code]["path"], own)
    return found


def drawn() -> list[Shape]:
    """The outlines to draw, once each (a shared outline once, under the code that owns it)."""
    return [s for s in shapes().values() if s.shares_with is None]


def sharing(code: str) -> list[str]:
    """The codes that share `code`'s outline, itself first."""
    return [code, *(c for c, s in shapes().items() if s.shares_with == code)]


_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")


def _points(path: str):
    """The absolute points of a path written as "M x y l dx dy dx dy ... z" rings (make_map_data)."""
    for ring in path.split("M")[1:]:
        start, _l, steps = ring.rstrip("z").partition("l")
        x, y = (float(n) for n in _NUMBER.findall(start))
        yield x, y
        numbers = [float(n) for n in _NUMBER.findall(steps)]
        for dx, dy in zip(numbers[0::2], numbers[1::2], strict=True):
            x, y = x + dx, y + dy
            yield x, y


@functools.cache
def extent(code: str) -> Bounds:
    """The smallest box of latitudes and longitudes around the province's outline (the shared
    outline's, for the provinces that share one)."""
    points = list(_points(shapes()[code].path))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    north, west = unproject(min(xs), min(ys))
    south, east = unproject(max(xs), max(ys))
    return Bounds(south=south, north=north, west=west, east=east)
