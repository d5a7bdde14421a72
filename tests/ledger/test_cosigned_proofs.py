"""Proofs carry witness cosignatures: /ledger/checkpoints/<size> serves a checkpoint with those
collected so far, proof downloads include them, caches keep them only once they are final, the
checkpoint list names them, and the standalone verifier applies a witness policy to a receipt's
proof file."""
from __future__ import annotations

import json

import sqlalchemy as sa

from amanah.extensions import db
from documents import receipts
from ledger import checkpoints, cosignature, note, queries, verify, witnesses
from ledger.models import LedgerCosignature
from tests.factories.ledger import cosign, fill

W1 = cosignature.generate_witness_key("witness.test/w1")
W2 = cosignature.generate_witness_key("witness.test/w2")


def signed(app, n: int) -> tuple[int, str]:
    """n more entries, and the checkpoint of the new size: (size, log verifier key)."""
    with app.app_context():
        fill(n)
        size = checkpoints.checkpoint_for_current_size(db.session).size
        db.session.commit()
        return size, checkpoints.verifier_key_text()


def test_checkpoint_by_size_gathers_cosignatures_and_is_immutable_only_once_final(app, client, monkeypatch):
    size, key = signed(app, 5)
    url = f"/ledger/checkpoints/{size}"
    bare = client.get(url)
    assert bare.status_code == 200 and bare.mimetype == "text/plain"
    assert bare.headers["Cache-Control"] == "no-cache" and bare.headers["Access-Control-Allow-Origin"] == "*"
    assert bare.get_data(as_text=True).count("\u2014 ") == 1
    assert client.get(url, headers={"If-None-Match": bare.headers["ETag"]}).status_code == 304
    with app.app_context():
        line = cosign(size, W1[0])
    served = client.get(url, headers={"If-None-Match": bare.headers["ETag"]})
    assert served.status_code == 200 and served.headers["ETag"] != bare.headers["ETag"]
    text = served.get_data(as_text=True)
    assert text == bare.get_data(as_text=True) + line and note.open_checkpoint(text, key).size == size
    assert [c.witness for c in cosignature.verify_cosignatures(text, [W1[1], W2[1]])] == ["witness.test/w1"]

    # A larger checkpoint supersedes it; once that is older than FINAL_AFTER_SECONDS no witness
    # cosignature is stored for it any more, and it may be cached for good.
    signed(app, 2)
    assert client.get(url).headers["Cache-Control"] == "no-cache"
    monkeypatch.setattr(witnesses, "FINAL_AFTER_SECONDS", -1)
    assert "immutable" in client.get(url).headers["Cache-Control"]
    for missing in ("999", "-1", "abc", "9" * 30):
        answer = client.get(f"/ledger/checkpoints/{missing}")
        assert answer.status_code == 404 and answer.mimetype == "text/plain"


def test_a_cosignature_for_a_superseded_checkpoint_is_not_stored_too_late(app, monkeypatch):
    size, _key = signed(app, 4)
    signer = cosignature.parse_witness_signing_key(W1[0])
    w = witnesses.Witness("http://127.0.0.1:9", signer.verifier())

    def answer(url, body):
        checkpoint = cosignature.parse_add_checkpoint(body).checkpoint
        return 200, signer.cosign(note._split_note(checkpoint)[0])

    monkeypatch.setattr(witnesses, "_post", answer)
    signed(app, 1)  # size + 1 is now the newest
    with app.app_context():
        old_note = checkpoints.get(db.session, size).note
        monkeypatch.setattr(witnesses, "FINAL_AFTER_SECONDS", -1)
        assert witnesses.push_one(db.session, w, size, old_note).startswith("cosigned too late")
        assert db.session.execute(sa.select(sa.func.count()).select_from(LedgerCosignature)).scalar() == 0
        monkeypatch.setattr(witnesses, "FINAL_AFTER_SECONDS", 120)
        assert witnesses.push_one(db.session, w, size, old_note) == "cosigned"  # a push under way
        first = db.session.get(LedgerCosignature, (size, "witness.test/w1")).line
        assert witnesses.push_one(db.session, w, size, old_note) == "cosigned"
        db.session.expire_all()
        assert db.session.get(LedgerCosignature, (size, "witness.test/w1")).line == first  # the first stays


