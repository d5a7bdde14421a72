"""What bench/fault_drill.py checks once the burst is over: the provider's money against the ledger,
both verifiers, bulk jobs; and the flask commands it runs (upgrade, demo, reconcile, verify)."""
from __future__ import annotations

import collections
import re
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from drill_services import ROOT, VENV_BIN


def flask(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def flask_or_die(env: dict, *args: str) -> str:
    result = flask(env, *args)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout}{result.stderr}")
    return result.stdout


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def query(engine, sql: str, **params) -> list:
    for _ in range(60):
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(sql), params))
        except sa.exc.OperationalError:
            time.sleep(0.5)  # PostgreSQL restarting
    raise RuntimeError("the drill's PostgreSQL does not answer")


# ---- reconciliation ----

def reconcile_available(env: dict) -> bool:
    result = flask(env, "payments", "--help")
    return result.returncode == 0 and "reconcile" in result.stdout


def reconcile(env: dict, label: str) -> tuple[int, str]:
    started = time.monotonic()
    result = flask(env, "payments", "reconcile")
    output = (result.stdout + result.stderr).strip()
    print(f"  reconcile ({label} instance): exit {result.returncode} in {time.monotonic() - started:.1f} s")
    for line in [line for line in output.splitlines() if not line.startswith("INFO:stripe:")][-12:]:
        print(f"    {line}")
    return result.returncode, output


# ---- the provider's money against the ledger ----

def sandbox_objects(engine) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """(payments, refunds, {id: donation id}) the sandbox provider made: id -> amount."""
    payments, refunds, donations = {}, {}, {}
    for data, in query(engine, "SELECT data FROM sandbox_objects"):
        if data.get("object") == "payment_intent" and data.get("status") == "succeeded":
            payments[data["id"]] = data["amount"]
            donations[data["id"]] = (data.get("metadata") or {}).get("donation_id")
        elif data.get("object") == "refund" and data.get("status") == "succeeded":
            refunds[data["id"]] = data["amount"]
            donations[data["id"]] = (data.get("metadata") or {}).get("donation_id")
    return payments, refunds, donations


def describe(engine, ids: list[str], donations: dict[str, str]) -> list[str]:
    """Each provider object with its donation's state here: `pi_x (donation 12 pending)`."""
    wanted = [int(d) for i in ids if str(d := donations.get(i) or "").isdigit()]
    states = {str(i): s for i, s in query(engine, "SELECT id, status FROM donations WHERE id = ANY(:ids)",
                                          ids=wanted)} if wanted else {}
    refunds = dict(query(engine, "SELECT provider_id, status FROM donation_refunds "
                                 "WHERE provider_id = ANY(:ids)", ids=ids))
    out = []
    for i in ids:
        donation = donations.get(i)
        what = f"donation {donation} {states.get(str(donation), '?')}" if donation else "no donation named"
        if i in refunds:
            what += f", refund row {refunds[i]}"
        out.append(f"{i} ({what})")
    return out


def compare(label: str, provider: dict[str, int], entries: list[tuple[str, int]], sign: int,
            explain=lambda ids: ids) -> bool:
    """Every provider object is one ledger entry, for its amount; no entry names anything else."""
    counts = collections.Counter(payment for payment, _ in entries)
    missing = sorted(set(provider) - set(counts))
    extra = sorted(set(counts) - set(provider))
    twice = sorted(p for p, n in counts.items() if n > 1)
    wrong = sorted(p for p, amount in entries if p in provider and sign * amount != provider[p])
    ok = not (missing or extra or twice or wrong)
    print(f"  {label}: provider {len(provider)}, ledger entries {len(entries)}; missing {len(missing)}, "
          f"extra {len(extra)}, twice {len(twice)}, wrong amount {len(wrong)}: {'OK' if ok else 'FAIL'}")
    for name, ids in (("missing", missing), ("extra", extra), ("twice", twice), ("wrong amount", wrong)):
        if ids:
            print(f"    {name}: {'; '.join(explain(ids[:8]))}{' ...' if len(ids) > 8 else ''}")
    return ok


