"""Amounts in words for receipts: Indonesian "terbilang" and English.

Written here rather than taken from a library because the rules are short and a receipt must get
them exactly right: Indonesian says "seratus", "seribu" and "sebelas" (never "satu ratus"), but
"satu juta"; English uses the short scale. Integers only, as everywhere with money.
"""
from __future__ import annotations

from amanah.money import display_digits, exponent

_ID_UNITS = ("nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
             "sepuluh", "sebelas")
_ID_SCALES = ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta"))

_EN_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
             "nineteen")
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))

# (major unit, minor unit) per language; the minor unit is only said when there is a fraction.
CURRENCY_WORDS = {
    "id": {"IDR": ("rupiah", "sen"), "USD": ("dolar Amerika Serikat", "sen"), "EUR": ("euro", "sen"),
           "SGD": ("dolar Singapura", "sen"), "MYR": ("ringgit Malaysia", "sen"),
           "AUD": ("dolar Australia", "sen"), "JPY": ("yen", "sen")},
    "en": {"IDR": ("rupiah", "sen"), "USD": ("US dollars", "cents"), "EUR": ("euros", "cents"),
           "SGD": ("Singapore dollars", "cents"), "MYR": ("Malaysian ringgit", "sen"),
           "AUD": ("Australian dollars", "cents"), "JPY": ("yen", "sen")},
}
MAX_WORDS = 10**15 - 1


def _id_below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds == 1:
        words.append("seratus")
    elif hundreds:
        words += [_ID_UNITS[hundreds], "ratus"]
    if rest < 12:
        if rest:
            words.append(_ID_UNITS[rest])
    elif rest < 20:
        words += [_ID_UNITS[rest - 10], "belas"]
    else:
        tens, units = divmod(rest, 10)
        words += [_ID_UNITS[tens], "puluh"] + ([_ID_UNITS[units]] if units else [])
    return words


def terbilang(n: int) -> str:
    """0 <= n < 10**15 in Indonesian words: 1_500_000 -> 'satu juta lima ratus ribu'."""
    if not 0 <= n <= MAX_WORDS:
        raise ValueError(f"{n} is out of range for words")
    if n == 0:
        return "nol"
    words: list[str] = []
    for scale, name in _ID_SCALES:
        count, n = divmod(n, scale)
        if count:
            words += [*_id_below_thousand(count), name]
    thousands, n = divmod(n, 1000)
    if thousands == 1:
        words.append("seribu")
    elif thousands:
        words += [*_id_below_thousand(thousands), "ribu"]
    words += _id_below_thousand(n)
    return " ".join(words)


def _en_below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_EN_UNITS[hundreds], "hundred"]
    if rest >= 20:
        tens, units = divmod(rest, 10)
        words.append(_EN_TENS[tens] + (f"-{_EN_UNITS[units]}" if units else ""))
    elif rest:
        words.append(_EN_UNITS[rest])
    return words


def english(n: int) -> str:
    """0 <= n < 10**15 in English words: 1_500_000 -> 'one million five hundred thousand'."""
    if not 0 <= n <= MAX_WORDS:
        raise ValueError(f"{n} is out of range for words")
    if n == 0:
        return "zero"
    words: list[str] = []
    for scale, name in _EN_SCALES:
        count, n = divmod(n, scale)
        if count:
            words += [*_en_below_thousand(count), name]
    words += _en_below_thousand(n)
    return " ".join(words)


def amount_in_words(minor: int, currency: str, locale: str) -> str:
    """An amount in minor units said in full: 150_000_000 IDR, 'id' -> 'satu juta lima ratus ribu rupiah'.

    Rupiah are shown without sen (display precision 0), but sen that are there are still said.
    """
    language = "en" if str(locale).startswith("en") else "id"
    say = english if language == "en" else terbilang
    major_name, minor_name = CURRENCY_WORDS[language][currency]
    major, fraction = divmod(minor, 10 ** exponent(currency)) if exponent(currency) else (minor, 0)
    text = f"{say(major)} {major_name}"
    if fraction:
        joiner = "and" if language == "en" else "dan"
        text += f" {joiner} {say(fraction)} {minor_name}"
    assert display_digits(currency) <= exponent(currency)
    return text
