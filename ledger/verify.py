"""Standalone ledger auditor.

    python -m ledger.verify --export ledger.jsonl --checkpoint cp.txt --key key.txt \\
        [--old-checkpoint old.txt] [--strict] [--quiet] [--progress]
    python -m ledger.verify --tlog-proof receipt.tlog-proof --key key.txt [--leaf entry.json]
    python -m ledger.verify --tlog-proof proof.json --key key.txt [--cosigned-checkpoint cp.txt] \\
        [--witness w1.vkey --witness w2.vkey --min-witnesses 1]

Streams the export once, in O(log n) memory: checks the hash chain of every
line (seq == line number, prev == leaf hash of the line before), computes
the Merkle root at the sizes the checkpoints name, and checks the signed
checkpoints against them. Exit status: 0 all good, 1 verification failed
(the first bad seq and the reason are printed), 2 usage error or
unreadable input. Needs only the standard library, cryptography and rfc8785.

The second form checks one entry's inclusion proof (C2SP tlog-proof@v1, as
carried by a receipt's QR code, whose `extra` line holds the entry's leaf
hash) against the signed checkpoint it ends with, offline; with --leaf it
also checks that the entry (attached to the receipt PDF) has that hash. A proof.json download
(/ledger/entries/<seq>/proof.json) is read too: its tlog_proof, and its leaf unless --leaf is given.
With --witness keys it applies a witness policy to the proof's checkpoint and prints which
witnesses cosigned; --cosigned-checkpoint adds the cosignatures of a copy of that checkpoint
fetched later (/ledger/checkpoints/<size>), since most arrive after a receipt is made.

The library entry points are verify_export(lines, ...), which the app's own
CLI reuses, and verify_tlog_proof(text, key).
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import sys
import time
from binascii import hexlify
from dataclasses import dataclass, field
from itertools import chain, compress, count, islice
from operator import not_
from typing import NamedTuple

from ledger import cosignature
from ledger.entry import GENESIS_PREV, EntryError, chain_fields, parse_entry
from ledger.note import Checkpoint, NoteError, open_checkpoint, parse_verifier_key
from ledger.tree import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# Lines are checked in batches of 2**12: a full batch is a complete, aligned
# subtree, so its root is computed level by level and added in one step.
BATCH_LEVEL = 12
BATCH = 1 << BATCH_LEVEL
READ_SIZE = 1 << 20

# A canonical entry ends with its prev, seq and v members (JCS sorts keys);
# entry.chain_fields explains why matching this suffix is exact. Lines with
# a ref member, or not canonical, take the slower chain_fields path.
_TAIL = b',"prev":"%s","seq":%d,"v":1}'


@dataclass
class VerifyResult:
    ok: bool = False
    entries: int = 0  # lines read before stopping
    root: bytes | None = None  # root over all lines read, when the chain holds
    roots: dict = field(default_factory=dict)  # tree size -> root, as requested
    checkpoint: Checkpoint | None = None
    old_checkpoint: Checkpoint | None = None
    bad_seq: int | None = None  # the first entry found wrong, when known
    error: str | None = None

    def fail(self, error, bad_seq=None):
        self.ok, self.error, self.bad_seq = False, error, bad_seq
        return self

    def describe(self):
        if self.ok:
            return f"OK: {self.entries} entries, chain intact"
        where = f"seq {self.bad_seq}: " if self.bad_seq is not None else ""
        return f"FAIL: {where}{self.error}"


def read_lines(f, read_size=READ_SIZE):
    """Lines of a binary file without their b"\\n" separators (a final
    newline is optional). Iterates in C, a megabyte at a time."""
    return chain.from_iterable(_line_blocks(f, read_size))


def _line_blocks(f, read_size):
    rest = b""
    while chunk := f.read(read_size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield lines
    if rest:
        yield [rest]


# --- the chain scan ---------------------------------------------------------


class _Scan:
    """One pass over the lines: chain checks and roots at wanted sizes."""

    def __init__(self, wanted, strict, progress):
        self.tree = CompactRange()
        self.count = 0
        self.nbytes = 0
        self.prev = GENESIS_PREV.encode()  # expected prev of the next line
        self.wanted = set(wanted)
        self.roots = {0: EMPTY_ROOT} if 0 in self.wanted else {}
        self.strict = strict
        self.progress = progress

    def run(self, lines):
        """Return None, or (bad_seq, reason) for the first problem."""
        it = iter(lines)
        while batch := list(islice(it, BATCH)):
            failure = self._batch(batch, it)
            if failure:
                return failure
            if self.progress:
                self.nbytes += sum(map(len, batch)) + len(batch)
                self.progress(self.count, self.nbytes)
        return None

    def _batch(self, batch, it):
        start = self.count
        sha = hashlib.sha256
        digests = [sha(b"\x00" + line).digest() for line in batch]
        hexes = list(map(hexlify, digests))
        prevs = [self.prev, *hexes[:-1]]
        tails = map(_TAIL.__mod__, zip(prevs, range(start, start + len(batch)), strict=True))
        fast = list(map(bytes.endswith, batch, tails))
        if self.strict or not all(fast):
            # Only the lines the suffix test missed (those with a ref member,
            # or broken ones) need a closer look; in strict mode, all.
            todo = range(len(batch)) if self.strict else compress(count(), map(not_, fast))
            failure = self._check_lines(batch, todo, start, prevs, hexes, it)
            if failure:
                return failure
        self._grow(digests, start)
        self.prev = hexes[-1]
        self.count = start + len(batch)
        return None

    def _check_lines(self, batch, todo, start, prevs, hexes, it):
        """Check the lines batch[j] for j in todo (increasing) one by one."""
        for j in todo:
            line, seq = batch[j], start + j
            try:
                if self.strict:
                    entry = parse_entry(line)
                    got_seq, got_prev = entry["seq"], entry["prev"]
                else:
                    got_seq, got_prev = chain_fields(line)
            except EntryError as e:
                return seq, f"{e}{_hint(line)}"
            if got_seq != seq:
                return seq, f"seq is {got_seq}, expected {seq} (entries missing, repeated or reordered)"
            if got_prev.encode() != prevs[j]:
                nxt = batch[j + 1] if j + 1 < len(batch) else next(it, None)
                bad, reason = _blame_chain_break(seq, got_prev, prevs[j], hexes[j], nxt)
                return bad, reason + _hint(line)
        return None

    def _grow(self, digests, start):
        end = start + len(digests)
        wanted_inside = any(start < s < end for s in self.wanted)
        if len(digests) == BATCH and not wanted_inside:
            self.tree.append_subtree(root_from_leaf_hashes(digests), BATCH_LEVEL)
        else:
            for d in digests:
                self.tree.append(d)
                if self.tree.size in self.wanted:
                    self.roots[self.tree.size] = self.tree.root()
        if end in self.wanted:
            self.roots[end] = self.tree.root()


def _hint(line):
    if line.endswith(b"\n"):
        return " (pass lines without their newline, e.g. via read_lines)"
    if line.endswith(b"\r"):
        return " (CRLF line ends: the export must use bare \\n)"
    return ""


def _prev_of(line):
    try:
        return chain_fields(line)[1].encode()
    except EntryError:
        return None


def _blame_chain_break(seq, got_prev, want_prev, own_hash, next_line):
    """Entry seq's prev is not the hash of entry seq-1. If entry seq still
    links to its successor, entry seq is intact and seq-1 was changed;
    otherwise entry seq itself (its prev) was changed. With no successor
    there is no telling which of the two."""
    if seq == 0:
        return 0, f"prev is {got_prev!r:.80}, but the first entry's prev must be 64 zeros"
    if next_line is not None and _prev_of(next_line) == own_hash:
        return seq - 1, (f"leaf hash {want_prev.decode()} does not match the prev "
                         f"{got_prev} recorded by entry {seq}: entry {seq - 1} was altered")
    why = "this entry was altered" if next_line is not None else f"entry {seq - 1} or this entry was altered"
    return seq, (f"prev is {got_prev!r:.80}, expected {want_prev.decode()} "
                 f"(leaf hash of entry {seq - 1}): {why}")


# --- checkpoints ------------------------------------------------------------


def _open_checkpoints(result, checkpoint, key, old_checkpoint, origin):
    if checkpoint is None:
        if old_checkpoint is not None:
            raise NoteError("an old checkpoint needs a checkpoint to compare with")
        return
    if key is None:
        raise ValueError("verifying a checkpoint needs the verifier key")
    try:
        result.checkpoint = open_checkpoint(checkpoint, key, origin)
    except NoteError as e:
        raise NoteError(f"checkpoint: {e}") from None
    if old_checkpoint is not None:
        try:
            old = result.old_checkpoint = open_checkpoint(old_checkpoint, key, origin)
        except NoteError as e:
            raise NoteError(f"old checkpoint: {e}") from None
        if old.origin != result.checkpoint.origin:
            raise NoteError(f"old checkpoint is for {old.origin!r}, not {result.checkpoint.origin!r}")
        if old.size > result.checkpoint.size:
            raise NoteError(f"old checkpoint (size {old.size}) is newer than the checkpoint "
                            f"(size {result.checkpoint.size})")


def _check_roots(result):
    cp, old = result.checkpoint, result.old_checkpoint
    if cp is not None:
        if result.entries < cp.size:
            return result.fail(f"missing: the export has {result.entries} entries, the "
                               f"checkpoint covers {cp.size} (truncated export)", result.entries)
        if result.roots[cp.size] != cp.root:
            return result.fail(f"the root of the first {cp.size} entries does not match the "
                               f"signed checkpoint: entry {cp.size - 1} differs from the signed "
                               f"one, or the export is a different history", cp.size - 1)
    if old is not None and result.roots[old.size] != old.root:
        return result.fail(f"the first {old.size} entries do not match the old checkpoint: "
                           f"the ledger was rewritten after that checkpoint (forked history)")
    result.ok = True
    return result


def verify_export(lines, *, checkpoint=None, key=None, old_checkpoint=None, origin=None,
                  strict=False, progress=None, sizes=()):
    """Verify an export given as an iterable of leaf byte strings (no newlines).

    checkpoint / old_checkpoint: signed checkpoint notes (str or bytes);
    key: verifier key text(s) or Verifier; origin: required checkpoint origin.
    strict: also require every line to be a valid entry in canonical form.
    progress(entries, bytes): called after each batch. sizes: extra tree
    sizes whose roots to report in result.roots. Returns a VerifyResult;
    raises ValueError only for a checkpoint without a key.
    """
    result = VerifyResult()
    try:
        _open_checkpoints(result, checkpoint, key, old_checkpoint, origin)
    except NoteError as e:
        return result.fail(str(e))
    wanted = set(sizes) | {cp.size for cp in (result.checkpoint, result.old_checkpoint) if cp}
    scan = _Scan(wanted, strict, progress)
    failure = scan.run(lines)
    result.entries, result.roots = scan.count, scan.roots
    if failure:
        return result.fail(failure[1], failure[0])
    result.root = scan.tree.root()
    return _check_roots(result)


def verify_checkpoint_extension(old, new, proof):
    """True when proof (hashes, or hex as /ledger/proof/consistency serves
    them) shows that checkpoint new extends checkpoint old. Both must be
    verified Checkpoints already (open_checkpoint)."""
    proof = [bytes.fromhex(p) if isinstance(p, str) else p for p in proof]
    if old.origin != new.origin or old.size > new.size:
        return False
    if old.size == 0:  # every tree extends the empty one
        return old.root == EMPTY_ROOT and not proof
    try:
        return verify_consistency(old.size, new.size, old.root, new.root, proof)
    except ProofError:
        return False


# --- one entry's inclusion proof (C2SP tlog-proof@v1) ---------------------------

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


class TlogProof(NamedTuple):
    extra: bytes | None
    index: int
    hashes: list
    checkpoint: str


def _strict_b64(text, what):
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what} is not base64") from None
    if base64.b64encode(data).decode() != text:
        raise ProofError(f"{what} is not canonical base64")
    return data


def parse_tlog_proof(text):
    """Split a tlog-proof into (extra, index, hashes, checkpoint note); ProofError when malformed."""
    header, sep, checkpoint = text.partition("\n\n")
    lines = header.split("\n")
    if not sep or not checkpoint or lines[0] != TLOG_PROOF_HEADER:
        raise ProofError(f"not a tlog-proof: it must start with {TLOG_PROOF_HEADER!r} "
                         "and end with a checkpoint")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _strict_b64(rest.pop(0)[6:], "extra")
    if not rest or not rest[0].startswith("index "):
        raise ProofError("the line after the header must be 'index N'")
    number = rest.pop(0)[6:]
    if not number.isascii() or not number.isdigit() or (number != "0" and number.startswith("0")):
        raise ProofError(f"bad index {number!r:.30}")
    hashes = [_strict_b64(line, f"proof hash {i}") for i, line in enumerate(rest)]
    if any(len(h) != 32 for h in hashes):
        raise ProofError("every proof hash must be 32 bytes")
    return TlogProof(extra, int(number), hashes, checkpoint)


def verify_tlog_proof(text, key, *, leaf=None, origin=None):
    """Check that entry `index` of the log whose signed checkpoint ends the proof has the leaf hash
    the proof's extra line carries (Amanah's receipts put it there), or, given `leaf` (the entry's
    exact bytes), that this entry is in the log. key: verifier key text(s) or Verifier.
    Returns (Checkpoint, leaf hash); raises ProofError or NoteError naming what is wrong."""
    proof = parse_tlog_proof(text)
    if proof.extra is not None and len(proof.extra) != 32:
        raise ProofError("the extra line must carry the entry's 32-byte leaf hash")
    if leaf is not None:
        hashed = leaf_hash(leaf)
        if proof.extra is not None and proof.extra != hashed:
            raise ProofError("the entry given does not hash to the leaf hash in the proof's extra line")
        seq = chain_fields(leaf)[0]
        if seq != proof.index:
            raise ProofError(f"the entry says seq {seq}, the proof index {proof.index}")
    elif proof.extra is None:
        raise ProofError("no leaf hash: the proof has no extra line, so pass the entry itself")
    else:
        hashed = proof.extra
    if isinstance(key, str | bytes):
        key = parse_verifier_key(key.decode() if isinstance(key, bytes) else key)
    cp = open_checkpoint(proof.checkpoint, key, origin)
    if not verify_inclusion(proof.index, cp.size, hashed, proof.hashes, cp.root):
        raise ProofError(f"the inclusion proof does not lead from entry {proof.index} to the root "
                         f"of the signed checkpoint of size {cp.size}")
    return cp, hashed


# --- command line -------------------------------------------------------------


class _ProgressBar:
    """A one-line text bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total_bytes, stream=sys.stderr):
        self.total, self.stream, self.last = total_bytes, stream, 0.0

    def __call__(self, entries, nbytes):
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        if self.total:
            frac = min(nbytes / self.total, 1.0)
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r[{bar:<30}] {frac:6.1%} {entries:,} entries")
        else:
            self.stream.write(f"\r{entries:,} entries")
        self.stream.flush()

    def close(self):
        if self.last:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m ledger.verify",
                                description="Verify an Amanah ledger export against signed checkpoints.")
    p.add_argument("--export", help="the export (JSON lines); - for stdin")
    p.add_argument("--checkpoint", help="signed checkpoint note")
    p.add_argument("--tlog-proof",
                   help="instead: one entry's inclusion proof (e.g. from a receipt's QR code)")
    p.add_argument("--leaf",
                   help="with --tlog-proof: a file with the entry's exact bytes, to check it too")
    p.add_argument("--cosigned-checkpoint", metavar="FILE",
                   help="with --tlog-proof: the same checkpoint with the witness cosignatures collected "
                        "since (from /ledger/checkpoints/<size>); its signature lines are added")
    p.add_argument("--key", required=True, help="file with the verifier key line")
    p.add_argument("--old-checkpoint", help="an earlier checkpoint the export must extend")
    p.add_argument("--origin", help="require this checkpoint origin")
    p.add_argument("--strict", action="store_true",
                   help="also check that every line is a valid entry in canonical form (slower)")
    p.add_argument("--progress", action="store_true", help="show progress even if stderr is not a terminal")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.add_argument("--witness", action="append", default=[], metavar="KEY",
                   help="a witness's verifier key, or a file holding it (repeatable)")
    p.add_argument("--min-witnesses", type=int, default=None,
                   help="require cosignatures by at least this many --witness keys (default: all)")
    args = p.parse_args(argv)
    if not args.tlog_proof and not args.checkpoint:
        p.error("give --checkpoint (with --export to check the ledger), or --tlog-proof")
    minimum = len(args.witness) if args.min_witnesses is None else args.min_witnesses
    if not 0 <= minimum <= len(args.witness):
        p.error("--min-witnesses must be between 0 and the number of --witness keys")
    args.min_witnesses = minimum
    return args


