"""ISO 4217 currencies and exact decimal amounts.

Amounts are ``Decimal`` from the request body to the table (JSON numbers are
parsed with ``parse_float=Decimal``; DynamoDB numbers are Decimals), never
floats. An amount is accepted only in plain notation (``12.30``, ``100``),
positive, and exactly representable in the currency's minor unit
(``12.345`` EUR is rejected, ``12.50`` EUR and ``12.5`` EUR are the same).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Active ISO 4217 codes with their minor-unit exponent.
_ZERO_DECIMAL = _codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
_THREE_DECIMAL = _codes("BHD IQD JOD KWD LYD OMR TND")
_FOUR_DECIMAL = _codes("CLF UYW")
_TWO_DECIMAL = _codes(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL
    BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR
    ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD
    MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN
    PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES
    WST XCD XCG YER ZAR ZMW ZWG
    """
)
CURRENCY_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMAL, 2),
    **dict.fromkeys(_ZERO_DECIMAL, 0),
    **dict.fromkeys(_THREE_DECIMAL, 3),
    **dict.fromkeys(_FOUR_DECIMAL, 4),
}

_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?")


class AmountError(ValueError):
    """An amount is not acceptable; ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code (upper case)."""
    return code in CURRENCY_MINOR_UNITS


def minor_units(currency: str) -> int:
    """The number of decimal places of a currency's minor unit."""
    try:
        return CURRENCY_MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}") from None


def parse_amount(value: object) -> Decimal:
    """A Decimal from a JSON string or number in plain notation.

    Raises AmountError(``amount_invalid``) for anything else (booleans, floats,
    exponent notation, NaN, text).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise AmountError("amount_invalid", "amount must be a decimal number")
    text = str(value).strip()
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise AmountError("amount_invalid", "amount must be a decimal number in plain notation")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise AmountError("amount_invalid", "amount must be a decimal number") from None


def quantum(currency: str) -> Decimal:
    """The value of one minor unit (``0.01`` for EUR, ``1`` for JPY)."""
    return Decimal(1).scaleb(-minor_units(currency))


def check_amount(amount: Decimal, currency: str, minimum: Decimal, maximum: Decimal) -> None:
    """Raises AmountError unless ``amount`` is positive, within bounds and exact in ``currency``."""
    if amount <= 0:
        raise AmountError("amount_not_positive", "amount must be greater than zero")
    if amount != amount.quantize(quantum(currency)):
        raise AmountError(
            "amount_precision",
            f"amount has more than {minor_units(currency)} decimal places for {currency}",
        )
    if amount < minimum or amount > maximum:
        raise AmountError("amount_out_of_range", f"amount must be between {minimum} and {maximum}")


def normalize(amount: Decimal, currency: str) -> Decimal:
    """``amount`` with exactly the currency's number of decimal places."""
    return amount.quantize(quantum(currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """The canonical text of an amount (``12.50`` EUR, ``1200`` JPY)."""
    return format(normalize(amount, currency), "f")


def to_minor_units(amount: Decimal, currency: str) -> int:
    """The amount as an integer count of minor units (``12.50`` EUR is ``1250``)."""
    return int(normalize(amount, currency).scaleb(minor_units(currency)))
