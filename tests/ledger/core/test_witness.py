"""ledger.witness and ledger.cosignature: the C2SP tlog-witness rules and cosignature/v1."""
# ruff: noqa: S310 - loopback http URLs only
import base64
import hashlib
import sqlite3
import threading
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import cosignature, note, tree, witness

ORIGIN = "example.test/log"


@pytest.fixture
def log():
    signing, verifier = note.generate_key(ORIGIN)
    store = tree.MemoryHashStore()
    for i in range(40):
        store.append(f"leaf {i}".encode())
    return signing, verifier, store


@pytest.fixture
def w(tmp_path, log):
    signer = cosignature.parse_witness_signing_key(cosignature.generate_witness_key("witness.test/w1")[0])
    return witness.Witness(signer, [log[1]], tmp_path / "w.sqlite3", clock=lambda: 1_700_000_000)


def cp(log, size, root=None):
    signing, _verifier, store = log
    return note.sign_checkpoint(ORIGIN, size, store.root(size) if root is None else root, signing)


def add(w, old, proof, checkpoint):
    return w.add_checkpoint(cosignature.add_checkpoint_request(old, proof, checkpoint))


def status(w, old, proof, checkpoint):
    with pytest.raises(witness.Answer) as caught:
        add(w, old, proof, checkpoint)
    return caught.value


def test_cosignature_v1_bytes(w, log):
    checkpoint = cp(log, 10)
    line = add(w, 0, [], checkpoint)
    assert line.startswith("\u2014 witness.test/w1 ") and line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    verifier = w.signer.verifier()
    assert blob[:4] == hashlib.sha256(b"witness.test/w1\n\x04" + verifier.public_key).digest()[:4]
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    text = checkpoint[:checkpoint.index("\n\n") + 1]
    message = f"cosignature/v1\ntime 1700000000\n{text}".encode()
    Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(blob[12:], message)
    # The cosigned note still opens with the log key (unknown lines ignored), and with the witness's.
    cosigned = checkpoint + line
    assert note.open_checkpoint(cosigned, log[1]).size == 10
    found = cosignature.verify_cosignatures(cosigned, [verifier.text()])
    assert [c.witness for c in found] == ["witness.test/w1"]
    sig = line.split(" ")[2].strip()
    forged = cosigned.replace(sig, sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:])
    with pytest.raises(cosignature.CosignatureError):
        cosignature.verify_cosignatures(forged, [verifier])
    # Keys round-trip through their texts.
    assert cosignature.parse_witness_key(verifier.text()) == verifier
    assert cosignature.parse_witness_signing_key(w.signer.text()) == w.signer
    with pytest.raises(cosignature.CosignatureError):
        cosignature.parse_witness_key(log[1])  # a type-0x01 note key is not a witness key


def test_the_witness_follows_the_log_and_refuses_a_fork(w, log):
    _signing, _verifier, store = log
    add(w, 0, [], cp(log, 10))
    assert status(w, 0, [], cp(log, 20)).status == 409 and status(w, 0, [], cp(log, 20)).body == "10\n"
    conflict = status(w, 5, [], cp(log, 20))
    assert conflict.content_type == "text/x.tlog.size"
    add(w, 10, store.prove_tree(10, 20), cp(log, 20))
    add(w, 20, [], cp(log, 20))  # the same checkpoint again
    assert status(w, 20, [], cp(log, 20, root=bytes(32))).status == 422  # another root, same size
    # A fork: other leaves from 15 on.
    fork = tree.MemoryHashStore()
    for i in range(40):
        fork.append(f"leaf {i}".encode() if i < 15 else f"other {i}".encode())
    forked = note.sign_checkpoint(ORIGIN, 30, fork.root(30), log[0])
    refused = status(w, 20, fork.prove_tree(20, 30), forked)
    assert refused.status == 422 and "not consistent" in refused.body
    assert w.latest(ORIGIN)[0] == 20
    with sqlite3.connect(w.db_path) as db:
        rows = db.execute("SELECT old_size, checkpoint FROM refused ORDER BY id").fetchall()
        assert rows[-1] == (20, forked)
    assert status(w, 20, [bytes(32)], cp(log, 30)).status == 422  # a wrong proof
    add(w, 20, store.prove_tree(20, 30), cp(log, 30))


def test_malformed_unknown_and_unsigned_requests(w, log):
    other_signing, _ = note.generate_key("other.test/log")
    assert status(w, 0, [], note.sign_checkpoint("other.test/log", 1, bytes(32), other_signing)).status == 404
    impostor, _ = note.generate_key(ORIGIN)
    assert status(w, 0, [], note.sign_checkpoint(ORIGIN, 3, log[2].root(3), impostor)).status == 403
    assert status(w, 4, [], cp(log, 3)).status == 400
    assert status(w, 0, [], note.sign_checkpoint(ORIGIN, 0, bytes(32), log[0])).status == 422
    assert status(w, 0, [bytes(32)], cp(log, 3)).status == 422
    for body in (b"", b"old 01\n\n" + cp(log, 3).encode(), b"old 0\nnot base64\n\n" + cp(log, 3).encode(),
                 b"old 0\n" + cp(log, 3).encode()):
        with pytest.raises(witness.Answer) as caught:
            w.add_checkpoint(body)
        assert caught.value.status in (400, 404)


def test_over_http(w, log):
    ready = threading.Event()
    servers = []
    thread = threading.Thread(target=witness.serve, args=(w, "127.0.0.1", 0),
                              kwargs={"ready": lambda s: (servers.append(s), ready.set())}, daemon=True)
    thread.start()
    assert ready.wait(10)
    base = f"http://127.0.0.1:{servers[0].server_port}"
    try:
        body = cosignature.add_checkpoint_request(0, [], cp(log, 7))
        with urllib.request.urlopen(urllib.request.Request(base + "/add-checkpoint", data=body)) as r:
            assert r.status == 200 and r.read().decode().startswith("\u2014 witness.test/w1 ")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(urllib.request.Request(base + "/add-checkpoint", data=body))
        assert caught.value.code == 409 and caught.value.read() == b"7\n"
        assert caught.value.headers["Content-Type"] == "text/x.tlog.size"
        origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
        with urllib.request.urlopen(f"{base}/{origin_hash}/checkpoint") as r:
            served = r.read().decode()
        assert note.open_checkpoint(served, log[1]).size == 7
        assert len(cosignature.verify_cosignatures(served, [w.signer.verifier()])) == 1
    finally:
        servers[0].shutdown()
