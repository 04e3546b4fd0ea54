"""Card number checks: Luhn checksum, brand detection, lengths, masking.

Nothing here stores or logs a card number; callers keep at most the brand and
the last four digits (PCI DSS 3.4.1 allows the last four to be displayed).
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[ -]")

# (brand, prefix ranges as (low, high) over the first len(str(low)) digits, lengths)
_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("amex", ((34, 34), (37, 37)), frozenset({15})),
    ("diners", ((300, 305), (36, 36), (38, 39)), frozenset(range(14, 20))),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), frozenset(range(16, 20))),
    ("jcb", ((3528, 3589),), frozenset(range(16, 20))),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("unionpay", ((62, 62),), frozenset(range(16, 20))),
    ("visa", ((4, 4),), frozenset({13, 16, 19})),
)
UNKNOWN_BRAND = "unknown"
_UNKNOWN_LENGTHS = frozenset(range(12, 20))


def normalize_number(raw: str) -> str:
    """The number without the spaces and dashes people type between digit groups."""
    return _SEPARATORS.sub("", raw)


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only ASCII digits) passes the Luhn (mod 10) check."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def brand(digits: str) -> str:
    """The card brand for a number's issuer prefix, or ``unknown``."""
    for name, ranges, _lengths in _BRANDS:
        for low, high in ranges:
            width = len(str(low))
            if len(digits) >= width and low <= int(digits[:width]) <= high:
                return name
    return UNKNOWN_BRAND


def valid_lengths(brand_name: str) -> frozenset[int]:
    """The number lengths a brand issues (12-19 for unknown brands)."""
    for name, _ranges, lengths in _BRANDS:
        if name == brand_name:
            return lengths
    return _UNKNOWN_LENGTHS


def cvv_length(brand_name: str) -> int:
    """American Express prints a four-digit code; every other brand three."""
    return 4 if brand_name == "amex" else 3


def last_four(digits: str) -> str:
    """The last four digits of a number."""
    return digits[-4:]


def mask(digits: str) -> str:
    """All but the last four digits replaced by ``*``."""
    return "*" * max(len(digits) - 4, 0) + digits[-4:]
