"""Entries: validation, canonical bytes, the fast chain parser, donor commitments."""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import entry as entry_mod
from ledger.entry import (
    GENESIS_PREV,
    KIND_SIGNS,
    MAX_INT,
    EntryError,
    build_entry,
    canonical_bytes,
    chain_fields,
    donor_commitment,
    donor_matches,
    format_at,
    new_donor_secret,
    parse_entry,
    validate_entry,
)

HEX = "ab" * 32
HYPOTHESIS = settings(max_examples=300, deadline=None, database=None)


def good(**changes):
    e = {"v": 1, "seq": 3, "prev": HEX, "at": "2024-05-01T12:00:00Z", "kind": "refund",
         "campaign": "cmp_0001", "amount": -25000, "currency": "IDR", "ref": 1,
         "memo": 'Refund "\u00c4" \n', "payment": "re_1"}
    for k, v in changes.items():
        if v is KeyError:
            del e[k]
        else:
            e[k] = v
    return e


def test_known_canonical_bytes():
    assert canonical_bytes(good()) == (
        b'{"amount":-25000,"at":"2024-05-01T12:00:00Z","campaign":"cmp_0001","currency":"IDR",'
        b'"kind":"refund","memo":"Refund \\"\xc3\x84\\" \\n","payment":"re_1",'
        b'"prev":"' + HEX.encode() + b'","ref":1,"seq":3,"v":1}')


def test_build_entry_roundtrip():
    at = datetime(2024, 5, 1, 19, 0, tzinfo=timezone(timedelta(hours=7)))
    e = build_entry(seq=0, prev=GENESIS_PREV, at=at, kind="donation", campaign="c1",
                    amount=50000, currency="IDR", donor=donor_commitment(bytes(32)), memo=None)
    assert e["at"] == "2024-05-01T12:00:00Z"
    assert "memo" not in e and "ref" not in e
    leaf = canonical_bytes(e)
    assert parse_entry(leaf) == e
    assert json.loads(leaf) == e
    assert chain_fields(leaf) == (0, GENESIS_PREV)


def test_format_at():
    dt = datetime(2024, 2, 29, 23, 59, 59, 5, tzinfo=UTC)
    assert format_at(dt) == "2024-02-29T23:59:59.000005Z"
    assert format_at(dt.replace(microsecond=0)) == "2024-02-29T23:59:59Z"
    with pytest.raises(EntryError):
        format_at(datetime(2024, 1, 1))  # noqa: DTZ001 - a naive datetime must be refused


BAD = [
    ("v", 2), ("v", True), ("v", 1.0), ("v", KeyError),
    ("seq", -1), ("seq", True), ("seq", 3.0), ("seq", "3"), ("seq", MAX_INT + 1),
    ("prev", HEX.upper()), ("prev", HEX[:-2]), ("prev", 5), ("prev", KeyError),
    ("at", "2024-05-01T12:00:00"), ("at", "2024-05-01T12:00:00+00:00"), ("at", "2024-05-01 12:00:00Z"),
    ("at", "2024-02-30T12:00:00Z"), ("at", "2024-05-01T24:00:00Z"), ("at", "2024-05-01T12:00:00.1234567Z"),
    ("at", "\u0662024-05-01T12:00:00Z"), ("at", 1714564800),
    ("kind", "gift"), ("kind", None), ("kind", KeyError),
    ("campaign", ""), ("campaign", "my campaign"), ("campaign", "a@b.c"), ("campaign", 7),
    ("amount", -1.5), ("amount", -25000.0), ("amount", True), ("amount", 0), ("amount", 25000),
    ("amount", "-25000"), ("amount", -(MAX_INT + 1)), ("amount", KeyError),
    ("currency", "idr"), ("currency", "IDRX"), ("currency", "ID"), ("currency", KeyError),
    ("ref", 3), ("ref", 4), ("ref", -1), ("ref", 1.0), ("ref", True), ("ref", "1"),
    ("memo", ""), ("memo", "x" * 1001), ("memo", 5), ("memo", ["a"]),
    ("evidence", HEX.upper()), ("evidence", "00"), ("donor", HEX[:63]), ("donor", {"x": 1}),
    ("payment", "pi 1"), ("payment", "donor@example.com"), ("payment", ""),
    ("name", "Siti"), ("email", "x@y.z"), ("extra", None),
]


@pytest.mark.parametrize("member, value", BAD)
def test_invalid_entries_rejected(member, value):
    e = good(**{member: value})
    with pytest.raises(EntryError):
        validate_entry(e)
    with pytest.raises(EntryError):
        canonical_bytes(e)


