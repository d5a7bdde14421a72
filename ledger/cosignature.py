"""C2SP tlog-cosignature (cosignature/v1, Ed25519) and the tlog-witness request format.

A witness's cosignature is one more signature line on the log's checkpoint note:

    — <witness name> base64(key id || u64 big-endian timestamp || Ed25519 signature)

    key id   first 4 bytes of SHA-256(name || "\\n" || 0x04 || public key)
    signed   "cosignature/v1\\ntime <timestamp>\\n" followed by the checkpoint's note text

Witness keys are written like the log's (ledger.note), with signature type 0x04:

    verifier key  <name>+<keyid hex>+<base64(0x04 || public key)>
    signing key   PRIVATE+KEY+<name>+<keyid hex>+<base64(0x04 || seed)>

The request a log sends to a witness (POST <prefix>/add-checkpoint) is `old <size>\\n`, the
consistency proof as base64 lines, an empty line, then the signed checkpoint. Pure: no web
framework, no database.
"""

import base64
import hashlib
import re
import time
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger import note, tree

ALG_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1\n"
MAX_PROOF_LINES = 63
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,19})\Z")


class CosignatureError(ValueError):
    """A malformed witness key, cosignature or add-checkpoint request."""


def witness_key_id(name: str, public_key: bytes) -> bytes:
    encoded = bytes([ALG_COSIGNATURE_V1]) + public_key
    return hashlib.sha256(name.encode("utf-8") + b"\n" + encoded).digest()[:4]


def signed_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: header, time line, then the checkpoint text."""
    return f"{HEADER}time {timestamp}\n{text}".encode()


class WitnessVerifier(NamedTuple):
    name: str
    key_id: bytes
    public_key: bytes

    def text(self) -> str:
        key = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{key}"


class WitnessSigner(NamedTuple):
    name: str
    key_id: bytes
    seed: bytes

    def verifier(self) -> WitnessVerifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return WitnessVerifier(self.name, self.key_id, public)

    def cosign(self, text: str, timestamp: int | None = None) -> str:
        """The signature line (ending in a newline) cosigning a checkpoint's note text."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        if not 0 < timestamp < 2**63:
            raise CosignatureError("a cosignature's timestamp must be positive and below 2**63")
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(signed_message(text, timestamp))
        blob = self.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{note.SIG_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"

    def text(self) -> str:
        key = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{key}"


def _split(text: str, what: str) -> tuple[str, bytes, bytes]:
    name, _, rest = text.strip().partition("+")
    hex_id, _, b64 = rest.partition("+")
    if not note.is_valid_name(name) or not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id) or not b64:
        raise CosignatureError(f"malformed {what}")
    try:
        key = note._b64decode(b64)
    except note.NoteError:
        raise CosignatureError(f"malformed {what}: bad base64") from None
    if len(key) != 33 or key[0] != ALG_COSIGNATURE_V1:
        raise CosignatureError(f"{what}: not a cosignature/v1 (type 0x04) Ed25519 key")
    return name, bytes.fromhex(hex_id), key[1:]


def parse_witness_key(text: str) -> WitnessVerifier:
    """'<name>+<keyid>+<base64(0x04||public key)>'."""
    name, kid, public = _split(text, "witness key")
    if witness_key_id(name, public) != kid:
        raise CosignatureError("witness key: key id does not match the key")
    try:
        Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise CosignatureError("witness key: not an Ed25519 public key") from None
    return WitnessVerifier(name, kid, public)


def parse_witness_signing_key(text: str) -> WitnessSigner:
    if not text.strip().startswith("PRIVATE+KEY+"):
        raise CosignatureError("malformed witness signing key")
    name, kid, seed = _split(text.strip()[len("PRIVATE+KEY+"):], "witness signing key")
    signer = WitnessSigner(name, kid, seed)
    if witness_key_id(name, signer.verifier().public_key) != kid:
        raise CosignatureError("witness signing key: key id does not match the key")
    return signer


def generate_witness_key(name: str) -> tuple[str, str]:
    """A new witness key pair: (signing key text, verifier key text)."""
    if not note.is_valid_name(name):
        raise CosignatureError(f"invalid witness name {name!r}")
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    signer = WitnessSigner(name, witness_key_id(name, public), seed)
    return signer.text(), signer.verifier().text()


class Cosigned(NamedTuple):
    """A verified cosignature: whose, when (POSIX seconds), and its exact signature line."""

    witness: str
    timestamp: int
    line: str


