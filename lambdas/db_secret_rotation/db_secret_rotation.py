"""Secrets Manager rotation of a PostgreSQL user's password (single-user strategy).

Secrets Manager calls the handler four times per rotation with
``{"SecretId", "ClientRequestToken", "Step"}``; the token is the id of the
new version, which RotateSecret created with the label AWSPENDING. Each step
may be retried and is idempotent, as in AWS's reference rotation functions:

- ``createSecret``: store a new password as the AWSPENDING version, unless
  that version already has a value.
- ``setSecret``: change the user's password to the pending one, logging in
  with the pending, current or previous credentials (whichever works: a
  pending password that already logs in means the step already ran), then
  log in again with the pending password: the change is proven, not taken on
  the server's word.
- ``testSecret``: log in with the pending credentials and run a query.
- ``finishSecret``: move AWSCURRENT to the new version (Secrets Manager then
  labels the old one AWSPREVIOUS); nothing to do if it is already there.

Before any step the handler checks that rotation is enabled (``RotationEnabled``
is true; a secret whose description lacks it is refused) and that the
token is a version of the secret labelled AWSPENDING (or already AWSCURRENT,
in which case there is nothing left to do).

The secret is JSON: ``username``, ``password``, ``host``, ``port`` (default
5432), ``dbname`` (default ``postgres``) and ``engine`` (``postgres`` when
present). Nothing from it except the username is ever logged.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from rotation_db import (
    DEFAULT_EXCLUDE_CHARACTERS,
    DEFAULT_TLS_MODE,
    DatabaseTlsError,
    InsecureAuthentication,
    RotationError,
    check_login,
    connect,
    generate_password,
    set_password,
)

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"
_REQUIRED_KEYS = ("username", "password", "host")

logger = logging.getLogger("db_secret_rotation")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("secret_arn", "step", "version", "username"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at emit time (Lambda and test capture alike)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


# At DEBUG botocore logs request and response bodies, Secrets Manager's secret values included:
# its loggers (and urllib3's) stay at WARNING whatever LOG_LEVEL says.
THIRD_PARTY_LOGGERS = ("boto3", "botocore", "urllib3", "s3transfer")


def _configure_logging() -> None:
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    level = logging.getLevelName(os.environ.get("LOG_LEVEL", "INFO").strip().upper())
    logger.setLevel(level if isinstance(level, int) else logging.INFO)


@functools.cache
def _secrets_client(endpoint_url: str | None) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint_url,
        config=Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard"}),
    )


def secrets_client() -> Any:
    """The Secrets Manager client, at SECRETS_MANAGER_ENDPOINT when that is set."""
    return _secrets_client(os.environ.get("SECRETS_MANAGER_ENDPOINT", "").strip() or None)


def _int_env(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise RotationError(f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise RotationError(f"{name} must be between {minimum} and {maximum}")
    return value


def _db_options() -> dict[str, Any]:
    tls_mode = os.environ.get("DB_TLS_MODE", "").strip() or DEFAULT_TLS_MODE
    in_lambda = any(os.environ.get(name, "").strip() for name in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV"))
    if tls_mode == "require" and in_lambda:
        # The master password must only ever go to a server proven to be the cluster.
        raise RotationError("DB_TLS_MODE=require is for tests only: in Lambda the database is verified (verify-full)")
    return {
        "tls_mode": tls_mode,
        "ca_file": os.environ.get("DB_TLS_CA_FILE", "").strip() or None,
        "timeout": float(_int_env("DB_CONNECT_TIMEOUT_SECONDS", 5, 1, 60)),
    }


def _is_not_found(exc: ClientError) -> bool:
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code == "ResourceNotFoundException"


def get_secret_dict(client: Any, arn: str, stage: str, token: str | None = None) -> dict[str, Any]:
    """The secret version with ``stage`` (and ``token``) as a checked dict."""
    request: dict[str, str] = {"SecretId": arn, "VersionStage": stage}
    if token is not None:
        request["VersionId"] = token
    response = client.get_secret_value(**request)
    try:
        secret = json.loads(response["SecretString"])
    except (KeyError, TypeError, ValueError):
        raise RotationError(f"the {stage} version is not a JSON secret string") from None
    if not isinstance(secret, dict):
        raise RotationError(f"the {stage} version is not a JSON object")
    missing = [key for key in _REQUIRED_KEYS if not secret.get(key)]
    if missing:
        raise RotationError(f"the {stage} version lacks {', '.join(missing)}")
    engine = secret.get("engine")
    if engine is not None and engine != "postgres":
        raise RotationError(f"the {stage} version is for engine {engine!r}, not postgres")
    return secret


def create_secret(client: Any, arn: str, token: str) -> None:
    """Stores a new password as the AWSPENDING version unless it has a value already."""
    current = get_secret_dict(client, arn, CURRENT)
    try:
        get_secret_dict(client, arn, PENDING, token)
    except ClientError as exc:
        if not _is_not_found(exc):
            raise
    else:
        logger.info("createSecret: the pending version already exists", extra={"version": token})
        return
    length = _int_env("PASSWORD_LENGTH", 32, 16, 128)
    exclude = os.environ.get("EXCLUDE_CHARACTERS", DEFAULT_EXCLUDE_CHARACTERS)
    pending = {**current, "password": generate_password(length, exclude)}
    client.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps(pending),
        VersionStages=[PENDING],
    )
    logger.info("createSecret: stored the pending version", extra={"version": token})


def _previous_or_none(client: Any, arn: str) -> dict[str, Any] | None:
    try:
        return get_secret_dict(client, arn, PREVIOUS)
    except ClientError as exc:
        if _is_not_found(exc):
            return None
        raise


def set_secret(client: Any, arn: str, token: str) -> None:
    """Sets the database password to the pending one."""
    options = _db_options()
    current = get_secret_dict(client, arn, CURRENT)
    pending = get_secret_dict(client, arn, PENDING, token)
    for key in ("username", "host"):
        if current[key] != pending[key]:
            raise RotationError(f"the pending version changes {key}; single-user rotation cannot")

    connection = connect(pending, **options)
    if connection is not None:
        connection.close()
        logger.info("setSecret: the pending password already works", extra={"version": token})
        return

    connection = connect(current, **options)
    if connection is None:
        previous = _previous_or_none(client, arn)
        if previous is not None and all(previous[key] == pending[key] for key in ("username", "host")):
            connection = connect(previous, **options)
    if connection is None:
        raise RotationError("setSecret: cannot log into the database with the previous, current or pending secret")
    try:
        set_password(connection, pending["username"], pending["password"])
    finally:
        connection.close()
    # Proof that the change took: a server that acknowledged ALTER ROLE and applied nothing would
    # otherwise make the step succeed.
    proof = connect(pending, **options)
    if proof is None:
        raise RotationError("setSecret: the database acknowledged the change but the new password does not log in")
    try:
        check_login(proof)
    finally:
        proof.close()
    logger.info(
        "setSecret: password changed",
        extra={"version": token, "username": pending["username"]},
    )


def test_secret(client: Any, arn: str, token: str) -> None:
    """Logs in with the pending credentials and runs a query."""
    pending = get_secret_dict(client, arn, PENDING, token)
    connection = connect(pending, **_db_options())
    if connection is None:
        raise RotationError("testSecret: cannot log into the database with the pending secret")
    try:
        check_login(connection)
    finally:
        connection.close()
    logger.info("testSecret: the pending secret works", extra={"version": token})


def finish_secret(client: Any, arn: str, token: str) -> None:
    """Moves AWSCURRENT to the new version."""
    metadata = client.describe_secret(SecretId=arn)
    current_version = None
    for version, stages in metadata.get("VersionIdsToStages", {}).items():
        if CURRENT in stages:
            if version == token:
                logger.info("finishSecret: already current", extra={"version": token})
                return
            current_version = version
            break
    request: dict[str, str] = {"SecretId": arn, "VersionStage": CURRENT, "MoveToVersionId": token}
    if current_version is not None:
        request["RemoveFromVersionId"] = current_version
    client.update_secret_version_stage(**request)
    logger.info("finishSecret: the new version is current", extra={"version": token})


STEPS: Mapping[str, Callable[[Any, str, str], None]] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}


def handler(event: Mapping[str, Any], context: Any) -> None:
    """The Lambda entry point (``db_secret_rotation.handler``)."""
    _configure_logging()
    try:
        arn = str(event["SecretId"])
        token = str(event["ClientRequestToken"])
        step = str(event["Step"])
    except (KeyError, TypeError):
        raise RotationError("the event needs SecretId, ClientRequestToken and Step") from None
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}")

    client = secrets_client()
    metadata = client.describe_secret(SecretId=arn)
    if metadata.get("RotationEnabled") is not True:
        raise RotationError(f"rotation is not enabled for secret {arn}")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise RotationError(f"version {token} has no stage for rotation of secret {arn}")
    if CURRENT in versions[token]:
        logger.info("version is already current", extra={"secret_arn": arn, "version": token})
        return
    if PENDING not in versions[token]:
        raise RotationError(f"version {token} is not set as AWSPENDING for rotation of {arn}")

    logger.info("rotation step", extra={"secret_arn": arn, "step": step, "version": token})
    try:
        STEPS[step](client, arn, token)
    except DatabaseTlsError as exc:
        logger.error("TLS failure: %s", exc, extra={"secret_arn": arn, "step": step})
        raise
    except InsecureAuthentication as exc:
        logger.error("insecure authentication refused: %s", exc, extra={"secret_arn": arn, "step": step})
        raise
