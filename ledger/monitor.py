"""A ledger monitor that remembers: `python -m ledger.monitor URL --key KEY [--state FILE]`.

Each run fetches the site's newest checkpoint and checks it against what the previous run verified
(kept in a state file):

- the checkpoint is signed by the log's key (and, with --witness/--min-witnesses, cosigned by
  enough of the given witnesses);
- it is not smaller than the remembered one, and at the same size it has the same root (two
  different checkpoints for one size are a split view);
- it extends the remembered one: the site's consistency proof from the remembered size verifies;
- only the new entries are downloaded (C2SP tlog-tiles: level-0 hash tiles and entry bundles),
  and each one hashes to its place in the tree, is a valid entry in canonical RFC 8785 form, has
  the right `seq` and links to the previous entry (`prev`); the new leaf hashes, added to the
  remembered right edge of the tree, give the checkpoint's root;
- the campaign figures the site publishes (/api/v1/ledger/campaigns/<id>) equal the sums of the
  campaigns' entries, for every campaign with new entries;
- with --gossip (files or URLs: another monitor's state file, a witness's checkpoint, any
  checkpoint note), the checkpoints others saw are consistent with this one.

It prints one line per run (or a JSON summary with --json) and exits 0 when everything holds,
1 when the log misbehaved (nothing is remembered from that run), 2 on a usage or state-file
error, 3 when the site could not be reached. The standard library, `cryptography` and `rfc8785`
are all it needs.
"""

import argparse
import datetime as dt
import gzip
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ledger import cosignature, note, tiles, tree
from ledger import entry as entries
from ledger.verify import verify_checkpoint_extension

STATE_VERSION = 1
USER_AGENT = "amanah-ledger-monitor/1"
FIGURES = ("raised", "refunded", "chargebacks", "fees", "disbursed")


class Misbehaviour(Exception):
    """The log did something a log must never do. kind: bad_signature, too_few_witnesses,
    smaller, split_view, inconsistent, altered_entry, bad_entry, campaign_sums."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


class Unreachable(Exception):
    """A resource could not be fetched (network error or an HTTP error status)."""

    def __init__(self, url, status=None, reason=""):
        super().__init__(f"{url}: {status or ''} {reason}".strip())
        self.url = url
        self.status = status


class StateError(Exception):
    pass


def http_fetch(url, timeout=30.0):
    """GET url and return the body (gunzipped if needed); Unreachable on any failure."""
    if not url.startswith(("http://", "https://")):
        raise Unreachable(url, None, "only http and https URLs are fetched")
    request = urllib.request.Request(url, headers={  # noqa: S310 - the scheme is checked above
        "User-Agent": USER_AGENT, "Accept-Encoding": "gzip, identity"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            body = response.read()
            if response.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            return body
    except urllib.error.HTTPError as exc:
        raise Unreachable(url, exc.code, exc.reason) from None
    except (urllib.error.URLError, OSError, EOFError) as exc:
        raise Unreachable(url, None, str(getattr(exc, "reason", exc))) from None


# --- state ---------------------------------------------------------------------------------------


def load_state(path):
    """The remembered state, or None when the file does not exist yet."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read the state file {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise StateError(f"{path} is not a state file of this monitor")
    return data


