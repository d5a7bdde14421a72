"""Two `python -m ledger.witness serve` processes on loopback cosign the app's checkpoints:
pushed after signing, served as extra signature lines of /ledger/checkpoint, checked by the
verifier's witness policy; a witness that is down delays nothing and catches up later; a forked
log is refused by both."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from amanah.config import ConfigError
from amanah.extensions import db
from ledger import checkpoints, cosignature, monitor, note, tree, witnesses
from ledger.models import LedgerCosignature
from tests.conftest import make_app
from tests.factories.ledger import allow_changes, fill
from tests.ledger.test_monitor import BASE, fetcher

ROOT = Path(__file__).resolve().parents[2]


class WitnessProcess:
    def __init__(self, folder: Path, name: str, log_key: str):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        signing, self.key = cosignature.generate_witness_key(name)
        (folder / "witness.key").write_text(signing + "\n")
        self.log_key = log_key
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger.witness", "serve", "--key", str(self.folder / "witness.key"),
             "--db", str(self.folder / "state.sqlite3"), "--log", self.log_key, "--listen", "127.0.0.1:0"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        assert "listening on http://" in line, line
        self.url = line.split("listening on ")[1].strip()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.fixture
def two_witnesses(app, tmp_path, monkeypatch):
    with app.app_context():
        log_key = checkpoints.verifier_key_text()
    pair = [WitnessProcess(tmp_path / "w1", "witness.test/w1", log_key),
            WitnessProcess(tmp_path / "w2", "witness.test/w2", log_key)]
    scheduled = []
    monkeypatch.setattr(witnesses, "schedule", lambda app, size: scheduled.append(size))
    monkeypatch.setitem(app.config, "LEDGER_WITNESSES", "; ".join(f"{w.url} {w.key}" for w in pair))
    yield pair, scheduled
    for w in pair:
        w.stop()


def configure(app, pair):
    app.config["LEDGER_WITNESSES"] = "\n".join(f"{w.url} {w.key}" for w in pair)


def verify_cli(tmp_path, checkpoint: str, key: str, *witness_keys: str, minimum: int):
    (tmp_path / "cp.txt").write_text(checkpoint)
    (tmp_path / "key.txt").write_text(key + "\n")
    args = [arg for k in witness_keys for arg in ("--witness", k)]
    return subprocess.run([sys.executable, "-m", "ledger.verify", "--checkpoint", str(tmp_path / "cp.txt"),
                           "--key", str(tmp_path / "key.txt"), *args, "--min-witnesses", str(minimum)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_two_witnesses_cosign_and_the_checkpoint_carries_their_lines(app, client, two_witnesses, tmp_path):
    pair, scheduled = two_witnesses
    with app.app_context():
        fill(10)
        key = checkpoints.verifier_key_text()
    first = client.get("/ledger/checkpoint").get_data(as_text=True)
    assert scheduled == [10] and first.count("\u2014 ") == 1  # asked in the background, not in the request
    with app.app_context():
        assert witnesses.push(db.session) == {"witness.test/w1": "cosigned", "witness.test/w2": "cosigned"}
    served = client.get("/ledger/checkpoint").get_data(as_text=True)
    assert served.startswith(first) and served.count("\u2014 ") == 3
    assert note.open_checkpoint(served, key).size == 10  # the log's own verifier ignores the extra lines
    found = cosignature.verify_cosignatures(served, [w.key for w in pair])
    assert sorted(c.witness for c in found) == ["witness.test/w1", "witness.test/w2"]

    ok = verify_cli(tmp_path, served, key, pair[0].key, pair[1].key, minimum=2)
    assert ok.returncode == 0, ok.stderr
    assert "cosigned by witness witness.test/w1" in ok.stdout and "witness.test/w2" in ok.stdout
    stranger = cosignature.generate_witness_key("witness.test/w3")[1]
    short = verify_cli(tmp_path, served, key, pair[0].key, stranger, minimum=2)
    assert short.returncode == 1 and "cosigned by 1 of the given witnesses (witness.test/w1)" in short.stderr
    assert verify_cli(tmp_path, first, key, pair[0].key, minimum=1).returncode == 1

    # The monitor applies the same policy and reports who cosigned.
    both = monitor.Monitor(BASE, key, None, fetch=fetcher(client), witnesses=[w.key for w in pair],
                           min_witnesses=2)
    both.run()
    assert sorted(w["witness"] for w in both.report["witnesses"]) == ["witness.test/w1", "witness.test/w2"]
    strict = monitor.Monitor(BASE, key, None, fetch=fetcher(client), witnesses=[pair[0].key, stranger],
                             min_witnesses=2)
    with pytest.raises(monitor.Misbehaviour) as caught:
        strict.run()
    assert caught.value.kind == "too_few_witnesses"

    # The next checkpoint goes with a consistency proof from the size each one cosigned.
    with app.app_context():
        fill(7)
    client.get("/ledger/checkpoint")
    with app.app_context():
        assert set(witnesses.push(db.session).values()) == {"cosigned"}
        assert db.session.execute(sa.select(sa.func.count()).select_from(LedgerCosignature)).scalar() == 4
    page = client.get("/ledger/verify").get_data(as_text=True)
    assert "witness.test/w1" in page and "<td>17</td>" in page


def test_a_witness_that_is_down_catches_up_and_a_fork_is_refused(app, client, two_witnesses):
    pair, _scheduled = two_witnesses
    with app.app_context():
        fill(10)
    client.get("/ledger/checkpoint")
    with app.app_context():
        witnesses.push(db.session)
    pair[1].stop()
    with app.app_context():
        fill(5)
    client.get("/ledger/checkpoint")
    with app.app_context():
        results = witnesses.push(db.session)
    assert results["witness.test/w1"] == "cosigned" and results["witness.test/w2"].startswith("unreachable")
    assert client.get("/ledger/checkpoint").get_data(as_text=True).count("\u2014 ") == 2
    pair[1].start()  # the same state file, another port
    configure(app, pair)
    with app.app_context():
        assert witnesses.push(db.session)["witness.test/w2"] == "cosigned"  # from 10 to 15
    assert client.get("/ledger/checkpoint").get_data(as_text=True).count("\u2014 ") == 3

    # A forked log: entries 12.. replaced (triggers off, checkpoints deleted), then signed again.
    with app.app_context():
        for table in ("ledger_entries", "ledger_hashes", "ledger_checkpoints"):
            allow_changes(table)
        db.session.execute(sa.text("DELETE FROM ledger_cosignatures"))
        db.session.execute(sa.text("DELETE FROM ledger_entries WHERE seq >= 12"))
        db.session.execute(sa.text("DELETE FROM ledger_hashes WHERE idx >= :i"),
                           {"i": tree.stored_hash_count(12)})
        db.session.execute(sa.text("DELETE FROM ledger_checkpoints"))
        db.session.commit()
        fill(8)
    client.get("/ledger/checkpoint")
    with app.app_context():
        results = witnesses.push(db.session)  # each says 409 (it has 15), then refuses the proof
        assert all(outcome.startswith("refused with 422") for outcome in results.values()), results
        assert db.session.execute(sa.select(sa.func.count()).select_from(LedgerCosignature)).scalar() == 0
    assert client.get("/ledger/checkpoint").get_data(as_text=True).count("\u2014 ") == 1


def test_a_hanging_witness_delays_nothing(live_server, tmp_path):
    app, base = live_server.app, live_server.url
    with app.app_context():
        fill(6)
        log_key = checkpoints.verifier_key_text()
    good = WitnessProcess(tmp_path / "w1", "witness.test/w1", log_key)
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)  # accepts connections, never answers
    silent_key = cosignature.generate_witness_key("witness.test/silent")[1]
    app.config["LEDGER_WITNESSES"] = (f"http://127.0.0.1:{hanging.getsockname()[1]} {silent_key}\n"
                                      f"{good.url} {good.key}")
    try:
        started = time.monotonic()
        with urllib.request.urlopen(f"{base}/ledger/checkpoint") as r:  # noqa: S310 - loopback
            assert r.read().decode().count("\u2014 ") == 1
        assert time.monotonic() - started < 2
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with app.app_context():
                found = db.session.execute(sa.select(LedgerCosignature.witness)).scalars().all()
                db.session.remove()
            if found:
                break
            time.sleep(0.1)
        assert found == ["witness.test/w1"]
    finally:
        hanging.close()
        good.stop()


def test_a_bad_witness_setting_stops_the_app(databases, tmp_path):
    with pytest.raises(ConfigError, match="LEDGER_WITNESSES"):
        make_app(databases.url, tmp_path / "instance", LEDGER_WITNESSES="ftp://witness.test key")


def test_witness_configuration_is_checked(app):
    key = cosignature.generate_witness_key("w.test/a")[1]
    assert witnesses.configured({"LEDGER_WITNESSES": f" https://w.test/a {key} ;\n"}) == [
        witnesses.Witness("https://w.test/a", cosignature.parse_witness_key(key))]
    assert witnesses.configured({}) == []
    for bad in (f"ftp://w.test {key}", "https://w.test", "https://w.test not-a-key"):
        with pytest.raises(ValueError):
            witnesses.configured({"LEDGER_WITNESSES": bad})
