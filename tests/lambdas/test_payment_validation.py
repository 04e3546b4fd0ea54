"""POST /payments against moto: validation, PCI storage rules, idempotency."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from typing import Any

import payment_validation
import pytest
from botocore.exceptions import ClientError
from lambda_testkit import AMEX, CVV, FUTURE_YEAR, MASTERCARD, VISA, alb_event, invoke, payment
from paycommon.store import TRANSACTION_ID, IdempotencyConflict, Status, TransactionStore


def post(body: Any, **kwargs: Any) -> Any:
    return invoke(payment_validation.handler, alb_event("POST", "/payments", body, **kwargs))


def _assert_no_card_data(aws: Any, *numbers: str, cvv: str = CVV) -> None:
    for item in aws.items():
        text = json.dumps(item)
        for number in numbers:
            assert number not in text
            assert number[:-4] not in text
        for name, value in item.items():
            assert "cvv" not in name.lower() and "number" not in name.lower()
            assert value != {"S": cvv}


def test_valid_payment_is_stored_as_validated(aws: Any) -> None:
    answer = post(payment(reference="order-77"))

    assert answer.status == 201
    assert TRANSACTION_ID.fullmatch(answer.body["transaction_id"])
    assert answer.body["status"] == "VALIDATED"
    assert answer.body["amount"] == "125.50"
    assert answer.body["currency"] == "EUR"
    assert answer.body["card"] == {"brand": "visa", "last4": "1111"}
    assert answer.headers["location"] == f"/payments/{answer.body['transaction_id']}"
    assert "idempotent-replayed" not in answer.headers

    (item,) = aws.transactions()
    assert item["transaction_id"] == answer.body["transaction_id"]
    assert item["status"] == "VALIDATED"
    assert item["amount"] == 125.5
    assert item["user_id"] == "u-42" and item["merchant_id"] == "m-1001"
    assert item["card_last4"] == "1111" and item["card_brand"] == "visa"
    assert item["card_token"].startswith("tok_") and len(item["card_token"]) == 68
    assert item["reference"] == "order-77"
    assert 0 <= time.time() * 1000 - item["timestamp"] < 60_000
    _assert_no_card_data(aws, VISA)


def test_tokens_identify_cards_without_revealing_them(aws: Any) -> None:
    first = post(payment(amount="1.00"))
    second = post(payment(amount="2.00", card={"number": "4111 1111 1111 1111"}))
    third = post(payment(amount="3.00", card={"number": MASTERCARD}))
    assert {first.status, second.status, third.status} == {201}
    tokens = {item["transaction_id"]: item["card_token"] for item in aws.transactions()}
    assert tokens[first.body["transaction_id"]] == tokens[second.body["transaction_id"]]
    assert tokens[first.body["transaction_id"]] != tokens[third.body["transaction_id"]]
    _assert_no_card_data(aws, VISA, MASTERCARD)


@pytest.mark.parametrize(
    "card",
    [{"expiry_month": 1, "expiry_year": 2021}, {"cvv": "1"}],
    ids=["expired", "bad-cvv"],
)
def test_a_rejected_attempt_with_a_real_card_number_keeps_the_card_token(aws: Any, card: dict[str, Any]) -> None:
    # Card velocity counts attempts: a card tested under many user ids must reach card-token-index.
    assert post(payment(amount="1.00")).status == 201
    rejected = post(payment(amount="2.00", card=card))
    assert rejected.status == 422
    tokens = {item["status"]: item["card_token"] for item in aws.transactions()}
    assert tokens["REJECTED"] == tokens["VALIDATED"]
    _assert_no_card_data(aws, VISA)


def test_amex_needs_a_four_digit_code(aws: Any) -> None:
    assert post(payment(card={"number": AMEX, "cvv": "1234"})).status == 201
    answer = post(payment(amount="2.00", card={"number": AMEX, "cvv": "123"}))
    assert answer.status == 422
    assert [error["code"] for error in answer.body["errors"]] == ["card_cvv_invalid"]


def test_every_rejection_reason_is_reported_and_stored(aws: Any) -> None:
    body = payment(
        amount="10.005",
        currency="GBP",
        card={"number": "4111111111111112", "expiry_month": 1, "expiry_year": 2001, "cvv": "12"},
    )
    answer = post(body)

    assert answer.status == 422
    assert answer.body["status"] == "REJECTED"
    codes = {(error["field"], error["code"]) for error in answer.body["errors"]}
    assert codes == {
        ("currency", "currency_not_allowed"),
        ("amount", "amount_precision"),
        ("card.number", "card_number_checksum"),
        ("card.expiry_month", "card_expired"),
        ("card.cvv", "card_cvv_invalid"),
    }
    (item,) = aws.transactions()
    assert item["transaction_id"] == answer.body["transaction_id"]
    assert item["status"] == "REJECTED"
    assert "card_token" not in item
    assert {(error["field"], error["code"]) for error in item["errors"]} == codes
    _assert_no_card_data(aws, "4111111111111112", cvv="12")


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"amount": "0"}, "amount", "amount_not_positive"),
        ({"amount": "-5.00"}, "amount", "amount_not_positive"),
        ({"amount": "10000.01"}, "amount", "amount_out_of_range"),
        ({"amount": "1e3"}, "amount", "amount_invalid"),
        ({"amount": "12,50"}, "amount", "amount_invalid"),
        ({"amount": "10.5", "currency": "JPY"}, "amount", "amount_precision"),
        ({"currency": "EURO"}, "currency", "currency_invalid"),
        ({"currency": "eur"}, "currency", "currency_invalid"),
        ({"currency": "CHF"}, "currency", "currency_not_allowed"),
        ({"card": {"number": "4111-1111-1111-111a"}}, "card.number", "card_number_invalid"),
        ({"card": {"number": "41111111111111113"}}, "card.number", "card_number_length"),
        ({"card": {"expiry_month": 13}}, "card.expiry_month", "card_expiry_invalid"),
        ({"card": {"expiry_month": "0"}}, "card.expiry_month", "card_expiry_invalid"),
        ({"card": {"expiry_year": FUTURE_YEAR + 30}}, "card.expiry_year", "card_expiry_invalid"),
        ({"card": {"expiry_year": 1999}}, "card.expiry_year", "card_expiry_invalid"),
        ({"card": {"cvv": "12a"}}, "card.cvv", "card_cvv_invalid"),
        ({"card": {"cvv": "1234"}}, "card.cvv", "card_cvv_invalid"),
    ],
)
def test_single_rejection_reasons(aws: Any, overrides: dict[str, Any], field: str, code: str) -> None:
    answer = post(payment(**overrides))
    assert answer.status == 422
    assert [(error["field"], error["code"]) for error in answer.body["errors"]] == [(field, code)]


def test_expiry_this_month_and_two_digit_years_are_accepted(aws: Any) -> None:
    today = date.today()
    this_month = payment(card={"expiry_month": today.month, "expiry_year": str(today.year)})
    assert post(this_month).status == 201
    two_digits = payment(amount="1.00", card={"expiry_month": "01", "expiry_year": FUTURE_YEAR % 100})
    assert post(two_digits).status == 201


def test_amounts_as_json_numbers_and_currency_precision(aws: Any) -> None:
    assert post(payment(amount=125.5)).body["amount"] == "125.50"
    answer = post(payment(amount=1500, currency="JPY"))
    assert (answer.status, answer.body["amount"]) == (201, "1500")
    answer = post(payment(amount="1.234", currency="BHD"))
    assert (answer.status, answer.body["amount"]) == (201, "1.234")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {},
            {
                ("merchant_id", "required"),
                ("user_id", "required"),
                ("amount", "required"),
                ("currency", "required"),
                ("card", "required"),
            },
        ),
        (
            payment(amount=True, currency=978, card="4111"),
            {("amount", "wrong_type"), ("currency", "wrong_type"), ("card", "wrong_type")},
        ),
        (
            payment(merchant_id="", user_id="has space", reference="x" * 65, extra=1),
            {
                ("merchant_id", "invalid_identifier"),
                ("user_id", "invalid_identifier"),
                ("reference", "invalid_reference"),
                ("extra", "unknown_field"),
            },
        ),
        (
            payment(
                card={
                    "number": 4111111111111111,
                    "cvv": None,
                    "expiry_month": "twelve",
                    "expiry_year": 2030.5,
                    "pin": "1234",
                }
            ),
            {
                ("card.number", "wrong_type"),
                ("card.cvv", "required"),
                ("card.expiry_month", "wrong_type"),
                ("card.expiry_year", "wrong_type"),
                ("card.pin", "unknown_field"),
            },
        ),
        (payment(card={"number": "4" * 40}), {("card.number", "too_long")}),
    ],
)
def test_malformed_requests_list_every_problem_and_store_nothing(
    aws: Any, body: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    answer = post(body)
    assert answer.status == 400
    assert answer.body["error"] == "malformed_request"
    assert {(error["field"], error["code"]) for error in answer.body["errors"]} == expected
    assert aws.items() == []
    assert "4111111111111111" not in json.dumps(answer.body)


@pytest.mark.parametrize(
    ("raw_body", "headers", "status"),
    [
        ("{not json", {}, 400),
        ('["a"]', {}, 400),
        ("{}", {"content-type": "text/plain"}, 415),
        (json.dumps(payment()), {"Idempotency-Key": "has space"}, 400),
        (json.dumps(payment()), {"Idempotency-Key": "k" * 256}, 400),
    ],
)
def test_unreadable_requests(aws: Any, raw_body: str, headers: dict[str, str], status: int) -> None:
    assert post(raw_body, headers=headers).status == status
    assert aws.items() == []


def test_routing(aws: Any) -> None:
    assert invoke(payment_validation.handler, alb_event("GET", "/payments")).status == 405
    assert invoke(payment_validation.handler, alb_event("POST", "/refunds", payment())).status == 404
    staged = invoke(payment_validation.handler, alb_event("POST", "/v1/payments/", payment()))
    assert staged.status == 201


def test_multi_value_and_base64_events(aws: Any) -> None:
    answer = post(payment(), multi_value=True, base64_body=True)
    assert answer.status == 201
    assert "multiValueHeaders" in answer.raw and "headers" not in answer.raw


def test_idempotency_key_replays_the_original_answer(aws: Any) -> None:
    headers = {"Idempotency-Key": "order-77-attempt"}
    first = post(payment(), headers=headers)
    again = post(payment(), headers=headers)

    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    assert len(aws.transactions()) == 1
    assert len(aws.items()) == 2  # the transaction and its idempotency marker


def test_idempotency_key_reuse_with_another_request_is_refused(aws: Any) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert post(payment(), headers=headers).status == 201
    answer = post(payment(amount="99.00"), headers=headers)
    assert answer.status == 422
    assert answer.body["error"] == "idempotency_key_reused"
    assert len(aws.transactions()) == 1


def test_idempotency_keys_are_scoped_per_merchant(aws: Any) -> None:
    headers = {"Idempotency-Key": "same"}
    first = post(payment(merchant_id="m-1"), headers=headers)
    second = post(payment(merchant_id="m-2"), headers=headers)
    assert first.status == second.status == 201
    assert first.body["transaction_id"] != second.body["transaction_id"]


def test_without_a_key_an_identical_retry_is_recognised(aws: Any) -> None:
    first = post(payment())
    again = post(payment())
    other = post(payment(amount="1.00"))
    assert again.body["transaction_id"] == first.body["transaction_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other.body["transaction_id"] != first.body["transaction_id"]
    assert len(aws.transactions()) == 2


def test_rejections_leave_no_marker_so_a_corrected_request_is_validated(aws: Any) -> None:
    headers = {"Idempotency-Key": "r-1"}
    first = post(payment(card={"cvv": "12"}), headers=headers)
    again = post(payment(card={"cvv": "12"}), headers=headers)
    assert first.status == again.status == 422
    assert again.body["errors"] == first.body["errors"] and "idempotent-replayed" not in again.headers
    assert not [item for item in aws.items() if item["transaction_id"]["S"].startswith("idem#")]
    corrected = post(payment(), headers=headers)  # the CVV is not part of the fingerprint
    assert corrected.status == 201
    replay = post(payment(card={"cvv": "12"}), headers=headers)  # the key has a payment now
    assert replay.status == 201 and replay.headers["idempotent-replayed"] == "true"
    assert post(payment(currency="GBP"), headers=headers).body["error"] == "idempotency_key_reused"


@pytest.mark.parametrize("other", ['"12.50"', "12.5", "12.500"])
def test_the_same_amount_written_differently_is_one_request(aws: Any, other: str) -> None:
    first = post(payment(amount="12.5"), headers={"Idempotency-Key": "amount"})
    body = json.dumps(payment(amount="AMOUNT")).replace('"AMOUNT"', other)
    again = post(body, headers={"Idempotency-Key": "amount"})
    assert again.status == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.body["transaction_id"] == first.body["transaction_id"]
    post(payment(amount="7.5"))  # without a key, the derived key is the same too
    retried = post(json.dumps(payment(amount="AMOUNT")).replace('"AMOUNT"', "7.50"))
    assert retried.headers["idempotent-replayed"] == "true"


def test_a_transaction_conflict_answers_the_retry_response(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB cancels a write racing another on the same marker with TransactionConflict."""

    def conflicting(self: Any, **request: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )

    class Racing:
        def __init__(self, real: Any) -> None:
            self._real = real

        def __getattr__(self, name: str) -> Any:
            return conflicting.__get__(self) if name == "transact_write_items" else getattr(self._real, name)

    real_client = payment_validation.client
    monkeypatch.setattr(payment_validation, "client",
                        lambda service: Racing(real_client(service)) if service == "dynamodb" else real_client(service))
    answer = post(payment(), headers={"Idempotency-Key": "racing"})
    assert answer.status == 409
    assert answer.body == {"error": "conflict", "message": "a concurrent request is in progress; retry"}


