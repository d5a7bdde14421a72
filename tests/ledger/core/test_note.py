"""Signed notes and checkpoints: Go's vectors byte for byte, strict parsing."""

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import note as note_mod
from ledger.note import (
    Checkpoint,
    NoteError,
    UnverifiedNoteError,
    checkpoint_body,
    generate_key,
    is_valid_name,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_signing_key,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
)

from .test_tree import VECTORS

SKEY, VKEY, NOTE7 = VECTORS["note_signing_key"], VECTORS["note_verifier_key"], VECTORS["checkpoint_of_size_7"]
ORIGIN = "example.amanah.test/ledger"
ROOT7 = bytes.fromhex(VECTORS["roots_by_size"]["7"])

# The example in the package documentation of golang.org/x/mod/sumdb/note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_SIG = ("\u2014 PeterNeumann "
          "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
GO_SIG2 = ("\u2014 EnochRoot "
           "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n")


def test_checkpoint_vector_reproduced_byte_for_byte():
    assert sign_checkpoint(ORIGIN, 7, ROOT7, SKEY) == NOTE7
    assert sign_note(checkpoint_body(ORIGIN, 7, ROOT7), parse_signing_key(SKEY)) == NOTE7


def test_checkpoint_vector_verifies():
    assert open_checkpoint(NOTE7, VKEY) == Checkpoint(ORIGIN, 7, ROOT7)
    assert open_checkpoint(NOTE7.encode(), [VKEY], origin=ORIGIN).size == 7
    assert open_note(NOTE7, parse_verifier_key(VKEY)) == checkpoint_body(ORIGIN, 7, ROOT7)


def test_vector_keys():
    signer = parse_signing_key(SKEY)
    assert signer.verifier().text() == VKEY
    v = parse_verifier_key(VKEY)
    assert v.name == ORIGIN and v.key_id.hex() == "d380ab8e"
    assert key_id(ORIGIN, v.public_key) == v.key_id
    assert f"{ORIGIN}+d380ab8e+" + base64.b64encode(b"\x01" + v.public_key).decode() == VKEY


def test_go_documentation_example():
    assert sign_note(GO_TEXT, GO_SKEY) == GO_TEXT + "\n" + GO_SIG
    assert parse_signing_key(GO_SKEY).verifier().text() == GO_VKEY
    assert open_note(GO_TEXT + "\n" + GO_SIG, GO_VKEY) == GO_TEXT
    # Doubly signed: the unknown EnochRoot signature is ignored, as by Go.
    assert open_note(GO_TEXT + "\n" + GO_SIG + GO_SIG2, GO_VKEY) == GO_TEXT
    with pytest.raises(UnverifiedNoteError):
        open_note(GO_TEXT + "\n" + GO_SIG2, GO_VKEY)


def test_generate_key_roundtrip():
    skey, vkey = generate_key("amanah.example/ledger")
    assert skey.startswith("PRIVATE+KEY+amanah.example/ledger+")
    assert parse_signing_key(skey).verifier().text() == vkey
    text = "hello\nworld\n"
    note = sign_note(text, skey)
    assert note.startswith(text + "\n\u2014 amanah.example/ledger ")
    assert open_note(note, vkey) == text
    assert generate_key("amanah.example/ledger") != (skey, vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\u3000b",
                                  "a\nb", "a\x01b"])
def test_invalid_names(name):
    assert not is_valid_name(name)
    with pytest.raises(NoteError):
        generate_key(name)


def test_valid_names():
    for name in ["a", "example.com/log", "PeterNeumann", "\u00e9t\u00e9.example/\u0644"]:
        assert is_valid_name(name)


# --- rejecting notes ---


def test_wrong_key_is_unverified():
    _, other = generate_key(ORIGIN)  # same name, different key
    with pytest.raises(UnverifiedNoteError):
        open_note(NOTE7, other)
    assert open_note(NOTE7, [other, VKEY]).startswith(ORIGIN)


def test_tampered_text_is_invalid():
    bad = NOTE7.replace("\n7\n", "\n8\n")
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(bad, VKEY)


def _flip_sig_byte(note, i):
    text, sig_line = note.rsplit("\n\n", 1)
    prefix, b64 = sig_line[:-1].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[i] ^= 1
    return f"{text}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


def test_tampered_signature():
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(_flip_sig_byte(NOTE7, 10), VKEY)
    with pytest.raises(UnverifiedNoteError):  # key id changed: no longer our key
        open_note(_flip_sig_byte(NOTE7, 0), VKEY)


SIG_LINE = NOTE7.split("\n\n")[1]


@pytest.mark.parametrize("bad", [
    NOTE7[:-1],  # no final newline
    NOTE7.replace("\n\n", "\n"),  # no blank line
    NOTE7.replace("\u2014", "-"),  # not an em dash
    NOTE7.replace("\u2014 ", "\u2014"),
    NOTE7.replace(" 04Crjk", " 04Crj!"),  # bad base64
    NOTE7.replace("=\n", "\n"),  # bad padding
    NOTE7.replace(ORIGIN + " ", "bad+name "),
    NOTE7.replace(ORIGIN + " ", ORIGIN + "  "),  # empty name field shifts: b64 has a space
    NOTE7.replace("\n7\n", "\n7\r\n"),  # control character
    NOTE7.replace("\n7\n", "\n7\t\n"),
    NOTE7 + "\n",
    checkpoint_body(ORIGIN, 7, ROOT7) + "\n\u2014 " + ORIGIN + " AAAAAA==\n",  # too short
    checkpoint_body(ORIGIN, 7, ROOT7) + "\n" + SIG_LINE * 101,
    "",
])
def test_malformed_notes(bad):
    with pytest.raises(NoteError):
        open_note(bad, VKEY)


