"""What the map page shows: the provinces shaded by a measure, the service points over them, and
the same figures as a sortable table (the accessible alternative to the picture)."""
from __future__ import annotations

import dataclasses

from babel.numbers import format_decimal

from amanah.i18n import current_locale
from campaigns import categories
from maps import boundaries, figures, services
from maps.models import ServicePoint
from maps.params import MapParams

POINT_RADIUS = 5.0  # SVG units; the map is boundaries.width() (1000) units across


@dataclasses.dataclass(frozen=True)
class Outline:
    code: str
    path: str
    level: int
    members: list[figures.ProvinceFigures]  # the province, then those sharing its outline


@dataclasses.dataclass(frozen=True)
class PlacedPoint:
    point: ServicePoint
    x: float
    y: float


def _sort_key(params: MapParams):
    if params.sort == "province":
        return lambda f: f.name.casefold()
    return lambda f: (f.value(params.sort), f.name.casefold())


def map_context(params: MapParams) -> dict:
    numbers = figures.province_figures(params.category)
    ranges = figures.shades(f.value(params.measure) for f in numbers.values())
    outlines = []
    for shape in boundaries.drawn():
        members = [numbers[c] for c in boundaries.sharing(shape.code)]
        # A shared outline is shaded by what its provinces hold together.
        total = sum(m.value(params.measure) for m in members)
        outlines.append(Outline(shape.code, shape.path, figures.level_of(total, ranges), members))
    rows = sorted(numbers.values(), key=_sort_key(params), reverse=params.order == "desc")
    points = [PlacedPoint(p, *boundaries.project(p.latitude, p.longitude))
              for p in services.map_points(params.category)]
    return {
        "params": params, "outlines": outlines, "rows": rows, "ranges": ranges, "points": points,
        "width": boundaries.width(), "height": boundaries.height(), "point_radius": POINT_RADIUS,
        "measures": [(k, str(v)) for k, v in figures.MEASURES.items()],
        "categories": categories.choices(), "map_currency": figures.MAP_CURRENCY,
        "shared": {code: boundaries.sharing(code)[1:] for code in ("64", "91", "94")},
        "public_campaigns": services.public_campaigns,
    }


def format_km(km: float) -> str:
    """'850 m', '3.4 km', '120 km' with the current language's decimal sign ('3,4 km' in Indonesian)."""
    if km < 1:
        return f"{format_decimal(round(km * 1000, -1), locale=current_locale())} m"
    return f"{format_decimal(round(km, 1) if km < 10 else round(km), locale=current_locale())} km"
