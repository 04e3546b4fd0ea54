"""The reviewed plan flow: ``terraform plan`` into a saved plan file, its review, and applying
exactly that file.

Everything one plan leaves is kept under the environment's output directory, in ``plan/``
(files tfgen's manifest does not list, so a re-render carries them over and ``tfgen check``
ignores them):

- ``plan/tfplan``: the binary plan file ``terraform apply`` is given;
- ``plan/plan.json``: its ``terraform show -json``;
- ``plan/plan.log``: terraform's output while planning;
- ``plan/meta.json``: the digest of the rendered tree the plan was made from.

``plan_environment`` does one environment's work and shares nothing with another call, so
several environments can be planned side by side. ``apply_environment`` refuses, changing
nothing, when there is no saved plan, when the rendered tree changed since, or when the plan
holds data loss, a traffic risk or a credentials problem that the caller did not allow.
Terraform's own check that the plan file still matches the state stays the last line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfgen import __version__
from tfgen.deploy import fanout, review, terraform
from tfgen.deploy.fanout import Outcome
from tfgen.errors import Finding, TerraformError, UsageError
from tfgen.project import Project
from tfgen.render import output

PLAN_DIR = "plan"
PLAN_FILE = f"{PLAN_DIR}/tfplan"
SHOW_FILE = f"{PLAN_DIR}/plan.json"
LOG_FILE = f"{PLAN_DIR}/plan.log"
META_FILE = f"{PLAN_DIR}/meta.json"
TAIL_LINES = 40


class Refused(Finding):
    """``tfgen apply`` will not apply the saved plan; nothing was changed."""


@dataclass(frozen=True)
class PlanResult:
    env: str
    directory: Path
    review: review.Review


def rendered_digest(directory: Path) -> str:
    """The sha256 of the rendered tree in ``directory``: of its files' digests, from the manifest."""
    manifest = output.read_manifest(directory)
    if manifest is None:
        raise UsageError(f"{directory}: not rendered by tfgen: run `tfgen render {directory.name}`")
    files = json.dumps(manifest["files"], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(files.encode()).hexdigest()


def plan_environment(project: Project, env: str, overrides: Sequence[str] = (),
                     terraform_args: Sequence[str] = ()) -> PlanResult:
    """Plan ``env`` into ``OUT/ENV/plan/`` and review it; terraform's output goes to its log."""
    directory = project.require_current(env, list(overrides))
    require_account(project, env, overrides)
    digest = rendered_digest(directory)
    plan_dir = directory / PLAN_DIR
    discard(directory)
    plan_dir.mkdir()
    with terraform.environment() as env_vars:
        planned = terraform.run(["plan", "-input=false", "-no-color", f"-out={PLAN_FILE}", *terraform_args],
                                directory, env_vars, capture=True)
        (directory / LOG_FILE).write_text(planned.stdout + planned.stderr, encoding="utf-8")
        if planned.returncode != 0:
            (directory / PLAN_FILE).unlink(missing_ok=True)
            raise TerraformError(f"{env}: terraform plan exited with {planned.returncode}; last lines of "
                                 f"{directory / LOG_FILE}:\n{_tail(planned.stdout + planned.stderr)}")
        shown = terraform.show(directory, env_vars, PLAN_FILE)
    (directory / SHOW_FILE).write_text(shown, encoding="utf-8")
    meta = {"env": env, "rendered_digest": digest, "tfgen_version": __version__}
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    result = review.review(json.loads(shown), env=env, plan_file=str(directory / PLAN_FILE),
                           rendered_digest=digest)
    return PlanResult(env, directory, result)


def require_account(project: Project, env: str, overrides: Sequence[str]) -> None:
    """Refuse credentials of another account than the environment's ``aws_account_id``."""
    from tfgen.deploy import preflight

    [loaded] = project.load([env], list(overrides))
    preflight.require_account(loaded.model)


@dataclass(frozen=True)
class Planned:
    """One environment's part of a plan of several: how its planning ended (tfgen.deploy.fanout), and
    its review when it succeeded."""

    outcome: Outcome
    review: review.Review | None


def plan_many(project: Project, envs: Sequence[str], overrides: Sequence[str] = (),
              terraform_args: Sequence[str] = (), jobs: int = 1) -> Iterator[Planned]:
    """Plan each of ``envs``, up to ``jobs`` side by side, each yielded in the order given as soon as
    it and every earlier one are done; one environment's failure is its own outcome and does not
    stop the others. A review is handed over, not kept: memory stays flat in the count."""
    reviews: dict[str, review.Review] = {}

    def task(env: str) -> tuple[int, str]:
        reviews[env] = plan_environment(project, env, overrides, terraform_args).review
        return 0, ""

    for outcome in fanout.each(envs, task, jobs):
        yield Planned(outcome, reviews.pop(outcome.env, None))


def saved_review(directory: Path, env: str) -> review.Review:
    """The review of the plan saved in ``directory``; refused when there is none."""
    try:
        meta: dict[str, Any] = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        plan = json.loads((directory / SHOW_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        meta, plan = {}, None
    except ValueError as exc:
        raise Refused(f"{directory / PLAN_DIR}: unreadable saved plan ({exc}): run `tfgen plan {env}`") from None
    if plan is None or not (directory / PLAN_FILE).is_file():
        raise Refused(f"{directory / PLAN_FILE}: no saved plan: run `tfgen plan {env}`, review it, then apply")
    return review.review(plan, env=env, plan_file=str(directory / PLAN_FILE),
                         rendered_digest=str(meta.get("rendered_digest", "")))


def apply_environment(project: Project, env: str, overrides: Sequence[str] = (),
                      allow_data_loss: Sequence[str] = (), allow_traffic_risk: Sequence[str] = (),
                      terraform_args: Sequence[str] = ()) -> int:
    """Apply the saved plan of ``env`` after the checks; returns terraform's exit code."""
    directory = project.require_current(env, list(overrides))
    require_account(project, env, overrides)
    result = saved_review(directory, env)
    digest = rendered_digest(directory)
    if result.rendered_digest != digest:
        raise Refused(f"{directory}: the rendered tree changed since the plan was made "
                      f"(plan of {result.rendered_digest[:12] or 'unknown'}, now {digest[:12]}): "
                      f"run `tfgen plan {env}` again")
    known = {loss.address for loss in result.data_loss}
    unknown = [address for address in allow_data_loss if address not in known]
    if unknown:
        raise UsageError("\n".join(f"--allow-data-loss {address}: the plan deletes or replaces no such "
                                   "data-bearing resource" for address in unknown))
    refusals = result.refusals(allow_data_loss, allow_traffic_risk)
    if refusals:
        raise Refused("\n".join([f"tfgen apply {env}: refused, nothing changed:",
                                 *(f"  {line}" for line in refusals)]))
    code = terraform.stream(["apply", "-input=false", *terraform_args, PLAN_FILE], directory)
    if code == 0:
        discard(directory)
    return code


def discard(directory: Path) -> None:
    """Remove a saved plan (after it was applied, or before a new one is made)."""
    plan_dir = directory / PLAN_DIR
    if plan_dir.is_dir() and not plan_dir.is_symlink():
        shutil.rmtree(plan_dir)
    elif os.path.lexists(plan_dir):
        plan_dir.unlink()


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-TAIL_LINES:])
