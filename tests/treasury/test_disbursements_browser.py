"""In a real browser: a treasurer records a disbursement with an invoice from the campaign page, the
page lists it, and a visitor follows it to the ledger entry and opens the evidence. No JavaScript."""
from __future__ import annotations

import hashlib

import pytest
from argon2 import PasswordHasher

from amanah.extensions import db
from campaigns.services import today_wib
from tests.factories.browser import chromium_page
from tests.factories.treasury import fund, make_campaign, picture

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "kata-sandi-uji-coba-yang-panjang"


@pytest.mark.files
def test_treasurer_records_and_a_visitor_checks_the_evidence(live_server, tmp_path):
    app, base = live_server.app, live_server.url
    password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    invoice = tmp_path / "nota-toko.png"
    invoice.write_bytes(picture(42))
    with app.app_context():
        campaign = make_campaign()
        fund(campaign, 2_000_000 * 100)
        treasurer = campaign.treasurer
        treasurer.email, treasurer.password_hash = "bendahara@example.test", password_hash
        db.session.commit()
        path = f"/campaigns/{campaign.public_id}/{campaign.slug}"

    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(base + "/account/login")
        page.fill("input[name=email]", "bendahara@example.test")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()

        page.goto(base + path)
        page.get_by_role("link", name="Catat penyaluran dana").click()
        page.wait_for_load_state()
        assert "Saldo tersedia: Rp 2.000.000" in page.content()
        page.get_by_label("Jumlah yang dibayarkan").fill("2.500.000")
        page.get_by_label("Tanggal dibayar").fill(today_wib().isoformat())
        page.get_by_label("Penerima pembayaran").fill("Toko Bangunan Sinar Jaya")
        page.get_by_label("Tujuan").fill("Pipa PVC untuk jaringan air bersih")
        page.get_by_label("Kategori pengeluaran").select_option("goods")
        page.get_by_label("Bukti", exact=True).set_input_files(str(invoice))
        page.get_by_role("button", name="Catat penyaluran dana ini").click()
        page.wait_for_load_state()
        assert "melebihi saldo tersedia kampanye sebesar Rp 2.000.000" in page.content()  # over balance

        page.get_by_label("Jumlah yang dibayarkan").fill("1.250.000")
        page.get_by_label("Bukti", exact=True).set_input_files(str(invoice))  # files are never kept
        page.get_by_role("button", name="Catat penyaluran dana ini").click()
        page.wait_for_load_state()
        assert "/campaigns/" in page.url and "#disbursements" in page.url
        assert "Toko Bangunan Sinar Jaya" in page.content() and "Rp 1.250.000" in page.content()

        page.context.clear_cookies()
        page.goto(base + path)
        page.locator("#disbursements").get_by_role("link", name="Entri buku besar").click()
        page.wait_for_load_state()
        assert "Pipa PVC untuk jaringan air bersih" in page.content()
        link = page.get_by_role("link", name="Buka dokumen bukti")
        href = link.get_attribute("href")
        response = page.request.get(base + href)
        assert response.status == 200 and response.headers["content-type"] == "image/png"
        assert hashlib.sha256(response.body()).hexdigest() == href.rsplit("/", 1)[1]
        # The refused first attempt is a 422 page on purpose; nothing else may fail (e.g. the CSP).
        assert [e for e in errors if "422" not in e] == [], errors
