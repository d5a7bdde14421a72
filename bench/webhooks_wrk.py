"""Confirmed donations per second through signed Stripe webhooks against hello world, both with wrk.

    python bench/webhooks_wrk.py                      # 3000 donations, 10 s each, 16 connections
    python bench/webhooks_wrk.py --donations 4000 --seconds 10 --connections 16 --workers 4
    python bench/webhooks_wrk.py --root ../main          # the same run against another checkout

The README's production command serves the app: `gunicorn -w 4` (sync workers) on PostgreSQL.
The load generator is wrk (Debian `wrk`), so the client costs little of the 2 shared cores
(bench/webhooks.py used Python clients, which flattered nothing and cost a core). In one run:

1. a fresh PostgreSQL database (dropped at the end), migrated, with one published campaign and
   N pending donations whose Checkout Sessions the fake Stripe (tests/factories/fake_stripe.py,
   a thread of this process; every confirmation re-fetches its session from it) reports paid;
2. N checkout.session.completed events, signed as Stripe signs them (the fake's `webhook()`), one
   per line in a file that bench/webhooks_wrk.lua cycles through (a share per wrk thread);
3. `wrk GET /healthz` for --seconds, then `wrk -s bench/webhooks_wrk.lua` for --seconds;
4. confirmed donations/s (donations paid in the database / wrk's duration), hello-world
   requests/s and their ratio (target >= 20%), `flask ledger verify`, each donation paid and counted
   once, and, from the app's own log of each confirmation batch (logger donations.confirmations,
   set to DEBUG by bench/gunicorn_batches.py), batch sizes and the append lock's hold time per entry;
5. the CPU time the app's workers and the database's backends spent during the webhook run, per
   donation confirmed (from /proc): on a shared machine rates move with whatever else runs, and
   this moves much less.

N must exceed what --seconds can confirm: the events then cycle, and redeliveries are answered
"duplicate" (counted by wrk's status line, not as donations).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from webhooks import API_KEY, SECRET, build_app, free_port, make_database, wait_for  # noqa: E402

BATCH_LINE = re.compile(r"confirmation batch: (\d+) events?, "
                        r"append lock waited ([\d.]+) ms, held ([\d.]+) ms")


def fill(app, fake, count: int) -> tuple[str, list[dict]]:
    """Migrate; one published campaign; `count` donations paid at the fake Stripe, not yet confirmed."""
    import datetime as dt

    from flask_migrate import upgrade

    from amanah.db import now_utc
    from amanah.extensions import db
    from campaigns import categories, regions
    from campaigns.models import Campaign
    from donations import giving
    from tests.factories import make_user
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
        for start in range(0, count, 200):
            donations = [giving.start_donation(campaign, amount=5_000_000 + n * 100, donor_name=f"Donor {n}",
                                               donor_email=f"donor{n}@example.org")
                         for n in range(start, min(start + 200, count))]
            db.session.commit()
            for donation in donations:
                checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel")
                sessions.append(fake.complete(checkout.id))
            db.session.commit()
        public_id = campaign.public_id
        db.session.remove()
        db.engine.dispose()
    return public_id, sessions


def run_wrk(url: str, args, script: Path | None = None, env: dict | None = None) -> tuple[float, str]:
    """(requests/s, wrk's output) of one wrk run."""
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True,
                            env={**os.environ, **(env or {})}).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return rate, output