def _witness_keys(args):
    keys = []
    for value in args.witness:
        text = value
        if os.path.isfile(value):
            with open(value, encoding="utf-8") as f:
                text = f.read()
        keys.append(cosignature.parse_witness_key(text.strip()))
    return keys


def _check_witnesses(args, note_text):
    """Apply the --witness/--min-witnesses policy to a checkpoint note: the cosignatures found.
    Raises CosignatureError when the policy does not hold."""
    if not args.witness:
        return []
    if isinstance(note_text, bytes):
        note_text = note_text.decode("utf-8", "replace")
    return cosignature.require_witnesses(note_text, _witness_keys(args), args.min_witnesses)


def _print_witnesses(found):
    for c in found:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c.timestamp))
        print(f"cosigned by witness {c.witness} at {at}")


def _read_inputs(args):
    with open(args.key, encoding="utf-8") as f:
        key = parse_verifier_key(f.read())
    with open(args.checkpoint, "rb") as f:
        checkpoint = f.read()
    old = None
    if args.old_checkpoint:
        with open(args.old_checkpoint, "rb") as f:
            old = f.read()
    return key, checkpoint, old


def _run(args, key, checkpoint, old, export):
    total = None
    if export is not sys.stdin.buffer:
        total = os.fstat(export.fileno()).st_size
    bar = _ProgressBar(total) if args.progress or sys.stderr.isatty() else None
    try:
        return verify_export(read_lines(export), checkpoint=checkpoint, key=key,
                             old_checkpoint=old, origin=args.origin, strict=args.strict, progress=bar)
    finally:
        if bar:
            bar.close()


