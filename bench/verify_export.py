"""Benchmark ledger.verify.verify_export against bare SHA-256.

    .venv/bin/python bench/verify_export.py [--entries N] [--path FILE] [--repeat R]

Without --path, builds an N-entry export of realistic entries (default one
million, 250-350 bytes each, made with ledger.entry) in the temp directory
and reuses it on later runs. Then times, reading the same file each time:

  (a) bare hashlib SHA-256: once per line, and once over the whole file;
  (b) verify_export: hash chain of every line + Merkle root + checkpoint.

Targets: (b) <= 3x the per-line SHA-256 time, and <= 10 s for 1M entries.
"""

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from ledger.entry import GENESIS_PREV, build_entry, canonical_bytes, donor_commitment
from ledger.note import generate_key, sign_checkpoint
from ledger.tree import CompactRange, leaf_hash
from ledger.verify import read_lines, verify_export

MEMOS = [None, None, "Zakat al-mal", "Untuk korban banjir Demak", "In memory of my grandmother",
         "Sedekah Jumat", "Clean water and blankets", "Wakaf sumur desa Sukamaju"]
ORIGIN = "bench.amanah.test/ledger"


def _fields(rng, seq, donations):
    """Member values for entry seq: mostly donations, with the fees, refunds
    and disbursements that follow them in a real ledger."""
    campaign = f"cmp_{rng.randrange(40):04d}"
    r = rng.random()
    if donations and r < 0.10:
        return dict(kind="fee", campaign=campaign, amount=-rng.randrange(500, 5000),
                    ref=rng.choice(donations), memo="Processor fee",
                    payment=f"ch_3P{rng.getrandbits(64):016x}")
    if donations and r < 0.12:
        return dict(kind="refund", campaign=campaign, amount=-rng.randrange(10_000, 500_000),
                    ref=rng.choice(donations), memo="Refund at donor's request",
                    payment=f"re_3P{rng.getrandbits(72):018x}")
    if r < 0.14:
        return dict(kind="disbursement", campaign=campaign, amount=-rng.randrange(10**6, 10**8),
                    memo="Transfer to field partner", evidence=rng.randbytes(32).hex())
    return dict(kind="donation", campaign=campaign, amount=rng.randrange(10_000, 5_000_000),
                memo=rng.choice(MEMOS), donor=donor_commitment(rng.randbytes(32)),
                payment=f"pi_3P{rng.getrandbits(56):014x}")


def generate(path, n):
    """Write an n-entry export to path; return its root."""
    rng = random.Random(6962)
    at = datetime(2024, 1, 1, tzinfo=UTC)
    prev, donations, tree = GENESIS_PREV, [], CompactRange()
    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as f:
        for seq in range(n):
            at += timedelta(seconds=rng.randrange(1, 90))
            fields = _fields(rng, seq, donations[-1000:])
            leaf = canonical_bytes(build_entry(seq=seq, prev=prev, at=at, currency="IDR", **fields))
            if fields["kind"] == "donation":
                donations.append(seq)
            f.write(leaf + b"\n")
            h = leaf_hash(leaf)
            tree.append(h)
            prev = h.hex()
            if seq % 100_000 == 0:
                print(f"  generated {seq:,} entries", file=sys.stderr)
    os.replace(tmp, path)
    return tree.root()


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def sha_per_line(path):
    sha = hashlib.sha256
    with open(path, "rb") as f:
        for line in read_lines(f):
            sha(line).digest()


def sha_whole_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.digest()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--path", help="an existing export to use instead of generating one")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    args = p.parse_args()

    path = Path(args.path or Path(tempfile.gettempdir()) / f"amanah-bench-{args.entries}.jsonl")
    if not path.exists():
        print(f"generating {args.entries:,} entries into {path} ...", file=sys.stderr)
        t0 = time.perf_counter()
        generate(path, args.entries)
        print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    # Sign a checkpoint over the whole export, so (b) includes the signature check.
    with open(path, "rb") as f:
        tree = CompactRange()
        for line in read_lines(f):
            tree.append(leaf_hash(line))
    skey, vkey = generate_key(ORIGIN)
    note = sign_checkpoint(ORIGIN, tree.size, tree.root(), skey)
    n, nbytes = tree.size, path.stat().st_size

    t_line, _ = _best(lambda: sha_per_line(path), args.repeat)
    t_file, _ = _best(lambda: sha_whole_file(path), args.repeat)

    def run_verify():
        with open(path, "rb") as f:
            return verify_export(read_lines(f), checkpoint=note, key=vkey)
    t_verify, result = _best(run_verify, args.repeat)
    if not result.ok:
        sys.exit(f"verification failed: {result.describe()}")

    print(f"export: {path} - {n:,} entries, {nbytes / 1e6:.1f} MB, {nbytes / n:.0f} bytes/entry")
    print(f"(a) SHA-256 per line   : {t_line:7.3f} s  ({t_line / n * 1e9:5.0f} ns/entry)")
    print(f"(a) SHA-256 whole file : {t_file:7.3f} s")
    print(f"(b) verify_export      : {t_verify:7.3f} s  ({t_verify / n * 1e9:5.0f} ns/entry)")
    print(f"ratio (b)/(a) per line : {t_verify / t_line:.2f}x  (target <= 3x)")
    print(f"ratio (b)/(a) file     : {t_verify / t_file:.2f}x")
    per_million = t_verify / n * 1e6
    print(f"verify time per 1M     : {per_million:.2f} s  (target <= 10 s)")


if __name__ == "__main__":
    main()
