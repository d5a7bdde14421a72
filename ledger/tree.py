"""RFC 6962 / RFC 9162 Merkle tree, stored-hash layout and proofs.

A Python rendering of Go's golang.org/x/mod/sumdb/tlog (tlog.go): the same
hashes, the same dense "stored hash" numbering and the same proofs, so
records, roots and proofs made here check with Go's CheckRecord/CheckTree
and the other way round.

Hashes are raw 32-byte ``bytes`` everywhere; ``hash_hex``/``hash_from_hex``
convert at the edges (JSON, checkpoints use base64, see ledger.note).

The storage layer owns the hashes. Functions that need old hashes take a
``read_hashes`` callable::

    read_hashes(indexes: list[int]) -> Sequence[bytes]

It receives stored-hash indexes (see ``stored_hash_index``), in increasing
order, and must return exactly one 32-byte hash per index, in the same
order -- one ``SELECT ... WHERE idx IN (...)`` is enough. Every function
below asks for at most O(log n) hashes in a single call.

One deliberate difference from Go: the root of the empty tree is
SHA-256 of the empty string (RFC 6962 / RFC 9162 / C2SP), not Go's zero hash.
"""

import functools
import hashlib
import re

HASH_SIZE = 32

# MTH({}) = SHA-256() per RFC 6962 2.1.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


class ProofError(ValueError):
    """Bad parameters for a proof (index >= size, size 0, short read...)."""


class InvalidProofError(ProofError):
    """A proof that does not verify against the given root(s)."""


# --- hashing -----------------------------------------------------------


def leaf_hash(data):
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left, right):
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def hash_hex(h):
    """Lowercase hex of a 32-byte hash."""
    return h.hex()


def hash_from_hex(text):
    """Parse 64 lowercase hex digits into a hash; ProofError otherwise."""
    if not isinstance(text, str) or not _HEX64.match(text):
        raise ProofError(f"hash must be 64 lowercase hex digits: {text!r:.80}")
    return bytes.fromhex(text)


def proof_to_hex(proof):
    return [h.hex() for h in proof]


def proof_from_hex(items):
    return [hash_from_hex(x) for x in items]


def _maxpow2(n):
    """Return (k, l): k = 2**l is the largest power of two smaller than n."""
    level = (n - 1).bit_length() - 1
    return 1 << level, level


def _check_hash(h, what):
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes")


# --- stored hash layout ------------------------------------------------
#
# Every node of the tree that ever becomes complete is stored once, in the
# order in which it completes (Crosby & Wallach, section 3.3): appending
# record n stores its leaf hash, then the hash of every subtree that record
# n completes. A node is never rewritten, so storage is append-only.


def stored_hash_index(level, n):
    """Index at which the n'th hash at the given level is stored."""
    # Level L's n'th hash is written right after level L+1's 2n+1'th hash:
    # walk down to the last leaf under this node, (n+1)*2**L - 1.
    n = ((n + 1) << level) - 1
    # Level 0's n'th hash is written at n + n/2 + n/4 + ..., which is 2n - popcount(n).
    return 2 * n - n.bit_count() + level


def _trailing_ones(n):
    return (~n & (n + 1)).bit_length() - 1


def split_stored_hash_index(index):
    """Inverse of stored_hash_index: return (level, n)."""
    if index < 0:
        raise ProofError(f"negative stored hash index {index}")
    # stored_hash_index(0, n) < 2n, so the record we want is in
    # [index/2, index/2 + log2(index)].
    n = index // 2
    index_n = stored_hash_index(0, n)
    while True:
        # Record n+1 starts after record n's 1 + trailing-ones(n) hashes.
        x = index_n + 1 + _trailing_ones(n)
        if x > index:
            break
        n += 1
        index_n = x
    # The hash was stored with record n: it is (level, n >> level).
    level = index - index_n
    return level, n >> level


def stored_hash_count(n):
    """Number of stored hashes for a tree with n records."""
    if n == 0:
        return 0
    # Hashes up to the last leaf, plus the subtrees that leaf completes.
    return stored_hash_index(0, n - 1) + 1 + _trailing_ones(n - 1)


