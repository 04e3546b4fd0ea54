"""``POST /payments/{id}/process``: process an approved transaction exactly once.

Answers 200 with the final state, 404 for an unknown id, 409 when the
transaction is not APPROVED (the body carries its current state, so a client
retrying after a lost answer learns that it was processed).

Exactly once: the move APPROVED -> PROCESSED is one conditional update on
``status = APPROVED``, made before any side effect; of two concurrent
requests exactly one wins. The update marks ``audit_status = PENDING``; the
audit record is then written to S3 (SSE-KMS with ``AUDIT_KMS_KEY_ID``) and
the item marked ``WRITTEN``. If the write fails the answer is 503 and a retry
writes the same record (same key, same bytes) and completes the request.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from audit_record import audit_key, audit_record
from botocore.exceptions import BotoCoreError, ClientError
from paycommon import money
from paycommon.access import MerchantAccess
from paycommon.alb import HttpError, Request, Response, match_route
from paycommon.aws import client
from paycommon.config import env_optional, env_str
from paycommon.logs import get_logger
from paycommon.runtime import alb_handler
from paycommon.store import StateConflict, Status, TransactionStore

ROUTE = re.compile(r"(?:/[A-Za-z0-9_.~-]+)*/payments/(?P<transaction_id>[^/]+)/process/?")
AUDIT_PENDING = "PENDING"
AUDIT_WRITTEN = "WRITTEN"
logger = get_logger("transaction_processing")


@dataclass(frozen=True)
class Settings:
    """This function's configuration (see lambdas/README.md)."""

    table: str
    bucket: str
    kms_key_id: str
    environment: str | None

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            table=env_str("TRANSACTIONS_TABLE"),
            bucket=env_str("AUDIT_BUCKET"),
            kms_key_id=env_str("AUDIT_KMS_KEY_ID"),
            environment=env_optional("ENVIRONMENT"),
        )


def _now() -> str:
    return datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds")


def _body(item: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_id": item["transaction_id"],
        "status": item["status"],
        "merchant_id": item.get("merchant_id"),
        "user_id": item.get("user_id"),
    }
    if "amount" in item and "currency" in item:
        body["amount"] = money.format_amount(Decimal(item["amount"]), item["currency"])
        body["currency"] = item["currency"]
    for name in ("created_at", "fraud_checked_at", "processed_at", "audit_status"):
        if name in item:
            body[name] = item[name]
    return body


def _write_audit(store: TransactionStore, item: dict[str, Any], settings: Settings) -> Response:
    key = item["audit_key"]
    try:
        client("s3").put_object(
            Bucket=settings.bucket,
            Key=key,
            Body=audit_record(item, settings.environment),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=settings.kms_key_id,
        )
    except (ClientError, BotoCoreError):
        logger.exception("could not write the audit record", extra={"transaction_id": item["transaction_id"]})
        raise HttpError(
            503,
            "audit_not_written",
            "the transaction is processed but its audit record was not written; retry",
            details=_body(item),
        ) from None
    try:
        item = store.update(item, Status.PROCESSED, {"audit_status": AUDIT_WRITTEN, "updated_at": _now()})
    except StateConflict as exc:  # pragma: no cover - PROCESSED is final; defensive only
        item = exc.current or item
    logger.info(
        "transaction processed",
        extra={"transaction_id": item["transaction_id"], "audit_key": key},
    )
    return Response(200, _body(item))


@alb_handler(logger)
def handler(request: Request) -> Response:
    """The Lambda entry point (``transaction_processing.handler``)."""
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
    if item["status"] == Status.PROCESSED and item.get("audit_status") == AUDIT_PENDING:
        return _write_audit(store, item, settings)
    if item["status"] != Status.APPROVED:
        raise HttpError(
            409,
            "invalid_state",
            f"transaction is {item['status']}; processing needs {Status.APPROVED.value}",
            details=_body(item),
        )
    stamp = _now()
    try:
        item = store.update(
            item,
            Status.APPROVED,
            {
                "status": Status.PROCESSED.value,
                "processed_at": stamp,
                "updated_at": stamp,
                "audit_status": AUDIT_PENDING,
                "audit_key": audit_key(item["transaction_id"], stamp),
                **caller.attribution("processed"),
            },
        )
    except StateConflict as exc:
        current = exc.current or item
        raise HttpError(
            409,
            "invalid_state",
            f"transaction is {current['status']}; processing needs {Status.APPROVED.value}",
            details=_body(current),
        ) from None
    return _write_audit(store, item, settings)
