"""ledger.tiles: C2SP tlog-tiles paths, tile shapes and entry bundles, against the spec's examples
and against trees built leaf by leaf."""
import random

import pytest

from ledger import tiles, tree
from ledger.tiles import Tile, TileError


@pytest.mark.parametrize("n, encoded", [
    (0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"),
    (1_000_000, "x001/x000/000"), (2**63 - 1, "x009/x223/x372/x036/x854/x775/807"),
])
def test_index_encoding_round_trips(n, encoded):
    assert tiles.encode_index(n) == encoded
    assert tiles.parse_tile_path(f"0/{encoded}") == Tile(0, n, 256)
    assert tiles.parse_tile_path(f"entries/{encoded}.p/9") == Tile(None, n, 9)


@pytest.mark.parametrize("path", [
    "", "0", "0/", "00/000", "64/000", "-1/000", "data/000", "0/1", "0/0000", "0/x001", "0/001/002",
    "0/x000/001", "0/000.p/0", "0/000.p/256", "0/000.p/07", "0/000.p/", "0/000.q/5", "0/x001.p/5",
    "entries/000.p/1/2", "0/ 000", "0/٠٠٠", "entries/x1/000",
])
def test_only_canonical_paths_name_tiles(path):
    with pytest.raises(TileError):
        tiles.parse_tile_path(path)


def test_paths_of_tiles():
    assert Tile(0, 1234067, 256).path() == "tile/0/x001/x234/067"
    assert Tile(2, 5, 1).path() == "tile/2/005.p/1"
    assert Tile(None, 5, 17).path() == "tile/entries/005.p/17"


def test_the_specification_examples_of_tree_shapes():
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    # tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    # partial level 2 tile of width 1"
    shape = tiles.tiles_for_size(70_000)
    level0 = [t for t in shape if t.level == 0]
    assert sum(t.full for t in level0) == 273 and [t.width for t in level0 if not t.full] == [112]
    assert [(t.level, t.index, t.width) for t in shape if t.level > 0] == [(1, 0, 256), (1, 1, 17), (2, 0, 1)]
    assert tiles.tiles_for_size(256) == [Tile(0, 0, 256), Tile(1, 0, 1)]
    assert tiles.tiles_for_size(0) == [] and tiles.tiles_for_size(1) == [Tile(0, 0, 1)]
    assert tiles.partial_width(70_000, 0) == 112 and tiles.partial_width(70_000, 1) == 17


def test_tile_hashes_are_the_tree_hashes_of_their_ranges():
    store = tree.MemoryHashStore()
    leaves = [f"leaf {i}".encode() for i in range(70_000)]
    for leaf in leaves:
        store.append(leaf)
    hashes = [tree.leaf_hash(leaf) for leaf in leaves]
    rng = random.Random(20)
    for t in tiles.tiles_for_size(len(leaves)):
        if t.level == 0 or rng.random() < 0.3 or not t.full:
            got = store.read_hashes(t.stored_hash_indexes())
            span = 256 ** t.level
            first = t.index * 256
            for i in ([0, t.width - 1] if t.level == 0 else range(t.width)):
                lo = (first + i) * span
                assert got[i] == tree.root_from_leaf_hashes(hashes[lo:lo + span])
            assert t.needs() <= len(leaves)
    assert Tile(1, 1, 18).needs() == 70_144


def test_entry_bundles_round_trip_and_refuse_truncation():
    leaves = [b"", b"x", b'{"a":1}', bytes(range(256)) * 255]
    data = tiles.encode_bundle(leaves)
    assert data[:5] == b"\x00\x00\x00\x01x"
    assert tiles.decode_bundle(data) == leaves
    with pytest.raises(TileError):
        tiles.decode_bundle(data[:-1])
    with pytest.raises(TileError):
        tiles.decode_bundle(b"\x00")
    with pytest.raises(TileError):
        tiles.encode_bundle([bytes(65_536)])
    assert tiles.split_hashes(bytes(64)) == [bytes(32), bytes(32)]
    with pytest.raises(TileError):
        tiles.split_hashes(bytes(33))
