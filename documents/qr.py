"""QR codes for the proof links on receipts: exactly the symbol segno makes, built in a millisecond.

segno.make(url, error="l", mask=MASK) spends 6 to 15 ms of pure Python on a receipt's proof link
(a version 18 symbol): it places the 5,000 modules one at a time, masks them one at a time and
divides the Reed-Solomon blocks byte by byte. A receipt is rendered once, but bulk jobs render
thousands. Here what depends only on the version (where each bit of the message goes, the function
patterns, format and version information, the mask over the data region) is worked out once with
segno's own functions, so one code costs a table-driven division and one XOR per dark bit.

Only what receipts use takes this path: byte mode (a link always has a character outside the
numeric and alphanumeric sets), one given mask, QR Code rather than Micro QR (a proof link is far
longer than a Micro QR holds). Anything else is handed to segno. tests/test_qr.py compares the two
for every version.
"""
from __future__ import annotations

import struct
import zlib
from functools import cache, lru_cache

import segno
from segno import consts, encoder

LEVELS = (consts.ERROR_LEVEL_L, consts.ERROR_LEVEL_M, consts.ERROR_LEVEL_Q, consts.ERROR_LEVEL_H)
ALPHANUMERIC = frozenset(consts.ALPHANUMERIC_CHARS.decode())
SHORTEST = 64  # below this a Micro QR symbol might do, and segno decides


def matrix(text: str, mask: int) -> tuple[int, ...]:
    """The rows of segno.make(text, error="l", mask=mask), each an int whose most significant of
    `len(rows)` bits is the leftmost module (1 = dark)."""
    if len(text) < SHORTEST or not text.isascii() or set(text) <= ALPHANUMERIC:
        code = segno.make(text, error="l", mask=mask)
        return tuple(int("".join("1" if m else "0" for m in row), 2) for row in code.matrix)
    data = text.encode("ascii")
    version, level = _version_and_level(len(data))
    template, places = _plan(version, level, mask)
    rows = list(template)
    # The message fills all but the last 0 to 7 places (remainder bits, zero in the template).
    for bit, (row, module) in zip(_message_bits(data, version, level), places, strict=False):
        if bit == "1":
            rows[row] ^= module
    return tuple(rows)


def png(rows: tuple[int, ...], border: int = 4) -> bytes:
    """An 8-bit grayscale PNG, one pixel per module, with a light quiet zone of `border` modules.

    Eight bits rather than one: WeasyPrint turns a 1-bit image into RGB and compresses it once
    more before it can place it, while an 8-bit grayscale PNG goes into the PDF as it is."""
    inner = len(rows)
    size = inner + 2 * border
    light = (1 << size) - 1
    lines = [light] * border + [light ^ (r << border) for r in rows] + [light] * border
    # One byte per module: 0 dark, 255 light; each scanline starts with filter type 0.
    raw = b"".join(b"\0" + format(line, f"0{size}b").encode().translate(_BYTE_OF_BIT) for line in lines)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    # Level 1: the PNG only goes from here to WeasyPrint, which decodes it (level 9 took 0.2 ms).
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


_BYTE_OF_BIT = bytes.maketrans(b"01", b"\x00\xff")


def _count_bits(version: int) -> int:
    return 8 if version < 10 else 16


def _version_and_level(length: int) -> tuple[int, int]:
    """segno's choice: the smallest version that holds the data at level L, then the highest
    level that still fits that version ("boost_error")."""
    for version in range(1, 41):
        bits = 4 + _count_bits(version) + 8 * length
        if consts.SYMBOL_CAPACITY[version][consts.ERROR_LEVEL_L] >= bits:
            level = consts.ERROR_LEVEL_L
            for better in LEVELS[1:]:
                if consts.SYMBOL_CAPACITY[version][better] < bits:
                    break
                level = better
            return version, level
    raise encoder.DataOverflowError("Data too large. No QR Code can handle the provided data")


def _message_bits(data: bytes, version: int, level: int) -> str:
    """Data codewords (mode, count, data, terminator, padding) and their error correction,
    interleaved block by block, as a string of "0" and "1"."""
    capacity = consts.SYMBOL_CAPACITY[version][level]
    count_bits = _count_bits(version)
    length = 4 + count_bits + 8 * len(data)
    value = ((0b0100 << count_bits | len(data)) << 8 * len(data)) | int.from_bytes(data, "big")
    # Up to 4 terminator bits, then zeros to the next byte: segno always adds at least one zero
    # bit there (a whole zero byte after a stream that ends on a byte), which a symbol must copy.
    terminated = min(capacity, length + 4)
    padded = terminated + 8 - terminated % 8
    codewords = (value << (padded - length)).to_bytes(padded // 8, "big")[:capacity // 8]
    codewords += (b"\xec\x11" * capacity)[:capacity // 8 - len(codewords)]
    data_blocks, ecc_blocks, start = [], [], 0
    for info in consts.ECC[version][level]:
        ecc_length = info.num_total - info.num_data
        table = _multiples(ecc_length)
        top, keep = 8 * (ecc_length - 1), (1 << 8 * ecc_length) - 1
        for _ in range(info.num_blocks):
            block = codewords[start:start + info.num_data]
            start += info.num_data
            remainder = 0
            for byte in block:  # polynomial division: remainder * x^8, minus (lead) * generator
                remainder = ((remainder << 8) & keep) ^ table[byte ^ (remainder >> top)]
            data_blocks.append(block)
            ecc_blocks.append(remainder.to_bytes(ecc_length, "big"))
    longest = max(len(b) for b in data_blocks)
    message = bytes(b[i] for i in range(longest) for b in data_blocks if i < len(b))
    message += bytes(b[i] for i in range(len(ecc_blocks[0])) for b in ecc_blocks)
    return format(int.from_bytes(message, "big"), f"0{8 * len(message)}b")


@cache
def _multiples(ecc_length: int) -> tuple[int, ...]:
    """For each byte c: c times the generator polynomial (without its leading 1), as one int."""
    generator, log, exp = consts.GEN_POLY[ecc_length], consts.GALIOS_LOG, consts.GALIOS_EXP
    table = [0]
    for c in range(1, 256):
        product = 0
        for g in generator:
            product = (product << 8) | exp[log[c] + g]
        table.append(product)
    return tuple(table)


@lru_cache(maxsize=64)
def _plan(version: int, level: int, mask: int) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    """(rows of the symbol of an all-zero message, (row, module bit) of each message bit in order).

    Built with segno's own steps, so the patterns, the placement order and the mask are its own."""
    size = encoder.calc_matrix_size(version)
    empty = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(empty, size, size)
    encoder.add_alignment_patterns(empty, size, size)
    slots = sum(row.count(0x2) for row in empty)
    marked = [list(row) for row in empty]
    encoder.add_codewords(marked, [3 + i for i in range(slots)], version)
    where = {}
    for i, row in enumerate(marked):
        for j, value in enumerate(row):
            if value >= 3:
                where[value - 3] = (i, 1 << (size - 1 - j))
    zero = [bytearray(row) for row in empty]
    encoder.add_codewords(zero, bytearray(slots), version)
    _, zero = encoder.find_and_apply_best_mask(zero, size, size, mask)
    encoder.add_format_info(zero, version, level, mask)
    encoder.add_version_info(zero, version)
    rows = tuple(int("".join("1" if m & 1 else "0" for m in row), 2) for row in zero)
    return rows, tuple(where[i] for i in range(slots))
