"""Xendit's price list as estimates: the fee per method, and the gross-up that lets a donor cover it."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donations import methods
from donations.xendit_fees import FEES, fee_estimate, gross_up

LOCAL = [m for m in methods.METHODS if m.local]


def test_every_local_method_has_a_fee_and_card_has_none_here():
    assert {m.code for m in LOCAL} == set(FEES)


@pytest.mark.parametrize(("code", "amount", "fee"), [
    ("qris", 5_000_000, 38_900),  # 0.7% of Rp 50.000 = Rp 350, + 11% VAT = Rp 389
    ("va_bca", 5_000_000, 444_000),  # Rp 4.000 + 11% VAT
    ("ovo", 10_000_000, 303_100),  # 2.73% of Rp 100.000 = Rp 2.730, + VAT = Rp 3.031
    ("dana", 100, 200),  # the smallest payment still pays a whole rupiah, rounded up
])
def test_fee_estimates_are_whole_rupiah_rounded_up(code, amount, fee):
    assert fee_estimate(methods.BY_CODE[code], amount) == fee


@given(st.sampled_from(LOCAL), st.integers(min_value=10_000, max_value=10_000_000_000).map(lambda r: r * 100))
def test_gross_up_nets_the_gift_after_the_estimated_fee(method, amount):
    extra = gross_up(method, amount)
    assert extra % 100 == 0 and extra >= 0
    total = amount + extra
    assert 0 <= total - fee_estimate(method, total) - amount < 100 * 2  # the gift, or a rupiah over
    if extra:  # and a rupiah less would not do
        assert total - 100 - fee_estimate(method, total - 100) < amount
