"""The ledger as CSV for people with a spreadsheet: streamed, any size, safe to open.

- Rows come from keyset batches (queries.iter_entry_rows) and are written by the csv module
  into a small buffer that is handed out and emptied every few rows, so memory stays flat however
  many entries there are; there is no row limit.
- Formula injection: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
  gets a leading `'`, so spreadsheet programs show it as text instead of evaluating it (OWASP's
  advice). Cells that are plain integers (`seq`, `amount_minor`, `ref`) are numbers, not formulas,
  and stay as they are, so `-500000` still sums as a number.
- The formatted amount follows the request's locale and writes money out in accounting style,
  `(Rp 5.000)`, rather than `-Rp 5.000`: readable, conventional in Indonesian financial statements,
  and it never starts with a formula character.
- The file starts with a UTF-8 byte order mark so that spreadsheet programs read it as UTF-8.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from amanah import money
from ledger.entry import format_at
from ledger.queries import EntryRow

COLUMNS = ("seq", "time_utc", "kind", "campaign", "amount", "amount_minor", "currency", "ref", "memo",
           "evidence", "payment", "leaf_hash")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
_INTEGER = re.compile(r"-?[0-9]+\Z")
FLUSH_AT = 64 * 1024


def neutralize(value: object) -> str:
    """The cell's text, with a leading quote if a spreadsheet could take it for a formula."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not _INTEGER.match(text):
        return "'" + text
    return text


@lru_cache(maxsize=8192)
def accounting_amount(minor: int, currency: str, locale: str) -> str:
    """'Rp 5.000' for money in, '(Rp 5.000)' for money out."""
    text = money.format_money(abs(minor), currency, locale)
    return f"({text})" if minor < 0 else text


def row_cells(row: EntryRow, locale: str) -> list[str]:
    time_text = format_at(row.at).replace("T", " ").removesuffix("Z")
    return [str(row.seq), time_text, row.kind, neutralize(row.campaign),
            neutralize(accounting_amount(row.amount, row.currency, locale)), str(row.amount), row.currency,
            "" if row.ref is None else str(row.ref), neutralize(row.memo), neutralize(row.evidence),
            neutralize(row.payment), row.leaf_hash.hex()]


def csv_chunks(rows: Iterable[EntryRow], locale: str) -> Iterator[str]:
    """The CSV text in chunks of about FLUSH_AT characters: header first, then one line per entry."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row_cells(row, locale))
        if buffer.tell() >= FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
