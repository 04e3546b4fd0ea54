"""Card number checks: Luhn checksum, brand detection, lengths, masking.

Nothing here stores or logs a card number; callers keep at most the brand and
the last four digits (PCI DSS 3.4.1 allows the last four to be displayed).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

_SEPARATORS = re.compile(r"[ -]")
# Digit groups joined by one to three characters that are neither letters nor digits (``\W`` is
# Unicode-aware; ``_`` is a word character but no letter), read by ``scan_form``.
_DIGIT_RUN = re.compile(r"[0-9]+(?:[\W_]{1,3}[0-9]+)*")
# Stored free text (references, identifiers): groups joined by any number of such characters.
_WIDE_DIGIT_RUN = re.compile(r"[0-9]+(?:[\W_]+[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
# Base64 (standard or URL-safe alphabet) long enough to hold 13 digits.
_BASE64_TOKENS = (re.compile(r"[A-Za-z0-9+/]{16,}"), re.compile(r"[A-Za-z0-9_-]{16,}"))
# Percent-encoded octets, and HTML numeric references with any number of (leading zero) digits and
# with or without their ``;``, as browsers and ``html.unescape`` read them.
_ENCODED = re.compile(r"(?:%[0-9A-Fa-f]{2})+|&#(?:[0-9]+|[xX][0-9A-Fa-f]+);?")
_MAX_CODE_DIGITS = 8  # beyond U+10FFFF in either base, once leading zeros are dropped
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


class _LuhnSums:
    """Prefix sums of a digit string's two Luhn weights, so any window's checksum is O(1)."""

    def __init__(self, digits: str) -> None:
        count = len(digits)
        # plain[p][j] / doubled[p][j]: the digits before j at positions of parity p, as they are and doubled.
        self.plain = ([0] * (count + 1), [0] * (count + 1))
        self.doubled = ([0] * (count + 1), [0] * (count + 1))
        self.nonzero = [0] * (count + 1)
        for index, char in enumerate(digits):
            value = ord(char) - 48
            parity = index & 1
            for side in (0, 1):
                self.plain[side][index + 1] = self.plain[side][index]
                self.doubled[side][index + 1] = self.doubled[side][index]
            self.plain[parity][index + 1] += value
            self.doubled[parity][index + 1] += _DOUBLED[value]
            self.nonzero[index + 1] = self.nonzero[index] + (value != 0)

    def card_like(self, start: int, end: int) -> bool:
        """True when ``digits[start:end]`` passes the Luhn check and is not all zeros."""
        last = (end - 1) & 1  # the check digit's parity: digits of that parity count as they are
        total = (self.plain[last][end] - self.plain[last][start]
                 + self.doubled[1 - last][end] - self.doubled[1 - last][start])
        return total % 10 == 0 and self.nonzero[end] > self.nonzero[start]


def _card_windows(sums: _LuhnSums, bounds: list[int]) -> list[tuple[int, int]]:
    """The ``(start, end)`` card-number windows of a run's digits whose groups start at ``bounds``
    (the last bound is the end): any window inside one group, or consecutive whole groups. Linear
    in the digits: at most seven lengths end at each digit, and at most 19 groups fit in a window."""
    windows: list[tuple[int, int]] = []
    for group in range(len(bounds) - 1):
        low, high = bounds[group], bounds[group + 1]
        for end in range(low + PAN_LENGTHS.start, high + 1):
            for length in PAN_LENGTHS:
                start = end - length
                if start < low:
                    break
                if sums.card_like(start, end):
                    windows.append((start, end))
        for last in range(group + 2, len(bounds)):
            length = bounds[last] - low
            if length >= PAN_LENGTHS.stop:
                break
            if length in PAN_LENGTHS and sums.card_like(low, bounds[last]):
                windows.append((low, bounds[last]))
    return windows


def _plausible(text: str) -> bool:
    """False for a decoding holding a control character other than tab and line ends."""
    return not any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in text)


def _utf8_length(lead: int) -> int:
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _reference_code(token: str) -> int:
    """The code point an HTML numeric reference names (``0x110000`` for any beyond Unicode)."""
    hexadecimal = token[2] in "xX"
    digits = token[3 if hexadecimal else 2 :].rstrip(";").lstrip("0") or "0"
    if len(digits) > _MAX_CODE_DIGITS:
        return 0x110000
    return int(digits, 16 if hexadecimal else 10)


def _decoded_tokens(match: re.Match[str], dropped: bool) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` for each encoded character of ``match``: one HTML numeric reference,
    or the ``%XX`` triplets of one UTF-8 character. A token that decodes to nothing plausible (a
    control character, invalid UTF-8, a surrogate, a code point beyond Unicode) is left out, so it
    is read as sent, or, when ``dropped``, read as removed (``(start, end, "")``)."""
    token = match.group()
    if token.startswith("&"):
        code = _reference_code(token)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or not _plausible(chr(code)):
            return [(match.start(), match.end(), "")] if dropped else []
        return [(match.start(), match.end(), chr(code))]
    found: list[tuple[int, int, str]] = []
    octets = [int(token[index + 1 : index + 3], 16) for index in range(0, len(token), 3)]
    index = 0
    while index < len(octets):
        size = _utf8_length(octets[index])
        start = match.start() + 3 * index
        try:
            char = bytes(octets[index : index + size]).decode("utf-8")
        except UnicodeDecodeError:
            if dropped:
                found.append((start, start + 3, ""))
            index += 1
            continue
        if _plausible(char):
            found.append((start, match.start() + 3 * (index + size), char))
        elif dropped:
            found.append((start, match.start() + 3 * (index + size), ""))
        index += size
    return found


