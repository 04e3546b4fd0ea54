"""Object-level authorisation: the authenticated caller decides the merchant (moto)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import fraud_detection
import payment_validation
import pytest
import transaction_processing
from lambda_testkit import ACCOUNT, CALLER, OTHER_CALLER, alb_event, invoke, payment
from paycommon.access import MerchantAccess, principal
from paycommon.config import ConfigError

ROLE = f"arn:aws:iam::{ACCOUNT}:role/payments-merchant"


def post(body: dict[str, Any], *, caller: Any = CALLER, key: str | None = None, **kwargs: Any) -> Any:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return invoke(
        payment_validation.handler,
        alb_event("POST", "/payments", body, headers=headers, caller=caller, **kwargs),
    )


def fraud_check(transaction_id: str, *, caller: Any = CALLER) -> Any:
    return invoke(fraud_detection.handler, alb_event("POST", f"/payments/{transaction_id}/fraud-check", caller=caller))


def process(transaction_id: str, *, caller: Any = CALLER) -> Any:
    event = alb_event("POST", f"/payments/{transaction_id}/process", caller=caller)
    return invoke(transaction_processing.handler, event)


def error_lines(output: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, output.splitlines()) if line["level"] == "ERROR"]


def test_a_body_merchant_the_caller_may_not_use_is_403_and_nothing_is_stored(aws: Any) -> None:
    answer = post(payment(merchant_id="m-1001"), caller=OTHER_CALLER)

    assert answer.status == 403
    assert answer.body["error"] == "forbidden"
    assert answer.body["errors"] == [
        {"field": "merchant_id", "code": "merchant_not_allowed", "message": "the caller may not act for this merchant"}
    ]
    assert aws.items() == []


def test_the_caller_may_pay_for_its_own_merchants(aws: Any) -> None:
    assert post(payment(merchant_id="m-2002"), caller=OTHER_CALLER).status == 201
    assert post(payment(merchant_id="m-1001")).status == 201


def test_another_merchants_transaction_is_404_to_fraud_check_and_process_like_an_unknown_one(aws: Any) -> None:
    victim = post(payment(merchant_id="m-1001")).body["transaction_id"]
    unknown = str(uuid.uuid4())

    for call in (fraud_check, process):
        stolen, missing = call(victim, caller=OTHER_CALLER), call(unknown, caller=OTHER_CALLER)
        assert stolen.status == missing.status == 404
        assert stolen.body == missing.body == {"error": "not_found", "message": "no such transaction"}
        assert "m-1001" not in json.dumps(stolen.raw)
    [item] = aws.transactions()
    assert item["status"] == "VALIDATED" and "fraud" not in item

    assert fraud_check(victim).body["status"] == "APPROVED"
    assert process(victim, caller=OTHER_CALLER).status == 404
    assert process(victim).body["status"] == "PROCESSED"


def test_an_idempotency_key_of_another_merchant_reveals_nothing(aws: Any) -> None:
    key = "order-77"
    assert post(payment(merchant_id="m-1001"), key=key).status == 201

    probe = post(payment(merchant_id="m-1001", amount="1.00"), caller=OTHER_CALLER, key=key)
    assert probe.status == 403 and probe.body["error"] == "forbidden"
    own = post(payment(merchant_id="m-2002", amount="1.00"), caller=OTHER_CALLER, key=key)
    assert own.status == 201 and "idempotent-replayed" not in own.headers


@pytest.mark.parametrize("handler", ["validation", "fraud", "processing"])
@pytest.mark.parametrize(
    "header", [None, "", "  ", "m-1001", "arn:aws:s3:::bucket", "arn:aws:sts::12:assumed-role/r/s"]
)
def test_a_request_without_an_authenticated_caller_is_403_with_an_error_log_line(
    aws: Any, capsys: pytest.CaptureFixture[str], handler: str, header: str | None
) -> None:
    transaction_id = post(payment()).body["transaction_id"]
    capsys.readouterr()
    calls = {
        "validation": lambda: post(payment(), caller=header),
        "fraud": lambda: fraud_check(transaction_id, caller=header),
        "processing": lambda: process(transaction_id, caller=header),
    }
    answer = calls[handler]()

    assert answer.status == 403
    assert answer.body == {"error": "forbidden", "message": "the caller is not identified"}
    [line] = error_lines(capsys.readouterr().out)
    assert line["message"] == "request without an authenticated caller refused"
    assert line["request_id"] == answer.headers["x-request-id"]
    assert len(aws.transactions()) == 1


def test_a_principal_missing_from_the_mapping_may_act_for_no_merchant(aws: Any) -> None:
    stranger = f"arn:aws:sts::{ACCOUNT}:assumed-role/someone-else/s"
    transaction_id = post(payment()).body["transaction_id"]
    assert post(payment(), caller=stranger).status == 403
    assert fraud_check(transaction_id, caller=stranger).status == 404


def test_the_caller_header_is_read_whatever_its_case_and_with_multi_value_headers(aws: Any) -> None:
    event = alb_event("POST", "/payments", payment(), caller=None, headers={"X-Payments-Caller": CALLER})
    assert invoke(payment_validation.handler, event).status == 201
    event = alb_event("POST", "/payments", payment(), multi_value=True)
    assert invoke(payment_validation.handler, event).status == 201


@pytest.mark.parametrize("value", [None, "not json", "[]", '{"m-1001": ["m-1001"]}', f'{{"{ROLE}": "m-1001"}}',
                                   f'{{"{ROLE}": ["has space"]}}'])
def test_a_missing_or_invalid_mapping_is_a_configuration_error(
    aws: Any, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("MERCHANT_ACCESS")
    else:
        monkeypatch.setenv("MERCHANT_ACCESS", value)
    answer = post(payment())
    assert answer.status == 500 and answer.body["message"] == "the service is misconfigured"
    assert aws.items() == []


@pytest.mark.parametrize(
    ("arn", "identity"),
    [
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-merchant/session-1", ROLE),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-merchant/other@example.com", ROLE),
        (ROLE, ROLE),
        (f"arn:aws:iam::{ACCOUNT}:role/team/payments/payments-merchant", ROLE),
        (f"arn:aws:iam::{ACCOUNT}:user/ops/alice", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/r/s", f"arn:aws-cn:iam::{ACCOUNT}:role/r"),
        (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:root"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/only-a-role", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s/extra", None),
        (f"arn:aws:iam::{ACCOUNT}:assumed-role/r/s", None),
        (f"arn:aws:sts::{ACCOUNT}:role/r", None),
        ("arn:aws:iam::999:role/r", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:f", None),
    ],
)
def test_principal_reduces_a_caller_arn_to_its_iam_identity(arn: str, identity: str | None) -> None:
    assert principal(arn) == identity


def test_configured_principals_with_a_path_match_their_role_sessions() -> None:
    access = MerchantAccess.parse(json.dumps({
        f"arn:aws:iam::{ACCOUNT}:role/team/payments-merchant": ["m-1"],
        ROLE: ["m-2"],
    }))
    assert access.grants == {ROLE: frozenset({"m-1", "m-2"})}
    with pytest.raises(ConfigError, match="not an IAM principal ARN"):
        MerchantAccess.parse('{"arn:aws:s3:::bucket": []}')


# --- one caller, said once -----------------------------------------------------------------


@pytest.mark.parametrize("multi_value", [True, False])
def test_a_repeated_caller_header_is_refused(aws: Any, capsys: pytest.CaptureFixture[str], multi_value: bool) -> None:
    event = alb_event("POST", "/payments", payment(), caller=None, multi_value=multi_value)
    if multi_value:
        event["multiValueHeaders"]["x-payments-caller"] = [OTHER_CALLER, CALLER]
    else:
        event["headers"].update({"X-Payments-Caller": OTHER_CALLER, "x-payments-caller": CALLER})
    answer = invoke(payment_validation.handler, event)
    assert answer.status == 403
    assert answer.body == {"error": "forbidden", "message": "the caller is not identified"}
    [line] = error_lines(capsys.readouterr().out)
    assert line["caller_header"] == "repeated"
    assert aws.items() == []


FEDERATED = f"arn:aws:sts::{ACCOUNT}:federated-user/payments-merchant"


def test_a_federated_user_is_no_caller(aws: Any) -> None:
    """GetFederationToken lets an IAM user choose the name: a grant keyed on it would be anyone's."""
    assert principal(FEDERATED) is None
    answer = post(payment(), caller=FEDERATED)
    assert answer.status == 403 and answer.body["message"] == "the caller is not identified"


