"""The standalone verifier: verify_export in process, the CLI by subprocess."""

import io
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import verify as verify_mod
from ledger.entry import GENESIS_PREV, build_entry, canonical_bytes
from ledger.note import generate_key, open_checkpoint, sign_checkpoint
from ledger.tree import EMPTY_ROOT, MemoryHashStore, leaf_hash
from ledger.verify import BATCH, read_lines, verify_checkpoint_extension, verify_export

REPO = Path(__file__).resolve().parents[3]
ORIGIN = "test.amanah.example/ledger"
MEMOS = ['Zakat', 'tricky ","prev":"' + "0" * 64 + '","seq":0,"v":1}', 'quote " and \\ backslash',
         "line\nbreak", "\u0645\u0633\u062c\u062f", "Untuk banjir Demak"]


def make_leaves(n, seed=1, prefix=()):
    """n leaves: the given prefix, then varied entries (donations, fees and
    refunds with refs, disbursements, memos that look like JSON)."""
    rng = random.Random(seed)
    leaves = list(prefix)
    prev = leaf_hash(leaves[-1]).hex() if leaves else GENESIS_PREV
    at = datetime(2024, 1, 1, tzinfo=UTC)
    for seq in range(len(leaves), n):
        at += timedelta(seconds=rng.randrange(1, 100))
        kind = "donation" if seq < 3 else rng.choice(["donation"] * 6 + ["fee", "refund", "disbursement"])
        amount = rng.randrange(1000, 10**7) * (1 if kind == "donation" else -1)
        ref = rng.randrange(seq) if kind in ("fee", "refund") else None
        e = build_entry(seq=seq, prev=prev, at=at, kind=kind, campaign=f"cmp_{seq % 5}", amount=amount,
                        currency="IDR", ref=ref, memo=rng.choice(MEMOS),
                        payment=f"pi_{rng.getrandbits(40):x}")
        leaf = canonical_bytes(e)
        leaves.append(leaf)
        prev = leaf_hash(leaf).hex()
    return leaves


def store_of(leaves):
    s = MemoryHashStore()
    for leaf in leaves:
        s.append(leaf)
    return s


N = 300
LEAVES = make_leaves(N)
FORK = make_leaves(N, seed=2, prefix=LEAVES[:50])  # same first 50 entries, then different


@pytest.fixture(scope="module")
def keys():
    return generate_key(ORIGIN)


def checkpoint(leaves, size, skey):
    return sign_checkpoint(ORIGIN, size, store_of(leaves[:size]).root(), skey)


@pytest.fixture
def files(tmp_path, keys):
    skey, vkey = keys
    paths = {name: tmp_path / name for name in ("export", "cp", "old", "key", "fork", "forkcp")}
    paths["export"].write_bytes(b"\n".join(LEAVES) + b"\n")
    paths["fork"].write_bytes(b"\n".join(FORK) + b"\n")
    paths["cp"].write_text(checkpoint(LEAVES, N, skey))
    paths["old"].write_text(checkpoint(LEAVES, 100, skey))
    paths["forkcp"].write_text(checkpoint(FORK, N, skey))
    paths["key"].write_text(vkey + "\n")
    return paths


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "ledger.verify", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def cli(files, export="export", cp="cp", *extra):
    return run_cli("--export", files[export], "--checkpoint", files[cp], "--key", files["key"], *extra)


# --- CLI by subprocess ---


def test_good_export(files):
    r = cli(files)
    assert r.returncode == 0, r.stderr
    assert f"OK: {N} entries, chain intact" in r.stdout
    assert f"checkpoint {ORIGIN} size {N}: signature and root verified" in r.stdout
    assert r.stderr == ""  # no progress bar when stderr is not a terminal


def test_good_export_strict_quiet_progress(files):
    r = cli(files, "export", "cp", "--strict", "--quiet", "--progress")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert f"[{'#' * 30}] 100.0% {N} entries" in r.stderr  # (text mode turns \r into \n)


def _mutate(line, how):
    """Change exactly one byte of a line, keeping digits digits and hex hex."""
    i = {"memo": line.find(b'"memo":"') + 8, "amount": line.find(b',"at":') - 1,
         "prev": line.find(b'"prev":"') + 20, "seq": line.find(b',"v":1}') - 1, "brace": 0}[how]
    old = chr(line[i])
    if how == "brace":
        new = "["
    elif old.isdigit():
        new = str((int(old) + 1) % 10)
    elif old in "abcdef":
        new = "0"
    else:
        new = "X" if old != "X" else "Y"
    return line[:i] + new.encode() + line[i + 1:]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("k, how", [
    (150, "memo"), (150, "amount"), (150, "prev"), (150, "seq"), (150, "brace"),
    (0, "memo"), (1, "prev"), (N - 1, "amount"), (N - 1, "memo"),
])
def test_one_byte_change_reports_its_seq(files, k, how, strict):
    lines = list(LEAVES)
    lines[k] = _mutate(lines[k], how)
    assert len(lines[k]) == len(LEAVES[k]) and lines[k] != LEAVES[k]
    files["export"].write_bytes(b"\n".join(lines) + b"\n")
    r = cli(files, "export", "cp", *(["--strict"] if strict else []))
    assert r.returncode == 1
    assert f"FAIL: seq {k}: " in r.stderr, r.stderr
    assert r.stdout == ""


