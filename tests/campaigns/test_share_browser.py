"""In a real browser: the copy button appears (our own script, under the CSP), copies the campaign's
address and says so; the home page and a campaign page fit a 390 px phone."""
from __future__ import annotations

import pytest

from tests.factories.browser import chromium_page, horizontal_overflow
from tests.factories.campaigns import image_bytes, make_campaign, make_people

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_copy_link_button_copies_the_address(live_server):
    app, base = live_server.app, live_server.url
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"],
                              cover=image_bytes("PNG", (800, 500)))
    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page.goto(f"{base}/campaigns/{public_id}")
        button = page.get_by_role("button", name="Salin tautan")
        button.wait_for(state="visible")
        button.click()
        page.wait_for_selector(".copy-status:has-text('Tautan sudah disalin.')")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.locator("link[rel=canonical]").get_attribute("href")
        assert copied.endswith(f"/campaigns/{public_id}/posyandu-melati-untuk-balita-dusun-krapyak")
        assert errors == [], errors


def test_home_and_campaign_page_fit_a_phone(live_server):
    app, base = live_server.app, live_server.url
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"],
                              cover=image_bytes("PNG", (800, 500)))
    with chromium_page() as page:
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base + "/")
        page.wait_for_selector(".home-featured .home-card")
        assert horizontal_overflow(page) == 0
        page.goto(f"{base}/campaigns/{public_id}")
        page.wait_for_selector(".share-box")
        assert page.locator(".share-links a").count() == 4
        widest = page.evaluate("Math.max(...[...document.querySelectorAll('.share-box *')]"
                               ".map(e => e.getBoundingClientRect().right))")
        assert widest <= 390
