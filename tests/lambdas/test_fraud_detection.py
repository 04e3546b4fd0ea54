"""POST /payments/{id}/fraud-check against moto, and the rules on their own."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

import fraud_detection
import payment_validation
import pytest
from fraud_rules import FraudLimits, evaluate
from lambda_testkit import VISA, alb_event, invoke, payment
from paycommon.store import Status, TransactionStore, serialize


def validate(**overrides: Any) -> str:
    answer = invoke(
        payment_validation.handler,
        alb_event(
            "POST",
            "/payments",
            payment(**overrides),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ),
    )
    return str(answer.body["transaction_id"])


def check(transaction_id: str, *, method: str = "POST") -> Any:
    return invoke(fraud_detection.handler, alb_event(method, f"/payments/{transaction_id}/fraud-check"))


def stored(aws: Any, transaction_id: str) -> dict[str, Any]:
    item = TransactionStore(aws.dynamodb, aws.table).find(transaction_id)
    assert item is not None
    return item


def test_ordinary_payment_is_approved(aws: Any) -> None:
    transaction_id = validate()
    answer = check(transaction_id)

    assert answer.status == 200
    assert answer.body["status"] == "APPROVED"
    # The decision and reason codes only: limits, windows and counts would help evade the rules.
    assert answer.body["fraud"] == {"decision": "APPROVED", "reasons": []}
    item = stored(aws, transaction_id)
    assert [rule["rule"] for rule in item["fraud"]["rules"]] == [
        "amount_threshold",
        "velocity",
        "repeated_failures",
        "card_velocity",
    ]
    assert not any(rule["triggered"] for rule in item["fraud"]["rules"])
    assert item["status"] == "APPROVED"
    assert "alert_status" not in item
    assert aws.published() == []


def test_large_amount_is_flagged_and_announced(aws: Any) -> None:
    transaction_id = validate(amount="6000.00")
    answer = check(transaction_id)

    assert answer.status == 200
    assert answer.body["status"] == "FLAGGED"
    assert answer.body["fraud"]["reasons"] == ["amount_threshold"]
    item = stored(aws, transaction_id)
    assert item["status"] == "FLAGGED"
    assert item["alert_status"] == "SENT"
    (message,) = aws.published()
    assert message["MessageAttributes"]["event_type"]["Value"] == "transaction.flagged"
    body = message["Message"]
    assert body["transaction_id"] == transaction_id
    assert body["amount"] == "6000.00" and body["currency"] == "EUR"
    assert body["reasons"] == ["amount_threshold"]
    assert item["alert_message_id"] == message["MessageId"]
    text = json.dumps(message)
    assert VISA not in text and "1111" not in text and "tok_" not in text


def test_thresholds_come_from_the_environment_per_currency(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_AMOUNT_THRESHOLDS", json.dumps({"EUR": "100", "JPY": "1000000", "BHD": 1000}))
    assert check(validate(amount="100.00")).body["status"] == "APPROVED"
    assert check(validate(amount="100.01", user_id="u-2")).body["status"] == "FLAGGED"
    # 9999 JPY (about 60 EUR) is not a large payment; 3000 BHD (about 7000 EUR) is.
    assert check(validate(amount="9999", currency="JPY", user_id="u-3")).body["status"] == "APPROVED"
    flagged = check(validate(amount="3000.000", currency="BHD", user_id="u-4"))
    assert flagged.body["fraud"]["reasons"] == ["amount_threshold"]


@pytest.mark.parametrize("value", ['{"USD": "100"}', "[]", '{"EUR": "many"}', '{"EUR": -1}', "{}", "nope"])
def test_a_currency_without_a_threshold_or_a_bad_table_is_a_configuration_error(
    aws: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    transaction_id = validate()
    monkeypatch.setenv("FRAUD_AMOUNT_THRESHOLDS", value)
    assert check(transaction_id).status == 500
    assert stored(aws, transaction_id)["status"] == "VALIDATED"


def test_velocity_over_the_user_index(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_VELOCITY_MAX_TRANSACTIONS", "2")
    first, second, third = (validate(amount=f"{n}.00") for n in (1, 2, 3))
    other_user = validate(amount="4.00", user_id="u-other")

    assert check(first).body["status"] == "APPROVED"  # 1 in the window
    assert check(second).body["status"] == "APPROVED"  # 2
    answer = check(third)  # 3 > 2
    assert answer.body["status"] == "FLAGGED"
    assert answer.body["fraud"]["reasons"] == ["velocity"]
    velocity = stored(aws, third)["fraud"]["rules"][1]
    assert (velocity["observed"], velocity["limit"]) == ("3", "2")
    assert "rules" not in answer.body["fraud"] and "2" not in json.dumps(answer.body["fraud"])
    assert check(other_user).body["status"] == "APPROVED"


def test_transactions_outside_the_window_do_not_count(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_VELOCITY_MAX_TRANSACTIONS", "1")
    monkeypatch.setenv("FRAUD_VELOCITY_WINDOW_SECONDS", "60")
    old = int(time.time() * 1000) - 120_000
    aws.dynamodb.put_item(
        TableName=aws.table,
        Item=serialize(
            {
                "transaction_id": str(uuid.uuid4()),
                "timestamp": old,
                "status": "PROCESSED",
                "user_id": "u-42",
                "merchant_id": "m-1001",
            }
        ),
    )
    assert check(validate()).body["status"] == "APPROVED"


def test_repeated_failures_flag_the_next_payment(aws: Any) -> None:
    for amount in ("1.001", "2.002", "3.003"):
        validate(amount=amount)  # each rejected: too many decimals
    answer = check(validate(amount="5.00"))
    assert answer.body["status"] == "FLAGGED"
    assert answer.body["fraud"]["reasons"] == ["repeated_failures"]


def test_another_merchants_failures_for_the_same_user_id_do_not_count(aws: Any) -> None:
    for amount in ("1.001", "2.002", "3.003"):
        validate(amount=amount, merchant_id="m-1")  # rejected, at another merchant
    assert check(validate(amount="5.00")).body["status"] == "APPROVED"
    assert check(validate(amount="5.00", merchant_id="m-1", card={"number": "5555555555554444"})).body[
        "fraud"
    ]["reasons"] == ["repeated_failures"]


def test_another_merchants_transactions_do_not_count_towards_velocity(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_VELOCITY_MAX_TRANSACTIONS", "1")
    monkeypatch.setenv("FRAUD_CARD_VELOCITY_MAX_TRANSACTIONS", "10")
    validate(merchant_id="m-2")
    assert check(validate(merchant_id="m-1001")).body["status"] == "APPROVED"


def test_the_same_card_under_fresh_user_ids_is_counted(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_CARD_VELOCITY_MAX_TRANSACTIONS", "5")
    answers = [check(validate(user_id=f"u-fresh-{n}", amount=f"{n}.00")).body for n in range(1, 9)]
    assert [body["status"] for body in answers] == ["APPROVED"] * 5 + ["FLAGGED"] * 3
    assert answers[5]["fraud"]["reasons"] == ["card_velocity"]
    other_card = check(validate(user_id="u-fresh-9", card={"number": "5555555555554444"}))
    assert other_card.body["status"] == "APPROVED"


def test_rejected_attempts_with_the_card_under_fresh_user_ids_are_counted(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Card testing: wrong expiry dates and CVVs under a new user id each time, then one valid payment.
    monkeypatch.setenv("FRAUD_CARD_VELOCITY_MAX_TRANSACTIONS", "2")
    for n, card in enumerate([{"expiry_month": 1, "expiry_year": 2021}, {"cvv": "1"}]):
        validate(user_id=f"u-test-{n}", card={"number": "5555555555554444", **card})
    assert len(aws.transactions()) == 2 and {item["status"] for item in aws.transactions()} == {"REJECTED"}
    answer = check(validate(user_id="u-test-9", card={"number": "5555555555554444"}))
    assert answer.body["status"] == "FLAGGED"
    assert answer.body["fraud"]["reasons"] == ["card_velocity"]
    assert check(validate(user_id="u-test-10")).body["status"] == "APPROVED"  # another card


def test_card_velocity_has_its_own_window(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_CARD_VELOCITY_MAX_TRANSACTIONS", "1")
    monkeypatch.setenv("FRAUD_CARD_VELOCITY_WINDOW_SECONDS", "60")
    first = validate(user_id="u-a")
    item = stored(aws, first)
    aws.dynamodb.delete_item(TableName=aws.table, Key=serialize(
        {"transaction_id": first, "timestamp": item["timestamp"]}))
    aws.dynamodb.put_item(TableName=aws.table, Item=serialize({**item, "timestamp": item["timestamp"] - 120_000}))
    assert check(validate(user_id="u-b")).body["status"] == "APPROVED"
    assert check(validate(user_id="u-c")).body["fraud"]["reasons"] == ["card_velocity"]


def test_unknown_and_malformed_ids_are_404(aws: Any) -> None:
    assert check(str(uuid.uuid4())).status == 404
    assert check("idem%23abc").status == 404
    assert check("not-a-uuid").status == 404


def test_wrong_method_is_405(aws: Any) -> None:
    assert check(str(uuid.uuid4()), method="GET").status == 405


@pytest.mark.parametrize("amount", ["10.00", "6000.00"])
def test_second_check_is_409_with_the_decision(aws: Any, amount: str) -> None:
    transaction_id = validate(amount=amount)
    decided = check(transaction_id).body
    again = check(transaction_id)
    assert again.status == 409
    assert again.body["error"] == "invalid_state"
    assert again.body["status"] == decided["status"]
    assert again.body["fraud"] == decided["fraud"]
    assert len(aws.published()) == (1 if decided["status"] == "FLAGGED" else 0)


def test_rejected_transactions_cannot_be_checked(aws: Any) -> None:
    transaction_id = validate(currency="GBP")
    answer = check(transaction_id)
    assert (answer.status, answer.body["status"]) == (409, "REJECTED")


def test_concurrent_change_is_not_overwritten(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer moves the transaction between our read and our update."""
    transaction_id = validate()
    real_history = TransactionStore.user_history

    def history_then_race(self: TransactionStore, *args: Any) -> Any:
        item = stored(aws, transaction_id)
        TransactionStore(aws.dynamodb, aws.table).update(item, Status.VALIDATED, {"status": "FLAGGED"})
        return real_history(self, *args)

    monkeypatch.setattr(TransactionStore, "user_history", history_then_race)
    answer = check(transaction_id)
    assert answer.status == 409
    assert answer.body["status"] == "FLAGGED"
    assert stored(aws, transaction_id)["status"] == "FLAGGED"
    assert "fraud" not in stored(aws, transaction_id)


