"""The receipt-proof page applies a witness policy in a real browser: the site's witnesses are the
default policy, cosignatures that arrived after the receipt are fetched, and a policy that is not
met or a bad cosignature is refused, with the reason in the page's language."""
from __future__ import annotations

import pytest

from amanah.extensions import db
from documents import receipts
from ledger import cosignature
from tests.factories.browser import axe_violations, chromium_page
from tests.factories.ledger import cosign, fill

pytestmark = [pytest.mark.browser, pytest.mark.slow]

W1 = cosignature.generate_witness_key("witness.test/w1")
W2 = cosignature.generate_witness_key("witness.test/w2")


def reason(page, key: str) -> str:
    """The page's own text for a refusal (data-reason-*), in whatever language it was served."""
    return page.locator("#proof-check").get_attribute(f"data-reason-{key}")


def test_witness_policy_is_checked_in_the_browser(live_server):
    app, base = live_server.app, live_server.url
    # Nothing listens there: the app's background push fails quietly, as with a witness that is down.
    app.config["LEDGER_WITNESSES"] = f"http://127.0.0.1:9 {W1[1]}\nhttp://127.0.0.1:9/w2 {W2[1]}"
    with app.test_request_context():
        fill(6)
        proof = receipts.proof_for(4)  # made before any witness cosigned: the QR's proof has no cosignature
        cosign(proof["size"], W1[0], timestamp=1_780_000_000)
        db.session.remove()
    assert proof["text"].count("\u2014 ") == 1
    url = f"{base}/ledger/receipt-proof#{receipts.proof_fragment(proof['text'])}"
    with chromium_page() as page:
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(url)
        page.locator("#proof-result.ok #proof-witnesses li").wait_for()
        # the site's witnesses are the default policy: at least one of them
        assert page.locator("#witness-keys").input_value() == f"{W1[1]}\n{W2[1]}"
        assert page.locator("#witness-min").input_value() == "1"
        listed = page.locator("#proof-witnesses li").all_inner_texts()
        assert listed == ["witness.test/w1 \u2014 2026-05-28 20:26:40"]
        assert page.locator("#proof-result .proof-reason").inner_text() == page.locator(
            "#proof-check").get_attribute("data-ok-witnesses")
        assert axe_violations(page) == []

        # both required: only one cosigned
        page.fill("#witness-min", "2")
        page.get_by_role("button", name="Periksa dengan kebijakan ini").click()
        page.locator("#proof-result.error").wait_for()
        assert page.locator("#proof-result .proof-reason").inner_text() == (
            reason(page, "too-few-witnesses") + " witness.test/w1")
        assert not page.locator("#proof-witnesses").count()

        # a key that is not a witness key
        page.fill("#witness-keys", W1[1].replace("+", "+0", 1))
        page.fill("#witness-min", "1")
        page.get_by_role("button", name="Periksa dengan kebijakan ini").click()
        page.locator("#proof-result.error .proof-reason").wait_for()
        refused = page.locator("#proof-result .proof-reason").inner_text()
        assert refused.startswith(reason(page, "bad-witness-key"))

        # a cosignature that does not verify is refused, even though the other one holds
        with app.app_context():
            cosign(proof["size"], W2[0], corrupt=True)
            db.session.remove()
        page.goto("about:blank")  # a new load, not a move within the page
        page.goto(url)
        page.locator("#proof-result.error").wait_for()
        assert page.locator("#proof-result .proof-reason").inner_text() == (
            reason(page, "bad-cosignature") + " witness.test/w2")

        # no witness asked for: the log's signature and the inclusion proof alone
        page.fill("#witness-keys", "")
        page.fill("#witness-min", "0")
        page.get_by_role("button", name="Periksa dengan kebijakan ini").click()
        page.locator("#proof-result.ok").wait_for()
        assert page.locator("#proof-result .proof-reason").inner_text() == page.locator(
            "#proof-check").get_attribute("data-ok")
        assert errors == [], errors
