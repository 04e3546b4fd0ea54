"""Card numbers never land outside ``card.number``: request fields, stored items, logs (moto)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from decimal import Decimal
from typing import Any

import boto3
import payment_validation
import pytest
from lambda_testkit import CALLER, VISA, alb_event, invoke, payment
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


@pytest.mark.parametrize("key", [VISA, "4111-1111-1111-1111", "4111+1111+1111+1111", AMEX + "-2", "%34111111111111111",
                                 "order-4111111111111111", "order:4111-1111-1111-1111/x"])
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
def test_a_key_without_a_card_number_is_kept(aws: Any, key: str) -> None:
    event = alb_event("POST", "/payments", payment(), headers={"Idempotency-Key": key})
    assert invoke(payment_validation.handler, event).status == 201


def test_a_uuid_key_is_kept_whatever_digits_it_holds(aws: Any) -> None:
    key = "41111111-1111-1111-1111-000000000000"
    assert cards.contains_pan(key)
    event = alb_event("POST", "/payments", payment(), headers={"Idempotency-Key": key})
    assert invoke(payment_validation.handler, event).status == 201


def test_the_marker_id_is_a_keyed_mac_of_the_key(aws: Any) -> None:
    """Without the KMS key, a marker id cannot be recomputed from a guess of the key."""
    key = "order-4111111111111113"
    event = alb_event("POST", "/payments", payment(), headers={"Idempotency-Key": key})
    assert invoke(payment_validation.handler, event).status == 201
    (marker,) = [item for item in aws.items() if item["transaction_id"]["S"].startswith("idem#")]
    unkeyed = hashlib.sha256(f"m-1001\n{key}".encode()).hexdigest()
    assert marker["transaction_id"]["S"] != "idem#" + unkeyed
    mac = boto3.client("kms", region_name="us-east-1").generate_mac(
        KeyId=os.environ["CARD_TOKEN_KMS_KEY_ID"], MacAlgorithm="HMAC_SHA_256",
        Message=b"payments/idempotency-marker/v1\x00m-1001\n" + key.encode())["Mac"]
    assert marker["transaction_id"]["S"] == "idem#" + mac.hex()


# A card number whose groups are joined by encoded tokens that decode to nothing plausible:
# control characters, invalid UTF-8, surrogates, code points beyond Unicode, references without
# ``;`` or with many leading zeros. html.unescape drops most of them and gives the bare number.
UNDECODABLE_JOINS = [
    "4111&#1;1111&#1;1111&#1;1111",
    "4111&#0;1111&#0;1111&#0;1111",
    "4111&#x1;1111&#x1;1111&#x1;1111",
    "4111&#xD800;1111&#xD800;1111&#xD800;1111",
    "4111&#x110000;1111&#x110000;1111&#x110000;1111",
    "4111&#x00000000002D;1111&#x2d;1111&#x2d;1111",
    "4111&#x2D 1111&#x2D 1111&#x2D 1111",
    "4111%FF1111%FF1111%FF1111",
    "4111%C0%AD1111%C0%AD1111%C0%AD1111",
    "4111%7F1111%7F1111%7F1111",
    "9994111&#1;111111111111999",
]


@pytest.mark.parametrize("text", UNDECODABLE_JOINS)
def test_an_undecodable_token_does_not_hide_a_card_number(text: str) -> None:
    assert cards.contains_pan(text)
    assert logs.scrub_text(text).count("*") >= 9


@pytest.mark.parametrize("text", UNDECODABLE_JOINS[:10])
def test_a_reference_with_an_undecodable_join_is_refused(aws: Any, text: str) -> None:
    answer = post(payment(reference=text))
    assert answer.status == 400
    assert text not in json.dumps(answer.raw)
    assert aws.items() == []


@pytest.mark.parametrize("character", ["#", "%", "&"])
def test_a_reference_holds_no_encoding_characters(aws: Any, character: str) -> None:
    answer = post(payment(reference=f"order{character}77"))
    assert answer.status == 400
    assert answer.body["errors"][0]["code"] == "invalid_reference"


STORED_TEXT_VARIANTS = [
    "4111....1111....1111....1111",
    "4111 -- 1111 -- 1111 -- 1111",
    "NDExMTExMTExMTExMTExMQ==",
    "NDExMTExMTExMTExMTExMQ",
    "u-NDExMTExMTExMTExMTExMQ",
    "b3JkZXItNDExMTExMTExMTExMTExMQ",
]


@pytest.mark.parametrize("field", ["reference", "merchant_id", "user_id"])
@pytest.mark.parametrize("value", STORED_TEXT_VARIANTS)
def test_stored_free_text_is_scanned_with_any_separator_and_base64(aws: Any, field: str, value: str) -> None:
    answer = post(payment(**{field: value}))
    assert answer.status == 400, answer.body
    assert answer.body["errors"] == [
        {"field": field, "code": "card_number_not_allowed",
         "message": f"{field} looks like a card number; send it only in card.number"}
    ]
    assert value not in json.dumps(answer.raw)
    assert aws.items() == []


@pytest.mark.parametrize("value", ["0c9f3d2e-1234-4abc-8def-0123456789ab", "order-20240101", "INV 2024 0001 0002",
                                   "AbCdEfGhIjKlMnOpQrSt", "4111x1111x1111x1113"])
def test_ordinary_stored_text_passes_the_wider_scan(value: str) -> None:
    assert not cards.stored_text_holds_pan(value)


def test_a_session_name_holding_a_card_number_is_masked_in_the_attribution(aws: Any) -> None:
    session = "4111....1111....1111....1111"
    arn = CALLER.rsplit("/", 1)[0] + "/" + session
    answer = invoke(payment_validation.handler, alb_event("POST", "/payments", payment(), caller=arn))
    assert answer.status == 201
    text = json.dumps(aws.items())
    assert session not in text and "****....****....****....1111" in text
    encoded = CALLER.rsplit("/", 1)[0] + "/NDExMTExMTExMTExMTExMQ"
    answer = invoke(payment_validation.handler, alb_event("POST", "/payments", payment(amount="1.00"), caller=encoded))
    assert answer.status == 201
    assert "NDExMTExMTExMTExMTExMQ" not in json.dumps(aws.items())
