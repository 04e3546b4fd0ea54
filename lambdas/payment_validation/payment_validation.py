"""``POST /payments``: validate a payment and store the outcome, idempotently.

Answers:

- 201 ``{"transaction_id", "status": "VALIDATED", ...}`` with ``Location``;
- 400 when the body is malformed (not a JSON object, unknown or missing
  fields, wrong types, bad identifiers, a bad ``Idempotency-Key``), listing
  every problem; nothing is stored;
- 422 ``{"transaction_id", "status": "REJECTED", "errors": [...]}`` listing
  every reason; the rejection is stored (fraud rules count failures);
- 422 ``idempotency_key_reused`` when a key is replayed with a different request.

PCI: the card number is used in memory only, to check it and to compute its
token (see ``card_tokens``); the item keeps the brand, the last four digits
and the token. A rejected item keeps the token too when the card number itself
passed (Luhn-valid, the brand's length, no leading zero), so card velocity
counts every attempt with a card. The CVV is checked for format and then dropped: it is not
stored, logged, hashed or part of the request fingerprint.

Idempotency: the scope is the merchant. The key is the ``Idempotency-Key``
header, or, without one, a key derived from the request fingerprint (so an
identical retry is recognised; clients that mean to submit two identical
payments must send distinct keys). The marker and the transaction are written
in one transaction, each only if absent (see ``paycommon.store``); a retry
finds the marker and gets the original answer (status code and body) with
``Idempotent-Replayed: true``, and nothing is written twice. A request that
DynamoDB cancels because a concurrent one is writing the same marker
(``TransactionConflict``) gets the same answer as a retry: the original one,
or 409 "retry" while it is still being written.

The fingerprint uses the parsed amount (``12.5`` and ``12.50`` are one
request). Rejections leave no marker: a corrected request (a mistyped CVV,
which is not part of the fingerprint) is validated afresh under the same key
instead of being answered with the old 422; a key that already produced a
payment still answers as before.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from card_tokens import CardTokenizer
from paycommon import cards, money
from paycommon.access import Caller, MerchantAccess
from paycommon.alb import HttpError, Request, Response, match_route
from paycommon.aws import client
from paycommon.config import ConfigError, decimal_value, env_csv, env_int, env_json, env_str
from paycommon.logs import get_logger
from paycommon.runtime import alb_handler
from paycommon.store import MARKER_PREFIX, IdempotencyConflict, Status, TransactionStore, merchant_user
from validation_rules import IDENTIFIER, Assessment, MalformedRequest, PaymentRequest, assess, parse_request

ROUTE = re.compile(r"(?:/[A-Za-z0-9_.~-]+)*/payments/?")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# A UUID key is kept whatever digits it holds: about 0.3 % of random UUIDs hold a Luhn-valid run of
# 13-19 digits, and the marker id is a keyed MAC, so no key is kept in a form that gives them back.
_UUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
LIMITS_VARIABLE = "AMOUNT_LIMITS"
logger = get_logger("payment_validation")


@dataclass(frozen=True)
class Settings:
    """This function's configuration (see lambdas/README.md)."""

    table: str
    allowed_currencies: frozenset[str]
    amount_limits: dict[str, tuple[Decimal, Decimal]]
    token_key_id: str
    idempotency_ttl_seconds: int

    @classmethod
    def from_env(cls) -> Settings:
        currencies = frozenset(code.upper() for code in env_csv("ALLOWED_CURRENCIES"))
        unknown = sorted(code for code in currencies if not money.is_currency(code))
        if unknown:
            raise ConfigError(f"ALLOWED_CURRENCIES has unknown codes: {', '.join(unknown)}")
        limits = _amount_limits()
        missing = sorted(currencies - set(limits))
        if missing:
            raise ConfigError(f"{LIMITS_VARIABLE} has no limits for {', '.join(missing)}")
        return cls(
            table=env_str("TRANSACTIONS_TABLE"),
            allowed_currencies=currencies,
            amount_limits=limits,
            token_key_id=env_str("CARD_TOKEN_KMS_KEY_ID"),
            idempotency_ttl_seconds=3600 * env_int("IDEMPOTENCY_TTL_HOURS", 24, minimum=1, maximum=24 * 365),
        )


def _amount_limits() -> dict[str, tuple[Decimal, Decimal]]:
    """``AMOUNT_LIMITS``: currency -> {"min", "max"}, inclusive, in that currency's major units."""
    raw = env_json(LIMITS_VARIABLE)
    if not isinstance(raw, dict):
        raise ConfigError(f"{LIMITS_VARIABLE} must be a JSON object of currency -> {{min, max}}")
    limits: dict[str, tuple[Decimal, Decimal]] = {}
    for code, bounds in raw.items():
        if not isinstance(bounds, dict) or set(bounds) != {"min", "max"}:
            raise ConfigError(f"{LIMITS_VARIABLE}[{code}] must be {{\"min\": ..., \"max\": ...}}")
        low = decimal_value(bounds["min"], f"{LIMITS_VARIABLE}[{code}].min")
        high = decimal_value(bounds["max"], f"{LIMITS_VARIABLE}[{code}].max")
        if low > high:
            raise ConfigError(f"{LIMITS_VARIABLE}[{code}]: min is above max")
        limits[str(code).upper()] = (low, high)
    return limits


