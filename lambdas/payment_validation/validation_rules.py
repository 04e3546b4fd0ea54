"""Validation of a payment request, in two stages that each report every problem.

1. ``parse_request`` checks the shape: a JSON object with exactly the known
   fields, each of the right JSON type, and well-formed identifiers. Any
   problem here makes the request malformed (HTTP 400) and nothing is stored.
2. ``assess`` checks the meaning: amount (plain decimal, positive, exact in
   the currency's minor unit, within that currency's bounds), currency (ISO 4217 and in the
   configured list), card number (digits, the brand's length, Luhn), expiry
   (a real month, not past), CVV (three digits, four for American Express).
   Problems here reject the payment (HTTP 422) and the rejection is stored.

Request body::

    {
      "merchant_id": "m-1001",
      "user_id": "u-42",
      "amount": "125.50",            string or JSON number
      "currency": "EUR",
      "card": {
        "number": "4111 1111 1111 1111",
        "expiry_month": 12,          integer or digit string
        "expiry_year": 2030,         integer or digit string (2 or 4 digits)
        "cvv": "123"                 string
      },
      "reference": "order-77"        optional
    }

Messages never repeat the values they are about, so a rejected card number
or CVV is not echoed back or stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from paycommon import cards, money

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
REFERENCE = re.compile(r"[\x20-\x7e]{1,64}")
_REQUIRED = ("merchant_id", "user_id", "amount", "currency", "card")
_OPTIONAL = ("reference",)
_CARD_FIELDS = ("number", "expiry_month", "expiry_year", "cvv")
_MAX_NUMBER_CHARS = 32
# The card-number scan of a body reads at most this many characters of one value or field name,
# and this many in all (each value counts one more); a body with more is refused unread.
MAX_SCANNED_VALUE_CHARS = 256
MAX_SCANNED_BODY_CHARS = 4096
_MAX_EXPIRY_YEARS = 20


@dataclass(frozen=True)
class Problem:
    """One reason a request is malformed or a payment is rejected."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class MalformedRequest(Exception):
    """The request body does not have the expected shape."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class PaymentRequest:
    """A request of the right shape; values not yet checked for meaning."""

    merchant_id: str
    user_id: str
    amount: str | int | Decimal
    currency: str
    card_number: str
    expiry_month: int | str
    expiry_year: int | str
    cvv: str
    reference: str | None = None


@dataclass(frozen=True)
class Assessment:
    """The outcome of checking a request's meaning.

    ``card_digits`` is the normalized card number, kept in memory only to
    compute the token; ``card_last4`` is set only when the number is a
    plausible card number (12-19 digits).
    """

    problems: tuple[Problem, ...]
    amount: Decimal | None
    currency: str | None
    card_digits: str
    card_brand: str | None
    card_last4: str | None

    @property
    def valid(self) -> bool:
        return not self.problems


def _is_int_like(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 4
    )


class _ScanBudget:
    """What is left of ``MAX_SCANNED_BODY_CHARS`` for one body."""

    def __init__(self) -> None:
        self.left = MAX_SCANNED_BODY_CHARS

    def take(self, text: str) -> bool:
        """False when ``text`` may not be scanned: too long on its own, or beyond the body's budget."""
        self.left -= len(text) + 1
        return len(text) <= MAX_SCANNED_VALUE_CHARS and self.left >= 0


def _too_long(path: str) -> Problem:
    where = path or "the request body"
    return Problem(path or "<body>", "too_long",
                   f"{where} holds more text than is read (at most {MAX_SCANNED_VALUE_CHARS} characters a value, "
                   f"{MAX_SCANNED_BODY_CHARS} in all)")


