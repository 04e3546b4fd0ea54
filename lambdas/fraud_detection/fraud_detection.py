"""``POST /payments/{id}/fraud-check``: approve or flag a validated transaction.

Answers 200 with the decision and the names of the rules that triggered (the
rules' limits and observations stay in the stored item; see ``fraud_rules``),
404 for an unknown id, 409 when the transaction is not VALIDATED (the body
carries its current status and, once checked, its decision).

The move VALIDATED -> APPROVED / FLAGGED is one conditional update on
``status = VALIDATED``: of two concurrent checks exactly one wins and the
other gets 409, so no update is lost.

A FLAGGED transaction is announced on the failed-transactions SNS topic. The
update marks it ``alert_status = PENDING`` and the publish then marks it
``SENT``; if the publish fails the answer is 503 and a retry of the same
request publishes again (at-least-once; consumers deduplicate on
``transaction_id``). The message carries no card data.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fraud_rules import FraudLimits, evaluate
from paycommon import money
from paycommon.access import MerchantAccess
from paycommon.alb import HttpError, Request, Response, dumps, match_route
from paycommon.aws import client
from paycommon.config import ConfigError, decimal_value, env_int, env_json, env_optional, env_str
from paycommon.logs import get_logger
from paycommon.runtime import alb_handler
from paycommon.store import History, StateConflict, Status, TransactionStore

ROUTE = re.compile(r"(?:/[A-Za-z0-9_.~-]+)*/payments/(?P<transaction_id>[^/]+)/fraud-check/?")
THRESHOLDS_VARIABLE = "FRAUD_AMOUNT_THRESHOLDS"
ALERT_PENDING = "PENDING"
ALERT_SENT = "SENT"
logger = get_logger("fraud_detection")


@dataclass(frozen=True)
class Settings:
    """This function's configuration (see lambdas/README.md)."""

    table: str
    topic_arn: str
    limits: FraudLimits

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            table=env_str("TRANSACTIONS_TABLE"),
            topic_arn=env_str("FAILED_TRANSACTIONS_TOPIC_ARN"),
            limits=FraudLimits(
                amount_thresholds=_thresholds(),
                velocity_window_seconds=env_int("FRAUD_VELOCITY_WINDOW_SECONDS", 3600, minimum=1, maximum=30 * 86400),
                velocity_max=env_int("FRAUD_VELOCITY_MAX_TRANSACTIONS", 5, minimum=1),
                failure_window_seconds=env_int("FRAUD_FAILURE_WINDOW_SECONDS", 86400, minimum=1, maximum=30 * 86400),
                failure_max=env_int("FRAUD_FAILURE_MAX", 3, minimum=1),
                card_velocity_window_seconds=env_int(
                    "FRAUD_CARD_VELOCITY_WINDOW_SECONDS", 3600, minimum=1, maximum=30 * 86400
                ),
                card_velocity_max=env_int("FRAUD_CARD_VELOCITY_MAX_TRANSACTIONS", 5, minimum=1),
            ),
        )


def _thresholds() -> dict[str, Decimal]:
    """``FRAUD_AMOUNT_THRESHOLDS``: currency -> threshold in that currency's major units."""
    raw = env_json(THRESHOLDS_VARIABLE)
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{THRESHOLDS_VARIABLE} must be a JSON object of currency -> threshold")
    return {
        str(code): decimal_value(value, f"{THRESHOLDS_VARIABLE}[{code}]")
        for code, value in raw.items()
    }


def _now() -> str:
    return datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds")


def _body(item: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"transaction_id": item["transaction_id"], "status": item["status"]}
    if "fraud" in item:
        # The decision and the rules that triggered; never the limits, windows or counts.
        body["fraud"] = {"decision": item["fraud"].get("decision"), "reasons": item["fraud"].get("reasons", [])}
        body["fraud_checked_at"] = item.get("fraud_checked_at")
    return body


def _conflict(item: dict[str, Any]) -> HttpError:
    return HttpError(
        409,
        "invalid_state",
        f"transaction is {item['status']}; a fraud check needs {Status.VALIDATED.value}",
        details=_body(item),
    )


