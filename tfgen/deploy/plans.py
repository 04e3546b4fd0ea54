"""The reviewed plan flow: ``terraform plan`` into a saved plan file, its review, and applying
exactly that file.

Everything one plan leaves is kept under the environment's output directory, in ``plan/``
(files tfgen's manifest does not list, so a re-render carries them over and ``tfgen check``
ignores them):

- ``plan/tfplan``: the binary plan file ``terraform apply`` is given;
- ``plan/plan.json``: its ``terraform show -json``;
- ``plan/plan.log``: terraform's output while planning;
- ``plan/meta.json``: a readable copy of what the plan is bound to (tfgen.deploy.review.binding):
  the environment, the ``--set`` settings, the AWS account of the credentials, the sha256 of
  ``tfplan``, the digest of its ``terraform show -json``, the digest of the rendered tree and the
  tfgen version. The record apply trusts is kept outside ``OUT/ENV``, where only the user can
  write (tfgen.deploy.records): a writer of ``OUT/ENV`` cannot re-bind another plan.

After ``terraform plan`` writes the plan file, and again at apply on the private copy, the
configuration terraform kept in it is compared with the rendered files (tfgen.deploy.planfile): a
plan made from a ``.tf`` that something other than tfgen changed while terraform read it is
discarded by ``tfgen plan`` and refused by ``tfgen apply``.

``plan_environment`` does one environment's work and shares nothing with another call, so
several environments can be planned side by side. ``apply_environment`` copies the plan file
into a directory of its own, shows and reviews that copy again and applies that copy only. It
refuses, changing nothing, when there is no saved plan or no private record of it, when the
readable copy differs from the record, when anything the plan is bound to
differs (another plan file, an edited review, another environment, account or ``--set``,
another rendered tree or tfgen), when the plan was made from configuration tfgen did not
render, or when the plan holds data loss, detection reduced, a traffic risk, an outage or a
credentials problem that the caller did not allow. Each command holds the environment's
lock (tfgen.render.lock) from its start to its end. Terraform's own check that the plan file still
matches the state stays the last line.

An adoption (``tfgen adopt``: the import blocks of ``environments/adopt/ENV.json`` in
``imports.tf``) is planned and applied whole: ``-target`` is refused while ``imports.tf`` is in the
tree, and the record is marked applied (the next render leaves ``imports.tf`` out) only after an
apply of a complete plan that imported every address of it, or found it in the state already.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfgen import __version__, inputs
from tfgen.deploy import fanout, planfile, records, review, terraform
from tfgen.deploy.fanout import Outcome
from tfgen.deploy.review import binding
from tfgen.errors import Finding, TerraformError, UsageError
from tfgen.project import Project
from tfgen.render import adoption, lock, output

PLAN_DIR = "plan"
PLAN_FILE = f"{PLAN_DIR}/tfplan"
SHOW_FILE = f"{PLAN_DIR}/plan.json"
LOG_FILE = f"{PLAN_DIR}/plan.log"
META_FILE = f"{PLAN_DIR}/meta.json"
TAIL_LINES = 40


class Refused(Finding):
    """``tfgen apply`` will not apply the saved plan; nothing was changed."""


class Discarded(Finding):
    """``tfgen plan`` made a plan it will not keep: the plan file was removed."""


@dataclass(frozen=True)
class PlanResult:
    env: str
    directory: Path
    review: review.Review
    binding: binding.Binding

    def notes(self) -> list[str]:
        """What to tell the caller besides the review."""
        account = self.binding.account
        if account.id is None:
            return [f"{self.env}: the AWS account of the credentials cannot be told ({account.unknown}): "
                    "tfgen apply will refuse this plan"]
        return []


def rendered_files(directory: Path) -> dict[str, str]:
    """The files tfgen rendered in ``directory`` with their sha256, from the manifest."""
    manifest = output.read_manifest(directory)
    if manifest is None:
        raise UsageError(f"{directory}: not rendered by tfgen: run `tfgen render {directory.name}`")
    return {str(name): str(digest) for name, digest in manifest["files"].items()}


def rendered_digest(directory: Path, files: Mapping[str, str] | None = None) -> str:
    """The sha256 of the rendered tree in ``directory``: of its files' digests, from the manifest
    (or ``files``, read from it before), and of every file terraform would load that the manifest
    does not list (name and bytes)."""
    files = rendered_files(directory) if files is None else files
    digest = hashlib.sha256(json.dumps(files, sort_keys=True, separators=(",", ":")).encode())
    for name in inputs.stray_terraform_files(directory, files):
        digest.update(f"\0stray {name}\0{_file_sha256(directory / name)}".encode())
    return digest.hexdigest()


def plan_environment(project: Project, env: str, overrides: Sequence[str] = (),
                     terraform_args: Sequence[str] = ()) -> PlanResult:
    """Plan ``env`` into ``OUT/ENV/plan/``, record what the plan is bound to, and review it;
    terraform's output goes to its log."""
    with _locked(project, env, overrides, "plan") as directory:
        _whole_adoption(directory, env, terraform_args)
        account = caller_account(project, env, overrides)
        files = rendered_files(directory)
        digest = rendered_digest(directory, files)
        discard(directory)
        (directory / PLAN_DIR).mkdir()
        with terraform.environment() as env_vars:
            planned = terraform.run(["plan", "-input=false", "-no-color", f"-out={PLAN_FILE}", *terraform_args],
                                    directory, env_vars, capture=True)
            (directory / LOG_FILE).write_text(planned.stdout + planned.stderr, encoding="utf-8")
            if planned.returncode != 0:
                (directory / PLAN_FILE).unlink(missing_ok=True)
                raise TerraformError(f"{env}: terraform plan exited with {planned.returncode}; last lines of "
                                     f"{directory / LOG_FILE}:\n{_tail(planned.stdout + planned.stderr)}")
            data = (directory / PLAN_FILE).read_bytes()
            _check_configuration(directory, env, data, files)
            plan_sha256 = hashlib.sha256(data).hexdigest()
            shown = terraform.show(directory, env_vars, PLAN_FILE)
        plan = json.loads(shown)
        (directory / SHOW_FILE).write_text(shown, encoding="utf-8")
        bound = binding.Binding.of(env, overrides, account, plan_sha256, binding.json_digest(plan), digest,
                                   __version__)
        records.write(directory, bound.as_json())
        (directory / META_FILE).write_text(json.dumps(bound.as_json(), indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
        result = review.review(plan, env=env, plan_file=str(directory / PLAN_FILE), rendered_digest=digest,
                               max_step=max_step(project, env, overrides), plan_sha256=plan_sha256)
        return PlanResult(env, directory, result, bound)


def _check_configuration(directory: Path, env: str, data: bytes, files: Mapping[str, str]) -> None:
    """Discarded, with the plan file removed, when the configuration the plan file ``data`` was made
    from is not the rendered ``files`` (tfgen.deploy.planfile): another process changed it while
    terraform read it."""
    unrendered = planfile.differences(data, files)
    if unrendered:
        (directory / PLAN_FILE).unlink(missing_ok=True)
        raise Discarded("\n".join([f"tfgen plan {env}: the plan is discarded:", *(f"  {line}" for line in unrendered),
                                   f"something other than tfgen changed {directory} while terraform read it: "
                                   f"find it, then run `tfgen plan {env}` again"]))


def caller_account(project: Project, env: str, overrides: Sequence[str]) -> binding.Account:
    """The account of the caller's credentials, asked with the environment's provider settings
    (unknown, with the reason, when it cannot be told); refuses (UsageError) another account
    than the environment's ``aws_account_id``, or an unknown one when it is set."""
    from tfgen.deploy import preflight

    [loaded] = project.load([env], list(overrides))
    account, error = preflight.account_of(loaded.model)
    preflight.check_account(loaded.model.aws_account_id, account, error)
    return binding.Account(account, "" if account else error or "no answer")


@contextmanager
def _locked(project: Project, env: str, overrides: Sequence[str], verb: str) -> Iterator[Path]:
    """The environment's output directory, current, with its lock held until the block ends."""
    directory = project.target(env)
    if not (directory / inputs.MANIFEST).is_file():
        project.require_current(env, list(overrides))  # says what is wrong, and no lock file is left there
    with lock.held(directory, f"tfgen {verb} {env}"):
        yield project.require_current(env, list(overrides), full=True)  # a manifest can be forged


def max_step(project: Project, env: str, overrides: Sequence[str]) -> int:
    """The environment's ``lambda.traffic_max_step``: the review judges a canary's step by it."""
    [loaded] = project.load([env], list(overrides))
    return int(loaded.model.lambda_.traffic_max_step)


@dataclass(frozen=True)
class Planned:
    """One environment's part of a plan of several: how its planning ended (tfgen.deploy.fanout), and
    its review and notes when it succeeded."""

    outcome: Outcome
    review: review.Review | None
    notes: tuple[str, ...] = ()


def plan_many(project: Project, envs: Sequence[str], overrides: Sequence[str] = (),
              terraform_args: Sequence[str] = (), jobs: int = 1) -> Iterator[Planned]:
    """Plan each of ``envs``, up to ``jobs`` side by side, each yielded in the order given as soon as
    it and every earlier one are done; one environment's failure is its own outcome and does not
    stop the others. A review is handed over, not kept: memory stays flat in the count."""
    results: dict[str, PlanResult] = {}

    def task(env: str) -> tuple[int, str]:
        results[env] = plan_environment(project, env, overrides, terraform_args)
        return 0, ""

    for outcome in fanout.each(envs, task, jobs):
        yield _planned(outcome, results.pop(outcome.env, None))


def _planned(outcome: Outcome, result: PlanResult | None) -> Planned:
    """An outcome with its review and notes, holding no other reference to the result."""
    return Planned(outcome, None) if result is None else Planned(outcome, result.review, tuple(result.notes()))


def saved_binding(directory: Path, env: str) -> binding.Binding:
    """What the plan saved in ``directory`` was bound to when it was reviewed, from the private record
    (tfgen.deploy.records); refused when there is no saved plan, no record of it, or the record
    cannot be read."""
    if not (directory / PLAN_FILE).is_file() or not (directory / META_FILE).is_file():  # no plan completed
        raise Refused(f"{directory / PLAN_FILE}: no saved plan: run `tfgen plan {env}`, review it, then apply")
    try:
        document = records.read(directory)
        if document is None:
            raise Refused(f"{directory / PLAN_FILE}: tfgen keeps no record of this plan "
                          f"({records.path_of(directory)}): it was made by another user or machine, or the "
                          f"record was removed: plan again: run `tfgen plan {env}`, review it, then apply")
        return binding.read(document)
    except ValueError as exc:
        raise Refused(f"{records.path_of(directory)}: unreadable plan binding ({exc}): run `tfgen plan {env}` "
                      "again") from None


@dataclass(frozen=True)
class Copied:
    """The private copy of a saved plan file: where it is, its bytes, their sha256 and its
    ``terraform show -json``."""

    path: Path
    data: bytes
    sha256: str
    plan: Any


@contextmanager
def private_copy(directory: Path, env: str) -> Iterator[Copied]:
    """A copy of ``plan/tfplan`` in a new directory only this process's user can reach, hashed from
    the bytes written and shown (``terraform show -json``, run in ``directory``) from the copy;
    removed when the block ends. Refused when ``plan/tfplan`` is a symbolic link or cannot be read."""
    with tempfile.TemporaryDirectory(prefix="tfgen-apply-") as private:
        copy = Path(private) / "tfplan"
        data = _read_plan_file(directory, env)
        with os.fdopen(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(data)
        with terraform.environment() as env_vars:
            shown = terraform.show(directory, env_vars, str(copy))
        try:
            plan = json.loads(shown)
        except ValueError as exc:
            raise Refused(f"{directory / PLAN_FILE}: terraform show -json gave no plan ({exc})") from None
        yield Copied(copy, data, hashlib.sha256(data).hexdigest(), plan)


# The terraform arguments `tfgen apply -- ARGS` passes: how it runs, never what or where it applies
# (-state-out, -backup, -lock=false, -target and the like are refused).
_ALLOWED_APPLY_ARGS = re.compile(r"-parallelism=[1-9][0-9]*|-lock-timeout=(?:[0-9]+(?:ns|us|ms|s|m|h))+"
                                 r"|-compact-warnings|-no-color|-input=false")


def check_apply_arguments(terraform_args: Sequence[str]) -> None:
    """UsageError for a terraform argument ``tfgen apply`` does not pass."""
    for argument in terraform_args:
        if not _ALLOWED_APPLY_ARGS.fullmatch(argument):
            raise UsageError(f"apply: terraform argument {argument!r} is not allowed: tfgen apply passes "
                             "-parallelism=N, -lock-timeout=DURATION, -compact-warnings, -no-color and "
                             "-input=false only")


def _read_plan_file(directory: Path, env: str) -> bytes:
    """The bytes of ``plan/tfplan``, never through a symbolic link."""
    path = directory / PLAN_FILE
    refused = f"tfgen apply {env}: refused, nothing changed: {path}"
    if path.is_symlink():
        raise Refused(f"{refused} is a symbolic link, not the plan file tfgen saved: run `tfgen plan {env}` again")
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as source:
            return source.read()
    except OSError as exc:  # replaced by a link or removed since: ELOOP, ENOENT
        raise Refused(f"{refused} cannot be read ({exc.strerror}): run `tfgen plan {env}` again") from None


def apply_environment(project: Project, env: str, overrides: Sequence[str] = (),
                      allow_data_loss: Sequence[str] = (), allow_traffic_risk: Sequence[str] = (),
                      terraform_args: Sequence[str] = (), allow_outage: Sequence[str] = (),
                      say: Callable[[str], None] = lambda line: None,
                      allow_detection_loss: Sequence[str] = ()) -> int:
    """Apply the saved plan of ``env`` after the checks; returns terraform's exit code. ``say`` is
    told, before terraform runs, which plan file (sha256) and how many changes are applied."""
    check_apply_arguments(terraform_args)
    with _locked(project, env, overrides, "apply") as directory:
        account = caller_account(project, env, overrides)
        recorded = saved_binding(directory, env)
        files = rendered_files(directory)
        with private_copy(directory, env) as copy:
            now = binding.Binding.of(env, overrides, account, copy.sha256, binding.json_digest(copy.plan),
                                     rendered_digest(directory, files), __version__)
            differences = [*binding.differences(recorded, now, _saved_json_digest(directory)),
                           *binding.copy_differences(recorded, _saved_meta(directory)),
                           *planfile.differences(copy.data, files)]
            if differences:
                raise Refused("\n".join([f"tfgen apply {env}: refused, nothing changed: the plan is not the one "
                                         "reviewed:", *(f"  {line}" for line in differences),
                                         f"run `tfgen plan {env}` again, review it, then apply"]))
            result = review.review(copy.plan, env=env, plan_file=str(directory / PLAN_FILE),
                                   rendered_digest=recorded.rendered_digest,
                                   max_step=max_step(project, env, overrides))
            _judge(env, result, allow_data_loss, allow_traffic_risk, allow_outage, allow_detection_loss)
            counts = ", ".join(f"{result.counts[action]} to {action}" for action in review.ACTIONS)
            say(f"tfgen apply {env}: applying plan sha256 {copy.sha256}: {counts}")
            code = terraform.stream(["apply", "-input=false", *terraform_args, str(copy.path)], directory)
        if code == 0:
            discard(directory)
            remaining = _imported(project, env, copy.plan)
            if remaining:
                shown = ", ".join(remaining[:_LISTED]) + (", …" if len(remaining) > _LISTED else "")
                say(f"tfgen apply {env}: the adoption is not complete: {len(remaining)} import(s) did not run "
                    f"({shown}): {adoption.path(project.env_dir, env)} stays unapplied, so imports.tf stays in "
                    f"the tree; run `tfgen plan {env}` without -target, review it and apply")
        return code


# --- an adoption (tfgen adopt, tfgen.render.adoption) is planned and applied whole ----------------

_TARGET = re.compile(r"--?target(?:=.*)?", re.DOTALL)
_LISTED = 5


def _whole_adoption(directory: Path, env: str, terraform_args: Sequence[str]) -> None:
    """UsageError for a ``-target`` plan of a tree carrying an adoption's import blocks: a partial
    apply would import some objects and leave the rest to be created anew."""
    targets = [argument for argument in terraform_args if _TARGET.fullmatch(argument)]
    if targets and (directory / adoption.IMPORTS_FILE).is_file():
        raise UsageError(f"plan {env}: {targets[0]}: {directory / adoption.IMPORTS_FILE} carries the adoption of "
                         f"environments/{adoption.DIRECTORY}/{env}.json, which is planned and applied whole: "
                         "plan without -target")


def _imported(project: Project, env: str, plan: Mapping[str, Any]) -> list[str]:
    """After a successful apply of ``plan`` (its ``terraform show -json``), mark the environment's
    adoption record applied, so that the next render leaves its import blocks out, when the plan
    was whole (``"complete": true``) and every address of the record was imported by it or was in
    the state before it. Returns the record's addresses that were not (none when it was marked, or
    there is no record to mark)."""
    record = adoption.read(project.env_dir, env)
    if record is None or record.applied:
        return []
    if plan.get("complete") is not True:
        return sorted(record.imports)
    done = {rc.get("address") for rc in plan.get("resource_changes") or () if (rc.get("change") or {}).get("importing")}
    done |= _addresses((plan.get("prior_state") or {}).get("values", {}).get("root_module") or {})
    remaining = sorted(address for address in record.imports if address not in done)
    if not remaining:
        adoption.write(project.env_dir, env, dataclasses.replace(record, applied=True))
    return remaining


def _addresses(module: Mapping[str, Any]) -> set[str]:
    """The addresses of a state module's resources and its child modules'."""
    found = {str(r.get("address")) for r in module.get("resources") or ()}
    for child in module.get("child_modules") or ():
        found |= _addresses(child)
    return found


def _judge(env: str, result: review.Review, allow_data_loss: Sequence[str],
           allow_traffic_risk: Sequence[str], allow_outage: Sequence[str],
           allow_detection_loss: Sequence[str] = ()) -> None:
    """Refuse what the review refuses without the overrides given; an address allowed where the
    plan has nothing to allow is a usage error."""
    lost = {loss.address for loss in result.data_loss}
    reduced = {d.address for d in result.detection_loss}
    unknown = [f"--allow-data-loss {address}: the plan neither loses data nor weakens its protection there"
               for address in allow_data_loss if address not in lost]
    unknown += [f"--allow-detection-loss {address}: the plan neither stops nor weakens logging or alerting there"
                for address in allow_detection_loss if address not in reduced]
    if unknown:
        raise UsageError("\n".join(unknown))
    refusals = result.refusals(allow_data_loss, allow_traffic_risk, allow_outage, allow_detection_loss)
    if refusals:
        raise Refused("\n".join([f"tfgen apply {env}: refused, nothing changed:",
                                 *(f"  {line}" for line in refusals)]))


def _saved_json_digest(directory: Path) -> str | None:
    """The digest of ``plan/plan.json`` as it is now; None when it is missing or not JSON."""
    try:
        return binding.json_digest(json.loads((directory / SHOW_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _saved_meta(directory: Path) -> Any:
    """``plan/meta.json`` as it is now, parsed; None when it is missing or not JSON."""
    try:
        return json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def discard(directory: Path) -> None:
    """Remove a saved plan and its record (after it was applied, or before a new one is made)."""
    records.remove(directory)
    plan_dir = directory / PLAN_DIR
    if plan_dir.is_dir() and not plan_dir.is_symlink():
        shutil.rmtree(plan_dir)
    elif os.path.lexists(plan_dir):
        plan_dir.unlink()


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-TAIL_LINES:])
