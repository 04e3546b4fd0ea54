"""Card number checks: Luhn checksum, brand detection, lengths, masking.

Nothing here stores or logs a card number; callers keep at most the brand and
the last four digits (PCI DSS 3.4.1 allows the last four to be displayed).
"""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[ -]")
# Digit groups joined by one to three characters that are neither letters nor digits (``\W`` is
# Unicode-aware; ``_`` is a word character but no letter), read by ``scan_form``.
_DIGIT_RUN = re.compile(r"[0-9]+(?:[\W_]{1,3}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_ENCODED = re.compile(r"(?:%[0-9A-Fa-f]{2})+|&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});")
_DECODE_ROUNDS = 3
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
PAN_LENGTHS = range(13, 20)
# The most characters one scan reads; longer text is cut (logs) or refused (requests) first.
MAX_SCAN_CHARS = 8192

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
    """The number without the spaces and dashes people type between digit groups (the only
    formatting ``card.number`` accepts, so every accepted writing of a card gives the same digits)."""
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


def _card_like(digits: str) -> bool:
    return luhn_valid(digits) and bool(digits.strip("0"))


def _card_windows(digits: str) -> list[tuple[int, int]]:
    """Every ``(start, end)`` window of 13-19 digits of ``digits`` that passes the Luhn check and is
    not all zeros, in time linear in ``len(digits)`` (prefix sums of each digit's two Luhn weights)."""
    count = len(digits)
    if count < PAN_LENGTHS.start:
        return []
    # plain[p][j] / doubled[p][j]: the digits before j at positions of parity p, as they are and doubled.
    plain = ([0] * (count + 1), [0] * (count + 1))
    doubled = ([0] * (count + 1), [0] * (count + 1))
    nonzero = [0] * (count + 1)
    for index, char in enumerate(digits):
        value = ord(char) - 48
        parity = index & 1
        for side in (0, 1):
            plain[side][index + 1] = plain[side][index]
            doubled[side][index + 1] = doubled[side][index]
        plain[parity][index + 1] += value
        doubled[parity][index + 1] += _DOUBLED[value]
        nonzero[index + 1] = nonzero[index] + (value != 0)
    windows: list[tuple[int, int]] = []
    for end in range(PAN_LENGTHS.start, count + 1):
        last = (end - 1) & 1  # the check digit's parity: digits of that parity count as they are
        for length in PAN_LENGTHS:
            start = end - length
            if start < 0:
                break
            total = plain[last][end] - plain[last][start] + doubled[1 - last][end] - doubled[1 - last][start]
            if total % 10 == 0 and nonzero[end] > nonzero[start]:
                windows.append((start, end))
    return windows


def _plausible(text: str) -> bool:
    """False for a decoding holding a control character other than tab and line ends: then the
    token is no encoding of text and is read as sent, so ``4111%1111...`` keeps its digits."""
    return not any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in text)


def _utf8_length(lead: int) -> int:
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _decoded_tokens(text: str, match: re.Match[str]) -> list[tuple[int, int, str]]:
    """``(start, end, character)`` for each encoded character of ``match`` that decodes plausibly:
    one HTML numeric reference, or the ``%XX`` triplets of one UTF-8 character."""
    token = match.group()
    if token.startswith("&"):
        code = int(token[3:-1], 16) if token[2] in "xX" else int(token[2:-1])
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or not _plausible(chr(code)):
            return []
        return [(match.start(), match.end(), chr(code))]
    found: list[tuple[int, int, str]] = []
    octets = [int(token[index + 1 : index + 3], 16) for index in range(0, len(token), 3)]
    index = 0
    while index < len(octets):
        size = _utf8_length(octets[index])
        try:
            char = bytes(octets[index : index + size]).decode("utf-8")
        except UnicodeDecodeError:
            index += 1
            continue
        if _plausible(char):
            found.append((match.start() + 3 * index, match.start() + 3 * (index + size), char))
        index += size
    return found