def save_state(path, state):
    """Write the state atomically: a crash leaves either the old file or the new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- one run -------------------------------------------------------------------------------------


class Monitor:
    """One run against one site. fetch(url) -> bytes may be replaced (tests)."""

    def __init__(self, url, key, state, *, fetch=http_fetch, witnesses=(), min_witnesses=0):
        self.base = url.rstrip("/")
        self.key = note.parse_verifier_key(key) if isinstance(key, str) else key
        self.state = state
        self.fetch = fetch
        self.witnesses = [cosignature.parse_witness_key(w) if isinstance(w, str) else w for w in witnesses]
        self.min_witnesses = min_witnesses
        self.report = {"ok": False, "url": self.base, "origin": None, "size": None, "previous_size": None,
                       "new_entries": 0, "campaigns_checked": 0, "campaigns_skipped": 0,
                       "witnesses": [], "gossip": [], "problem": None}

    def get(self, path):
        return self.fetch(f"{self.base}/{path}")

    def run(self, gossip=()):
        """Check everything; return the new state. Raises Misbehaviour or Unreachable."""
        text = self.get("ledger/checkpoint").decode("utf-8", "replace")
        origin = self.state["origin"] if self.state else None
        try:
            cp = note.open_checkpoint(text, self.key, origin=origin)
        except note.NoteError as exc:
            raise Misbehaviour("bad_signature",
                               f"the checkpoint does not verify with the log's key: {exc}") from None
        self.report.update(origin=cp.origin, size=cp.size, root=cp.root.hex())
        self._check_witnesses(text)
        old = self._remembered()
        self.report["previous_size"] = old.size if old else None
        compact = self._extend(old, cp)
        campaigns = self._check_new_entries(old, cp, compact)
        for source in gossip:
            self.report["gossip"].append(self._compare_gossip(source, cp))
        self.report["ok"] = True
        history = (self.state or {}).get("history", [])[-99:]
        if not old or old.size != cp.size:
            history.append({"size": cp.size, "root": cp.root.hex(), "seen": _now()})
        return {"version": STATE_VERSION, "url": self.base, "origin": cp.origin, "key": self.key.text(),
                "checkpoint": text, "size": cp.size, "root": cp.root.hex(),
                "range": [h.hex() for h in compact.hashes()], "last_leaf_hash": self._last_hash,
                "campaigns": campaigns, "history": history, "checked_at": _now()}

    def _check_witnesses(self, text):
        if not self.witnesses:
            return
        try:
            cosigned = cosignature.verify_cosignatures(text, self.witnesses)
        except cosignature.CosignatureError as exc:
            raise Misbehaviour("bad_signature", f"a witness cosignature fails: {exc}") from None
        self.report["witnesses"] = [{"witness": c.witness, "timestamp": c.timestamp} for c in cosigned]
        if len(cosigned) < self.min_witnesses:
            names = ", ".join(c.witness for c in cosigned) or "none"
            raise Misbehaviour("too_few_witnesses", f"the checkpoint is cosigned by {len(cosigned)} of the "
                               f"given witnesses ({names}); the policy needs {self.min_witnesses}")

    def _remembered(self):
        if not self.state:
            self._last_hash = "0" * 64
            return None
        self._last_hash = self.state["last_leaf_hash"]
        return note.Checkpoint(self.state["origin"], self.state["size"], bytes.fromhex(self.state["root"]))

    def _extend(self, old, cp):
        """The remembered compact range, after checking that cp may extend old."""
        if old is None:
            return tree.CompactRange()
        if cp.size < old.size:
            raise Misbehaviour("smaller", f"the site's checkpoint has {cp.size} entries, but a checkpoint "
                               f"for {old.size} entries was verified before: entries were removed")
        if cp.size == old.size and cp.root != old.root:
            raise Misbehaviour("split_view", f"two different checkpoints for size {cp.size}: root "
                               f"{old.root.hex()} verified before, {cp.root.hex()} now")
        if cp.size > old.size and old.size > 0:
            proof = self._consistency_proof(old.size, cp.size)
            if not verify_checkpoint_extension(old, cp, proof):
                raise Misbehaviour("inconsistent", f"the checkpoint for {cp.size} entries does not extend "
                                   f"the one verified before ({old.size} entries): history was rewritten")
        return tree.CompactRange.restore(old.size, [bytes.fromhex(h) for h in self.state["range"]])

    def _consistency_proof(self, old, size):
        body = json.loads(self.get(f"ledger/proof/consistency?old={old}&size={size}"))
        return tree.proof_from_hex(body["proof"])

    def _check_new_entries(self, old, cp, compact):
        """Download the entries after old.size; check them; return the campaigns' sums."""
        remembered = (self.state or {}).get("campaigns") or {}
        campaigns = {k: dict(v) for k, v in remembered.items()}
        touched = set()
        seq = compact.size
        prev = self._last_hash
        first_tile = seq // tiles.TILE_WIDTH if seq < cp.size else cp.size
        for n in range(first_tile, (cp.size + tiles.TILE_WIDTH - 1) // tiles.TILE_WIDTH):
            width = min(tiles.TILE_WIDTH, cp.size - n * tiles.TILE_WIDTH)
            hashes = tiles.split_hashes(self.get(f"ledger/{tiles.Tile(0, n, width).path()}"))
            leaves = tiles.decode_bundle(self.get(f"ledger/{tiles.Tile(None, n, width).path()}"))
            if len(hashes) != width or len(leaves) != width:
                raise Misbehaviour("altered_entry", f"tile {n} has {len(hashes)} hashes and {len(leaves)} "
                                   f"entries, expected {width}")
            for i in range(seq - n * tiles.TILE_WIDTH, width):
                leaf, h = leaves[i], hashes[i]
                if tree.leaf_hash(leaf) != h:
                    raise Misbehaviour("altered_entry", f"entry {seq} was altered: its bytes hash to "
                                       f"{tree.leaf_hash(leaf).hex()} but the tree holds {h.hex()}")
                try:
                    entry = entries.parse_entry(leaf)
                except entries.EntryError as exc:
                    raise Misbehaviour("bad_entry",
                                       f"entry {seq} is not a valid canonical entry: {exc}") from None
                if entry["seq"] != seq:
                    raise Misbehaviour("bad_entry", f"entry {seq} says it is entry {entry['seq']}")
                if entry["prev"] != prev:
                    raise Misbehaviour("altered_entry", f"the hash chain breaks at entry {seq}: its prev is "
                                       f"{entry['prev']}, entry {seq - 1} hashes to {prev}")
                _add_to_sums(campaigns, entry)
                touched.add(entry["campaign"])
                compact.append(h)
                prev = h.hex()
                seq += 1
        if compact.root() != cp.root:
            raise Misbehaviour("inconsistent", f"the tree's hashes do not give the checkpoint's root for "
                               f"{cp.size} entries")
        self._last_hash = prev
        self.report["new_entries"] = cp.size - (old.size if old else 0)
        for campaign in sorted(touched):
            self._check_campaign(campaign, campaigns[campaign], cp.size)
        return campaigns

    def _check_campaign(self, campaign, sums, size):
        try:
            published = json.loads(self.get(f"api/v1/ledger/campaigns/{campaign}"))
        except Unreachable as exc:
            if exc.status == 404:
                raise Misbehaviour("campaign_sums", f"campaign {campaign} has entries but the site "
                                   f"publishes no figures for it") from None
            raise
        if published.get("last_seq", -1) > sums["last_seq"] and published["last_seq"] >= size:
            self.report["campaigns_skipped"] += 1  # the ledger has grown since the checkpoint
            return
        want = dict(sums, balance=sum(sums[f] * (1 if f == "raised" else -1) for f in FIGURES))
        for field in (*FIGURES, "balance", "entry_count", "donation_count", "last_seq", "currency"):
            if published.get(field) != want[field]:
                raise Misbehaviour("campaign_sums", f"campaign {campaign}: the site shows {field} = "
                                   f"{published.get(field)!r}, its entries give {want[field]!r}")
        self.report["campaigns_checked"] += 1

    def _compare_gossip(self, source, cp):
        """Check a checkpoint another party saw against ours: same size, same root; else the
        smaller one must be a prefix of the larger, by the site's own consistency proof."""
        text = _read_gossip(source, self.fetch)
        try:
            theirs = note.open_checkpoint(text, self.key, origin=cp.origin)
        except note.NoteError as exc:
            raise StateError(f"gossip {source}: not a checkpoint of this log ({exc})") from None
        seen = {"source": str(source), "size": theirs.size, "agrees": True}
        if theirs.size == cp.size and theirs.root != cp.root:
            raise Misbehaviour("split_view", f"{source} saw another checkpoint for size {cp.size}: root "
                               f"{theirs.root.hex()}, this monitor sees {cp.root.hex()}")
        if theirs.size != cp.size and min(theirs.size, cp.size) > 0:
            small, big = sorted((theirs, cp), key=lambda c: c.size)
            try:
                proof = self._consistency_proof(small.size, big.size)
            except Unreachable as exc:
                if exc.status == 400:
                    raise Misbehaviour("split_view", f"{source} saw a checkpoint for {theirs.size} entries, "
                                       f"larger than the ledger the site shows this monitor") from None
                raise
            if not verify_checkpoint_extension(small, big, proof):
                raise Misbehaviour("split_view", f"{source} saw a checkpoint for {theirs.size} entries that "
                                   f"is not consistent with the one for {cp.size} entries seen here")
        return seen


def _add_to_sums(campaigns, entry):
    sums = campaigns.get(entry["campaign"])
    if sums is None:
        sums = campaigns[entry["campaign"]] = dict.fromkeys(FIGURES, 0) | {
            "currency": entry["currency"], "entry_count": 0, "donation_count": 0, "last_seq": -1}
    if sums["currency"] != entry["currency"]:
        raise Misbehaviour("bad_entry", f"entry {entry['seq']} is in {entry['currency']}, campaign "
                           f"{entry['campaign']} in {sums['currency']}")
    field, sign = entries.TOTAL_EFFECTS[entry["kind"]]
    sums[field] += sign * entry["amount"]
    sums["entry_count"] += 1
    sums["donation_count"] += entry["kind"] == "donation"
    sums["last_seq"] = entry["seq"]


def _read_gossip(source, fetch):
    """A checkpoint note from a file or URL: a bare note, or another monitor's state file."""
    source = str(source)
    if source.startswith(("http://", "https://")):
        data = fetch(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise StateError(f"gossip {source}: {exc}") from None
    text = data.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            text = json.loads(text)["checkpoint"]
        except (ValueError, KeyError, TypeError):
            raise StateError(f"gossip {source}: JSON without a checkpoint") from None
    return text


def _now():
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- command line --------------------------------------------------------------------------------


def _key_text(value):
    path = Path(value)
    if "+" not in value or path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StateError(f"cannot read the key file {value}: {exc}") from None
    return value.strip()


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m ledger.monitor",
        description="Check that a site's ledger only grows: signature, consistency with the last run, "
                    "the new entries, campaign sums, and (optionally) witnesses and gossip.")
    parser.add_argument("url", help="the site, e.g. https://amanah.example (its /ledger/... is read)")
    parser.add_argument("--key", required=True, help="the log's verifier key, or a file holding it")
    parser.add_argument("--state", default="ledger-monitor.json",
                        help="state file (default: ledger-monitor.json); created on the first run")
    parser.add_argument("--gossip", action="append", default=[], metavar="FILE_OR_URL",
                        help="a checkpoint seen elsewhere: another monitor's state file, a witness's "
                             "<prefix>/<origin hash>/checkpoint URL, or a checkpoint note (repeatable)")
    parser.add_argument("--witness", action="append", default=[], metavar="KEY",
                        help="a witness's verifier key (or a file holding it) (repeatable)")
    parser.add_argument("--min-witnesses", type=int, default=None,
                        help="require cosignatures by at least this many of the --witness keys "
                             "(default: all of them)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of one line")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    return parser.parse_args(argv)


def _line(report):
    if not report["ok"]:
        problem = report["problem"]
        return f"FAIL {report['url']}: {problem['kind']}: {problem['message']}"
    previous = report["previous_size"]
    parts = [f"OK {report['origin']} size {report['size']}",
             "first run" if previous is None else f"+{report['new_entries']} since {previous}",
             f"{report['campaigns_checked']} campaign sums match"]
    if report["campaigns_skipped"]:
        parts.append(f"{report['campaigns_skipped']} moved on")
    if report["witnesses"]:
        parts.append("cosigned by " + ", ".join(w["witness"] for w in report["witnesses"]))
    if report["gossip"]:
        parts.append(f"{len(report['gossip'])} gossip checkpoint(s) agree")
    return ", ".join(parts)


def main(argv=None):
    args = _parse_args(argv)
    try:
        key = _key_text(args.key)
        witnesses = [_key_text(w) for w in args.witness]
        state = load_state(args.state)
        if state is not None and state.get("key") != note.parse_verifier_key(key).text():
            raise StateError(f"{args.state} was made with another log key")
        minimum = len(witnesses) if args.min_witnesses is None else args.min_witnesses
        if not 0 <= minimum <= len(witnesses):
            raise StateError("--min-witnesses must be between 0 and the number of --witness keys")
        monitor = Monitor(args.url, key, state, fetch=lambda url: http_fetch(url, args.timeout),
                          witnesses=witnesses, min_witnesses=minimum)
    except (StateError, note.NoteError, cosignature.CosignatureError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    status = 0
    try:
        new_state = monitor.run(args.gossip)
        save_state(args.state, new_state)
    except Misbehaviour as exc:
        monitor.report["problem"] = {"kind": exc.kind, "message": exc.message}
        status = 1
    except Unreachable as exc:
        monitor.report["problem"] = {"kind": "unreachable", "message": str(exc)}
        status = 3
    except (StateError, OSError, ValueError, KeyError, tiles.TileError, tree.ProofError) as exc:
        monitor.report["problem"] = {"kind": "error", "message": str(exc)}
        status = 2
    monitor.report["ok"] = status == 0
    if args.json:
        print(json.dumps(monitor.report, sort_keys=True))
    else:
        print(_line(monitor.report), file=sys.stdout if status == 0 else sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
