"""The map of Indonesia: provinces shaded by what is raised and given there, the places where
organizations serve (service points), and the nearest of them and of open campaigns to a visitor.

Above campaigns, organizations and the ledger: it reads them, none of them knows it."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from amanah.demo import demo_loader
from amanah.home import register_home_section
from amanah.nav import register_nav
from campaigns import regions


def init_app(app) -> None:
    from maps import demo, models, page, views

    assert models.ServicePoint  # part of the metadata that migrations compare
    app.register_blueprint(views.bp)
    register_nav(app, "maps.index", _l("Map"), order=15)
    register_home_section(app, "maps.link", "maps/_home_map.html", context=dict, order=35)
    app.jinja_env.globals.update(km=page.format_km, regions_name=regions.name)
    demo_loader(order=40, name="service points")(demo.load_demo_points)
