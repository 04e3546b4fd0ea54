"""Card number checks: Luhn checksum, brand detection, lengths, masking.

Nothing here stores or logs a card number; callers keep at most the brand and
the last four digits (PCI DSS 3.4.1 allows the last four to be displayed).
"""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[ -]")
# Digits people and systems put card numbers between: runs of digits joined by up to three
# spaces, tabs, dashes, dots, slashes or URL-encoded spaces (after NFKC, so full-width digits
# and spaces count too).
_SEPARATOR = r"(?:[ \t./-]|%20)"
_DIGIT_RUN = re.compile(rf"[0-9]+(?:{_SEPARATOR}{{1,3}}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
PAN_LENGTHS = range(13, 20)

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


def _luhn_windows(digits: str) -> list[tuple[int, int]]:
    """Every ``(start, end)`` window of 13-19 digits of ``digits`` that passes the Luhn check
    (all zeros pass it but are no card number)."""
    return [
        (start, start + length)
        for length in PAN_LENGTHS
        for start in range(len(digits) - length + 1)
        if _card_like(digits[start : start + length])
    ]


def _card_like(digits: str) -> bool:
    return luhn_valid(digits) and bool(digits.strip("0"))


def pan_spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of ``text`` that hold a card number, merged and sorted.

    A card number is a Luhn-valid run of 13-19 digits: either a window inside one unbroken
    digit group, or whole consecutive groups joined by separators (``4111 1111 1111 1111``,
    ``10 4111111111111111``, ``4111-1111-1111-1111-737``). ``text`` should already be NFKC
    normalised (see ``normalize_text``).
    """
    spans: list[tuple[int, int]] = []
    for run in _DIGIT_RUN.finditer(text):
        # "%20" is a separator, not the digits 2 and 0 (same length, so offsets hold).
        scan = run.group().replace("%20", "   ")
        groups = [(m.start() + run.start(), m.end() + run.start(), m.group()) for m in _GROUP.finditer(scan)]
        if sum(len(group) for _, _, group in groups) < PAN_LENGTHS.start:
            continue
        for start, _end, group in groups:
            spans.extend((start + a, start + b) for a, b in _luhn_windows(group))
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last][2]
                if len(digits) > PAN_LENGTHS.stop - 1:
                    break
                if last > first and len(digits) in PAN_LENGTHS and _card_like(digits):
                    spans.append((groups[first][0], groups[last][1]))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def normalize_text(text: str) -> str:
    """``text`` in Unicode NFKC form: full-width and other compatibility digits become ASCII."""
    return unicodedata.normalize("NFKC", text)


def contains_pan(text: str) -> bool:
    """True when ``text`` holds something that looks like a card number (see ``pan_spans``)."""
    return bool(pan_spans(normalize_text(text)))


def mask_pans(text: str) -> str:
    """``text`` (NFKC normalised) with every card number's digits but the last four replaced by ``*``."""
    text = normalize_text(text)
    spans = pan_spans(text)
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces.append(text[position:start])
        pieces.append(mask(re.sub(r"[^0-9]", "", text[start:end])))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
