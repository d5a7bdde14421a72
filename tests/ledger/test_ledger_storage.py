"""The ledger in the database: append service, stored hashes, checkpoints, public endpoints."""
import json

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from ledger import checkpoints, note, storage, tree
from ledger.entry import EntryError, parse_entry
from ledger.models import CampaignTotal, LedgerCheckpoint, LedgerEntry
from tests.factories.ledger import KINDS


def fill(n: int, campaign: str = "camp00000001", currency: str = "IDR") -> list[storage.Appended]:
    appender = storage.Appender(db.session)
    out = []
    for i in range(n):
        kind, amount = KINDS[i % len(KINDS)]
        out.append(appender.append(kind=kind, campaign=campaign, amount=amount, currency=currency,
                                   payment=f"pay_{campaign}_{i}", memo=f"entry {i}"))
    appender.flush()
    db.session.commit()
    return out


def test_append_builds_one_chain(app):
    with app.app_context():
        first = storage.append(db.session, kind="donation", campaign="c1", amount=100, currency="IDR")
        second = storage.append(db.session, kind="fee", campaign="c1", amount=-3, currency="IDR", ref=0)
        db.session.commit()
        assert (first.seq, second.seq) == (0, 1)
        assert first.entry["prev"] == "0" * 64
        assert second.entry["prev"] == first.leaf_hash.hex()
        stored = db.session.get(LedgerEntry, 1)
        assert bytes(stored.leaf) == second.leaf  # verbatim bytes
        assert parse_entry(second.leaf)["ref"] == 0
        assert storage.head(db.session) == (2, second.leaf_hash)


def test_stored_hashes_give_the_rfc6962_root_at_every_size(app):
    with app.app_context():
        appended = fill(37)
        leaf_hashes = [a.leaf_hash for a in appended]
        for size in range(38):
            assert checkpoints.root(db.session, size) == tree.root_from_leaf_hashes(leaf_hashes[:size])


def test_totals_are_maintained_with_each_append(app):
    with app.app_context():
        fill(14)
        totals = db.session.get(CampaignTotal, "camp00000001")
        rows = db.session.execute(sa.select(LedgerEntry.kind, LedgerEntry.amount)).all()
        by_kind = {}
        for kind, amount in rows:
            by_kind[kind] = by_kind.get(kind, 0) + amount
        assert totals.raised == by_kind["donation"]
        assert totals.refunded == -by_kind["refund"]
        assert totals.fees == -by_kind["fee"]
        assert totals.disbursed == -by_kind["disbursement"]
        assert totals.chargebacks == -(by_kind["chargeback"] + by_kind["chargeback_reversal"])
        assert totals.donation_count == 4 and totals.entry_count == 14
        assert totals.balance == sum(amount for _, amount in rows)


def test_a_campaign_keeps_one_currency(app):
    with app.app_context():
        fill(1, campaign="c2", currency="IDR")
        with pytest.raises(storage.LedgerError, match="keeps its books in IDR"):
            storage.append(db.session, kind="donation", campaign="c2", amount=100, currency="USD")
        db.session.rollback()


@pytest.mark.parametrize("fields", [
    {"kind": "donation", "amount": -5},
    {"kind": "refund", "amount": 5},
    {"kind": "gift", "amount": 5},
    {"kind": "donation", "amount": 5.0},
    {"kind": "donation", "amount": 5, "currency": "idr"},
    {"kind": "donation", "amount": 5, "ref": 3},
])
def test_invalid_entries_are_refused_and_nothing_written(app, fields):
    with app.app_context():
        params = {"campaign": "c1", "currency": "IDR", **fields}
        with pytest.raises(EntryError):
            storage.append(db.session, **params)
        db.session.rollback()
        assert storage.size(db.session) == 0


def test_nothing_personal_fits_in_a_leaf(app):
    with app.app_context(), pytest.raises(TypeError):
        storage.append(db.session, kind="donation", campaign="c1", amount=5, currency="IDR",
                       name="Siti Aminah")


