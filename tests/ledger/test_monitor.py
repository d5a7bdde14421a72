"""python -m ledger.monitor: a monitor that remembers, run against the app across appends, a
rewritten history, a regressed checkpoint, an altered entry, wrong campaign sums and split views."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from ledger import checkpoints, monitor, note, tree
from ledger.models import CampaignTotal
from tests.factories.ledger import add, allow_changes, fill

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://site.test"


def fetcher(client, seen=None):
    """monitor's fetch through the Flask test client (the live-server test uses real HTTP)."""
    def fetch(url):
        assert url.startswith(BASE + "/") or url.startswith("http://gossip.test/"), url
        path = url[len(BASE):] if url.startswith(BASE) else url[len("http://gossip.test"):]
        if seen is not None:
            seen.append(path)
        response = client.get(path)
        if response.status_code != 200:
            raise monitor.Unreachable(url, response.status_code)
        return response.data
    return fetch


def run(app, client, state_path, *, gossip=(), seen=None):
    """One monitor run; returns (report, problem kind or None). Saves the state only when OK."""
    with app.app_context():
        key = checkpoints.verifier_key_text()
    m = monitor.Monitor(BASE, key, monitor.load_state(state_path), fetch=fetcher(client, seen))
    try:
        state = m.run(gossip)
    except monitor.Misbehaviour as exc:
        return m.report, exc.kind, exc.message
    monitor.save_state(state_path, state)
    return m.report, None, None


def rewrite_from(seq: int) -> None:
    """Delete entries from `seq` on, their stored hashes and every checkpoint, as someone able to
    switch off the database's triggers could."""
    for table in ("ledger_entries", "ledger_hashes", "ledger_checkpoints"):
        allow_changes(table)
    db.session.execute(sa.text("DELETE FROM ledger_entries WHERE seq >= :s"), {"s": seq})
    db.session.execute(sa.text("DELETE FROM ledger_hashes WHERE idx >= :i"),
                       {"i": tree.stored_hash_count(seq)})
    db.session.execute(sa.text("DELETE FROM ledger_checkpoints"))
    db.session.commit()


def test_appends_are_checked_incrementally_and_remembered(app, client, tmp_path):
    state = tmp_path / "state.json"
    with app.app_context():
        fill(300)
        add(campaign="camp00000002", amount=7_000)
    report, problem, _ = run(app, client, state)
    assert problem is None and report["size"] == 301 and report["previous_size"] is None
    assert report["new_entries"] == 301 and report["campaigns_checked"] == 2
    saved = json.loads(state.read_text())
    assert saved["size"] == 301 and len(saved["range"]) == bin(301).count("1")
    assert saved["campaigns"]["camp00000002"]["raised"] == 7_000

    with app.app_context():
        fill(20)
    seen = []
    report, problem, _ = run(app, client, state, seen=seen)
    assert problem is None and report["new_entries"] == 20 and report["previous_size"] == 301
    assert report["campaigns_checked"] == 1  # only the campaign with new entries
    # Only the tile the new entries are in, and the consistency proof from 301.
    assert sorted(seen) == sorted(["/ledger/checkpoint", "/ledger/proof/consistency?old=301&size=321",
                                   "/ledger/tile/0/001.p/65", "/ledger/tile/entries/001.p/65",
                                   "/api/v1/ledger/campaigns/camp00000001"])
    report, problem, _ = run(app, client, state)  # nothing new
    assert problem is None and report["new_entries"] == 0


def test_a_rewritten_history_is_inconsistent(app, client, tmp_path):
    state = tmp_path / "state.json"
    with app.app_context():
        fill(40)
    assert run(app, client, state)[1] is None
    with app.app_context():
        rewrite_from(30)
        fill(15)  # other entries 30.. and a checkpoint for 45 that contradicts the one for 40
    report, problem, message = run(app, client, state)
    assert problem == "inconsistent" and "does not extend" in message and not report["ok"]
    assert json.loads(state.read_text())["size"] == 40  # a failed run changes nothing


def test_a_regressed_checkpoint_and_a_split_view_at_the_same_size(app, client, tmp_path):
    state = tmp_path / "state.json"
    with app.app_context():
        fill(40)
    assert run(app, client, state)[1] is None
    with app.app_context():
        rewrite_from(30)
    _report, problem, message = run(app, client, state)
    assert problem == "smaller" and "30 entries" in message and "40 entries" in message
    with app.app_context():
        fill(10)  # 40 again, other entries
    _report, problem, message = run(app, client, state)
    assert problem == "split_view" and "size 40" in message


