"""gunicorn configuration for bench/webhooks.py: per-request profile of each webhook, as JSON lines.

Loaded with `gunicorn -c bench/gunicorn_profile.py`; BENCH_PROFILE_PATH names the output file.
Nothing here is part of the product: it measures it from the outside with SQLAlchemy's engine
events and a wrapper around the stripe library's HTTP client.
For each POST /webhooks/stripe it records the SQL statements run, how long the ledger's append
lock was held (from `pg_advisory_xact_lock` returning to the transaction's commit), the Stripe
round trips and their latency, and the request's own time.
"""
from __future__ import annotations

import json
import os
import threading
import time

accesslog = None
errorlog = "-"
loglevel = "warning"

_local = threading.local()
_lock = threading.Lock()


def _install() -> None:
    import sqlalchemy as sa
    import sqlalchemy.orm  # sa.orm.Session, for the session events
    import stripe._http_client as http_client

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def before(conn, cursor, statement, params, context, executemany):
        stats = getattr(_local, "stats", None)
        if stats is not None:
            stats["queries"] += 1
            stats["statement_started"] = time.perf_counter()
            if "pg_advisory_xact_lock" in statement:
                stats["lock_asked"] = time.perf_counter()

    @sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def after(conn, cursor, statement, params, context, executemany):
        stats = getattr(_local, "stats", None)
        if stats is not None and stats.get("lock_taken"):
            stats["locked_sql_ms"] += (time.perf_counter() - stats["statement_started"]) * 1000
        if stats is not None and "pg_advisory_xact_lock" in statement:
            stats["lock_taken"] = time.perf_counter()
            stats["lock_wait_ms"] += (stats["lock_taken"] - stats.pop("lock_asked")) * 1000

    @sa.event.listens_for(sa.engine.Engine, "commit")
    def commit(conn):
        stats = getattr(_local, "stats", None)
        if stats is not None and stats.get("lock_taken"):
            stats["commit_started"] = time.perf_counter()

    # The advisory lock is released by the database's commit (or rollback): measure up to its end.
    @sa.event.listens_for(sa.orm.Session, "after_commit")
    def after_commit(session):
        stats = getattr(_local, "stats", None)
        if stats is not None and stats.get("lock_taken"):
            now = time.perf_counter()
            stats["lock_ms"] += (now - stats.pop("lock_taken")) * 1000
            stats["commit_ms"] += (now - stats.pop("commit_started", now)) * 1000

    @sa.event.listens_for(sa.orm.Session, "after_rollback")
    def after_rollback(session):
        after_commit(session)

    original = http_client.RequestsClient.request

    def timed_request(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            stats = getattr(_local, "stats", None)
            if stats is not None:
                stats["stripe_ms"].append((time.perf_counter() - started) * 1000)
    http_client.RequestsClient.request = timed_request


def post_worker_init(worker) -> None:
    _install()


def pre_request(worker, req) -> None:
    if req.path == "/webhooks/stripe":
        _local.stats = {
            "queries": 0, "lock_ms": 0.0, "lock_wait_ms": 0.0, "locked_sql_ms": 0.0, "commit_ms": 0.0,
            "stripe_ms": [], "started": time.perf_counter()}
    else:
        _local.stats = None


def post_request(worker, req, environ, resp) -> None:
    stats = getattr(_local, "stats", None)
    _local.stats = None
    if stats is None:
        return
    stats["request_ms"] = (time.perf_counter() - stats.pop("started")) * 1000
    for key in ("lock_taken", "statement_started", "commit_started", "lock_asked"):
        stats.pop(key, None)
    stats["status"] = resp.status_code if hasattr(resp, "status_code") else str(resp.status)
    line = json.dumps(stats) + "\n"
    with _lock, open(os.environ["BENCH_PROFILE_PATH"], "a") as f:
        f.write(line)