def _card_numbers_elsewhere(value: Any, path: str, budget: _ScanBudget | None = None) -> list[Problem]:
    """A problem for every field other than ``card.number`` that holds a card number.

    Strings and numbers (as sent) are checked (``paycommon.cards.contains_pan``: any
    separators and encodings, numbers next to other digits), and so are the names of fields; a
    field name holding a number is reported as ``<path>.<field name>`` so it is not echoed
    either. The scan reads a bounded amount of text (``MAX_SCANNED_VALUE_CHARS``,
    ``MAX_SCANNED_BODY_CHARS``): what it may not read is a ``too_long`` problem, and the scan
    stops at the first.
    """
    budget = budget or _ScanBudget()
    problems: list[Problem] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            label = f"{path}.<field name>" if path else "<field name>"
            if not budget.take(name):
                return [*problems, _too_long(label)]
            if cards.contains_pan(name):
                problems.append(Problem(label, "card_number_not_allowed", f"{label} looks like a card number"))
                continue
            child = f"{path}.{name}" if path else name
            if child != "card.number":
                problems.extend(_card_numbers_elsewhere(item, child, budget))
                if problems and problems[-1].code == "too_long":
                    return problems
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems.extend(_card_numbers_elsewhere(item, f"{path}[{index}]", budget))
            if problems and problems[-1].code == "too_long":
                return problems
    elif isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        # The number as sent: str() of an int is exact (format(int, "f") goes through float).
        text = value if isinstance(value, str) else str(value) if isinstance(value, int) else format(value, "f")
        if not budget.take(text):
            return [_too_long(path)]
        if cards.contains_pan(text):
            message = f"{path} looks like a card number; send it only in card.number"
            problems.append(Problem(path, "card_number_not_allowed", message))
    else:
        budget.take("")
    return problems


def parse_request(body: Mapping[str, Any]) -> PaymentRequest:
    """The request's fields, or MalformedRequest listing every shape problem.

    A card number anywhere but in ``card.number``, or more text than the scan reads, makes the
    request malformed on its own: only those problems are listed, so no other message can repeat
    the value or its field name.
    """
    misplaced = _card_numbers_elsewhere(body, "")
    if misplaced:
        raise MalformedRequest(misplaced)
    problems: list[Problem] = []
    for name in sorted(set(body) - set(_REQUIRED) - set(_OPTIONAL)):
        problems.append(Problem(name, "unknown_field", f"{name} is not a known field"))
    for name in _REQUIRED:
        if name not in body or body[name] is None:
            problems.append(Problem(name, "required", f"{name} is required"))
    for name in ("merchant_id", "user_id"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and IDENTIFIER.fullmatch(value)):
            problems.append(
                Problem(
                    name,
                    "invalid_identifier",
                    f"{name} must be 1-64 letters, digits or _.:@- starting with a letter or digit",
                )
            )
    amount = body.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, str | int | Decimal)):
        problems.append(Problem("amount", "wrong_type", "amount must be a string or a number"))
    currency = body.get("currency")
    if currency is not None and not isinstance(currency, str):
        problems.append(Problem("currency", "wrong_type", "currency must be a string"))
    reference = body.get("reference")
    if reference is not None and not (isinstance(reference, str) and REFERENCE.fullmatch(reference)):
        problems.append(Problem("reference", "invalid_reference", "reference must be 1-64 printable characters"))
    card = body.get("card")
    if card is not None:
        if isinstance(card, Mapping):
            problems.extend(_card_shape(card))
        else:
            problems.append(Problem("card", "wrong_type", "card must be an object"))
    if problems:
        raise MalformedRequest(problems)
    assert isinstance(card, Mapping)
    return PaymentRequest(
        merchant_id=body["merchant_id"],
        user_id=body["user_id"],
        amount=body["amount"],
        currency=body["currency"],
        card_number=card["number"],
        expiry_month=card["expiry_month"],
        expiry_year=card["expiry_year"],
        cvv=card["cvv"],
        reference=reference,
    )