def test_an_altered_entry_is_named(app, client, tmp_path):
    state = tmp_path / "state.json"
    with app.app_context():
        fill(20)
    assert run(app, client, state)[1] is None
    with app.app_context():
        fill(10)
        allow_changes("ledger_entries", "UPDATE")
        leaf = db.session.execute(sa.text("SELECT leaf FROM ledger_entries WHERE seq = 24")).scalar()
        db.session.execute(sa.text("UPDATE ledger_entries SET leaf = :leaf WHERE seq = 24"),
                           {"leaf": bytes(leaf).replace(b"entry", b"Entry")})
        db.session.commit()
    _report, problem, message = run(app, client, state)
    assert problem == "altered_entry" and message.startswith("entry 24 was altered")


def test_campaign_figures_that_do_not_match_the_entries(app, client, tmp_path):
    with app.app_context():
        fill(20)
        db.session.execute(sa.update(CampaignTotal).values(fees=CampaignTotal.fees - 1))
        db.session.commit()
    _report, problem, message = run(app, client, tmp_path / "state.json")
    assert problem == "campaign_sums" and "fees" in message


def test_gossip_from_another_monitor_and_a_forged_checkpoint(app, client, tmp_path):
    with app.app_context():
        fill(30)
    assert run(app, client, tmp_path / "a.json")[1] is None
    with app.app_context():
        fill(5)
    report, problem, _ = run(app, client, tmp_path / "b.json", gossip=[tmp_path / "a.json"])
    assert problem is None and report["gossip"][0]["size"] == 30
    # The same key signed another root for the size b saw: shown to someone else, it is a split view.
    with app.app_context():
        signing_key = checkpoints.signing_key_text()
    origin = app.config["LEDGER_ORIGIN"]
    (tmp_path / "forged.txt").write_text(note.sign_checkpoint(origin, 35, bytes(32), signing_key))
    _report, problem, message = run(app, client, tmp_path / "b.json", gossip=[tmp_path / "forged.txt"])
    assert problem == "split_view" and "size 35" in message
    (tmp_path / "old.txt").write_text(note.sign_checkpoint(origin, 12, bytes(32), signing_key))
    _report, problem, _message = run(app, client, tmp_path / "b.json", gossip=[tmp_path / "old.txt"])
    assert problem == "split_view"


def test_a_checkpoint_signed_by_another_key_fails(app, client, tmp_path):
    with app.app_context():
        fill(5)
        name = app.config["LEDGER_ORIGIN"]
    signing, _verifier = note.generate_key(name)
    with app.app_context():
        key = checkpoints.verifier_key_text()
    forged = note.sign_checkpoint(name, 5, bytes(32), signing).encode()
    m = monitor.Monitor(BASE, key, None, fetch=lambda url: forged)
    with pytest.raises(monitor.Misbehaviour) as caught:
        m.run()
    assert caught.value.kind == "bad_signature"


def test_the_command_over_http_one_line_json_and_exit_codes(live_server, tmp_path):
    app, base = live_server.app, live_server.url
    with app.app_context():
        fill(12)
        key = checkpoints.verifier_key_text()
    (tmp_path / "key.txt").write_text(key + "\n")

    def command(*args):
        return subprocess.run([sys.executable, "-m", "ledger.monitor", base, "--key",
                               str(tmp_path / "key.txt"), "--state", str(tmp_path / "state.json"), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)

    first = command()
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("\n") == 1 and first.stdout.startswith("OK ") and "size 12" in first.stdout
    with app.app_context():
        fill(3)
    second = command("--json")
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["ok"] and summary["size"] == 15 and summary["new_entries"] == 3
    with app.app_context():
        rewrite_from(10)
    regressed = command()
    assert regressed.returncode == 1 and regressed.stderr.startswith("FAIL ")
    assert "smaller" in regressed.stderr
    down = subprocess.run([sys.executable, "-m", "ledger.monitor", "http://127.0.0.1:9", "--key", key,
                           "--state", str(tmp_path / "x.json")], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert down.returncode == 3 and "unreachable" in down.stderr