def _decode_once(
    text: str, starts: list[int], ends: list[int], dropped: bool
) -> tuple[str, list[int], list[int]]:
    """``text`` with percent-encoding (as UTF-8) and HTML numeric character references undone where
    they are plausible (see ``_decoded_tokens`` for the others); a decoded character keeps the
    source span of its token."""
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    position = 0
    for match in _ENCODED.finditer(text):
        for start, end, char in _decoded_tokens(match, dropped):
            for index in range(position, start):
                out.append(text[index])
                new_starts.append(starts[index])
                new_ends.append(ends[index])
            if char:
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


def scan_form(text: str, *, dropped: bool = False) -> tuple[str, list[int], list[int]]:
    """``text`` as the card-number scan reads it, with each character's source span (start, end).

    Characters are folded (NFKC, digits of every script to ASCII) and encodings undone where
    plausible (percent-encoding as UTF-8, HTML numeric references with or without ``;`` and with
    any number of leading zeros), up to three layers, so ``%2520`` is a space. ``+`` needs no
    decoding: it is a separator anyway. A token that decodes to nothing plausible (``&#1;``,
    ``%FF``, ``&#xD800;``) is read as sent, or, with ``dropped``, as removed (``html.unescape``
    drops most of them): the scan reads both. Raises ValueError for text longer than
    ``MAX_SCAN_CHARS``: callers cut or refuse longer text first, so no scan is unbounded.
    """
    if len(text) > MAX_SCAN_CHARS:
        raise ValueError(f"text of {len(text)} characters is longer than the scan limit {MAX_SCAN_CHARS}")
    form = (text, list(range(len(text))), list(range(1, len(text) + 1)))
    if not _encoded(text):
        return form
    form = _fold_once(*form)
    for _ in range(_DECODE_ROUNDS):
        decoded = _decode_once(*form, dropped)
        if decoded[0] == form[0]:
            break
        form = _fold_once(*decoded)
    return form


def _encoded(text: str) -> bool:
    """False for ASCII text without ``%`` or ``&#``, which the scan reads as it is."""
    return not text.isascii() or "%" in text or "&#" in text


