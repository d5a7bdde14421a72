"""Merkle tree, stored-hash layout and proofs: naive RFC 6962 definitions,
Go's known-answer vectors, and two independent verifiers that must agree."""

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import tree
from ledger.tree import (
    EMPTY_ROOT,
    CompactRange,
    InvalidProofError,
    MemoryHashStore,
    ProofError,
    check_record,
    check_tree,
    hash_from_hex,
    leaf_hash,
    node_hash,
    proof_from_hex,
    proof_to_hex,
    prove_record,
    prove_tree,
    root_from_leaf_hashes,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

VECTOR_PATHS = [
    os.environ.get("AMANAH_TLOG_VECTORS", ""),
    Path(__file__).with_name("tlog-vectors.json"),
    "/work/shared/vectors/tlog-vectors.json",
]
HYPOTHESIS = settings(max_examples=200, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow])


def load_vectors():
    for p in VECTOR_PATHS:
        if p and Path(p).is_file():
            return json.loads(Path(p).read_text())
    pytest.fail("tlog-vectors.json not found; set AMANAH_TLOG_VECTORS")


VECTORS = load_vectors()


# --- naive RFC 6962 definitions (section 2.1), on lists of leaf hashes ---


def k_split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = k_split(len(hashes))
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def path(m, hashes):
    if len(hashes) == 1:
        return []
    k = k_split(len(hashes))
    if m < k:
        return [*path(m, hashes[:k]), mth(hashes[k:])]
    return [*path(m - k, hashes[k:]), mth(hashes[:k])]


def subproof(m, hashes, b):
    n = len(hashes)
    if m == n:
        return [] if b else [mth(hashes)]
    k = k_split(n)
    if m <= k:
        return [*subproof(m, hashes[:k], b), mth(hashes[k:])]
    return [*subproof(m - k, hashes[k:], False), mth(hashes[:k])]


