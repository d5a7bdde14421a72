"""Giving through Xendit: xendit-python against the local fake of Xendit's API.

Callbacks carry the x-callback-token as Xendit sends them; the app must re-fetch the payment
request (or refund) from the fake before it books anything.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import io
import json
import re

import markupsafe
import pytest
import sqlalchemy as sa

from amanah import i18n
from amanah.extensions import db
from documents import receipts
from donations import fees, giving, methods, xendit_fees
from donations.dashboard import anomaly_kind_label
from donations.forms import method_label
from donations.gateway import CheckoutRequest, GatewayError
from donations.issuing import issuer
from donations.models import Donation, PaymentAnomaly, PaymentEvent, Refund
from donations.providers import gateway_named, get_gateway
from donations.xendit_fees import fee_estimate
from donations.xendit_gateway import (
    AmountNotWholeRupiah,
    XenditGateway,
    from_xendit_amount,
    to_xendit_amount,
)
from tests.factories import login, make_user
from tests.factories.fake_xendit import FakeXendit
from tests.factories.giving import entries, make_campaign
from tests.factories.treasury import pdf
from treasury import donor_refunds

API_KEY = "xnd_development_amanah"
TOKEN = "cbtoken_amanah_1234567890"


@pytest.fixture
def fake_xendit():
    fake = FakeXendit(API_KEY, TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def xendit_app(app, fake_xendit):
    app.config.update(XENDIT_SECRET_KEY=API_KEY, XENDIT_CALLBACK_TOKEN=TOKEN, XENDIT_API_BASE=fake_xendit.url)
    return app


def start(app, method: str = "qris", amount: int = 5_000_000, cover_fee: bool = False,
          mobile_number: str | None = None) -> tuple[int, str]:
    """(donation id, payment request id) of a pending donation by `method`."""
    with app.test_request_context():
        campaign = make_campaign()
        donation = giving.start_donation(campaign, amount=amount, donor_name="Siti",
                                         donor_email="siti@example.test", cover_fee=cover_fee, method=method)
        db.session.commit()
        checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel",
                                         mobile_number=mobile_number)
        db.session.commit()
        return donation.id, checkout.id


def deliver(client, fake, body: dict, token: str | None = "", webhook_id: str | None = None):
    data, headers = fake.callback(body, token, webhook_id)
    return client.post("/webhooks/xendit", data=data, headers=headers)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ---- amounts at the boundary ----

@pytest.mark.parametrize(("minor", "rupiah"),
                         [(100, 1), (5_000_000, 50_000), (1_000_000_000_000, 10_000_000_000)])
def test_amounts_convert_both_ways(minor, rupiah):
    assert to_xendit_amount(minor) == rupiah
    assert from_xendit_amount(rupiah) == minor
    assert from_xendit_amount(float(rupiah)) == minor


@pytest.mark.parametrize("minor", [1, 150, 5_000_050, True])
def test_an_amount_that_is_not_whole_rupiah_is_refused_not_rounded(minor):
    with pytest.raises(AmountNotWholeRupiah, match="whole rupiah"):
        to_xendit_amount(minor)


@pytest.mark.parametrize("reported", [50_000.5, -1, "50000", None, True])
def test_a_reported_amount_that_is_not_whole_rupiah_is_refused(reported):
    with pytest.raises(AmountNotWholeRupiah):
        from_xendit_amount(reported)


def test_only_rupiah_goes_to_xendit():
    with pytest.raises(GatewayError, match="USD"):
        to_xendit_amount(10_000, "USD")


# ---- choosing the provider ----

def test_local_methods_go_to_xendit_and_cards_elsewhere(xendit_app):
    with xendit_app.test_request_context():
        assert isinstance(get_gateway("qris"), XenditGateway)
        assert isinstance(get_gateway("va_bca"), XenditGateway)
        assert get_gateway("card").name == "sandbox"  # no Stripe key in this test
        assert gateway_named("xendit").name == "xendit"


def test_without_xendit_keys_local_methods_come_from_the_sandbox(app):
    with app.test_request_context():
        assert get_gateway("qris").name == "sandbox"
        with pytest.raises(GatewayError, match="not configured"):
            gateway_named("xendit")


# ---- checkout ----

def test_qris_checkout_is_a_payment_request_with_reference_and_idempotency_key(xendit_app, fake_xendit):
    donation_id, request_id = start(xendit_app, "qris")
    (call,) = fake_xendit.calls("POST", "/payment_requests")
    body = json.loads(call["body"])
    with xendit_app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert (donation.provider, donation.payment_method) == ("xendit", "qris")
        assert donation.checkout_id == request_id
        assert call["idempotency_key"] == f"amanah-checkout-{donation_id}-{donation.donor_secret[:16]}"
    assert body["reference_id"] == f"amanah-donation-{donation_id}"
    assert body["amount"] == 50_000 and body["currency"] == "IDR"  # whole rupiah, not hundredths
    assert body["payment_method"]["type"] == "QR_CODE"
    assert body["payment_method"]["qr_code"]["channel_code"] == "QRIS"
    assert body["metadata"] == {"donation_id": str(donation_id), "method": "qris"}


def test_the_same_idempotency_key_replays_the_first_payment_request(xendit_app, fake_xendit):
    request = CheckoutRequest(
        donation_id=7, amount=5_000_000, currency="IDR", product_name="Air", customer_email="a@example.org",
        success_url="http://localhost/ok", cancel_url="http://localhost/cancel",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), idempotency_key="amanah-checkout-7-x",
        locale="id", method="qris")
    with xendit_app.test_request_context():
        first = get_gateway("qris").create_checkout(request)
        assert get_gateway("qris").create_checkout(request) == first
        assert len(fake_xendit.payment_requests) == 1
        with pytest.raises(GatewayError, match="IDEMPOTENCY"):
            get_gateway("qris").create_checkout(dataclasses.replace(request, amount=6_000_000))


@pytest.mark.parametrize("method", ["va_bca", "va_bni", "va_bri", "va_mandiri", "va_permata"])
def test_virtual_account_checkout_names_the_bank_and_the_organization(xendit_app, fake_xendit, method):
    start(xendit_app, method)
    body = json.loads(fake_xendit.calls("POST", "/payment_requests")[0]["body"])
    va = body["payment_method"]["virtual_account"]
    assert va["channel_code"] == methods.BY_CODE[method].channel
    assert va["channel_properties"]["customer_name"] == xendit_app.config["ORG_NAME"]


@pytest.mark.parametrize("method", ["dana", "shopeepay", "linkaja", "ovo"])
def test_ewallet_checkout(xendit_app, fake_xendit, method):
    start(xendit_app, method, mobile_number="+6281234567890" if method == "ovo" else None)
    body = json.loads(fake_xendit.calls("POST", "/payment_requests")[0]["body"])
    wallet = body["payment_method"]["ewallet"]
    assert wallet["channel_code"] == methods.BY_CODE[method].channel
    if method == "ovo":
        assert wallet["channel_properties"] == {"mobile_number": "+6281234567890"}
    else:
        assert wallet["channel_properties"]["success_return_url"] == "http://localhost/ok"


def test_a_wrong_api_key_is_a_gateway_error(xendit_app, fake_xendit):
    xendit_app.config["XENDIT_SECRET_KEY"] = "xnd_development_wrong"
    with pytest.raises(GatewayError, match="INVALID_API_KEY"):
        start(xendit_app, "qris")


def test_an_unreachable_xendit_is_an_unknown_outcome(xendit_app, fake_xendit):
    fake_xendit.fail_next = 1
    with pytest.raises(GatewayError) as caught:
        start(xendit_app, "qris")
    assert caught.value.outcome_unknown


# ---- callbacks ----

def test_paid_qris_confirms_the_donation_with_the_provider_and_method_in_the_ledger(xendit_app, client,
                                                                                     fake_xendit):
    donation_id, request_id = start(xendit_app, "qris")
    response = deliver(client, fake_xendit, fake_xendit.pay(request_id))
    assert response.status_code == 200 and response.json == {"status": "paid"}
    with xendit_app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation.status == "paid" and donation.payment_intent == request_id
        (entry,) = entries("donation")
        assert entry.amount == 5_000_000 and entry.currency == "IDR"
        leaf = json.loads(entry.leaf)
        assert leaf["memo"] == "Xendit QRIS" and leaf["payment"] == request_id
        (fee,) = entries("fee")
        # the fake books 0.7% + 11% VAT: Rp 350 + Rp 39
        assert fee.amount == -(350 + 39) * 100 and json.loads(fee.leaf)["memo"] == "Xendit fee"
        assert donation.processor_fee == 38_900
    with xendit_app.test_request_context():
        receipt = receipts.receipt_of(donation_id)  # issued in the same transaction
        assert receipt.content["payment_method"] == "xendit" and receipt.content["payment_channel"] == "qris"
    with xendit_app.test_request_context(headers={"Accept-Language": "en"}):
        assert receipts.view_of(receipts.receipt_of(donation_id))["payment_method_text"] == "QRIS (Xendit)"


@pytest.mark.parametrize("method", [m.code for m in methods.METHODS if m.local])
def test_every_local_method_paid_confirms_with_its_channel_in_the_ledger(xendit_app, client, fake_xendit,
                                                                         method):
    donation_id, request_id = start(xendit_app, method, mobile_number="+6281234567890")
    assert deliver(client, fake_xendit, fake_xendit.pay(request_id)).json == {"status": "paid"}
    with xendit_app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert (donation.status, donation.provider, donation.payment_method) == ("paid", "xendit", method)
        (entry,) = entries("donation")
        assert json.loads(entry.leaf)["memo"] == f"Xendit {methods.BY_CODE[method].channel}"
        assert [d.kind for d in issuer().documents_of(donation_id)] == ["receipt"]


def test_without_xendit_s_transaction_the_fee_is_an_estimate_from_the_price_list(xendit_app, client,
                                                                               fake_xendit):
    fake_xendit.book_fees = False
    _, request_id = start(xendit_app, "va_bca")
    assert deliver(client, fake_xendit, fake_xendit.pay(request_id)).json == {"status": "paid"}
    with xendit_app.app_context():
        (fee,) = entries("fee")
        expected = fee_estimate(methods.BY_CODE["va_bca"], 5_000_000)
        assert expected == 444_000  # Rp 4.000 + 11% VAT
        assert fee.amount == -expected
        assert json.loads(fee.leaf)["memo"] == "Xendit fee, estimate from its price list"


def test_a_callback_is_re_fetched_before_it_is_trusted(xendit_app, client, fake_xendit):
    """A callback claiming payment of a request Xendit still has open books nothing."""
    donation_id, request_id = start(xendit_app, "qris")
    forged = fake_xendit.pay(request_id)
    fake_xendit.payment_requests[request_id]["status"] = "PENDING"  # Xendit's own record says unpaid
    assert deliver(client, fake_xendit, forged).json == {"status": "unchanged"}
    assert fake_xendit.calls("GET", f"/payment_requests/{request_id}")
    with xendit_app.app_context():
        assert db.session.get(Donation, donation_id).status == "pending"
        assert entries() == []


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN[:-1], TOKEN + "x", ""])
def test_a_wrong_or_missing_token_is_refused_and_writes_nothing(xendit_app, client, fake_xendit, token):
    donation_id, request_id = start(xendit_app, "qris")
    body = fake_xendit.pay(request_id)
    data, headers = fake_xendit.callback(body, token=None)
    if token is not None:
        headers["x-callback-token"] = token
    before = len(fake_xendit.requests)
    response = client.post("/webhooks/xendit", data=data, headers=headers)
    assert response.status_code == 401
    assert len(fake_xendit.requests) == before  # nothing asked of Xendit either
    with xendit_app.app_context():
        assert db.session.get(Donation, donation_id).status == "pending"
        assert count(PaymentEvent) == 0 and entries() == []


def test_the_token_is_compared_in_constant_time(xendit_app, client, fake_xendit, monkeypatch):
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    _, request_id = start(xendit_app, "qris")
    assert deliver(client, fake_xendit, fake_xendit.pay(request_id)).status_code == 200
    assert compared == [(TOKEN.encode(), TOKEN.encode())]


def test_without_a_configured_token_every_callback_is_refused(xendit_app, client, fake_xendit):
    xendit_app.config["XENDIT_CALLBACK_TOKEN"] = None
    _, request_id = start(xendit_app, "qris")
    assert deliver(client, fake_xendit, fake_xendit.pay(request_id)).status_code == 401


def test_a_duplicate_notification_changes_nothing(xendit_app, client, fake_xendit):
    _, request_id = start(xendit_app, "qris")
    body = fake_xendit.pay(request_id)
    assert deliver(client, fake_xendit, body, webhook_id="whk_1").json == {"status": "paid"}
    assert deliver(client, fake_xendit, body, webhook_id="whk_1").json == {"status": "duplicate"}
    # the same payment under another notification id is still booked once
    assert deliver(client, fake_xendit, body, webhook_id="whk_2").json == {"status": "unchanged"}
    with xendit_app.app_context():
        assert len(entries("donation")) == 1 and count(PaymentEvent) == 2


def test_events_out_of_order_are_harmless(xendit_app, client, fake_xendit):
    """A late 'failed' after the payment succeeded, and an 'expired' after it, change nothing."""
    donation_id, request_id = start(xendit_app, "qris")
    paid = fake_xendit.pay(request_id)
    stale_failure = {**paid, "event": "payment.failed", "data": {**paid["data"], "status": "FAILED"}}
    assert deliver(client, fake_xendit, stale_failure).json == {"status": "paid"}  # re-fetched: it is paid
    assert deliver(client, fake_xendit, paid).json == {"status": "unchanged"}
    expired = {**paid, "event": "payment.expired"}
    assert deliver(client, fake_xendit, expired).json == {"status": "unchanged"}
    with xendit_app.app_context():
        assert db.session.get(Donation, donation_id).status == "paid"
        assert len(entries("donation")) == 1


@pytest.mark.parametrize("method", ["qris", "va_mandiri"])
def test_an_expired_payment_expires_the_donation(xendit_app, client, fake_xendit, method):
    donation_id, request_id = start(xendit_app, method)
    assert deliver(client, fake_xendit, fake_xendit.expire(request_id)).json == {"status": "expired"}
    with xendit_app.app_context():
        assert db.session.get(Donation, donation_id).status == "expired"
        assert entries() == []


def test_a_failed_ewallet_payment_fails_the_donation(xendit_app, client, fake_xendit):
    donation_id, request_id = start(xendit_app, "dana")
    assert deliver(client, fake_xendit, fake_xendit.fail(request_id)).json == {"status": "failed"}
    with xendit_app.app_context():
        assert db.session.get(Donation, donation_id).status == "failed"


@pytest.mark.parametrize("paid", [30_000, 75_000])
def test_a_virtual_account_paid_short_or_over_is_held_for_the_treasurer(xendit_app, client, fake_xendit,
                                                                         paid):
    donation_id, request_id = start(xendit_app, "va_bri")
    callback = fake_xendit.pay(request_id, amount=paid)
    assert deliver(client, fake_xendit, callback).json == {"status": "flagged"}
    with xendit_app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation.status == "flagged"
        assert f"provider reports {paid * 100} IDR, expected 5000000 IDR" in donation.flag_reason
        assert entries() == []  # never counted as the intended gift
        (anomaly,) = db.session.scalars(sa.select(PaymentAnomaly)).all()
        assert (anomaly.kind, anomaly.amount, anomaly.donation_id) == ("amount", paid * 100, donation_id)
        assert anomaly.provider == "xendit" and anomaly.provider_object == request_id


def test_a_payment_that_is_not_ours_is_acknowledged_and_logged_once(xendit_app, client, fake_xendit, caplog):
    with xendit_app.test_request_context():
        foreign = fake_xendit.create_payment_request({
            "reference_id": "another-shop-42", "amount": 10_000, "currency": "IDR",
            "payment_method": {"type": "QR_CODE", "reusability": "ONE_TIME_USE",
                               "qr_code": {"channel_code": "QRIS"}}})
    body = fake_xendit.pay(foreign["id"])
    assert deliver(client, fake_xendit, body, webhook_id="whk_x").json == {"status": "unknown"}
    assert deliver(client, fake_xendit, body, webhook_id="whk_x").json == {"status": "duplicate"}
    assert sum("matches no donation" in r.getMessage() for r in caplog.records) == 1
    with xendit_app.app_context():
        assert entries() == []


def test_a_malformed_callback_is_refused(xendit_app, client, fake_xendit):
    headers = {"x-callback-token": TOKEN, "Content-Type": "application/json"}
    assert client.post("/webhooks/xendit", data=b"{not json", headers=headers).status_code == 400
    assert client.post("/webhooks/xendit", data=b"[]", headers=headers).status_code == 400
    no_id = json.dumps({"event": "payment.succeeded", "data": {"amount": 1}}).encode()
    assert client.post("/webhooks/xendit", data=no_id, headers=headers).status_code == 400
    other = json.dumps({"event": "capture.succeeded", "data": {"id": "x"}}).encode()
    assert client.post("/webhooks/xendit", data=other, headers=headers).json == {"status": "ignored"}


def test_xendit_down_during_a_callback_asks_for_a_retry(xendit_app, client, fake_xendit):
    _, request_id = start(xendit_app, "qris")
    body = fake_xendit.pay(request_id)
    fake_xendit.fail_next = 1
    assert deliver(client, fake_xendit, body, webhook_id="whk_r").status_code == 503
    assert deliver(client, fake_xendit, body, webhook_id="whk_r").json == {"status": "paid"}


# ---- refunds ----

def paid(app, client, fake, method="qris") -> tuple[int, str]:
    donation_id, request_id = start(app, method)
    assert deliver(client, fake, fake.pay(request_id)).json == {"status": "paid"}
    return donation_id, request_id


@pytest.mark.parametrize("method", ["qris", "ovo", "dana", "shopeepay", "linkaja"])
def test_a_qris_refund_goes_through_xendit_and_is_booked_on_its_callback(xendit_app, client, fake_xendit,
                                                                         method):
    fake_xendit.refund_status = "PENDING"
    donation_id, request_id = paid(xendit_app, client, fake_xendit, method)
    with xendit_app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        treasurer = donation.campaign.treasurer
        refund = giving.request_refund(donation, treasurer, 2_000_000, "Donatur minta")
        db.session.commit()
        refund_id = refund.provider_id
    (call,) = fake_xendit.calls("POST", "/refunds")
    body = json.loads(call["body"])
    assert body["amount"] == 20_000 and body["payment_request_id"] == request_id
    assert call["idempotency_key"].startswith("amanah-refund-")
    assert deliver(client, fake_xendit, fake_xendit.settle_refund(refund_id, "SUCCEEDED")).json == \
        {"status": "refunded 1"}
    with xendit_app.app_context():
        (entry,) = entries("refund")
        assert entry.amount == -2_000_000
        assert db.session.scalar(sa.select(Refund.status)) == "succeeded"
        # the donor gets a credit note, as for a card
        assert [d.kind for d in issuer().documents_of(donation_id)] == ["receipt", "credit_note"]


def test_a_virtual_account_payment_is_not_refunded_through_xendit(xendit_app, client, fake_xendit):
    donation_id, _ = paid(xendit_app, client, fake_xendit, "va_bca")
    with xendit_app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        with pytest.raises(giving.RefundRefused) as refused:
            giving.request_refund(donation, donation.campaign.treasurer, 1_000_000, "Salah transfer")
        assert refused.value.args[0] is giving.NOT_REFUNDABLE
        db.session.rollback()
        assert fake_xendit.calls("POST", "/refunds") == []
        assert count(Refund) == 0  # refused before anything was set aside
        # and were it asked, the gateway refuses too
        with pytest.raises(GatewayError, match="disbursement back to the donor"):
            gateway_named("xendit").create_refund(donation.payment_intent, 1_000_000, "k", {})


@pytest.mark.files
def test_the_treasurer_records_a_virtual_account_refund_as_a_transfer_back_with_evidence(xendit_app, client,
                                                                                         fake_xendit):
    donation_id, _ = paid(xendit_app, client, fake_xendit, "va_bca")
    with xendit_app.app_context():
        donation = db.session.get(Donation, donation_id)
        treasurer = make_user(None, "treasurer")
        donation.campaign.treasurer_id = treasurer.id
        db.session.commit()
        login(client, treasurer)
        assert "enctype=\"multipart/form-data\"" in client.get(f"/donations/{donation_id}/refund").get_data(
            as_text=True)
    url = f"/treasury/donations/{donation_id}/transfer-back"
    missing = client.post(url, data={"amount": "20.000", "reason": "Donatur minta"})
    assert missing.status_code == 422 and 'id="evidence-error"' in missing.get_data(as_text=True)
    proof = pdf(1)
    response = client.post(url, data={"amount": "20.000", "reason": "Donatur minta",
                                      "evidence": (io.BytesIO(proof), "bukti.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    with xendit_app.app_context():
        (entry,) = entries("refund")
        leaf = json.loads(entry.leaf)
        assert entry.amount == -2_000_000 and leaf["evidence"] == hashlib.sha256(proof).hexdigest()
        assert "payment" not in leaf
        refund = db.session.scalars(sa.select(Refund)).one()
        assert (refund.status, refund.ledger_seq, refund.provider_id) == ("succeeded", entry.seq, None)
        assert [d.kind for d in issuer().documents_of(donation_id)] == ["receipt", "credit_note"]
    assert fake_xendit.calls("POST", "/refunds") == []
    assert xendit_app.test_cli_runner().invoke(args=["ledger", "verify"]).exit_code == 0


def test_another_user_cannot_record_a_transfer_back(xendit_app, client, fake_xendit):
    donation_id, _ = paid(xendit_app, client, fake_xendit, "va_bca")
    with xendit_app.app_context():
        login(client, make_user())
    response = client.post(f"/treasury/donations/{donation_id}/transfer-back",
                           data={"amount": "20.000", "reason": "x",
                                 "evidence": (io.BytesIO(pdf(1)), "b.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 404
    with xendit_app.app_context():
        assert entries("refund") == []


def test_a_transfer_back_is_only_for_payments_the_provider_cannot_refund(xendit_app, client, fake_xendit):
    donation_id, _ = paid(xendit_app, client, fake_xendit, "qris")
    with xendit_app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        with pytest.raises(giving.RefundRefused):
            donor_refunds.record_transfer_back(donation, donation.campaign.treasurer, 1_000_000, "x", pdf(1))
        db.session.rollback()
        assert entries("refund") == [] and count(Refund) == 0


def test_a_refund_of_a_non_whole_rupiah_amount_is_refused(xendit_app, client, fake_xendit):
    donation_id, _ = paid(xendit_app, client, fake_xendit)
    with xendit_app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        with pytest.raises(AmountNotWholeRupiah):
            giving.request_refund(donation, donation.campaign.treasurer, 1_000_050, "Sebagian")
        assert fake_xendit.calls("POST", "/refunds") == []


# ---- reconciliation ----

def test_reconciliation_books_a_payment_whose_callback_was_lost(xendit_app, client, fake_xendit):
    donation_id, request_id = start(xendit_app, "qris")
    fake_xendit.pay(request_id)  # the callback never arrives
    expired_id = start(xendit_app, "va_bni")[1]
    fake_xendit.expire(expired_id)
    result = xendit_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "xendit:" in result.output
    with xendit_app.app_context():
        assert db.session.get(Donation, donation_id).status == "paid"
        assert len(entries("donation")) == 1
        expired = sa.select(Donation.status).where(Donation.checkout_id == expired_id)
        assert db.session.scalar(expired) == "expired"
    again = xendit_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert again.exit_code == 0 and "0 applied" in again.output.split("xendit:")[1]


def test_reconciliation_holds_a_short_payment_whose_callback_was_lost(xendit_app, client, fake_xendit):
    """The payment request states what was asked; what was paid comes from Xendit's transaction."""
    donation_id, request_id = start(xendit_app, "va_bca")
    fake_xendit.pay(request_id, amount=30_000)  # the callback never arrives; the transaction is booked
    result = xendit_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "xendit:" in result.output
    with xendit_app.app_context():
        assert db.session.get(Donation, donation_id).status == "flagged"
        assert entries() == []  # not the Rp 50.000 asked
        (anomaly,) = db.session.scalars(sa.select(PaymentAnomaly)).all()
        assert (anomaly.kind, anomaly.amount) == ("amount", 3_000_000)