def count_paid(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        paid = conn.execute(sa.text("SELECT count(*) FROM donations WHERE status = 'paid'")).scalar_one()
    engine.dispose()
    return paid


def verify(app, public_id: str, paid: int) -> None:
    from amanah.extensions import db
    from donations.models import Donation
    from ledger.models import CampaignTotal, LedgerEntry
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    print(result.output.strip().splitlines()[-1] if result.output.strip() else "")
    if result.exit_code != 0:
        raise SystemExit(f"ledger verify failed:\n{result.output}")
    with app.app_context():
        kinds = dict(db.session.execute(sa.select(LedgerEntry.kind, sa.func.count())
                                        .group_by(LedgerEntry.kind)).all())
        payments = db.session.scalar(sa.select(sa.func.count(sa.distinct(LedgerEntry.payment)))
                                     .where(LedgerEntry.kind == "donation"))
        raised = db.session.scalar(sa.select(sa.func.sum(Donation.total)).where(Donation.status == "paid"))
        total = db.session.get(CampaignTotal, public_id)
        ordered = db.session.execute(sa.select(Donation.ledger_seq).where(Donation.status == "paid")
                                     .order_by(Donation.paid_at, Donation.id)).scalars().all()
        ok = (kinds.get("donation") == paid and payments == paid and total.donation_count == paid
              and total.raised == raised)
        db.session.remove()
        db.engine.dispose()
    print(f"chain check: {paid} donations paid, entries {kinds}, distinct payments {payments}, campaign "
          f"total {total.donation_count} donations / {total.raised} raised: "
          f"{'OK, each donation once' if ok else 'MISMATCH'}; ledger order = order of confirmation: "
          f"{'yes' if ordered == sorted(ordered) else 'NO'}")
    if not ok:
        raise SystemExit(1)


def print_batches(log: Path) -> None:
    batches = [(int(n), float(w), float(h)) for n, w, h in BATCH_LINE.findall(log.read_text())]
    if not batches:
        print("no confirmation batches logged")
        return
    events = sum(n for n, _, _ in batches)
    held = sum(h for _, _, h in batches)
    sizes = [n for n, _, _ in batches]
    print(f"batches: {len(batches)} for {events} events: mean size {events / len(batches):.2f}, "
          f"max {max(sizes)}, {sum(1 for n in sizes if n > 1)} batches of more than one; "
          f"by size {dict(sorted((s, sizes.count(s)) for s in set(sizes)))}")
    print(f"append lock held {held / 1000:.2f} s in all (by confirmation batches)")
    print(f"append lock held per batch: mean {statistics.fmean(h for _, _, h in batches):.2f} ms, "
          f"per entry (confirmation): {held / events:.2f} ms; "
          f"waited for per batch: mean {statistics.fmean(w for _, w, _ in batches):.2f} ms")


def start_gunicorn(url: str, instance: str, stripe_url: str, port: int, workers: int, log: Path,
                   root: Path = ROOT):
    env = {**os.environ, "DATABASE_URL": url, "AMANAH_ENV": "testing", "AMANAH_INSTANCE_PATH": instance,
           "RATELIMIT_ENABLED": "false", "STRIPE_SECRET_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": SECRET,
           "STRIPE_API_BASE": stripe_url}
    with open(log, "w") as log_file:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", str(HERE / "gunicorn_batches.py"),
             "-w", str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=root, env=env, stderr=log_file)


