"""Every request's work is bounded before it is inspected: JSON numbers, nesting, scans (moto)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import payment_validation
import pytest
import request_cost
import validation_rules
from lambda_testkit import CALLER, VISA, alb_event, invoke, payment
from paycommon import alb, cards, logs

# A Luhn-valid 17-digit number that a float cannot hold: as a float it reads 40000000000000008.
PAN_BEYOND_FLOAT = "40000000000000006"
# A caller mapped to no merchant at all.
STRANGER = "arn:aws:sts::123456789012:assumed-role/payments-nobody/session-1"


def post(text: str, *, caller: str = CALLER) -> Any:
    event = alb_event("POST", "/payments", text, headers={"Idempotency-Key": str(uuid.uuid4())}, caller=caller)
    return invoke(payment_validation.handler, event)


def body_with(raw_amount: str) -> str:
    """A valid payment body whose amount is the JSON text ``raw_amount``."""
    return json.dumps(payment()).replace('"125.50"', raw_amount)


def cpu_seconds(call: Any) -> tuple[Any, float]:
    started = time.process_time()
    answer = call()
    return answer, time.process_time() - started


def assert_malformed(answer: Any, reason: str) -> None:
    assert answer.status == 400, answer.body
    assert answer.body["error"] == "malformed_request"
    assert reason in answer.body["message"]


@pytest.mark.parametrize("number", ["1e999999999", "1E+400000", "-0.5e-9999999", "12.5e0", "1e2"])
def test_a_number_in_exponent_notation_is_400_at_parse_time(aws: Any, number: str) -> None:
    answer, cpu = cpu_seconds(lambda: post(body_with(number)))
    assert_malformed(answer, "numbers must be plain decimals")
    assert cpu < 0.25
    assert aws.items() == []


@pytest.mark.parametrize("digits", [alb.MAX_NUMBER_CHARS + 1, 4000, 60000])
def test_a_number_longer_than_the_limit_is_400_at_parse_time(aws: Any, digits: int) -> None:
    answer, cpu = cpu_seconds(lambda: post(body_with("9" * digits)))
    assert_malformed(answer, f"at most {alb.MAX_NUMBER_CHARS} characters")
    assert cpu < 0.25
    assert aws.items() == []


def test_a_number_of_the_limit_is_parsed(aws: Any) -> None:
    answer = post(body_with("1" + "0" * (alb.MAX_NUMBER_CHARS - 1)))
    assert answer.status == 422  # parsed, then rejected for its size
    assert {e["code"] for e in answer.body["errors"]} == {"amount_invalid"}


@pytest.mark.parametrize("depth", [alb.MAX_JSON_DEPTH + 1, 500, 5000, 30000])
def test_deep_nesting_is_400_not_500(aws: Any, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    answer = post(json.dumps(payment(note="X")).replace('"X"', nested))
    assert_malformed(answer, "nested too deeply")
    assert aws.items() == []


def test_nesting_within_the_limit_is_parsed(aws: Any) -> None:
    depth = alb.MAX_JSON_DEPTH - 1  # the body object is one level
    nested = "[" * depth + "]" * depth
    answer = post(json.dumps(payment(note="X")).replace('"X"', nested))
    assert answer.status == 400
    assert answer.body["errors"] == [{"field": "note", "code": "unknown_field", "message": "note is not a known field"}]


def test_too_many_values_are_400(aws: Any) -> None:
    answer = post(json.dumps(payment(note=[0] * alb.MAX_JSON_VALUES)))
    assert_malformed(answer, f"more than {alb.MAX_JSON_VALUES} values")


def test_an_integer_beyond_float_precision_is_checked_as_sent_and_never_echoed(aws: Any) -> None:
    answer = post(body_with(PAN_BEYOND_FLOAT))
    assert answer.status == 400
    assert answer.body["errors"] == [
        {"field": "amount", "code": "card_number_not_allowed",
         "message": "amount looks like a card number; send it only in card.number"}
    ]
    assert PAN_BEYOND_FLOAT[:12] not in json.dumps(answer.raw)
    assert aws.items() == []


def test_numbers_keep_their_exact_text() -> None:
    request = alb.Request("POST", "/", {}, {}, f'{{"a": {PAN_BEYOND_FLOAT}, "b": 12.50, "c": -0}}'.encode())
    parsed = request.json_object()
    assert parsed["a"] == int(PAN_BEYOND_FLOAT) and str(parsed["b"]) == "12.50" and parsed["c"] == 0


# --- scans read a bounded amount of text -------------------------------------------------


def test_a_value_longer_than_the_scan_reads_is_400_unread(aws: Any) -> None:
    answer = post(json.dumps(payment(reference="r" * (validation_rules.MAX_SCANNED_VALUE_CHARS + 1))))
    assert answer.status == 400
    assert [(e["field"], e["code"]) for e in answer.body["errors"]] == [("reference", "too_long")]


def test_a_field_name_longer_than_the_scan_reads_is_400_and_not_echoed(aws: Any) -> None:
    name = "n" * (validation_rules.MAX_SCANNED_VALUE_CHARS + 1)
    answer = post(json.dumps({**payment(), name: 1}))
    assert answer.status == 400
    assert [(e["field"], e["code"]) for e in answer.body["errors"]] == [("<field name>", "too_long")]
    assert name not in json.dumps(answer.raw)


def test_a_body_with_more_text_than_the_scan_reads_is_400(aws: Any) -> None:
    notes = {f"note{index}": "n" * 200 for index in range(validation_rules.MAX_SCANNED_BODY_CHARS // 200 + 1)}
    answer = post(json.dumps({**payment(), **notes}))
    assert answer.status == 400
    [problem] = answer.body["errors"]
    assert problem["code"] == "too_long" and "4096 in all" in problem["message"]


def test_no_scan_reads_more_than_its_limit() -> None:
    with pytest.raises(ValueError, match="longer than the scan limit"):
        cards.scan_form("1" * (cards.MAX_SCAN_CHARS + 1))


def test_a_long_log_string_is_cut_before_it_is_scanned_and_a_number_it_cuts_through_goes() -> None:
    scrubbed = logs.scrub_text("x" * 20000 + VISA)
    assert len(scrubbed) <= cards.MAX_SCAN_CHARS and scrubbed.endswith("characters cut]") and "4111" not in scrubbed
    through = "a" * (cards.MAX_SCAN_CHARS - 50) + " " + VISA + " tail"
    assert "411111" not in logs.scrub_text(through) and "4111" not in logs.scrub_text(through)
    short = "b" * 100 + " " + VISA
    assert logs.scrub_text(short) == "b" * 100 + " ************1111"


# --- the caller's merchant is checked before anything costly -------------------------------


@pytest.fixture
def no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A card-number scan of the note the tests send fails the test (the merchant id may be read)."""
    def scanned(text: str) -> bool:
        if "1111" in text:
            raise AssertionError("the body was scanned")
        return False

    monkeypatch.setattr(cards, "contains_pan", scanned)


