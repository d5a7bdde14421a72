"""What a donor adds to cover the payment processor's fee (DONATION_FEE_RATE_BP, DONATION_FEE_FIXED).

The sandbox charges the same estimate as its fee, so a demo donation that covers the fee leaves
the campaign exactly the amount given.
"""
from __future__ import annotations

from flask import current_app

from amanah.money import display_digits, exponent


def processor_fee_estimate(amount: int, currency: str) -> int:
    """What to add to `amount` so that after the processor's fee the campaign receives `amount`."""
    rate = current_app.config["DONATION_FEE_RATE_BP"]
    fixed = current_app.config["DONATION_FEE_FIXED"].get(currency, 0)
    total = -(-(amount + fixed) * 10_000 // (10_000 - rate))  # ceiling division, integers only
    step = 10 ** (exponent(currency) - display_digits(currency))  # whole rupiah, never sen
    total = -(-total // step) * step
    return total - amount
