"""In a real browser on a 390 px wide phone: a guest gives by QRIS through the sandbox (no Xendit
keys), sees the method labelled as the sandbox's, its QR code and the amount, pays, and the
donation is recorded with its method."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from donations.models import Donation
from tests.factories.browser import chromium_page
from tests.factories.giving import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}


def test_a_guest_gives_by_qris_through_the_sandbox_on_a_phone(live_server):
    app, base = live_server.app, live_server.url
    assert not app.config.get("XENDIT_SECRET_KEY")
    with app.app_context():
        public_id = make_campaign().public_id

    with chromium_page("id-ID") as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/campaigns/{public_id}/give")
        page.check("input[name=preset][value=custom]")
        page.fill("#custom_amount", "50.000")
        qris = page.locator("input[name=method][value=qris]")
        label = page.locator("label", has=qris).inner_text()
        assert "QRIS" in label and "sandbox" in label  # plain text, and says it is the sandbox's
        qris.check()
        page.get_by_label("Nama Anda").fill("Siti Rahmawati")
        page.get_by_label("E-mail Anda").fill("siti@example.org")
        page.get_by_role("button", name="Lanjutkan").click()
        page.wait_for_selector("[data-total]")
        assert "QRIS" in page.locator(".give-summary").inner_text()
        page.get_by_role("button", name="Bayar").first.click()
        page.wait_for_selector("#qris-code svg")
        page.wait_for_load_state("load")  # sizes are measured once the stylesheets apply
        assert "/give/sandbox/" in page.url
        code = page.locator("#qris-code svg").bounding_box()
        assert code is not None and code["x"] >= 0 and code["x"] + code["width"] <= PHONE["width"]
        assert code["width"] >= 150  # big enough to scan from another phone
        assert "Rp50.000" in page.locator("main").inner_text().replace("\xa0", "").replace(" ", "")
        page.get_by_role("button", name="Bayar (sandbox)").click()
        page.wait_for_url("**/donations/view/**")
        assert errors == []  # nothing broke the CSP or the page

    with app.app_context():
        donation = db.session.execute(sa.select(Donation)).scalars().one()
        assert (donation.status, donation.provider, donation.payment_method) == ("paid", "sandbox", "qris")
        db.session.remove()
