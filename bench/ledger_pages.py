"""Throughput and latency of the public ledger pages, served by gunicorn as in production.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/amanah_bench_1m AMANAH_INSTANCE_PATH=/tmp/benchinst \\
        python bench/ledger_pages.py [--requests 3000] [--concurrency 8]

Fill the database first (bench/ledger_fill.py N). The script starts
`gunicorn -w 4 -b 127.0.0.1:<free port> wsgi:app` (the README's production command: four
synchronous workers; `--workers` and `--threads` to change it), warms every route up, then drives
each route with a small load generator (threads, one keep-alive http.client connection each,
127.0.0.1 only, bounded by a request count and a time limit) and prints requests/s, p50 and p99
for /healthz (the hello-world baseline), /ledger, a random entry page, a campaign's finances
page, and the whole /ledger/export.jsonl streamed once (MB/s, with the workers' VmRSS read from
/proc before, during and after). gunicorn is stopped at the end.

Targets (issue 7): each page >= 25% of hello-world requests/s, p99 <= 50 ms, export >= 50 MB/s
with flat worker memory.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "RATELIMIT_ENABLED": "false"}
    command = [str(ROOT / ".venv/bin/gunicorn"), "-w", str(workers), "--threads", str(threads),
               "-b", f"{HOST}:{port}", "--log-level", "warning", "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            status, _ = get(port, "/healthz")
            if status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start within 30 s")


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{master}\n" in status:
                pids.append(int(entry.name))
    return sorted(pids)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


def load(port: int, name: str, paths, requests: int, concurrency: int, max_seconds: float) -> Result:
    """`requests` GETs (fewer if `max_seconds` runs out) from `concurrency` keep-alive connections."""
    result = Result(name)
    counter = itertools.count()
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def run() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine, errors = [], 0
        while next(counter) < requests and time.monotonic() < deadline:
            path = paths()
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                errors += 1
        conn.close()
        with lock:
            result.latencies += mine
            result.errors += errors

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - started
    return result


def export_throughput(port: int, master: int) -> tuple[float, int, int, int, int]:
    """(MB/s, bytes, RSS before, peak RSS during, RSS after) of one full /ledger/export.jsonl."""
    pids = worker_pids(master)
    before = sum(rss_kib(p) for p in pids)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, sum(rss_kib(p) for p in pids))

    sampler = threading.Thread(target=sample)
    sampler.start()
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", "/ledger/export.jsonl")
    response = conn.getresponse()
    total = 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
    elapsed = time.perf_counter() - started
    conn.close()
    done.set()
    sampler.join()
    after = sum(rss_kib(p) for p in pids)
    return total / elapsed / 1e6, total, before, peak, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per route")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--max-seconds", type=float, default=30, help="time limit per route")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="above 1, gunicorn's threaded worker")
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()

    port = free_port()
    log = Path(tempfile.mkstemp(prefix="amanah-bench-gunicorn-", suffix=".log")[1])
    server = start_gunicorn(port, args.workers, args.threads, log)
    try:
        status, body = get(port, "/api/v1/ledger/entries?limit=1")
        listing = json.loads(body)
        size = listing["size"]
        if status != 200 or size == 0:
            raise SystemExit("the ledger is empty: fill it first with bench/ledger_fill.py N")
        campaign = listing["entries"][0]["entry"]["campaign"]
        rng = random.Random(7)
        routes = [
            ("hello world (/healthz)", lambda: "/healthz"),
            ("reference: static page /about", lambda: "/about"),
            ("/ledger", lambda: "/ledger"),
            (f"/ledger/entries/{size // 2} (one entry)", lambda: f"/ledger/entries/{size // 2}"),
            ("/ledger/entries/<random seq> (uncached)", lambda: f"/ledger/entries/{rng.randrange(size)}"),
            (f"/ledger/campaigns/{campaign}", lambda: f"/ledger/campaigns/{campaign}"),
        ]
        print(f"ledger size {size:,}; gunicorn -w {args.workers} --threads {args.threads} on port {port}; "
              f"{args.concurrency} client connections", flush=True)
        for name, paths in routes:  # warm up: connections, caches, every worker's chart series
            load(port, name, paths, requests=100, concurrency=args.concurrency, max_seconds=120)
        results = [load(port, name, paths, args.requests, args.concurrency, args.max_seconds)
                   for name, paths in routes]
        hello = results[0].rps
        print(f"\n{'route':<40} {'requests':>8} {'errors':>6} {'req/s':>8} {'% hello':>8} "
              f"{'p50 ms':>7} {'p99 ms':>7}")
        for r in results:
            share = 100 * r.rps / hello
            print(f"{r.name:<40} {len(r.latencies):>8} {r.errors:>6} {r.rps:>8.0f} {share:>7.0f}% "
                  f"{r.percentile(0.50):>7.1f} {r.percentile(0.99):>7.1f}")
        pages = results[2:]
        slow = [r.name for r in pages if r.rps < 0.25 * hello]
        late = [r.name for r in pages if r.percentile(0.99) > 50]
        print("\ntargets: pages >= 25% of hello world:", f"MISSED by {', '.join(slow)}" if slow else "met",
              "| p99 <= 50 ms:", f"MISSED by {', '.join(late)}" if late else "met")
        if not args.skip_export:
            mbps, total, before, peak, after = export_throughput(port, server.pid)
            seconds = total / mbps / 1e6
            print(f"\n/ledger/export.jsonl: {total / 1e6:,.0f} MB in {seconds:.1f} s = {mbps:.0f} MB/s "
                  f"(target >= 50: {'met' if mbps >= 50 else 'MISSED'}); workers' VmRSS "
                  f"{before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB peak, {after / 1024:.0f} MiB after")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
