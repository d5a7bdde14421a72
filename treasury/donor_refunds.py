"""Money sent back to a donor by the treasurer's own bank transfer, where the payment provider
cannot refund (a payment to a bank's virtual account): the transfer's proof is kept as evidence,
by its hash, as a disbursement's is, and giving books the refund with it and issues the credit
note. The proof names the donor's bank account, so it is stored but never published: the ledger
carries only its hash."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from amanah import evidence as evidence_store
from donations import giving
from donations.models import Donation, Refund


def record_transfer_back(donation: Donation, actor, amount: int, reason: str, upload: bytes | None) -> Refund:
    """Book the transfer, or raise giving.RefundRefused naming the field at fault. The caller commits."""
    if not upload:
        raise giving.RefundRefused(_l("Attach the proof of the transfer (PDF, JPEG or PNG)."),
                                   field="evidence")
    try:
        document = evidence_store.inspect(upload)
    except evidence_store.EvidenceError as exc:
        raise giving.RefundRefused(exc.args[0], field="evidence") from exc
    return giving.refund_by_transfer(donation, actor, amount, reason, document.sha256,
                                     before_append=lambda: evidence_store.store(document))

