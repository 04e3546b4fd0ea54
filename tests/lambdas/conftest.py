"""Fixtures for the Lambda handler tests.

Handlers are imported the way Lambda imports them: each function directory
and ``lambdas/common`` are put on ``sys.path`` (module names are unique across
functions on purpose), so ``import payment_validation`` works as in the zip.

AWS services are moto's in-process mocks (``mock_aws``) driven through real
boto3 clients (created once per session, see ``aws_clients``); the ``aws``
fixture creates the table (both GSIs), the KMS keys, the audit bucket, the
failed-transactions topic (with an SQS queue subscribed, to read what was
published) and sets the handlers' environment.

The rotation tests need a real PostgreSQL server. The session fixture
``postgres`` finds ``initdb``/``pg_ctl`` on PATH or in
``/usr/lib/postgresql/*/bin`` (newest first) and skips with a reason when they
are missing (CI installs the ``postgresql`` package). It creates a cluster in
a fresh temporary directory, listening on a free port on 127.0.0.1 only, with
its unix socket inside that directory, TCP over TLS only (``hostssl``) with
SCRAM password authentication (``PG_HBA``), and a certificate for 127.0.0.1
signed by a throw-away test CA; an impostor certificate for the same address,
signed by another CA, is made beside it (``openssl`` is required: the
fixture skips with a reason without it).
PostgreSQL refuses to run as root, so when the tests run as root the cluster
is created and run as the ``postgres`` system user (created with ``useradd``
when absent) through ``runuser``, and the directory is chowned to it.
The server is stopped and the directory removed at the end of the session.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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
    PostgresServer,
    create_table,
)


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


def _postgres_bin() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        directory = Path(candidate).parent
        if (directory / "pg_ctl").exists():
            return directory
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_user() -> str | None:
    """The user to run PostgreSQL as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "postgres",
            ],
            check=True,
            capture_output=True,
        )
    return "postgres"


def _run(command: list[str], user: str | None, cwd: Path) -> None:
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120, cwd=cwd)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )


def _openssl(openssl: str, *args: str) -> None:
    completed = subprocess.run([openssl, *args], capture_output=True, check=False, timeout=60)
    if completed.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{completed.stderr.decode(errors='replace')}")


def _issue(openssl: str, directory: Path, name: str, ca: str | None, subject: str) -> tuple[Path, Path]:
    """A key and certificate: a self-signed CA when ``ca`` is None, else a server certificate for
    127.0.0.1 signed by the CA named ``ca`` (files ``<name>.key`` / ``<name>.crt``)."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    if ca is None:
        _openssl(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", str(key), "-out", str(cert))
    else:
        request = directory / f"{name}.csr"
        extensions = directory / f"{name}.ext"
        extensions.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        _openssl(openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                 "-keyout", str(key), "-out", str(request))
        _openssl(openssl, "x509", "-req", "-in", str(request), "-CA", str(directory / f"{ca}.crt"),
                 "-CAkey", str(directory / f"{ca}.key"), "-CAcreateserial", "-days", "2",
                 "-extfile", str(extensions), "-out", str(cert))
    key.chmod(0o600)
    return cert, key


def _make_certificates(directory: Path) -> dict[str, Path] | None:
    """A test CA and the server certificate it signs, and an impostor: another CA's certificate
    for the same address. None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    ca_cert, _ = _issue(openssl, directory, "ca", None, "/CN=payments test CA")
    server_cert, server_key = _issue(openssl, directory, "server", "ca", "/CN=127.0.0.1")
    impostor_ca, _ = _issue(openssl, directory, "impostor-ca", None, "/CN=payments test CA")
    impostor_cert, impostor_key = _issue(openssl, directory, "impostor", "impostor-ca", "/CN=127.0.0.1")
    return {"ca": ca_cert, "cert": server_cert, "key": server_key, "impostor_ca": impostor_ca,
            "impostor_cert": impostor_cert, "impostor_key": impostor_key}


# TCP connections only over TLS (as rds.force_ssl = 1 on the cluster), SCRAM for everyone but two
# roles that exist to check the rotation client refuses clear-text and MD5 password requests.
PG_HBA = """\
local    all  all                                 trust
hostssl  all  cleartext_login  127.0.0.1/32  password
hostssl  all  md5_login        127.0.0.1/32  md5
hostssl  all  all              127.0.0.1/32  scram-sha-256
"""


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (see the module docstring)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
            "/usr/lib/postgresql/*/bin; install the 'postgresql' package"
        )
    user = _server_user()
    directory = Path(tempfile.mkdtemp(prefix="lambdas-pg-"))
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    password_file = directory / "superuser-password"
    password_file.write_text(secrets.token_hex(16) + "\n")
    certificates = _make_certificates(directory)
    if certificates is None:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.skip("openssl is needed to make the test server's certificates (the server speaks TLS only)")
    if user is not None:
        record = pwd.getpwnam(user)
        for path in [directory, *directory.rglob("*")]:
            os.chown(path, record.pw_uid, record.pw_gid)
    port = _free_port()
    options = [
        f"-p {port}",
        f"-k {sockets}",
        "-c listen_addresses=127.0.0.1",
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
        "-c max_connections=50",
        "-c log_connections=on",
    ]
    # TLS settings go in postgresql.conf, not on the command line, so a test can change them
    # with ALTER SYSTEM (the command line would take precedence).
    tls_settings = (
        "ssl = on\n"
        f"ssl_ca_file = '{certificates['ca']}'\n"
        f"ssl_cert_file = '{certificates['cert']}'\n"
        f"ssl_key_file = '{certificates['key']}'\n"
    )
    started = False
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={password_file}",
            ],
            user,
            directory,
        )
        (data / "pg_hba.conf").write_text(PG_HBA)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(tls_settings)
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(directory / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
                "start",
            ],
            user,
            directory,
        )
        started = True
        yield PostgresServer(
            host="127.0.0.1",
            port=port,
            socket_dir=sockets,
            directory=directory,
            superuser="postgres",
            ca_file=certificates["ca"],
            impostor_ca_file=certificates["impostor_ca"],
            impostor_cert=certificates["impostor_cert"],
            impostor_key=certificates["impostor_key"],
            log_file=directory / "server.log",
        )
    finally:
        if started:
            _run(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                user,
                directory,
            )
        shutil.rmtree(directory, ignore_errors=True)
