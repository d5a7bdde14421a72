"""How a donor may pay: card (Stripe), QRIS, a bank's virtual account or an e-wallet (Xendit).

Each method names its kind (what the payment page shows: a QR code, an account number, a
redirect to the wallet, a card form), the channel code Xendit knows it by, and whether money
paid with it can be sent back through the provider (a virtual account cannot: its refund is a
disbursement a treasurer records). Labels are plain text: no logos, nothing from outside.
"""
from __future__ import annotations

import dataclasses

from flask_babel import lazy_gettext as _l

CARD, QRIS, VIRTUAL_ACCOUNT, EWALLET = "card", "qris", "virtual_account", "ewallet"


@dataclasses.dataclass(frozen=True)
class Method:
    code: str  # stored on the donation (Donation.payment_method)
    kind: str  # CARD, QRIS, VIRTUAL_ACCOUNT or EWALLET
    channel: str | None  # Xendit's channel code; None for card (Stripe)
    label: object  # lazy string
    refundable: bool  # through the provider; otherwise a treasurer's disbursement back to the donor

    @property
    def local(self) -> bool:
        """Paid through Xendit (or, without its keys, the sandbox standing in for it)."""
        return self.kind != CARD


METHODS: tuple[Method, ...] = (
    Method("qris", QRIS, "QRIS", _l("QRIS (scan with any banking or e-wallet app)"), True),
    Method("va_bca", VIRTUAL_ACCOUNT, "BCA", _l("Bank transfer: BCA virtual account"), False),
    Method("va_bni", VIRTUAL_ACCOUNT, "BNI", _l("Bank transfer: BNI virtual account"), False),
    Method("va_bri", VIRTUAL_ACCOUNT, "BRI", _l("Bank transfer: BRI virtual account"), False),
    Method("va_mandiri", VIRTUAL_ACCOUNT, "MANDIRI", _l("Bank transfer: Mandiri virtual account"), False),
    Method("va_permata", VIRTUAL_ACCOUNT, "PERMATA", _l("Bank transfer: Permata virtual account"), False),
    Method("ovo", EWALLET, "OVO", _l("OVO"), True),
    Method("dana", EWALLET, "DANA", _l("DANA"), True),
    Method("shopeepay", EWALLET, "SHOPEEPAY", _l("ShopeePay"), True),
    Method("linkaja", EWALLET, "LINKAJA", _l("LinkAja"), True),
    Method("card", CARD, None, _l("Credit or debit card"), True),
)
BY_CODE = {method.code: method for method in METHODS}
# Local methods are offered in rupiah only: Xendit's QRIS, virtual accounts and wallets are IDR.
LOCAL_CURRENCIES = frozenset({"IDR"})


def method_named(code: str | None) -> Method:
    """The method of a donation (None: made before there was a choice, by card)."""
    return BY_CODE[code or CARD]


def offered(currency: str) -> list[Method]:
    """The methods a donor may choose for a gift in `currency`: the local ones only in rupiah."""
    return [m for m in METHODS if not m.local or currency in LOCAL_CURRENCIES]