def test_proof_downloads_carry_the_cosignatures_and_are_cached_by_that(app, client, monkeypatch):
    size, _key = signed(app, 6)
    with app.app_context():
        line = cosign(size, W1[0])
    pinned = client.get(f"/ledger/entries/2/proof.json?size={size}")
    bundle = pinned.get_json()
    assert bundle["checkpoint"].endswith(line) and bundle["tlog_proof"].endswith(bundle["checkpoint"])
    assert pinned.headers["Cache-Control"] == "no-cache"  # still the newest: more may come
    assert client.get(f"/ledger/entries/2/proof.json?size={size}",
                      headers={"If-None-Match": pinned.headers["ETag"]}).status_code == 304
    text = client.get(f"/ledger/entries/2/proof.tlog-proof?size={size}").get_data(as_text=True)
    assert text.endswith(line)
    found = cosignature.verify_cosignatures(verify.parse_tlog_proof(text).checkpoint, [W1[1]])
    assert [c.witness for c in found] == ["witness.test/w1"]
    signed(app, 1)
    monkeypatch.setattr(witnesses, "FINAL_AFTER_SECONDS", -1)
    final = client.get(f"/ledger/entries/2/proof.tlog-proof?size={size}")
    assert "immutable" in final.headers["Cache-Control"]
    assert client.get("/ledger/entries/2/proof.tlog-proof").headers["Cache-Control"] == "no-cache"



def test_checkpoint_lists_link_their_next_page_under_the_mount_point(app, client):
    """"next" was request.path without the script root: under a mount point (SCRIPT_NAME) it left
    the app, while each checkpoint's "url" beside it did not."""
    signed(app, 3)
    signed(app, 2)
    for path in ("/ledger/checkpoints", "/api/v1/ledger/checkpoints"):
        body = client.get(f"{path}?limit=1", base_url="http://localhost/amanah/").get_json()
        assert body["checkpoints"][0]["url"].startswith("/amanah/ledger/checkpoints/")
        assert body["next"] == f"/amanah{path}?before={body['checkpoints'][0]['size']}&limit=1"
        older = client.get(body["next"].removeprefix("/amanah"), base_url="http://localhost/amanah/")
        assert len(older.get_json()["checkpoints"]) == 1

def test_checkpoint_list_names_each_checkpoints_cosignatures(app, client):
    first, _key = signed(app, 3)
    second, _key = signed(app, 2)
    with app.app_context():
        cosign(first, W1[0], timestamp=1_790_000_000)
        cosign(first, W2[0], timestamp=1_790_000_009)
        cosign(second, W2[0], timestamp=1_790_000_100)
    for path in ("/ledger/checkpoints", "/api/v1/ledger/checkpoints"):
        rows = {row["size"]: row for row in client.get(path).get_json()["checkpoints"]}
        assert [(c["witness"], c["timestamp"]) for c in rows[first]["cosignatures"]] == [
            ("witness.test/w1", 1_790_000_000), ("witness.test/w2", 1_790_000_009)]
        w2 = cosignature.parse_witness_key(W2[1])
        assert rows[second]["cosignatures"][0]["key_id"] == w2.key_id.hex()
        assert rows[second]["url"] == f"/ledger/checkpoints/{second}"
        cosigned = client.get(rows[second]["url"]).get_data(as_text=True)
        assert cosigned == rows[second]["note"] + rows[second]["cosignatures"][0]["line"] + "\n"
    older = client.get(f"/ledger/checkpoints?before={second}").get_json()["checkpoints"]
    assert [len(row["cosignatures"]) for row in older] == [2]
    document = client.get("/api/v1/openapi.json").get_json()
    schema = document["components"]["schemas"]
    assert "cosignatures" in schema["Checkpoint"]["required"]
    assert set(schema["Cosignature"]["required"]) == {"witness", "key_id", "timestamp", "line"}
    assert "/ledger/checkpoints/{size}" in document["paths"]


