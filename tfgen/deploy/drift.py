"""``tfgen drift``: a refresh-only plan of one environment, judged (tfgen.deploy.review.drift).

``terraform plan -refresh-only`` reads every object of the state from AWS and saves what differs;
nothing is changed, neither in AWS nor in the state. What the run leaves is kept under the
environment's output directory, in ``drift/`` (apart from ``plan/``, so a reviewed plan waiting
for ``tfgen apply`` is left alone; files tfgen's manifest does not list, so a re-render carries
them over):

- ``drift/tfplan``: the refresh-only plan file;
- ``drift/plan.json``: its ``terraform show -json``, the evidence the report is made from;
- ``drift/plan.log``: terraform's output.

The run holds the environment's lock (tfgen.render.lock) and refuses credentials of another
account than the environment's, as ``tfgen plan`` does.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence

from tfgen import inputs
from tfgen.deploy import plans, terraform
from tfgen.deploy.review import drift
from tfgen.errors import TerraformError
from tfgen.project import Project
from tfgen.render import lock

DRIFT_DIR = "drift"
PLAN_FILE = f"{DRIFT_DIR}/tfplan"
SHOW_FILE = f"{DRIFT_DIR}/plan.json"
LOG_FILE = f"{DRIFT_DIR}/plan.log"

# The exit codes of `tfgen drift` (1-3 keep their meaning: a failure).
EXIT_DRIFT = 4  # only other differences
EXIT_SERIOUS = 5  # access/traffic/data protection/detection: a security class, or drift that cannot be judged


def exit_code(report: drift.DriftReport) -> int:
    if report.serious:
        return EXIT_SERIOUS
    return EXIT_DRIFT if report.drift else 0


def detect(project: Project, env: str, overrides: Sequence[str] = ()) -> drift.DriftReport:
    """Refresh-only plan ``env`` into ``OUT/ENV/drift/`` and judge what it finds."""
    directory = project.target(env)
    if not (directory / inputs.MANIFEST).is_file():
        project.require_current(env, list(overrides))  # says what is wrong, and no lock file is left there
    with lock.held(directory, f"tfgen drift {env}"):
        directory = project.require_current(env, list(overrides))
        plans.caller_account(project, env, overrides)
        scratch = directory / DRIFT_DIR
        if scratch.is_symlink() or scratch.is_file():
            scratch.unlink()
        elif scratch.is_dir():
            shutil.rmtree(scratch)
        scratch.mkdir()
        with terraform.environment() as env_vars:
            planned = terraform.run(["plan", "-refresh-only", "-input=false", "-no-color", f"-out={PLAN_FILE}"],
                                    directory, env_vars, capture=True)
            (directory / LOG_FILE).write_text(planned.stdout + planned.stderr, encoding="utf-8")
            if planned.returncode != 0:
                tail = "\n".join((planned.stdout + planned.stderr).rstrip().splitlines()[-plans.TAIL_LINES:])
                raise TerraformError(f"{env}: terraform plan -refresh-only exited with {planned.returncode}; "
                                     f"last lines of {directory / LOG_FILE}:\n{tail}")
            shown = terraform.show(directory, env_vars, PLAN_FILE)
        (directory / SHOW_FILE).write_text(shown, encoding="utf-8")
        try:
            return drift.judge(json.loads(shown), env)
        except (ValueError, drift.Unreadable) as exc:
            raise TerraformError(f"{env}: {directory / SHOW_FILE}: cannot be judged: {exc}") from None