def write_events(sessions: list[dict], path: Path) -> None:
    """One signed checkout.session.completed per session, signed now (good for 300 s)."""
    from tests.factories.fake_stripe import make_event, webhook
    with open(path, "w") as f:
        for session in sessions:
            body, headers = webhook(make_event("checkout.session.completed", session), SECRET)
            f.write(f"{headers['Stripe-Signature']}\t{body.decode()}\n")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each of these processes still there (Linux /proc)."""
    spent = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return spent


def cpu_since(before: dict[int, float], pids: list[int]) -> float:
    """CPU spent by `pids` since `before` (a process that began since counted from zero)."""
    return sum(now - before.get(pid, 0.0) for pid, now in cpu_seconds(pids).items())


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving `database` (their titles name it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
                found.append(int(entry.name))
    return found


def measure(url: str, base: str, events: Path, log: Path, args, server: int | None = None) -> int:
    """Hello world, then the webhooks, each for --seconds; prints the rates, and the CPU the app's
    workers (children of the `server` pid) and the database's backends spent per confirmation
    (less sensitive than rates to what else runs on a shared machine); returns donations paid."""
    load = os.getloadavg()[0]
    run_wrk(f"{base}/healthz", argparse.Namespace(**{**vars(args), "seconds": 2}))  # warm up
    hello, _ = run_wrk(f"{base}/healthz", args)
    log.write_text("")
    before = count_paid(url)
    workers = children(server) if server else []
    database = sa.engine.make_url(url).database
    app_before, pg_before = cpu_seconds(workers), cpu_seconds(backends(database))
    started = time.perf_counter()
    rate, output = run_wrk(f"{base}/webhooks/stripe", args, HERE / "webhooks_wrk.lua",
                           {"WEBHOOK_EVENTS": str(events), "WRK_THREADS": str(args.threads)})
    elapsed = time.perf_counter() - started
    time.sleep(1)  # requests still in flight when wrk stopped
    # (A backend that ended meanwhile is lost to the count: the app's pool keeps its connections.)
    app_spent, pg_spent = cpu_since(app_before, workers), cpu_since(pg_before, backends(database))
    paid = count_paid(url) - before
    duration = float(re.search(r"requests in ([\d.]+)(m?s)", output).group(1))
    duration = duration / 1000 if re.search(r"requests in [\d.]+ms", output) else duration
    confirmed = paid / duration
    statuses = " ".join(re.findall(r"status (\d+: \d+)", output))
    print(f"gunicorn -w {args.workers} (sync workers), PostgreSQL; wrk -t{args.threads} "
          f"-c{args.connections} -d{args.seconds}s; {os.cpu_count()} CPUs shared with other work "
          f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after)")
    print(f"hello world GET /healthz requests/s:              {hello:8.1f}")
    print(f"confirmed donations/s (signed webhooks, {paid} paid): {confirmed:8.1f}  "
          f"(webhook requests/s {rate:.1f}; statuses {statuses}; wall {elapsed:.1f} s)")
    if paid and workers:
        print(f"CPU per confirmed donation (the webhook run's, over donations paid): app workers "
              f"{app_spent / paid * 1000:.1f} ms, PostgreSQL backends {pg_spent / paid * 1000:.1f} ms")
    ratio = confirmed / hello
    print(f"ratio: {ratio:.1%} (target >= 20%: {'met' if ratio >= 0.20 else 'MISSED'})")
    if paid >= args.donations:
        print("every donation was confirmed before wrk stopped: raise --donations for a true rate")
    return paid


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--donations", type=int, default=3000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (README: -w 4)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="serve the app of another checkout of the same schema (before/after runs)")
    args = parser.parse_args()
    from tests.factories.fake_stripe import FakeStripe
    gunicorn: subprocess.Popen | None = None
    url, drop = make_database()
    tmp = tempfile.TemporaryDirectory()
    fake = FakeStripe(API_KEY).start()
    try:
        app = build_app(url, tmp.name, fake.url)
        started = time.perf_counter()
        public_id, sessions = fill(app, fake, args.donations)
        print(f"filled {args.donations} pending donations with paid checkout sessions "
              f"in {time.perf_counter() - started:.1f} s")
        port, log, events = free_port(), Path(tmp.name) / "gunicorn.log", Path(tmp.name) / "events.tsv"
        gunicorn = start_gunicorn(url, tmp.name, fake.url, port, args.workers, log, args.root)
        wait_for(f"http://127.0.0.1:{port}/healthz", timeout=120)  # slow to boot on a busy machine
        write_events(sessions, events)
        measure(url, f"http://127.0.0.1:{port}", events, log, args, gunicorn.pid)
        stop(gunicorn)
        gunicorn = None
        print_batches(log)
        errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
        if errors:
            print(f"the app logged {len(errors)} errors, first: {errors[0]}")
        verify(app, public_id, count_paid(url))
    finally:
        if gunicorn is not None:
            stop(gunicorn)
        fake.stop()
        drop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