def verify_cosignatures(signed_note: str, witnesses) -> list[Cosigned]:
    """The valid cosignatures on a signed note by the given witnesses (keys or their texts).

    Signature lines by other keys are ignored, as the signed-note rules require; a line that
    names a known witness key and fails to verify is an error (the note is malformed).
    """
    known = {}
    for item in witnesses:
        w = parse_witness_key(item) if isinstance(item, str) else item
        known[(w.name, w.key_id)] = w
    try:
        text, lines = note._split_note(signed_note)
    except note.NoteError as exc:
        raise CosignatureError(str(exc)) from None
    found = {}
    for line in lines:
        try:
            name, kid, blob = note._parse_sig_line(line)
        except note.NoteError as exc:
            raise CosignatureError(str(exc)) from None
        w = known.get((name, kid))
        if w is None or name in found:
            continue
        if len(blob) != 8 + 64:
            raise CosignatureError(f"cosignature by {name} has the wrong length")
        timestamp = int.from_bytes(blob[:8], "big")
        try:
            Ed25519PublicKey.from_public_bytes(w.public_key).verify(blob[8:], signed_message(text, timestamp))
        except InvalidSignature:
            raise CosignatureError(f"invalid cosignature by witness {name}") from None
        if timestamp == 0 or timestamp >= 2**63:
            raise CosignatureError(f"cosignature by {name} has no valid timestamp")
        found[name] = Cosigned(name, timestamp, line + "\n")
    return list(found.values())


def require_witnesses(signed_note: str, witnesses, minimum: int) -> list[Cosigned]:
    """A witness policy: at least `minimum` of `witnesses` validly cosigned the note. Returns the
    cosignatures found; raises CosignatureError naming who did and how many are needed."""
    found = verify_cosignatures(signed_note, witnesses)
    if len(found) < minimum:
        names = ", ".join(c.witness for c in found) or "none of them"
        raise CosignatureError(f"the checkpoint is cosigned by {len(found)} of the given witnesses "
                               f"({names}); the policy needs at least {minimum}")
    return found


def add_signature_lines(signed_note: str, lines) -> str:
    """The note with more signature lines appended (each a full line, ending in a newline)."""
    return signed_note + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def merge_signatures(signed_note: str, other: str) -> str:
    """signed_note with the signature lines of `other`, a copy of the same checkpoint fetched
    elsewhere (e.g. /ledger/checkpoints/<size>, which gathers the cosignatures that arrived after
    a receipt's proof was made), that it lacks. Only lines are added; they still have to verify.
    CosignatureError if `other` is not a note over the same checkpoint text."""
    try:
        text, lines = note._split_note(signed_note)
        other_text, other_lines = note._split_note(other)
    except note.NoteError as exc:
        raise CosignatureError(str(exc)) from None
    if other_text != text:
        raise CosignatureError("the cosigned checkpoint is not the proof's checkpoint (another size or root)")
    return add_signature_lines(signed_note, [line for line in other_lines if line not in lines])


def strip_cosignatures(signed_note: str, log_key) -> str:
    """The note with only the log's own signature lines (by the key named in log_key)."""
    verifier = note.parse_verifier_key(log_key) if isinstance(log_key, str) else log_key
    text, lines = note._split_note(signed_note)
    keep = [line for line in lines if line.startswith(f"{note.SIG_PREFIX}{verifier.name} ")]
    return text + "\n" + "".join(line + "\n" for line in keep)


# --- the add-checkpoint request (C2SP tlog-witness) --------------------------------------------


def add_checkpoint_request(old_size: int, proof, signed_checkpoint: str) -> bytes:
    if len(proof) > MAX_PROOF_LINES:
        raise CosignatureError("a consistency proof has at most 63 hashes")
    lines = [f"old {old_size}\n"] + [base64.b64encode(h).decode("ascii") + "\n" for h in proof]
    return ("".join(lines) + "\n" + signed_checkpoint).encode("utf-8")


class AddCheckpoint(NamedTuple):
    old_size: int
    proof: list
    checkpoint: str  # the signed note


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body; CosignatureError (a 400) if it is malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CosignatureError("the request is not UTF-8") from None
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise CosignatureError("the request needs an empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD_LINE.match(lines[0])
    if not match:
        raise CosignatureError("the first line must be `old <size>`")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise CosignatureError("more than 63 consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            h = note._b64decode(line)
        except note.NoteError:
            raise CosignatureError("a consistency proof line is not base64") from None
        if len(h) != tree.HASH_SIZE:
            raise CosignatureError("a consistency proof line is not a 32-byte hash")
        proof.append(h)
    return AddCheckpoint(int(match.group(1)), proof, checkpoint)
