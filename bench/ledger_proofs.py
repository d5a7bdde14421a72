"""Inclusion and consistency proof latency on a large ledger (target: <= 5 ms median at 1M).

    DATABASE_URL=postgresql://postgres@127.0.0.1/amanah_bench python bench/ledger_proofs.py --size 1000000

Fills the configured database up to --size entries with bench/ledger_fill.py if it holds fewer,
then times proofs for random (index, size) pairs, both as service calls and as full HTTP
requests through the app (routing, parameter checks, JSON), and prints median and p99.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_fill import fill

from amanah import create_app
from amanah.extensions import db
from ledger import storage


def timed(fn, samples: int) -> tuple[float, float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        have = storage.size(db.session)
        db.session.remove()
    if have < args.size:
        print(f"filling {args.size - have:,} entries first...", file=sys.stderr)
        fill(args.size - have)
    rng = random.Random(7)
    client = app.test_client()
    with app.app_context():
        n = storage.size(db.session)
        print(f"ledger size {n:,} on {db.engine.dialect.name}")

        def inclusion():
            storage.inclusion_proof(db.session, rng.randrange(n), n)

        def consistency():
            storage.consistency_proof(db.session, rng.randrange(1, n), n)

        def http_inclusion():
            r = client.get(f"/ledger/proof/inclusion?index={rng.randrange(n)}&size={n}")
            assert r.status_code == 200

        def http_consistency():
            r = client.get(f"/ledger/proof/consistency?old={rng.randrange(1, n)}&size={n}")
            assert r.status_code == 200

        for name, fn in [("inclusion proof (service)", inclusion),
                         ("consistency proof (service)", consistency),
                         ("inclusion proof (HTTP)", http_inclusion),
                         ("consistency proof (HTTP)", http_consistency)]:
            median, p99 = timed(fn, args.samples)
            print(f"{name:<30} median {median:6.2f} ms   p99 {p99:6.2f} ms")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
