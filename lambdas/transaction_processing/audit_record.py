"""The audit record written to S3 for every processed transaction.

Key: ``audit/yyyy=YYYY/mm=MM/dd=DD/<transaction_id>.json`` with the date of
processing (UTC), so Athena or Glue can partition by date. Schema version 2
added who created, fraud-checked and processed the transaction
(``<step>_by``: the reduced IAM principal, ``<step>_by_arn``: the ARN API
Gateway named, for a role the session). The record is built
only from the stored transaction, so rewriting it after a failed attempt gives
the same bytes. It holds no card data: no number, token, last four digits,
brand, expiry or CVV.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from paycommon import money
from paycommon.alb import dumps

AUDIT_PREFIX = "audit/"
SCHEMA_VERSION = 2
ATTRIBUTED_STEPS = ("created", "fraud_checked", "processed")


def audit_key(transaction_id: str, processed_at: str) -> str:
    """The S3 key of a transaction's audit record."""
    when = datetime.fromisoformat(processed_at)
    return f"{AUDIT_PREFIX}yyyy={when.year:04d}/mm={when.month:02d}/dd={when.day:02d}/{transaction_id}.json"


def audit_record(item: Mapping[str, Any], environment: str | None) -> bytes:
    """The audit record's JSON bytes."""
    fraud = item.get("fraud") or {}
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event": "transaction.processed",
        "environment": environment,
        "transaction_id": item["transaction_id"],
        "merchant_id": item.get("merchant_id"),
        "user_id": item.get("user_id"),
        "amount": money.format_amount(Decimal(item["amount"]), item["currency"]),
        "currency": item["currency"],
        "status": item["status"],
        "reference": item.get("reference"),
        "created_at": item.get("created_at"),
        "fraud_checked_at": item.get("fraud_checked_at"),
        "fraud_decision": fraud.get("decision"),
        "fraud_rules": [
            {"rule": rule.get("rule"), "triggered": rule.get("triggered")} for rule in fraud.get("rules", [])
        ],
        "processed_at": item["processed_at"],
    }
    # Who created, fraud-checked and processed it (PCI DSS 10.2.2): the reduced principal and the
    # ARN API Gateway named (for a role, the session).
    for step in ATTRIBUTED_STEPS:
        record[f"{step}_by"] = item.get(f"{step}_by")
        record[f"{step}_by_arn"] = item.get(f"{step}_by_arn")
    return (dumps(record) + "\n").encode("utf-8")
