"""A throw-away PostgreSQL server for the tests that need a real database.

``postgres_server()`` finds ``initdb``/``pg_ctl`` on PATH or in ``/usr/lib/postgresql/*/bin``
(newest first) and raises ``PostgresUnavailable`` when they are missing (CI installs the
``postgresql`` package). It creates a cluster in a fresh temporary directory, listening on a
free port on 127.0.0.1 only, with its unix socket inside that directory, SCRAM password
authentication for TCP and, when ``openssl`` exists, TLS with a throw-away self-signed
certificate. PostgreSQL refuses to run as root, so when the tests run as root the cluster is
created and run as the ``postgres`` system user (created with ``useradd`` when absent) through
``runuser``, and the directory is chowned to it. The server is stopped and the directory
removed when the block ends.

Used by the rotation handler's tests (tests/lambdas/conftest.py) and by the end-to-end data
plane (tests/e2e/dataplane.py), which rotates the deployed secret against it.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away PostgreSQL cluster."""

    host: str
    port: int
    socket_dir: Path
    directory: Path
    superuser: str
    tls: bool
    ca_file: Path | None

    def admin(self) -> Any:
        """A superuser connection over the unix socket (trust authentication)."""
        import pg8000.native

        return pg8000.native.Connection(
            user=self.superuser,
            unix_sock=str(self.socket_dir / f".s.PGSQL.{self.port}"),
            database="postgres",
        )


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


def _make_certificate(directory: Path) -> tuple[Path, Path] | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "server.crt", directory / "server.key"
    completed = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if completed.returncode != 0:
        return None
    key.chmod(0o600)
    return cert, key


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server for the block (see the module docstring)."""
    bindir = _postgres_bin()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
            "/usr/lib/postgresql/*/bin; install the 'postgresql' package"
        )
    user = _server_user()
    directory = Path(tempfile.mkdtemp(prefix="lambdas-pg-"))
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    password_file = directory / "superuser-password"
    password_file.write_text(secrets.token_hex(16) + "\n")
    certificate = _make_certificate(directory)
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
    ]
    if certificate is not None:
        options += [
            "-c ssl=on",
            f"-c ssl_cert_file={certificate[0]}",
            f"-c ssl_key_file={certificate[1]}",
        ]
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
            tls=certificate is not None,
            ca_file=certificate[0] if certificate is not None else None,
        )
    finally:
        if started:
            _run(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                user,
                directory,
            )
        shutil.rmtree(directory, ignore_errors=True)