def _read(read_hashes, indexes):
    hashes = list(read_hashes(indexes)) if indexes else []
    if len(hashes) != len(indexes):
        raise ProofError(f"read_hashes({len(indexes)} indexes) returned {len(hashes)} hashes")
    for h in hashes:
        _check_hash(h, "stored hash")
    return hashes


def stored_hashes(n, data, read_hashes):
    """Hashes to store, starting at stored_hash_index(0, n), when appending
    record n with the given bytes. At most 1 + log2(n) hashes; under two on
    average. Reads the left siblings of the subtrees record n completes."""
    return stored_hashes_for_record_hash(n, leaf_hash(data), read_hashes)


def stored_hashes_for_record_hash(n, h, read_hashes):
    """Like stored_hashes, given leaf_hash(data) instead of data."""
    if n < 0:
        raise ProofError(f"negative record index {n}")
    _check_hash(h, "record hash")
    # Each trailing 1 bit of n completes a subtree whose left half is
    # already stored; list those left halves in increasing index order.
    m = _trailing_ones(n)
    indexes = [stored_hash_index(i, (n >> i) - 1) for i in reversed(range(m))]
    old = _read(read_hashes, indexes)
    hashes = [h]
    for i in range(m):
        h = node_hash(old[m - 1 - i], h)
        hashes.append(h)
    return hashes


# --- tree hash ---------------------------------------------------------


def _sub_tree_index(lo, hi, need):
    """Append the stored indexes covering records [lo, hi): the maximal
    complete subtrees from left to right."""
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _sub_tree_hash(lo, hi, hashes, pos):
    """Hash of records [lo, hi) from the hashes listed by _sub_tree_index,
    read from hashes[pos:]. Returns (hash, new pos)."""
    num = 0
    while lo < hi:
        k, _ = _maxpow2(hi - lo + 1)
        num += 1
        lo += k
    # Complete subtrees shrink to the right: fold right to left.
    h = hashes[pos + num - 1]
    for i in range(pos + num - 2, pos - 1, -1):
        h = node_hash(hashes[i], h)
    return h, pos + num


def tree_hash(n, read_hashes):
    """Root of the tree with n records, from at most 1 + log2(n) hashes."""
    if n < 0:
        raise ProofError(f"negative tree size {n}")
    if n == 0:
        return EMPTY_ROOT
    indexes = _sub_tree_index(0, n, [])
    hashes = _read(read_hashes, indexes)
    h, _ = _sub_tree_hash(0, n, hashes, 0)
    return h


# --- inclusion proofs (RFC 6962 2.1.1 "audit paths") ------------------


def _leaf_proof_index(lo, hi, n, need):
    if lo + 1 == hi:
        return need
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        _leaf_proof_index(lo, lo + k, n, need)
        _sub_tree_index(lo + k, hi, need)
    else:
        _sub_tree_index(lo, lo + k, need)
        _leaf_proof_index(lo + k, hi, n, need)
    return need


def _leaf_proof(lo, hi, n, hashes, pos):
    """Audit path for leaf n within [lo, hi): leaf side first, root side last."""
    if lo + 1 == hi:
        return [], pos  # the verifier knows the leaf hash itself
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        proof, pos = _leaf_proof(lo, lo + k, n, hashes, pos)
        th, pos = _sub_tree_hash(lo + k, hi, hashes, pos)
    else:
        th, pos = _sub_tree_hash(lo, lo + k, hashes, pos)
        proof, pos = _leaf_proof(lo + k, hi, n, hashes, pos)
    proof.append(th)
    return proof, pos


@functools.lru_cache(maxsize=256)  # a server reads an entry's proof hashes, then proves it
def record_proof_indexes(t, n):
    """Stored-hash indexes prove_record(t, n, ...) reads, in the order it reads them (a tuple)."""
    if t < 1 or n < 0 or n >= t:
        raise ProofError(f"no record {n} in a tree of size {t}")
    return tuple(_leaf_proof_index(0, t, n, []))


def prove_record(t, n, read_hashes):
    """Inclusion proof that the tree of size t contains record n."""
    indexes = list(record_proof_indexes(t, n))
    hashes = _read(read_hashes, indexes)
    proof, _ = _leaf_proof(0, t, n, hashes, 0)
    return proof


