"""In a real browser: an organizer creates and submits a campaign, an admin publishes it, and an
anonymous visitor finds it by searching. No JavaScript of ours is needed, and the CSP holds."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tests.factories import make_user
from tests.factories.browser import chromium_page
from tests.factories.campaigns import future

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "kata-sandi-uji-coba-yang-panjang"
TITLE = "Posyandu Kenanga: timbangan digital untuk balita"


def _sign_in(page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/account/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state()


def test_create_submit_publish_and_find(live_server):
    app, base = live_server.app, live_server.url
    password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with app.app_context():
        make_user("penggalang@example.test", "organizer", name="Siti Penggalang", password_hash=password_hash)
        make_user("admin@example.test", "admin", name="Hendra Admin", password_hash=password_hash)
        make_user("bendahara@example.test", "treasurer", name="Agus Bendahara", password_hash=password_hash)

    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))

        _sign_in(page, base, "penggalang@example.test")
        page.goto(base + "/campaigns/new")
        page.get_by_label("Judul").fill(TITLE)
        page.get_by_label("Cerita").fill("Posyandu Kenanga melayani 70 balita.\n\n"
                                         "Kami butuh **timbangan digital**"
                                         " dan alat ukur tinggi badan yang akurat.")
        page.get_by_label("Target dana").fill("12.500.000")
        page.get_by_label("Tenggat").fill(future(40).isoformat())
        page.get_by_label("Kategori").select_option("health")
        page.get_by_label("Provinsi").select_option("34")
        page.get_by_label("Kota atau kabupaten").fill("Kabupaten Sleman")
        page.get_by_label("Penerima manfaat").fill("70 balita di Dusun Kenanga")
        page.get_by_label("Bendahara").select_option(label="Agus Bendahara")
        page.get_by_role("button", name="Simpan draf").click()
        page.wait_for_load_state()
        # Writing goes on with what the campaign will achieve: its outcome indicators.
        assert page.get_by_role("heading", level=1).inner_text() == "Indikator hasil"
        page.get_by_label("Indikator", exact=True).fill("Balita ditimbang setiap bulan")
        page.get_by_label("Satuan").fill("balita")
        page.get_by_label("Kondisi awal").fill("40")
        page.get_by_label("Target", exact=True).fill("70")
        page.get_by_label("Tanggal target").fill(future(120).isoformat())
        page.get_by_role("button", name="Tambah indikator").click()
        page.wait_for_load_state()
        assert "Indikator ditambahkan." in page.content()
        page.get_by_role("link", name=TITLE).first.click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == TITLE
        assert "Balita ditimbang setiap bulan" in page.content()
        page.get_by_role("button", name="Ajukan untuk ditinjau").click()
        page.wait_for_load_state()
        assert "Sudah diajukan" in page.content()

        _sign_in(page, base, "admin@example.test")
        page.goto(base + "/campaigns/review/")
        page.get_by_role("link", name=TITLE).click()
        page.wait_for_load_state()
        page.get_by_role("button", name="Terbitkan").click()
        page.wait_for_load_state()
        assert "Kampanye sudah diterbitkan." in page.content()

        page.context.clear_cookies()
        page.goto(base + "/campaigns/")
        page.get_by_role("searchbox", name="Cari").fill("posyandu kenanga")
        page.get_by_role("button", name="Tampilkan kampanye").click()
        page.wait_for_load_state()
        assert "q=posyandu+kenanga" in page.url
        page.get_by_role("link", name=TITLE).click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == TITLE
        assert page.locator("progress").count() == 2  # the money raised, and the declared indicator
        assert "40 balita" in page.locator(".outcome").inner_text()
        assert "Rp 12.500.000" in page.content()
        assert errors == [], errors
