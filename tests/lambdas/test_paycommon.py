"""The shared package: ALB format, runtime wrapper, logging, money, cards, config, store."""

from __future__ import annotations

import json
import logging
import random
import re
from decimal import Decimal
from typing import Any

import pytest
from lambda_testkit import AMEX, MASTERCARD, VISA, Context, alb_event, invoke
from paycommon import alb, cards, config, logs, money, store
from paycommon import aws as paycommon_aws
from paycommon.alb import HttpError, Request, Response
from paycommon.runtime import alb_handler

# --- alb --------------------------------------------------------------------------------


def test_parse_event_single_value_headers() -> None:
    event = alb_event("post", "/payments", {"a": 1}, headers={"Idempotency-Key": "k1"})
    event["queryStringParameters"] = {"q%20x": "a+b"}
    request = alb.parse_event(event)
    assert request.method == "POST"
    assert request.path == "/payments"
    assert request.header("IDEMPOTENCY-KEY") == "k1"
    assert request.query == {"q x": "a b"}
    assert request.json_object() == {"a": 1}
    assert request.multi_value is False


def test_parse_event_multi_value_headers_and_base64_body() -> None:
    event = alb_event("POST", "/payments", {"a": "b"}, base64_body=True, multi_value=True)
    event["multiValueHeaders"]["x-forwarded-for"] = ["1.1.1.1", "2.2.2.2"]
    request = alb.parse_event(event)
    assert request.multi_value is True
    assert request.header("x-forwarded-for") == "2.2.2.2"
    assert request.json_object() == {"a": "b"}


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("not an event", 400),
        ({"path": "/payments"}, 400),
        ({"httpMethod": "POST", "path": "/p", "body": 12}, 400),
        ({"httpMethod": "POST", "path": "/p", "body": "!!!", "isBase64Encoded": True}, 400),
        ({"httpMethod": "POST", "path": "/p", "body": "x" * (alb.MAX_BODY_BYTES + 1)}, 413),
    ],
)
def test_parse_event_refuses_unreadable_events(event: Any, status: int) -> None:
    with pytest.raises(HttpError) as caught:
        alb.parse_event(event)
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"),
    [
        (b"", "application/json", 400, "empty"),
        (b"{", "application/json", 400, "not valid JSON"),
        (b'{"a": 1, "a": 2}', "application/json", 400, "duplicate key"),
        (b'{"a": NaN}', "application/json", 400, "NaN"),
        (b"[1]", "application/json", 400, "JSON object"),
        (b"\xff\xfe", "application/json", 400, "UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "application/json", 400, "not valid JSON"),
        (b"{}", "text/plain", 415, "application/json"),
    ],
)
def test_json_object_errors(body: bytes, content_type: str, status: int, fragment: str) -> None:
    request = Request("POST", "/p", {"content-type": content_type}, {}, body)
    with pytest.raises(HttpError) as caught:
        request.json_object()
    assert caught.value.status == status
    assert fragment in caught.value.message


def test_json_object_parses_numbers_as_decimal_and_accepts_json_suffix_types() -> None:
    request = Request("POST", "/p", {"content-type": "application/merge+json"}, {}, b'{"n": 0.1}')
    assert request.json_object() == {"n": Decimal("0.1")}
    assert isinstance(request.json_object()["n"], Decimal)
    assert Request("POST", "/p", {}, {}, b"{}").json_object() == {}


def test_match_route_404_and_405() -> None:
    pattern = re.compile(r"/payments/(?P<id>[^/]+)")
    request = Request("GET", "/payments/abc", {}, {}, b"")
    with pytest.raises(HttpError) as caught:
        alb.match_route(request, "POST", pattern)
    assert caught.value.status == 405
    assert caught.value.headers == {"allow": "POST"}
    with pytest.raises(HttpError) as caught:
        alb.match_route(Request("POST", "/other", {}, {}, b""), "POST", pattern)
    assert caught.value.status == 404
    assert alb.match_route(Request("POST", "/payments/abc", {}, {}, b""), "POST", pattern) == {"id": "abc"}


