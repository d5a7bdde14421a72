"""Content-addressed uploads shared by two transactions: a rollback removes only a file that no
committed transaction stored (amanah.file_claims), on both databases and both file stores."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from amanah import evidence, storage
from amanah.extensions import db
from amanah.file_claims import FileClaim
from tests.conftest import make_app, storage_config
from tests.factories.treasury import pdf, picture

pytestmark = pytest.mark.files


def _claims() -> list[str]:
    return list(db.session.scalars(sa.select(FileClaim.key).order_by(FileClaim.key)))


def test_a_committed_upload_is_claimed_and_a_rolled_back_one_is_removed(app):
    with app.app_context():
        kept, dropped = evidence.inspect(pdf(1)), evidence.inspect(picture(2))
        kept_key = evidence.store(kept)
        db.session.commit()
        evidence.store(dropped)
        assert evidence.exists(dropped.sha256)
        db.session.rollback()
        assert evidence.exists(kept.sha256) and not evidence.exists(dropped.sha256)
        assert _claims() == [kept_key]  # the rollback's own check left no claim behind
        claim = db.session.get(FileClaim, kept_key)
        assert claim.size == kept.size and claim.created_at.tzinfo is not None


def test_storing_bytes_someone_committed_and_rolling_back_keeps_the_file(app):
    with app.app_context():
        document = evidence.inspect(pdf(3))
        evidence.store(document)
        db.session.commit()
        evidence.store(document)  # a second disbursement citing the same invoice, say
        db.session.rollback()
        assert evidence.exists(document.sha256)


def test_a_file_from_before_the_claims_is_never_removed_by_a_rollback(app):
    """Files stored before file_claims existed have no claim; a rollback did not write them."""
    with app.app_context():
        document = evidence.inspect(pdf(4))
        key = evidence.key_for(document.sha256)
        storage.current().put(key, document.data, document.content_type)
        evidence.store(document)
        db.session.rollback()
        assert evidence.exists(document.sha256)
        assert _claims() == []


def test_a_savepoints_file_stays_when_the_outer_transaction_stores_it_again(app):
    """The undo of a rolled-back savepoint runs when the whole transaction is over, and then finds
    the claim the outer transaction committed."""
    with app.app_context():
        document = evidence.inspect(picture(5))
        with pytest.raises(RuntimeError), db.session.begin_nested():
            evidence.store(document)
            raise RuntimeError("the first attempt fails")
        evidence.store(document)
        db.session.commit()
        assert evidence.exists(document.sha256)
        assert _claims() == [evidence.key_for(document.sha256)]


def test_a_rollback_never_removes_the_file_of_a_transaction_that_committed_meanwhile(
        request, fresh_database_url, tmp_path):
    """A double-submitted form: two transactions store the same bytes; the first rolls back after
    the second stored them. Without claims the second commits at once and the first's rollback then
    deletes the file the second's row names."""
    app = make_app(fresh_database_url, tmp_path, **storage_config(request))
    with app.app_context():
        document = evidence.inspect(pdf(6))
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with app.app_context():
                evidence.store(document)  # waits for the first transaction's claim
                db.session.commit()
        except BaseException as exc:  # surfaced below, never lost in the thread
            errors.append(exc)

    with app.app_context():
        key = evidence.store(document)
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        thread.join(timeout=1.0)  # long enough for an unguarded second transaction to commit
        db.session.rollback()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the second transaction hung"
    assert errors == []
    with app.app_context():
        assert evidence.exists(document.sha256)
        assert evidence.read(document.sha256) == document.data
        assert _claims() == [key]
        db.session.remove()
        db.engine.dispose()
