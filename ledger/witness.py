"""A C2SP tlog-witness: `python -m ledger.witness serve`, cosigning only consistent checkpoints.

    python -m ledger.witness keygen witness.example/w1 > witness.key   # keep it secret
    python -m ledger.witness vkey witness.key                           # the key to publish
    python -m ledger.witness serve --key witness.key --db witness.sqlite3 \\
        --log '<the ledger's verifier key>' [--log ...] [--listen 127.0.0.1:7380]

`POST /add-checkpoint` takes `old <size>`, a consistency proof (base64 lines), an empty line and
the log's signed checkpoint. The witness checks the log's signature (404 for an unknown origin,
403 without a valid signature by the log's key), that the old size is the size it last cosigned
for that log (else 409 with its size, `text/x.tlog.size`), and the consistency proof from that
checkpoint (422 if it fails, or if the sizes are equal and the roots differ). Then it records the
new checkpoint and answers with its cosignature (cosignature/v1, Ed25519 with a timestamp). The
check and the update happen in one SQLite write transaction, so two requests can never roll the
recorded size back. `GET /<sha256 hex of the origin>/checkpoint` serves the latest cosigned
checkpoint. Refused checkpoints that carry a valid log signature are kept as evidence.
Standard library plus `cryptography`: no web framework, no database server.
"""

import argparse
import hashlib
import sqlite3
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ledger import cosignature, note, tree