def _run_record_proof(proof, lo, hi, n, h):
    """Root of [lo, hi) implied by the proof; None if the length is wrong."""
    if lo + 1 == hi:
        return h if not proof else None  # no unneeded hashes allowed
    if not proof:
        return None
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        th = _run_record_proof(proof[:-1], lo, lo + k, n, h)
        return None if th is None else node_hash(th, proof[-1])
    th = _run_record_proof(proof[:-1], lo + k, hi, n, h)
    return None if th is None else node_hash(proof[-1], th)


def check_record(proof, t, root, n, leaf):
    """Go's CheckRecord: raise InvalidProofError unless proof shows that the
    tree of size t with the given root has leaf hash ``leaf`` at index n."""
    if t < 1 or n < 0 or n >= t:
        raise ProofError(f"no record {n} in a tree of size {t}")
    _check_hash(root, "root")
    _check_hash(leaf, "leaf hash")
    for h in proof:
        _check_hash(h, "proof hash")
    if _run_record_proof(list(proof), 0, t, n, leaf) != root:
        raise InvalidProofError(f"inclusion proof for record {n} in tree {t} does not verify")


# --- consistency proofs (RFC 6962 2.1.2) -------------------------------


def _tree_proof_index(lo, hi, n, need):
    if n == hi:
        # Common ground: the old tree is [0, n) itself, which the verifier
        # knows, or a subtree of it that the proof must carry.
        return need if lo == 0 else _sub_tree_index(lo, hi, need)
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        _tree_proof_index(lo, lo + k, n, need)
        _sub_tree_index(lo + k, hi, need)
    else:
        _sub_tree_index(lo, lo + k, need)
        _tree_proof_index(lo + k, hi, n, need)
    return need


def _tree_proof(lo, hi, n, hashes, pos):
    if n == hi:
        if lo == 0:
            return [], pos
        th, pos = _sub_tree_hash(lo, hi, hashes, pos)
        return [th], pos
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        proof, pos = _tree_proof(lo, lo + k, n, hashes, pos)
        th, pos = _sub_tree_hash(lo + k, hi, hashes, pos)
    else:
        th, pos = _sub_tree_hash(lo, lo + k, hashes, pos)
        proof, pos = _tree_proof(lo + k, hi, n, hashes, pos)
    proof.append(th)
    return proof, pos


def prove_tree(t, n, read_hashes):
    """Consistency proof that the tree of size t extends the tree of size n
    (1 <= n <= t; empty when n == t)."""
    if t < 1 or n < 1 or n > t:
        raise ProofError(f"no consistency proof from size {n} to size {t}")
    indexes = _tree_proof_index(0, t, n, [])
    hashes = _read(read_hashes, indexes)
    proof, _ = _tree_proof(0, t, n, hashes, 0)
    return proof


def _run_tree_proof(proof, lo, hi, n, old):
    """(old root, new root) of [lo, hi) implied by the proof, or None."""
    if n == hi:
        if lo == 0:
            return (old, old) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        r = _run_tree_proof(proof[:-1], lo, lo + k, n, old)
        return None if r is None else (r[0], node_hash(r[1], proof[-1]))
    r = _run_tree_proof(proof[:-1], lo + k, hi, n, old)
    return None if r is None else (node_hash(proof[-1], r[0]), node_hash(proof[-1], r[1]))


def check_tree(proof, t, root_t, n, root_n):
    """Go's CheckTree: raise InvalidProofError unless proof shows that the
    tree of size t with root_t contains the tree of size n with root_n."""
    if t < 1 or n < 1 or n > t:
        raise ProofError(f"no consistency proof from size {n} to size {t}")
    _check_hash(root_t, "new root")
    _check_hash(root_n, "old root")
    for h in proof:
        _check_hash(h, "proof hash")
    if _run_tree_proof(list(proof), 0, t, n, root_n) != (root_n, root_t):
        raise InvalidProofError(f"consistency proof from {n} to {t} does not verify")