def _main_tlog_proof(args):
    try:
        with open(args.key, encoding="utf-8") as f:
            key = parse_verifier_key(f.read())
        with open(args.tlog_proof, encoding="utf-8") as f:
            text, leaf = read_proof_file(f.read())
        if args.leaf:
            with open(args.leaf, "rb") as f:
                leaf = f.read().rstrip(b"\n")
        cosigned = None
        if args.cosigned_checkpoint:
            with open(args.cosigned_checkpoint, encoding="utf-8") as f:
                cosigned = f.read()
    except (OSError, UnicodeDecodeError, NoteError, ValueError) as e:
        print(f"ledger.verify: {e}", file=sys.stderr)
        return 2
    try:
        if cosigned is not None:
            proof = parse_tlog_proof(text)
            merged = cosignature.merge_signatures(proof.checkpoint, cosigned)
            text = text[:len(text) - len(proof.checkpoint)] + merged
        cp, hashed = verify_tlog_proof(text, key, leaf=leaf, origin=args.origin)
        found = _check_witnesses(args, parse_tlog_proof(text).checkpoint)
    except (ProofError, NoteError, EntryError, cosignature.CosignatureError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        index = parse_tlog_proof(text).index
        print(f"OK: entry {index} (leaf hash {hashed.hex()}) is in {cp.origin} at size {cp.size}: "
              "signature and inclusion proof verified")
        _print_witnesses(found)
        if leaf is not None:
            print(leaf.decode("utf-8"))
    return 0


def read_proof_file(content):
    """(tlog-proof text, leaf bytes or None) from a .tlog-proof file or a proof.json download."""
    if not content.lstrip().startswith("{"):
        return content, None
    try:
        bundle = json.loads(content)
        return bundle["tlog_proof"], bundle["leaf"].encode("utf-8")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("a JSON proof file needs tlog_proof and leaf members (as proof.json has)") from None


def _main_checkpoint(args):
    """Only --checkpoint: its signature, and the witness policy."""
    try:
        key, checkpoint, _old = _read_inputs(args)
        cp = open_checkpoint(checkpoint.decode("utf-8"), key, args.origin)
        found = _check_witnesses(args, checkpoint)
    except (OSError, UnicodeDecodeError) as e:
        print(f"ledger.verify: {e}", file=sys.stderr)
        return 2
    except (NoteError, cosignature.CosignatureError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"checkpoint {cp.origin} size {cp.size}: signature verified")
        _print_witnesses(found)
    return 0


def main(argv=None):
    args = _parse_args(argv)
    if args.tlog_proof:
        return _main_tlog_proof(args)
    if not args.export:
        return _main_checkpoint(args)
    try:
        key, checkpoint, old = _read_inputs(args)
        try:
            found = _check_witnesses(args, checkpoint)
        except cosignature.CosignatureError as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return 1
        if args.export == "-":
            result = _run(args, key, checkpoint, old, sys.stdin.buffer)
        else:
            with open(args.export, "rb") as export:
                result = _run(args, key, checkpoint, old, export)
    except (OSError, UnicodeDecodeError, NoteError) as e:
        print(f"ledger.verify: {e}", file=sys.stderr)
        return 2
    if not result.ok:
        print(result.describe(), file=sys.stderr)
        return 1
    if not args.quiet:
        _report(result)
        _print_witnesses(found)
    return 0


def _report(result):
    cp, old = result.checkpoint, result.old_checkpoint
    print(result.describe())
    print(f"checkpoint {cp.origin} size {cp.size}: signature and root verified")
    if old is not None:
        print(f"old checkpoint size {old.size}: signature verified; the ledger extends it")
    if result.entries > cp.size:
        print(f"note: {result.entries - cp.size} entries beyond the checkpoint are not yet signed")


if __name__ == "__main__":
    sys.exit(main())
