"""Appends per second with 1, 4 and 8 writer processes, beside a bare INSERT+COMMIT of the same size.

    python bench/ledger_append.py                 # SQLite and PostgreSQL (127.0.0.1:5432)
    python bench/ledger_append.py --backends sqlite --per-writer 300

Each writer appends one entry per transaction through the real append service (lock, head read,
stored hashes, totals), exactly as a webhook confirming a donation does. The baseline inserts a
row of the same size into a plain table and commits, in the same database, with the same writers.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def make_database(backend: str, workdir: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    name = f"amanah_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(False), drop


def build_app(url: str, instance: str):
    from amanah import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance,
                       "AMANAH_ENV": "testing", "RATELIMIT_ENABLED": False})


def migrate(url: str, instance: str) -> None:
    from flask_migrate import upgrade

    from amanah.extensions import db
    app = build_app(url, instance)
    with app.app_context():
        upgrade()
        # SQLite's INTEGER PRIMARY KEY is the 64-bit rowid; PostgreSQL needs BIGINT for writer ids.
        types = ("INTEGER", "BLOB") if url.startswith("sqlite") else ("BIGINT", "BYTEA")
        db.session.execute(sa.text(f"CREATE TABLE bench_rows (id {types[0]} PRIMARY KEY, "
                                   f"body {types[1]} NOT NULL, h {types[1]} NOT NULL)"))
        db.session.commit()
        db.engine.dispose()


def ledger_writer(url, instance, worker, count, barrier, results):
    from amanah.extensions import db
    from ledger import storage
    app = build_app(url, instance)
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
    barrier.wait()
    started = time.perf_counter()
    for i in range(count):
        with app.app_context():
            storage.append(db.session, kind="donation", campaign=f"bench{worker % 4}", amount=5_000_000,
                           currency="IDR", payment=f"pi_bench_{worker}_{i}",
                           donor="ab" * 32)
            db.session.commit()
    results.put(time.perf_counter() - started)


def bare_writer(url, instance, worker, count, barrier, results):
    from amanah.extensions import db
    app = build_app(url, instance)
    body = b"x" * 330  # about one leaf
    barrier.wait()
    started = time.perf_counter()
    for i in range(count):
        with app.app_context():
            db.session.execute(sa.text("INSERT INTO bench_rows (id, body, h) VALUES (:id, :b, :h)"),
                               {"id": worker * 10_000_000 + i, "b": body, "h": b"h" * 32})
            db.session.commit()
    results.put(time.perf_counter() - started)


def run(target, url, instance, writers, per_writer) -> float:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=target,
                         args=(url, instance, w + writers * 1000, per_writer, barrier, results))
             for w in range(writers)]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    if any(p.exitcode for p in procs):
        raise SystemExit("a writer failed")
    return writers * per_writer / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--writers", default="1,4,8")
    parser.add_argument("--per-writer", type=int, default=500)
    args = parser.parse_args()
    print(f"{'backend':<11}{'writers':>8}{'appends/s':>12}{'bare/s':>10}{'ratio':>8}")
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            url, drop = make_database(backend, Path(tmp))
            try:
                migrate(url, tmp)
                for writers in map(int, args.writers.split(",")):
                    appends = run(ledger_writer, url, tmp, writers, args.per_writer)
                    bare = run(bare_writer, url, tmp, writers, args.per_writer)
                    print(f"{backend:<11}{writers:>8}{appends:>12,.0f}{bare:>10,.0f}{appends / bare:>8.2f}")
            finally:
                drop()


if __name__ == "__main__":
    main()
