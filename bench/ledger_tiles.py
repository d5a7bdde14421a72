"""Tile serving and the witness round trip on a large ledger (target: a full tile in <= 5 ms median
at 1,000,000 entries).

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/ledger_tiles.py --size 1000000
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE amanah_tiles'
    python bench/ledger_tiles.py --size 1000000 \
        --database-url postgresql://postgres@127.0.0.1:5432/amanah_tiles

Brings the database's schema up to date (flask db upgrade: an empty database gets every table),
fills it up to --size entries with bench/ledger_fill.py if it holds fewer (on PostgreSQL on a
2-core machine, 1,000,000 entries take about a quarter of an hour, then VACUUM ANALYZE; a filled
database is reused), signs a checkpoint, then times, through the app (routing, one query, the response):
random full level-0 and level-1 hash tiles, full entry bundles (plain and gzip), the partial
tiles at the end; and a witness round trip: `python -m ledger.witness`'s server on loopback in
this process, add-checkpoint with a consistency proof from the previous size, for growing sizes.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from flask_migrate import upgrade
from ledger_fill import fill

from amanah import create_app
from amanah.extensions import db
from ledger import checkpoints, cosignature, note, queries, storage, tiles, tree, witness


def timed(fn, samples: int) -> tuple[float, float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(int(len(times) * 0.99) - 1, 0)]


def report(name: str, fn, samples: int) -> None:
    for _ in range(samples // 5):  # warm-up: caches, connections, the database's pages
        fn()
    median, p99 = timed(fn, samples)
    print(f"{name:<44} median {median:6.2f} ms   p99 {p99:6.2f} ms", flush=True)


def main() -> None:  # noqa: PLR0915 - one benchmark, read top to bottom
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--witness-samples", type=int, default=200)
    parser.add_argument("--database-url", help="default: DATABASE_URL (the dev SQLite file if unset)")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url  # for this app and ledger_fill's
    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        have = storage.size(db.session)
        db.session.remove()
    if have < args.size:
        print(f"filling {args.size - have:,} entries first...", file=sys.stderr)
        elapsed = fill(args.size - have)
        print(f"filled {args.size - have:,} entries in {elapsed / 60:.1f} min")
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                # Freshly written pages get their hint bits set on first read, and the planner
                # needs statistics: a fresh fill is otherwise timed at twice its later cost.
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("VACUUM ANALYZE ledger_hashes, ledger_entries")
            db.session.remove()
    rng = random.Random(20)
    client = app.test_client()
    assert client.get("/ledger/checkpoint").status_code == 200
    with app.app_context():
        n = storage.signed_size(db.session)
        print(f"ledger size {n:,} (signed) on {db.engine.dialect.name}")
        full0, full1 = n // 256, n // 65536

        def get(path, **headers):
            def fetch():
                response = client.get(path() if callable(path) else path, headers=headers)
                assert response.status_code == 200, response.status_code
            return fetch

        def tile_path(level, count):
            return lambda: f"/ledger/{tiles.Tile(level, rng.randrange(count), 256).path()}"

        report("full level-0 tile (HTTP)", get(tile_path(0, full0)), args.samples)
        report("full level-1 tile (HTTP)", get(tile_path(1, full1)), args.samples)
        with queries.reader() as source:  # as the route reads it: in autocommit on PostgreSQL
            report("full level-0 tile (storage.read_tile alone)",
                   lambda: storage.read_tile(source, tiles.Tile(0, rng.randrange(full0), 256)),
                   args.samples)
        bundle = tile_path(None, full0)
        report("full entry bundle (HTTP, identity)", get(bundle), args.samples)
        report("full entry bundle (HTTP, gzip)", get(bundle, **{"Accept-Encoding": "gzip"}), args.samples)
        last = [t for t in tiles.tiles_for_size(n) if not t.full]
        report(f"partial tiles at the end ({len(last)})", get(lambda: f"/ledger/{rng.choice(last).path()}"),
               args.samples)

        # The witness round trip, over loopback HTTP with a consistency proof each time.
        signing_key = checkpoints.signing_key_text()
        key = note.parse_signing_key(signing_key).verifier().text()
        reader = storage.hash_reader(db.session)
        signer = cosignature.parse_witness_signing_key(cosignature.generate_witness_key("bench.test/w")[0])
        with tempfile.TemporaryDirectory() as folder:
            w = witness.Witness(signer, [key], Path(folder) / "w.sqlite3")
            ready = threading.Event()
            servers = []
            threading.Thread(target=witness.serve, args=(w, "127.0.0.1", 0), daemon=True,
                             kwargs={"ready": lambda s: (servers.append(s), ready.set())}).start()
            ready.wait(10)
            url = f"http://127.0.0.1:{servers[0].server_port}/add-checkpoint"
            origin = app.config["LEDGER_ORIGIN"]
            sizes = iter(range(n - 2 * args.witness_samples, n + 1))  # warm-up, then the samples
            state = {"old": 0}

            def round_trip():
                size = next(sizes)
                text = note.sign_checkpoint(origin, size, tree.tree_hash(size, reader), signing_key)
                old = state["old"]
                proof = tree.prove_tree(size, old, reader) if 0 < old < size else []
                body = cosignature.add_checkpoint_request(old, proof, text)
                with urllib.request.urlopen(urllib.request.Request(url, data=body)) as r:
                    assert r.status == 200
                state["old"] = size

            round_trip()
            report("witness round trip (sign, proof, POST, cosign)", round_trip, args.witness_samples)
            servers[0].shutdown()
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
