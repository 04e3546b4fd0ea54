"""The rotation function against moto's Secrets Manager and a real PostgreSQL server.

Secrets Manager's part of a rotation is reproduced with moto's RotateSecret
(which labels a new, value-less version AWSPENDING and enables rotation);
its Lambda invocation is a no-op here (no Docker), so the tests call the
handler for each step with that version's token, as the service would.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import secrets
import socket
import ssl
import struct
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import db_secret_rotation as rotation
import pg8000.native
import pytest
import rotation_db
from botocore.exceptions import ClientError
from lambda_testkit import REGION, PostgresServer
from moto import mock_aws
from scramp import ScramMechanism


@pytest.fixture
def role(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A fresh login role with a random password: (name, password).

    The handler verifies the server against the test CA (verify-full, the default mode).
    """
    monkeypatch.setenv("DB_TLS_CA_FILE", str(postgres.ca_file))
    name = f"app_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    admin = postgres.admin()
    try:
        admin.run(f"CREATE ROLE {pg8000.native.identifier(name)} LOGIN PASSWORD {pg8000.native.literal(password)}")
        yield name, password
        admin.run(f"DROP ROLE IF EXISTS {pg8000.native.identifier(name)}")
    finally:
        admin.close()


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Moto's Secrets Manager (and a no-op Lambda for RotateSecret to name)."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        rotation._secrets_client.cache_clear()
        monkeypatch.delenv("DB_TLS_MODE", raising=False)
        yield boto3.client("secretsmanager", region_name=REGION)
    rotation._secrets_client.cache_clear()


def _rotation_lambda_arn() -> str:
    iam = boto3.client("iam", region_name=REGION)
    role_arn = iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("noop.py", "def handler(event, context):\n    return None\n")
    return str(
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=f"rotation-{uuid.uuid4().hex[:8]}",
            Runtime="python3.12",
            Role=role_arn,
            Handler="noop.handler",
            Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]
    )


def _credentials(postgres: PostgresServer, username: str, password: str) -> dict[str, Any]:
    return {
        "engine": "postgres",
        "username": username,
        "password": password,
        "host": postgres.host,
        "port": postgres.port,
        "dbname": "postgres",
    }


def _create_secret(client: Any, secret: dict[str, Any]) -> str:
    return str(
        client.create_secret(Name=f"payment-db-credentials-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(secret))[
            "ARN"
        ]
    )


def _start_rotation(client: Any, arn: str) -> str:
    """What RotateSecret does before invoking the function; returns the new version's token."""
    token = str(uuid.uuid4())
    client.rotate_secret(
        SecretId=arn,
        ClientRequestToken=token,
        RotationLambdaARN=_rotation_lambda_arn(),
        RotationRules={"AutomaticallyAfterDays": 30},
    )
    return token


def _step(arn: str, token: str, step: str) -> None:
    rotation.handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, None)


def _stage_value(client: Any, arn: str, stage: str) -> dict[str, Any]:
    return dict(json.loads(client.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]))


def _can_login(postgres: PostgresServer, username: str, password: str) -> bool:
    secret = _credentials(postgres, username, password)
    connection = rotation_db.connect(secret, ca_file=str(postgres.ca_file))
    if connection is None:
        return False
    connection.close()
    return True


def _stages(client: Any, arn: str) -> dict[str, list[str]]:
    return dict(client.describe_secret(SecretId=arn)["VersionIdsToStages"])


def test_full_rotation_changes_the_password(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, old_password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, old_password))
    token = _start_rotation(secrets_manager, arn)

    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        _step(arn, token, step)

    current = _stage_value(secrets_manager, arn, "AWSCURRENT")
    previous = _stage_value(secrets_manager, arn, "AWSPREVIOUS")
    assert current["password"] != old_password
    assert previous["password"] == old_password
    assert {key: value for key, value in current.items() if key != "password"} == {
        key: value for key, value in previous.items() if key != "password"
    }
    assert "AWSCURRENT" in _stages(secrets_manager, arn)[token]
    assert _can_login(postgres, username, current["password"])
    assert not _can_login(postgres, username, old_password)


def test_password_is_stored_as_a_scram_verifier(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, old_password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, old_password))
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    _step(arn, token, "setSecret")

    admin = postgres.admin()
    try:
        stored = admin.run("SELECT rolpassword FROM pg_authid WHERE rolname = :name", name=username)
    finally:
        admin.close()
    assert stored[0][0].startswith("SCRAM-SHA-256$4096:")


