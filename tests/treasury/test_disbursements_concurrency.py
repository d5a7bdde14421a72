"""Treasurers submitting at the same moment can never spend more than the balance.

Each writer records a disbursement of 40% of the balance at once (released together by a
barrier), so exactly two fit. Without the append lock taken before the balance is read, several
writers would read the same balance and all succeed.
"""
from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns.services import today_wib
from tests.conftest import make_app, storage_config

pytestmark = pytest.mark.slow

BALANCE = 1_000_000 * 100  # Rp 1.000.000
SHARE = 400_000 * 100      # 40%: two fit, the third would overdraw


def _setup(url: str, instance: Path, files: dict | None = None) -> str:
    from ledger import storage
    from tests.factories.treasury import make_campaign

    app = make_app(url, instance, **(files or {}))
    with app.app_context():
        campaign = make_campaign()
        storage.append(db.session, kind="donation", campaign=campaign.public_id, amount=BALANCE,
                       currency="IDR")
        db.session.commit()
        public_id = campaign.public_id
        db.session.remove()
        db.engine.dispose()
    return public_id


def _record(app, public_id: str, n: int) -> str:
    """One attempt in its own app context (its own session and connection): 'ok' or 'refused'."""
    from tests.factories.treasury import picture
    from treasury import disbursements

    with app.test_request_context():
        from campaigns.models import Campaign
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))
        data = disbursements.DisbursementInput(
            amount=SHARE, paid_on=today_wib(), payee_kind="organization", payee_name=f"Toko {n}",
            purpose=f"Pembelian bahan tahap {n}", category="goods", evidence=picture(n))
        try:
            disbursements.record(campaign, campaign.treasurer, data)
            db.session.commit()
            return "ok"
        except disbursements.ValidationError as exc:
            db.session.rollback()
            assert "available balance" in exc.errors["amount"] or "saldo" in exc.errors["amount"]
            return "refused"


def _check_outcome(url: str, instance: Path, public_id: str, results: list[str], writers: int,
                   files: dict) -> None:
    from amanah import storage as file_storage

    assert sorted(results) == ["ok"] * 2 + ["refused"] * (writers - 2)
    app = make_app(url, instance, **files)
    verified = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output
    with app.app_context():
        from ledger.models import CampaignTotal, LedgerEntry
        from treasury.models import Disbursement
        totals = db.session.get(CampaignTotal, public_id)
        assert totals.disbursed == 2 * SHARE and totals.balance == BALANCE - 2 * SHARE
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Disbursement)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(
            LedgerEntry.kind == "disbursement")) == 2
        # The refused writers' files went with their rolled-back transactions.
        stored = sorted(key.rsplit("/", 1)[1] for key in file_storage.current().keys("uploads/evidence/"))
        assert stored == sorted(db.session.scalars(sa.select(Disbursement.evidence_sha256)))
        db.session.remove()
        db.engine.dispose()


@pytest.mark.files
def test_concurrent_threads_never_overdraw(request, fresh_database_url, tmp_path):
    writers = 6
    files = storage_config(request)
    public_id = _setup(fresh_database_url, tmp_path, files)
    app = make_app(fresh_database_url, tmp_path, **files)
    barrier = threading.Barrier(writers)
    results: list[str] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=60)
            results.append(_record(app, public_id, n))
        except BaseException as exc:  # surfaced by the assertion below, never lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(writers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == []
    with app.app_context():
        db.engine.dispose()
    _check_outcome(fresh_database_url, tmp_path, public_id, results, writers, files)


def _process_writer(url: str, instance: str, public_id: str, n: int, barrier, queue, files: dict) -> None:
    app = make_app(url, Path(instance), **files)
    barrier.wait(timeout=120)
    queue.put(_record(app, public_id, n))
    with app.app_context():
        db.engine.dispose()