def test_reconciliation_books_a_refund_whose_callback_was_lost(xendit_app, client, fake_xendit):
    donation_id, _ = paid(xendit_app, client, fake_xendit)
    with xendit_app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        giving.request_refund(donation, donation.campaign.treasurer, 1_000_000, "Donatur minta")
        db.session.commit()
    result = xendit_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    with xendit_app.app_context():
        assert [e.amount for e in entries("refund")] == [-1_000_000]


# ---- the donate form and the payment page ----

def donate(client, public_id: str, method: str, **extra):
    form = {"preset": "custom", "custom_amount": "50.000", "name": "Budi", "email": "budi@example.org",
            "confirmed": "1", "method": method, **extra}
    return client.post(f"/campaigns/{public_id}/give", data=form)


def campaign_id(app) -> str:
    with app.app_context():
        return make_campaign().public_id


def test_the_form_offers_every_method_in_plain_text(xendit_app, client):
    page = client.get(f"/campaigns/{campaign_id(xendit_app)}/give").get_data(as_text=True)
    for code in ("qris", "va_bca", "va_bni", "va_bri", "va_mandiri", "va_permata", "ovo", "dana",
                 "shopeepay", "linkaja", "card"):
        assert f'value="{code}"' in page
    assert "<img" not in page.split("give-method")[1].split("</fieldset>")[0]