def test_error_messages_name_the_member():
    with pytest.raises(EntryError, match="amount"):
        validate_entry(good(amount=1.5))
    with pytest.raises(EntryError, match=r"unknown member.*'name'"):
        validate_entry(good(name="Siti"))
    with pytest.raises(EntryError, match="prev: must be 64 zeros"):
        validate_entry(good(seq=0, ref=KeyError))


@pytest.mark.parametrize("kind, sign", sorted((k, s) for k, s in KIND_SIGNS.items() if s))
def test_sign_rules(kind, sign):
    validate_entry(good(kind=kind, amount=sign * 100))
    with pytest.raises(EntryError, match="positive" if sign > 0 else "negative"):
        validate_entry(good(kind=kind, amount=-sign * 100))
    assert set(KIND_SIGNS) == {"donation", "refund", "chargeback", "fee", "disbursement",
                               "chargeback_reversal", "refund_reversal", "disbursement_reversal",
                               "fee_reversal", "report"}


def test_a_report_moves_no_money_and_lists_its_files_in_order():
    h1, h2 = "1" * 64, "a" * 64
    validate_entry(good(kind="report", amount=0, evidence="b" * 64, files=[h1, h2]))
    for amount in (1, -1):
        with pytest.raises(EntryError, match="must be 0 for kind 'report'"):
            validate_entry(good(kind="report", amount=amount))
    for files, problem in (([], "list of 1..50"), ([h2, h1], "ascending"), ([h1, h1], "ascending"),
                           (["A" * 64], "64 lowercase hex"), ("x", "list of 1..50"),
                           ([h1] * 51, "list of 1..50"), ([1], "64 lowercase hex")):
        with pytest.raises(EntryError, match=problem):
            validate_entry(good(kind="report", amount=0, files=files))
    # The donation kinds keep refusing 0.
    with pytest.raises(EntryError):
        validate_entry(good(kind="donation", amount=0))


def test_not_an_object():
    for x in [[], "x", 1, None]:
        with pytest.raises(EntryError):
            validate_entry(x)


def test_lone_surrogate_cannot_be_canonicalized():
    with pytest.raises(EntryError):
        canonical_bytes(good(memo="\ud800"))


LEAF = canonical_bytes(good())


@pytest.mark.parametrize("leaf", [
    LEAF.replace(b'"amount":-25000', b'"amount": -25000'),  # whitespace
    LEAF.replace(b'"amount":-25000', b'"amount":-25000.0'),  # float
    LEAF.replace(b'"amount":-25000', b'"amount":-2.5e4'),
    LEAF.replace(b'"amount":-25000', b'"amount":NaN'),
    LEAF.replace(b'"payment":"re_1"', b'"payment":"re_\\u0031"'),  # needless escape
    LEAF.replace(b'"v":1}', b'"v":1,"v":1}'),  # duplicate member
    LEAF[:-1] + b',"amount":-25000}',
    b'{"v":1,' + LEAF[1:].replace(b',"v":1}', b"}"),  # key order
    LEAF + b"\n", b" " + LEAF, LEAF[:-1],
    LEAF.replace(b"\xc3\x84", b"\xc4"),  # not UTF-8
    b"[]", b"", b"null",
    b"[" * 100000,  # deep nesting
    LEAF.replace(b'"amount":-25000', b'"amount":-' + b"9" * 5000),  # huge number
])
def test_parse_entry_rejects(leaf):
    with pytest.raises(EntryError):
        parse_entry(leaf)


def test_parse_entry_accepts_canonical():
    assert parse_entry(LEAF) == good()


# --- chain_fields ---


def test_chain_fields_fast_and_slow_paths():
    assert chain_fields(LEAF) == (3, HEX)
    # An earlier nested duplicate is ignored, as by json.loads.
    tricky = (b'{"memo":{"prev":"' + b"cd" * 32 + b'","seq":9,"v":1},'
              b'"prev":"' + HEX.encode() + b'","seq":3,"v":1}')
    assert chain_fields(tricky) == (3, HEX)
    # The tail belongs to a nested object: the fast path must not fire.
    nested = (b'{"prev":"' + HEX.encode() + b'","seq":3,'
              b'"x":{"a":1,"prev":"' + b"cd" * 32 + b'","seq":9,"v":1}}')
    assert chain_fields(nested) == (3, HEX)
    # Escaped key, key order, whitespace: all through json.loads.
    for leaf in [b'{"pr\\u0065v":"' + HEX.encode() + b'","seq":3}',
                 b'{"seq":3, "prev": "' + HEX.encode() + b'"}',
                 b'{"prev":"' + HEX.encode() + b'","seq":3,"v":1}\n']:
        assert chain_fields(leaf) == (3, HEX)
    dup = b'{"seq":1,"prev":"' + b"cd" * 32 + b'","prev":"' + HEX.encode() + b'","seq":3,"v":1}'
    assert chain_fields(dup) == (3, HEX) == (json.loads(dup)["seq"], json.loads(dup)["prev"])


