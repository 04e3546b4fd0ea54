"""The rendered environment applies, converges and tears down against moto_server.

One test walks the whole life of the ``dev`` environment (``TFGEN_E2E_ENV``
picks another): tfgen's command line renders it (in-process), then the real
terraform binary is run directly, not through ``tfgen apply``/``destroy``:

    emulator -> render -> init -> apply -> verify -> data plane -> re-plan -> destroy -> empty state

Only command-line ``--set`` overrides point the provider at the emulator; no
template or environment file knows about it. Each phase prints one line with
its duration. Terraform's full output for each phase is kept under the test's
tmp directory (named in every failure). Checks after apply do not stop the
run: verification, re-plan and teardown problems are reported together.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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

from tests.conftest import requires_terraform
from tests.postgres_server import PostgresUnavailable, make_ca
from tests.stack import ENV_DIR, LAMBDAS, TEMPLATES
from tfgen import cli, environment, terraform

from . import allowlist, dataplane, verify
from .emulator import Emulator, EmulatorError, die_with_parent
from .provider import overrides, uncovered_types

ENV = os.environ.get("TFGEN_E2E_ENV", "dev")

# Bounded, generous: expected ~1 s init, ~90 s apply, ~15 s plan, ~85 s destroy.
TIMEOUTS_S = {"init": 300, "apply": 900, "plan": 300, "show": 120, "destroy": 900}
TAIL_LINES = 60

pytestmark = [pytest.mark.e2e, requires_terraform]


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


@pytest.fixture
def say(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """One progress line, shown even while pytest captures output (and with -s)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def write(message: str) -> None:
        line = f"[e2e {ENV} {time.strftime('%H:%M:%S')}] {message}"
        if reporter is None:
            print(line, flush=True)
            return
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)
            reporter.flush()

    return write


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """An emulator that is stopped at teardown whatever happened: pytest tears fixtures down on
    failure and on KeyboardInterrupt too (and the test turns SIGTERM into one). If the test
    process is killed outright, on Linux the kernel stops the server (see emulator.py)."""
    server = Emulator(tmp_path / "logs" / "moto_server.log")
    try:
        yield server
    finally:
        server.stop()


def test_environment_applies_converges_and_tears_down(tmp_path: Path, emulator: Emulator,
                                                      say: Callable[[str], None]) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    out = tmp_path / "build"
    say(f"logs in {logs}")
    with _sigterm_interrupts():
        _life_cycle(emulator, out, logs, say)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
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


def _tfgen(env_dir: Path, *args: str) -> None:
    code = cli.main(["--environments", str(env_dir), "--templates", str(TEMPLATES), "--lambdas", str(LAMBDAS), *args])
    assert code == 0, f"tfgen {' '.join(args)} exited with {code}"


def _render(env_dir: Path, out: Path, sets: list[str]) -> None:
    _tfgen(env_dir, "render", ENV, "--out", str(out), *(arg for setting in sets for arg in ("--set", setting)))


# The traffic moves after the data plane: each is made with `tfgen traffic` on the run's copy of
# the environment files, rendered with the emulator's settings and applied; then the split of
# the requests must follow the new weights. Both aliases run the same version here, so the
# shift needs --force (its guard against sending traffic to an unchanged green).
TRAFFIC_MOVES = (("shift", ("shift", "--green", "50", "--force")), ("rollback", ("rollback",)))


