"""C2SP signed notes and tlog checkpoints with Ed25519.

Byte-compatible with Go's golang.org/x/mod/sumdb/note: the same key texts,
key ids and note layout, so Go's note.Open accepts what sign_note writes and
open_note accepts what Go's note.Sign writes. Ed25519 is deterministic, so
signing the same text with the same key gives the same note byte for byte.

    signing key   PRIVATE+KEY+<name>+<keyid hex>+<base64(0x01 || seed)>
    verifier key  <name>+<keyid hex>+<base64(0x01 || public key)>
    key id        first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key)
    note          <text ending in \\n>\\n— <name> <base64(keyid || signature)>\\n
"""

import base64
import binascii
import hashlib
import re
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 1
MAX_SIGNATURES = 100  # as Go: don't spend forever on a note with many signatures
SIG_PREFIX = "\u2014 "  # em dash, space

# Go's isValidName: non-empty, no '+', no unicode.IsSpace (White_Space)
# characters. We also refuse control characters, which a note may not hold.
_BAD_NAME_CHAR = re.compile("[+\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_KEYID_HEX = re.compile(r"[0-9a-fA-F]{8}\Z")
_NOTE_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # all C0 controls but \n
_SIZE = re.compile(r"(0|[1-9][0-9]{0,19})\Z")


class NoteError(ValueError):
    """A malformed key, note or checkpoint, or a signature that fails."""


class UnverifiedNoteError(NoteError):
    """The note is well formed but carries no signature by a known key."""


def is_valid_name(name):
    return isinstance(name, str) and name != "" and not _BAD_NAME_CHAR.search(name)


def _b64decode(text):
    """Strict standard base64 (padding required, nothing extra), as Go's
    base64.StdEncoding.DecodeString for single-line input."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError(f"bad base64: {text!r:.60}") from None


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def key_id(name, public_key):
    """4-byte id of an Ed25519 public key (32 raw bytes) under a name."""
    encoded = bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(name.encode("utf-8") + b"\n" + encoded).digest()[:4]


# --- keys -----------------------------------------------------------------


class Verifier(NamedTuple):
    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 raw bytes

    def verify(self, message, signature):
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
            return True
        except InvalidSignature:
            return False

    def text(self):
        """The verifier key text, as Go's note.NewEd25519VerifierKey."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([ALG_ED25519]) + self.public_key)}"


class Signer(NamedTuple):
    name: str
    key_id: bytes
    seed: bytes  # 32-byte Ed25519 private key seed

    def sign(self, message):
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def verifier(self):
        pub = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return Verifier(self.name, self.key_id, pub)


def _split_key(text, what):
    """name, key id, key bytes (after the algorithm byte) from name+hex+b64."""
    name, _, rest = text.partition("+")
    hex_id, _, b64 = rest.partition("+")
    if not is_valid_name(name) or not _KEYID_HEX.match(hex_id) or not b64:
        raise NoteError(f"malformed {what}")
    key = _b64decode(b64)
    if len(key) != 33:
        raise NoteError(f"malformed {what}: key must be 1 + 32 bytes")
    if key[0] != ALG_ED25519:
        raise NoteError(f"{what}: unknown algorithm {key[0]}")
    return name, bytes.fromhex(hex_id), key[1:]


def parse_verifier_key(text):
    """Parse '<name>+<keyid>+<base64(0x01||pub)>' (Go's note.NewVerifier)."""
    name, kid, pub = _split_key(text.strip(), "verifier key")
    if key_id(name, pub) != kid:
        raise NoteError("verifier key: key id does not match the key")
    try:
        Ed25519PublicKey.from_public_bytes(pub)
    except ValueError:
        raise NoteError("verifier key: not an Ed25519 public key") from None
    return Verifier(name, kid, pub)


def parse_signing_key(text):
    """Parse 'PRIVATE+KEY+<name>+<keyid>+<base64(0x01||seed)>' (Go's note.NewSigner)."""
    text = text.strip()
    if not text.startswith("PRIVATE+KEY+"):
        raise NoteError("malformed signing key")
    name, kid, seed = _split_key(text[len("PRIVATE+KEY+"):], "signing key")
    signer = Signer(name, kid, seed)
    # The id names the public key, so it can only be checked after deriving it.
    if key_id(name, signer.verifier().public_key) != kid:
        raise NoteError("signing key: key id does not match the key")
    return signer


def signer_from_seed(name, seed):
    """Signer for a 32-byte seed (e.g. loaded from a secret store)."""
    if not is_valid_name(name):
        raise NoteError(f"invalid key name {name!r}")
    pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return Signer(name, key_id(name, pub), seed)


def signing_key_text(signer):
    return f"PRIVATE+KEY+{signer.name}+{signer.key_id.hex()}+{_b64(bytes([ALG_ED25519]) + signer.seed)}"


def generate_key(name):
    """New random key pair, as Go's note.GenerateKey: (signing text, verifier text)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    signer = signer_from_seed(name, seed)
    return signing_key_text(signer), signer.verifier().text()


# --- notes ------------------------------------------------------------------


def _check_text(text):
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _NOTE_CONTROL.search(text):
        raise NoteError("note text must not contain control characters other than newline")


def sign_note(text, signing_key):
    """Sign text (which must end in a newline) with a Signer or signing key text."""
    signer = parse_signing_key(signing_key) if isinstance(signing_key, str) else signing_key
    _check_text(text)
    sig = signer.sign(text.encode("utf-8"))  # signs the text including its final \n
    return f"{text}\n{SIG_PREFIX}{signer.name} {_b64(signer.key_id + sig)}\n"


def _verifier_map(verifiers):
    if isinstance(verifiers, (str, Verifier)):
        verifiers = [verifiers]
    known = {}
    for item in verifiers:
        v = parse_verifier_key(item) if isinstance(item, str) else item
        if (v.name, v.key_id) in known:
            raise NoteError(f"ambiguous key {v.name}+{v.key_id.hex()}")
        known[(v.name, v.key_id)] = v
    return known


def _split_note(note):
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("malformed note: not UTF-8") from None
    if _NOTE_CONTROL.search(note):
        raise NoteError("malformed note: control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, sigs = note[:split + 1], note[split + 2:]
    if not sigs.endswith("\n"):
        raise NoteError("malformed note: signature block must end with a newline")
    return text, sigs[:-1].split("\n")


def _parse_sig_line(line):
    if not line.startswith(SIG_PREFIX):
        raise NoteError("malformed note: signature line must start with an em dash")
    name, _, b64 = line[len(SIG_PREFIX):].partition(" ")
    if not is_valid_name(name) or not b64:
        raise NoteError("malformed note: bad signature line")
    sig = _b64decode(b64)
    if len(sig) < 5:
        raise NoteError("malformed note: signature too short")
    return name, sig[:4], sig[4:]


def open_note(note, verifiers):
    """Verify a signed note and return its text (ending in a newline).

    verifiers: a verifier key text, a Verifier, or a list of them. As Go's
    note.Open: signatures by unknown keys are ignored, a bad signature by a
    known key is an error, and at least one known key must have signed.
    """
    known = _verifier_map(verifiers)
    text, lines = _split_note(note)
    message = text.encode("utf-8")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("malformed note: too many signatures")
    verified = set()
    for line in lines:
        name, kid, sig = _parse_sig_line(line)
        v = known.get((name, kid))
        if v is None or (name, kid) in verified:
            continue
        if not v.verify(message, sig):
            raise NoteError(f"invalid signature for key {name}+{kid.hex()}")
        verified.add((name, kid))
    if not verified:
        raise UnverifiedNoteError("note has no verifiable signatures")
    return text


# --- checkpoints (C2SP tlog-checkpoint) --------------------------------------


class Checkpoint(NamedTuple):
    origin: str
    size: int
    root: bytes


def checkpoint_body(origin, size, root):
    """'<origin>\\n<size>\\n<base64 root>\\n'."""
    if not origin or "\n" in origin or _NOTE_CONTROL.search(origin):
        raise NoteError(f"invalid origin {origin!r}")
    if type(size) is not int or not 0 <= size < 2**64:
        raise NoteError(f"invalid tree size {size!r}")
    if not isinstance(root, bytes) or len(root) != 32:
        raise NoteError("root must be 32 bytes")
    return f"{origin}\n{size}\n{_b64(root)}\n"


def parse_checkpoint(text):
    """Parse a checkpoint body into Checkpoint(origin, size, root).

    Strict: a non-empty origin, a decimal size without leading zeros below
    2**64, a canonical base64 root of 32 bytes. Extension lines after the
    root are allowed by C2SP; they must be non-empty and are ignored.
    """
    if not text.endswith("\n"):
        raise NoteError("malformed checkpoint: must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("malformed checkpoint: need origin, size and root lines")
    origin, size, root64, *extensions = lines
    if not origin:
        raise NoteError("malformed checkpoint: empty origin")
    if not _SIZE.match(size) or int(size) >= 2**64:
        raise NoteError(f"malformed checkpoint: bad tree size {size!r:.30}")
    root = _b64decode(root64)
    if len(root) != 32 or _b64(root) != root64:
        raise NoteError("malformed checkpoint: root must be base64 of 32 bytes")
    if any(not line for line in extensions):
        raise NoteError("malformed checkpoint: empty extension line")
    return Checkpoint(origin, int(size), root)


def sign_checkpoint(origin, size, root, signing_key):
    """Signed checkpoint note for a tree."""
    return sign_note(checkpoint_body(origin, size, root), signing_key)


def open_checkpoint(note, verifiers, origin=None):
    """Verify a checkpoint note and parse it; optionally require its origin."""
    cp = parse_checkpoint(open_note(note, verifiers))
    if origin is not None and cp.origin != origin:
        raise NoteError(f"checkpoint origin is {cp.origin!r}, expected {origin!r}")
    return cp