def test_create_secret_is_idempotent(postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any) -> None:
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)

    _step(arn, token, "createSecret")
    first = _stage_value(secrets_manager, arn, "AWSPENDING")
    _step(arn, token, "createSecret")
    second = _stage_value(secrets_manager, arn, "AWSPENDING")

    assert first == second
    assert first["password"] != password
    assert len(first["password"]) == 32
    assert not set(first["password"]) & set(rotation_db.DEFAULT_EXCLUDE_CHARACTERS)
    assert len(_stages(secrets_manager, arn)) == 2


def test_create_secret_honours_length_and_exclusions(
    postgres: PostgresServer,
    role: tuple[str, str],
    secrets_manager: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PASSWORD_LENGTH", "20")
    monkeypatch.setenv("EXCLUDE_CHARACTERS", "aeiouAEIOU0123456789")
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    pending = _stage_value(secrets_manager, arn, "AWSPENDING")["password"]
    assert len(pending) == 20
    assert not set(pending) & set("aeiouAEIOU0123456789")


def test_set_secret_is_idempotent(postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any) -> None:
    username, old_password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, old_password))
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    pending = _stage_value(secrets_manager, arn, "AWSPENDING")["password"]

    _step(arn, token, "setSecret")
    admin = postgres.admin()
    try:
        query = "SELECT rolpassword FROM pg_authid WHERE rolname = :name"
        verifier = admin.run(query, name=username)[0][0]
        _step(arn, token, "setSecret")
        assert admin.run(query, name=username)[0][0] == verifier  # not changed again
    finally:
        admin.close()
    assert _can_login(postgres, username, pending)
    assert not _can_login(postgres, username, old_password)


def test_set_secret_falls_back_to_the_previous_credentials(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, database_password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, database_password))
    # AWSCURRENT now holds a password the database never got; AWSPREVIOUS still works.
    secrets_manager.put_secret_value(
        SecretId=arn,
        SecretString=json.dumps(_credentials(postgres, username, "not-the-db-password")),
    )
    token = _start_rotation(secrets_manager, arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        _step(arn, token, step)
    current = _stage_value(secrets_manager, arn, "AWSCURRENT")["password"]
    assert _can_login(postgres, username, current)
    assert not _can_login(postgres, username, database_password)


def test_set_secret_fails_when_no_credentials_work(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, _password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, "wrong-one"))
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    with pytest.raises(rotation_db.RotationError, match="cannot log into the database"):
        _step(arn, token, "setSecret")


@pytest.mark.parametrize("field", ["username", "host"])
def test_set_secret_refuses_a_pending_version_for_another_user_or_host(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any, field: str
) -> None:
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)
    changed = {**_credentials(postgres, username, "Pending-Passw0rd!"), field: "someone-else"}
    secrets_manager.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps(changed),
        VersionStages=["AWSPENDING"],
    )
    with pytest.raises(rotation_db.RotationError, match=f"changes {field}"):
        _step(arn, token, "setSecret")
    assert _can_login(postgres, username, password)