def flip(h, bit=0):
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << bit % 8)]) + h[bit // 8 + 1:]


LEAVES = [f"leaf {i}".encode() for i in range(1100)]
LEAF_HASHES = [leaf_hash(x) for x in LEAVES]


@pytest.fixture(scope="module")
def store():
    s = MemoryHashStore()
    for x in LEAVES:
        s.append(x)
    return s


# --- hashing and vectors ---


def test_hash_functions():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert EMPTY_ROOT.hex() == VECTORS["empty_tree_root"]
    assert tree_hash(0, lambda idx: []) == EMPTY_ROOT


def test_vector_leaves_and_leaf_hashes():
    assert VECTORS["leaves"] == [x.decode() for x in LEAVES[:70]]
    assert [h.hex() for h in LEAF_HASHES[:70]] == VECTORS["leaf_hashes"]


def test_vector_roots_by_size(store):
    roots = VECTORS["roots_by_size"]
    assert sorted(map(int, roots)) == list(range(1, 71))
    cr = CompactRange()
    for n in range(1, 71):
        cr.append(LEAF_HASHES[n - 1])
        assert store.root(n).hex() == roots[str(n)]
        assert cr.root().hex() == roots[str(n)]
        assert root_from_leaf_hashes(LEAF_HASHES[:n]).hex() == roots[str(n)]


def test_vector_inclusion_proofs(store):
    assert VECTORS["inclusion"]
    for v in VECTORS["inclusion"]:
        n, t, want = v["Index"], v["Size"], v["Proof"]
        assert proof_to_hex(store.prove_record(n, t)) == want
        proof, root = proof_from_hex(want), bytes.fromhex(VECTORS["roots_by_size"][str(t)])
        check_record(proof, t, root, n, LEAF_HASHES[n])
        assert verify_inclusion(n, t, LEAF_HASHES[n], proof, root)


def test_vector_consistency_proofs(store):
    assert VECTORS["consistency"]
    roots = VECTORS["roots_by_size"]
    for v in VECTORS["consistency"]:
        m, t, want = v["Old"], v["Size"], v["Proof"]
        assert proof_to_hex(store.prove_tree(m, t)) == want
        proof = proof_from_hex(want)
        old, new = bytes.fromhex(roots[str(m)]), bytes.fromhex(roots[str(t)])
        check_tree(proof, t, new, m, old)
        assert verify_consistency(m, t, old, new, proof)


# --- every size against the naive definition ---


@pytest.mark.parametrize("n", range(71))
def test_root_of_every_size(store, n):
    want = mth(LEAF_HASHES[:n])
    assert store.root(n) == want
    assert root_from_leaf_hashes(LEAF_HASHES[:n]) == want
    cr = CompactRange()
    for h in LEAF_HASHES[:n]:
        cr.append(h)
    assert cr.size == n and cr.root() == want


def test_compact_range_snapshots_while_growing():
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT
    for n, h in enumerate(LEAF_HASHES[:300], 1):
        cr.append(h)
        assert cr.root() == mth(LEAF_HASHES[:n])
        assert len(cr._stack) == bin(n).count("1")  # O(log n) state


def test_compact_range_subtrees():
    cr = CompactRange()
    cr.append_subtree(mth(LEAF_HASHES[0:8]), 3)
    cr.append_subtree(mth(LEAF_HASHES[8:12]), 2)
    cr.append(LEAF_HASHES[12])
    assert cr.size == 13 and cr.root() == mth(LEAF_HASHES[:13])
    cr.append_subtree(LEAF_HASHES[13], 0)
    with pytest.raises(ProofError):
        cr.append_subtree(mth(LEAF_HASHES[14:18]), 2)  # 14 is not a multiple of 4


def test_stored_hash_layout(store):
    for idx in range(3000):
        level, n = split_stored_hash_index(idx)
        assert stored_hash_index(level, n) == idx
    # Every stored hash is the root of the complete subtree it names.
    for idx, h in enumerate(store.hashes):
        level, n = split_stored_hash_index(idx)
        assert h == mth(LEAF_HASHES[n << level:(n + 1) << level])
    s = MemoryHashStore()
    for i, x in enumerate(LEAVES[:200]):
        assert len(s.hashes) == stored_hash_count(i) == stored_hash_index(0, i)
        s.append(x)
    assert len(s.hashes) == stored_hash_count(200)
    # Known values of Go's layout.
    assert [stored_hash_index(0, n) for n in range(8)] == [0, 1, 3, 4, 7, 8, 10, 11]
    assert stored_hash_index(1, 0) == 2 and stored_hash_index(2, 0) == 6 and stored_hash_index(3, 0) == 14


def test_stored_hashes_reads_only_what_it_needs():
    s = MemoryHashStore()
    for x in LEAVES[:7]:
        s.append(x)
    calls = []

    def read(indexes):
        calls.append(list(indexes))
        return s.read_hashes(indexes)
    new = stored_hashes(7, LEAVES[7], read)  # record 7 completes subtrees of 2, 4, 8
    assert calls == [[stored_hash_index(2, 0), stored_hash_index(1, 2), stored_hash_index(0, 6)]]
    assert new == [LEAF_HASHES[7], mth(LEAF_HASHES[6:8]), mth(LEAF_HASHES[4:8]), mth(LEAF_HASHES[:8])]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 1000, 1099])