def test_wrong_key_fails(files):
    files["key"].write_text(generate_key(ORIGIN)[1])
    r = cli(files)
    assert r.returncode == 1
    assert "no verifiable signatures" in r.stderr


def test_forged_checkpoint_fails(files, keys):
    files["cp"].write_text(files["cp"].read_text().replace(f"\n{N}\n", f"\n{N - 1}\n"))
    r = cli(files)
    assert r.returncode == 1 and "invalid signature" in r.stderr


def test_truncated_export_fails(files):
    files["export"].write_bytes(b"\n".join(LEAVES[:-10]) + b"\n")
    r = cli(files)
    assert r.returncode == 1
    assert f"FAIL: seq {N - 10}: missing" in r.stderr and "truncated" in r.stderr


def test_export_cut_mid_line_fails(files):
    files["export"].write_bytes(b"\n".join(LEAVES)[:-20])
    r = cli(files)
    assert r.returncode == 1
    assert f"FAIL: seq {N - 1}: " in r.stderr


def test_export_longer_than_checkpoint(files, keys):
    files["cp"].write_text(checkpoint(LEAVES, 250, keys[0]))
    r = cli(files)
    assert r.returncode == 0, r.stderr
    assert "50 entries beyond the checkpoint" in r.stdout


def test_old_checkpoint_extension_holds(files):
    r = cli(files, "export", "cp", "--old-checkpoint", files["old"])
    assert r.returncode == 0, r.stderr
    assert "old checkpoint size 100: signature verified; the ledger extends it" in r.stdout


def test_forked_history_is_rejected(files):
    r = cli(files, "fork", "forkcp")
    assert r.returncode == 0, r.stderr  # the fork is consistent with its own checkpoint...
    r = cli(files, "fork", "forkcp", "--old-checkpoint", files["old"])
    assert r.returncode == 1  # ...but does not extend what was signed before
    assert "forked history" in r.stderr
    r = cli(files, "fork", "cp")  # and does not match the original checkpoint
    assert r.returncode == 1 and f"seq {N - 1}" in r.stderr


def test_old_checkpoint_newer_than_new(files):
    r = run_cli("--export", files["export"], "--checkpoint", files["old"], "--key", files["key"],
                "--old-checkpoint", files["cp"])
    assert r.returncode == 1 and "newer than the checkpoint" in r.stderr


def test_usage_errors_exit_2(files, tmp_path):
    assert run_cli().returncode == 2
    assert run_cli("--export", files["export"]).returncode == 2
    r = cli(files, "export", "cp", "--bogus")
    assert r.returncode == 2
    r = run_cli("--export", tmp_path / "nope.jsonl", "--checkpoint", files["cp"], "--key", files["key"])
    assert r.returncode == 2 and "nope.jsonl" in r.stderr
    files["key"].write_text("not a key")
    assert cli(files).returncode == 2


def test_origin_option(files):
    assert cli(files, "export", "cp", "--origin", ORIGIN).returncode == 0
    r = cli(files, "export", "cp", "--origin", "other.example/log")
    assert r.returncode == 1 and "origin" in r.stderr