def _mark_run(run: re.Match[str], starts: list[int], ends: list[int],
              hidden: set[tuple[int, int]], shown: set[tuple[int, int]]) -> None:
    """Adds the source spans of the card-number digits of one run of digit groups to ``hidden``
    (all but each number's last four) and ``shown`` (its last four)."""
    digits: list[str] = []
    positions: list[int] = []  # the form position of each digit of the run
    bounds: list[int] = []
    for group in _GROUP.finditer(run.group()):
        bounds.append(len(digits))
        digits.extend(group.group())
        positions.extend(range(run.start() + group.start(), run.start() + group.end()))
    if len(digits) < PAN_LENGTHS.start:
        return
    bounds.append(len(digits))
    # Difference arrays over the run's digits: each window marks its digits in O(1).
    hide = [0] * (len(digits) + 1)
    show = [0] * (len(digits) + 1)
    for start, end in _card_windows(_LuhnSums("".join(digits)), bounds):
        hide[start] += 1
        hide[end - 4] -= 1
        show[end - 4] += 1
        show[end] -= 1
    hiding = showing = 0
    for index, position in enumerate(positions):
        hiding += hide[index]
        showing += show[index]
        if hiding:
            hidden.add((starts[position], ends[position]))
        elif showing:
            shown.add((starts[position], ends[position]))


def _found(text: str, *, wide: bool = False) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The source spans of the digits a mask hides and of those it may show (every card number's
    last four, unless another card-number window hides them), each list sorted. Text with
    encodings is read twice: undecodable tokens as sent and as removed (see ``scan_form``).
    ``wide`` joins digit groups across separators of any length (``stored_text_holds_pan``)."""
    hidden: set[tuple[int, int]] = set()
    shown: set[tuple[int, int]] = set()
    readings = [scan_form(text)]
    if _encoded(text):
        dropped = scan_form(text, dropped=True)
        if dropped[0] != readings[0][0]:
            readings.append(dropped)
    pattern = _WIDE_DIGIT_RUN if wide else _DIGIT_RUN
    for form, starts, ends in readings:
        for run in pattern.finditer(form):
            _mark_run(run, starts, ends, hidden, shown)
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


def _base64_spans(text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` that are base64 (either alphabet, any alignment) of text holding a card
    number whose groups are joined by separators of any length."""
    spans: list[tuple[int, int]] = []
    for pattern in _BASE64_TOKENS:
        for match in pattern.finditer(text):
            token = match.group().replace("-", "+").replace("_", "/")
            for skip in range(4):
                chunk = token[skip:]
                chunk = chunk[: len(chunk) - 1] if len(chunk) % 4 == 1 else chunk
                chunk += "=" * (-len(chunk) % 4)
                try:
                    decoded = base64.b64decode(chunk, validate=True).decode("latin-1")
                except (binascii.Error, ValueError):  # pragma: no cover - the alphabet is checked above
                    continue
                if _found(decoded[:MAX_SCAN_CHARS], wide=True)[0]:
                    spans.append(match.span())
                    break
    return spans


def stored_text_holds_pan(text: str) -> bool:
    """True when free text that is stored and echoed (a reference, an identifier, a session name)
    holds a card number: as ``contains_pan`` finds it, or as digit groups joined by separators of
    any length (``4111....1111....1111....1111``), or base64-encoded."""
    return bool(_found(text, wide=True)[0]) or bool(_base64_spans(text))


def mask_pans(text: str, *, stored: bool = False) -> str:
    """``text`` in NFKC form with every digit of every card number (see ``pan_spans``) replaced by
    ``*`` but the last four; separators and the rest of ``text`` are left as they are. ``stored``
    masks what ``stored_text_holds_pan`` finds too (a base64 token holding one entirely)."""
    text = normalize_text(text)
    hidden, _shown = _found(text, wide=stored)
    if stored:
        hidden = sorted(set(hidden).union(*(
            {(index, index + 1) for index in range(start, end)} for start, end in _base64_spans(text)
        )))
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