# --- RFC 9162 verification algorithms ----------------------------------
#
# Written from RFC 9162 2.1.3.2 and 2.1.4.2 step by step, independently of
# the recursive checks above, so each cross-checks the other in the tests.


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    """RFC 9162 2.1.3.2. True when the proof holds; ProofError on bad sizes."""
    if tree_size < 1 or leaf_index < 0 or leaf_index >= tree_size:
        raise ProofError(f"no leaf {leaf_index} in a tree of size {tree_size}")
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root")
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in proof:
        _check_hash(p, "proof hash")
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 2.1.4.2 for 0 < first < second. For first == second (which
    the RFC leaves out) the proof must be empty and the roots equal, as in
    Go's CheckTree. True when the proof holds; ProofError on bad sizes."""
    if first < 1 or first > second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    _check_hash(first_root, "old root")
    _check_hash(second_root, "new root")
    proof = list(proof)
    for p in proof:
        _check_hash(p, "proof hash")
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    if first & (first - 1) == 0:  # exact power of two: the old root is a node
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# --- streaming roots ----------------------------------------------------


class CompactRange:
    """Root of a growing tree in O(log n) memory.

    Keeps the roots of the maximal complete subtrees of [0, size), largest
    first -- one per 1 bit of size. Push leaf hashes one at a time (or whole
    aligned subtrees) and ask for root() at any point.
    """

    def __init__(self):
        self.size = 0
        self._stack = []

    def append(self, leaf):
        """Add the next leaf hash."""
        self.append_subtree(leaf, 0)

    def append_subtree(self, h, level):
        """Add a complete subtree of 2**level leaves with root h. The
        current size must be a multiple of 2**level (its left neighbours
        then are complete subtrees at least as large)."""
        width = 1 << level
        if self.size & (width - 1):
            raise ProofError(f"subtree of {width} leaves is not aligned at size {self.size}")
        stack = self._stack
        s = self.size >> level
        # Each trailing 1 bit means an equal-sized left neighbour: merge.
        while s & 1:
            h = node_hash(stack.pop(), h)
            s >>= 1
        stack.append(h)
        self.size += width

    @classmethod
    def restore(cls, size, hashes):
        """A range saved earlier as (size, hashes()): one hash per 1 bit of size."""
        if type(size) is not int or size < 0 or len(hashes) != bin(size).count("1"):
            raise ProofError(f"a compact range of size {size} needs one hash per 1 bit")
        for h in hashes:
            _check_hash(h, "compact range hash")
        kept = cls()
        kept.size = size
        kept._stack = list(hashes)
        return kept

    def hashes(self):
        """The roots of the complete subtrees, largest first (save them with the size)."""
        return list(self._stack)

    def root(self):
        """Root of the tree of the leaves appended so far."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        h = stack[-1]
        for left in reversed(stack[:-1]):
            h = node_hash(left, h)
        return h


def root_from_leaf_hashes(leaves):
    """Root over a list of leaf hashes, level by level (pair left to right,
    carry an odd last node up unchanged -- same shape as RFC 6962's MTH)."""
    level = list(leaves)
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    while len(level) > 1:
        it = iter(level)
        odd = level[-1] if len(level) & 1 else None
        level = [sha(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        if odd is not None:
            level.append(odd)
    return level[0]


# --- in-memory storage --------------------------------------------------


class MemoryHashStore:
    """Stored hashes in a list, for tests and offline tools. The database
    layer does the same with rows keyed by stored-hash index."""

    def __init__(self):
        self.hashes = []
        self.size = 0

    def read_hashes(self, indexes):
        n = len(self.hashes)
        for i in indexes:
            if not 0 <= i < n:
                raise ProofError(f"stored hash {i} does not exist (have {n})")
        return [self.hashes[i] for i in indexes]

    def append(self, data):
        """Append a record; return its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, h):
        n = self.size
        self.hashes.extend(stored_hashes_for_record_hash(n, h, self.read_hashes))
        self.size = n + 1
        return n

    def leaf_hash(self, n):
        return self.read_hashes([stored_hash_index(0, n)])[0]

    def _size(self, size):
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ProofError(f"tree size {size} out of range 0..{self.size}")
        return size

    def root(self, size=None):
        return tree_hash(self._size(size), self.read_hashes)

    def prove_record(self, n, size=None):
        return prove_record(self._size(size), n, self.read_hashes)

    def prove_tree(self, old, size=None):
        return prove_tree(self._size(size), old, self.read_hashes)
