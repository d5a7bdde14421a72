"""In a real browser, under the CSP: "Use my position" sends the browser's position to the server
and lists what is nearest; clicking the service point form's map fills in the coordinates."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from accounts.models import User
from amanah.extensions import db
from maps import services
from organizations import services as organizations
from tests.factories import make_user
from tests.factories.browser import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "kata-sandi-uji-coba-yang-panjang"
ORG = dict(type="community", legal_basis="SK Lurah", address="Sleman", npwp="", contact="a@b.id",
           description="Posyandu.")


def _world(app) -> str:
    password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with app.app_context():
        organizer = make_user("penggalang@example.test", "organizer", password_hash=password_hash)
        org = organizations.create_organization(db.session.get(User, organizer.id),
                                                organizations.OrganizationInput(name="Kader Sleman", **ORG))
        for name, lat, lon, province in [("Posyandu Melati", -7.7156, 110.4269, "34"),
                                         ("Puskesmas Sentani", -2.5689, 140.5145, "94")]:
            services.create_point(org, services.ServicePointInput(
                name=name, category="health", address="Jl. Contoh", city="Kota", province=province,
                latitude=str(lat), longitude=str(lon), opening_hours="Setiap hari", contact="0812"))
        db.session.commit()
        return org.slug


def test_use_my_position_lists_the_nearest_first(live_server):
    base = live_server.url
    _world(live_server.app)
    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.context.grant_permissions(["geolocation"], origin=base)
        page.context.set_geolocation({"latitude": -7.78, "longitude": 110.37})
        page.goto(f"{base}/map/nearest")
        button = page.locator("#use-position")
        button.wait_for(state="visible")
        button.click()
        page.wait_for_selector(".near-list")
        assert "lat=-7.78000" in page.url and "lon=110.37000" in page.url
        names = page.locator(".near-list li strong").all_inner_texts()
        assert names[:2] == ["Posyandu Melati", "Puskesmas Sentani"]
        assert errors == [], errors


def test_clicking_the_map_fills_in_the_coordinates(live_server):
    base = live_server.url
    slug = _world(live_server.app)
    with chromium_page() as page:
        page.goto(base + "/account/login")
        page.fill("input[name=email]", "penggalang@example.test")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        page.goto(f"{base}/organizations/{slug}/service-points/new")
        svg = page.locator(".pick-svg")
        svg.wait_for(state="visible")
        svg.scroll_into_view_if_needed()
        box = svg.bounding_box()
        # Yogyakarta is about a third of the way across the map of Indonesia and four fifths down.
        page.mouse.click(box["x"] + box["width"] * 0.334, box["y"] + box["height"] * 0.81)
        lat, lon = float(page.input_value("#latitude")), float(page.input_value("#longitude"))
        assert -8.6 < lat < -6.6 and 109.5 < lon < 111.5, (lat, lon)