def _alert_message(item: dict[str, Any]) -> str:
    return dumps(
        {
            "event": "transaction.flagged",
            "transaction_id": item["transaction_id"],
            "merchant_id": item.get("merchant_id"),
            "user_id": item.get("user_id"),
            "amount": money.format_amount(Decimal(item["amount"]), item["currency"]),
            "currency": item["currency"],
            "reasons": item.get("fraud", {}).get("reasons", []),
            "flagged_at": item.get("fraud_checked_at"),
            "environment": env_optional("ENVIRONMENT"),
        }
    )


def _publish_alert(store: TransactionStore, item: dict[str, Any], topic_arn: str) -> Response:
    try:
        published = client("sns").publish(
            TopicArn=topic_arn,
            Subject="Flagged transaction",
            Message=_alert_message(item),
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": "transaction.flagged"}},
        )
    except (ClientError, BotoCoreError):
        logger.exception("could not publish the fraud alert", extra={"transaction_id": item["transaction_id"]})
        raise HttpError(
            503,
            "alert_not_sent",
            "the transaction is flagged but the alert was not published; retry the request",
            details=_body(item),
        ) from None
    try:
        item = store.update(
            item,
            Status.FLAGGED,
            {
                "alert_status": ALERT_SENT,
                "alert_message_id": published["MessageId"],
                "updated_at": _now(),
            },
        )
    except StateConflict as exc:  # pragma: no cover - FLAGGED is final; defensive only
        item = exc.current or item
    logger.info(
        "fraud alert published",
        extra={"transaction_id": item["transaction_id"], "message_id": published["MessageId"]},
    )
    return Response(200, _body(item))


@alb_handler(logger)
def handler(request: Request) -> Response:
    """The Lambda entry point (``fraud_detection.handler``)."""
    params = match_route(request, "POST", ROUTE)
    settings = Settings.from_env()
    caller = MerchantAccess.from_env().caller(request)
    store = TransactionStore(client("dynamodb"), settings.table)
    item = store.find(params["transaction_id"])
    if item is not None and not caller.may_act_for(item.get("merchant_id")):
        # Another merchant's transaction is answered exactly like a missing one.
        logger.warning(
            "transaction of a merchant the caller may not act for",
            extra={"caller": caller.principal, "transaction_id": item["transaction_id"]},
        )
        item = None
    if item is None:
        raise HttpError(404, "not_found", "no such transaction")
    if item["status"] == Status.FLAGGED and item.get("alert_status") == ALERT_PENDING:
        return _publish_alert(store, item, settings.topic_arn)
    if item["status"] != Status.VALIDATED:
        raise _conflict(item)

    limits = settings.limits
    if item.get("currency") not in limits.amount_thresholds:
        raise ConfigError(f"{THRESHOLDS_VARIABLE} has no threshold for {item.get('currency')}")
    created = int(item["timestamp"])
    history = store.user_history(
        item["merchant_id"], item["user_id"], created - limits.history_window_seconds * 1000, created
    )
    card_history = (
        store.card_history(item["card_token"], created - limits.card_velocity_window_seconds * 1000, created)
        if item.get("card_token")
        else History([], complete=True)
    )
    decision = evaluate(item, history.items, limits, card_history.items,
                        history_complete=history.complete, card_history_complete=card_history.complete)
    stamp = _now()
    changes: dict[str, Any] = {
        "status": decision.status.value,
        "fraud": {
            "decision": decision.status.value,
            "reasons": decision.reasons,
            "rules": [result.as_dict() for result in decision.results],
        },
        "fraud_checked_at": stamp,
        "updated_at": stamp,
        **caller.attribution("fraud_checked"),
    }
    if decision.status == Status.FLAGGED:
        changes["alert_status"] = ALERT_PENDING
    try:
        updated = store.update(item, Status.VALIDATED, changes)
    except StateConflict as exc:
        raise _conflict(exc.current or item) from None

    logger.info(
        "fraud check done",
        extra={
            "transaction_id": updated["transaction_id"],
            "status": updated["status"],
            "reasons": decision.reasons,
        },
    )
    if decision.status == Status.FLAGGED:
        return _publish_alert(store, updated, settings.topic_arn)
    return Response(200, _body(updated))
