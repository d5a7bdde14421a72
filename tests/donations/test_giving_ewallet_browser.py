"""In a real browser, with Xendit configured (its local fake): a guest gives by e-wallet and lands
on the wallet, on a desktop its web page and on a phone its deeplink. The donate form's
Content-Security-Policy (`form-action 'self'`) blocks a 303 to another origin after a form's
submission, so the payment page sends the browser on itself; this test is what shows it does."""
from __future__ import annotations

import http.server
import threading

import pytest

from tests.factories.browser import chromium_page
from tests.factories.fake_xendit import FakeXendit
from tests.factories.giving import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.slow]
API_KEY, TOKEN = "xnd_development_browser", "cbtoken_browser_1234567890"
PHONE = {"width": 390, "height": 844}
PHONE_AGENT = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


class _Wallet(http.server.BaseHTTPRequestHandler):
    """The wallet's own site, on another origin than the app's."""

    def do_GET(self):
        body = f'<!doctype html><title>wallet</title><h1 id="wallet">{self.path}</h1>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def wallet_and_xendit(live_server):
    wallet = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Wallet)
    thread = threading.Thread(target=wallet.serve_forever, daemon=True)
    thread.start()
    fake = FakeXendit(API_KEY, TOKEN).start()
    fake.wallet_base = f"http://127.0.0.1:{wallet.server_port}"
    live_server.app.config.update(XENDIT_SECRET_KEY=API_KEY, XENDIT_CALLBACK_TOKEN=TOKEN,
                                  XENDIT_API_BASE=fake.url)
    yield fake
    fake.stop()
    wallet.shutdown()
    thread.join(timeout=5)
    wallet.server_close()


def _give_by(page, base: str, public_id: str, method: str) -> None:
    page.goto(f"{base}/campaigns/{public_id}/give")
    page.check("input[name=preset][value=custom]")
    page.fill("#custom_amount", "50.000")
    page.locator(f"input[name=method][value={method}]").check()
    page.get_by_label("Nama Anda").fill("Siti Rahmawati")
    page.get_by_label("E-mail Anda").fill("siti@example.org")
    page.get_by_role("button", name="Lanjutkan").click()
    page.wait_for_selector("[data-total]")
    page.get_by_role("button", name="Bayar").first.click()


@pytest.mark.parametrize(("phone", "link"), [(False, "web"), (True, "deeplink")])
def test_a_guest_giving_by_e_wallet_lands_on_the_wallet(live_server, wallet_and_xendit, phone, link):
    app, base = live_server.app, live_server.url
    with app.app_context():
        public_id = make_campaign().public_id
    with chromium_page("id-ID") as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        if phone:
            page.set_viewport_size(PHONE)
            cdp = page.context.new_cdp_session(page)  # a phone's browser, as the server sees it
            cdp.send("Network.setUserAgentOverride", {"userAgent": PHONE_AGENT})
        _give_by(page, base, public_id, "dana")
        page.wait_for_selector("#wallet")
        (request,) = wallet_and_xendit.payment_requests.values()
        assert page.locator("#wallet").inner_text() == f"/dana/{request['id']}/{link}"
        assert errors == []  # no Content-Security-Policy violation on the way
