"""Batches form across gunicorn's sync workers, which are separate processes that meet only in
PostgreSQL: signed deliveries (duplicates among them) posted at once to `gunicorn -w 4` are each
counted once, appended in batches of more than one in the order they were recorded, and the
ledger verifies."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from amanah.extensions import db
from donations.models import Donation, PaymentEvent, PendingConfirmation
from ledger.models import LedgerEntry
from tests.conftest import make_app
from tests.donations.test_giving_concurrency import deliveries, pending_sessions
from tests.factories.fake_stripe import FakeStripe

pytestmark = pytest.mark.slow

API_KEY, SECRET = "sk_test_concurrency", "whsec_concurrency"  # those test_giving_concurrency signs with
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_app(databases, tmp_path):
    if databases.backend != "postgresql":
        pytest.skip("sync workers share their batches through PostgreSQL's locks")
    url = databases.fresh()
    fake = FakeStripe(API_KEY).start()
    app = make_app(url, tmp_path / "instance", STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                   STRIPE_API_BASE=fake.url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "AMANAH_ENV": "testing", "RATELIMIT_ENABLED": "false",
           "AMANAH_INSTANCE_PATH": str(tmp_path / "instance"), "STRIPE_SECRET_KEY": API_KEY,
           "STRIPE_WEBHOOK_SECRET": SECRET, "STRIPE_API_BASE": fake.url}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-w", "4", "-b",
                               f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=5)
            break
        except requests.RequestException:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("gunicorn did not come up")
            time.sleep(0.2)
    yield app, fake, base
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    fake.stop()
    with app.app_context():
        db.engine.dispose()


def test_sync_workers_append_together_each_payment_once(gunicorn_app):
    app, fake, base = gunicorn_app
    _, sessions = pending_sessions(app, fake)
    batch = deliveries(sessions)
    local = threading.local()

    def post(delivery):
        body, headers = delivery
        if not hasattr(local, "http"):
            local.http = requests.Session()
        response = local.http.post(f"{base}/webhooks/stripe", data=body, headers=headers, timeout=120)
        return response.status_code, response.json().get("status")

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(post, batch))
    assert {code for code, _ in results} == {200}, results
    statuses = Counter(status for _, status in results)
    assert statuses["paid"] == len(sessions)
    assert statuses["paid"] + statuses["duplicate"] + statuses["unchanged"] == len(batch)
    with app.app_context():
        donations = {d.id: d for d in db.session.execute(sa.select(Donation)).scalars()}
        assert {d.status for d in donations.values()} == {"paid"}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.kind == "donation")) == len(sessions)
        assert db.session.scalar(sa.select(sa.func.count(sa.distinct(PaymentEvent.event_id)))) == \
            db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent))
        table = PendingConfirmation.__table__
        rows = db.session.execute(sa.select(table.c.finished_at, table.c.outcome, table.c.object)
                                  .order_by(table.c.finished_at, table.c.id)).all()
        db.session.remove()
    # A batch's rows share their finished_at: several processes' events went into one transaction.
    sizes = Counter(at for at, _, _ in rows)
    assert max(sizes.values()) > 1, sizes
    assert sum(sizes.values()) == len(batch)
    seqs = [donations[int(o["metadata"]["donation_id"])].ledger_seq
            for _, outcome, o in rows if outcome == "paid"]
    assert len(seqs) == len(sessions) and seqs == sorted(seqs)
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