@pytest.mark.parametrize("leaf", [
    b"", b"not json", b"[1]", b'{"seq":3}', b'{"prev":"x"}', b'{"seq":"3","prev":"x"}',
    b'{"seq":true,"prev":"x"}', b'{"seq":3.0,"prev":"x"}', b'{"seq":3,"prev":5}', b"\xff",
])
def test_chain_fields_errors(leaf):
    with pytest.raises(EntryError):
        chain_fields(leaf)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=20),
                         st.sampled_from(['","prev":"' + HEX + '","seq":7,"v":1}', '\\"', "\\", '"v":1}']))
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    st.sampled_from(["prev", "seq", "v", "ref", "a"]), c, max_size=3), max_leaves=8)


@HYPOTHESIS
@given(seq=st.integers(0, MAX_INT), prev=st.sampled_from([HEX, GENESIS_PREV, "x", HEX.upper()]),
       extra=st.dictionaries(st.sampled_from(["memo", "ref", "amount", "zz", "prev2", "seq "]),
                             json_values, max_size=4),
       ref=st.one_of(st.none(), st.integers(0, 10**6)), canonical=st.booleans())
def test_chain_fields_agrees_with_json(seq, prev, extra, ref, canonical):
    obj = dict(extra, seq=seq, prev=prev, v=1)
    if ref is not None:
        obj["ref"] = ref
    leaf = rfc8785.dumps(obj) if canonical else json.dumps(obj, ensure_ascii=False).encode()
    parsed = json.loads(leaf)
    assert chain_fields(leaf) == (parsed["seq"], parsed["prev"])


# --- random valid entries ---


def entries():
    kinds = st.sampled_from(sorted(KIND_SIGNS))
    return st.builds(
        _entry, seq=st.integers(1, MAX_INT), prev=st.text("0123456789abcdef", min_size=64, max_size=64),
        # hypothesis wants naive bounds and adds the timezone itself
        at=st.datetimes(datetime(1970, 1, 1), datetime(9999, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
        kind=kinds, campaign=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True),
        magnitude=st.integers(1, MAX_INT), currency=st.from_regex(r"[A-Z]{3}", fullmatch=True),
        memo=st.one_of(st.none(), st.text(min_size=1, max_size=80).filter(_encodable)),
        ref=st.one_of(st.none(), st.integers(0, 10**6)), donor=st.booleans())


def _encodable(s):
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _entry(seq, prev, at, kind, campaign, magnitude, currency, memo, ref, donor):
    return build_entry(seq=seq, prev=prev, at=at, kind=kind, campaign=campaign,
                       amount=KIND_SIGNS[kind] * magnitude, currency=currency, memo=memo,
                       ref=None if ref is None else ref % seq,
                       donor=donor_commitment(seq.to_bytes(16, "big")) if donor else None)


@HYPOTHESIS
@given(entries())
def test_random_entries_roundtrip(e):
    leaf = canonical_bytes(e)
    assert parse_entry(leaf) == e
    assert canonical_bytes(parse_entry(leaf)) == leaf
    assert json.loads(leaf) == e
    assert rfc8785.dumps(json.loads(leaf)) == leaf
    assert chain_fields(leaf) == (e["seq"], e["prev"])
    assert b"\n" not in leaf  # one leaf per export line


# --- donor commitments ---


def test_donor_commitment_construction():
    secret = bytes(range(32))
    assert donor_commitment(secret) == "12047c192da61dbf2ce570b9c65311c3df80d2493840e77309ae9e59bca49722"
    assert donor_commitment(secret) == hashlib.sha256(b"amanah-donor-v1\x00" + secret).hexdigest()
    assert donor_commitment(secret.hex()) == donor_commitment(secret)
    assert donor_commitment(secret.hex().upper()) == donor_commitment(secret)
    for bad in [b"short", "zz" * 16, "abc", 12345]:
        with pytest.raises(EntryError):
            donor_commitment(bad)


def test_new_donor_secret_and_matching():
    a, b = new_donor_secret(), new_donor_secret()
    assert a != b and len(a) == 64 and int(a, 16) >= 0
    e = good(donor=donor_commitment(a))
    validate_entry(e)
    assert donor_matches(e, a)
    assert not donor_matches(e, b)
    assert not donor_matches(good(), a)


def test_module_has_no_web_imports():
    src = Path(entry_mod.__file__).read_text().lower()
    assert "flask" not in src and "sqlalchemy" not in src