def test_reads_are_logarithmic_and_sorted(store, n):
    seen = []

    def read(indexes):
        seen.append(list(indexes))
        return store.read_hashes(indexes)
    tree_hash(n, read)
    prove_record(n, n - 1, read)
    prove_tree(n, max(1, n // 3), read)
    assert len(seen) <= 3  # at most one read per call
    for indexes in seen:
        assert indexes == sorted(indexes)
        assert len(indexes) <= 2 * n.bit_length() + 1


# --- every proof up to 64, both verifiers, and every flipped bit ---


@pytest.mark.parametrize("t", range(1, 65))
def test_all_inclusion_proofs(store, t):
    root = mth(LEAF_HASHES[:t])
    for n in range(t):
        leaf = LEAF_HASHES[n]
        proof = store.prove_record(n, t)
        assert proof == path(n, LEAF_HASHES[:t])
        check_record(proof, t, root, n, leaf)
        assert verify_inclusion(n, t, leaf, proof, root)
        for i in range(len(proof)):
            bad = [*proof[:i], flip(proof[i], (i * 37 + n) % 256), *proof[i + 1:]]
            assert_inclusion_rejected(bad, t, root, n, leaf)
        assert_inclusion_rejected(proof, t, flip(root, n % 256), n, leaf)
        assert_inclusion_rejected(proof, t, root, n, flip(leaf, t % 256))
        assert_inclusion_rejected([*proof, root], t, root, n, leaf)
        if proof:
            assert_inclusion_rejected(proof[:-1], t, root, n, leaf)
        if t > 1:  # right proof, wrong index
            assert_inclusion_rejected(proof, t, root, (n + 1) % t, leaf)


def assert_inclusion_rejected(proof, t, root, n, leaf):
    with pytest.raises(InvalidProofError):
        check_record(proof, t, root, n, leaf)
    assert verify_inclusion(n, t, leaf, proof, root) is False


@pytest.mark.parametrize("t", range(1, 65))
def test_all_consistency_proofs(store, t):
    new = mth(LEAF_HASHES[:t])
    for m in range(1, t + 1):
        old = mth(LEAF_HASHES[:m])
        proof = store.prove_tree(m, t)
        assert proof == subproof(m, LEAF_HASHES[:t], True)
        check_tree(proof, t, new, m, old)
        assert verify_consistency(m, t, old, new, proof)
        for i in range(len(proof)):
            bad = [*proof[:i], flip(proof[i], (i * 53 + m) % 256), *proof[i + 1:]]
            assert_consistency_rejected(bad, t, new, m, old)
        assert_consistency_rejected(proof, t, flip(new, m % 256), m, old)
        assert_consistency_rejected(proof, t, new, m, flip(old, t % 256))
        assert_consistency_rejected([*proof, new], t, new, m, old)
        if proof:
            assert_consistency_rejected(proof[:-1], t, new, m, old)


def assert_consistency_rejected(proof, t, new, m, old):
    with pytest.raises(InvalidProofError):
        check_tree(proof, t, new, m, old)
    assert verify_consistency(m, t, old, new, proof) is False


# --- parameters ---


def test_bad_parameters(store):
    h = LEAF_HASHES[0]
    for t, n in [(0, 0), (5, 5), (5, 6), (5, -1), (-1, 0)]:
        with pytest.raises(ProofError):
            prove_record(t, n, store.read_hashes)
        with pytest.raises(ProofError):
            check_record([], t, h, n, h)
        with pytest.raises(ProofError):
            verify_inclusion(n, t, h, [], h)
    for t, m in [(0, 0), (5, 0), (5, 6), (1, 2)]:
        with pytest.raises(ProofError):
            prove_tree(t, m, store.read_hashes)
        with pytest.raises(ProofError):
            check_tree([], t, h, m, h)
        with pytest.raises(ProofError):
            verify_consistency(m, t, h, h, [])
    with pytest.raises(ProofError):
        store.root(len(LEAVES) + 1)
    with pytest.raises(ProofError):
        store.prove_record(3, len(LEAVES) + 1)
    with pytest.raises(ProofError):  # a short hash is not a hash
        verify_inclusion(0, 2, h, [h[:31]], h)
    with pytest.raises(ProofError):
        check_record([h], 2, h, 0, "00" * 32)
    with pytest.raises(ValueError):  # ProofError is a ValueError
        tree_hash(-1, store.read_hashes)


def test_short_reads_are_errors(store):
    with pytest.raises(ProofError, match="read_hashes"):
        tree_hash(5, lambda idx: store.read_hashes(idx)[:-1])
    with pytest.raises(ProofError, match="read_hashes"):
        stored_hashes(7, b"x", lambda idx: [])
    with pytest.raises(ProofError):
        MemoryHashStore().read_hashes([0])


def test_hex_helpers():
    h = LEAF_HASHES[1]
    assert hash_from_hex(h.hex()) == h
    for bad in [h.hex().upper(), h.hex()[:-1], h.hex() + "0", " " + h.hex()[1:], None, "g" * 64]:
        with pytest.raises(ProofError):
            hash_from_hex(bad)
    assert proof_from_hex(proof_to_hex([h, h])) == [h, h]


# --- properties on larger trees ---


@HYPOTHESIS
@given(data=st.data())
def test_random_inclusion(store, data):
    t = data.draw(st.integers(1, len(LEAVES)))
    n = data.draw(st.integers(0, t - 1))
    root = store.root(t)
    assert root == tree_hash(t, store.read_hashes)
    proof = store.prove_record(n, t)
    check_record(proof, t, root, n, LEAF_HASHES[n])
    assert verify_inclusion(n, t, LEAF_HASHES[n], proof, root)
    other = data.draw(st.integers(0, t - 1).filter(lambda x: x != n)) if t > 1 else None
    if other is not None:
        assert not verify_inclusion(other, t, LEAF_HASHES[n], proof, root)


@HYPOTHESIS
@given(data=st.data())
def test_random_consistency(store, data):
    t = data.draw(st.integers(1, len(LEAVES)))
    m = data.draw(st.integers(1, t))
    proof = store.prove_tree(m, t)
    old, new = store.root(m), store.root(t)
    check_tree(proof, t, new, m, old)
    assert verify_consistency(m, t, old, new, proof)
    if m < t:  # an unrelated old root must not pass
        assert not verify_consistency(m, t, store.root(m - 1) if m > 1 else LEAF_HASHES[1], new, proof)


def _go_check(fn, *args):
    try:
        fn(*args)
        return True
    except InvalidProofError:
        return False


@HYPOTHESIS
@given(data=st.data())
def test_verifiers_agree_on_mangled_proofs(store, data):
    """Go-style checks and RFC 9162 verification accept exactly the same proofs."""
    t = data.draw(st.integers(1, 200))
    kind = data.draw(st.sampled_from(["inclusion", "consistency"]))
    pool = st.sampled_from(LEAF_HASHES[:8] + [store.root(k) for k in (1, 2, 3, t)])
    if kind == "inclusion":
        n = data.draw(st.integers(0, t - 1))
        proof = store.prove_record(n, t)
    else:
        n = data.draw(st.integers(1, t))
        proof = store.prove_tree(n, t)
    op = data.draw(st.sampled_from(["keep", "drop", "insert", "swap", "replace"]))
    if op == "drop" and proof:
        del proof[data.draw(st.integers(0, len(proof) - 1))]
    elif op == "insert":
        proof.insert(data.draw(st.integers(0, len(proof))), data.draw(pool))
    elif op == "swap" and len(proof) > 1:
        i = data.draw(st.integers(0, len(proof) - 2))
        proof[i], proof[i + 1] = proof[i + 1], proof[i]
    elif op == "replace" and proof:
        proof[data.draw(st.integers(0, len(proof) - 1))] = data.draw(pool)
    root = store.root(t)
    if kind == "inclusion":
        leaf = LEAF_HASHES[n]
        go = _go_check(check_record, proof, t, root, n, leaf)
        assert go == verify_inclusion(n, t, leaf, proof, root)
    else:
        old = store.root(n)
        go = _go_check(check_tree, proof, t, root, n, old)
        assert go == verify_consistency(n, t, old, root, proof)
    if op == "keep":
        assert go


@settings(max_examples=500, deadline=None, database=None)
@given(level=st.integers(0, 40), n=st.integers(0, 2**40))
def test_stored_hash_index_roundtrip(level, n):
    idx = stored_hash_index(level, n)
    assert split_stored_hash_index(idx) == (level, n)
    # Closed form, independent of the loops in tree.py: records 0..m store
    # 2(m+1) - popcount(m+1) hashes, and node (level, n) comes right after
    # the leaf m = ((n+1) << level) - 1 and the `level` nodes below it.
    m = ((n + 1) << level) - 1
    assert idx == 2 * m - bin(m).count("1") + level
    assert stored_hash_count(n) == 2 * n - bin(n).count("1")
    # The node is stored right after its last leaf's subtrees, never before.
    assert idx >= stored_hash_index(0, ((n + 1) << level) - 1)


def test_module_has_no_web_imports():
    src = Path(tree.__file__).read_text()
    assert "flask" not in src.lower() and "sqlalchemy" not in src.lower()
