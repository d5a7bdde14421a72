"""/data, the dashboard of giving and needs, and the open data behind it as CSV and JSON."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, render_template, request

from amanah.errors import FilterError
from campaigns import categories, page_cache, regions
from opendata import charts, services

bp = Blueprint("opendata", __name__)


def _page(filters, error: FilterError | None = None, status: int = 200):
    # The form's choices as given (a plain dict: a MultiDict raises and catches a KeyError per
    # missing key, and the province list asks 38 times).
    chosen = {name: request.args.get(name, "") for name in ("measure", "category", "province", "from", "to",
                                                             "currency")}
    context = {"error": error, "args": chosen, "currencies": _currencies(),
               "measures": services.MEASURES, "categories": categories.choices(),
               "provinces": sorted(regions.PROVINCES.items(), key=lambda item: item[1]),
               "licence": services.LICENCE}
    if error is None:
        board = services.dashboard(filters)
        short_by_province = services.shortfalls(filters, "province")
        context.update(board=board, filters=filters, charts=charts.dashboard_charts(board),
                       short_by_category=services.shortfalls(filters, "category"),
                       short_by_province=short_by_province,
                       short_chart=charts.shortfall_chart(short_by_province, filters.currency),
                       value=charts.value_formatter(filters.measure, filters.currency),
                       export_args=filters.as_args() | {"measure": None})
    return render_template("opendata/dashboard.html", **context), status


def _currencies() -> list[str]:
    found = services.currencies()
    return found if services.DEFAULT_CURRENCY in found else [services.DEFAULT_CURRENCY, *found]


@bp.get("/data")
@page_cache.shared  # kept for anonymous visitors by address and language, and the site's version
def dashboard():
    try:
        filters = services.parse_filters(request.args)
    except FilterError as exc:
        return _page(None, exc, 400)
    return _page(filters)[0]


def _export_filters():
    return services.parse_filters(request.args, with_measure=False)


def _error(exc: FilterError):
    return jsonify({"error": str(exc.message), "field": exc.field}), 400


@bp.get("/data/aggregates.json")
def aggregates_json():
    try:
        filters = _export_filters()
    except FilterError as exc:
        return _error(exc)
    snapshot = services.open_data_rows(filters)
    body = services.open_data_document(filters, snapshot, request.url_root)
    response = jsonify(body)
    response.headers["Link"] = f'<{services.LICENCE["url"]}>; rel="license"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/data/aggregates.csv")
def aggregates_csv():
    try:
        filters = _export_filters()
    except FilterError as exc:
        return _error(exc)
    snapshot = services.open_data_rows(filters)
    out = io.StringIO()
    for line in services.csv_preamble(filters, snapshot, request.url_root):
        out.write(f"# {line}\r\n")
    writer = csv.writer(out)
    writer.writerow(services.ROW_FIELDS)
    writer.writerows([row[c] for c in services.ROW_FIELDS] for row in snapshot.rows)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'inline; filename="amanah-aggregates.csv"'
    response.headers["Link"] = f'<{services.LICENCE["url"]}>; rel="license"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
