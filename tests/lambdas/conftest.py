"""Fixtures for the Lambda handler tests.

Handlers are imported the way Lambda imports them: each function directory
and ``lambdas/common`` are put on ``sys.path`` (module names are unique across
functions on purpose), so ``import payment_validation`` works as in the zip.

AWS services are moto's in-process mocks (``mock_aws``) driven through real
boto3 clients (created once per session, see ``aws_clients``); the ``aws``
fixture creates the table (both GSIs), the KMS keys, the audit bucket, the
failed-transactions topic (with an SQS queue subscribed, to read what was
published) and sets the handlers' environment.

The rotation tests need a real PostgreSQL server: the session fixture
``postgres`` runs one (tests/postgres_server.py, shared with the end-to-end
data plane: TLS only, SCRAM, a certificate from a test CA and an impostor's)
and skips with a reason when the server binaries or ``openssl`` are missing
(CI installs the ``postgresql`` package).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LAMBDAS = ROOT / "lambdas"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
for _directory in (
    "db_secret_rotation",
    "transaction_processing",
    "fraud_detection",
    "payment_validation",
    "common",
):
    _path = str(LAMBDAS / _directory)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from lambda_testkit import (  # noqa: E402
    AMOUNT_LIMITS,
    BUCKET,
    FRAUD_AMOUNT_THRESHOLDS,
    MERCHANT_ACCESS,
    REGION,
    TABLE,
    AwsResources,
    create_table,
)

from tests.postgres_server import PostgresServer, PostgresUnavailable, postgres_server  # noqa: E402


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so no test can reach a real AWS account."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "SECRETS_MANAGER_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("LOG_LEVEL", "INFO")


@pytest.fixture(scope="session")
def aws_clients() -> dict[str, Any]:
    """boto3 clients for the tests' own set-up and checks, created once.

    Creating a client costs tens of milliseconds; moto intercepts every
    client's requests while a mock is active, whenever the client was made,
    and each ``mock_aws`` block starts from empty backends. The handlers'
    cached clients (``paycommon.aws``) are reused across tests the same way.
    """
    credentials = {
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return {name: boto3.client(name, **credentials) for name in ("dynamodb", "kms", "s3", "sns", "sqs")}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, aws_clients: dict[str, Any]) -> Iterator[AwsResources]:
    """Mocked AWS with the platform's resources, and the handlers' environment set."""
    with mock_aws():
        dynamodb, kms, s3, sns, sqs = (aws_clients[name] for name in ("dynamodb", "kms", "s3", "sns", "sqs"))
        create_table(dynamodb, TABLE)
        token_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
        audit_key = kms.create_key(Description="audit")
        s3.create_bucket(Bucket=BUCKET)
        topic_arn = sns.create_topic(Name="failed-transactions-test")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

        resources = AwsResources(
            dynamodb=dynamodb,
            s3=s3,
            sqs=sqs,
            kms=kms,
            table=TABLE,
            bucket=BUCKET,
            topic_arn=topic_arn,
            queue_url=queue_url,
            token_key_id=token_key["KeyMetadata"]["KeyId"],
            audit_key_id=audit_key["KeyMetadata"]["Arn"],
        )
        monkeypatch.setenv("TRANSACTIONS_TABLE", TABLE)
        monkeypatch.setenv("ALLOWED_CURRENCIES", "EUR,USD,JPY,BHD")
        monkeypatch.setenv("CARD_TOKEN_KMS_KEY_ID", resources.token_key_id)
        monkeypatch.setenv("FAILED_TRANSACTIONS_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("AUDIT_BUCKET", BUCKET)
        monkeypatch.setenv("AUDIT_KMS_KEY_ID", resources.audit_key_id)
        monkeypatch.setenv("MERCHANT_ACCESS", json.dumps(MERCHANT_ACCESS))
        monkeypatch.setenv("AMOUNT_LIMITS", json.dumps(AMOUNT_LIMITS))
        monkeypatch.setenv("FRAUD_AMOUNT_THRESHOLDS", json.dumps(FRAUD_AMOUNT_THRESHOLDS))
        yield resources


# --- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (tests/postgres_server.py); skipped with the
    reason when the server binaries or openssl are missing."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_server())
        except PostgresUnavailable as exc:  # only a server that cannot start skips; a failure after is an error
            pytest.skip(str(exc))
        yield server
