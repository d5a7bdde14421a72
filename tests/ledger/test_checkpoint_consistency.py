"""A checkpoint is signed only if it extends the newest signed one (issue 14, item 6)."""
import datetime as dt
import logging

import sqlalchemy as sa

from amanah.extensions import db
from ledger import checkpoints, consistency, note, storage, tree
from ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHash
from tests.factories.ledger import allow_changes, fill


def _signed_sizes() -> list[int]:
    return list(db.session.scalars(sa.select(LedgerCheckpoint.size).order_by(LedgerCheckpoint.size)))


def test_a_shrunk_ledger_is_not_signed(app, client, runner, caplog):
    """The reproduction: 95 entries signed, entries 93-94 deleted with the triggers disabled."""
    with app.app_context():
        fill(95)
    signed = client.get("/ledger/checkpoint")
    assert signed.status_code == 200
    assert "\n95\n" in signed.get_data(as_text=True)
    with app.app_context():
        allow_changes("ledger_entries")
        db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.seq >= 93))
        db.session.commit()
        assert storage.size(db.session) == 93
    with caplog.at_level(logging.ERROR, logger="ledger.consistency"):
        refused = client.get("/ledger/checkpoint")
    assert refused.status_code == 503
    assert "tidak dapat ditandatangani" in refused.get_data(as_text=True)  # the default language
    assert refused.headers["Cache-Control"] == "no-store"
    assert "signing refused: the ledger has 93 entries but a checkpoint for size 95" in caplog.text
    with app.app_context():
        assert _signed_sizes() == [95]
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "FAILED" in result.output
    signing = runner.invoke(args=["ledger", "checkpoint"])
    assert signing.exit_code == 1
    assert "REFUSED: the ledger has 93 entries but a checkpoint for size 95" in signing.output


def test_an_older_checkpoint_is_not_served_as_current(app, client):
    """A checkpoint for size 93 signed in good faith earlier is not the latest once 95 was signed."""
    with app.app_context():
        fill(93)
        checkpoints.checkpoint_for_current_size(db.session)
        fill(2)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
        allow_changes("ledger_entries")
        db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.seq >= 93))
        db.session.commit()
    assert client.get("/ledger/checkpoint").status_code == 503


def test_growing_ledgers_are_signed(app, client):
    with app.app_context():
        fill(5)
    assert client.get("/ledger/checkpoint").status_code == 200
    with app.app_context():
        fill(3)
    assert "\n8\n" in client.get("/ledger/checkpoint").get_data(as_text=True)
    assert "\n8\n" in client.get("/ledger/checkpoint").get_data(as_text=True)  # the stored one
    with app.app_context():
        assert _signed_sizes() == [5, 8]


def test_rewritten_stored_hashes_are_not_signed(app, client):
    """The consistency proof from the signed size is read from the stored hashes and checked."""
    with app.app_context():
        fill(10)
    assert client.get("/ledger/checkpoint").status_code == 200
    with app.app_context():
        fill(5)
        allow_changes("ledger_hashes", "UPDATE")
        node = tree.stored_hash_index(3, 0)  # the subtree of entries 0-7, inside both trees
        db.session.execute(sa.update(LedgerHash).where(LedgerHash.idx == node).values(hash=bytes(32)))
        db.session.commit()
    assert client.get("/ledger/checkpoint").status_code == 503
    with app.app_context():
        assert _signed_sizes() == [10]


def test_equal_size_means_equal_root(app):
    with app.app_context():
        fill(4)
        signed = checkpoints.checkpoint_for_current_size(db.session)
        origin = app.config["LEDGER_ORIGIN"]
        assert consistency.extension_problem(db.session, origin, 4, bytes(signed.root), signed) is None
        problem = consistency.extension_problem(db.session, origin, 4, bytes(32), signed)
        assert "does not extend the checkpoint signed for size 4" in problem
        assert "entries were removed" in consistency.extension_problem(
            db.session, origin, 3, checkpoints.root(db.session, 3), signed)


def test_verify_reports_a_checkpoint_signed_after_a_larger_one(app, runner):
    """What the old code did: a smaller checkpoint signed later than a larger one."""
    with app.app_context():
        fill(5)
        key, origin = checkpoints.signing_key_text(), app.config["LEDGER_ORIGIN"]
        start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        for size, minutes in ((5, 0), (3, 1)):
            root = checkpoints.root(db.session, size)
            at = start + dt.timedelta(minutes=minutes)
            db.session.add(LedgerCheckpoint(size=size, root=root, created_at=at,
                                            note=note.sign_checkpoint(origin, size, root, key)))
        db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert ("checkpoint for size 3 was signed after the checkpoint for size 5: the ledger went back"
            in result.output)
