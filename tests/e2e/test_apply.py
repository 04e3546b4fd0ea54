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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import requires_terraform
from tests.postgres_server import PostgresUnavailable, make_ca
from tests.stack import ENV_DIR, LAMBDAS, TEMPLATES
from tfgen.cli import main as cli
from tfgen.config import environment
from tfgen.deploy import terraform

from . import allowlist, dataplane, verify
from .emulator import Emulator, EmulatorError
from .harness import Run, progress, sigterm_interrupts, tail, terraform_environment
from .provider import overrides, uncovered_types

ENV = os.environ.get("TFGEN_E2E_ENV", "dev")

pytestmark = [pytest.mark.e2e, requires_terraform]


@pytest.fixture
def say(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """One progress line, shown even while pytest captures output (and with -s)."""
    return progress(request, f"e2e {ENV}")


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
    with sigterm_interrupts():
        _life_cycle(emulator, out, logs, say)


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