def test_test_secret_fails_before_the_password_is_set(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    with pytest.raises(rotation_db.RotationError, match="testSecret"):
        _step(arn, token, "testSecret")
    _step(arn, token, "setSecret")
    _step(arn, token, "testSecret")


def test_finish_secret_is_idempotent_and_later_steps_are_no_ops(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        _step(arn, token, step)
    stages = _stages(secrets_manager, arn)
    current = _stage_value(secrets_manager, arn, "AWSCURRENT")

    rotation.finish_secret(secrets_manager, arn, token)  # the step itself, already done
    for step in ("finishSecret", "createSecret", "setSecret"):  # the handler: already current
        _step(arn, token, step)

    assert _stages(secrets_manager, arn) == stages
    assert _stage_value(secrets_manager, arn, "AWSCURRENT") == current
    assert _can_login(postgres, username, current["password"])


def test_handler_rejects_unknown_tokens_and_versions_not_pending(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    original_version = next(iter(_stages(secrets_manager, arn)))
    secrets_manager.put_secret_value(SecretId=arn, SecretString=json.dumps(_credentials(postgres, username, password)))
    token = _start_rotation(secrets_manager, arn)

    with pytest.raises(rotation_db.RotationError, match="has no stage"):
        _step(arn, str(uuid.uuid4()), "createSecret")
    with pytest.raises(rotation_db.RotationError, match="not set as AWSPENDING"):
        _step(arn, original_version, "createSecret")  # now labelled AWSPREVIOUS
    with pytest.raises(rotation_db.RotationError, match="unknown step"):
        _step(arn, token, "dropDatabase")
    with pytest.raises(rotation_db.RotationError, match="needs SecretId"):
        rotation.handler({"SecretId": arn}, None)


def test_handler_refuses_when_rotation_is_disabled(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any
) -> None:
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)
    secrets_manager.cancel_rotate_secret(SecretId=arn)
    assert secrets_manager.describe_secret(SecretId=arn).get("RotationEnabled") is False
    with pytest.raises(rotation_db.RotationError, match="not enabled"):
        _step(arn, token, "createSecret")


@pytest.mark.parametrize(
    ("secret_string", "message"),
    [
        ("not json", "not a JSON secret string"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"username": "u", "host": "h"}), "lacks password"),
        (
            json.dumps({"username": "u", "password": "p", "host": "h", "engine": "mysql"}),
            "engine 'mysql'",
        ),
    ],
)
def test_malformed_secrets_are_refused(secrets_manager: Any, secret_string: str, message: str) -> None:
    arn = str(secrets_manager.create_secret(Name="bad", SecretString=secret_string)["ARN"])
    token = _start_rotation(secrets_manager, arn)
    with pytest.raises(rotation_db.RotationError, match=message):
        _step(arn, token, "createSecret")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        secrets_manager.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")


def test_secrets_manager_endpoint_is_honoured(secrets_manager: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"https://secretsmanager.{REGION}.amazonaws.com"
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", endpoint)
    client = rotation.secrets_client()
    assert client.meta.endpoint_url == endpoint
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT")
    assert rotation.secrets_client() is not client


class _FailingClient:
    """A Secrets Manager client whose reads fail with a chosen error code."""

    def __init__(self, code: str, secret: dict[str, Any]) -> None:
        self.code = code
        self.secret = secret

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        if request["VersionStage"] == "AWSCURRENT":
            return {"SecretString": json.dumps(self.secret)}
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "GetSecretValue")


