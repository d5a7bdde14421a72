"""Confirmed donations per second through signed Stripe webhooks, beside a hello-world route.

    python bench/webhooks.py                       # 600 donations, gunicorn -w 2 --threads 2, 8 clients
    python bench/webhooks.py --donations 1000 --workers 2 --threads 4 --clients 8

It makes a fresh PostgreSQL database (dropped at the end), runs the fake Stripe API
(tests/factories/fake_stripe.py) in its own process, and fills the database with one published campaign and
N pending donations whose Checkout Sessions were created in the fake through the real `stripe`
library and then paid there. gunicorn serves the app (STRIPE_API_BASE pointing at the fake) with
bench/gunicorn_profile.py recording a profile of every webhook. Then 8 concurrent clients POST
one signed checkout.session.completed event per donation; each confirmation re-fetches the
session (expanded to its payment intent, charge and balance transaction) from the fake, records
the event and appends the donation and fee entries. In the same run the same clients hammer
GET /healthz. It prints both rates and their ratio (target: webhooks >= 10% of hello world),
checks the chain (`flask ledger verify`, every donation paid and counted once), and prints where
a confirmation's time goes: queries, append-lock hold and wait, Stripe round trips and latency.

Why gunicorn -w 2 --threads 2 by default: the machine has 2 cores; a confirmation spends part of
its wall time waiting (on Stripe, on PostgreSQL), so a second thread per process overlaps that
wait, but confirmations serialize on the ledger's append lock and otherwise compete for the same
2 cores, so more threads mostly lengthen the queue. Measured (600 donations, noisy shared box):
-w 2 --threads 1: 36/s; -w 2 --threads 2: 59 to 65/s; -w 2 --threads 4: 67/s; and before the fake
kept connections alive, -w 1 --threads 8: 37/s, -w 3 --threads 3: 48/s. The ratio to hello world
was within 7 to 8.5% for every threaded configuration.
--workers/--threads change it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
API_KEY, SECRET = "sk_test_bench", "whsec_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def make_database() -> tuple[str, callable]:
    name = f"amanah_bench_wh_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(False), drop


def build_app(url: str, instance: str, stripe_url: str):
    from amanah import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "AMANAH_ENV": "testing",
                       "RATELIMIT_ENABLED": False, "STRIPE_SECRET_KEY": API_KEY,
                       "STRIPE_WEBHOOK_SECRET": SECRET, "STRIPE_API_BASE": stripe_url})


def fill(app, stripe_url: str, count: int) -> tuple[str, list[dict]]:
    """Migrate; one published campaign; `count` donations paid at the fake Stripe, not yet confirmed."""
    import datetime as dt

    from flask_migrate import upgrade

    from amanah.db import now_utc
    from amanah.extensions import db
    from campaigns import categories, regions
    from campaigns.models import Campaign
    from donations import giving
    from tests.factories import make_user
    http = requests.Session()
    sessions = []
    with app.app_context():
        upgrade()
    with app.test_request_context():
        organizer = make_user("bench-organizer@example.test")
        campaign = Campaign(slug="bench", title="Bench: air bersih", story="x" * 60, goal=10**12,
                            currency="IDR", deadline=(now_utc() + dt.timedelta(days=30)).date(),
                            category=categories.CODES[0], region=regions.CODES[0], city="Bandung",
                            beneficiary="Warga", organizer_id=organizer.id, treasurer_id=organizer.id,
                            status="published", published_at=now_utc())
        db.session.add(campaign)
        db.session.commit()
        for n in range(count):
            donation = giving.start_donation(campaign, amount=5_000_000 + n * 100, donor_name=f"Donor {n}",
                                             donor_email=f"donor{n}@example.org")
            db.session.commit()
            checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel")
            db.session.commit()
            paid = http.post(f"{stripe_url}/_fake/complete/{checkout.id}", timeout=10)
            paid.raise_for_status()
            sessions.append(paid.json())
        public_id = campaign.public_id
        db.session.remove()
        db.engine.dispose()
    return public_id, sessions


def hammer(make_request, items, clients: int) -> tuple[float, list]:
    local = threading.local()

    def one(item):
        if not hasattr(local, "http"):
            local.http = requests.Session()
        return make_request(local.http, item)

    with ThreadPoolExecutor(clients) as pool:
        started = time.perf_counter()
        results = list(pool.map(one, items))
        elapsed = time.perf_counter() - started
    return elapsed, results


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else 0.0


def print_profile(path: Path, stripe_stats: dict) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [r for r in rows if r["status"] == 200]
    stripe = [ms for r in rows for ms in r["stripe_ms"]]

    def line(label, values, unit):
        print(f"  {label:<34} mean {statistics.fmean(values):8.2f}{unit}  p50 {percentile(values, 50):8.2f}"
              f"{unit}  p95 {percentile(values, 95):8.2f}{unit}")
    print(f"profile of {len(rows)} confirmations (gunicorn hooks, bench/gunicorn_profile.py):")
    line("request time", [r["request_ms"] for r in rows], " ms")
    line("SQL statements per confirmation", [r["queries"] for r in rows], "   ")
    line("append lock held", [r["lock_ms"] for r in rows], " ms")
    line("  of which SQL statements", [r["locked_sql_ms"] for r in rows], " ms")
    line("  of which COMMIT", [r["commit_ms"] for r in rows], " ms")
    line("append lock waited for", [r["lock_wait_ms"] for r in rows], " ms")
    line("Stripe round trips per confirmation", [len(r["stripe_ms"]) for r in rows], "   ")
    line("Stripe round-trip latency", stripe, " ms")
    print(f"  fake Stripe saw: {json.dumps(stripe_stats['by_path'])}")


def verify(app, public_id: str, count: int, sessions: list[dict]) -> None:
    from amanah.extensions import db
    from donations.models import Donation
    from ledger.models import CampaignTotal, LedgerEntry
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    print(result.output.strip().splitlines()[-1] if result.output.strip() else "")
    if result.exit_code != 0:
        raise SystemExit(f"ledger verify failed:\n{result.output}")
    with app.app_context():
        statuses = db.session.execute(sa.select(Donation.status, sa.func.count())
                                      .group_by(Donation.status)).all()
        kinds = dict(db.session.execute(sa.select(LedgerEntry.kind, sa.func.count())
                                        .group_by(LedgerEntry.kind)).all())
        payments = db.session.scalar(sa.select(sa.func.count(sa.distinct(LedgerEntry.payment)))
                                     .where(LedgerEntry.kind == "donation"))
        total = db.session.get(CampaignTotal, public_id)
        raised = sum(s["amount_total"] for s in sessions)
        ok = (dict(statuses) == {"paid": count} and kinds.get("donation") == count and payments == count
              and total.donation_count == count and total.raised == raised)
        db.session.remove()
        db.engine.dispose()
    print(f"chain check: donations {dict(statuses)}, entries {kinds}, distinct payments {payments}, "
          f"campaign total {total.donation_count} donations / {total.raised} raised: "
          f"{'OK, no forks, each donation once' if ok else 'MISMATCH'}")
    if not ok:
        raise SystemExit(1)


def measure(base: str, sessions: list[dict], args) -> None:
    """Signed webhooks for every session, then hello world, from the same concurrent clients."""
    from tests.factories.fake_stripe import make_event, webhook
    events = [webhook(make_event("checkout.session.completed", s), SECRET) for s in sessions]

    def post(http, delivery):
        body, headers = delivery
        response = http.post(f"{base}/webhooks/stripe", data=body, headers=headers, timeout=60)
        return response.status_code, response.json().get("status")
    elapsed, results = hammer(post, events, args.clients)
    paid = sum(1 for code, status in results if (code, status) == (200, "paid"))
    webhook_rate = paid / elapsed
    hello_elapsed, hello = hammer(lambda http, _: http.get(f"{base}/healthz", timeout=30).status_code,
                                  range(args.hello), args.clients)
    hello_rate = sum(1 for code in hello if code == 200) / hello_elapsed
    print(f"gunicorn -w {args.workers} --threads {args.threads}, {args.clients} concurrent clients, "
          f"{os.cpu_count()} CPUs")
    print(f"confirmed donations/s (signed webhooks, {paid}/{len(events)} paid): {webhook_rate:8.1f}")
    print(f"hello world GET /healthz requests/s:                  {hello_rate:8.1f}")
    ratio = webhook_rate / hello_rate
    print(f"ratio: {ratio:.1%} (target >= 10%: {'met' if ratio >= 0.10 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--donations", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hello", type=int, default=3000, help="GET /healthz requests")
    args = parser.parse_args()
    processes: list[subprocess.Popen] = []
    url, drop = make_database()
    tmp = tempfile.TemporaryDirectory()
    try:
        stripe_port, app_port = free_port(), free_port()
        stripe_url, base = f"http://127.0.0.1:{stripe_port}", f"http://127.0.0.1:{app_port}"
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "tests.factories.fake_stripe", "--port", str(stripe_port),
             "--api-key", API_KEY],
            cwd=ROOT, stdout=subprocess.DEVNULL))
        wait_for(f"{stripe_url}/_fake/stats")
        app = build_app(url, tmp.name, stripe_url)
        started = time.perf_counter()
        public_id, sessions = fill(app, stripe_url, args.donations)
        print(f"filled {args.donations} pending donations with paid checkout sessions "
              f"in {time.perf_counter() - started:.1f} s")
        profile = Path(tmp.name) / "profile.jsonl"
        env = {**os.environ, "DATABASE_URL": url, "AMANAH_ENV": "testing", "AMANAH_INSTANCE_PATH": tmp.name,
               "RATELIMIT_ENABLED": "false", "STRIPE_SECRET_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": SECRET,
               "STRIPE_API_BASE": stripe_url, "BENCH_PROFILE_PATH": str(profile)}
        processes.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "bench" / "gunicorn_profile.py"),
             "-w", str(args.workers), "--threads", str(args.threads), "-b", f"127.0.0.1:{app_port}",
             "wsgi:app"], cwd=ROOT, env=env))
        wait_for(f"{base}/healthz")
        hammer(lambda http, _: http.get(f"{base}/healthz", timeout=30), range(200), args.clients)  # warm up

        measure(base, sessions, args)
        verify(app, public_id, args.donations, sessions)
        print_profile(profile, requests.get(f"{stripe_url}/_fake/stats", timeout=5).json())
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        drop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