def test_render_formats() -> None:
    response = Response(201, {"amount": Decimal("1.50"), "tags": {"b", "a"}}, {"Location": "/x"})
    single = alb.render(response, multi_value=False, request_id="r1")
    assert single["statusCode"] == 201
    assert single["statusDescription"] == "201 Created"
    assert single["isBase64Encoded"] is False
    assert single["headers"]["location"] == "/x"
    assert single["headers"]["x-request-id"] == "r1"
    assert single["headers"]["cache-control"] == "no-store"
    assert json.loads(single["body"]) == {"amount": "1.50", "tags": ["a", "b"]}
    multi = alb.render(response, multi_value=True, request_id="r1")
    assert "headers" not in multi
    assert multi["multiValueHeaders"]["content-type"] == ["application/json; charset=utf-8"]
    with pytest.raises(TypeError):
        alb.dumps({"x": object()})


# --- runtime ----------------------------------------------------------------------------


def _wrapped(behaviour: Any) -> Any:
    @alb_handler(logs.get_logger("test"))
    def route(request: Request) -> Response:
        return behaviour(request)  # type: ignore[no-any-return]

    return route


def test_runtime_answers_500_without_details_and_logs_redacted_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def explode(request: Request) -> Response:
        raise ValueError(f"card {VISA} password=hunter2 broke")

    answer = invoke(_wrapped(explode), alb_event("POST", "/x", {}))
    assert answer.status == 500
    assert answer.body == {"error": "internal_error", "message": "internal error"}
    output = capsys.readouterr().out
    assert VISA not in output and "hunter2" not in output
    assert "ValueError" in output
    records = [json.loads(line) for line in output.splitlines()]
    assert records[-1]["status"] == 500
    assert records[-1]["request_id"] == answer.headers["x-request-id"]


def test_runtime_maps_config_errors_and_http_errors() -> None:
    def misconfigured(request: Request) -> Response:
        raise config.ConfigError("environment variable X is required")

    answer = invoke(_wrapped(misconfigured), alb_event("POST", "/x", {}))
    assert answer.status == 500
    assert answer.body["message"] == "the service is misconfigured"

    def teapot(request: Request) -> Response:
        raise HttpError(418, "teapot", "short and stout", details={"x": 1}, headers={"A": "b"})

    answer = invoke(_wrapped(teapot), alb_event("POST", "/x", {}, multi_value=True))
    assert answer.status == 418
    assert answer.body == {"error": "teapot", "message": "short and stout", "x": 1}
    assert answer.headers["a"] == "b"
    assert "multiValueHeaders" in answer.raw


def test_runtime_uses_the_lambda_request_id() -> None:
    handler = _wrapped(lambda request: Response(200, {"ok": True}))
    raw = handler(alb_event("POST", "/x", {}), Context(aws_request_id="req-123"))
    assert raw["headers"]["x-request-id"] == "req-123"
    raw = handler("garbage", None)
    assert raw["statusCode"] == 400


# --- logs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "card_number",
        "cardNumber",
        "cvv",
        "CVC2",
        "password",
        "db_password",
        "secret_string",
        "Authorization",
        "api_key",
        "apiKey",
        "card_token",
        "card_expiry",
        "pan",
        "x-api-key",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert logs.is_sensitive_key(key)


@pytest.mark.parametrize(
    "key", ["card_last4", "card_brand", "transaction_id", "amount", "company", "spanner", "status"]
)
def test_harmless_keys(key: str) -> None:
    assert not logs.is_sensitive_key(key)


def test_scrub_text_masks_luhn_valid_numbers_only() -> None:
    text = f"paid with {VISA} and {AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}; order 1234567890123"
    scrubbed = logs.scrub_text(text)
    assert scrubbed == "paid with ************1111 and **** ****** *0005; order 1234567890123"
    # 1234567890123 fails Luhn: not a card number
    assert logs.scrub_text('{"password": "s3cr3t", "cvv": "123"}') == (
        '{"password": "[REDACTED]", "cvv": "[REDACTED]"}'
    )


def test_redact_walks_nested_structures() -> None:
    value = {
        "outer": [{"card": {"number": VISA}}, {"note": f"n {MASTERCARD}"}],
        "card_last4": "1111",
        "amount": Decimal("1.5"),
        "when": 1700000000000,
        "obj": object,
    }
    redacted = logs.redact(value)
    assert redacted["outer"][0] == {"card": logs.REDACTED}
    assert MASTERCARD not in redacted["outer"][1]["note"]
    assert redacted["card_last4"] == "1111"
    assert redacted["amount"] == "1.5"
    assert redacted["when"] == 1700000000000
    assert isinstance(redacted["obj"], str)