def _card_shape(card: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for name in sorted(set(card) - set(_CARD_FIELDS)):
        problems.append(Problem(f"card.{name}", "unknown_field", f"card.{name} is not a known field"))
    for name in _CARD_FIELDS:
        value = card.get(name)
        path = f"card.{name}"
        if value is None:
            problems.append(Problem(path, "required", f"{path} is required"))
        elif name in ("number", "cvv"):
            if not isinstance(value, str):
                problems.append(Problem(path, "wrong_type", f"{path} must be a string"))
            elif len(value) > _MAX_NUMBER_CHARS:
                problems.append(Problem(path, "too_long", f"{path} is too long"))
        elif not _is_int_like(value):
            problems.append(Problem(path, "wrong_type", f"{path} must be an integer or a string of digits"))
    return problems


def assess(
    request: PaymentRequest,
    *,
    allowed_currencies: frozenset[str],
    amount_limits: Mapping[str, tuple[Decimal, Decimal]],
    today: date,
) -> Assessment:
    """Every reason to reject the payment, plus what may be kept about it."""
    problems: list[Problem] = []

    currency: str | None = request.currency.strip()
    if not money.is_currency(currency or ""):
        problems.append(Problem("currency", "currency_invalid", "currency must be an ISO 4217 code"))
        currency = None
    elif currency not in allowed_currencies:
        problems.append(Problem("currency", "currency_not_allowed", "currency is not accepted"))

    amount: Decimal | None = None
    try:
        amount = money.parse_amount(request.amount)
        if currency is not None:
            # A currency that is not accepted has no limits; it is rejected for that reason.
            minimum, maximum = amount_limits.get(currency, (Decimal(0), Decimal("Infinity")))
            money.check_amount(amount, currency, minimum, maximum)
    except money.AmountError as exc:
        problems.append(Problem("amount", exc.code, exc.message))

    digits = cards.normalize_number(request.card_number)
    card_brand: str | None = None
    card_last4: str | None = None
    if not (digits.isascii() and digits.isdigit()):
        problems.append(Problem("card.number", "card_number_invalid", "card number must contain only digits"))
    else:
        card_brand = cards.brand(digits)
        if 12 <= len(digits) <= 19:
            card_last4 = cards.last_four(digits)
        if len(digits) not in cards.valid_lengths(card_brand):
            problems.append(
                Problem(
                    "card.number",
                    "card_number_length",
                    "card number has the wrong length for its brand",
                )
            )
        if not cards.luhn_valid(digits):
            problems.append(Problem("card.number", "card_number_checksum", "card number fails the Luhn check"))
        elif not digits.strip("0"):
            problems.append(Problem("card.number", "card_number_invalid", "card number must not be all zeros"))
        elif digits.startswith("0"):
            # No issuer number starts with 0 (ISO/IEC 7812); leading zeros would make one card many tokens.
            problems.append(Problem("card.number", "card_number_invalid", "card number must not start with 0"))

    problems.extend(_expiry_problems(request.expiry_month, request.expiry_year, today))

    expected_cvv = cards.cvv_length(card_brand or cards.UNKNOWN_BRAND)
    cvv = request.cvv
    if not (cvv.isascii() and cvv.isdigit() and len(cvv) == expected_cvv):
        problems.append(Problem("card.cvv", "card_cvv_invalid", f"card CVV must be {expected_cvv} digits"))

    return Assessment(
        problems=tuple(problems),
        amount=amount,
        currency=currency,
        # Canonical (only the digits, no leading zero) or nothing: one card, one token.
        card_digits="" if problems_of(problems, "card.number") else digits,
        card_brand=card_brand,
        card_last4=card_last4,
    )


def problems_of(problems: list[Problem], field: str) -> list[Problem]:
    """The problems about ``field``."""
    return [problem for problem in problems if problem.field == field]


def _expiry_problems(month_value: int | str, year_value: int | str, today: date) -> list[Problem]:
    month = int(month_value)
    year_text = str(year_value)
    year = int(year_text)
    if len(year_text) <= 2:
        year += 2000
    if not 1 <= month <= 12:
        return [Problem("card.expiry_month", "card_expiry_invalid", "expiry month must be 1-12")]
    if not 2000 <= year <= today.year + _MAX_EXPIRY_YEARS:
        return [Problem("card.expiry_year", "card_expiry_invalid", "expiry year is not plausible")]
    if (year, month) < (today.year, today.month):
        return [Problem("card.expiry_month", "card_expired", "the card has expired")]
    return []