def test_concurrent_processes_never_overdraw(request, fresh_database_url, tmp_path):
    writers = 4
    files = storage_config(request)
    public_id = _setup(fresh_database_url, tmp_path, files)
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(writers), context.Queue()
    # Daemon processes and one deadline: a writer that dies fails the test, never hangs the run.
    processes = [context.Process(target=_process_writer, daemon=True,
                                 args=(fresh_database_url, str(tmp_path), public_id, n, barrier, queue,
                                       files))
                 for n in range(writers)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + 300
    results = []
    try:
        while len(results) < writers and time.monotonic() < deadline:
            try:
                results.append(queue.get(timeout=1))
            except Exception:  # queue.Empty: see whether a writer died
                if any(p.exitcode not in (None, 0) for p in processes):
                    break
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    assert [p.exitcode for p in processes] == [0] * writers
    _check_outcome(fresh_database_url, tmp_path, public_id, results, writers, files)


def test_the_lock_is_what_makes_it_safe(fresh_database_url, tmp_path, monkeypatch):
    """Control: without the service's lock, writers that all read the balance before any of them
    appends do overdraw, so the tests above can fail. (PostgreSQL only: SQLite takes its write lock
    at BEGIN, so there is no unlocked read to race on.)"""
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("SQLite takes its write lock at BEGIN; there is no unlocked read to race on")
    from ledger import storage
    from treasury import disbursements
    public_id = _setup(fresh_database_url, tmp_path)
    app = make_app(fresh_database_url, tmp_path)
    writers = 4
    start, all_read = threading.Barrier(writers), threading.Barrier(writers)
    original_lock, original_balance = storage.lock, disbursements.available_balance
    calls = threading.local()

    def lock_only_for_the_append(session):
        calls.n = getattr(calls, "n", 0) + 1
        return None if calls.n == 1 else original_lock(session)  # the service's own call is skipped

    def balance_then_wait(campaign):
        balance = original_balance(campaign)
        all_read.wait(timeout=60)  # with the real lock this could never be reached by all writers
        return balance

    monkeypatch.setattr(storage, "lock", lock_only_for_the_append)
    monkeypatch.setattr(disbursements, "available_balance", balance_then_wait)
    results: list[str] = []

    def run(n: int) -> None:
        start.wait(timeout=60)
        calls.n = 0
        results.append(_record(app, public_id, n))

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with app.app_context():
        db.engine.dispose()
    assert results == ["ok"] * writers  # all four spent 40% each: overdrawn without the lock


def _reverse(app, disbursement_id: int, n: int) -> str:
    """One correction attempt in its own app context: 'ok' or 'refused'."""
    from treasury import disbursements
    from treasury.models import Disbursement

    with app.test_request_context():
        row = db.session.get(Disbursement, disbursement_id)
        try:
            disbursements.reverse(row, row.campaign.treasurer, f"Tercatat dua kali, percobaan {n}")
            db.session.commit()
            return "ok"
        except disbursements.ReversalRefused as exc:
            db.session.rollback()
            assert "already been corrected" in str(exc.args[0]) or "sudah" in str(exc.args[0])
            return "refused"


def test_simultaneous_corrections_reverse_a_disbursement_once(fresh_database_url, tmp_path):
    writers = 4
    public_id = _setup(fresh_database_url, tmp_path)
    app = make_app(fresh_database_url, tmp_path)
    assert _record(app, public_id, 1) == "ok"
    with app.app_context():
        from treasury.models import Disbursement
        disbursement_id = db.session.scalar(sa.select(Disbursement.id))
    barrier = threading.Barrier(writers)
    results: list[str] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=60)
            results.append(_reverse(app, disbursement_id, n))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == [] and sorted(results) == ["ok"] + ["refused"] * (writers - 1)
    verified = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output
    with app.app_context():
        from ledger.models import CampaignTotal, LedgerEntry
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(
            LedgerEntry.kind == "disbursement_reversal")) == 1
        totals = db.session.get(CampaignTotal, public_id)
        assert totals.disbursed == 0 and totals.balance == BALANCE
        db.session.remove()
        db.engine.dispose()
