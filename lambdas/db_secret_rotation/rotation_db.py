"""PostgreSQL access for the rotation function: connecting, password changes.

Passwords are never sent to the server in clear text inside SQL: the new
password is turned into a SCRAM-SHA-256 verifier here (RFC 5802/7677, the
format PostgreSQL stores in ``pg_authid``) and ``ALTER ROLE ... PASSWORD``
receives the verifier. Statement logging (``log_statement = 'ddl'``,
pgaudit) can therefore never capture a usable password. Clients then log in
with SCRAM, which PostgreSQL also uses for ``md5`` entries in pg_hba.conf
when the stored password is a SCRAM verifier.

TLS, from ``DB_TLS_MODE``: ``verify-full`` (default) checks the server's
certificate chain against ``DB_TLS_CA_FILE`` (default: the Amazon RDS CA
bundle shipped in the package, ``rds-ca-bundle.pem`` next to this module) and
its name against the secret's ``host``; ``require`` encrypts without checking
who answers and is meant only for a database without a verifiable
certificate. There is no clear-text mode. A connection whose certificate
cannot be verified fails during the TLS handshake, before the startup message
and so before any password could be sent, and is reported as a TLS failure
(``DatabaseTlsError``), never as a failed login.

Authentication: only SCRAM-SHA-256 is accepted. A server that asks for a
clear-text (``password``) or MD5 password is refused before anything is sent:
a genuine Aurora cluster never asks for either, so such a request can only
come from a misconfiguration or an impostor. So is a server that answers
"logged in" without a completed SCRAM exchange (whose final message proves
the server holds the password's verifier): anything would log in to it, and
under ``require`` nothing else would tell it from the cluster. ``require`` is
refused in Lambda (``AWS_LAMBDA_FUNCTION_NAME`` or ``AWS_EXECUTION_ENV`` set):
it exists for tests only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import ssl
import string
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pg8000.native

SCRAM_ITERATIONS = 4096
DEFAULT_EXCLUDE_CHARACTERS = "/@\"'\\"
TLS_MODES = ("verify-full", "require")
DEFAULT_TLS_MODE = "verify-full"
# The CA bundle tfgen ships in the package (lambdas/README.md, "TLS to the database").
DEFAULT_CA_FILE = Path(__file__).resolve().parent / "rds-ca-bundle.pem"
_AUTH_OK = 0
_AUTH_CLEARTEXT = 3
_AUTH_MD5 = 5
_AUTH_SASL = 10
_AUTH_SASL_FINAL = 12
_SCRAM_MECHANISMS = frozenset({"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"})


class RotationError(Exception):
    """A rotation step cannot complete; Secrets Manager retries the step."""


class DatabaseTlsError(RotationError):
    """The TLS connection to the database failed: the server is not who the secret names, or refuses TLS."""


class InsecureAuthentication(RotationError):
    """The server asked for an authentication method that would expose the password."""


class _Connection(pg8000.native.Connection):  # type: ignore[misc]
    """A pg8000 connection that answers only SCRAM-SHA-256 authentication requests."""

    def handle_AUTHENTICATION_REQUEST(self, data: bytes, context: Any) -> None:
        code = struct.unpack("!i", data[:4])[0]
        if code == _AUTH_OK and not getattr(self, "_scram_verified", False):
            # A server that never checked the password (and proved it knows the verifier, in
            # SCRAM's final message) is not the cluster: anything would "log in" to it.
            raise InsecureAuthentication(
                "the server accepted the login without authenticating it (no SCRAM-SHA-256 exchange); refused"
            )
        if code == _AUTH_CLEARTEXT:
            raise InsecureAuthentication("the server asked for a clear-text password; refused, nothing was sent")
        if code == _AUTH_MD5:
            raise InsecureAuthentication("the server asked for an MD5 password; refused, nothing was sent")
        if code == _AUTH_SASL:
            offered = {name.decode("ascii", "replace") for name in data[4:].split(b"\x00") if name}
            if not offered & _SCRAM_MECHANISMS:
                raise InsecureAuthentication(
                    f"the server offered no SCRAM-SHA-256 mechanism ({', '.join(sorted(offered))}); refused"
                )
        super().handle_AUTHENTICATION_REQUEST(data, context)
        if code == _AUTH_SASL_FINAL:
            # pg8000 (scramp) has checked the server's signature: the server knows the verifier.
            self._scram_verified = True


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


def ssl_context(mode: str, ca_file: str | None) -> ssl.SSLContext:
    """The TLS settings for ``DB_TLS_MODE`` (TLS 1.2 or later in every mode)."""
    if mode not in TLS_MODES:
        raise RotationError(f"DB_TLS_MODE must be one of {', '.join(TLS_MODES)}")
    if mode == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        path = Path(ca_file) if ca_file else DEFAULT_CA_FILE
        if not path.is_file():
            raise DatabaseTlsError(f"the CA bundle {path} for verify-full does not exist (DB_TLS_CA_FILE)")
        try:
            context = ssl.create_default_context(cafile=str(path))
        except (ssl.SSLError, ValueError) as exc:
            raise DatabaseTlsError(f"the CA bundle {path} holds no usable certificates: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(
    secret: Mapping[str, Any],
    *,
    tls_mode: str = DEFAULT_TLS_MODE,
    ca_file: str | None = None,
    timeout: float = 5.0,
) -> pg8000.native.Connection | None:
    """A connection logged in with the secret's credentials, or None if the login is refused.

    Raises DatabaseTlsError when the server cannot be verified or refuses TLS,
    InsecureAuthentication when it asks for a clear-text or MD5 password, and
    RotationError for a bad TLS mode: those fail with every secret, so they are
    reported as what they are instead of trying the next credentials.
    """
    context = ssl_context(tls_mode, ca_file)
    host = str(secret["host"])
    try:
        return _Connection(
            user=str(secret["username"]),
            password=str(secret["password"]),
            host=host,
            port=int(secret.get("port", 5432)),
            database=str(secret.get("dbname", "postgres")),
            ssl_context=context,
            timeout=timeout,
            application_name="db-secret-rotation",
        )
    except ssl.SSLError as exc:
        raise DatabaseTlsError(f"TLS with the database at {host} failed: {exc}") from None
    except pg8000.native.InterfaceError as exc:
        if "SSL" in str(exc):
            raise DatabaseTlsError(f"the database at {host} refuses TLS") from None
        return None
    except (pg8000.native.Error, OSError):
        return None


def set_password(connection: pg8000.native.Connection, username: str, password: str) -> None:
    """Gives ``username`` the new password (as a SCRAM verifier)."""
    verifier = scram_sha256_verifier(password)
    connection.run(f"ALTER ROLE {pg8000.native.identifier(username)} WITH PASSWORD {pg8000.native.literal(verifier)}")


def check_login(connection: pg8000.native.Connection) -> None:
    """Runs a trivial query, proving the session is usable."""
    connection.run("SELECT now()")