def test_without_xendit_keys_the_local_methods_are_labelled_sandbox(app, client):
    with app.test_request_context():
        assert "sandbox" in method_label(methods.BY_CODE["qris"])


def test_giving_by_qris_shows_its_qr_code_and_amount(xendit_app, client, fake_xendit):
    response = donate(client, campaign_id(xendit_app), "qris")
    assert response.status_code == 303 and "/give/pay/pr-" in response.location
    page = client.get(response.location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="qris-code"' in html and "<svg" in html
    assert "50.000" in html.split('id="pay-amount"')[1][:40]


def test_giving_by_virtual_account_shows_number_bank_amount_and_expiry(xendit_app, client, fake_xendit):
    response = donate(client, campaign_id(xendit_app), "va_permata")
    html = client.get(response.location).get_data(as_text=True)
    (request,) = fake_xendit.payment_requests.values()
    number = request["payment_method"]["virtual_account"]["channel_properties"]["virtual_account_number"]
    assert f'<code id="va-number">{number}</code>' in html and "PERMATA" in html
    assert '<code id="va-amount">50000</code>' in html and "WIB" in html
    assert f'data-copy="{number}"' in html


def test_giving_by_e_wallet_redirects_to_the_wallet_and_a_phone_to_its_deeplink(xendit_app, client,
                                                                                fake_xendit):
    """The page sends the browser on by refresh (a 303 after the form would break its CSP's
    form-action; test_giving_ewallet_browser.py shows it in Chromium), with a link as well."""
    location = donate(client, campaign_id(xendit_app), "dana").location
    (request,) = fake_xendit.payment_requests.values()
    wallet = f"https://ewallet-mock.xendit.co/dana/{request['id']}"
    for agent, link in (("Mozilla/5.0 (X11; Linux x86_64)", "web"),
                        ("Mozilla/5.0 (Linux; Android 14) Mobile", "deeplink")):
        page = client.get(location, headers={"User-Agent": agent})
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert f'<meta http-equiv="refresh" content="0; url={wallet}/{link}">' in html
        assert f'id="wallet-link" href="{wallet}/{link}"' in html and "DANA" in html


def test_a_wallet_link_that_is_script_is_never_followed(xendit_app, client, fake_xendit):
    fake_xendit.wallet_base = "javascript:alert(1)//"
    location = donate(client, campaign_id(xendit_app), "shopeepay").location
    html = client.get(location).get_data(as_text=True)
    assert "javascript:" not in html and 'http-equiv="refresh"' not in html


@pytest.mark.parametrize("method", ["qris", "va_bri", "shopeepay", "card"])
def test_the_form_grosses_the_gift_up_with_the_chosen_method_s_fee(xendit_app, client, fake_xendit, method):
    """The confirmation step shows, and the donation charges, the chosen method's gross-up."""
    public_id = campaign_id(xendit_app)
    form = {"preset": "custom", "custom_amount": "50.000", "name": "Budi", "email": "budi@example.org",
            "method": method, "cover_fee": "y"}
    with xendit_app.app_context():
        fee = fees.fee_to_cover(5_000_000, "IDR", method)
        if method != "card":
            assert fee == xendit_fees.gross_up(methods.BY_CODE[method], 5_000_000)
            assert fee != fees.fee_to_cover(5_000_000, "IDR", "card")
        total = i18n.format_money(5_000_000 + fee, "IDR")
    confirm = client.post(f"/campaigns/{public_id}/give", data=form)
    assert confirm.status_code == 200 and total in confirm.get_data(as_text=True)
    client.post(f"/campaigns/{public_id}/give", data={**form, "confirmed": "1"})
    with xendit_app.app_context():
        donation = db.session.scalar(sa.select(Donation))
        assert (donation.payment_method, donation.fee_covered) == (method, fee)
        assert donation.total == 5_000_000 + fee
        if method != "card":
            net = donation.total - xendit_fees.fee_estimate(methods.BY_CODE[method], donation.total)
            assert 5_000_000 <= net < 5_000_000 + 300


def test_ovo_needs_the_donor_s_phone_number(xendit_app, client, fake_xendit):
    public_id = campaign_id(xendit_app)
    assert donate(client, public_id, "ovo").status_code == 422
    assert donate(client, public_id, "ovo", mobile_number="081234567890").status_code == 303
    (request,) = fake_xendit.payment_requests.values()
    assert request["payment_method"]["ewallet"]["channel_properties"]["mobile_number"] == "+6281234567890"


def test_an_unknown_method_is_a_form_error(xendit_app, client, fake_xendit):
    assert donate(client, campaign_id(xendit_app), "bitcoin").status_code == 422
    assert fake_xendit.payment_requests == {}


def test_giving_by_qris_through_the_sandbox(app, client):
    response = donate(client, campaign_id(app), "qris")
    assert response.status_code == 303 and "/give/sandbox/" in response.location
    html = client.get(response.location).get_data(as_text=True)
    assert 'id="qris-code"' in html and "<svg" in html
    with app.app_context():
        donation = db.session.scalars(sa.select(Donation)).one()
        assert (donation.provider, donation.payment_method) == ("sandbox", "qris")


# ---- fees ----

def test_reconciliation_replaces_an_estimated_fee_by_the_actual_one(xendit_app, client, fake_xendit):
    fake_xendit.book_fees = False
    fake_xendit.fee_bp = 100  # Xendit's books say 1%, the price list 0.7%
    donation_id, request_id = start(xendit_app, "qris")
    assert deliver(client, fake_xendit, fake_xendit.pay(request_id)).json == {"status": "paid"}
    runner = xendit_app.test_cli_runner()
    assert runner.invoke(args=["payments", "reconcile"]).exit_code == 0  # not booked there yet
    with xendit_app.app_context():
        assert [e.kind for e in entries()] == ["donation", "fee"]
    fake_xendit.book_fee(request_id)
    assert runner.invoke(args=["payments", "reconcile"]).exit_code == 0
    assert runner.invoke(args=["payments", "reconcile"]).exit_code == 0  # a second run changes nothing
    with xendit_app.app_context():
        donation, fee, reversal, actual = entries()
        assert (fee.kind, fee.amount) == ("fee", -38_900)  # the estimate stays, marked as one
        assert (reversal.kind, reversal.amount, reversal.ref) == ("fee_reversal", 38_900, fee.seq)
        assert (actual.kind, actual.amount, actual.ref) == ("fee", -(500 + 55) * 100, donation.seq)
        assert json.loads(actual.leaf)["payment"] == f"{request_id}/fee"
        row = db.session.get(Donation, donation_id)
        assert (row.fee_estimated, row.actual_fee, row.fee_corrected_seq) == (True, 55_500, reversal.seq)
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_a_short_payment_is_listed_for_admins_on_the_reconciliation_page(xendit_app, client, fake_xendit):
    _, request_id = start(xendit_app, "va_bni")
    deliver(client, fake_xendit, fake_xendit.pay(request_id, amount=20_000))
    with xendit_app.app_context():
        login(client, make_user(None, "admin"))
    with xendit_app.test_request_context():
        label = anomaly_kind_label("amount")
    page = client.get("/payments/reconciliation").get_data(as_text=True)
    # The label as the page escapes it (the English one has an apostrophe: without compiled
    # catalogs the page is in English).
    assert request_id in page and str(markupsafe.escape(label)) in page


def test_a_callback_naming_nothing_xendit_has_is_acknowledged(xendit_app, client, fake_xendit):
    body = {"event": "payment.succeeded", "business_id": "b", "created": "2026-12-04T10:00:00Z",
            "data": {"id": "py-1", "payment_request_id": "pr-unknown", "amount": 50_000}}
    assert deliver(client, fake_xendit, body).json == {"status": "not ours"}
    with xendit_app.app_context():
        assert entries() == []


def test_the_payment_deadline_is_written_in_the_donor_s_language(xendit_app, client, fake_xendit):
    """"Bayar sebelum 5 Desember 2026, 10.00 WIB.", as every time a donor reads: it was an ISO date."""
    location = donate(client, campaign_id(xendit_app), "va_bca").location
    indonesian = client.get(location, headers={"Accept-Language": "id"}).get_data(as_text=True)
    english = client.get(location, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r"Bayar sebelum \d{1,2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September"
                     r"|Oktober|November|Desember) \d{4}, \d\d\.\d\d WIB\.", indonesian)
    assert re.search(r"Pay before \d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d WIB\.", english)
    assert not re.search(r"\d{4}-\d\d-\d\d", indonesian.split('id="va-number"')[1].split("</main>")[0])
