"""The fault drill (bench/fault_drill.py) itself: its money check catches each kind of mismatch,
and a run without faults passes every check with no 5xx, so that what a run with faults reports
is the app's doing, not the drill's."""
from __future__ import annotations

import glob
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import drill_checks  # noqa: E402


@pytest.mark.parametrize(("entries", "problem"), [
    ([("pi_1", 500), ("pi_2", 700)], None),
    ([("pi_1", 500)], "missing 1"),
    ([("pi_1", 500), ("pi_2", 700), ("pi_3", 100)], "extra 1"),
    ([("pi_1", 500), ("pi_2", 700), ("pi_2", 700)], "twice 1"),
    ([("pi_1", 500), ("pi_2", 701)], "wrong amount 1"),
])
def test_money_check_finds_each_mismatch(entries, problem, capsys):
    ok = drill_checks.compare("payments", {"pi_1": 500, "pi_2": 700}, entries, 1)
    printed = capsys.readouterr().out
    assert ok is (problem is None)
    assert (problem or "missing 0, extra 0, twice 0, wrong amount 0: OK") in printed


def test_refunds_are_compared_with_the_sign_of_their_entries(capsys):
    assert drill_checks.compare("refunds", {"re_1": 300}, [("re_1", -300)], -1)
    assert not drill_checks.compare("refunds", {"re_1": 300}, [("re_1", 300)], -1)


@pytest.mark.slow
def test_a_drill_without_faults_passes_every_check():
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("redis-server") is None:
        pytest.skip("needs PostgreSQL's initdb and redis-server (apt-get install postgresql redis-server)")
    result = subprocess.run(
        [sys.executable, "bench/fault_drill.py", "--sandbox", "5", "--stripe", "4", "--refunds", "4",
         "--refund-triples", "0", "--bulk-jobs", "1", "--clients", "2", "--workers", "2",
         "--stripe-workers", "1", "--kill-every", "0", "--pg-restarts", "0", "--redis-down", "0",
         "--lost-answers", "0", "--duplicates", "0.5", "--grace", "15"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "every invariant holds" in out
    assert " 0 answered 5xx, 0 connections dropped" in out
    assert "sandbox: paid: 5" in out and "stripe: paid at Stripe: 4" in out
    assert "payments -> donation entries: " in out and "refunds -> refund entries: " in out
    assert "flask ledger verify: exit 0" in out and "python -m ledger.verify: exit 0" in out
