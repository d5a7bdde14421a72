"""A receipt's QR code scans from paper: zbar decodes it from a 150 dpi greyscale render of the
printed page, for the longest proof a ledger of 1,000,000 entries gives; the full proof stays
attached to the PDF and verifies offline."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
import rfc8785

from amanah.extensions import db
from documents import receipts
from ledger import checkpoints, note, tree
from ledger.verify import verify_tlog_proof
from tests.factories.documents import make_campaign, paid_donation, pdf_attachments, signature_holds

SIZE = 1_000_000
DPI = 150


def _zbar():
    try:
        from pyzbar import pyzbar
    except ImportError as exc:  # pyzbar installed, Debian's libzbar0 not (or neither)
        pytest.skip(f"zbar is not available ({exc}); install Debian's libzbar0 (.ci/run does)")
    return pyzbar


def _longest_index() -> int:
    """The entry whose proof is longest in a tree of SIZE leaves (the latest among those)."""
    candidates = (0, SIZE // 2, 2**19 - 1, 2**19, SIZE - 2, SIZE - 1)
    return max(candidates, key=lambda i: (len(tree.record_proof_indexes(SIZE, i)), i))


def _root_from_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root a proof leads to (RFC 9162 2.1.3.2, as tree.verify_inclusion walks it): the made-up
    stored hashes are not a real tree, so the root is the one the proof implies."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = tree.node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = tree.node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r


def _synthetic_proof(app, entry: bytes) -> tuple[int, dict]:
    """A proof that `entry` is entry N of a ledger of 1,000,000 entries, made with the ledger's
    own tree code over made-up stored hashes (the entry's leaf hash at N), under a checkpoint of
    the root it implies signed with the ledger key: as long as a real one, and as valid."""
    index = _longest_index()
    leaf = tree.leaf_hash(entry)
    own = tree.stored_hash_index(0, index)

    def read_hashes(indexes):
        return [leaf if i == own else hashlib.sha256(b"stored %d" % i).digest() for i in indexes]

    proof = tree.prove_record(SIZE, index, read_hashes)
    root = _root_from_proof(index, SIZE, leaf, proof)
    tree.check_record(proof, SIZE, root, index, leaf)
    with app.app_context():
        signed = note.sign_checkpoint(app.config["LEDGER_ORIGIN"], SIZE, root, checkpoints.signing_key_text())
    lines = ["c2sp.org/tlog-proof@v1", "extra " + base64.b64encode(leaf).decode(), f"index {index}",
             *(base64.b64encode(h).decode() for h in proof)]
    text = "\n".join(lines) + "\n\n" + signed
    return index, {"text": text, "leaf": entry.decode(), "size": SIZE, "root": root.hex(),
                   "origin": signed.split("\n", 1)[0], "checkpoint": signed, "hashes": len(proof),
                   "leaf_hash": leaf}


def _page_pixels(data: bytes, dpi: int):
    import pypdfium2 as pdfium
    document = pdfium.PdfDocument(data)
    try:
        return document[0].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        document.close()


def test_the_qr_code_of_a_million_entry_ledgers_longest_proof_scans_at_150_dpi(app):
    pyzbar = _zbar()
    with app.app_context():
        donation_id = paid_donation(app, make_campaign())
        document = receipts.receipt_of(donation_id)
        with app.test_request_context():
            job = receipts.render_job(document)
            index = _longest_index()
            # The receipt's own entry, numbered as entry `index` of the million (canonical JSON).
            fields = json.loads(job["view"]["proof"]["leaf"])
            entry = rfc8785.dumps({**fields, "seq": index})
            index, proof = _synthetic_proof(app, entry)
            link = receipts.proof_link(index, proof.pop("leaf_hash"))
            hashes = proof.pop("hashes")
            view = {**job["view"], "proof": {**proof, "url": link},
                    "ledger": {"seq": index, "leaf_hash": tree.leaf_hash(entry).hex()}}
            job = {**job, "view": view, "attachments": [
                (f"ledger-entry-{index}.json", entry, "entry"),
                (f"ledger-entry-{index}.tlog-proof", proof["text"].encode(), "proof")]}
            data = receipts.render_from_job(job)
            key = checkpoints.verifier_key_text()
            from documents import signing
            certificate = signing.signing_key().certificate_der
        db.session.remove()
    assert hashes == 20 and index >= SIZE // 2  # the longest proof, at a seven-digit entry number
    assert signature_holds(data, certificate)
    # The offline proof is the full one, attached, and verifies with the entry itself.
    files = pdf_attachments(data)
    checkpoint, leaf_hash = verify_tlog_proof(files[f"ledger-entry-{index}.tlog-proof"].decode(), key,
                                              leaf=files[f"ledger-entry-{index}.json"])
    assert checkpoint.size == SIZE and leaf_hash == tree.leaf_hash(entry)
    # The printed page, at 150 dpi in greys, as a home printer or a phone's camera sees it.
    pixels = _page_pixels(data, DPI)
    assert abs(pixels.width - 210 / 25.4 * DPI) < 2  # A4 at 150 dpi
    found = [symbol.data.decode() for symbol in pyzbar.decode(pixels) if symbol.type == "QRCODE"]
    assert found == [link]
    assert link.endswith(f"#{index}-" + base64.urlsafe_b64encode(leaf_hash).decode().rstrip("="))
