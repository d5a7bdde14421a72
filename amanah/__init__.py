"""Amanah's wiring: the app factory, with the configuration and extensions every package may import.

Packages plug in through their init_app(app), listed in DOMAIN_PACKAGES; nothing here imports a
package's views."""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from amanah import (
    demo,
    errors,
    file_claims,  # noqa: F401  (its table is part of the schema)
    home,
    i18n,
    nav,
    security,
    transactions,
    views,
)
from amanah.config import ROOT, instance_folder, load_config
from amanah.db import ping_when_idle
from amanah.extensions import babel, csrf, db, limiter, login_manager, migrate
from amanah.storage.cli import storage_command

# Domain packages that contribute blueprints, CLI commands, demo data or template helpers.
# Each may expose init_app(app); listed here so the wiring never imports a package's views itself.
DOMAIN_PACKAGES: tuple[str, ...] = (
    "accounts", "organizations", "donations", "documents", "treasury", "ledger.blueprints", "campaigns",
    "reports", "opendata", "maps",
)

# Libraries whose INFO lines describe their own progress, not the app's: WeasyPrint logs seven
# steps per PDF rendered, fontTools each font it subsets. Their warnings and errors still show.
QUIET_LOGGERS = ("weasyprint.progress", "fontTools")


def create_app(test_config: dict | None = None) -> Flask:
    """The app, configured from the environment; a bad or missing setting raises ConfigError
    (naming the variable) before anything else is set up."""
    instance_path = instance_folder()
    if test_config and "INSTANCE_PATH" in test_config:
        instance_path = Path(test_config["INSTANCE_PATH"])
    app = Flask("amanah", root_path=str(ROOT), instance_path=str(instance_path),
                template_folder="templates", static_folder="static")
    instance_path.mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(instance_path, test_config))
    logging.basicConfig(level=logging.INFO if app.config["AMANAH_ENV"] != "testing" else logging.WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

    if app.config["PROXY_HOPS"]:
        # Behind N reverse proxies the client's address, scheme and host arrive in X-Forwarded-*;
        # without this every visitor would share the proxy's address (and its rate limits).
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    _enable_sqlite_pragmas(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_when_idle(engine, app.config["DATABASE_PING_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    limiter.init_app(app)
    i18n.init_app(app)
    nav.init_app(app)
    home.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    transactions.init_app(app)

    app.register_blueprint(views.bp)
    app.cli.add_command(demo.demo_command)
    app.cli.add_command(storage_command)
    for name in DOMAIN_PACKAGES:
        module = importlib.import_module(name)
        module.init_app(app)
    return app


def _enable_sqlite_pragmas(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    connect_args = options.setdefault("connect_args", {})
    connect_args.setdefault("timeout", 30)
    # Let SQLAlchemy, not pysqlite, emit BEGIN, so savepoints work and we choose the BEGIN kind.
    connect_args["isolation_level"] = None
