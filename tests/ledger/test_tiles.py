"""/ledger/tile/...: C2SP tlog-tiles served from the stored hashes, checked against the signed
checkpoint by our own code and by Go's golang.org/x/mod/sumdb/tlog (TileHashReader)."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from ledger import note, storage, tiles, tree
from tests.factories.ledger import allow_changes, fill

GO_MODULES = Path("/usr/share/gocode")
IMMUTABLE = "public, max-age=31536000, immutable"


def signed(client):
    key = client.get("/ledger/key").get_data(as_text=True)
    return note.open_checkpoint(client.get("/ledger/checkpoint").get_data(as_text=True), key)


def test_tiles_and_bundles_rebuild_the_signed_root(app, client):
    with app.app_context():
        fill(600)
    cp = signed(client)
    assert cp.size == 600
    leaves = client.get("/ledger/export.jsonl").data.split(b"\n")[:-1]
    leaf_hashes = []
    for t in tiles.tiles_for_size(cp.size):
        response = client.get(f"/ledger/{t.path()}")
        assert response.status_code == 200, t.path()
        assert response.mimetype == "application/octet-stream"
        assert response.headers["Cache-Control"] == (IMMUTABLE if t.full else "public, max-age=60")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        hashes = tiles.split_hashes(response.data)
        assert len(hashes) == t.width
        if t.level == 0:
            leaf_hashes += hashes
            bundle = client.get(f"/ledger/{t._replace(level=None).path()}")
            assert bundle.status_code == 200 and "gzip" not in bundle.headers.get("Content-Encoding", "")
            assert bundle.headers["Cache-Control"] == response.headers["Cache-Control"]
            entries = tiles.decode_bundle(bundle.data)
            assert entries == leaves[t.first_leaf():t.first_leaf() + t.width]
            assert [tree.leaf_hash(e) for e in entries] == hashes
        else:  # level 1: the hash of each full level-0 tile
            assert hashes == [tree.root_from_leaf_hashes(leaf_hashes[i * 256:(i + 1) * 256])
                              for i in range(t.width)]
    assert tree.root_from_leaf_hashes(leaf_hashes) == cp.root
    # A partial tile of a smaller (earlier) width is the same prefix.
    assert client.get("/ledger/tile/0/002.p/10").data == client.get("/ledger/tile/0/002.p/88").data[:320]


def test_entry_bundles_are_gzipped_for_clients_that_accept_it(app, client):
    with app.app_context():
        fill(300)
    signed(client)
    plain = client.get("/ledger/tile/entries/000", headers={"Accept-Encoding": "identity"})
    packed = client.get("/ledger/tile/entries/000", headers={"Accept-Encoding": "gzip, identity"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 3


def test_tiles_beyond_the_signed_checkpoint_or_malformed_are_not_found(app, client):
    with app.app_context():
        fill(300)
    assert client.get("/ledger/tile/0/000").status_code == 404  # nothing signed yet
    signed(client)
    with app.app_context():
        fill(100)  # appended but not signed yet: tile 1 grows only once a checkpoint covers it
    assert client.get("/ledger/tile/0/001.p/44").status_code == 200
    for path in ("0/001.p/45", "0/001", "1/000", "entries/001.p/45", "1/000.p/2", "0/1", "00/000",
                 "0/x000/000", "entries/000.p/256", "64/000", "0/000.p/0", "x/000"):
        assert client.get(f"/ledger/tile/{path}").status_code == 404, path
    assert client.get("/ledger/tile/1/000.p/1").status_code == 200
    signed(client)
    assert client.get("/ledger/tile/0/001.p/144").status_code == 200


@pytest.mark.skipif(shutil.which("go") is None or not (GO_MODULES / "src/golang.org/x/mod").is_dir(),
                    reason="needs Debian's golang-go and golang-golang-x-mod-dev (.ci/run installs them)")
def test_go_tile_hash_reader_checks_the_tiles_against_the_checkpoint(live_server, tmp_path):
    app, base = live_server.app, live_server.url
    with app.app_context():
        fill(300)
    with app.test_client() as client:
        old = client.get("/ledger/checkpoint").data
    with app.app_context():
        fill(70_000 - 300 + 5)  # three tile levels: a partial level-2 tile of width 1
    source = tmp_path / "gopath/src/tilecheck"
    source.mkdir(parents=True)
    (source / "main.go").write_text(GO_PROGRAM)
    (source / "old.txt").write_bytes(old)
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": f"{tmp_path / 'gopath'}:{GO_MODULES}",
           "GOCACHE": str(tmp_path / "gocache"), "GOFLAGS": "", "CGO_ENABLED": "0"}
    build = subprocess.run(["go", "build", "-o", str(tmp_path / "tilecheck"), "."], cwd=source, env=env,
                           capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr

    def run():
        return subprocess.run([str(tmp_path / "tilecheck"), base + "/ledger", "old.txt"], cwd=source,
                              capture_output=True, text=True, timeout=300, check=False)

    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == ("OK: 70005 entries in 274 bundles, tiles match the checkpoint, "
                                 "extends size 300")

    # A full tile above level 0 is read once and then kept, tied to the stored hash of the subtree
    # it spans: a database whose hashes differ there gets its own tile, never the kept one.
    with app.app_context():
        level1 = tiles.Tile(1, 0, 256)
        kept = storage.tile_hashes(db.session, level1)
        allow_changes("ledger_hashes", "UPDATE")
        change = sa.text("UPDATE ledger_hashes SET hash = :h WHERE idx = :i")
        db.session.execute(change, {"h": b"\x01" * 32, "i": tree.stored_hash_index(8, 5)})
        assert storage.tile_hashes(db.session, level1) == kept
        db.session.execute(change, {"h": b"\x02" * 32, "i": tree.stored_hash_index(16, 0)})
        assert storage.tile_hashes(db.session, level1)[5] == b"\x01" * 32
        db.session.rollback()

    # One stored leaf hash changed behind the application's back: Go's tile reader refuses the tile.
    with app.app_context():
        allow_changes("ledger_hashes", "UPDATE")
        index = tree.stored_hash_index(0, 1000)
        db.session.execute(sa.text("UPDATE ledger_hashes SET hash = :h WHERE idx = :i"),
                           {"h": bytes(32), "i": index})
        db.session.commit()
    tampered = run()
    assert tampered.returncode != 0 and "OK:" not in tampered.stdout


GO_PROGRAM = r'''
package main

// Checks a C2SP tlog-tiles log with Go's checksum-database code: the checkpoint's signature
// (note), every hash tile against the checkpoint (tlog.TileHashReader authenticates each tile it
// reads against the tree), every entry bundle against the level-0 tiles, and a consistency proof
// from an older checkpoint computed from the tiles.

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var prefix string

func get(path string) []byte {
	resp, err := http.Get(prefix + "/" + path)
	check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	check(err)
	if resp.StatusCode != 200 {
		log.Fatalf("GET %s: %s", path, resp.Status)
	}
	return body
}

// Tiles are fetched once and kept only after the hash reader has authenticated them (SaveTiles).
type tileReader struct{ saved map[tlog.Tile][]byte }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if data, ok := r.saved[t]; ok {
			out[i] = data
			continue
		}
		// Go names tiles tile/<H>/<L>/<N>; C2SP leaves the height (always 8) out.
		out[i] = get("tile/" + strings.TrimPrefix(t.Path(), "tile/8/"))
	}
	return out, nil
}

func (r tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		r.saved[t] = data[i]
	}
}

func openCheckpoint(v note.Verifier, msg []byte) tlog.Tree {
	n, err := note.Open(msg, note.VerifierList(v))
	check(err)
	lines := strings.SplitN(n.Text, "\n", 4)
	size, err := strconv.ParseInt(lines[1], 10, 64)
	check(err)
	root, err := tlog.ParseHash(lines[2])
	check(err)
	return tlog.Tree{N: size, Hash: root}
}

func main() {
	prefix = os.Args[1]
	v, err := note.NewVerifier(strings.TrimSpace(string(get("key"))))
	check(err)
	tree := openCheckpoint(v, get("checkpoint"))
	hr := tlog.TileHashReader(tree, tileReader{saved: map[tlog.Tile][]byte{}})
	root, err := tlog.TreeHash(tree.N, hr)
	check(err)
	if root != tree.Hash {
		log.Fatal("the tiles do not hash to the checkpoint's root")
	}
	bundles := 0
	for start := int64(0); start < tree.N; start += 256 {
		w := tree.N - start
		full := tlog.Tile{H: 8, L: 0, N: start / 256, W: 256}
		path := "tile/entries/" + strings.TrimPrefix(full.Path(), "tile/8/0/")
		if w < 256 {
			path += fmt.Sprintf(".p/%d", w)
		} else {
			w = 256
		}
		data := get(path)
		indexes := make([]int64, w)
		for i := range indexes {
			indexes[i] = tlog.StoredHashIndex(0, start+int64(i))
		}
		want, err := hr.ReadHashes(indexes)
		check(err)
		for i := int64(0); i < w; i++ {
			if len(data) < 2 {
				log.Fatalf("bundle %s is short", path)
			}
			n := int(binary.BigEndian.Uint16(data))
			entry := data[2 : 2+n]
			data = data[2+n:]
			if tlog.RecordHash(entry) != want[i] {
				log.Fatalf("entry %d does not match its tile hash", start+i)
			}
		}
		if len(data) != 0 {
			log.Fatalf("bundle %s is too long", path)
		}
		bundles++
	}
	oldMsg, err := os.ReadFile(os.Args[2])
	check(err)
	old := openCheckpoint(v, oldMsg)
	proof, err := tlog.ProveTree(tree.N, old.N, hr)
	check(err)
	check(tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash))
	fmt.Printf("OK: %d entries in %d bundles, tiles match the checkpoint, extends size %d\n",
		tree.N, bundles, old.N)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
'''