def test_stdin_export(files):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    args = ["--export", "-", "--checkpoint", files["cp"], "--key", files["key"]]
    r = subprocess.run([sys.executable, "-m", "ledger.verify", *map(str, args)], cwd=REPO, env=env,
                       input=files["export"].read_bytes(), capture_output=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr


# --- verify_export in process ---


BIG = make_leaves(2 * BATCH + 5, seed=3)


@pytest.fixture(scope="module")
def big_store():
    return store_of(BIG)


def test_roots_at_every_batch_edge(big_store):
    sizes = [0, 1, 2, 3, BATCH - 1, BATCH, BATCH + 1, 5000, 2 * BATCH - 1, 2 * BATCH, len(BIG)]
    r = verify_export(BIG, sizes=sizes)
    assert r.ok and r.entries == len(BIG)
    assert r.root == big_store.root()
    assert r.roots == {s: big_store.root(s) for s in sizes}
    assert r.roots[0] == EMPTY_ROOT


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("k", [BATCH - 2, BATCH - 1, BATCH, 5000, 2 * BATCH - 1, 2 * BATCH + 2])
def test_tampering_found_across_batches(k, strict):
    lines = list(BIG)
    lines[k] = _mutate(lines[k], "memo")
    r = verify_export(lines, strict=strict)
    assert not r.ok and r.bad_seq == k, r.describe()


def test_reordered_and_repeated_lines():
    lines = list(LEAVES)
    lines[10], lines[11] = lines[11], lines[10]
    r = verify_export(lines)
    assert r.bad_seq == 10 and "seq is 11, expected 10" in r.error
    r = verify_export(LEAVES[:20] + LEAVES[19:])
    assert r.bad_seq == 20 and "seq is 19" in r.error


def test_last_two_entries_ambiguity_is_reported():
    # Entry N-2 changed: only the last entry's prev disagrees, and nothing
    # after it can tell which of the two was touched.
    lines = list(LEAVES)
    lines[N - 2] = _mutate(lines[N - 2], "memo")
    r = verify_export(lines)
    assert r.bad_seq == N - 1 and f"leaf hash of entry {N - 2}" in r.error
    assert f"entry {N - 2} or this entry was altered" in r.error


def test_first_entry_prev_must_be_zeros():
    lines = list(LEAVES)
    lines[0] = _mutate(lines[0], "prev")
    r = verify_export(lines)
    assert r.bad_seq == 0 and "must be 64 zeros" in r.error


def test_non_canonical_line_passes_chain_check_only_without_strict():
    lines = list(LEAVES)
    lines[5] = lines[5].replace(b'"amount":', b'"amount": ', 1)
    chained = make_leaves(N, prefix=lines[:6])  # re-chain the rest onto the changed line
    assert verify_export(chained).ok
    r = verify_export(chained, strict=True)
    assert r.bad_seq == 5 and "canonical" in r.error


def test_checkpoint_checks_in_process(keys):
    skey, vkey = keys
    cp = checkpoint(LEAVES, 120, skey)
    r = verify_export(LEAVES, checkpoint=cp, key=vkey, old_checkpoint=checkpoint(LEAVES, 7, skey))
    assert r.ok, r.describe()
    assert r.checkpoint.size == 120 and r.old_checkpoint.size == 7
    assert verify_export(LEAVES[:119], checkpoint=cp, key=vkey).bad_seq == 119
    assert not verify_export(FORK, checkpoint=cp, key=vkey).ok
    assert verify_export([], checkpoint=checkpoint([], 0, skey), key=vkey).ok
    with pytest.raises(ValueError):
        verify_export(LEAVES, checkpoint=cp)


def test_line_reader():
    data = b"\n".join(LEAVES[:50])
    for read_size in (1, 7, 1000, 1 << 20):
        assert list(read_lines(io.BytesIO(data), read_size)) == LEAVES[:50]
        assert list(read_lines(io.BytesIO(data + b"\n"), read_size)) == LEAVES[:50]
    assert list(read_lines(io.BytesIO(b""))) == []
    assert list(read_lines(io.BytesIO(b"a\n\nb"))) == [b"a", b"", b"b"]


def test_hints_for_wrong_line_ends():
    r = verify_export([line + b"\n" for line in LEAVES[:5]])
    assert not r.ok and "without their newline" in r.error
    r = verify_export([line + b"\r" for line in LEAVES[:5]])
    assert not r.ok and "CRLF" in r.error
    r = verify_export([*LEAVES[:3], b"", *LEAVES[4:]])
    assert r.bad_seq == 3 and "empty line" in r.error


def test_progress_reports_entries_and_bytes():
    calls = []
    verify_export(BIG, progress=lambda e, b: calls.append((e, b)))
    assert [e for e, _ in calls] == [BATCH, 2 * BATCH, len(BIG)]
    assert calls[-1][1] == sum(len(x) + 1 for x in BIG)


def test_consistency_proof_based_extension(big_store, keys):
    skey, vkey = keys
    old = open_checkpoint(sign_checkpoint(ORIGIN, 1000, big_store.root(1000), skey), vkey)
    new = open_checkpoint(sign_checkpoint(ORIGIN, 5000, big_store.root(5000), skey), vkey)
    proof = big_store.prove_tree(1000, 5000)
    assert verify_checkpoint_extension(old, new, proof)
    assert verify_checkpoint_extension(old, new, [h.hex() for h in proof])
    assert not verify_checkpoint_extension(old, new, proof[:-1])
    assert not verify_checkpoint_extension(old, new, [proof[0][::-1], *proof[1:]])
    assert not verify_checkpoint_extension(new, old, proof)
    fork = store_of(FORK)
    forked = open_checkpoint(sign_checkpoint(ORIGIN, N, fork.root(), skey), vkey)
    orig = open_checkpoint(sign_checkpoint(ORIGIN, 100, store_of(LEAVES).root(100), skey), vkey)
    assert not verify_checkpoint_extension(orig, forked, fork.prove_tree(100, N))
    empty = open_checkpoint(sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, skey), vkey)
    assert verify_checkpoint_extension(empty, new, [])


def test_describe():
    assert verify_export(LEAVES).describe() == f"OK: {N} entries, chain intact"
    r = verify_export(LEAVES[1:])
    assert r.describe().startswith("FAIL: seq 0: seq is 1")


def test_module_has_no_web_imports():
    src = Path(verify_mod.__file__).read_text().lower()
    assert "flask" not in src and "sqlalchemy" not in src
