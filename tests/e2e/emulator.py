"""Start and stop moto_server as a child process on a free 127.0.0.1 port.

The server runs ``moto_launcher.py`` with the test's own interpreter (the venv
that has ``moto[server]``), with ``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` so AWS
managed policies exist. It is stopped by ``stop()`` (idempotent; the e2e
test's fixture calls it at teardown, which pytest runs on failure and on
KeyboardInterrupt too), and on Linux by the kernel when the test process dies
without tearing down (``PR_SET_PDEATHSIG``), so no run leaves a server behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

HOST = "127.0.0.1"
LAUNCHER = Path(__file__).with_name("moto_launcher.py")
TLS_MINIMUM = "1.2"  # the TLS listener refuses older versions (see moto_launcher's tls-listener)
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS = 3


class EmulatorError(RuntimeError):
    """moto_server did not start or answer."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to this child when the test process dies (even by SIGKILL).

    For ``preexec_fn``; a no-op where prctl is unavailable."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Emulator:
    """One moto_server child process; a context manager."""

    def __init__(self, log_path: Path, command: list[str] | None = None) -> None:
        self.log_path = log_path
        self.command = command or [sys.executable, str(LAUNCHER)]
        self.port: int | None = None
        self.tls_port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmulatorError("moto_server is not running")
        return f"http://{HOST}:{self.port}"

    @property
    def tls_url(self) -> str:
        """The same server over TLS (a second listener; see moto_launcher's tls-listener)."""
        if self.tls_port is None:
            raise EmulatorError("moto_server is not running")
        return f"https://{HOST}:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        """The TLS listener's self-signed certificate, to trust (AWS_CA_BUNDLE for boto3)."""
        return self.log_path.parent / "tls" / "moto.crt"

    def _make_certificate(self) -> None:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(minutes=5))
                       .not_valid_after(now + datetime.timedelta(days=2))
                       .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
                                      critical=False)
                       .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                       .sign(key, hashes.SHA256()))
        self.ca_file.parent.mkdir(parents=True, exist_ok=True)
        self.ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file = self.ca_file.with_suffix(".key")
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_file.chmod(0o600)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "PYTHONUNBUFFERED": "1",
        })
        env.pop("MOTO_PORT", None)
        if self.tls_port is not None:
            env.update({"E2E_TLS_PORT": str(self.tls_port), "E2E_TLS_CERT": str(self.ca_file),
                        "E2E_TLS_KEY": str(self.ca_file.with_suffix(".key")), "E2E_TLS_MINIMUM": TLS_MINIMUM})
        return env

    def start(self) -> str:
        """Start the server and wait until it answers; its base URL. Raises EmulatorError."""
        if self.process is not None:
            return self.url
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._make_certificate()
        failures = []
        for _ in range(START_ATTEMPTS):
            port = free_port()
            self.tls_port = free_port()
            try:
                self._spawn(port)
                self._wait_ready()
                return self.url
            except EmulatorError as exc:
                failures.append(str(exc))
                self.stop()
                if "in use" not in str(exc):  # only a lost race for the port is worth a retry
                    break
        raise EmulatorError("moto_server did not start:\n" + "\n".join(failures))

    def _spawn(self, port: int) -> None:
        self.port = port
        log = self.log_path.open("ab")
        self._log = log
        log.write(f"--- {' '.join(self.command)} -H {HOST} -p {port}\n".encode())
        log.flush()
        try:
            self.process = subprocess.Popen(
                [*self.command, "-H", HOST, "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.environment(),
                preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            raise EmulatorError(f"cannot run {self.command[0]}: {exc}") from exc

    def _wait_ready(self) -> None:
        assert self.process is not None
        opener = _no_proxy_opener()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise EmulatorError(f"moto_server exited with code {code} before answering "
                                    f"on port {self.port}:\n{self.log_tail()}")
            try:
                with opener.open(f"{self.url}/moto-api/", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise EmulatorError(f"moto_server did not answer on {self.url} within "
                            f"{READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def fixes_not_applied(self) -> list[str]:
        """moto_launcher's notes about fixes it could not apply (see moto_launcher.py)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.startswith("moto_launcher:") and "not applied" in line]

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server whatever state it is in; safe to call more than once."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        log, self._log = self._log, None
        if log is not None:
            with contextlib.suppress(OSError):
                log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
