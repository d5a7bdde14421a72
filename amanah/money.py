"""Money: integer minor units plus an ISO 4217 currency, never floats.

Two exponents matter and they differ for some currencies:
- the ISO 4217 exponent, which is also what Stripe's API counts in (IDR: 2, so Rp 50.000 is
  5_000_000 minor units), used for storage, the ledger and every API;
- the display precision from CLDR (IDR: 0), used only to format and parse what people see.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberFormatError, format_currency, get_currency_symbol, parse_decimal
from flask_babel import lazy_gettext as _l

# ISO 4217 exponents of the currencies the platform accepts (Stripe agrees on all of these).
ISO_EXPONENT: dict[str, int] = {
    "IDR": 2,
    "USD": 2,
    "EUR": 2,
    "SGD": 2,
    "MYR": 2,
    "AUD": 2,
    "JPY": 0,
}
# What people see: CLDR's precision where it differs from ISO (no sen on Indonesian price tags).
DISPLAY_DIGITS: dict[str, int] = {"IDR": 0, "JPY": 0}

# Far above any real campaign goal or gift, far below 2**63: absurd values are input errors.
MAX_MINOR = 10**15


class MoneyError(ValueError):
    """Input that is not an acceptable amount; the message is meant for the user."""


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self):
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money.minor must be an int")
        check_currency(self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    @property
    def decimal(self) -> Decimal:
        return to_decimal(self.minor, self.currency)


def check_currency(currency: str) -> str:
    if currency not in ISO_EXPONENT:
        raise MoneyError(_l("Unsupported currency %(code)s.", code=currency))
    return currency


def exponent(currency: str) -> int:
    return ISO_EXPONENT[check_currency(currency)]


def display_digits(currency: str) -> int:
    return DISPLAY_DIGITS.get(currency, exponent(currency))


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def to_minor(value: Decimal, currency: str) -> int:
    """A decimal amount in major units to minor units; refuses anything that would round."""
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(_l("Too many decimal places."))
    return int(scaled)


def format_money(minor: int, currency: str, locale: str | Locale = "id") -> str:
    """'Rp 1.500.000' in id, 'IDR 1,500,000' in en, '$12.50' style for others."""
    return _format_money(minor, currency, locale)


@lru_cache(maxsize=65536)  # Babel's formatting is slow, and pages show the same amounts again and again
def _format_money(minor: int, currency: str, locale: str | Locale) -> str:
    digits = display_digits(currency)
    value = to_decimal(minor, currency)
    pattern = "¤ #,##0" + ("." + "0" * digits if digits else "")
    return format_currency(value, currency, format=pattern, locale=locale,
                           currency_digits=False, decimal_quantization=False)


_CURRENCY_NOISE = re.compile(r"[\s\u00a0\u202f]+")


def parse_money(text: str, currency: str, locale: str | Locale = "id") -> int:
    """Parse what a person typed ('1.500.000', 'Rp 1.500.000', '1,500,000' in en) to minor units.

    Grouping separators must follow the locale, so '1.500.000' in English is an error rather than
    silently becoming 1.5; decimals are limited to what the currency displays.
    """
    check_currency(currency)
    raw = (text or "").strip()
    if not raw:
        raise MoneyError(_l("Enter an amount."))
    for token in {currency, get_currency_symbol(currency, locale), get_currency_symbol(currency, "id"),
                  get_currency_symbol(currency, "en")}:
        raw = raw.replace(token, "")
    raw = _CURRENCY_NOISE.sub("", raw)
    if raw.startswith("-"):
        raise MoneyError(_l("The amount must be positive."))
    if not raw or not re.fullmatch(r"[0-9.,']+", raw):
        raise MoneyError(_l("Enter the amount in digits, e.g. 1.500.000."))
    try:
        value = parse_decimal(raw, locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation):
        raise MoneyError(_l("This is not a valid amount for your language's number format.")) from None
    if value.as_tuple().exponent < -display_digits(currency):
        raise MoneyError(_l("Too many decimal places."))
    minor = to_minor(value, currency)
    if minor <= 0:
        raise MoneyError(_l("The amount must be more than zero."))
    if minor > MAX_MINOR:
        raise MoneyError(_l("The amount is too large."))
    return minor
