"""POST /payments/{id}/process against moto: exactly-once processing and the audit record."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import fraud_detection
import payment_validation
import pytest
import transaction_processing
from audit_record import audit_key
from lambda_testkit import VISA, alb_event, invoke, payment
from paycommon.store import Status, TransactionStore

AUDIT_KEY = re.compile(r"audit/yyyy=(?P<y>\d{4})/mm=(?P<m>\d{2})/dd=(?P<d>\d{2})/(?P<id>[0-9a-f-]{36})\.json")


def approved(**overrides: Any) -> str:
    answer = invoke(
        payment_validation.handler,
        alb_event(
            "POST",
            "/payments",
            payment(**overrides),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ),
    )
    transaction_id = str(answer.body["transaction_id"])
    invoke(fraud_detection.handler, alb_event("POST", f"/payments/{transaction_id}/fraud-check"))
    return transaction_id


def process(transaction_id: str) -> Any:
    return invoke(transaction_processing.handler, alb_event("POST", f"/payments/{transaction_id}/process"))


def stored(aws: Any, transaction_id: str) -> dict[str, Any]:
    item = TransactionStore(aws.dynamodb, aws.table).find(transaction_id)
    assert item is not None
    return item


def audit_objects(aws: Any) -> list[str]:
    listing = aws.s3.list_objects_v2(Bucket=aws.bucket)
    return [entry["Key"] for entry in listing.get("Contents", [])]


def test_approved_transaction_is_processed_and_audited(aws: Any) -> None:
    transaction_id = approved(reference="order-9")
    answer = process(transaction_id)

    assert answer.status == 200
    assert answer.body["status"] == "PROCESSED"
    assert answer.body["amount"] == "125.50"
    assert answer.body["audit_status"] == "WRITTEN"
    item = stored(aws, transaction_id)
    assert item["status"] == "PROCESSED"
    assert item["processed_at"] == answer.body["processed_at"]

    (key,) = audit_objects(aws)
    match = AUDIT_KEY.fullmatch(key)
    assert match is not None and match["id"] == transaction_id
    processed = datetime.fromisoformat(item["processed_at"])
    assert (int(match["y"]), int(match["m"]), int(match["d"])) == (
        processed.year,
        processed.month,
        processed.day,
    )
    assert item["audit_key"] == key

    head = aws.s3.head_object(Bucket=aws.bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == aws.audit_key_id
    assert head["ContentType"] == "application/json"
    raw = aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read().decode()
    record = json.loads(raw)
    assert record["transaction_id"] == transaction_id
    assert record["status"] == "PROCESSED"
    assert record["amount"] == "125.50" and record["currency"] == "EUR"
    assert record["fraud_decision"] == "APPROVED"
    assert record["reference"] == "order-9"
    assert record["environment"] == "test"
    for forbidden in (VISA, "1111", "tok_", "visa", "card_", "cvv", "expiry"):
        assert forbidden not in raw.replace('"card_velocity"', "")  # a rule's name, not card data
    assert not {key for key in record if "card" in key}


def test_processing_happens_once(aws: Any) -> None:
    transaction_id = approved()
    first = process(transaction_id)
    again = process(transaction_id)
    assert first.status == 200
    assert again.status == 409
    assert again.body["status"] == "PROCESSED"
    assert again.body["processed_at"] == first.body["processed_at"]
    assert len(audit_objects(aws)) == 1
    versions = aws.s3.list_object_versions(Bucket=aws.bucket).get("Versions", [])
    assert len(versions) == 1


def test_only_approved_transactions_are_processed(aws: Any) -> None:
    validated = invoke(payment_validation.handler, alb_event("POST", "/payments", payment(amount="3.00"))).body[
        "transaction_id"
    ]
    flagged = approved(amount="9000.00")
    for transaction_id, status in ((validated, "VALIDATED"), (flagged, "FLAGGED")):
        answer = process(transaction_id)
        assert (answer.status, answer.body["status"]) == (409, status)
        assert stored(aws, transaction_id)["status"] == status
    assert audit_objects(aws) == []


def test_unknown_transaction_is_404(aws: Any) -> None:
    assert process(str(uuid.uuid4())).status == 404
    answer = invoke(transaction_processing.handler, alb_event("GET", f"/payments/{uuid.uuid4()}/process"))
    assert answer.status == 405


def test_failed_audit_write_is_completed_by_a_retry(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    transaction_id = approved()
    monkeypatch.setenv("AUDIT_BUCKET", "no-such-audit-bucket")
    failed = process(transaction_id)
    assert failed.status == 503
    assert failed.body["error"] == "audit_not_written"
    item = stored(aws, transaction_id)
    assert (item["status"], item["audit_status"]) == ("PROCESSED", "PENDING")
    assert audit_objects(aws) == []

    monkeypatch.setenv("AUDIT_BUCKET", aws.bucket)
    retried = process(transaction_id)
    assert retried.status == 200
    assert retried.body["processed_at"] == item["processed_at"]
    assert audit_objects(aws) == [item["audit_key"]]
    assert stored(aws, transaction_id)["audit_status"] == "WRITTEN"
    assert process(transaction_id).status == 409


def test_concurrent_processing_loses_cleanly(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another request processes the transaction between our read and our update."""
    transaction_id = approved()
    real_find = TransactionStore.find

    def find_then_race(self: TransactionStore, wanted: str) -> Any:
        item = real_find(self, wanted)
        if item is not None and item["status"] == "APPROVED":
            TransactionStore(aws.dynamodb, aws.table).update(
                item, Status.APPROVED, {"status": "PROCESSED", "processed_at": "elsewhere"}
            )
        return item

    monkeypatch.setattr(TransactionStore, "find", find_then_race)
    answer = process(transaction_id)
    assert answer.status == 409
    assert answer.body["status"] == "PROCESSED"
    assert answer.body["processed_at"] == "elsewhere"
    assert audit_objects(aws) == []


def test_missing_configuration_is_500(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    transaction_id = approved()
    monkeypatch.delenv("AUDIT_KMS_KEY_ID")
    assert process(transaction_id).status == 500
    assert stored(aws, transaction_id)["status"] == "APPROVED"


def test_audit_key_is_date_partitioned() -> None:
    when = datetime(2025, 3, 7, 23, 59, 59, tzinfo=UTC).isoformat(timespec="milliseconds")
    assert audit_key("abc", when) == "audit/yyyy=2025/mm=03/dd=07/abc.json"