def test_a_caller_mapped_to_no_merchant_is_refused_before_the_body_is_read(aws: Any, no_scan: None) -> None:
    answer = post(body_with("1e999999999"), caller=STRANGER)
    assert answer.status == 403 and answer.body["error"] == "forbidden"
    answer = post(json.dumps({**payment(), "note": "4111 1111 1111 1111"}), caller=STRANGER)
    assert answer.status == 403
    assert aws.items() == []


def test_a_body_merchant_the_caller_may_not_act_for_is_refused_before_the_scan(aws: Any, no_scan: None) -> None:
    answer = post(json.dumps({**payment(merchant_id="m-2002"), "note": "4111 1111 1111 1111"}))
    assert answer.status == 403
    assert answer.body["errors"][0]["code"] == "merchant_not_allowed"
    assert aws.items() == []


def test_no_request_costs_more_than_a_bounded_amount_of_cpu(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The measurement lambdas/README.md states (tests/lambdas/request_cost.py), with a generous bound:
    before the limits, a 15-byte body cost 20 s of CPU."""
    results = list(request_cost.measure(3, payment_validation.handler))
    capsys.readouterr()
    assert len(results) == len(request_cost.hostile_requests())
    assert [(name, status) for name, status, worst in results if worst > 0.25] == []
    refused = {name: status for name, status, _ in results if not name.startswith(("accepted", "long"))}
    assert set(refused.values()) <= {400, 403}
