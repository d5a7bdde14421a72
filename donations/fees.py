"""The payment provider's fee, and what a donor adds to cover it.

Each method has its provider's formula: cards (Stripe) DONATION_FEE_RATE_BP plus DONATION_FEE_FIXED;
QRIS, virtual accounts and e-wallets (Xendit) the price list in donations.xendit_fees. The sandbox,
standing in for either, charges exactly the formula of the method chosen. "Cover the fee" grosses
the gift up with the chosen method's formula: the donor is charged the smallest whole-rupiah total
whose net, after the fee on that total, is at least the gift. (The fee is charged on what is paid,
fee included, so adding the fee on the gift alone would leave the campaign short.) Where the
provider's actual fee still differs from the estimate, the campaign's finances show the difference
(donations/panels.py).
"""
from __future__ import annotations

from flask import current_app

from amanah.money import display_digits, exponent
from donations import methods, xendit_fees


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def processor_fee_estimate(charge: int, currency: str) -> int:
    """The provider's fee on a charge of `charge` minor units: the rate (rounded up) plus the fixed part.

    The sandbox charges exactly this; for Stripe it is the estimate the gross-up relies on.
    """
    rate = current_app.config["DONATION_FEE_RATE_BP"]
    fixed = current_app.config["DONATION_FEE_FIXED"].get(currency, 0)
    return _ceil_div(charge * rate, 10_000) + fixed


def net_of_fee(charge: int, currency: str) -> int:
    """What the campaign keeps of a charge once the provider's fee is taken."""
    return charge - processor_fee_estimate(charge, currency)


def gross_up(amount: int, currency: str) -> int:
    """The smallest total, in whole display units (whole rupiah, never sen), that nets at least `amount`.

    The net grows by at most one per minor unit added (the rate is below 100%), so it is monotone:
    start from the closed-form estimate and step to the smallest total that still nets the gift.
    """
    rate = current_app.config["DONATION_FEE_RATE_BP"]
    if rate >= 10_000:
        raise ValueError("a fee rate of 100% or more leaves nothing to cover")
    fixed = current_app.config["DONATION_FEE_FIXED"].get(currency, 0)
    step = 10 ** (exponent(currency) - display_digits(currency))
    total = _ceil_div(_ceil_div((amount + fixed) * 10_000, 10_000 - rate), step) * step
    while net_of_fee(total, currency) < amount:
        total += step
    while total - step >= amount and net_of_fee(total - step, currency) >= amount:
        total -= step
    return total


def _local(method: str | None, currency: str):
    """The Xendit method `method` names, for a rupiah gift; None for a card (or another currency)."""
    if currency != "IDR" or not method or method not in xendit_fees.FEES:
        return None
    return methods.method_named(method)


def fee_for(charge: int, currency: str, method: str | None = None) -> int:
    """The fee the provider of `method` takes on a charge (the sandbox charges this too)."""
    local = _local(method, currency)
    return xendit_fees.fee_estimate(local, charge) if local else processor_fee_estimate(charge, currency)


def fee_to_cover(amount: int, currency: str, method: str | None = None) -> int:
    """What to add to the gift `amount`, paid by `method`, so that the campaign nets it after the
    provider's fee on the whole payment."""
    local = _local(method, currency)
    if local is not None:
        return xendit_fees.gross_up(local, amount)
    return gross_up(amount, currency) - amount