def _life_cycle(emulator: Emulator, out: Path, logs: Path, say: Callable[[str], None]) -> None:
    run = Run(out / ENV, logs, {}, say)

    with run.phase("emulator"):
        try:
            endpoint = emulator.start()
        except EmulatorError as exc:
            pytest.fail(str(exc), pytrace=False)
    say(f"moto_server at {endpoint}")
    for note in emulator.fixes_not_applied():
        say(f"warning: {note}; expect the failure that fix prevents")

    sets = overrides(endpoint)
    # The environment files are copied: the run grants its merchants' callers in dev.yaml.
    env_dir = out.parent / "environments"
    shutil.copytree(ENV_DIR, env_dir)
    account = dataplane.emulator_account(endpoint)
    dataplane.grant_merchants(env_dir / f"{ENV}.yaml", dataplane.merchant_access(account))
    # The rotation package ships the CA of the database that stands in for the cluster in the data
    # plane (the configured bundle, lambda.rotation.ca_bundle; the RDS CA cannot sign for it).
    try:
        database_ca: tuple[Path, Path] | None = make_ca(out.parent / "database-ca")
    except PostgresUnavailable as exc:
        database_ca = None
        say(f"note: {exc}; the rotation check will fail")
    else:
        dataplane.set_in_environment(env_dir / f"{ENV}.yaml", ("lambda", "rotation", "ca_bundle"),
                                     str(database_ca[0]))
    with run.phase("render"):
        # That these settings render a provider pointed at the emulator, and a local backend, is
        # test_harness.py's test_the_overrides_point_every_endpoint_at_the_emulator.
        _render(env_dir, out, sets)
        uncovered = uncovered_types(run.module)
        assert not uncovered, "the rendered module calls APIs the emulator is not configured for:\n" + \
            "\n".join(uncovered)
        cfg = environment.load(env_dir, ENV, sets).model

    if not os.environ.get(terraform.PLUGIN_DIR_VAR):
        say(f"note: {terraform.PLUGIN_DIR_VAR} is not set, so terraform init uses the registry "
            "(make e2e sets it to the local provider mirror)")
    with terraform.environment() as base_env:
        run.env = terraform_environment(base_env)

        with run.phase("init"):
            run.require("init", run.terraform("init", "-input=false", "-no-color"))

        with run.phase("apply"):
            run.require("apply", run.terraform("apply", "-auto-approve", "-input=false", "-no-color"))
            applied = re.findall(r"Apply complete! Resources: (\d+) added", tail(logs / "apply.log", 400))
            say(f"apply: {applied[-1] if applied else '?'} resources added")

        with run.phase("verify"):
            state_text = (run.module / "terraform.tfstate").read_text()
            # The state's outputs have the shape of `terraform output -json`: {name: {"value": ...}}.
            outputs = json.loads(state_text).get("outputs", {})
            report = verify.Verifier(ENV, cfg, endpoint, outputs, state_text).run()
            run.failures += [f"verify: {failure}" for failure in report.failures]
            say(f"verify: {report.passed} checks passed, {len(report.failures)} failed")

        with run.phase("dataplane"):
            # The deployed functions serving payments through the deployed routing, each with its
            # own role, IAM enforced by the emulator for this phase only (dataplane.py).
            plane = dataplane.DataPlane(ENV, cfg, endpoint, run.module, logs, say,
                                        tls=(emulator.tls_url, emulator.ca_file),
                                        callers=dataplane.merchant_callers(account), database_ca=database_ca)
            try:
                report = plane.run()
            except Exception as exc:  # recorded, so the re-plan and destroy still run
                run.failures.append(f"dataplane: {type(exc).__name__}: {exc}")
            else:
                run.failures += [f"dataplane: {failure}" for failure in report.failures]
                say(f"dataplane: {report.passed} checks passed, {len(report.failures)} failed")

        try:
            for move, arguments in TRAFFIC_MOVES:
                with run.phase(f"traffic {move}"):
                    try:
                        _tfgen(env_dir, "traffic", ENV, *arguments, "--out", str(out.parent / "traffic"))
                        _render(env_dir, out, sets)
                        # No refresh: this run applied the state moments ago, and the re-plan below
                        # refreshes everything. (The emulator's artefacts in allowlist.py are applied
                        # again all the same: they are in the state since the first apply read them.)
                        run.require("apply", run.terraform("apply", "-auto-approve", "-input=false", "-no-color",
                                                           "-refresh=false", log_name=f"apply-{move}"),
                                    f"apply-{move}")
                        cfg = environment.load(env_dir, ENV, sets).model
                        report = plane.routing(cfg)
                    except Exception as exc:  # recorded, so the re-plan and destroy still run
                        run.failures.append(f"traffic {move}: {type(exc).__name__}: {exc}")
                        break
                    run.failures += [f"traffic {move}: {failure}" for failure in report.failures]
        finally:
            plane.close()

        with run.phase("plan"):
            # Whether the plan is empty is judged from its JSON below (allowlist.check), not from
            # the exit code: every change in it must be an allowlisted emulator artefact.
            run.require("plan", run.terraform("plan", "-input=false", "-no-color", "-out=plan.bin"))
            plan = run.json_of("show", "-json", "-no-color", "plan.bin")
            verdict = allowlist.check(plan)
            run.failures += [f"re-plan: {problem}" for problem in verdict.problems]
            (logs / "replan-allowed.txt").write_text("".join(f"{d.describe()}\n" for d in verdict.allowed))
            say(f"plan: {verdict.changed_resources} resources differ; {len(verdict.problems)} problems; "
                f"allowlisted emulator artefacts: {verdict.summary()}")

        with run.phase("destroy"):
            code = run.terraform("destroy", "-auto-approve", "-input=false", "-no-color")
            if code != 0:
                run.failures.append(f"destroy exited with {code}; last output ({logs / 'destroy.log'}):\n"
                                    f"{tail(logs / 'destroy.log')}")
            state = json.loads((run.module / "terraform.tfstate").read_text())
            left = [".".join(filter(None, (r.get("module"), "data" if r.get("mode") == "data" else None,
                                           r.get("type"), r.get("name"))))
                    for r in state["resources"]]
            if left:
                run.failures.append(f"state after destroy is not empty: {left}")

    say("phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.durations.items()))
    if run.failures:
        pytest.fail(f"{len(run.failures)} problem(s) (logs in {logs}):\n" + "\n".join(run.failures),
                    pytrace=False)