def test_replay_reports_the_original_outcome_after_later_changes(aws: Any) -> None:
    first = post(payment(), headers={"Idempotency-Key": "later"})
    store = TransactionStore(aws.dynamodb, aws.table)
    item = store.find(first.body["transaction_id"])
    assert item is not None
    store.update(item, Status.VALIDATED, {"status": "APPROVED"})
    again = post(payment(), headers={"Idempotency-Key": "later"})
    assert (again.status, again.body["status"]) == (201, "VALIDATED")


def test_replay_with_a_vanished_transaction_is_an_internal_error(aws: Any) -> None:
    first = post(payment(), headers={"Idempotency-Key": "gone"})
    item = TransactionStore(aws.dynamodb, aws.table).find(first.body["transaction_id"])
    assert item is not None
    aws.dynamodb.delete_item(
        TableName=aws.table,
        Key={
            "transaction_id": {"S": item["transaction_id"]},
            "timestamp": {"N": str(item["timestamp"])},
        },
    )
    assert post(payment(), headers={"Idempotency-Key": "gone"}).status == 500


def test_conflict_without_a_marker_asks_for_a_retry(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def conflict(self: Any, transaction: Any, marker: Any) -> None:
        raise IdempotencyConflict()

    monkeypatch.setattr(TransactionStore, "create", conflict)
    answer = post(payment())
    assert answer.status == 409
    assert aws.items() == []


def test_logs_never_contain_card_data(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    post(payment())
    post(payment(card={"number": "4111111111111112", "cvv": "9876"}))
    output = capsys.readouterr().out
    assert output
    for secret in (VISA, "4111111111111112", "9876", CVV):
        # as a token of its own: random request and transaction ids may contain the digits
        assert not re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", output), secret
    events = [json.loads(line) for line in output.splitlines()]
    validated = next(event for event in events if event["message"] == "payment validated")
    assert validated["card_last4"] == "1111"
    assert validated["transaction_id"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRANSACTIONS_TABLE", ""),
        ("ALLOWED_CURRENCIES", "EUR,ABC"),
        ("CARD_TOKEN_KMS_KEY_ID", ""),
        ("AMOUNT_LIMITS", '{"EUR": {"min": "0", "max": "lots"}}'),
        ("AMOUNT_LIMITS", '{"EUR": {"min": "0", "max": "1"}, "USD": {"min": "2", "max": "1"}}'),
        ("AMOUNT_LIMITS", '{"EUR": {"min": "0"}}'),
        ("AMOUNT_LIMITS", "[]"),
        ("AMOUNT_LIMITS", "{"),
        ("IDEMPOTENCY_TTL_HOURS", "0"),
    ],
)
def test_configuration_errors_are_500(aws: Any, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    answer = post(payment())
    assert answer.status == 500
    assert answer.body["message"] == "the service is misconfigured"
    assert aws.items() == []


def test_bounds_come_from_the_environment_per_currency(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"EUR": {"min": "10", "max": "20"}, "USD": {"min": 0, "max": 10000},
              "JPY": {"min": "1000", "max": "2000000"}, "BHD": {"min": "0", "max": "4000"}}
    monkeypatch.setenv("AMOUNT_LIMITS", json.dumps(limits))
    assert post(payment(amount="9.99")).status == 422
    assert post(payment(amount="20.01")).status == 422
    assert post(payment(amount="15")).status == 201
    # 9999 JPY is about 60 EUR: within JPY's own limits, whatever EUR's are.
    assert post(payment(amount="9999", currency="JPY")).status == 201
    assert post(payment(amount="999", currency="JPY")).status == 422


def test_an_allowed_currency_without_limits_is_a_configuration_error(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMOUNT_LIMITS", json.dumps({"EUR": {"min": "0", "max": "1"}}))
    answer = post(payment())
    assert answer.status == 500 and answer.body["message"] == "the service is misconfigured"


def test_idempotency_marker_expires(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TTL_HOURS", "2")
    post(payment())
    (marker,) = [item for item in aws.items() if item["transaction_id"]["S"].startswith("idem#")]
    assert int(marker["expires_at"]["N"]) - int(marker["target_timestamp"]["N"]) // 1000 in range(7199, 7202)
    assert "user_id" not in marker and "status" not in marker
