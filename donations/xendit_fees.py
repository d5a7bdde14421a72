"""Xendit's fee per method, as a configured table: what is booked as an estimate until the actual
fee is known (Xendit's transaction for the payment carries it; reconciliation then replaces the
estimate by a correcting entry).

Rates from Xendit's published Indonesian price list (before the 11% VAT that Xendit adds on its
fee). A deployment with negotiated rates changes this table, never the ledger: an estimate that
turns out wrong is corrected by an entry, not edited.
"""
from __future__ import annotations

import dataclasses

from donations.methods import Method

VAT_BP = 1_100  # PPN on Xendit's fee, basis points
RUPIAH = 100  # minor units (sen) in one rupiah: Xendit charges whole rupiah


@dataclasses.dataclass(frozen=True)
class FeeRate:
    rate_bp: int  # of the amount paid, basis points
    fixed: int  # whole rupiah per payment


FEES: dict[str, FeeRate] = {
    "qris": FeeRate(70, 0),
    "va_bca": FeeRate(0, 4_000),
    "va_bni": FeeRate(0, 4_000),
    "va_bri": FeeRate(0, 4_000),
    "va_mandiri": FeeRate(0, 4_000),
    "va_permata": FeeRate(0, 4_000),
    "ovo": FeeRate(273, 0),
    "dana": FeeRate(150, 0),
    "shopeepay": FeeRate(200, 0),
    "linkaja": FeeRate(270, 0),
}


def fee_estimate(method: Method, amount: int) -> int:
    """Xendit's expected fee (with VAT) on a payment of `amount` minor units of IDR, in minor
    units, rounded up to a whole rupiah as Xendit rounds."""
    rate = FEES[method.code]
    rupiah = -(-amount // RUPIAH)
    before_vat = -(-rupiah * rate.rate_bp // 10_000) + rate.fixed
    with_vat = -(-before_vat * (10_000 + VAT_BP) // 10_000)
    return with_vat * RUPIAH


def gross_up(method: Method, amount: int) -> int:
    """What to add to a gift of `amount` (minor units of IDR, whole rupiah) paid by `method` so that
    after Xendit's fee (as estimated here) the campaign receives `amount` exactly or a rupiah more:
    the smallest whole-rupiah total whose estimated fee leaves at least `amount`."""
    rate = FEES[method.code]
    scale = 10_000 * 10_000
    keep = scale - rate.rate_bp * (10_000 + VAT_BP)  # of each rupiah paid, in hundredths of a basis point
    rupiah = -(-(amount // RUPIAH + fee_estimate(method, 0) // RUPIAH) * scale // keep)
    total = max((rupiah - 2) * RUPIAH, amount)
    while total - fee_estimate(method, total) < amount:  # a rupiah or two of rounding, at most
        total += RUPIAH
    return total - amount
