"""C2SP tlog-tiles: the ledger's Merkle tree and leaves as static, cacheable resources.

    <prefix>/tile/<L>/<N>[.p/<W>]        hash tile: W (full: 256) tree hashes at level L
    <prefix>/tile/entries/<N>[.p/<W>]    entry bundle: the leaves that level-0 tile N hashes

Hash i of tile (L, N) is the Merkle tree hash of the 256**L leaves starting at (N*256 + i) * 256**L;
in the stored-hash layout (ledger.tree) that is the hash at stored_hash_index(8*L, N*256 + i), so a
tile is one read of W stored hashes. An entry bundle is its leaves, each prefixed by its length as
a big-endian uint16. N is written in 3-digit groups, all but the last prefixed with `x`
(1234067 -> x001/x234/067). This module is pure: no web framework, no database.
"""

import re
from typing import NamedTuple

from ledger import tree

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, 8192 bytes when full
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF  # the uint16 length prefix

_GROUP = re.compile(r"x[0-9]{3}\Z")
_LAST = re.compile(r"[0-9]{3}\Z")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)\Z")


class TileError(ValueError):
    """A path that names no tile, or a bundle that cannot be decoded."""


class Tile(NamedTuple):
    """level: 0..63, or None for an entry bundle; index: N; width: 1..256 (256 = full)."""

    level: int | None
    index: int
    width: int

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """The path below the log's prefix, e.g. `tile/0/x001/234` or `tile/entries/005.p/17`."""
        head = "entries" if self.level is None else str(self.level)
        tail = "" if self.full else f".p/{self.width}"
        return f"tile/{head}/{encode_index(self.index)}{tail}"

    def first_leaf(self) -> int:
        """The first leaf this tile covers (its start index)."""
        return self.index * TILE_WIDTH ** ((self.level or 0) + 1)

    def needs(self) -> int:
        """The tree size from which this tile, at its width, exists."""
        return (self.index * TILE_WIDTH + self.width) * TILE_WIDTH ** (self.level or 0)

    def stored_hash_indexes(self) -> list[int]:
        """Where the tile's hashes are in the stored-hash layout (hash tiles only)."""
        if self.level is None:
            raise TileError("an entry bundle holds leaves, not hashes")
        first = self.index * TILE_WIDTH
        return [tree.stored_hash_index(TILE_HEIGHT * self.level, first + i) for i in range(self.width)]


def encode_index(n: int) -> str:
    """N as zero-padded 3-digit path elements, all but the last starting with `x`."""
    if type(n) is not int or n < 0:
        raise TileError(f"bad tile index {n!r}")
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


def parse_tile_path(path: str) -> Tile:
    """Parse `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]` (the part after `tile/`).

    Only the canonical spelling is accepted: one path per resource, so a cache never holds two
    copies of a tile. Raises TileError for anything else.
    """
    parts = path.split("/")
    if len(parts) < 2:
        raise TileError("a tile path is <L>/<N>[.p/<W>]")
    head, rest = parts[0], parts[1:]
    if head == "entries":
        level = None
    elif _DECIMAL.match(head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise TileError(f"bad tile level {head!r:.20}")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        w = rest[-1]
        if not _DECIMAL.match(w) or not 1 <= int(w) < TILE_WIDTH:
            raise TileError(f"bad partial tile width {w!r:.20}")
        width = int(w)
        rest = [*rest[:-2], rest[-2][:-2]]
    if not _LAST.match(rest[-1]) or not all(_GROUP.match(p) for p in rest[:-1]):
        raise TileError("bad tile index: 3-digit groups, all but the last prefixed with x")
    if len(rest) > 1 and rest[0] == "x000":
        raise TileError("bad tile index: leading zero group")
    index = 0
    for part in rest:
        index = index * 1000 + int(part.lstrip("x"))
    if index >= 2**63:
        raise TileError("tile index too large")
    return Tile(level, index, width)


def tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile a tree of `size` leaves is made of (full ones, then the partial ones),
    level by level; the entry bundles are the level-0 ones with level None."""
    out = []
    level = 0
    while size >= TILE_WIDTH ** level and level <= MAX_LEVEL:
        hashes = size // TILE_WIDTH ** level  # complete subtrees of 256**level leaves
        out.extend(Tile(level, n, TILE_WIDTH) for n in range(hashes // TILE_WIDTH))
        if hashes % TILE_WIDTH:
            out.append(Tile(level, hashes // TILE_WIDTH, hashes % TILE_WIDTH))
        level += 1
    return out


def partial_width(size: int, level: int = 0) -> int:
    """Width of the partial tile at `level` for a tree of `size` (0: there is none)."""
    return size // TILE_WIDTH ** level % TILE_WIDTH


def encode_bundle(leaves) -> bytes:
    """An entry bundle: each leaf prefixed by its length, big-endian uint16."""
    out = bytearray()
    for leaf in leaves:
        if len(leaf) > MAX_ENTRY_BYTES:
            raise TileError(f"a leaf of {len(leaf)} bytes does not fit an entry bundle")
        out += len(leaf).to_bytes(2, "big")
        out += leaf
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The leaves of an entry bundle, in order. Raises TileError if it is truncated."""
    leaves, pos, end = [], 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise TileError("entry bundle truncated in a length prefix")
        length = int.from_bytes(data[pos:pos + 2], "big")
        pos += 2
        if pos + length > end:
            raise TileError("entry bundle truncated in an entry")
        leaves.append(bytes(data[pos:pos + length]))
        pos += length
    return leaves


def split_hashes(data: bytes) -> list[bytes]:
    """The 32-byte hashes of a hash tile."""
    if len(data) % tree.HASH_SIZE or not data or len(data) > TILE_WIDTH * tree.HASH_SIZE:
        raise TileError(f"a hash tile of {len(data)} bytes")
    return [data[i:i + tree.HASH_SIZE] for i in range(0, len(data), tree.HASH_SIZE)]
