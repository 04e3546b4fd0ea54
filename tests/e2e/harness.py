"""What the end-to-end modules share: terraform's environment, a run of timed phases that
calls terraform with bounded waits and keeps its output, progress lines shown while pytest
captures output, and SIGTERM treated as an interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from tfgen.deploy import terraform

from .emulator import Emulator, EmulatorError, die_with_parent

# Bounded, generous: expected ~1 s init, ~90 s apply, ~15 s plan, ~85 s destroy.
TIMEOUTS_S = {"init": 300, "apply": 900, "plan": 300, "show": 120, "destroy": 900}
TAIL_LINES = 60


class PhaseFailed(AssertionError):
    pass


def terraform_environment(base: dict[str, str]) -> dict[str, str]:
    """terraform's environment: tfgen's (provider mirror), no ambient AWS settings, no proxy for loopback."""
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "TF_CLI_ARGS", "TF_VAR_"))}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["CHECKPOINT_DISABLE"] = "1"
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [base.get(key, ""), "127.0.0.1", "localhost"]))
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop terraform and the provider plugins it started (its own process group)."""
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no output)"
    return "\n".join(text[-lines:])


class Run:
    """The phases of one end-to-end run: terraform calls, timings, collected failures."""

    def __init__(self, module: Path, logs: Path, env: dict[str, str], say: Callable[[str], None]) -> None:
        self.module = module
        self.logs = logs
        self.env = env
        self.say = say
        self.durations: dict[str, float] = {}
        self.failures: list[str] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.say(f"{name} ...")
        start = time.monotonic()
        outcome = "failed"
        try:
            yield
            outcome = "ok"
        finally:
            self.durations[name] = elapsed = time.monotonic() - start
            self.say(f"{name}: {outcome} in {elapsed:.1f} s")

    def terraform(self, *args: str, stdout_to: Path | None = None, log_name: str | None = None) -> int:
        """Run ``terraform ARGS`` in the module; its output goes to logs/<log_name or subcommand>.log
        (stdout to ``stdout_to`` instead, if given)."""
        binary = terraform.require_binary()
        phase = args[0]
        log = self.logs / f"{log_name or phase}.log"
        timeout = TIMEOUTS_S[phase]
        with log.open("wb") as err, (stdout_to or Path(os.devnull)).open("wb") as out:
            # Its own process group, so a timeout or an interrupt stops terraform and its provider
            # plugins together; and it dies with the test process if that is killed outright.
            process = subprocess.Popen([binary, *args], cwd=self.module, env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=out if stdout_to else err,
                                       stderr=err if stdout_to else subprocess.STDOUT,
                                       start_new_session=True,
                                       preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)
            try:
                return process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop(process)
                raise PhaseFailed(f"terraform {' '.join(args)}: no result within {timeout} s; "
                                  f"last output ({log}):\n{tail(log)}") from None
            except BaseException:
                _stop(process)
                raise

    def require(self, phase: str, code: int, log_name: str | None = None) -> None:
        if code != 0:
            log = self.logs / f"{log_name or phase}.log"
            raise PhaseFailed(f"terraform {phase} exited with {code}; last output ({log}):\n{tail(log)}")

    def json_of(self, *args: str) -> Any:
        target = self.logs / f"{args[0]}.json"
        self.require(args[0], self.terraform(*args, stdout_to=target))
        return json.loads(target.read_text())


def progress(request: pytest.FixtureRequest, label: str) -> Callable[[str], None]:
    """One progress line per call, shown even while pytest captures output (and with -s); under
    pytest-xdist, on standard error, which workers share with the run."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    worker = os.environ.get("PYTEST_XDIST_WORKER")

    def write(message: str) -> None:
        line = f"[{label} {time.strftime('%H:%M:%S')}] {message}"
        if worker:  # a pytest-xdist worker: with capture suspended, its standard error is the run's own
            with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
                if sys.__stderr__ is not None:
                    sys.__stderr__.write(f"[{worker}] {line}\n")
                    sys.__stderr__.flush()
            return
        if reporter is None:
            print(line, flush=True)
            return
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)
            reporter.flush()

    return write


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM (a CI runner ending the job, say) like Ctrl-C while the test runs, so
    terraform and the emulator are stopped on the way out instead of being orphaned."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def emulated(root: Path, say: Callable[[str], None]) -> Iterator[str]:
    """A fresh moto_server for one end-to-end module, its log in ROOT/logs, with the process
    environment terraform gets (tfgen runs terraform with it: no ambient AWS settings) for as
    long as the block runs. Yields the endpoint; the server is stopped however the block ends."""
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    server = Emulator(logs / "moto_server.log")
    with sigterm_interrupts(), pytest.MonkeyPatch.context() as env:
        try:
            try:
                endpoint = server.start()
            except EmulatorError as exc:
                pytest.fail(str(exc), pytrace=False)
            wanted = terraform_environment(dict(os.environ))
            for key in set(os.environ) - set(wanted):
                env.delenv(key)
            for key, value in wanted.items():
                env.setenv(key, value)
            say(f"moto_server at {endpoint}; logs in {logs}")
            yield endpoint
        finally:
            server.stop()