def test_invalid_utf8_note():
    with pytest.raises(NoteError):
        open_note(NOTE7.encode().replace(b"7", b"\xff", 1), VKEY)


def test_duplicate_signature_lines_are_fine():
    assert open_note(NOTE7 + SIG_LINE, VKEY) == checkpoint_body(ORIGIN, 7, ROOT7)


def test_sign_requires_newline_and_no_controls():
    for text in ["no newline", "tab\there\n"]:
        with pytest.raises(NoteError):
            sign_note(text, SKEY)


# --- keys ---


@pytest.mark.parametrize("bad", [
    "", VKEY.replace("d380ab8e", "d380ab8f"), VKEY.replace("+ARl", "+AhR"),
    VKEY.replace("+d380ab8e", "+d380ab8"),
    VKEY.replace("+d380ab8e", "+0xd380ab"), VKEY + "AA", VKEY.replace(ORIGIN, "a b"), ORIGIN,
    VKEY.replace("+ARl/", "+Arl/"), "PRIVATE+KEY+" + VKEY,
])
def test_bad_verifier_keys(bad):
    with pytest.raises(NoteError):
        parse_verifier_key(bad)


def test_verifier_key_id_case_and_whitespace():
    assert parse_verifier_key(VKEY.replace("d380ab8e", "D380AB8E")).key_id.hex() == "d380ab8e"
    assert parse_verifier_key(VKEY + "\n") == parse_verifier_key(VKEY)


@pytest.mark.parametrize("bad", [
    SKEY.replace("PRIVATE+KEY", "PRIVATE+KEYS"), SKEY.replace("d380ab8e", "00000000"),
    SKEY[len("PRIVATE+KEY+"):],
    SKEY.replace("+ASoq", "+AioqK"), SKEY[:-4],
])
def test_bad_signing_keys(bad):
    with pytest.raises(NoteError):
        parse_signing_key(bad)


# --- checkpoints ---


B64 = base64.b64encode(ROOT7).decode()


def test_checkpoint_body_format():
    assert checkpoint_body(ORIGIN, 7, ROOT7) == f"{ORIGIN}\n7\n{B64}\n"
    assert parse_checkpoint(f"{ORIGIN}\n7\n{B64}\n") == (ORIGIN, 7, ROOT7)
    assert parse_checkpoint(f"{ORIGIN}\n0\n{B64}\nextension line\n").size == 0
    assert parse_checkpoint(f"o\n{2**64 - 1}\n{B64}\n").size == 2**64 - 1
    for origin, size, root in [("", 1, ROOT7), ("a\nb", 1, ROOT7), (ORIGIN, -1, ROOT7),
                               (ORIGIN, True, ROOT7), (ORIGIN, 1, ROOT7[:31]), (ORIGIN, 2**64, ROOT7)]:
        with pytest.raises(NoteError):
            checkpoint_body(origin, size, root)


@pytest.mark.parametrize("bad", [
    f"{ORIGIN}\n7\n{B64}", f"{ORIGIN}\n07\n{B64}\n", f"{ORIGIN}\n+7\n{B64}\n", f"{ORIGIN}\n-7\n{B64}\n",
    f"{ORIGIN}\n 7\n{B64}\n", f"{ORIGIN}\n7.0\n{B64}\n", f"{ORIGIN}\n{2**64}\n{B64}\n",
    f"{ORIGIN}\n\n{B64}\n",
    f"{ORIGIN}\n\u0667\n{B64}\n", f"\n7\n{B64}\n", f"{ORIGIN}\n7\n", f"{ORIGIN}\n7\n{B64[:-1]}\n",
    f"{ORIGIN}\n7\n{base64.b64encode(ROOT7 + b'x').decode()}\n", f"{ORIGIN}\n7\n{B64}\n\n",
    f"{ORIGIN}\n7\n{B64[:-2]}Z=\n",  # non-canonical trailing bits
])
def test_bad_checkpoints(bad):
    with pytest.raises(NoteError):
        parse_checkpoint(bad)


def test_checkpoint_origin_check():
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(NOTE7, VKEY, origin="other.example/log")


@settings(max_examples=100, deadline=None, database=None)
@given(size=st.integers(0, 2**64 - 1), root=st.binary(min_size=32, max_size=32),
       origin=st.from_regex(r"[a-z0-9.]{1,20}/[a-z]{1,10}", fullmatch=True))
def test_random_checkpoints_roundtrip(size, root, origin):
    note = sign_checkpoint(origin, size, root, SKEY)
    assert open_checkpoint(note, VKEY) == (origin, size, root)
    with pytest.raises(NoteError):
        open_checkpoint(note.replace(f"\n{size}\n", f"\n{size + 1}\n"), VKEY)


def test_module_has_no_web_imports():
    src = Path(note_mod.__file__).read_text().lower()
    assert "flask" not in src and "sqlalchemy" not in src
