"""The receipt-proof page checks a QR code's proof with its static JavaScript, in a real browser."""
from __future__ import annotations

import re

import pytest

from amanah.extensions import db
from documents import receipts
from donations.models import Donation
from tests.factories.browser import chromium_page
from tests.factories.documents import make_campaign, paid_donation

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _proof_text(app) -> tuple[str, int]:
    with app.test_request_context():
        campaign = make_campaign()
        paid_donation(app, campaign)
        donation_id = paid_donation(app, campaign)
        seq = db.session.get(Donation, donation_id).ledger_seq
        text = receipts.proof_for(seq)["text"]
        db.session.commit()
        db.session.remove()
    return text, seq


def test_proof_page_verifies_a_receipt_proof_and_refuses_a_forged_one(live_server):
    text, seq = _proof_text(live_server.app)
    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(f"{live_server.url}/ledger/receipt-proof#{receipts.proof_fragment(text)}")
        result = page.locator("#proof-result")
        result.wait_for()
        # Selectors, not wait_for_function: a string predicate is eval'd in the page, which our CSP
        # forbids (it only passed when the first check already found the result).
        page.locator("#proof-result.notice").wait_for()
        assert "ok" in result.get_attribute("class"), result.inner_text()
        assert page.locator("#proof-result .proof-verdict").inner_text() == "Terverifikasi"
        assert page.locator("#proof-result .proof-icon").inner_text() == "\u2714"
        # the verified entry's amount, campaign (linked to its page) and time, in the page's language
        page.locator("#proof-entry[data-loaded]").wait_for()
        details = page.locator("#proof-entry").inner_text()
        assert "Rp 1.500.000" in details, details
        assert re.search(r"\d{1,2} \w+ 20\d\d, \d\d\.\d\d WIB", details), details
        campaign_link = page.locator("#proof-entry a")
        assert campaign_link.inner_text() == "Air bersih untuk desa"
        assert campaign_link.get_attribute("href").startswith("/campaigns/")
        assert page.locator("#proof-text").input_value() == text
        assert page.locator("#proof-entry-link").get_attribute("href") == f"/ledger/entries/{seq}"
        lines = text.split("\n")
        # one proof hash changed
        lines[3] = lines[3][:10] + ("A" if lines[3][10] != "A" else "B") + lines[3][11:]
        page.goto(f"{live_server.url}/ledger/receipt-proof#{receipts.proof_fragment(chr(10).join(lines))}")
        page.locator("#proof-result.error").wait_for()
        assert page.locator("#proof-result .proof-verdict").inner_text() == "TIDAK terverifikasi"
        assert page.locator("#proof-result .proof-icon").inner_text() == "\u2716"
        # the reason in the page's language, not the script's English
        assert page.locator("#proof-result .proof-reason").inner_text().startswith("Bukti inklusi tidak")
        assert errors == [], errors


def test_proof_page_fetches_the_proof_a_short_qr_link_names(live_server):
    import base64

    from ledger import tree
    text, seq = _proof_text(live_server.app)
    leaf_hash = base64.b64decode(text.split("\n")[1].removeprefix("extra "))
    with live_server.app.test_request_context():
        link = receipts.proof_link(seq, leaf_hash)
    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(live_server.url + "/ledger/receipt-proof#" + link.split("#", 1)[1])
        page.locator("#proof-result.notice").wait_for()
        assert "ok" in page.locator("#proof-result").get_attribute("class")
        page.locator("#proof-entry[data-loaded]").wait_for()
        assert "Rp 1.500.000" in page.locator("#proof-entry").inner_text()
        assert page.locator("#proof-text").input_value().startswith("c2sp.org/tlog-proof@v1\nindex ")
        # Another entry's hash under this entry's number: refused, with the reason.
        other = base64.urlsafe_b64encode(tree.leaf_hash(b"not this entry")).decode().rstrip("=")
        page.goto(f"{live_server.url}/ledger/receipt-proof#{seq}-{other}")
        page.locator("#proof-result.error").wait_for()
        assert page.locator("#proof-result .proof-verdict").inner_text() == "TIDAK terverifikasi"
        # An entry that does not exist.
        page.goto(f"{live_server.url}/ledger/receipt-proof#{seq + 1000}-{other}")
        page.locator("#proof-result.error").wait_for()
        assert page.locator("#proof-result .proof-reason").inner_text().startswith("Bukti entri ini")
        assert errors == [] or all("404" in e for e in errors), errors


def test_treasurer_follows_a_bulk_download_to_the_zip(live_server):
    from argon2 import PasswordHasher

    from accounts.models import Role
    from tests.factories import make_user
    app, base = live_server.app, live_server.url
    password = "kata-sandi-uji-coba-yang-panjang"
    password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)
    with app.test_request_context():
        treasurer = make_user("bendahara@example.test", Role.TREASURER, password_hash=password_hash)
        campaign = make_campaign(treasurer=treasurer)
        for _ in range(3):
            paid_donation(app, campaign)
        public_id = campaign.public_id
        db.session.remove()
    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(base + "/account/login")
        page.fill("input[name=email]", "bendahara@example.test")
        page.fill("input[name=password]", password)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        page.goto(f"{base}/campaigns/{public_id}")
        page.get_by_role("link", name="Unduh semua kuitansi (ZIP)").click()
        page.get_by_role("button", name="Siapkan berkas ZIP").click()
        page.wait_for_load_state()
        assert "/documents/jobs/" in page.url
        download_link = page.get_by_role("link", name="Unduh berkas ZIP")
        download_link.wait_for(state="visible")
        assert page.locator("#job-state").inner_text().strip() == "Siap."
        assert page.locator("#job-progress").evaluate("p => p.value === p.max")
        with page.expect_download() as download:
            download_link.click()
        assert download.value.suggested_filename.startswith("receipts-")
        assert errors == [], errors