def test_json_log_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "payment-validation-test")
    logger = logs.get_logger("unit")
    with logs.request_context("req-9", trace_id="Root=1"):
        logger.info("hello %s", VISA, extra={"cvv": "123", "card_last4": "1111", "n": 1})
    logger.info("outside")
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["message"] == "hello ************1111"
    assert first["cvv"] == logs.REDACTED
    assert first["card_last4"] == "1111"
    assert first["request_id"] == "req-9"
    assert first["trace_id"] == "Root=1"
    assert first["function"] == "payment-validation-test"
    assert first["environment"] == "test"
    assert first["level"] == "INFO"
    assert "request_id" not in second


def test_log_level_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    assert logs.configure().level == logging.WARNING
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    assert logs.configure().level == logging.INFO
    stdout_handlers = [h for h in logs.configure().handlers if isinstance(h, logs._StdoutHandler)]
    assert len(stdout_handlers) == 1


# --- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.30", Decimal("12.30")),
        (100, Decimal(100)),
        (Decimal("0.5"), Decimal("0.5")),
        (" 7 ", Decimal(7)),
        ("-3", Decimal(-3)),
    ],
)
def test_parse_amount(value: Any, expected: Decimal) -> None:
    assert money.parse_amount(value) == expected


@pytest.mark.parametrize("value", [True, 1.5, "1e3", "NaN", "abc", "", "1.", ".5", None, "1" * 19])
def test_parse_amount_refuses(value: Any) -> None:
    with pytest.raises(money.AmountError) as caught:
        money.parse_amount(value)
    assert caught.value.code == "amount_invalid"


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("0", "EUR", "amount_not_positive"),
        ("-1", "EUR", "amount_not_positive"),
        ("1.005", "EUR", "amount_precision"),
        ("10.5", "JPY", "amount_precision"),
        ("0.0001", "BHD", "amount_precision"),
        ("10000.01", "EUR", "amount_out_of_range"),
    ],
)
def test_check_amount_reasons(amount: str, currency: str, code: str) -> None:
    with pytest.raises(money.AmountError) as caught:
        money.check_amount(Decimal(amount), currency, Decimal(0), Decimal(10000))
    assert caught.value.code == code


def test_check_amount_accepts_exact_amounts() -> None:
    for amount, currency in (("12.50", "EUR"), ("12.5", "EUR"), ("1200", "JPY"), ("1.234", "BHD")):
        money.check_amount(Decimal(amount), currency, Decimal(0), Decimal(10000))
    money.check_amount(Decimal("5"), "EUR", Decimal(5), Decimal(5))


def test_currency_table() -> None:
    assert money.minor_units("EUR") == 2
    assert money.minor_units("JPY") == 0
    assert money.minor_units("KWD") == 3
    assert money.minor_units("CLF") == 4
    assert money.is_currency("USD") and not money.is_currency("usd")
    with pytest.raises(ValueError):
        money.minor_units("XXX")
    assert money.format_amount(Decimal("12.5"), "EUR") == "12.50"
    assert money.format_amount(Decimal("1200"), "JPY") == "1200"
    assert money.to_minor_units(Decimal("12.5"), "EUR") == 1250


def test_minor_unit_round_trip() -> None:
    generator = random.Random(4217)
    for _ in range(500):
        minor = generator.randint(1, 10**12)
        currency = generator.choice(["EUR", "JPY", "BHD", "CLF"])
        amount = Decimal(minor).scaleb(-money.minor_units(currency))
        text = money.format_amount(amount, currency)
        assert money.to_minor_units(money.parse_amount(text), currency) == minor


# --- cards ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        (VISA, "visa"),
        (MASTERCARD, "mastercard"),
        ("2223003122003222", "mastercard"),
        (AMEX, "amex"),
        ("6011111111111117", "discover"),
        ("3566002020360505", "jcb"),
        ("30569309025904", "diners"),
        ("6200000000000005", "unionpay"),
        ("9999999999999995", "unknown"),
    ],
)
def test_brands_and_luhn(number: str, brand: str) -> None:
    assert cards.luhn_valid(number)
    assert cards.brand(number) == brand
    assert len(number) in cards.valid_lengths(brand)


