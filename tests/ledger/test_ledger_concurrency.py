"""Many writer processes at once still make one linear chain."""
import multiprocessing
import time
from pathlib import Path

import pytest

from amanah.extensions import db
from ledger import storage
from tests.conftest import make_app

pytestmark = pytest.mark.slow

WRITERS, APPENDS = 8, 100


def writer(url: str, instance: str, worker: int, barrier) -> None:
    app = make_app(url, Path(instance))
    barrier.wait(timeout=120)
    for i in range(APPENDS):
        with app.app_context():
            storage.append(db.session, kind="donation", campaign=f"camp{worker}", amount=1000 + i,
                           currency="IDR", payment=f"pi_{worker}_{i}")
            db.session.commit()
    with app.app_context():
        db.engine.dispose()


def test_eight_processes_make_one_chain(fresh_database_url, tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    # Daemon processes with a shared deadline: a writer that dies must fail the test at once, not
    # leave the others waiting at the barrier and the test run hanging on exit.
    processes = [context.Process(target=writer, args=(fresh_database_url, str(tmp_path), n, barrier),
                                 daemon=True)
                 for n in range(WRITERS)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + 300
    try:
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    assert [p.exitcode for p in processes] == [0] * WRITERS

    app = make_app(fresh_database_url, tmp_path)
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert f"{WRITERS * APPENDS} entries" in result.output
    with app.app_context():
        from ledger.models import CampaignTotal, LedgerEntry
        seqs = db.session.execute(db.select(LedgerEntry.seq).order_by(LedgerEntry.seq)).scalars().all()
        assert seqs == list(range(WRITERS * APPENDS))
        totals = db.session.execute(db.select(CampaignTotal)).scalars().all()
        assert sorted(t.donation_count for t in totals) == [APPENDS] * WRITERS
        assert sum(t.raised for t in totals) == WRITERS * sum(1000 + i for i in range(APPENDS))
        db.session.remove()
        db.engine.dispose()
