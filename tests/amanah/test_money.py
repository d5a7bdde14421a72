from decimal import Decimal

import pytest

from amanah.money import Money, MoneyError, format_money, parse_money, to_decimal, to_minor


@pytest.mark.parametrize(("minor", "currency", "locale", "expected"), [
    (150_000_000, "IDR", "id", "Rp 1.500.000"),
    (5_000_000, "IDR", "id", "Rp 50.000"),
    (150_000_000, "IDR", "en", "IDR 1,500,000"),
    (1250, "USD", "en", "$ 12.50"),
    (1250, "USD", "id", "US$ 12,50"),
    (500, "JPY", "en", "¥ 500"),
    (-5_000_000, "IDR", "id", "-Rp 50.000"),
])
def test_format_money_per_locale(minor, currency, locale, expected):
    assert format_money(minor, currency, locale) == expected


@pytest.mark.parametrize(("text", "currency", "locale", "expected"), [
    ("1.500.000", "IDR", "id", 150_000_000),
    ("Rp 1.500.000", "IDR", "id", 150_000_000),
    ("Rp1.500.000", "IDR", "id", 150_000_000),
    ("50000", "IDR", "id", 5_000_000),
    ("1,500,000", "IDR", "en", 150_000_000),
    ("IDR 1,500,000", "IDR", "en", 150_000_000),
    ("12.50", "USD", "en", 1250),
    ("12,50", "USD", "id", 1250),
    ("500", "JPY", "en", 500),
])
def test_parse_money_localized(text, currency, locale, expected):
    assert parse_money(text, currency, locale) == expected


@pytest.mark.parametrize(("text", "currency", "locale"), [
    ("", "IDR", "id"),
    ("abc", "IDR", "id"),
    ("-5000", "IDR", "id"),
    ("0", "IDR", "id"),
    ("1.500.000", "IDR", "en"),      # English grouping is a comma: refuse, do not guess 1.5
    ("1.500,50", "IDR", "id"),       # rupiah are shown and entered without sen
    ("12.345", "USD", "en"),
    ("1e9", "IDR", "id"),
    ("99999999999999999999", "IDR", "id"),
    ("1.500.000", "XXX", "id"),
])
def test_parse_money_rejects(text, currency, locale):
    with pytest.raises(MoneyError) as excinfo:
        parse_money(text, currency, locale)
    assert str(excinfo.value)


def test_decimal_conversions_are_exact():
    assert to_decimal(5_000_000, "IDR") == Decimal("50000")
    assert to_minor(Decimal("50000"), "IDR") == 5_000_000
    assert to_minor(Decimal("0.01"), "USD") == 1
    with pytest.raises(MoneyError):
        to_minor(Decimal("0.001"), "USD")


def test_money_value_object():
    total = Money(100, "IDR") + Money(250, "IDR")
    assert total == Money(350, "IDR")
    assert -total == Money(-350, "IDR")
    with pytest.raises(ValueError, match="cannot add"):
        Money(1, "IDR") + Money(1, "USD")
    with pytest.raises(TypeError):
        Money(1.5, "IDR")
    with pytest.raises(TypeError):
        Money(True, "IDR")
