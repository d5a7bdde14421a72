"""What a donor's pages cost next to hello world: wrk against the README's production command.

    python bench/donor_pages.py [--entries 100000] [--duration 10] [--connections 8]

Creates a throwaway PostgreSQL database on 127.0.0.1:5432, runs `flask db upgrade` and
`flask demo`, spreads N more ledger entries over the demo campaigns (bench/ledger_fill.py
--campaigns), starts `gunicorn -w 4` (the README's production command, rate limits off), and
drives each route with wrk (Debian's package) for the same time and connections: /healthz (the
hello-world baseline), /, /campaigns/, a campaign page, /ledger and a ledger entry page. Prints
requests/s, each route's share of /healthz and its p99; then stops gunicorn and drops the
database. Targets (issue 15): /campaigns/ and a campaign page >= 40% of /healthz, p99 <= 50 ms.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv/bin"
PG = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


def flask(env: dict, *args: str) -> str:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def wrk(url: str, duration: int, connections: int) -> tuple[float, float]:
    """(requests/s, p99 in ms) of one wrk run; non-2xx answers fail the benchmark."""
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"{url} answered errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def get(url: str) -> tuple[str, bytes]:
    """(final address, body) of a GET on our own loopback server."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - http://127.0.0.1 only
        return response.url, response.read()


@contextlib.contextmanager
def demo_server(entries: int, label: str = "donor"):
    """The README's production command (gunicorn -w 4, rate limits off) on a throwaway PostgreSQL
    database with the demo data and `entries` more ledger entries spread over the published demo
    campaigns; yields (base address, the published campaigns' public ids), then stops gunicorn
    and drops the database."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    name = f"amanah_bench_{label}_{os.getpid()}"
    instance = Path(tempfile.mkdtemp(prefix="amanah-bench-"))
    env = {**os.environ, "DATABASE_URL": f"{PG}/{name}", "AMANAH_INSTANCE_PATH": str(instance),
           "RATELIMIT_ENABLED": "false", "REDIS_URL": ""}
    psql(f'CREATE DATABASE "{name}"')
    gunicorn = None
    try:
        flask(env, "db", "upgrade")
        flask(env, "demo")
        ids = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", name, "-Atc",
                              "SELECT public_id FROM campaigns WHERE status = 'published' ORDER BY id"],
                             capture_output=True, text=True, check=True).stdout.split()
        started = time.monotonic()
        subprocess.run([sys.executable, str(ROOT / "bench/ledger_fill.py"), str(entries),
                        "--campaigns", ",".join(ids)], cwd=ROOT, env=env, check=True, capture_output=True)
        print(f"ledger filled with {entries:,} more entries in {time.monotonic() - started:.0f} s")
        port = free_port()
        gunicorn = subprocess.Popen([str(BIN / "gunicorn"), "-w", "4", "-b", f"127.0.0.1:{port}",
                                     "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        yield base, ids
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(instance, ignore_errors=True)


def measure(base: str, routes: dict[str, str], duration: int, connections: int, entries: int) -> None:
    """Warm every worker on each route, run wrk on each in turn, print req/s, share of /healthz
    (routes must include it) and p99."""
    for path in routes.values():  # warm every worker's caches
        for _ in range(8):
            get(base + path)
    results = {label: wrk(base + path, duration, connections) for label, path in routes.items()}
    hello = results["/healthz"][0]
    print(f"wrk -c {connections} -d {duration}s against gunicorn -w 4, {entries:,}-entry PostgreSQL ledger:")
    for label, (rps, p99) in results.items():
        share = "" if label == "/healthz" else f"  {100 * rps / hello:5.1f}% of /healthz"
        print(f"  {label:<14} {rps:8.0f} req/s  p99 {p99:6.1f} ms{share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with demo_server(args.entries) as (base, ids):
        campaign, _ = get(f"{base}/campaigns/{ids[0]}")  # redirected to its canonical address
        routes = {"/healthz": "/healthz", "/": "/", "/campaigns/": "/campaigns/",
                  "campaign page": campaign.removeprefix(base), "/ledger": "/ledger",
                  "ledger entry": f"/ledger/entries/{args.entries // 2}"}
        measure(base, routes, args.duration, args.connections, args.entries)


if __name__ == "__main__":
    main()