def _idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header; HttpError 400 for a malformed one or one holding a card number
    anywhere (``order-4111111111111111`` too), unless it is a UUID (see ``_UUID``). The marker id
    is a keyed MAC of the key besides (``marker_id``)."""
    key = request.header("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise _bad_idempotency_key("Idempotency-Key must be 1-255 visible ASCII characters")
    if not _UUID.fullmatch(key) and cards.contains_pan(key):
        raise _bad_idempotency_key("Idempotency-Key looks like a card number")
    return key


def _bad_idempotency_key(message: str) -> HttpError:
    return HttpError(
        400,
        "malformed_request",
        "the request is malformed",
        details={"errors": [{"field": "Idempotency-Key", "code": "invalid_idempotency_key", "message": message}]},
    )


def fingerprint(payment: PaymentRequest, card_token: str, amount: Decimal | None = None) -> str:
    """A digest identifying the request's content, without the card number or CVV.

    ``amount`` is the parsed amount: ``"12.5"``, ``"12.50"`` and ``12.5`` are one
    request. An amount that did not parse is taken as sent.
    """
    canonical = json.dumps(
        {
            "v": 2,
            "merchant_id": payment.merchant_id,
            "user_id": payment.user_id,
            "amount": format(amount.normalize(), "f") if amount is not None else str(payment.amount),
            "currency": payment.currency,
            "card_token": card_token,
            "expiry": f"{payment.expiry_month}/{payment.expiry_year}",
            "reference": payment.reference,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def marker_id(tokenizer: CardTokenizer, merchant_id: str, key: str) -> str:
    """The idempotency marker's ``transaction_id`` for a key in a merchant's scope: an HMAC under the
    card-token KMS key (another purpose label), so reading the table is no oracle for keys."""
    return MARKER_PREFIX + tokenizer.marker_digest(merchant_id, key)


def _transaction_item(
    payment: PaymentRequest,
    assessment: Assessment,
    card_token: str,
    now: datetime,
    caller: Caller,
) -> dict[str, Any]:
    status = Status.VALIDATED if assessment.valid else Status.REJECTED
    stamp = now.isoformat(timespec="milliseconds")
    item: dict[str, Any] = {
        "transaction_id": str(uuid.uuid4()),
        "timestamp": int(now.timestamp() * 1000),
        "status": status.value,
        "merchant_id": payment.merchant_id,
        "user_id": payment.user_id,
        "merchant_user": merchant_user(payment.merchant_id, payment.user_id),
        "created_at": stamp,
        "updated_at": stamp,
        **caller.attribution("created"),
    }
    if assessment.amount is not None:
        item["amount"] = assessment.amount
    if assessment.currency is not None:
        item["currency"] = assessment.currency
    if assessment.card_brand is not None:
        item["card_brand"] = assessment.card_brand
    if assessment.card_last4 is not None:
        item["card_last4"] = assessment.card_last4
    if payment.reference is not None:
        item["reference"] = payment.reference
    if card_token:
        # Rejected attempts too, when the card number itself was sound (Luhn-valid, no leading zero):
        # card velocity counts every attempt with a card, so testing one under fresh user ids shows.
        item["card_token"] = card_token
    if not assessment.valid:
        item["errors"] = [problem.as_dict() for problem in assessment.problems]
    return item


def result(item: dict[str, Any], outcome: str) -> Response:
    """The answer for a stored transaction whose validation outcome is ``outcome``."""
    body: dict[str, Any] = {
        "transaction_id": item["transaction_id"],
        "status": outcome,
        "merchant_id": item["merchant_id"],
        "user_id": item["user_id"],
        "created_at": item["created_at"],
    }
    if "amount" in item and "currency" in item:
        amount = Decimal(item["amount"])
        exact = amount == money.normalize(amount, item["currency"])
        # A rejected amount is shown as sent (12.345 EUR), never rounded into a different one.
        body["amount"] = money.format_amount(amount, item["currency"]) if exact else format(amount, "f")
        body["currency"] = item["currency"]
    if "card_brand" in item:
        body["card"] = {"brand": item["card_brand"], "last4": item.get("card_last4")}
    if "reference" in item:
        body["reference"] = item["reference"]
    if outcome == Status.VALIDATED:
        return Response(201, body, {"location": f"/payments/{item['transaction_id']}"})
    body["errors"] = item.get("errors", [])
    return Response(422, body)


def _replay(store: TransactionStore, marker_key: str, request_fingerprint: str) -> Response:
    marker = store.get(marker_key, 0)
    if marker is None:
        raise HttpError(409, "conflict", "a concurrent request is in progress; retry")
    if marker["request_fingerprint"] != request_fingerprint:
        raise HttpError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        )
    original = store.get(marker["target_transaction_id"], int(marker["target_timestamp"]))
    if original is None:
        raise RuntimeError("idempotency marker points at a missing transaction")
    logger.info(
        "idempotent replay",
        extra={"transaction_id": original["transaction_id"], "outcome": marker["outcome"]},
    )
    response = result(original, marker["outcome"])
    return Response(response.status, response.body, {**response.headers, "idempotent-replayed": "true"})


def _plainly_another_merchant(caller: Caller, merchant_id: object) -> bool:
    """True when ``merchant_id`` is a well-formed merchant id (and so short, and no card number)
    the caller may not act for. Anything else is left to ``parse_request``, which names it."""
    return (
        isinstance(merchant_id, str)
        and IDENTIFIER.fullmatch(merchant_id) is not None
        and not caller.may_act_for(merchant_id)
        and not cards.stored_text_holds_pan(merchant_id)
    )


def _merchant_not_allowed(caller: Caller, merchant_id: str | None) -> HttpError:
    logger.warning(
        "caller may not act for the merchant",
        extra={"caller": caller.principal, "merchant_id": merchant_id},
    )
    return HttpError(
        403,
        "forbidden",
        "the caller may not act for this merchant",
        details={"errors": [{"field": "merchant_id", "code": "merchant_not_allowed",
                             "message": "the caller may not act for this merchant"}]},
    )


@alb_handler(logger)
def handler(request: Request) -> Response:
    """The Lambda entry point (``payment_validation.handler``)."""
    match_route(request, "POST", ROUTE)
    settings = Settings.from_env()
    caller = MerchantAccess.from_env().caller(request)
    if not caller.merchants:
        # May act for no merchant: refused before the body is even read.
        raise _merchant_not_allowed(caller, None)
    key = _idempotency_key(request)
    body = request.json_object()
    merchant_id = body.get("merchant_id")
    if _plainly_another_merchant(caller, merchant_id):
        # Before any scan of the body: what the caller may not do costs no more than this.
        raise _merchant_not_allowed(caller, merchant_id)
    try:
        payment = parse_request(body)
    except MalformedRequest as exc:
        raise HttpError(
            400,
            "malformed_request",
            "the request is malformed",
            details={"errors": [problem.as_dict() for problem in exc.problems]},
        ) from None
    if not caller.may_act_for(payment.merchant_id):
        raise _merchant_not_allowed(caller, payment.merchant_id)

    now = datetime.fromtimestamp(time.time(), UTC)
    assessment = assess(
        payment,
        allowed_currencies=settings.allowed_currencies,
        amount_limits=settings.amount_limits,
        today=date(now.year, now.month, now.day),
    )
    tokenizer = CardTokenizer(client("kms"), settings.token_key_id)
    card_token = tokenizer.token(assessment.card_digits) if assessment.card_digits else ""
    request_fingerprint = fingerprint(payment, card_token, assessment.amount)
    marker_key = marker_id(tokenizer, payment.merchant_id, key or f"derived:{request_fingerprint}")

    item = _transaction_item(payment, assessment, card_token, now, caller)
    store = TransactionStore(client("dynamodb"), settings.table)
    marker: dict[str, Any] | None = None
    if assessment.valid:
        marker = {
            "transaction_id": marker_key,
            "timestamp": 0,
            "target_transaction_id": item["transaction_id"],
            "target_timestamp": item["timestamp"],
            "outcome": item["status"],
            "request_fingerprint": request_fingerprint,
            "created_at": item["created_at"],
            "expires_at": int(now.timestamp()) + settings.idempotency_ttl_seconds,
        }
    elif store.get(marker_key, 0) is not None:
        # The key (or this very request) already produced a payment: answer as before.
        return _replay(store, marker_key, request_fingerprint)
    try:
        store.create(item, marker)
    except IdempotencyConflict:
        return _replay(store, marker_key, request_fingerprint)

    logger.info(
        "payment validated" if assessment.valid else "payment rejected",
        extra={
            "transaction_id": item["transaction_id"],
            "status": item["status"],
            "merchant_id": payment.merchant_id,
            "caller": caller.principal,
            "card_brand": item.get("card_brand"),
            "card_last4": item.get("card_last4"),
            "reasons": [problem.code for problem in assessment.problems],
            "idempotency_key_supplied": key is not None,
        },
    )
    return result(item, item["status"])
