"""The payment provider's fee, and what a donor adds to cover it (DONATION_FEE_RATE_BP, DONATION_FEE_FIXED).

One card fee formula for every provider and method the app offers: Stripe cards (whose actual fee
Stripe reports per charge) and the sandbox, which charges exactly this formula. "Cover the fee"
grosses the gift up with it: the donor is charged the smallest whole-rupiah total whose net, after
the fee on that total, is at least the gift. (The fee is charged on what is paid, fee included,
so adding the fee on the gift alone would leave the campaign short.) Where Stripe's actual fee
still differs from the estimate, the campaign's finances show the difference (donations/panels.py).
"""
from __future__ import annotations

from flask import current_app

from amanah.money import display_digits, exponent


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


def fee_to_cover(amount: int, currency: str) -> int:
    """What to add to the gift `amount` so that, after the provider's fee, the campaign nets it."""
    return gross_up(amount, currency) - amount