MAX_BODY = 64 * 1024
SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    checkpoint TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    old_size INTEGER NOT NULL,
    checkpoint TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
);
"""


class Answer(Exception):
    """An HTTP answer other than 200: status, body, content type."""

    def __init__(self, status, body, content_type="text/plain; charset=utf-8"):
        super().__init__(body)
        self.status = status
        self.body = body
        self.content_type = content_type


class Witness:
    """The witness's rules, separate from HTTP: add_checkpoint(body) -> cosignature lines."""

    def __init__(self, signer, logs, db_path, clock=time.time):
        self.signer = signer
        self.logs = {}
        for item in logs:
            v = note.parse_verifier_key(item) if isinstance(item, str) else item
            self.logs.setdefault(v.name, []).append(v)  # the log's key name is its origin
        self.db_path = str(db_path)
        self.clock = clock
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self):
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def latest(self, origin):
        db = self._connect()
        try:
            return db.execute("SELECT size, root, checkpoint FROM logs WHERE origin = ?",
                              (origin,)).fetchone()
        finally:
            db.close()

    def checkpoint_for_hash(self, origin_hash):
        for origin in self.logs:
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                row = self.latest(origin)
                return None if row is None else row[2]
        return None

    def add_checkpoint(self, body):
        try:
            request = cosignature.parse_add_checkpoint(body)
        except cosignature.CosignatureError as exc:
            raise Answer(400, f"{exc}\n") from None
        origin = request.checkpoint.split("\n", 1)[0]
        keys = self.logs.get(origin)
        if keys is None:
            raise Answer(404, "unknown log origin\n")
        try:
            text = note.open_note(request.checkpoint, keys)
        except note.UnverifiedNoteError:
            raise Answer(403, "no signature by the log's key\n") from None
        except note.NoteError as exc:
            status = 403 if "invalid signature" in str(exc) else 400
            raise Answer(status, f"{exc}\n") from None
        try:
            cp = note.parse_checkpoint(text)
        except note.NoteError as exc:
            raise Answer(400, f"{exc}\n") from None
        if request.old_size > cp.size:
            raise Answer(400, "old size is larger than the checkpoint's size\n")
        if cp.size == 0 and cp.root != tree.EMPTY_ROOT:
            raise Answer(422, "a checkpoint of size 0 must have the empty tree's root\n")
        # Only the log's own signature lines are kept with the cosigned checkpoint.
        kept = cosignature.strip_cosignatures(request.checkpoint, keys[0])
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")  # check and update atomically (no rollback race)
            row = db.execute("SELECT size, root FROM logs WHERE origin = ?", (origin,)).fetchone()
            size, root = (row[0], bytes(row[1])) if row else (0, None)
            if request.old_size != size:
                db.execute("ROLLBACK")
                raise Answer(409, f"{size}\n", "text/x.tlog.size")
            problem = self._inconsistency(request, cp, size, root)
            if problem:
                db.execute("INSERT INTO refused (origin, old_size, checkpoint, reason, at) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (origin, request.old_size, request.checkpoint, problem, int(self.clock())))
                db.execute("COMMIT")
                raise Answer(422, f"{problem}\n")
            now = int(self.clock())
            line = self.signer.cosign(text, now)
            db.execute("INSERT INTO logs (origin, size, root, checkpoint, updated_at) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
                       "checkpoint = excluded.checkpoint, updated_at = excluded.updated_at",
                       (origin, cp.size, cp.root, kept + line, now))
            db.execute("COMMIT")
            return line
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.close()

    @staticmethod
    def _inconsistency(request, cp, size, root):
        if request.old_size == 0:
            return "a proof from size 0 must be empty" if request.proof else None
        if request.old_size == cp.size:
            if request.proof:
                return "a proof between equal sizes must be empty"
            return None if cp.root == root else f"another root for size {cp.size} than the one cosigned"
        if not tree.verify_consistency(size, cp.size, root, cp.root, request.proof):
            return (f"the checkpoint for size {cp.size} is not consistent with the one cosigned "
                    f"for size {size}")
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "amanah-witness/1"
    witness: Witness = None  # set by serve()

    def _send(self, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path != "/add-checkpoint":
            self._send(404, "not found\n")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, "Content-Length required\n")
            return
        if not 0 <= length <= MAX_BODY:
            self._send(413, "request too large\n")
            return
        body = self.rfile.read(length)
        try:
            self._send(200, self.witness.add_checkpoint(body))
        except Answer as answer:
            self._send(answer.status, answer.body, answer.content_type)

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        checkpoint = None
        if len(parts) == 2 and parts[1] == "checkpoint":
            checkpoint = self.witness.checkpoint_for_hash(parts[0])
        if checkpoint is None:
            self._send(404, "not found\n")
        else:
            self._send(200, checkpoint)

    def log_message(self, format, *args):
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(witness, host="127.0.0.1", port=7380, ready=None):
    handler = type("BoundHandler", (Handler,), {"witness": witness})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    print(f"witness {witness.signer.name} listening on http://{host}:{server.server_port}", flush=True)
    if ready:
        ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _read_key(value):
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ledger.witness",
                                     description="A C2SP tlog-witness for the Amanah ledger.")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="print a new witness signing key (keep it secret)")
    keygen.add_argument("name", help="the witness's name, e.g. witness.example/w1")
    vkey = commands.add_parser("vkey", help="print the verifier key of a witness signing key")
    vkey.add_argument("key", help="the signing key file")
    run = commands.add_parser("serve", help="serve POST /add-checkpoint")
    run.add_argument("--key", required=True, help="the witness's signing key file")
    run.add_argument("--db", required=True, help="its SQLite state file (created if missing)")
    run.add_argument("--log", action="append", required=True,
                     help="a log's verifier key (its name is the log's origin); repeatable")
    run.add_argument("--listen", default="127.0.0.1:7380", help="host:port (port 0: any free port)")
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            signing, _verifier = cosignature.generate_witness_key(args.name)
            print(signing)
            return 0
        signer = cosignature.parse_witness_signing_key(_read_key(args.key))
        if args.command == "vkey":
            print(signer.verifier().text())
            return 0
        host, _, port = args.listen.rpartition(":")
        witness = Witness(signer, [_read_key(k) for k in args.log], args.db)
    except (cosignature.CosignatureError, note.NoteError, OSError, sqlite3.Error) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    serve(witness, host or "127.0.0.1", int(port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
