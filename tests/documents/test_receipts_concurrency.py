"""Receipt numbers stay gapless and unique when many confirmations (and failures) race."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from documents import receipts
from documents.models import Document, DocumentCounter
from donations import giving
from donations.providers import get_gateway
from tests.conftest import make_app
from tests.factories.documents import make_campaign

pytestmark = pytest.mark.slow
THREADS = 12


def _run_all(target, count):
    barrier = threading.Barrier(count)
    errors = []

    def run(n):
        try:
            barrier.wait(timeout=60)
            target(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and not errors, errors


def test_concurrent_confirmations_get_gapless_receipt_numbers(fresh_database_url, tmp_path):
    app = make_app(fresh_database_url, tmp_path / "instance")
    events = []
    with app.test_request_context():
        campaign = make_campaign()
        gateway = get_gateway()
        for n in range(THREADS):
            donation = giving.start_donation(campaign, amount=1_000_000 + n, donor_name=f"D{n}",
                                             donor_email=f"d{n}@example.test")
            db.session.commit()
            checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/no")
            db.session.commit()
            events.append(gateway.pay(checkout.id))
            db.session.commit()
        gateway.take_events()

    def confirm(n):
        with app.test_request_context():
            assert giving.handle_event(events[n]) == "paid"

    _run_all(confirm, THREADS)
    with app.app_context():
        docs = db.session.execute(sa.select(Document.number, Document.serial, Document.donation_id)).all()
        assert sorted(d.number for d in docs) == list(range(1, THREADS + 1))
        assert len({d.donation_id for d in docs}) == THREADS
        counter = db.session.execute(sa.select(DocumentCounter)).scalar_one()
        assert counter.last == THREADS
        db.session.remove()
        db.engine.dispose()


def test_a_rolled_back_number_is_given_to_the_next_issuer(fresh_database_url, tmp_path):
    app = make_app(fresh_database_url, tmp_path / "instance")
    committed = []
    lock = threading.Lock()

    def take(n):
        with app.app_context():
            number = receipts.next_number("TST", 2026)
            if n % 3 == 0:
                db.session.rollback()  # e.g. the confirmation failed after numbering
            else:
                db.session.commit()
                with lock:
                    committed.append(number)
            db.session.remove()

    _run_all(take, THREADS)
    assert sorted(committed) == list(range(1, len(committed) + 1))
    with app.app_context():
        assert db.session.get(DocumentCounter, ("TST", 2026)).last == len(committed)
        db.session.remove()
        db.engine.dispose()