def test_luhn_rejects() -> None:
    assert not cards.luhn_valid("4111111111111112")
    assert not cards.luhn_valid("")
    assert not cards.luhn_valid("41111111111111x1")
    assert not cards.luhn_valid("\uff14\uff11\uff11\uff11")


def test_one_check_digit_makes_any_prefix_valid() -> None:
    generator = random.Random(10)
    for _ in range(500):
        prefix = "".join(generator.choice("0123456789") for _ in range(generator.randint(12, 18)))
        valid = [digit for digit in "0123456789" if cards.luhn_valid(prefix + digit)]
        assert len(valid) == 1
        # Changing any single digit breaks the checksum.
        number = prefix + valid[0]
        position = generator.randrange(len(number))
        changed = str((int(number[position]) + generator.randint(1, 9)) % 10)
        assert not cards.luhn_valid(number[:position] + changed + number[position + 1 :])


def test_card_helpers() -> None:
    assert cards.cvv_length("amex") == 4
    assert cards.cvv_length("visa") == 3
    assert cards.mask(VISA) == "************1111"
    assert cards.last_four(VISA) == "1111"
    assert cards.normalize_number("4111 1111-1111 1111") == VISA


# --- config -----------------------------------------------------------------------------


def test_config_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A", " x ")
    monkeypatch.setenv("N", "7")
    monkeypatch.setenv("L", "EUR, ,USD,")
    monkeypatch.setenv("D", "0.5")
    monkeypatch.delenv("MISSING", raising=False)
    assert config.env_str("A") == "x"
    assert config.env_str("MISSING", "d") == "d"
    assert config.env_optional("MISSING") is None
    assert config.env_int("N", 1, minimum=1, maximum=9) == 7
    assert config.env_int("MISSING", 3) == 3
    assert config.env_csv("L") == ("EUR", "USD")
    assert config.env_csv("MISSING", "a,b") == ("a", "b")
    assert config.env_decimal("D", "1") == Decimal("0.5")
    assert config.env_decimal("MISSING", "1") == Decimal(1)


@pytest.mark.parametrize(
    ("call", "value", "message"),
    [
        (lambda: config.env_str("V"), "", "is required"),
        (lambda: config.env_int("V", 1), "x", "must be an integer"),
        (lambda: config.env_int("V", 1, minimum=5), "4", ">= 5"),
        (lambda: config.env_int("V", 1, maximum=5), "6", "<= 5"),
        (lambda: config.env_decimal("V", "1"), "abc", "decimal number"),
        (lambda: config.env_decimal("V", "1"), "Infinity", "finite"),
        (lambda: config.env_decimal("V", "1", minimum=Decimal(0)), "-1", ">= 0"),
        (lambda: config.env_csv("V"), "", "is required"),
        (lambda: config.env_csv("V"), " , ", "at least one"),
    ],
)
def test_config_errors(monkeypatch: pytest.MonkeyPatch, call: Any, value: str, message: str) -> None:
    monkeypatch.setenv("V", value)
    with pytest.raises(config.ConfigError, match=message):
        call()


# --- store ------------------------------------------------------------------------------


def _transaction(transaction_id: str, timestamp: int, **extra: Any) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "timestamp": timestamp,
        "status": "VALIDATED",
        "user_id": "u-1",
        **extra,
    }


def test_store_find_get_and_update(aws: Any) -> None:
    transactions = store.TransactionStore(aws.dynamodb, aws.table)
    transaction_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    aws.dynamodb.put_item(TableName=aws.table, Item=store.serialize(_transaction(transaction_id, 5)))
    found = transactions.find(transaction_id)
    assert found is not None and found["timestamp"] == 5
    assert transactions.find("not-a-uuid") is None
    assert transactions.find("1f8fad5b-d9cb-469f-a165-70867728950e") is None
    assert transactions.get(transaction_id, 6) is None

    updated = transactions.update(found, store.Status.VALIDATED, {"status": "APPROVED"})
    assert updated["status"] == "APPROVED"
    with pytest.raises(store.StateConflict) as caught:
        transactions.update(found, store.Status.VALIDATED, {"status": "FLAGGED"})
    assert caught.value.current is not None and caught.value.current["status"] == "APPROVED"


