"""The home page's link to the open data (amanah.home): the same for every visitor."""
from __future__ import annotations

from amanah.home import register_home_section


def register(app) -> None:
    register_home_section(app, "opendata.link", "opendata/_home.html", context=dict, order=50)
