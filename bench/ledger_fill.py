"""Append N realistic synthetic entries through the real append service.

    python bench/ledger_fill.py 1000000            # into DATABASE_URL (default: the dev SQLite file)
    python bench/ledger_fill.py 50000 --batch 2000

Donations with donor commitments and processor fees, some refunds pointing at their donation,
chargebacks and disbursements with evidence hashes, across a few synthetic campaigns. For
benchmarks and rehearsals only: the campaigns are named `syn...` and exist only in the ledger.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amanah import create_app
from amanah.extensions import db
from ledger import storage
from ledger.entry import donor_commitment, new_donor_secret

CAMPAIGNS = [f"syn{n:09d}" for n in range(1, 9)]
PURPOSES = ["Pembelian buku untuk taman baca", "Honor relawan posyandu bulan ini",
            "Sewa tempat pelatihan UMKM", "Paket sembako untuk lansia", "Biaya internet balai warga",
            "Alat musik sanggar tari", "Obat dan vitamin untuk klinik komunitas"]
AMOUNTS = [2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000]  # Rp 25.000 .. Rp 1.000.000


def synthetic_entries(rng: random.Random, start_seq: int, start_at: dt.datetime):
    """Yield append() keyword arguments; `seq` is tracked only to make refunds point backwards."""
    seq, at = start_seq, start_at
    donations: list[tuple[int, str, int]] = []
    while True:
        at += dt.timedelta(seconds=rng.randint(1, 90))
        campaign = rng.choice(CAMPAIGNS)
        roll = rng.random()
        if roll < 0.80 or not donations:
            amount = rng.choice(AMOUNTS)
            yield dict(kind="donation", campaign=campaign, amount=amount, currency="IDR", at=at,
                       donor=donor_commitment(new_donor_secret()), payment=f"pi_syn{seq}")
            donations.append((seq, campaign, amount))
            donations = donations[-1000:]
            seq += 1
            fee = amount * 29 // 1000 + 200_000
            yield dict(kind="fee", campaign=campaign, amount=-fee, currency="IDR", at=at, ref=seq - 1,
                       payment=f"txn_syn{seq}")
        elif roll < 0.85:
            ref, campaign, amount = donations.pop(rng.randrange(len(donations)))
            yield dict(kind="refund", campaign=campaign, amount=-amount, currency="IDR", at=at, ref=ref,
                       payment=f"re_syn{seq}", memo="Permintaan donatur")
        elif roll < 0.86:
            ref, campaign, amount = donations.pop(rng.randrange(len(donations)))
            yield dict(kind="chargeback", campaign=campaign, amount=-amount, currency="IDR", at=at, ref=ref,
                       payment=f"dp_syn{seq}")
        else:
            evidence = hashlib.sha256(f"evidence {seq}".encode()).hexdigest()
            yield dict(kind="disbursement", campaign=campaign, amount=-rng.choice(AMOUNTS), currency="IDR",
                       at=at, memo=rng.choice(PURPOSES), evidence=evidence)
        seq += 1


def fill(count: int, batch: int = 5000, seed: int = 2026, quiet: bool = False) -> float:
    app = create_app()
    rng = random.Random(seed)
    started = time.perf_counter()
    with app.app_context():
        size = storage.size(db.session)
        generator = synthetic_entries(rng, size, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
                                      + dt.timedelta(minutes=size))
        done = 0
        while done < count:
            appender = storage.Appender(db.session)
            for _ in range(min(batch, count - done)):
                fields = next(generator)
                if fields.get("ref") is not None and fields["ref"] >= appender.size:
                    fields["ref"] = appender.size - 1
                appender.append(**fields)
                done += 1
            appender.flush()
            db.session.commit()
            if not quiet:
                rate = done / (time.perf_counter() - started)
                print(f"\r{done:,}/{count:,} entries, {rate:,.0f}/s", end="", file=sys.stderr, flush=True)
        db.session.remove()
        db.engine.dispose()
    elapsed = time.perf_counter() - started
    if not quiet:
        print(file=sys.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--batch", type=int, default=5000, help="appends per transaction")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--campaigns", help="comma-separated public ids to spread the entries over "
                        "(real campaigns, e.g. flask demo's); default: synthetic ids")
    args = parser.parse_args()
    if args.campaigns:
        CAMPAIGNS[:] = [c for c in args.campaigns.split(",") if c]
    elapsed = fill(args.count, args.batch, args.seed)
    print(f"appended {args.count:,} entries in {elapsed:.1f} s ({args.count / elapsed:,.0f} entries/s)")


if __name__ == "__main__":
    main()
