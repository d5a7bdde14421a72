"""Confirmations waiting for the append lock are applied together by whoever holds it
(donations/confirmations.py), on SQLite and PostgreSQL: in the order they were recorded, each
event once, receipts numbered in ledger order, one bad event failing alone."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from documents.receipts import receipt_of
from donations import confirmations, giving
from donations.models import Donation, DonationStatus, PaymentEvent, PendingConfirmation
from donations.providers import gateway_named
from ledger.models import CampaignTotal, LedgerEntry
from tests.factories.fake_stripe import FakeStripe
from tests.factories.giving import make_campaign

API_KEY, SECRET = "sk_test_confirmations", "whsec_confirmations"
COMPLETED = "checkout.session.completed"


@pytest.fixture
def stripe_context(app):
    fake = FakeStripe(API_KEY).start()
    app.config.update(STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_API_BASE=fake.url)
    with app.test_request_context():
        yield fake
    fake.stop()


def paid_sessions(fake: FakeStripe, count: int) -> list[tuple[int, dict]]:
    """(donation id, its session as the app re-fetches it) of `count` donations paid at Stripe."""
    campaign = make_campaign()
    paid = []
    for n in range(count):
        donation = giving.start_donation(campaign, amount=1_000_000 + n * 100, donor_name=f"Donor {n}",
                                         donor_email=f"d{n}@example.org")
        db.session.commit()
        checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel")
        db.session.commit()
        fake.complete(checkout.id)
        paid.append((donation.id, gateway_named("stripe").fetch_checkout(checkout.id)))
    return paid


def waiting(event_id: str, session: dict) -> int:
    """An event recorded by a request that now waits for the lock (or died waiting)."""
    return confirmations._record("stripe", event_id, COMPLETED, session, True)


def outcomes() -> dict[int, str | None]:
    table = PendingConfirmation.__table__
    return dict(db.session.execute(sa.select(table.c.id, table.c.outcome)).all())


def batches(caplog) -> list[int]:
    return [r.args[0] for r in caplog.records if r.getMessage().startswith("confirmation batch")]


def test_waiting_events_are_applied_with_the_lock_holders_in_one_batch(stripe_context, caplog):
    paid = paid_sessions(stripe_context, 4)
    earlier = [waiting(f"evt_{n}", session) for n, (_, session) in enumerate(paid[:3])]
    again = waiting("evt_0", paid[0][1])  # the first one delivered twice, both waiting
    with caplog.at_level(logging.DEBUG, logger="donations.confirmations"):
        assert confirmations.confirm("stripe", "evt_3", COMPLETED, paid[3][1]) == "paid"
    assert batches(caplog) == [5]
    found = outcomes()
    assert [found[i] for i in earlier] == ["paid"] * 3
    assert found[again] == "duplicate"
    # Ledger order is the order they were recorded in, and so is the receipts' numbering.
    donations = [db.session.get(Donation, donation_id) for donation_id, _ in paid]
    seqs = [d.ledger_seq for d in donations]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    numbers = [receipt_of(d.id).number for d in donations]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4
    counts = dict(db.session.execute(sa.select(LedgerEntry.kind, sa.func.count())
                                     .group_by(LedgerEntry.kind)).all())
    assert counts == {"donation": 4, "fee": 4}
    total = db.session.get(CampaignTotal, donations[0].campaign.public_id)
    assert (total.donation_count, total.raised) == (4, sum(d.total for d in donations))
    # A later redelivery (or a waiting request's own turn) finds the event done.
    assert confirmations.confirm("stripe", "evt_1", COMPLETED, paid[1][1]) == "duplicate"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == 4


def test_one_bad_event_fails_alone_and_is_applied_when_retried(stripe_context, monkeypatch, caplog):
    paid = paid_sessions(stripe_context, 3)
    bad_id, bad = paid[1]
    apply_checkout = giving.apply_checkout

    def broken_for_one(provider, event_type, session):
        if session["id"] == bad["id"]:
            raise RuntimeError("a bug that only this event meets")
        return apply_checkout(provider, event_type, session)

    monkeypatch.setattr(giving, "apply_checkout", broken_for_one)
    first, second = waiting("evt_a", paid[0][1]), waiting("evt_b", bad)
    with caplog.at_level(logging.DEBUG, logger="donations.confirmations"):
        assert confirmations.confirm("stripe", "evt_c", COMPLETED, paid[2][1]) == "paid"
    found = outcomes()
    assert (found[first], found[second]) == ("paid", confirmations.ERROR)
    assert db.session.get(Donation, bad_id).status == DonationStatus.PENDING
    assert db.session.scalar(sa.select(PaymentEvent).where(PaymentEvent.event_id == "evt_b")) is None
    assert any("could not be applied for another request" in r.getMessage() for r in caplog.records)
    # Its own request is answered with an error (a 500: the provider delivers it again) ...
    with pytest.raises(confirmations.ConfirmationFailed):
        confirmations.confirm("stripe", "evt_b", COMPLETED, bad)
    # ... and once the bug is gone, the redelivery is applied, once.
    monkeypatch.setattr(giving, "apply_checkout", apply_checkout)
    assert confirmations.confirm("stripe", "evt_b", COMPLETED, bad) == "paid"
    assert [d.status for d in db.session.scalars(sa.select(Donation).order_by(Donation.id))] == ["paid"] * 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.kind == "donation")) == 3


def test_a_leader_where_the_provider_is_not_configured_applies_its_events(stripe_context, app):
    """App servers share the queue: one without Stripe's keys (the sandbox's, as in the fault drill,
    or mid-way through a change of configuration) may lead a batch holding Stripe's events. Their
    sessions were re-fetched by the server that recorded them; nothing more is asked of Stripe."""
    paid = paid_sessions(stripe_context, 2)
    first, second = waiting("evt_s1", paid[0][1]), waiting("evt_s2", paid[1][1])
    db.session.commit()
    asked = len(stripe_context.calls())
    app.config.update(STRIPE_SECRET_KEY=None, STRIPE_API_BASE=None)
    with app.app_context(), app.test_request_context():  # a new `g`: no Stripe gateway kept from above
        assert confirmations.drain() == 2
        found = outcomes()
        assert (found[first], found[second]) == ("paid", "paid")
        assert {db.session.get(Donation, d).status for d, _ in paid} == {DonationStatus.PAID}
    assert len(stripe_context.calls()) == asked  # Stripe was asked nothing more


def test_events_of_requests_that_died_waiting_are_drained(stripe_context):
    paid = paid_sessions(stripe_context, 2)
    for n, (_, session) in enumerate(paid):
        waiting(f"evt_{n}", session)
    assert confirmations.drain() == 2
    assert set(outcomes().values()) == {"paid"}
    assert confirmations.drain() == 0


def test_a_flagged_and_an_unknown_event_in_a_batch_change_only_themselves(stripe_context):
    paid = paid_sessions(stripe_context, 3)
    short = dict(paid[0][1], amount_total=paid[0][1]["amount_total"] - 100)  # paid short: flagged
    stranger = dict(paid[1][1], metadata={"donation_id": "999999"})  # names no donation of ours
    first, second = waiting("evt_short", short), waiting("evt_stranger", stranger)
    assert confirmations.confirm("stripe", "evt_ok", COMPLETED, paid[2][1]) == "paid"
    found = outcomes()
    assert (found[first], found[second]) == ("flagged", "unknown")
    statuses = [db.session.get(Donation, donation_id).status for donation_id, _ in paid]
    assert statuses == [DonationStatus.FLAGGED, DonationStatus.PENDING, DonationStatus.PAID]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.kind == "donation")) == 1


def test_finished_rows_are_deleted_once_read(stripe_context, monkeypatch):
    paid = paid_sessions(stripe_context, 1)
    assert confirmations.confirm("stripe", "evt_0", COMPLETED, paid[0][1]) == "paid"
    assert len(outcomes()) == 1
    monkeypatch.setattr(confirmations, "KEEP_FINISHED_SECONDS", -1)
    monkeypatch.setattr(confirmations, "_last_cleanup", 0.0)
    confirmations._clean_up()
    assert outcomes() == {}


def test_reconciliation_drains_the_waiting_events_first(stripe_context):
    from donations import reconciliation
    paid = paid_sessions(stripe_context, 1)
    row = waiting("evt_0", paid[0][1])
    reconciliation.reconcile()
    assert outcomes() == {row: "paid"}
    assert db.session.scalar(sa.select(PaymentEvent.event_id)) == "evt_0"


def test_database_lost_in_the_batch_is_a_503_and_nothing_is_half_written(stripe_context, app,
                                                                         monkeypatch):
    from tests.factories.fake_stripe import make_event, webhook
    paid = paid_sessions(stripe_context, 1)
    donation_id, session = paid[0]
    real_flush = giving._BatchAppender.flush_batch

    def connection_lost(self):
        real_flush(self)  # the entries are written, then the server goes away before the commit
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(giving._BatchAppender, "flush_batch", connection_lost)
    event = make_event(COMPLETED, session, "evt_lost")
    body, headers = webhook(event, SECRET)
    response = app.test_client().post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert db.session.get(Donation, donation_id).status == DonationStatus.PENDING
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == 0
    assert list(outcomes().values()) == [None]  # still waiting: the next leader applies it
    monkeypatch.setattr(giving._BatchAppender, "flush_batch", real_flush)
    # Stripe retries: the delivery left waiting is applied first (same batch, recorded earlier),
    # so the retry itself is the duplicate; either way the payment counts once.
    response = app.test_client().post("/webhooks/stripe", data=body, headers=headers)
    assert (response.status_code, response.json["status"]) == (200, "duplicate")
    assert sorted(outcomes().values()) == ["duplicate", "paid"]
    assert db.session.get(Donation, donation_id).status == DonationStatus.PAID
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.kind == "donation")) == 1


@pytest.fixture
def committed_context(databases, tmp_path):
    """A fresh PostgreSQL database where rows are committed for real, so that another connection
    can hold one of them."""
    if databases.backend != "postgresql":
        pytest.skip("row locks and advisory locks interleave only on PostgreSQL")
    from tests.conftest import make_app
    url = databases.fresh()
    fake = FakeStripe(API_KEY).start()
    app = make_app(url, tmp_path / "instance", STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                   STRIPE_API_BASE=fake.url)
    with app.test_request_context():
        yield url, fake
        db.session.remove()
        db.engine.dispose()
    fake.stop()


def test_a_leader_never_waits_for_a_donation_row_held_by_another(committed_context):
    """Elsewhere the lock order is the donation's row, then the append lock (a refund holds the row
    and waits for the lock): the leader, holding the lock, takes rows with NOWAIT, so that one
    event is answered 503 and retried instead of a deadlock, and the rest of the batch goes on."""
    url, fake = committed_context
    paid = paid_sessions(fake, 2)
    (held_id, held), (_, free) = paid
    other = sa.create_engine(url)
    try:
        with other.connect() as connection:
            connection.execute(sa.text("SELECT id FROM donations WHERE id = :id FOR UPDATE"), {"id": held_id})
            first = waiting("evt_held", held)
            assert confirmations.confirm("stripe", "evt_free", COMPLETED, free) == "paid"
            assert outcomes()[first] == confirmations.RETRY
            with pytest.raises(giving.RetryLater):
                confirmations.confirm("stripe", "evt_held", COMPLETED, held)
            connection.rollback()
    finally:
        other.dispose()
    assert confirmations.confirm("stripe", "evt_held", COMPLETED, held) == "paid"
    assert [d.status for d in db.session.scalars(sa.select(Donation).order_by(Donation.id))] == ["paid"] * 2


def test_a_batch_writes_its_donations_and_receipts_as_one_confirmation_does(stripe_context):
    """The batch writes its paid donations with one UPDATE and its receipts with one INSERT at its
    end: the rows are those a confirmation applied on its own (the one-by-one path) writes."""
    from documents.models import Document
    from ledger import storage
    paid = paid_sessions(stripe_context, 4)
    for n, (_, session) in enumerate(paid[:2]):
        waiting(f"evt_b{n}", session)
    assert confirmations.confirm("stripe", "evt_b2", COMPLETED, paid[2][1]) == "paid"  # a batch of 3
    db.session.rollback()
    storage.lock(db.session)  # one on its own, through issue_receipt (the one-by-one path)
    db.session.add(PaymentEvent(event_id="evt_alone", type=COMPLETED))
    assert giving.apply_checkout("stripe", COMPLETED, paid[3][1]) == "paid"
    db.session.commit()
    db.session.expire_all()
    donations = [db.session.get(Donation, donation_id) for donation_id, _ in paid]
    documents = [receipt_of(d.id) for d in donations]
    assert [d.number for d in documents] == list(range(documents[0].number, documents[0].number + 4))
    for donation, document, (_, session) in zip(donations, documents, paid, strict=True):
        intent = session["payment_intent"]
        assert donation.status == DonationStatus.PAID and donation.paid_at is not None
        assert (donation.payment_intent, donation.charge_id) == (intent["id"], intent["latest_charge"]["id"])
        assert donation.processor_fee == intent["latest_charge"]["balance_transaction"]["fee"] > 0
        assert donation.fee_estimated is False
        leaf_hash = storage.leaf_hash_at(db.session, donation.ledger_seq)
        assert document.content["ledger"] == {"seq": donation.ledger_seq, "leaf_hash": leaf_hash.hex()}
        assert document.content["received_at"] == donation.paid_at.isoformat()
        assert document.content["serial"] == document.serial and document.kind == "receipt"
        assert document.issued_at.isoformat() == document.content["issued_at"]
    alone = documents[3]
    own = ("serial", "issued_at", "ledger", "donor", "amount", "gift", "received_at")  # each donation's

    def shared(document):
        return {k: v for k, v in document.content.items() if k not in own}
    for batched in documents[:3]:
        assert batched.content.keys() == alone.content.keys()
        assert shared(batched) == shared(alone)
        assert (batched.series, batched.year) == (alone.series, alone.year)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 4