def money_matches(engine, stripe_payments: dict, stripe_refunds: dict, stripe_donations: dict) -> bool:
    sandbox_payments, sandbox_refunds, sandbox_donations = sandbox_objects(engine)
    names = {**sandbox_donations, **stripe_donations}

    def explain(ids):
        return describe(engine, ids, names)
    rows = query(engine, "SELECT kind, payment, amount FROM ledger_entries "
                         "WHERE kind IN ('donation', 'refund')")
    donations = [(payment, amount) for kind, payment, amount in rows if kind == "donation"]
    refunds = [(payment, amount) for kind, payment, amount in rows if kind == "refund"]
    print(f"  provider side: sandbox {len(sandbox_payments)} payments and {len(sandbox_refunds)} refunds, "
          f"Stripe {len(stripe_payments)} payments and {len(stripe_refunds)} refunds")
    payments_ok = compare("payments -> donation entries", {**sandbox_payments, **stripe_payments},
                          donations, 1, explain)
    refunds_ok = compare("refunds -> refund entries", {**sandbox_refunds, **stripe_refunds}, refunds, -1,
                         explain)
    return payments_ok and refunds_ok


def state_counts(engine) -> None:
    donations = query(engine, "SELECT provider, status, count(*) FROM donations GROUP BY 1, 2 ORDER BY 1, 2")
    refunds = query(engine, "SELECT status, count(*) FROM donation_refunds GROUP BY 1 ORDER BY 1")
    anomalies = query(engine, "SELECT kind, count(*) FROM payment_anomalies GROUP BY 1 ORDER BY 1")
    print("  donations: " + ", ".join(f"{p} {s} {n}" for p, s, n in donations))
    print("  refund rows: " + (", ".join(f"{s} {n}" for s, n in refunds) or "none")
          + "  (requested = set aside, not settled)")
    print("  payment anomalies: " + (", ".join(f"{k} {n}" for k, n in anomalies) or "none"))


# ---- verifiers and jobs ----

def ledger_verify(env: dict) -> bool:
    result = flask(env, "ledger", "verify")
    ok = result.returncode == 0
    print(f"  flask ledger verify: exit {result.returncode}: {last_line(result.stdout + result.stderr)}")
    return ok


def standalone_verify(env: dict, verifier_key: str, folder: Path) -> bool:
    """python -m ledger.verify on an export, a checkpoint signed now and the verifier key."""
    checkpoint = flask(env, "ledger", "checkpoint")
    if checkpoint.returncode != 0:
        print(f"  flask ledger checkpoint: exit {checkpoint.returncode}: {last_line(checkpoint.stderr)}")
        return False
    (folder / "checkpoint.txt").write_text(checkpoint.stdout)
    (folder / "key.txt").write_text(verifier_key + "\n")
    flask_or_die(env, "ledger", "export", str(folder / "ledger.jsonl"))
    result = subprocess.run(
        [sys.executable, "-m", "ledger.verify", "--export", str(folder / "ledger.jsonl"),
         "--checkpoint", str(folder / "checkpoint.txt"), "--key", str(folder / "key.txt")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    print(f"  python -m ledger.verify: exit {result.returncode}: {last_line(result.stdout + result.stderr)}")
    return result.returncode == 0


def unfinished_jobs(engine) -> dict[str, int]:
    return dict(query(engine, "SELECT status, count(*) FROM document_jobs GROUP BY 1"))


def wait_for_jobs(engine, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = unfinished_jobs(engine)
        if not (jobs.get("queued") or jobs.get("running")) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.5)


def logged_exceptions(*logs: Path) -> collections.Counter:
    """The last line of each traceback in the app's logs, by exception class."""
    found: collections.Counter = collections.Counter()
    pattern = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Detected|Violation|Exit|Timeout|Refused|Lost)"
                         r"[\w.]*)(?::|$)")
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_text(errors="replace").splitlines():
            match = pattern.match(line)
            if match:
                found[f"{log.stem}: {match.group(1)}"] += 1
    return found
