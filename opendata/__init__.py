"""Open data: the /data dashboard of giving and needs, and its aggregates as CSV and JSON.

Above campaigns and donations: the aggregates count ledger entries by their campaign's category and
province and by donor, in the transaction of each append (the ledger's append listener)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from amanah import openapi as site_openapi
from amanah.nav import register_nav


def init_app(app) -> None:
    from opendata import aggregates, charts, cli, home, models, openapi, views

    assert models.Aggregate  # part of the metadata that migrations compare
    aggregates.register(app)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.opendata_cli)
    register_nav(app, "opendata.dashboard", _l("Data"), order=30)
    home.register(app)
    openapi.register()
    site_openapi.init_app(app)
    app.jinja_env.globals.update(province_name=charts.province_name, category_label=charts.category_name)