def test_unexpected_secrets_manager_errors_propagate(
    postgres: PostgresServer, role: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    username, password = role
    client = _FailingClient("AccessDeniedException", _credentials(postgres, username, password))
    with pytest.raises(ClientError, match="AccessDenied"):
        rotation.create_secret(client, "arn", "token")
    with pytest.raises(ClientError, match="AccessDenied"):
        rotation._previous_or_none(client, "arn")
    assert rotation._previous_or_none(_FailingClient("ResourceNotFoundException", {}), "arn") is None


@pytest.mark.parametrize(("name", "value"), [("PASSWORD_LENGTH", "8"), ("PASSWORD_LENGTH", "many")])
def test_bad_numeric_settings_are_reported(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(rotation_db.RotationError, match=name):
        rotation._int_env(name, 32, 16, 128)


# --- rotation_db ------------------------------------------------------------------------


def test_scram_verifier_matches_an_independent_implementation() -> None:
    salt = bytes(range(16))
    verifier = rotation_db.scram_sha256_verifier("Tr0ub4dor&3", salt=salt)
    _salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(
        "Tr0ub4dor&3", iteration_count=4096, salt=salt
    )
    expected = (
        f"SCRAM-SHA-256${iterations}:{base64.b64encode(salt).decode()}$"
        f"{base64.b64encode(stored_key).decode()}:{base64.b64encode(server_key).decode()}"
    )
    assert verifier == expected


@pytest.mark.parametrize("password", ["", "has space", "caf\u00e9"])
def test_scram_verifier_refuses_non_ascii_or_blank_passwords(password: str) -> None:
    with pytest.raises(rotation_db.RotationError):
        rotation_db.scram_sha256_verifier(password)


def test_generated_passwords_use_every_class_and_vary() -> None:
    passwords = {rotation_db.generate_password(24, "/@\"'\\") for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        assert len(password) == 24
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)
        assert any(not c.isalnum() for c in password)
        assert not set(password) & set("/@\"'\\")


def test_password_generation_needs_characters() -> None:
    everything = "".join(chr(code) for code in range(33, 127))
    with pytest.raises(rotation_db.RotationError):
        rotation_db.generate_password(32, everything)


def test_unknown_or_clear_text_tls_modes_are_configuration_errors() -> None:
    for mode in ("sometimes", "disable", "prefer"):
        with pytest.raises(rotation_db.RotationError, match="DB_TLS_MODE must be one of verify-full, require"):
            rotation_db.connect({"username": "u", "password": "p", "host": "h"}, tls_mode=mode)


def _ssl_in_use(connection: Any) -> bool:
    return bool(connection.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [[True]])


def test_verify_full_is_the_default_and_succeeds_against_the_test_ca(
    postgres: PostgresServer, role: tuple[str, str]
) -> None:
    secret = _credentials(postgres, *role)
    assert rotation._db_options()["tls_mode"] == "verify-full"
    connection = rotation_db.connect(secret, ca_file=str(postgres.ca_file))
    assert connection is not None
    try:
        assert _ssl_in_use(connection)
    finally:
        connection.close()


def test_require_mode_encrypts_without_verifying(postgres: PostgresServer, role: tuple[str, str]) -> None:
    connection = rotation_db.connect(_credentials(postgres, *role), tls_mode="require")
    assert connection is not None
    try:
        assert _ssl_in_use(connection)
    finally:
        connection.close()


def _log_since(postgres: PostgresServer, offset: int, *, waiting_for: str | None = None) -> str:
    """The server log written after ``offset``; with ``waiting_for``, once that text is in it (the
    backend that refused a connection logs why a moment later)."""
    for _ in range(100):
        log = postgres.log_file.read_bytes()[offset:].decode("utf-8", "replace")
        if waiting_for is None or waiting_for in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"the server log never said {waiting_for!r}:\n{log}")


def test_a_server_the_ca_did_not_sign_is_a_tls_failure_before_any_password_is_sent(
    postgres: PostgresServer, role: tuple[str, str]
) -> None:
    username, _ = role
    offset = postgres.log_file.stat().st_size
    # The real server, seen by a client that trusts another CA: exactly an impostor's position.
    with pytest.raises(rotation_db.DatabaseTlsError, match=r"TLS with the database at 127\.0\.0\.1 failed"):
        rotation_db.connect(_credentials(postgres, *role), ca_file=str(postgres.impostor_ca_file))
    log = _log_since(postgres, offset, waiting_for="could not accept SSL connection")
    assert username not in log  # the startup message (and so any password) never came


def test_a_name_the_certificate_does_not_carry_is_a_tls_failure(
    postgres: PostgresServer, role: tuple[str, str]
) -> None:
    secret = {**_credentials(postgres, *role), "host": "localhost"}  # the certificate names 127.0.0.1 only
    with pytest.raises(rotation_db.DatabaseTlsError, match="localhost"):
        rotation_db.connect(secret, ca_file=str(postgres.ca_file))


def test_the_system_store_does_not_stand_in_for_the_bundle(
    postgres: PostgresServer, role: tuple[str, str], tmp_path: Any
) -> None:
    with pytest.raises(rotation_db.DatabaseTlsError, match="does not exist"):
        rotation_db.connect(_credentials(postgres, *role), ca_file=str(tmp_path / "missing.pem"))
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(rotation_db.DatabaseTlsError, match="no usable certificates"):
        rotation_db.connect(_credentials(postgres, *role), ca_file=str(empty))


@pytest.fixture
def impostor(postgres: PostgresServer) -> Iterator[None]:
    """The real server presenting the impostor certificate (another CA's, same address) for one test."""

    def serve(cert: Any, key: Any, trusted: Any) -> None:
        admin = postgres.admin()
        try:
            admin.run(f"ALTER SYSTEM SET ssl_cert_file = {pg8000.native.literal(str(cert))}")
            admin.run(f"ALTER SYSTEM SET ssl_key_file = {pg8000.native.literal(str(key))}")
            admin.run("SELECT pg_reload_conf()")
        finally:
            admin.close()
        context = rotation_db.ssl_context("verify-full", str(trusted))
        for _ in range(100):  # the postmaster reloads its TLS settings asynchronously
            try:
                pg8000.native.Connection("nobody", host=postgres.host, port=postgres.port, ssl_context=context,
                                         password="x", timeout=5)
            except ssl.SSLError:
                time.sleep(0.05)
                continue
            except pg8000.native.DatabaseError:
                return  # TLS done, login refused: the expected certificate is being served
        raise AssertionError(f"the server did not start serving {cert}")

    serve(postgres.impostor_cert, postgres.impostor_key, postgres.impostor_ca_file)
    try:
        yield
    finally:
        admin = postgres.admin()
        try:
            admin.run("ALTER SYSTEM RESET ssl_cert_file")
            admin.run("ALTER SYSTEM RESET ssl_key_file")
        finally:
            admin.close()
        serve(postgres.directory / "server.crt", postgres.directory / "server.key", postgres.ca_file)


def test_rotation_against_an_impostor_certificate_fails_as_tls_before_any_password_is_sent(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any, impostor: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    offset = postgres.log_file.stat().st_size

    with pytest.raises(rotation_db.DatabaseTlsError, match="certificate verify failed"):
        _step(arn, token, "setSecret")

    log = _log_since(postgres, offset, waiting_for="could not accept SSL connection")
    time.sleep(0.5)
    log = _log_since(postgres, offset)
    assert log.count("could not accept SSL connection") == 1  # refused at the first, pending, attempt
    assert "connection authorized" not in log and username not in log
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["level"] == "ERROR" and line["message"].startswith("TLS failure: ") for line in lines)


@pytest.fixture
def weak_login(postgres: PostgresServer) -> Iterator[dict[str, str]]:
    """Roles pg_hba.conf authenticates with clear-text and MD5 passwords: name -> password."""
    roles = {"cleartext_login": secrets.token_urlsafe(12), "md5_login": secrets.token_urlsafe(12)}
    admin = postgres.admin()
    try:
        admin.run("SET password_encryption = 'md5'")  # an MD5 verifier, or the server would use SCRAM anyway
        for name, password in roles.items():
            admin.run(f"CREATE ROLE {name} LOGIN PASSWORD {pg8000.native.literal(password)}")
        yield roles
        for name in roles:
            admin.run(f"DROP ROLE IF EXISTS {name}")
    finally:
        admin.close()


@pytest.mark.parametrize(("name", "method"), [("cleartext_login", "clear-text"), ("md5_login", "MD5")])
def test_clear_text_and_md5_password_requests_are_refused_without_sending_anything(
    postgres: PostgresServer, weak_login: dict[str, str], name: str, method: str
) -> None:
    secret = _credentials(postgres, name, weak_login[name])
    # The stock client logs in: the password really would have been accepted.
    context = rotation_db.ssl_context("verify-full", str(postgres.ca_file))
    pg8000.native.Connection(name, host=postgres.host, port=postgres.port, password=weak_login[name],
                             database="postgres", ssl_context=context).close()
    offset = postgres.log_file.stat().st_size
    with pytest.raises(rotation_db.InsecureAuthentication, match=f"asked for an? {method} password; refused"):
        rotation_db.connect(secret, ca_file=str(postgres.ca_file))
    assert "connection authorized" not in _log_since(postgres, offset)


def test_a_sasl_request_without_scram_is_refused() -> None:
    connection = object.__new__(rotation_db._Connection)
    with pytest.raises(rotation_db.InsecureAuthentication, match="no SCRAM-SHA-256"):
        connection.handle_AUTHENTICATION_REQUEST(struct.pack("!i", 10) + b"OTHER-MECH\x00\x00", None)


def test_a_server_refusing_tls_is_a_tls_failure(unused_tcp_port_server: Any) -> None:
    host, port = unused_tcp_port_server
    with pytest.raises(rotation_db.DatabaseTlsError, match="refuses TLS"):
        rotation_db.connect({"username": "u", "password": "p", "host": host, "port": port}, tls_mode="require")


@pytest.fixture
def unused_tcp_port_server() -> Iterator[tuple[str, int]]:
    """A listener answering PostgreSQL's SSLRequest with 'N' (no TLS), as a server with ssl = off does."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received: list[bytes] = []

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            received.append(connection.recv(8))
            connection.sendall(b"N")
            received.append(connection.recv(1024))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", int(listener.getsockname()[1])
    finally:
        thread.join(timeout=5)
        listener.close()
    assert received[0] == struct.pack("!ii", 8, 80877103)  # the SSLRequest
    assert received[1] == b""  # and nothing after it: the client hung up


class _NoRotationFlagClient:
    """Secrets Manager describing a pending version but saying nothing about rotation."""

    def describe_secret(self, **request: Any) -> dict[str, Any]:
        return {"ARN": request["SecretId"], "VersionIdsToStages": {"t": ["AWSPENDING"]}}


def test_rotation_is_refused_when_the_secret_does_not_say_it_is_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rotation, "secrets_client", _NoRotationFlagClient)
    with pytest.raises(rotation_db.RotationError, match="rotation is not enabled"):
        _step("arn", "t", "createSecret")


# --- a database that only says "logged in" ---------------------------------------------------


@pytest.fixture
def yes_server(postgres: PostgresServer) -> Iterator[dict[str, Any]]:
    """A TLS listener that answers every login with AuthenticationOk, asking for no password, and
    every statement with success: an impostor that would take an ALTER ROLE and apply nothing.
    Yields what it saw: ``logins`` and the ``statements``' types."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(postgres.impostor_cert), str(postgres.impostor_key))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    seen: dict[str, Any] = {"logins": 0, "statements": [], "port": int(listener.getsockname()[1])}
    stop = threading.Event()

    def message(kind: bytes, payload: bytes = b"") -> bytes:
        return kind + struct.pack("!i", len(payload) + 4) + payload

    def serve(raw: socket.socket) -> None:
        raw.settimeout(5)
        if raw.recv(8) != struct.pack("!ii", 8, 80877103):
            return
        raw.sendall(b"S")
        with context.wrap_socket(raw, server_side=True) as tls:
            length = struct.unpack("!i", tls.recv(4))[0]
            tls.recv(length - 4)  # the startup message
            seen["logins"] += 1
            tls.sendall(message(b"R", struct.pack("!i", 0)) + message(b"Z", b"I"))
            answers = {b"P": message(b"1"), b"B": message(b"2"), b"D": message(b"n"),
                       b"E": message(b"C", b"ALTER ROLE\x00"), b"S": message(b"Z", b"I"),
                       b"Q": message(b"C", b"ALTER ROLE\x00") + message(b"Z", b"I")}
            while True:
                header = tls.recv(5)
                if len(header) < 5 or header[:1] == b"X":
                    return
                body_length = struct.unpack("!i", header[1:])[0] - 4
                while body_length > 0:
                    body_length -= len(tls.recv(body_length))
                seen["statements"].append(header[:1].decode())
                tls.sendall(answers.get(header[:1], b""))

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            with raw, contextlib.suppress(OSError, ssl.SSLError):
                serve(raw)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_login_the_server_never_authenticated_is_refused(yes_server: dict[str, Any]) -> None:
    secret = {"username": "u", "password": "p", "host": "127.0.0.1", "port": yes_server["port"]}
    with pytest.raises(rotation_db.InsecureAuthentication, match="without authenticating"):
        rotation_db.connect(secret, tls_mode="require")
    assert yes_server["logins"] == 1 and yes_server["statements"] == []


def test_set_secret_against_a_database_that_only_says_logged_in_fails(
    secrets_manager: Any, yes_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_TLS_MODE", "require")
    secret = {"engine": "postgres", "username": "app", "password": "old-password", "host": "127.0.0.1",
              "port": yes_server["port"], "dbname": "postgres"}
    arn = _create_secret(secrets_manager, secret)
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    with pytest.raises(rotation_db.InsecureAuthentication, match="without authenticating"):
        _step(arn, token, "setSecret")
    assert "E" not in yes_server["statements"]  # no ALTER ROLE was sent


def test_set_secret_fails_unless_the_new_password_logs_in(
    postgres: PostgresServer, role: tuple[str, str], secrets_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that acknowledges ALTER ROLE and applies nothing: setSecret proves the change by a second login."""
    username, password = role
    arn = _create_secret(secrets_manager, _credentials(postgres, username, password))
    token = _start_rotation(secrets_manager, arn)
    _step(arn, token, "createSecret")
    monkeypatch.setattr(rotation, "set_password", lambda connection, name, new: connection.run("SELECT 1"))
    with pytest.raises(rotation_db.RotationError, match="the new password does not log in"):
        _step(arn, token, "setSecret")
    assert _can_login(postgres, username, password)


@pytest.mark.parametrize("variable", ["AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV"])
def test_require_is_refused_in_lambda(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "db-secret-rotation-prod")
    monkeypatch.setenv("DB_TLS_MODE", "require")
    with pytest.raises(rotation_db.RotationError, match="DB_TLS_MODE=require is for tests only"):
        rotation._db_options()
    monkeypatch.setenv("DB_TLS_MODE", "verify-full")
    assert rotation._db_options()["tls_mode"] == "verify-full"