def _decode_once(text: str, starts: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    """``text`` with percent-encoding (as UTF-8) and HTML numeric character references undone where
    they are plausible; a decoded character keeps the source span of its token."""
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    position = 0
    for match in _ENCODED.finditer(text):
        for start, end, char in _decoded_tokens(text, match):
            for index in range(position, start):
                out.append(text[index])
                new_starts.append(starts[index])
                new_ends.append(ends[index])
            out.append(char)
            new_starts.append(starts[start])
            new_ends.append(ends[end - 1])
            position = end
    for index in range(position, len(text)):
        out.append(text[index])
        new_starts.append(starts[index])
        new_ends.append(ends[index])
    return "".join(out), new_starts, new_ends


def _fold_once(text: str, starts: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    """``text`` with every non-ASCII character in NFKC form and every decimal digit of any script as
    its ASCII digit (full-width, Arabic-Indic, Devanagari...); spans as in ``_decode_once``."""
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    for index, char in enumerate(text):
        folded = char if char < "\x80" else unicodedata.normalize("NFKC", char)
        for piece in folded:
            digit = unicodedata.decimal(piece, None) if piece >= "\x80" else None
            out.append(piece if digit is None else str(digit))
            new_starts.append(starts[index])
            new_ends.append(ends[index])
    return "".join(out), new_starts, new_ends


def scan_form(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` as the card-number scan reads it, with each character's source span (start, end).

    Characters are folded (NFKC, digits of every script to ASCII) and encodings undone where
    plausible (percent-encoding as UTF-8, HTML numeric references), up to three layers, so
    ``%2520`` is a space. ``+`` needs no decoding: it is a separator anyway. Raises ValueError for
    text longer than ``MAX_SCAN_CHARS``: callers cut or refuse longer text first, so no scan is
    unbounded.
    """
    if len(text) > MAX_SCAN_CHARS:
        raise ValueError(f"text of {len(text)} characters is longer than the scan limit {MAX_SCAN_CHARS}")
    form = (text, list(range(len(text))), list(range(1, len(text) + 1)))
    if text.isascii() and "%" not in text and "&#" not in text:
        return form
    form = _fold_once(*form)
    for _ in range(_DECODE_ROUNDS):
        decoded = _decode_once(*form)
        if decoded[0] == form[0]:
            break
        form = _fold_once(*decoded)
    return form


def _found(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The source spans of the digits a mask hides and of those it may show (every card number's
    last four, unless another card-number window hides them), each list sorted."""
    hidden: set[tuple[int, int]] = set()
    shown: set[tuple[int, int]] = set()
    form, starts, ends = scan_form(text)
    for run in _DIGIT_RUN.finditer(form):
        groups = [(run.start() + group.start(), group.group()) for group in _GROUP.finditer(run.group())]
        if sum(len(digits) for _, digits in groups) < PAN_LENGTHS.start:
            continue
        found: list[list[int]] = []  # the form positions of each card number's digits
        for offset, digits in groups:
            found.extend(list(range(offset + start, offset + end)) for start, end in _card_windows(digits))
        for first in range(len(groups)):
            positions: list[int] = []
            for offset, digits in groups[first:]:
                positions.extend(range(offset, offset + len(digits)))
                if len(positions) > PAN_LENGTHS.stop - 1:
                    break
                number = "".join(form[position] for position in positions)
                if offset > groups[first][0] and len(number) in PAN_LENGTHS and _card_like(number):
                    found.append(list(positions))
        for positions in found:
            spans = [(starts[position], ends[position]) for position in positions]
            hidden.update(spans[:-4])
            shown.update(spans[-4:])
    return sorted(hidden), sorted(shown - hidden)


def pan_spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of ``text`` that hold a card number, merged and sorted.

    A card number is 13-19 digits that pass the Luhn check (and are not all zeros), in a run of
    digit groups joined by one to three characters that are neither letters nor digits, whatever
    they are (``4111 1111 1111 1111``, ``4111+1111+1111+1111``, ``4111_1111|1111:1111``,
    ``4111%20-%201111...``), read as ``scan_form`` reads it (encodings undone, characters
    folded): any window of one unbroken group, or consecutive whole groups, so a number next to
    other digits (``4111111111111111 123``, ``10 4111 1111 1111 1111``,
    ``4111-1111-1111-1111-737``) is found too. Letters end a run; and a window across groups must
    take them whole, so an identifier such as a UUID is not read as one long number.
    """
    hidden, shown = _found(text)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(hidden + shown):
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
    return bool(pan_spans(text))


def mask_pans(text: str) -> str:
    """``text`` in NFKC form with every digit of every card number (see ``pan_spans``) replaced by
    ``*`` but the last four; separators and the rest of ``text`` are left as they are."""
    text = normalize_text(text)
    hidden, _shown = _found(text)
    if not hidden:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in sorted(hidden, key=lambda span: (span[0], -span[1])):
        if start < position:  # one encoded token that held several digits
            continue
        pieces.append(text[position:start])
        pieces.append("*")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
