"""How fast could any confirmation be here? The first steps of one, alone, against hello world.

    python bench/webhook_floor.py                  # 3000 events, 10 s per route, 16 connections

Issue 21 asks confirmed donations through signed webhooks to reach 20% of the same server's
hello-world requests/s. Every confirmation, whatever the ledger does after, has to check Stripe's
signature, re-fetch the Checkout Session (expanded to its balance transaction: the fee entry's
amount is nowhere in the event) and record the event before it answers. This measures those
steps alone, with the same server (gunicorn -w 4 sync workers on PostgreSQL, the README's
production command), the same wrk and the same pre-signed events as bench/webhooks_wrk.py, through
bench/floor_app.py's routes, which run the product's own code for each step and stop there:

    verify            signature + JSON
    refetch           signature + JSON + the re-fetch from Stripe (the fake, in this process)
    record            signature + JSON + one INSERT of the event and its COMMIT (no re-fetch)
    refetch-record    all three: a confirmation up to the ledger, with no ledger work at all

(pending_confirmations is UNLOGGED on PostgreSQL, so `record` writes no WAL: cheaper than any
durable record of an event answered before it is applied.) If refetch-record is under 20% of hello
world, no design of what comes after it reaches 20% on this machine.

It also prints each run's CPU per request: the app's workers, PostgreSQL's backends, and the fake
Stripe (a thread of this process, which otherwise only waits for wrk). Stripe's own CPU is not on
our server in production, so the last line estimates the rate had the fake cost nothing: the
machine's busy time (/proc/stat) less the fake's, over the requests answered.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from webhooks import API_KEY, SECRET, build_app, free_port, make_database, wait_for  # noqa: E402
from webhooks_wrk import backends, children, cpu_seconds, cpu_since, fill, run_wrk, stop, write_events  # noqa: E402

ROUTES = ("verify", "refetch", "record", "refetch-record")
TARGET = 0.20


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """This process's CPU seconds: the fake Stripe's thread, while the main thread waits for wrk."""
    times = os.times()
    return times.user + times.system


def start(url: str, instance: str, stripe_url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "AMANAH_ENV": "testing", "AMANAH_INSTANCE_PATH": instance,
           "RATELIMIT_ENABLED": "false", "STRIPE_SECRET_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": SECRET,
           "STRIPE_API_BASE": stripe_url}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--pythonpath", f"{ROOT},{HERE}", "-w", str(workers),
         "--log-level", "warning", "-b", f"127.0.0.1:{port}", "floor_app:app"], cwd=ROOT, env=env)


def run(url: str, args, server: int, database: str, script: Path | None = None,
        env: dict | None = None) -> dict:
    """One wrk run, with the CPU each party spent on it."""
    workers, pg = children(server), backends(database)
    app_before, pg_before = cpu_seconds(workers), cpu_seconds(pg)
    fake_before, busy_before = own_cpu(), busy_seconds()
    rate, output = run_wrk(url, args, script, env)
    busy, fake = busy_seconds() - busy_before, own_cpu() - fake_before
    answered = int(output.split(" requests in ")[0].split()[-1])
    statuses = dict(line.split(": ") for line in output.splitlines() if line.startswith("status "))
    if (script and set(statuses) != {"status 200"}) or "Non-2xx" in output:
        raise SystemExit(f"{url} answered {statuses}:\n{output}")
    return {"rate": rate, "answered": answered, "busy": busy, "fake": fake,
            "app": cpu_since(app_before, workers), "pg": cpu_since(pg_before, backends(database))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (README: -w 4)")
    args = parser.parse_args()
    from tests.factories.fake_stripe import FakeStripe
    url, drop = make_database()
    tmp = tempfile.TemporaryDirectory()
    fake = FakeStripe(API_KEY).start()
    server = None
    try:
        app = build_app(url, tmp.name, fake.url)
        _, sessions = fill(app, fake, args.events)
        events, script = Path(tmp.name) / "events.tsv", Path(tmp.name) / "route.lua"
        write_events(sessions, events)
        port = free_port()
        server = start(url, tmp.name, fake.url, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", timeout=120)
        run_wrk(f"{base}/healthz", argparse.Namespace(**{**vars(args), "seconds": 2}))  # warm up
        database = sa.engine.make_url(url).database
        results = {"hello world GET /healthz": run(f"{base}/healthz", args, server.pid, database)}
        hello = results["hello world GET /healthz"]["rate"]
        print(f"gunicorn -w {args.workers} (sync workers), PostgreSQL; wrk -t{args.threads} "
              f"-c{args.connections} -d{args.seconds}s; {os.cpu_count()} CPUs; "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'':28} {'req/s':>8} {'of hello':>9}   CPU per request, ms: "
              f"{'app':>5} {'PG':>5} {'fake':>5} {'machine':>7}")
        for route in ROUTES:
            script.write_text((HERE / "webhooks_wrk.lua").read_text()
                              .replace('"/webhooks/stripe"', f'"/bench/{route}"'))
            env = {"WEBHOOK_EVENTS": str(events), "WRK_THREADS": str(args.threads)}
            results[f"POST /bench/{route}"] = run(f"{base}/bench/{route}", args, server.pid, database,
                                                  script, env)
        for name, r in results.items():
            n = r["answered"]
            print(f"{name:28} {r['rate']:8.1f} {r['rate'] / hello:9.1%}   {'':21}"
                  f"{r['app'] / n * 1000:5.2f} {r['pg'] / n * 1000:5.2f} {r['fake'] / n * 1000:5.2f} "
                  f"{r['busy'] / n * 1000:7.2f}")
        floor = results["POST /bench/refetch-record"]
        without_fake = floor["answered"] / ((floor["busy"] - floor["fake"]) / os.cpu_count())
        print(f"20% of hello world is {hello * TARGET:.0f} confirmations/s: {TARGET * 100:.0f}% would leave "
              f"{os.cpu_count() / (hello * TARGET) * 1000:.2f} ms of machine CPU per confirmation")
        print(f"refetch-record, a confirmation before any ledger work: {floor['rate'] / hello:.1%} of hello "
              f"world ({'below' if floor['rate'] < hello * TARGET else 'above'} the target)")
        print(f"... had the fake Stripe cost nothing (estimate, machine busy time less the fake's): "
              f"{without_fake:.0f}/s = {without_fake / hello:.1%} of hello world")
    finally:
        if server is not None:
            stop(server)
        fake.stop()
        drop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
