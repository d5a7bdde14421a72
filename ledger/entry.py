"""Ledger entries: validation, canonical leaf bytes, donor commitments.

An entry is a flat JSON object (see docs/ledger.md). Its leaf bytes are the
RFC 8785 (JCS) serialization, made once when the entry is appended and
stored verbatim; nothing re-serializes them later. ``parse_entry`` is the
strict inverse: it accepts only bytes that are exactly the canonical form
of a valid entry.
"""

import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, datetime

import rfc8785

VERSION = 1
GENESIS_PREV = "0" * 64

# Sign of `amount` per kind: money in is positive, money out negative.
KIND_SIGNS = {
    "donation": 1,
    "chargeback_reversal": 1,
    "refund_reversal": 1,
    "disbursement_reversal": 1,
    "fee_reversal": 1,
    "refund": -1,
    "chargeback": -1,
    "fee": -1,
    "disbursement": -1,
    # Anchors a campaign's progress report (its canonical hash in `evidence`, its evidence files'
    # hashes in `files`); moves no money, so its amount is 0.
    "report": 0,
}
REQUIRED = ("v", "seq", "prev", "at", "kind", "campaign", "amount", "currency")
OPTIONAL = ("ref", "memo", "evidence", "donor", "payment", "files")
MAX_FILES = 50

# JCS writes numbers as IEEE doubles: integers beyond 2**53 lose digits.
MAX_INT = 2**53 - 1
MAX_MEMO = 1000

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
# Ids, not prose: no spaces and no '@', so no e-mail address fits in.
_CAMPAIGN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
_PAYMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,254}\Z")
# [0-9], not \d: \d would also match other scripts' digits.
_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z\Z")

DONOR_PREFIX = b"amanah-donor-v1\x00"


class EntryError(ValueError):
    """An entry (or leaf) that breaks the format; the message names the member."""


# --- building -----------------------------------------------------------


