"""amanah.transactions: callbacks run after the outermost commit, in order, and never for work
that rolled back; a savepoint's rollback settles only what was registered inside it."""
from __future__ import annotations

import pytest

from amanah import transactions
from amanah.extensions import db
from amanah.transactions import after_commit, on_rollback
from tests.factories import make_user


@pytest.fixture
def calls():
    return []


def test_runs_after_commit_not_before(app, calls):
    with app.app_context():
        make_user("a@example.test")
        after_commit(calls.append, "sent")
        db.session.flush()
        assert calls == []
        assert len(transactions.pending()) == 1
        db.session.commit()
        assert calls == ["sent"]
        assert transactions.pending() == []
        db.session.commit()  # runs once only
    assert calls == ["sent"]


def test_arguments_are_passed(app, calls):
    with app.app_context():
        after_commit(lambda *args, **kwargs: calls.append((args, kwargs)), 1, 2, key="value")
        db.session.commit()
    assert calls == [((1, 2), {"key": "value"})]


def test_dropped_on_rollback(app, calls):
    with app.app_context():
        make_user("b@example.test")
        after_commit(calls.append, "never")
        db.session.rollback()
        assert transactions.pending() == []
        db.session.commit()  # a later commit does not resurrect it
    assert calls == []


def test_dropped_when_the_session_closes_without_a_commit(app, calls):
    with app.app_context():
        after_commit(calls.append, "never")
        db.session.close()
        db.session.commit()
    assert calls == []


def test_registered_outside_a_transaction_still_waits_for_the_commit(app, calls):
    with app.app_context():
        db.session.commit()
        assert not db.session().in_transaction()
        after_commit(calls.append, "later")
        assert calls == []
        db.session.commit()
    assert calls == ["later"]


def test_order_is_kept(app, calls):
    with app.app_context():
        for n in range(5):
            after_commit(calls.append, n)
        db.session.commit()
    assert calls == [0, 1, 2, 3, 4]


def test_a_released_savepoint_waits_for_the_outer_commit(app, calls):
    with app.app_context():
        after_commit(calls.append, "outer")
        with db.session.begin_nested():
            after_commit(calls.append, "inner")
        assert calls == []  # releasing a savepoint is not the commit
        db.session.commit()
    assert calls == ["outer", "inner"]


def test_a_savepoint_rolled_back_drops_only_its_own(app, calls):
    with app.app_context():
        after_commit(calls.append, "before")
        with pytest.raises(RuntimeError), db.session.begin_nested():
            after_commit(calls.append, "inside")
            raise RuntimeError("undo the savepoint")
        after_commit(calls.append, "after")
        db.session.commit()
    assert calls == ["before", "after"]


def test_an_outer_rollback_drops_what_a_released_savepoint_registered(app, calls):
    with app.app_context():
        with db.session.begin_nested():
            after_commit(calls.append, "inner")
        db.session.rollback()
        db.session.commit()
    assert calls == []


def test_a_failing_callback_is_logged_and_the_others_still_run(app, calls, caplog):
    def fail():
        raise RuntimeError("mail server on fire")

    with app.app_context():
        after_commit(calls.append, 1)
        after_commit(fail)
        after_commit(calls.append, 2)
        db.session.commit()  # does not raise: the transaction has committed
    assert calls == [1, 2]
    assert "after-commit callback" in caplog.text and "mail server on fire" in caplog.text


def test_a_callback_may_use_the_session(app, calls):
    def count_users():
        calls.append(db.session.execute(db.select(db.func.count()).select_from(db.metadata.tables["users"]))
                     .scalar_one())
        db.session.commit()

    with app.app_context():
        make_user("c@example.test")
        after_commit(count_users)
        db.session.commit()
    assert calls and calls[0] >= 1


@pytest.mark.own_app  # it adds a route
def test_a_request_that_fails_before_its_commit_runs_nothing(app, calls):
    @app.post("/test-after-commit-then-fail")
    def register_then_fail():
        after_commit(calls.append, "never")
        raise RuntimeError("boom before the commit")

    assert app.test_client().post("/test-after-commit-then-fail").status_code == 500
    with app.app_context():
        db.session.commit()
    assert calls == []


def test_on_rollback_runs_only_when_the_work_is_undone(app, calls):
    with app.app_context():
        on_rollback(calls.append, "kept")
        db.session.commit()
        assert calls == []
        with pytest.raises(RuntimeError), db.session.begin_nested():
            on_rollback(calls.append, "savepoint")
            raise RuntimeError("undo the savepoint")
        assert calls == []  # not while the outer transaction is open (it may hold locks)
        on_rollback(calls.append, "outer")
        db.session.rollback()
    assert calls == ["savepoint", "outer"]


def test_a_rolled_back_savepoints_undo_runs_when_the_outer_transaction_commits(app, calls):
    with app.app_context():
        make_user("undo@example.test")
        with pytest.raises(RuntimeError), db.session.begin_nested():
            on_rollback(calls.append, "savepoint")
            raise RuntimeError("undo the savepoint")
        on_rollback(calls.append, "kept")
        after_commit(calls.append, "committed")
        db.session.commit()
    assert calls == ["savepoint", "committed"]
