"""PostgreSQL access for the rotation function: connecting, password changes.

Passwords are never sent to the server in clear text inside SQL: the new
password is turned into a SCRAM-SHA-256 verifier here (RFC 5802/7677, the
format PostgreSQL stores in ``pg_authid``) and ``ALTER ROLE ... PASSWORD``
receives the verifier. Statement logging (``log_statement = 'ddl'``,
pgaudit) can therefore never capture a usable password. Clients then log in
with SCRAM, which PostgreSQL also uses for ``md5`` entries in pg_hba.conf
when the stored password is a SCRAM verifier.

TLS, from ``DB_TLS_MODE``: ``require`` (default: encrypted, server not
verified, like libpq's sslmode=require), ``verify-full`` (verified against
``DB_TLS_CA_FILE``, e.g. the RDS CA bundle shipped in the package, or the
system store), or ``disable``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import ssl
import string
from collections.abc import Mapping
from typing import Any

import pg8000.native

SCRAM_ITERATIONS = 4096
DEFAULT_EXCLUDE_CHARACTERS = "/@\"'\\"
TLS_MODES = ("disable", "require", "verify-full")


class RotationError(Exception):
    """A rotation step cannot complete; Secrets Manager retries the step."""


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The ``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`` verifier of a password.

    Only printable ASCII passwords are accepted, for which SASLprep (applied
    by clients and the server before hashing) changes nothing.
    """
    if not password or not all(32 < ord(char) < 127 for char in password):
        raise RotationError("the password must be non-empty printable ASCII without spaces")
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def generate_password(length: int, exclude: str) -> str:
    """A random password of printable ASCII (no spaces) without ``exclude``'s characters.

    Every character class (lower, upper, digit, punctuation) that is not
    wholly excluded appears at least once. Generated locally with ``secrets``
    so the function needs no ``secretsmanager:GetRandomPassword`` (an action
    that only accepts the resource ``*``).
    """
    classes = [
        "".join(char for char in group if char not in exclude)
        for group in (
            string.ascii_lowercase,
            string.ascii_uppercase,
            string.digits,
            string.punctuation,
        )
    ]
    classes = [group for group in classes if group]
    if not classes or length < len(classes):
        raise RotationError("password settings leave no characters to choose from")
    alphabet = "".join(classes)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(char in group for char in password) for group in classes):
            return password


def _ssl_context(mode: str, ca_file: str | None) -> ssl.SSLContext | None:
    if mode == "disable":
        return None
    if mode == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if mode == "verify-full":
        return ssl.create_default_context(cafile=ca_file)
    raise RotationError(f"DB_TLS_MODE must be one of {', '.join(TLS_MODES)}")


def connect(
    secret: Mapping[str, Any],
    *,
    tls_mode: str,
    ca_file: str | None = None,
    timeout: float = 5.0,
) -> pg8000.native.Connection | None:
    """A connection logged in with the secret's credentials, or None if login fails.

    A configuration problem (bad TLS mode) raises instead: it would fail
    with every secret.
    """
    context = _ssl_context(tls_mode, ca_file)
    try:
        return pg8000.native.Connection(
            user=str(secret["username"]),
            password=str(secret["password"]),
            host=str(secret["host"]),
            port=int(secret.get("port", 5432)),
            database=str(secret.get("dbname", "postgres")),
            ssl_context=context,
            timeout=timeout,
            application_name="db-secret-rotation",
        )
    except (pg8000.native.Error, OSError):
        return None


def set_password(connection: pg8000.native.Connection, username: str, password: str) -> None:
    """Gives ``username`` the new password (as a SCRAM verifier)."""
    verifier = scram_sha256_verifier(password)
    connection.run(f"ALTER ROLE {pg8000.native.identifier(username)} WITH PASSWORD {pg8000.native.literal(verifier)}")


def check_login(connection: pg8000.native.Connection) -> None:
    """Runs a trivial query, proving the session is usable."""
    connection.run("SELECT now()")
