"""The rendered environment applies, converges and tears down against moto_server.

One test walks the whole life of the ``dev`` environment (``TFGEN_E2E_ENV``
picks another) through the real CLI and the real terraform binary:

    emulator -> render -> init -> apply -> verify -> re-plan -> destroy -> empty state

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

from tfgen import cli, terraform
from tfgen.project import Project

from . import allowlist, verify
from .emulator import Emulator, EmulatorError, die_with_parent

ROOT = Path(__file__).resolve().parents[2]
ENV = os.environ.get("TFGEN_E2E_ENV", "dev")

# Every AWS API the stack calls, by the provider's endpoint key. sts answers
# GetCallerIdentity, so the provider learns the (emulated) account id itself
# and ARNs carry it; skip_requesting_account_id stays off.
ENDPOINT_SERVICES = ("apigatewayv2", "cloudwatch", "dynamodb", "ec2", "elbv2", "iam", "kms", "lambda",
                     "logs", "rds", "s3", "secretsmanager", "sns", "ssm", "sts")

# The endpoint each resource, data source and ephemeral type of the rendered
# module talks to (None: computed locally). A type matching none of these
# fails the test before apply: its API would be called on real AWS endpoints.
TYPE_SERVICES: tuple[tuple[str, str | None], ...] = (
    (r"aws_(iam_policy_document|partition|region|elb_service_account)$", None),
    (r"aws_caller_identity$", "sts"),
    (r"aws_(vpc|subnet|route|nat_gateway|eip|internet_gateway|egress_only_internet_gateway|"
     r"security_group|default_security_group|default_network_acl|default_route_table|network_acl|"
     r"flow_log|vpc_endpoint|vpc_security_group|availability_zones|ec2_)", "ec2"),
    (r"aws_(lb|alb)(_|$)", "elbv2"),
    (r"aws_lambda_", "lambda"),
    (r"aws_apigatewayv2_", "apigatewayv2"),
    (r"aws_(rds_|db_)", "rds"),
    (r"aws_dynamodb_", "dynamodb"),
    (r"aws_s3_", "s3"),
    (r"aws_sns_", "sns"),
    (r"aws_kms_", "kms"),
    (r"aws_secretsmanager_", "secretsmanager"),
    (r"aws_ssm_", "ssm"),
    (r"aws_cloudwatch_log_", "logs"),
    (r"aws_cloudwatch_(metric_alarm|composite_alarm|dashboard)$", "cloudwatch"),
    (r"aws_iam_", "iam"),
)

# Bounded, generous: expected ~1 s init, ~90 s apply, ~15 s plan, ~85 s destroy.
TIMEOUTS_S = {"init": 300, "apply": 900, "output": 120, "plan": 300, "show": 120, "destroy": 900,
              "state": 120}
TAIL_LINES = 60

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(terraform.binary() is None,
                       reason="terraform binary not found (install Terraform >= 1.11 or set TFGEN_TERRAFORM)"),
]


class PhaseFailed(AssertionError):
    pass


def overrides(endpoint: str) -> list[str]:
    """The command-line settings that point the rendered provider at the emulator."""
    sets = [
        "terraform.backend=local",
        "provider.access_key=test",
        "provider.secret_key=test",
        "provider.skip_credentials_validation=true",
        "provider.skip_metadata_api_check=true",
        "provider.s3_use_path_style=true",
        # moto has no AWS Backup selections (CreateBackupSelection); the backup plan is covered by
        # terraform validate, the stack tests and checkov instead.
        "backup.enabled=false",
    ]
    sets += [f"provider.endpoints.{service}={endpoint}" for service in ENDPOINT_SERVICES]
    return sets


def uncovered_types(module: Path) -> list[str]:
    """Types in the rendered module whose API has no emulator endpoint in ENDPOINT_SERVICES."""
    declared = set()
    for path in module.glob("*.tf"):
        declared |= set(re.findall(r'^(?:resource|data|ephemeral)\s+"(aws_[a-z0-9_]+)"',
                                   path.read_text(), flags=re.MULTILINE))
    problems = []
    for kind in sorted(declared):
        service = next((svc for pattern, svc in TYPE_SERVICES if re.match(pattern, kind)), "unknown")
        if service == "unknown":
            problems.append(f"{kind}: no known endpoint (add it to TYPE_SERVICES and, if new, "
                            f"its service to ENDPOINT_SERVICES)")
        elif service is not None and service not in ENDPOINT_SERVICES:
            problems.append(f"{kind}: endpoint {service!r} is not pointed at the emulator")
    return problems


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

    def terraform(self, *args: str, stdout_to: Path | None = None) -> int:
        """Run ``terraform ARGS`` in the module; its output goes to logs/<subcommand>.log
        (stdout to ``stdout_to`` instead, if given)."""
        binary = terraform.require_binary()
        phase = args[0]
        log = self.logs / f"{phase}.log"
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

    def require(self, phase: str, code: int, *allowed: int) -> None:
        if code not in (allowed or (0,)):
            log = self.logs / f"{phase}.log"
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
    """An emulator that is stopped at teardown whatever happened (also on KeyboardInterrupt)."""
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
        try:
            _life_cycle(emulator, out, logs, say)
        finally:
            emulator.stop()


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
    with run.phase("render"):
        args = ["--environments", str(ROOT / "environments"), "--templates", str(ROOT / "templates"),
                "--lambdas", str(ROOT / "lambdas"), "render", ENV, "--out", str(out)]
        for setting in sets:
            args += ["--set", setting]
        code = cli.main(args)
        assert code == 0, f"tfgen render {ENV} exited with {code}"
        providers = (run.module / "providers.tf").read_text()
        missing = [s for s in ENDPOINT_SERVICES if not re.search(rf"\b{s}\s*=\s*\"{re.escape(endpoint)}\"", providers)]
        assert not missing, f"providers.tf does not point these endpoints at the emulator: {missing}"
        uncovered = uncovered_types(run.module)
        assert not uncovered, "the rendered module calls APIs the emulator is not configured for:\n" + \
            "\n".join(uncovered)
        cfg = Project(ROOT / "environments", ROOT / "templates", out, ROOT / "lambdas").load([ENV], sets)[0].model
        run.failures += [f"SPEC: {problem}" for problem in verify.spec_problems(ENV, cfg)]

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
            outputs = run.json_of("output", "-json", "-no-color")
            state_text = (run.module / "terraform.tfstate").read_text()
            report = verify.Verifier(ENV, cfg, endpoint, outputs, state_text).run()
            run.failures += [f"verify: {failure}" for failure in report.failures]
            say(f"verify: {report.passed} checks passed, {len(report.failures)} failed")

        with run.phase("plan"):
            code = run.terraform("plan", "-detailed-exitcode", "-input=false", "-no-color", "-out=plan.bin")
            run.require("plan", code, 0, 2)
            plan = run.json_of("show", "-json", "-no-color", "plan.bin")
            verdict = allowlist.check(plan)
            run.failures += [f"re-plan: {problem}" for problem in verdict.problems]
            run.failures += [f"output {problem}" for problem in verify.output_description_problems(plan)]
            (logs / "replan-allowed.txt").write_text("".join(f"{d.describe()}\n" for d in verdict.allowed))
            say(f"plan: {verdict.changed_resources} resources differ; {len(verdict.problems)} problems; "
                f"allowlisted emulator artefacts: {verdict.summary()}")

        with run.phase("destroy"):
            code = run.terraform("destroy", "-auto-approve", "-input=false", "-no-color")
            if code != 0:
                run.failures.append(f"destroy exited with {code}; last output ({logs / 'destroy.log'}):\n"
                                    f"{tail(logs / 'destroy.log')}")
            state = logs / "state-list.txt"
            run.require("state", run.terraform("state", "list", "-no-color", stdout_to=state))
            left = state.read_text().split()
            if left:
                run.failures.append(f"state after destroy is not empty: {left}")

    say("phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.durations.items()))
    if run.failures:
        pytest.fail(f"{len(run.failures)} problem(s) (logs in {logs}):\n" + "\n".join(run.failures),
                    pytrace=False)