def format_at(dt):
    """RFC 3339 UTC text for an aware datetime: seconds, plus microseconds
    only when non-zero, and 'Z'."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise EntryError("at: datetime must be timezone-aware")
    dt = dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}"
    return text + "Z"


def build_entry(*, seq, prev, at, kind, campaign, amount, currency,
                ref=None, memo=None, evidence=None, donor=None, payment=None, files=None):
    """Return a validated entry dict; optional members left as None are omitted.
    ``at`` may be an aware datetime or RFC 3339 text."""
    entry = {
        "v": VERSION, "seq": seq, "prev": prev,
        "at": format_at(at) if isinstance(at, datetime) else at,
        "kind": kind, "campaign": campaign, "amount": amount, "currency": currency,
    }
    optional = {"ref": ref, "memo": memo, "evidence": evidence, "donor": donor, "payment": payment,
                "files": list(files) if files is not None else None}
    entry.update((k, v) for k, v in optional.items() if v is not None)
    validate_entry(entry)
    return entry


def canonical_bytes(entry):
    """The leaf bytes of an entry: validate, then serialize with RFC 8785."""
    validate_entry(entry)
    try:
        return rfc8785.dumps(entry)
    except rfc8785.CanonicalizationError as e:  # e.g. a lone surrogate in memo
        raise EntryError(f"cannot canonicalize: {e}") from None


# --- validation ---------------------------------------------------------


def _is_int(x):
    return type(x) is int  # bool is a subclass of int and not allowed


def _check_int(entry, name, lo, hi):
    x = entry[name]
    if not _is_int(x):
        raise EntryError(f"{name}: must be an integer, not {type(x).__name__}")
    if not lo <= x <= hi:
        raise EntryError(f"{name}: {x} out of range {lo}..{hi}")
    return x


def _check_str(entry, name, pattern=None, what="", max_len=None):
    x = entry[name]
    if not isinstance(x, str):
        raise EntryError(f"{name}: must be a string, not {type(x).__name__}")
    if pattern is not None and not pattern.match(x):
        raise EntryError(f"{name}: must be {what}: {x!r:.80}")
    if max_len is not None and not 0 < len(x) <= max_len:
        raise EntryError(f"{name}: length must be 1..{max_len}")
    return x


def _check_at(entry):
    at = _check_str(entry, "at", _AT, "RFC 3339 UTC time like 2024-05-01T12:00:00Z")
    try:
        datetime.fromisoformat(at[:-1])  # rejects month 13, Feb 30, 24:00...
    except ValueError:
        raise EntryError(f"at: not a valid date and time: {at!r}") from None


def _check_amount(entry, kind):
    amount = _check_int(entry, "amount", -MAX_INT, MAX_INT)
    sign = KIND_SIGNS[kind]
    if sign == 0:
        if amount != 0:
            raise EntryError(f"amount: must be 0 for kind {kind!r}, got {amount}")
        return
    if amount == 0 or (amount > 0) != (sign > 0):
        need = "positive" if sign > 0 else "negative"
        raise EntryError(f"amount: must be {need} for kind {kind!r}, got {amount}")


def validate_entry(entry):
    """Raise EntryError unless entry is a valid version-1 ledger entry."""
    if not isinstance(entry, dict):
        raise EntryError(f"entry must be a JSON object, not {type(entry).__name__}")
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL), key=str)
    if unknown:
        raise EntryError(f"unknown member(s): {', '.join(map(repr, unknown))}")
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise EntryError(f"missing member(s): {', '.join(missing)}")
    if not _is_int(entry["v"]) or entry["v"] != VERSION:
        raise EntryError(f"v: must be {VERSION}, got {entry['v']!r}")
    seq = _check_int(entry, "seq", 0, MAX_INT)
    prev = _check_str(entry, "prev", _HEX64, "64 lowercase hex digits")
    if seq == 0 and prev != GENESIS_PREV:
        raise EntryError("prev: must be 64 zeros for seq 0")
    _check_at(entry)
    kind = _check_str(entry, "kind")
    if kind not in KIND_SIGNS:
        raise EntryError(f"kind: unknown kind {kind!r}")
    _check_str(entry, "campaign", _CAMPAIGN, "an id of letters, digits and ._:- (max 128)")
    _check_amount(entry, kind)
    _check_str(entry, "currency", _CURRENCY, "an upper-case ISO 4217 code")
    if "ref" in entry:
        _check_int(entry, "ref", 0, seq - 1)  # a correction points backwards
    if "memo" in entry:
        _check_str(entry, "memo", max_len=MAX_MEMO)
    for name in ("evidence", "donor"):
        if name in entry:
            _check_str(entry, name, _HEX64, "64 lowercase hex digits")
    if "payment" in entry:
        _check_str(entry, "payment", _PAYMENT, "a provider id of letters, digits and ._:/-")
    if "files" in entry:
        _check_files(entry["files"])


def _check_files(files):
    """`files`: the SHA-256s of published files, 1 to MAX_FILES, ascending, no repeats."""
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        raise EntryError(f"files: must be a list of 1..{MAX_FILES} hashes")
    for item in files:
        if not isinstance(item, str) or not _HEX64.match(item):
            raise EntryError(f"files: each must be 64 lowercase hex digits: {item!r:.80}")
    if files != sorted(set(files)):
        raise EntryError("files: must be in ascending order without repeats")


# --- parsing ------------------------------------------------------------


def _reject_float(text):
    raise EntryError(f"floats are not allowed: {text}")


def _reject_constant(text):
    raise EntryError(f"{text} is not allowed")


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise EntryError(f"duplicate member {k!r}")
        obj[k] = v
    return obj


def _loads(leaf):
    """json.loads that refuses non-UTF-8, floats, NaN and duplicate keys."""
    try:
        text = leaf.decode("utf-8")
        return json.loads(text, parse_float=_reject_float, parse_constant=_reject_constant,
                          object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise EntryError("leaf is not valid UTF-8") from None
    except EntryError:
        raise
    except (ValueError, RecursionError) as e:  # JSONDecodeError, huge ints, deep nesting
        raise EntryError(f"leaf is not valid JSON: {e}") from None


def parse_entry(leaf):
    """Parse leaf bytes, requiring a valid entry in exactly canonical form."""
    entry = _loads(leaf)
    if canonical_bytes(entry) != leaf:
        raise EntryError("leaf is not in RFC 8785 canonical form")
    return entry


# Fast path for chain_fields. JCS sorts members, so a canonical entry ends
# with: ,"prev":"<hex>",["ref":<int>,]"seq":<int>,"v":1}
_CHAIN_TAIL = re.compile(
    rb',"prev":"([0-9a-f]{64})",(?:"ref":(?:0|[1-9][0-9]*),)?"seq":(0|[1-9][0-9]*),"v":1\}\Z')


def chain_fields(leaf):
    """Return (seq, prev) of a leaf, without a full parse when possible.

    For a leaf that is valid JSON the result is what json.loads gives, or
    EntryError when seq/prev are missing or of the wrong type.

    Why the fast path is exact: it matches only a suffix of the leaf. The
    last '}' of valid JSON closes the top-level object, so the 1 before it
    is the value of that object's last member. Walking back from there,
    every quote in the suffix follows ',', ':', a letter or a hex digit --
    never a backslash -- so none is escaped, and each quoted word is a whole
    key or string value. Hence "seq" and "prev" are top-level keys, and as
    nothing after them repeats those names they are the occurrences
    json.loads keeps, even if a duplicate appears earlier (in a memo string
    or a nested object). The rest of the leaf is not checked here:
    parse_entry does that.
    """
    m = _CHAIN_TAIL.search(leaf)
    if m is not None:
        return int(m.group(2)), m.group(1).decode("ascii")
    return _chain_fields_slow(leaf)


def _chain_fields_slow(leaf):
    if not leaf:
        raise EntryError("empty line")
    # Plain json.loads semantics (last duplicate wins), like the fast path.
    try:
        obj = json.loads(leaf.decode("utf-8"))
    except UnicodeDecodeError:
        raise EntryError("leaf is not valid UTF-8") from None
    except (ValueError, RecursionError) as e:  # JSONDecodeError, huge ints, deep nesting
        raise EntryError(f"leaf is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise EntryError("leaf is not a JSON object")
    seq, prev = obj.get("seq"), obj.get("prev")
    if not _is_int(seq):
        raise EntryError(f"seq: missing or not an integer: {seq!r:.40}")
    if not isinstance(prev, str):
        raise EntryError(f"prev: missing or not a string: {prev!r:.40}")
    return seq, prev


# --- donor commitments --------------------------------------------------


def new_donor_secret():
    """A fresh random per-donation secret: 32 bytes as 64 hex digits, to be
    printed on the donor's receipt and never stored in a leaf."""
    return secrets.token_hex(32)


def _secret_bytes(secret):
    if isinstance(secret, str):
        try:
            secret = bytes.fromhex(secret)
        except ValueError:
            raise EntryError("donor secret: not hex") from None
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise EntryError("donor secret: need at least 16 random bytes")
    return secret


def donor_commitment(secret):
    """Commitment for the leaf's `donor` member.

    donor = hex(SHA-256(b"amanah-donor-v1" || 0x00 || secret))

    ``secret`` is the raw secret bytes or their hex text (as printed on the
    receipt). The domain prefix keeps these hashes apart from any other use
    of SHA-256; a random secret of at least 128 bits makes the commitment
    hiding (nobody can guess whose it is) and SHA-256 makes it binding (the
    donor can prove it by revealing the secret).
    """
    return hashlib.sha256(DONOR_PREFIX + _secret_bytes(secret)).hexdigest()


def donor_matches(entry, secret):
    """True when secret opens the entry's donor commitment."""
    donor = entry.get("donor")
    if not isinstance(donor, str):
        return False
    return hmac.compare_digest(donor, donor_commitment(secret))
