"""The ledger's wiring: its three blueprints, `flask ledger`, the nav entry and its OpenAPI paths.

One module registers them all, so that none of the blueprint modules (views: the files auditors'
tools fetch; pages: the HTML; api: the JSON API) has to import another to be registered. The app
factory lists this module in amanah.DOMAIN_PACKAGES.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from amanah import nav, openapi
from ledger import api, cli, home, pages, queries, views
from ledger import openapi as ledger_openapi


def init_app(app) -> None:
    app.register_blueprint(views.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.cli.add_command(cli.ledger_cli)
    nav.register_nav(app, "ledger_pages.index", _l("Ledger"), order=20)
    ledger_openapi.register()
    openapi.init_app(app)
    pages.init_jinja(app)
    app.teardown_appcontext(queries.close_reader)
    home.register(app)