def test_same_provider_object_cannot_be_recorded_twice(app):
    with app.app_context():
        storage.append(db.session, kind="donation", campaign="c1", amount=5, currency="IDR", payment="pi_1")
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            storage.append(db.session, kind="donation", campaign="c1", amount=5, currency="IDR",
                           payment="pi_1")
        db.session.rollback()
        # The same object under another kind (its refund) is a different movement of money.
        storage.append(db.session, kind="refund", campaign="c1", amount=-5, currency="IDR", payment="pi_1",
                       ref=0)
        db.session.commit()
        assert storage.size(db.session) == 2


# --- immutability ---------------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE ledger_entries SET amount = 1",
    "DELETE FROM ledger_entries",
    "UPDATE ledger_hashes SET hash = hash",
    "DELETE FROM ledger_hashes",
    "UPDATE ledger_checkpoints SET note = 'x'",
    "DELETE FROM ledger_checkpoints",
])
def test_database_refuses_changes(app, statement):
    with app.app_context():
        fill(3)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
        assert storage.size(db.session) == 3


@pytest.mark.parametrize("table", ["ledger_entries", "ledger_hashes", "ledger_checkpoints"])
def test_postgresql_refuses_truncate_even_as_replica(app, backend, table):
    if backend != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with app.app_context():
        fill(2)
        checkpoints.checkpoint_for_current_size(db.session)  # row triggers need a row to refuse
        db.session.commit()
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(f"TRUNCATE {table} CASCADE"))
        db.session.rollback()
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(f"DELETE FROM {table}"))
        db.session.rollback()


def _drop_update_trigger(backend):
    if backend == "postgresql":
        db.session.execute(sa.text("DROP TRIGGER ledger_entries_no_change ON ledger_entries"))
    else:
        db.session.execute(sa.text("DROP TRIGGER ledger_entries_no_update"))


def test_verify_names_the_tampered_seq(app, runner, backend):
    with app.app_context():
        fill(20)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "20 entries" in ok.output
    with app.app_context():
        _drop_update_trigger(backend)
        leaf = bytearray(db.session.get(LedgerEntry, 13).leaf)
        leaf[leaf.index(b"entry 13")] = ord("E")  # one byte of the memo
        db.session.execute(sa.update(LedgerEntry).where(LedgerEntry.seq == 13).values(leaf=bytes(leaf)))
        db.session.commit()
    bad = runner.invoke(args=["ledger", "verify"])
    assert bad.exit_code == 1
    assert "seq 13:" in bad.output


def test_verify_catches_a_rewritten_hash_and_a_forged_checkpoint(app, runner, backend):
    with app.app_context():
        fill(8)
        trigger = ("ledger_hashes_no_change ON ledger_hashes" if backend == "postgresql"
                   else "ledger_hashes_no_update")
        db.session.execute(sa.text("DROP TRIGGER " + trigger))
        db.session.execute(sa.update(tree_hash_table()).where(tree_hash_table().c.idx == 5)
                           .values(hash=b"\x00" * 32))
        db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1 and "stored tree hash 5" in result.output


def tree_hash_table():
    from ledger.models import LedgerHash
    return LedgerHash.__table__


# --- checkpoints ----------------------------------------------------------------------------------

def test_checkpoint_endpoint_signs_once_per_size(app, client):
    with app.app_context():
        fill(5)
    first = client.get("/ledger/checkpoint")
    assert first.status_code == 200 and first.mimetype == "text/plain"
    key = client.get("/ledger/key").get_data(as_text=True)
    verifier = note.parse_verifier_key(key.strip())
    body = note.open_checkpoint(first.get_data(as_text=True), [verifier], origin=app.config["LEDGER_ORIGIN"])
    assert body.size == 5
    assert client.get("/ledger/checkpoint").get_data() == first.get_data()
    with app.app_context():
        assert body.root == checkpoints.root(db.session, 5)
        fill(1, campaign="c9")
    third = note.open_checkpoint(client.get("/ledger/checkpoint").get_data(as_text=True), [verifier])
    assert third.size == 6
    listed = client.get("/ledger/checkpoints").get_json()["checkpoints"]
    assert [c["size"] for c in listed] == [6, 5]


