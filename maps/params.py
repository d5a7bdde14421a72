"""The map pages' query parameters: every bad value is a FilterError naming its parameter (400)."""
from __future__ import annotations

import dataclasses

from flask_babel import lazy_gettext as _l

from amanah.errors import FilterError
from campaigns import categories
from maps import figures, geo

PLACE_MAX = 80


@dataclasses.dataclass(frozen=True)
class MapParams:
    measure: str = "raised"
    category: str | None = None
    sort: str = "province"
    order: str = "asc"


def _category(args) -> str | None:
    category = args.get("category") or None
    if category is not None and category not in categories.CODES:
        raise FilterError("category", _l("Unknown category."))
    return category


def parse_map(args) -> MapParams:
    measure = args.get("measure") or "raised"
    if measure not in figures.MEASURES:
        raise FilterError("measure", _l("Use raised, disbursed, active, donations or donors."))
    category = _category(args)
    sort = args.get("sort") or "province"
    if sort not in figures.SORTS:
        raise FilterError("sort", _l("Use province, raised, disbursed, active, donations or donors."))
    order = args.get("order") or ("asc" if sort == "province" else "desc")
    if order not in ("asc", "desc"):
        raise FilterError("order", _l("Use asc or desc."))
    return MapParams(measure=measure, category=category, sort=sort, order=order)


@dataclasses.dataclass(frozen=True)
class NearParams:
    category: str | None = None
    place: str = ""
    lat: float | None = None
    lon: float | None = None

    @property
    def asked(self) -> bool:
        return bool(self.place) or self.lat is not None


def parse_near(args) -> NearParams:
    """A named place (`place`) or a position (`lat` and `lon`, as the browser shares it)."""
    category = _category(args)
    place = " ".join((args.get("place") or "").split())
    if len(place) > PLACE_MAX:
        raise FilterError("place", _l("Name a place in at most %(num)d characters.", num=PLACE_MAX))
    lat, lon = args.get("lat"), args.get("lon")
    if lat in (None, "") and lon in (None, ""):
        return NearParams(category=category, place=place)
    position = geo.parse_position(lat, lon, "lat", "lon")  # UserError naming lat or lon
    return NearParams(category=category, place=place, lat=position[0], lon=position[1])