def test_failed_alert_is_retried_by_the_next_request(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    transaction_id = validate(amount="7000.00")
    monkeypatch.setenv("FAILED_TRANSACTIONS_TOPIC_ARN", aws.topic_arn.replace("failed-transactions", "missing"))
    failed = check(transaction_id)
    assert failed.status == 503
    assert failed.body["error"] == "alert_not_sent"
    assert failed.body["status"] == "FLAGGED"
    assert stored(aws, transaction_id)["alert_status"] == "PENDING"
    assert aws.published() == []

    monkeypatch.setenv("FAILED_TRANSACTIONS_TOPIC_ARN", aws.topic_arn)
    retried = check(transaction_id)
    assert retried.status == 200
    assert retried.body["status"] == "FLAGGED"
    assert stored(aws, transaction_id)["alert_status"] == "SENT"
    assert [message["Message"]["transaction_id"] for message in aws.published()] == [transaction_id]
    assert check(transaction_id).status == 409


def test_missing_configuration_is_500(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    transaction_id = validate()
    monkeypatch.delenv("FAILED_TRANSACTIONS_TOPIC_ARN")
    assert check(transaction_id).status == 500
    monkeypatch.setenv("FAILED_TRANSACTIONS_TOPIC_ARN", aws.topic_arn)
    monkeypatch.setenv("FRAUD_VELOCITY_WINDOW_SECONDS", "0")
    assert check(transaction_id).status == 500
    assert stored(aws, transaction_id)["status"] == "VALIDATED"


# --- the rules alone --------------------------------------------------------------------

LIMITS = FraudLimits(
    amount_thresholds={"EUR": Decimal(100)},
    velocity_window_seconds=60,
    velocity_max=2,
    failure_window_seconds=600,
    failure_max=2,
    card_velocity_window_seconds=30,
    card_velocity_max=1,
)


def _txn(timestamp: int, status: str = "VALIDATED", amount: str = "10") -> dict[str, Any]:
    return {
        "transaction_id": str(uuid.uuid4()),
        "timestamp": timestamp,
        "status": status,
        "amount": Decimal(amount),
        "currency": "EUR",
    }


def test_rule_boundaries() -> None:
    now = 1_000_000_000
    current = _txn(now, amount="100")
    assert evaluate(current, [], LIMITS).status == Status.APPROVED

    one_recent = [_txn(now - 60_000)]  # exactly at the window's start: counts
    assert evaluate(current, one_recent, LIMITS).reasons == []
    two_recent = [*one_recent, _txn(now - 1)]
    assert evaluate(current, two_recent, LIMITS).reasons == ["velocity"]
    outside = [_txn(now - 60_001), _txn(now - 1)]
    assert evaluate(current, outside, LIMITS).reasons == []
    later = [_txn(now + 1), _txn(now + 2)]  # created after this one: not its history
    assert evaluate(current, later, LIMITS).reasons == []
    itself = [current, current]
    assert evaluate(current, itself, LIMITS).reasons == []

    failures = [_txn(now - 500_000, "REJECTED"), _txn(now - 400_000, "FLAGGED")]
    decision = evaluate(_txn(now, amount="100.01"), failures, LIMITS)
    assert decision.status == Status.FLAGGED
    assert decision.reasons == ["amount_threshold", "repeated_failures"]
    one_failure = [_txn(now - 500_000, "REJECTED"), _txn(now - 400_000, "PROCESSED")]
    assert evaluate(current, one_failure, LIMITS).reasons == []
    assert LIMITS.history_window_seconds == 600


def test_card_velocity_rule_boundaries() -> None:
    now = 1_000_000_000
    current = _txn(now)
    assert evaluate(current, [], LIMITS, [_txn(now - 30_001)]).reasons == []
    assert evaluate(current, [], LIMITS, [_txn(now - 30_000)]).reasons == ["card_velocity"]
    assert evaluate(current, [], LIMITS, [current]).reasons == []
    rule = evaluate(current, [], LIMITS, [_txn(now - 1)]).results[3]
    assert (rule.rule, rule.observed, rule.limit) == ("card_velocity", "2", "1")
    # Attempts, whatever their status (and card-token-index gives none): a rejection counts.
    assert evaluate(current, [], LIMITS, [_txn(now - 1, "REJECTED")]).reasons == ["card_velocity"]
    assert evaluate(current, [], LIMITS, [{"transaction_id": "t-1", "timestamp": now - 1}]).reasons == [
        "card_velocity"
    ]


# --- history read by merchant and user, never cut silently -----------------------------------


class SmallPages:
    """The handler's DynamoDB client with pages of two items (DynamoDB cuts pages at 1 MB: a flood
    of items reaches the page cap the same way, only with more of them)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def query(self, **request: Any) -> Any:
        return self._inner.query(**{**request, "Limit": min(request.get("Limit", 2), 2)})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fraud_detection.client
    monkeypatch.setattr(fraud_detection, "client",
                        lambda service: SmallPages(real(service)) if service == "dynamodb" else real(service))


def put_history(aws: Any, merchant: str, user: str, count: int, start_ms: int, status: str = "VALIDATED") -> None:
    for index in range(count):
        aws.dynamodb.put_item(TableName=aws.table, Item=serialize({
            "transaction_id": str(uuid.uuid4()), "timestamp": start_ms + index, "status": status,
            "user_id": user, "merchant_id": merchant, "merchant_user": f"{merchant}#{user}"}))


def test_another_merchant_flooding_a_shared_user_id_hides_nothing(aws: Any, small_pages: None) -> None:
    for amount in ("1.001", "2.002", "3.003"):
        validate(amount=amount)  # three rejections of u-42 at m-1001
    put_history(aws, "m-2", "u-42", 60, int(time.time() * 1000) - 3_600_000)  # older, at another merchant
    answer = check(validate(amount="5.00"))
    assert answer.body["status"] == "FLAGGED"
    assert answer.body["fraud"]["reasons"] == ["repeated_failures"]


def test_a_history_longer_than_is_read_flags(aws: Any, small_pages: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_VELOCITY_MAX_TRANSACTIONS", "1000")
    put_history(aws, "m-1001", "u-42", 45, int(time.time() * 1000) - 600_000)  # more than 20 pages of 2
    transaction_id = validate(amount="5.00")
    answer = check(transaction_id)
    assert answer.body["status"] == "FLAGGED"
    assert answer.body["fraud"]["reasons"] == ["velocity", "repeated_failures"]
    rules = {rule["rule"]: rule for rule in stored(aws, transaction_id)["fraud"]["rules"]}
    assert rules["velocity"]["observed"] == "more than 40 (history cut at the page limit)"


def test_fraud_detection_reads_the_merchant_user_index(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    queries: list[dict[str, Any]] = []
    real = fraud_detection.client

    class Spy(SmallPages):
        def query(self, **request: Any) -> Any:
            queries.append(request)
            return self._inner.query(**request)

    monkeypatch.setattr(fraud_detection, "client",
                        lambda service: Spy(real(service)) if service == "dynamodb" else real(service))
    check(validate())
    history = [q for q in queries if q.get("IndexName") not in (None, "card-token-index")]
    assert [q["IndexName"] for q in history] == ["merchant-user-index"]
    assert "FilterExpression" not in history[0]
    assert history[0]["ExpressionAttributeValues"][":key"] == {"S": "m-1001#u-42"}