def test_store_detects_two_items_for_one_transaction(aws: Any) -> None:
    transaction_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    for timestamp in (1, 2):
        aws.dynamodb.put_item(TableName=aws.table, Item=store.serialize(_transaction(transaction_id, timestamp)))
    with pytest.raises(store.CorruptTable):
        store.TransactionStore(aws.dynamodb, aws.table).find(transaction_id)


def test_store_errors_other_than_conditions_propagate(aws: Any) -> None:
    missing = store.TransactionStore(aws.dynamodb, "no-such-table")
    item = _transaction("0f8fad5b-d9cb-469f-a165-70867728950e", 1)
    with pytest.raises(Exception, match="ResourceNotFound"):
        missing.update(item, store.Status.VALIDATED, {"status": "APPROVED"})
    with pytest.raises(Exception, match="ResourceNotFound"):
        missing.create(item, {"transaction_id": "idem#x", "timestamp": 0})


def test_user_history_reads_every_page(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(7):
        item = _transaction(f"0f8fad5b-d9cb-469f-a165-7086772895{index:02d}", 1000 + index, merchant_id="m-1",
                            merchant_user="m-1#u-1")
        aws.dynamodb.put_item(TableName=aws.table, Item=store.serialize(item))
    other_merchant = _transaction("0f8fad5b-d9cb-469f-a165-708677289599", 1003, merchant_id="m-2",
                                  merchant_user="m-2#u-1")
    aws.dynamodb.put_item(TableName=aws.table, Item=store.serialize(other_merchant))
    transactions = store.TransactionStore(aws.dynamodb, aws.table)
    real_query = aws.dynamodb.query
    calls: list[dict[str, Any]] = []

    class Paging:
        def query(self, **request: Any) -> Any:
            calls.append(request)
            return real_query(**request, Limit=2)

    transactions._client = Paging()
    history = transactions.user_history("m-1", "u-1", 1001, 1006)
    assert history.complete
    assert [item["timestamp"] for item in history.items] == [1001, 1002, 1003, 1004, 1005, 1006]
    assert set(history.items[0]) == {"transaction_id", "timestamp", "status"}
    assert len(calls) >= 3
    monkeypatch.setattr(store, "MAX_HISTORY_PAGES", 1)
    cut = transactions.user_history("m-1", "u-1", 0, 10**13)
    assert len(cut.items) <= 2 and not cut.complete


def test_clients_are_cached_until_reset(aws: Any) -> None:
    first = paycommon_aws.client("sqs")
    assert paycommon_aws.client("sqs") is first
    paycommon_aws.reset_clients()
    assert paycommon_aws.client("sqs") is not first


def test_serialize_round_trip() -> None:
    item = {"a": Decimal("1.50"), "b": [{"c": True}], "timestamp": 12}
    assert store.deserialize(store.serialize(item)) == {
        "a": Decimal("1.5"),
        "b": [{"c": True}],
        "timestamp": 12,
    }


# --- third-party loggers ---------------------------------------------------------------------

THIRD_PARTY = ("boto3", "botocore", "urllib3", "s3transfer")


@pytest.fixture
def debug_root(monkeypatch: pytest.MonkeyPatch) -> Any:
    """LOG_LEVEL=DEBUG and a DEBUG root logger with a handler (as Lambda's runtime installs one)."""
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in THIRD_PARTY:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    yield records
    root.removeHandler(handler)
    root.setLevel(level)


def test_third_party_loggers_stay_at_warning_whatever_log_level_says(aws: Any, debug_root: Any) -> None:
    import logging

    logs.configure()
    assert logging.getLogger("payments").level == logging.DEBUG
    aws.dynamodb.describe_table(TableName=aws.table)
    assert [r.name for r in debug_root if r.name.split(".")[0] in THIRD_PARTY and r.levelno < logging.WARNING] == []
    assert all(logging.getLogger(name).getEffectiveLevel() == logging.WARNING for name in THIRD_PARTY)


def test_the_rotation_function_pins_them_too(debug_root: Any) -> None:
    import logging

    import db_secret_rotation

    db_secret_rotation._configure_logging()
    assert all(logging.getLogger(name).getEffectiveLevel() == logging.WARNING for name in THIRD_PARTY)
