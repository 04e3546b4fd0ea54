"""Helpers for the handler tests: ALB events, invocation, sample payments."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.postgres_server import PostgresServer  # noqa: F401 - the tests import it from here

REGION = "us-east-1"
TABLE = "transactions-test"
BUCKET = "payment-audit-logs-test"
VISA = "4111111111111111"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
CVV = "737"
FUTURE_YEAR = date.today().year + 3
ACCOUNT = "123456789012"
# The caller API Gateway names in x-payments-caller: a session of a role that may act for
# the merchants the sample payments use (MERCHANT_ACCESS in the ``aws`` fixture).
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-merchant/session-1"
OTHER_CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-other-merchant/session-9"
MERCHANT_ACCESS = {
    f"arn:aws:iam::{ACCOUNT}:role/payments-merchant": ["m-1001", "m-1", "m-2"],
    f"arn:aws:iam::{ACCOUNT}:role/payments-other-merchant": ["m-2002"],
}
# Per-currency figures, in each currency's major units (AMOUNT_LIMITS, FRAUD_AMOUNT_THRESHOLDS).
AMOUNT_LIMITS = {
    "EUR": {"min": "0", "max": "10000"},
    "USD": {"min": "0", "max": "10000"},
    "JPY": {"min": "0", "max": "1500000"},
    "BHD": {"min": "0", "max": "4000"},
}
FRAUD_AMOUNT_THRESHOLDS = {"EUR": "5000", "USD": "5000", "JPY": "750000", "BHD": "2000"}
_DEFAULT = object()


@dataclass
class Context:
    """The part of the Lambda context object the handlers read."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "test-function"


@dataclass(frozen=True)
class Answer:
    """A decoded ALB response."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    raw: dict[str, Any]


def alb_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    base64_body: bool = False,
    multi_value: bool = False,
    caller: Any = _DEFAULT,
) -> dict[str, Any]:
    """An event as an ALB sends it to a Lambda target.

    ``caller`` is the ``x-payments-caller`` header API Gateway adds (``CALLER`` unless
    given; None leaves it out).
    """
    text = "" if body is None else body if isinstance(body, str) else json.dumps(body)
    caller_value = CALLER if caller is _DEFAULT else caller
    all_headers = {
        "content-type": "application/json",
        "x-amzn-trace-id": "Root=1-00000000-000000000000000000000000",
        **({"x-payments-caller": caller_value} if caller_value is not None else {}),
        **(headers or {}),
    }
    event: dict[str, Any] = {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                "targetgroup/tg-blue/0123456789abcdef"
            }
        },
        "httpMethod": method,
        "path": path,
        "body": base64.b64encode(text.encode()).decode() if base64_body else text,
        "isBase64Encoded": base64_body,
    }
    if multi_value:
        event["multiValueHeaders"] = {key: [value] for key, value in all_headers.items()}
        event["multiValueQueryStringParameters"] = {}
    else:
        event["headers"] = all_headers
        event["queryStringParameters"] = {}
    return event


def invoke(handler: Callable[[Any, Any], dict[str, Any]], event: Any) -> Answer:
    """Calls a handler and checks the response has the ALB shape."""
    raw = handler(event, Context())
    assert set(raw) >= {"statusCode", "statusDescription", "isBase64Encoded", "body"}
    assert raw["isBase64Encoded"] is False
    assert raw["statusDescription"].startswith(f"{raw['statusCode']} ")
    if "multiValueHeaders" in raw:
        headers = {key: values[-1] for key, values in raw["multiValueHeaders"].items()}
    else:
        headers = dict(raw["headers"])
    assert headers["content-type"].startswith("application/json")
    return Answer(raw["statusCode"], json.loads(raw["body"]), headers, raw)


def payment(**overrides: Any) -> dict[str, Any]:
    """A valid payment request body; ``card=...`` entries are merged into the card."""
    body: dict[str, Any] = {
        "merchant_id": "m-1001",
        "user_id": "u-42",
        "amount": "125.50",
        "currency": "EUR",
        "card": {
            "number": VISA,
            "expiry_month": 12,
            "expiry_year": FUTURE_YEAR,
            "cvv": CVV,
        },
    }
    card_overrides = overrides.pop("card", None)
    body = copy.deepcopy(body)
    body.update(overrides)
    if isinstance(card_overrides, Mapping):
        body["card"].update(card_overrides)
    elif card_overrides is not None:
        body["card"] = card_overrides
    return body


@dataclass(frozen=True)
class AwsResources:
    """What the ``aws`` fixture created, with clients to inspect it."""

    dynamodb: Any
    s3: Any
    sqs: Any
    kms: Any
    table: str
    bucket: str
    topic_arn: str
    queue_url: str
    token_key_id: str
    audit_key_id: str

    def items(self) -> list[dict[str, Any]]:
        """Every item in the table, as raw DynamoDB JSON."""
        return list(self.dynamodb.scan(TableName=self.table, ConsistentRead=True)["Items"])

    def transactions(self) -> list[dict[str, Any]]:
        """Transaction items (not idempotency markers), deserialized."""
        from paycommon.store import deserialize

        return [deserialize(item) for item in self.items() if not item["transaction_id"]["S"].startswith("idem#")]

    def published(self) -> list[dict[str, Any]]:
        """The messages published to the failed-transactions topic, in order."""
        messages: list[dict[str, Any]] = []
        while True:
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = response.get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append({**envelope, "Message": json.loads(envelope["Message"])})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def create_table(dynamodb: Any, name: str) -> None:
    """The transactions table exactly as the platform defines it."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "transaction_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
            {"AttributeName": "user_id", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "card_token", "AttributeType": "S"},
            {"AttributeName": "merchant_user", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "transaction_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "user-index",
                "KeySchema": [
                    {"AttributeName": "user_id", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "status-index",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "merchant-user-index",
                "KeySchema": [
                    {"AttributeName": "merchant_user", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
            },
            {
                "IndexName": "card-token-index",
                "KeySchema": [
                    {"AttributeName": "card_token", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
