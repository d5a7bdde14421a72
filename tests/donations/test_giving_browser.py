"""In a real browser: guests give through the sandbox provider (no Stripe keys) and then find their
donation, by name or as anonymous, with its message, on the campaign page. Every screen on the way
says it is the sandbox."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from donations.models import Donation
from ledger.models import LedgerEntry
from tests.factories.browser import chromium_page
from tests.factories.giving import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _assert_sandbox(page) -> None:
    banner = page.locator(".sandbox-banner")
    assert banner.count() == 1 and "Sandbox" in banner.inner_text(), page.url


def _give(page, campaign_url: str, *, amount: str, name: str, email: str, message: str,
          labels: dict, anonymous: bool = False) -> None:
    page.goto(campaign_url)
    _assert_sandbox(page)
    page.get_by_role("link", name=labels["donate"]).click()
    page.wait_for_load_state()
    _assert_sandbox(page)
    page.check("input[name=preset][value=custom]")
    page.fill("#custom_amount", amount)
    page.get_by_label(labels["message"]).fill(message)
    if anonymous:
        page.get_by_label(labels["anonymous"]).check()
    page.get_by_label(labels["name"]).fill(name)
    page.get_by_label(labels["email"]).fill(email)
    page.get_by_role("button", name=labels["continue"]).click()
    page.wait_for_load_state()
    _assert_sandbox(page)
    assert labels["confirm"] in page.content()
    page.get_by_role("button", name=labels["pay"]).click()  # "Pay Rp 50.000"
    page.wait_for_load_state()
    assert "/give/sandbox/" in page.url
    _assert_sandbox(page)
    page.get_by_role("button", name=labels["sandbox_pay"]).click()
    page.wait_for_load_state()
    assert "/donations/view/" in page.url
    _assert_sandbox(page)
    assert labels["your_donation"] in page.content()


ID_LABELS = {"donate": "Donasi sekarang", "message": "Pesan publik (opsional)",
             "anonymous": "Berdonasi tanpa nama",
             "name": "Nama Anda", "email": "E-mail Anda", "continue": "Lanjutkan",
             "confirm": "Konfirmasi donasi Anda", "pay": "Bayar", "sandbox_pay": "Bayar (sandbox)",
             "your_donation": "Donasi Anda"}
EN_LABELS = {"donate": "Donate now", "message": "Public message (optional)", "anonymous": "Give anonymously",
             "name": "Your name", "email": "Your e-mail", "continue": "Continue",
             "confirm": "Confirm your donation", "pay": "Pay", "sandbox_pay": "Pay (sandbox)",
             "your_donation": "Your donation"}


def test_guest_gives_through_the_sandbox_and_sees_it_on_the_campaign(live_server):
    app, base = live_server.app, live_server.url
    assert not app.config.get("STRIPE_SECRET_KEY")
    with app.app_context():
        public_id = make_campaign().public_id
    campaign_url = f"{base}/campaigns/{public_id}"

    with chromium_page("id-ID") as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        _give(page, campaign_url, amount="50.000", name="Siti Rahmawati", email="siti@example.org",
              message="Semoga air bersih segera mengalir", labels=ID_LABELS)
        page.goto(campaign_url)
        recent = page.locator(".recent-donations")
        assert "Siti Rahmawati" in recent.inner_text()
        assert "Semoga air bersih segera mengalir" in recent.inner_text()
        assert "Rp50.000" in recent.inner_text().replace("\xa0", "").replace(" ", "")
        assert errors == []  # nothing broke the CSP or the page

    with chromium_page("en-US") as page:
        _give(page, campaign_url, amount="25,000", name="Budi Santoso", email="budi@example.org",
              message="For the children", labels=EN_LABELS, anonymous=True)
        page.goto(campaign_url)
        recent = page.locator(".recent-donations").inner_text()
        assert "Anonymous" in recent and "For the children" in recent and "Budi" not in recent

    with app.app_context():
        donations = db.session.execute(sa.select(Donation).order_by(Donation.id)).scalars().all()
        assert [(d.status, d.provider, d.amount, d.anonymous) for d in donations] == [
            ("paid", "sandbox", 5_000_000, False), ("paid", "sandbox", 2_500_000, True)]
        kinds = db.session.execute(sa.select(LedgerEntry.kind).order_by(LedgerEntry.seq)).scalars().all()
        assert kinds.count("donation") == 2
        db.session.remove()