def test_two_checkpoints_for_one_size_are_impossible(app):
    with app.app_context():
        fill(3)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
        db.session.add(LedgerCheckpoint(size=3, root=b"\x01" * 32, note="forged"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_signing_key_is_generated_once_privately(app):
    import os
    import stat
    with app.app_context():
        first = checkpoints.signing_key_text()
        assert checkpoints.signing_key_text() == first
        path = os.path.join(app.instance_path, checkpoints.KEY_FILE)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert note.parse_signing_key(first).name == app.config["LEDGER_ORIGIN"]


def test_configured_signing_key_must_match_origin(databases, tmp_path):
    from amanah.config import ConfigError
    from tests.conftest import make_app
    signing, _ = note.generate_key("other.example/log")
    app = make_app(databases.url, tmp_path / "i", LEDGER_SIGNING_KEY=signing)
    with app.app_context(), pytest.raises(ConfigError, match="must match"):
        checkpoints.signing_key_text()


# --- proofs and export ----------------------------------------------------------------------------

def test_inclusion_and_consistency_proofs_verify(app, client):
    with app.app_context():
        leaf_hashes = [a.leaf_hash for a in fill(13)]
    roots = {n: tree.root_from_leaf_hashes(leaf_hashes[:n]) for n in range(1, 14)}
    for size in range(1, 14):
        for index in range(size):
            body = client.get(f"/ledger/proof/inclusion?index={index}&size={size}").get_json()
            assert body["index"] == index and body["size"] == size
            assert body["leaf_hash"] == leaf_hashes[index].hex()
            proof = tree.proof_from_hex(body["proof"])
            tree.verify_inclusion(index, size, leaf_hashes[index], proof, roots[size])
        for old in range(1, size + 1):
            body = client.get(f"/ledger/proof/consistency?old={old}&size={size}").get_json()
            tree.verify_consistency(old, size, roots[old], roots[size], tree.proof_from_hex(body["proof"]))
    response = client.get("/ledger/proof/inclusion?index=0&size=1")
    assert "immutable" in response.headers["Cache-Control"]


@pytest.mark.parametrize(("url", "param"), [
    ("/ledger/proof/inclusion?index=x&size=3", "index"),
    ("/ledger/proof/inclusion?index=-1&size=3", "index"),
    ("/ledger/proof/inclusion?index=3&size=3", "index"),
    ("/ledger/proof/inclusion?index=0&size=4", "size"),
    ("/ledger/proof/inclusion?index=0", "size"),
    ("/ledger/proof/inclusion?size=2", "index"),
    ("/ledger/proof/inclusion?index=0&size=1.5", "size"),
    ("/ledger/proof/inclusion?index=0&size=99999999999999999999999", "size"),
    ("/ledger/proof/consistency?old=0&size=3", "old"),
    ("/ledger/proof/consistency?old=3&size=2", "old"),
    ("/ledger/proof/consistency?old=1&size=9", "size"),
    ("/ledger/proof/consistency?old=a&size=2", "old"),
    ("/ledger/export.jsonl?start=4", "start"),
    ("/ledger/export.jsonl?start=2&end=1", "end"),
    ("/ledger/export.jsonl?end=x", "end"),
    ("/ledger/checkpoints?limit=0", "limit"),
])
def test_bad_parameters_get_a_400_naming_them(app, client, url, param):
    with app.app_context():
        fill(3)
    response = client.get(url)
    assert response.status_code == 400
    assert response.is_json
    assert response.get_json()["field"] == param
    assert response.get_json()["error"]


def test_export_is_byte_exact_and_verifies(app, client, tmp_path):
    from ledger.verify import verify_export
    with app.app_context():
        appended = fill(10)
    body = client.get("/ledger/export.jsonl").get_data()
    assert body == b"".join(a.leaf + b"\n" for a in appended)
    part = client.get("/ledger/export.jsonl?start=3&end=5").get_data()
    assert part == appended[3].leaf + b"\n" + appended[4].leaf + b"\n"
    cp = client.get("/ledger/checkpoint").get_data(as_text=True)
    key = client.get("/ledger/key").get_data(as_text=True)
    result = verify_export(body.splitlines(), checkpoint=cp, key=key)
    assert result.ok, result


def test_cli_export_checkpoint_and_keygen(app, runner, tmp_path):
    with app.app_context():
        appended = fill(4)
    out = tmp_path / "ledger.jsonl"
    assert runner.invoke(args=["ledger", "export", str(out)]).exit_code == 0
    assert out.read_bytes() == b"".join(a.leaf + b"\n" for a in appended)
    cp = runner.invoke(args=["ledger", "checkpoint"])
    assert cp.exit_code == 0 and cp.output.split("\n")[1] == "4"
    keys = runner.invoke(args=["ledger", "keygen", "--name", "example.org/log"]).output
    signing = next(line for line in keys.splitlines() if line.startswith("PRIVATE+KEY+example.org/log+"))
    verifier = next(line for line in keys.splitlines() if line.startswith("example.org/log+"))
    assert note.parse_signing_key(signing).verifier().text() == verifier
    bad = runner.invoke(args=["ledger", "keygen", "--name", "bad name"])
    assert bad.exit_code == 2


def test_export_lines_are_json(app, client):
    with app.app_context():
        fill(2)
    for line in client.get("/ledger/export.jsonl").get_data().splitlines():
        assert json.loads(line)["v"] == 1


def _statements_during(action) -> list[str]:
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_an_append_after_this_process_appended_reads_no_stored_hash(app):
    with app.app_context():
        fill(21)
        for n in range(5):  # sizes 21..25: edges of 1 to 3 hashes
            statements = _statements_during(lambda n=n: fill(1, campaign=f"camp0000010{n}"))
            assert not [s for s in statements if "FROM ledger_hashes" in s]
        appended = [storage.leaf_hash_at(db.session, seq) for seq in range(26)]
        assert checkpoints.root(db.session, 26) == tree.root_from_leaf_hashes(appended)


def test_a_remembered_edge_of_another_ledger_state_is_not_used(app):
    with app.app_context():
        fill(7)  # appending record 7 (0b111) reads three stored hashes
        storage._remember_edge(7, b"\x01" * 32, dict.fromkeys(storage._edge_indexes(7), b"\x02" * 32))
        statements = _statements_during(lambda: fill(1, campaign="camp00000102"))
        assert [s for s in statements if "FROM ledger_hashes" in s]  # read, not taken from memory
        leaf_hashes = [storage.leaf_hash_at(db.session, seq) for seq in range(8)]
        assert checkpoints.root(db.session, 8) == tree.root_from_leaf_hashes(leaf_hashes)
        assert storage._known_edge(8, leaf_hashes[7])  # and the new edge is remembered


def test_a_small_append_is_one_statement_on_postgresql(app):
    with app.app_context():
        fill(3)  # the campaign has totals now

        def donation_and_fee():
            appender = storage.Appender(db.session)
            gift = appender.append(kind="donation", campaign="camp00000001", amount=900, currency="IDR",
                                   payment="pay_small")
            appender.append(kind="fee", campaign="camp00000001", amount=-30, currency="IDR", ref=gift.seq,
                            payment="pay_small")
            appender.flush()
            db.session.commit()

        statements = _statements_during(donation_and_fee)
        # The ledger's own writes; the append listeners' (opendata's aggregates) come after them.
        writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))
                  and "opendata_" not in s]
        if db.engine.dialect.name == "postgresql":
            (one,) = writes
            assert "INSERT INTO ledger_entries" in one and "INSERT INTO ledger_hashes" in one
            assert "UPDATE ledger_campaign_totals" in one
        else:  # SQLite has no INSERT inside WITH: separate statements
            assert len(writes) >= 3 and not any("WITH" in s for s in writes)
        totals = db.session.get(CampaignTotal, "camp00000001")
        assert (totals.entry_count, totals.last_seq) == (5, 4)
        leaf_hashes = [storage.leaf_hash_at(db.session, seq) for seq in range(5)]
        assert checkpoints.root(db.session, 5) == tree.root_from_leaf_hashes(leaf_hashes)
