"""Card numbers never land outside ``card.number``: request fields, stored items, logs (moto)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import payment_validation
import pytest
from lambda_testkit import VISA, alb_event, invoke, payment
from paycommon import cards, logs
from paycommon.alb import Request, Response
from paycommon.runtime import alb_handler

AMEX = "378282246310005"
# "4111 1111 1111 1111" in full-width digits (U+FF10..U+FF19) and ideographic spaces (U+3000).
FULL_WIDTH = "\u3000".join(["".join(chr(0xFF10 + int(d)) for d in group) for group in ("4111", "1111", "1111", "1111")])
# The same Visa test number the way people and systems write it.
VISA_VARIANTS = [
    VISA,
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111\t1111\t1111\t1111",
    "4111  1111  1111  1111",
    "4111 - 1111 - 1111 - 1111",
    FULL_WIDTH.replace("\u3000", " "),  # full-width digits, ASCII spaces
    FULL_WIDTH,  # full-width digits and ideographic spaces
    "4111%201111%201111%201111",
    "order 4111111111111111 123",
    "10 4111111111111111",
    "4111-1111-1111-1111-737",
    "ref:4111111111111111",
]


def post(body: dict[str, Any]) -> Any:
    return invoke(
        payment_validation.handler,
        alb_event("POST", "/payments", body, headers={"Idempotency-Key": str(uuid.uuid4())}),
    )


def rejected_without_echo(answer: Any, field: str, value: str, aws: Any) -> None:
    assert answer.status == 400
    assert answer.body["errors"] == [
        {"field": field, "code": "card_number_not_allowed",
         "message": f"{field} looks like a card number; send it only in card.number"}
    ]
    raw = json.dumps(answer.raw, ensure_ascii=False)
    assert value not in raw and "4111111111111111" not in raw and "1111" not in raw
    assert aws.items() == []


@pytest.mark.parametrize("value", [v for v in VISA_VARIANTS if len(v) <= 64 and "\t" not in v])
def test_a_card_number_in_the_reference_is_400_naming_the_field(aws: Any, value: str) -> None:
    rejected_without_echo(post(payment(reference=value)), "reference", value, aws)


@pytest.mark.parametrize("value", ["\t".join(["4111", "1111", "1111", "1111"]), "4111111111111111\t123"])
def test_tab_separated_numbers_are_caught_before_the_shape_checks(aws: Any, value: str) -> None:
    rejected_without_echo(post(payment(reference=value)), "reference", value, aws)


@pytest.mark.parametrize(("field", "value"), [("user_id", VISA), ("user_id", "u-4111111111111111"),
                                              ("merchant_id", AMEX), ("currency", VISA), ("amount", VISA)])
def test_a_card_number_in_any_other_field_is_400(aws: Any, field: str, value: str) -> None:
    rejected_without_echo(post(payment(**{field: value})), field, value, aws)


def test_a_card_number_sent_as_a_json_number_or_in_an_unknown_field_is_400(aws: Any) -> None:
    body = json.dumps(payment()).replace('"125.50"', VISA)
    rejected_without_echo(post(json.loads(body, parse_float=Decimal)), "amount", VISA, aws)
    rejected_without_echo(post(payment(note={"deep": [VISA]})), "note.deep[0]", VISA, aws)
    answer = post(payment(card={"expiry_year": 4111111111111111}))
    rejected_without_echo(answer, "card.expiry_year", VISA, aws)


def test_a_card_number_as_a_field_name_is_not_echoed(aws: Any) -> None:
    answer = post({**payment(), VISA: "x"})
    assert answer.status == 400
    assert answer.body["errors"][0]["field"] == "<field name>"
    assert VISA not in json.dumps(answer.raw)


@pytest.mark.parametrize("value", ["order-20240101", "u-1234567890", "1234567890123", "m-1001",
                                   "4111 1111 1111 1113", "0c9f3d2e-1234-4abc-8def-0123456789ab"])
def test_ordinary_identifiers_pass(aws: Any, value: str) -> None:
    answer = post(payment(reference=value))
    assert answer.status == 201, answer.body
    assert answer.body["reference"] == value


@pytest.mark.parametrize("number", ["0000000000000000", "0000 0000 0000 0000", "0000000000000"])
def test_an_all_zero_card_number_is_rejected(aws: Any, number: str) -> None:
    answer = post(payment(card={"number": number}))
    assert answer.status == 422
    assert ("card.number", "card_number_invalid") in {(e["field"], e["code"]) for e in answer.body["errors"]}


def test_a_rejected_amount_is_shown_as_sent_not_rounded(aws: Any) -> None:
    answer = post(payment(amount="12.345"))
    assert answer.status == 422 and answer.body["amount"] == "12.345"
    assert post(payment(amount="12.5")).body["amount"] == "12.50"


# --- logs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*VISA_VARIANTS, f'json {{"n": {VISA}}}', "/payments/4111%201111%201111%201111/x"])
def test_scrub_text_masks_every_variant(text: str) -> None:
    scrubbed = logs.scrub_text(text)
    digits = "".join(ch for ch in cards.normalize_text(scrubbed) if ch.isdigit())
    assert "411111" not in digits
    assert scrubbed.count("*") >= 12


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("password=correct horse battery", "horse"),
        ("db_password=hunter2 user=x", "hunter2"),
        ('{"client_secret": "a b c"}', "a b c"),
        ("X-Api-Token: abc def", "abc"),
        ("DB_PASSWORD='s p a c e'", "s p a c e"),
    ],
)
def test_sensitive_pairs_lose_their_whole_value(text: str, secret: str) -> None:
    scrubbed = logs.scrub_text(text)
    assert secret not in scrubbed and logs.REDACTED in scrubbed


def test_all_zero_runs_are_no_card_numbers() -> None:
    trace = "Root=1-00000000-000000000000000000000000"
    assert logs.scrub_text(trace) == trace


def test_harmless_pairs_stay() -> None:
    assert logs.scrub_text("company=acme expanded=1") == "company=acme expanded=1"


def test_numbers_in_fields_are_masked_but_ordinary_numbers_stay() -> None:
    assert logs.redact({"n": int(VISA), "f": float(VISA), "d": Decimal(VISA), "status": 201, "ms": 1.5}) == {
        "n": "************1111", "f": "************1111", "d": "************1111", "status": 201, "ms": 1.5,
    }
    assert logs.redact({VISA: 1}) == {"************1111": 1}


def test_every_field_of_a_log_line_is_scrubbed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENT", f"env {VISA}")

    @alb_handler(logs.get_logger("test"))
    def route(request: Request) -> Response:
        return Response(200, {})

    pan_path = "/payments/4111%201111%201111%201111/process"
    event = alb_event("POST", pan_path, {}, headers={"x-amzn-trace-id": f"Root=1-{VISA}"})
    invoke(route, event)
    output = capsys.readouterr().out
    line = json.loads(output.splitlines()[-1])
    assert line["path"] == "/payments/****%20****%20****%201111/process"
    assert line["trace_id"] == "Root=1-************1111"
    assert "411111" not in output


def test_the_trace_id_is_logged_with_multi_value_headers(capsys: pytest.CaptureFixture[str]) -> None:
    @alb_handler(logs.get_logger("test"))
    def route(request: Request) -> Response:
        return Response(200, {})

    invoke(route, alb_event("POST", "/x", {}, multi_value=True, headers={"x-amzn-trace-id": "Root=1-abc"}))
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["trace_id"] == "Root=1-abc"


# --- one card, one token -------------------------------------------------------------------


@pytest.mark.parametrize("number", ["0" + VISA[:-1] + VISA[-1], "000" + VISA, "0" + AMEX, "00" + AMEX])
def test_a_number_with_leading_zeros_is_no_card_number(aws: Any, number: str) -> None:
    assert cards.luhn_valid(number)  # the zeros change nothing the checksum sees
    answer = post(payment(card={"number": number, "cvv": "7373" if number.lstrip("0") == AMEX else "737"}))
    assert answer.status == 422
    assert ("card.number", "card_number_invalid") in {(e["field"], e["code"]) for e in answer.body["errors"]}
    assert [item["status"] for item in aws.transactions()] == ["REJECTED"]
    assert "card_token" not in aws.transactions()[0]


def test_every_accepted_writing_of_a_card_gives_one_token(aws: Any) -> None:
    writings = [VISA, "4111 1111 1111 1111", "4111-1111-1111-1111", " 4111 1111-1111 1111 ", "41 11 1111 1111 1111"]
    for number in writings:
        assert post(payment(card={"number": number})).status == 201
    tokens = {item["card_token"] for item in aws.transactions()}
    assert len(tokens) == 1 and len(aws.transactions()) == len(writings)


@pytest.mark.parametrize("key", [VISA, "4111-1111-1111-1111", "4111+1111+1111+1111", AMEX + "-2", "%34111111111111111"])
def test_a_card_number_as_idempotency_key_is_refused_and_never_kept(aws: Any, key: str) -> None:
    event = alb_event("POST", "/payments", payment(), headers={"Idempotency-Key": key})
    answer = invoke(payment_validation.handler, event)
    assert answer.status == 400
    assert answer.body["errors"] == [{"field": "Idempotency-Key", "code": "invalid_idempotency_key",
                                      "message": "Idempotency-Key looks like a card number"}]
    assert key not in json.dumps(answer.raw)
    assert aws.items() == []


@pytest.mark.parametrize(
    "key", ["12345678-1234-4123-8123-123456789012", "order-4111111111111113", str(uuid.UUID(int=7))]
)
def test_a_key_with_letters_or_no_card_number_is_kept(aws: Any, key: str) -> None:
    event = alb_event("POST", "/payments", payment(), headers={"Idempotency-Key": key})
    assert invoke(payment_validation.handler, event).status == 201