def test_verifier_applies_a_witness_policy_to_a_receipts_proof_file(app, client, tmp_path, capsys):
    size, key = signed(app, 5)
    with app.test_request_context():
        proof = receipts.proof_for(3)
        cosign(size, W1[0])
        later = receipts.proof_for(3)
    assert proof["file_text"] == proof["text"]  # nothing cosigned yet when it was made
    assert later["text"] == proof["text"] and later["file_text"] != later["text"]  # the QR stays small
    assert later["checkpoint_url"].endswith(f"/ledger/checkpoints/{size}")
    (tmp_path / "key.txt").write_text(key + "\n")
    (tmp_path / "w1.vkey").write_text(W1[1] + "\n")
    (tmp_path / "receipt.tlog-proof").write_text(proof["file_text"])
    (tmp_path / "cp.txt").write_text(client.get(f"/ledger/checkpoints/{size}").get_data(as_text=True))
    (tmp_path / "proof.json").write_bytes(client.get(f"/ledger/entries/3/proof.json?size={size}").data)
    common = ["--key", str(tmp_path / "key.txt"), "--witness", str(tmp_path / "w1.vkey"),
              "--min-witnesses", "1"]

    def run(*args):
        capsys.readouterr()
        status = verify.main([*common, *args])  # later options win
        return status, capsys.readouterr()

    status, out = run("--tlog-proof", str(tmp_path / "receipt.tlog-proof"))
    assert status == 1 and "cosigned by 0 of the given witnesses" in out.err
    status, out = run("--tlog-proof", str(tmp_path / "receipt.tlog-proof"),
                      "--cosigned-checkpoint", str(tmp_path / "cp.txt"))
    assert status == 0, out.err
    assert "entry 3" in out.out and "cosigned by witness witness.test/w1 at 2026-" in out.out
    status, out = run("--tlog-proof", str(tmp_path / "proof.json"))  # proof.json: its leaf is checked too
    assert status == 0 and "cosigned by witness witness.test/w1" in out.out
    assert json.loads(out.out.splitlines()[-1])["seq"] == 3
    # k not met: a witness that did not cosign is required too
    (tmp_path / "w2.vkey").write_text(W2[1])
    status, out = run("--tlog-proof", str(tmp_path / "proof.json"), "--witness", str(tmp_path / "w2.vkey"))
    assert status == 0 and "witness.test/w2" not in out.out  # one of the two is enough
    status, out = run("--tlog-proof", str(tmp_path / "proof.json"), "--witness", str(tmp_path / "w2.vkey"),
                      "--min-witnesses", "2")
    assert status == 1 and "cosigned by 1 of the given witnesses (witness.test/w1)" in out.err
    # another checkpoint's cosignatures are not added to this one
    other, _key = signed(app, 1)
    (tmp_path / "other.txt").write_text(client.get(f"/ledger/checkpoints/{other}").get_data(as_text=True))
    status, out = run("--tlog-proof", str(tmp_path / "receipt.tlog-proof"),
                      "--cosigned-checkpoint", str(tmp_path / "other.txt"))
    assert status == 1 and "not the proof's checkpoint" in out.err


def test_verifier_refuses_a_bad_cosignature_in_a_proof(app, client, tmp_path, capsys):
    size, key = signed(app, 4)
    with app.app_context():
        cosign(size, W1[0], corrupt=True)
    (tmp_path / "key.txt").write_text(key)
    (tmp_path / "p.json").write_bytes(client.get(f"/ledger/entries/1/proof.json?size={size}").data)
    status = verify.main(["--tlog-proof", str(tmp_path / "p.json"), "--key", str(tmp_path / "key.txt"),
                          "--witness", W1[1], "--min-witnesses", "0"])
    assert status == 1 and "invalid cosignature by witness witness.test/w1" in capsys.readouterr().err


def test_a_receipts_proof_reads_the_cosignatures_with_its_entry(app, monkeypatch):
    """On PostgreSQL the entry, its proof's hashes and the newest checkpoint's cosignatures come in
    one query; the attached proof is the same as when the cosignatures are read on their own."""
    size, _ = signed(app, 5)
    with app.test_request_context():
        cosign(size, W2[0])
        cosign(size, W1[0])
        monkeypatch.setitem(queries._proof_size_guess, "size", size)
        statements = []

        def record(connection, cursor, statement, *rest):
            statements.append(statement)
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            proof = receipts.proof_for(3)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        expected = witnesses.cosigned_text(db.session, size, proof["checkpoint"])
        postgresql = db.engine.dialect.name == "postgresql"
    assert expected.count("\n") == proof["checkpoint"].count("\n") + 2  # both witnesses' lines
    assert proof["file_text"].endswith(expected)
    reads = [s for s in statements if "ledger_cosignatures" in s and "ledger_entries" not in s]
    assert len(reads) == (0 if postgresql else 1)
