"""A throw-away PostgreSQL server for the tests that need a real database.

``postgres_server()`` finds ``initdb``/``pg_ctl`` on PATH or in ``/usr/lib/postgresql/*/bin``
(newest first) and raises ``PostgresUnavailable`` when they, or ``openssl``, are missing (CI
installs the ``postgresql`` package). It creates a cluster in a fresh temporary directory,
listening on a free port on 127.0.0.1 only, with its unix socket inside that directory, TCP over
TLS only (``hostssl``) with SCRAM password authentication (``PG_HBA``), and a certificate for
127.0.0.1 (and any ``server_names``) signed by a throw-away test CA, or by the CA given; an
impostor certificate for the same address, signed by another CA, is made beside it. PostgreSQL
refuses to run as root, so when the tests run as root the cluster is created and run as the
``postgres`` system user (created with ``useradd`` when absent) through ``runuser``, and the
directory is chowned to it. The server is stopped and the directory removed when the block ends.

Used by the rotation handler's tests (tests/lambdas/conftest.py) and by the end-to-end data
plane (tests/e2e/dataplane.py), which rotates the deployed secret against it: there the
server stands in for the cluster, with a certificate for the cluster's endpoint name signed
by the CA the run ships in the rotation package (``make_ca``).
"""

from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries or openssl are not installed."""


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away PostgreSQL cluster."""

    host: str
    port: int
    socket_dir: Path
    directory: Path
    superuser: str
    ca_file: Path  # the test CA that signed the server's certificate
    impostor_ca_file: Path  # another CA, which signed impostor_cert for the same address
    impostor_cert: Path
    impostor_key: Path
    log_file: Path

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


def _openssl(openssl: str, *args: str) -> None:
    completed = subprocess.run([openssl, *args], capture_output=True, check=False, timeout=60)
    if completed.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{completed.stderr.decode(errors='replace')}")


def _openssl_binary() -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise PostgresUnavailable("openssl is needed to make the test server's certificates "
                                  "(the server speaks TLS only)")
    return openssl


def _subject_alt_names(names: Sequence[str]) -> str:
    entries = []
    for name in ("127.0.0.1", *names):
        try:
            ipaddress.ip_address(name)
        except ValueError:
            entries.append(f"DNS:{name}")
        else:
            entries.append(f"IP:{name}")
    return ",".join(dict.fromkeys(entries))


def _issue(openssl: str, directory: Path, name: str, ca: str | None, subject: str,
           names: Sequence[str] = ()) -> tuple[Path, Path]:
    """A key and certificate: a self-signed CA when ``ca`` is None, else a server certificate for
    127.0.0.1 and ``names`` signed by the CA named ``ca`` (files ``<name>.key`` / ``<name>.crt``)."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    if ca is None:
        _openssl(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", str(key), "-out", str(cert))
    else:
        request = directory / f"{name}.csr"
        extensions = directory / f"{name}.ext"
        extensions.write_text(f"subjectAltName={_subject_alt_names(names)}\nbasicConstraints=CA:FALSE\n"
                              "extendedKeyUsage=serverAuth\n")
        _openssl(openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                 "-keyout", str(key), "-out", str(request))
        _openssl(openssl, "x509", "-req", "-in", str(request), "-CA", str(directory / f"{ca}.crt"),
                 "-CAkey", str(directory / f"{ca}.key"), "-CAcreateserial", "-days", "2",
                 "-extfile", str(extensions), "-out", str(cert))
    key.chmod(0o600)
    return cert, key


def make_ca(directory: Path) -> tuple[Path, Path]:
    """A throw-away CA (certificate, key) in ``directory``, to sign a server's certificate later."""
    directory.mkdir(parents=True, exist_ok=True)
    return _issue(_openssl_binary(), directory, "ca", None, "/CN=payments test CA")


def _make_certificates(directory: Path, ca: tuple[Path, Path] | None,
                       server_names: Sequence[str]) -> dict[str, Path]:
    """A test CA (or a copy of ``ca``) and the server certificate it signs, and an impostor:
    another CA's certificate for the same address."""
    openssl = _openssl_binary()
    if ca is None:
        ca_cert, _ = _issue(openssl, directory, "ca", None, "/CN=payments test CA")
    else:
        ca_cert = directory / "ca.crt"
        shutil.copyfile(ca[0], ca_cert)
        shutil.copyfile(ca[1], directory / "ca.key")
        (directory / "ca.key").chmod(0o600)
    server_cert, server_key = _issue(openssl, directory, "server", "ca", "/CN=127.0.0.1", server_names)
    impostor_ca, _ = _issue(openssl, directory, "impostor-ca", None, "/CN=payments test CA")
    impostor_cert, impostor_key = _issue(openssl, directory, "impostor", "impostor-ca", "/CN=127.0.0.1",
                                         server_names)
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


@contextmanager
def postgres_server(ca: tuple[Path, Path] | None = None,
                    server_names: Sequence[str] = ()) -> Iterator[PostgresServer]:
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
    try:
        certificates = _make_certificates(directory, ca, server_names)
    except PostgresUnavailable:
        shutil.rmtree(directory, ignore_errors=True)
        raise
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