def test_a_federated_user_cannot_be_granted_merchants() -> None:
    with pytest.raises(ConfigError, match="not an IAM principal ARN"):
        MerchantAccess.parse(json.dumps({FEDERATED: ["m-1001"]}))


# --- who moved the money ---------------------------------------------------------------------


def session(name: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-merchant/{name}"


def test_each_step_records_who_took_it_in_the_item_the_audit_record_and_every_log_line(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    callers = {"created": session("clerk-1"), "fraud_checked": session("risk-2"), "processed": session("batch-3")}
    transaction_id = post(payment(), caller=callers["created"]).body["transaction_id"]
    assert fraud_check(transaction_id, caller=callers["fraud_checked"]).status == 200
    assert process(transaction_id, caller=callers["processed"]).status == 200

    [item] = aws.transactions()
    [key] = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket)["Contents"]]
    record = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    for step, arn in callers.items():
        assert item[f"{step}_by"] == record[f"{step}_by"] == ROLE
        assert item[f"{step}_by_arn"] == record[f"{step}_by_arn"] == arn

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_request: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_request.setdefault(line["request_id"], []).append(line)
    assert len(by_request) == 3
    seen = set()
    for request_lines in by_request.values():
        assert {(line["caller"], line.get("caller_arn")) for line in request_lines} in (
            {(ROLE, arn)} for arn in callers.values())
        assert any(line["message"] == "request completed" for line in request_lines)
        seen.add(request_lines[0]["caller_arn"])
    assert seen == set(callers.values())


def test_a_rejected_payment_records_who_sent_it(aws: Any) -> None:
    assert post(payment(amount="0"), caller=session("clerk-9")).status == 422
    [item] = aws.transactions()
    assert (item["status"], item["created_by"], item["created_by_arn"]) == ("REJECTED", ROLE, session("clerk-9"))


def test_a_card_number_in_a_session_name_is_stored_masked(aws: Any) -> None:
    caller = session("sess-4111111111111111")
    transaction_id = post(payment(), caller=caller).body["transaction_id"]
    [item] = aws.transactions()
    assert item["transaction_id"] == transaction_id
    assert item["created_by_arn"] == session("sess-************1111")
