"""Blue/green traffic of the payment functions: reading the split, moving it, writing it back.

Each function behind the load balancer has two Lambda aliases, ``blue`` and
``green``, each pinned to a published version (or ``latest``), and a listener
rule that forwards ``blue_weight`` and ``green_weight`` percent of requests to
them. A release goes to green, takes traffic in steps (``shifted``), takes all
of it (``promoted``), and is then made the new blue (``finalized``): blue's
version becomes green's and blue gets 100 percent again, so the next release
can go to green. ``rolled_back`` sends everything back to blue at any point
before ``finalized``.

A move changes the environment's own YAML file in place (comments, key order,
quoting and layout kept; values inherited from the defaults are added to the
environment file), but only after the edited configuration has been validated
and rendered in memory. Then the file is replaced atomically and the output
directory rewritten; if anything fails first, nothing on disk changes. A move
holds the environment's lock (tfgen.render.lock) from reading the file to
writing the output: while another command (a plan, an apply, a release) runs on
the environment, it is refused and writes nothing.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tfgen.config import environment, layers, report
from tfgen.config import names as naming
from tfgen.config.yaml_edit import set_values
from tfgen.errors import ConfigError, OutputError, UsageError
from tfgen.project import Project
from tfgen.render import lock, output
from tfgen.render import templates as render
from tfgen.render.templates import MANIFEST

FUNCTIONS = naming.FUNCTION_KEYS
LATEST = "latest"


@dataclass(frozen=True)
class Split:
    """Where one function's traffic goes: the version behind each alias, and the weights."""

    blue_version: str
    green_version: str
    blue_weight: int
    green_weight: int

    @classmethod
    def of(cls, traffic: Any) -> Split:
        return cls(traffic.blue_version, traffic.green_version, traffic.blue_weight,
                   traffic.green_weight)


Move = Callable[[Split], Split]


# ---------------------------------------------------------------------------
# Moves: pure functions of one split, raising UsageError when a guard refuses.
# ---------------------------------------------------------------------------

def _require_distinct(split: Split, force: bool) -> None:
    """Traffic on green only means something when green runs another version than blue."""
    if force or split.blue_version != split.green_version:
        return
    if split.green_version == LATEST:
        raise UsageError("blue and green both run 'latest', so their traffic cannot be told apart: "
                         "publish a version and pass --green-version N (or --force)")
    raise UsageError(f"blue and green both run version {split.green_version}: set the new release "
                     "with --green-version N (or --force)")


def shifted(split: Split, green: int, green_version: str | None, max_step: int,
            force: bool) -> Split:
    """Green gets ``green`` percent and blue the rest.

    Refused unless ``force``: raising green by more than ``max_step`` points, and
    sending more traffic (or a new version) to a green that runs blue's version.
    Lowering green is never refused.
    """
    moved = dataclasses.replace(split, green_version=green_version or split.green_version,
                                blue_weight=100 - green, green_weight=green)
    step = green - split.green_weight
    if step > max_step and not force:
        raise UsageError(f"green {split.green_weight} -> {green} is a step of {step} points, "
                         f"more than --max-step {max_step}: shift in smaller steps (or --force)")
    if green and (step > 0 or moved.green_version != split.green_version):
        _require_distinct(moved, force)
    return moved


def promoted(split: Split, force: bool) -> Split:
    """Every request to green; refused for a green that has not taken any traffic yet."""
    if split.green_weight == 0 and not force:
        raise UsageError("green takes no traffic yet: shift some to it first (or --force)")
    _require_distinct(split, force)
    return dataclasses.replace(split, blue_weight=0, green_weight=100)


def finalized(split: Split) -> Split:
    """After a promotion: blue runs green's version and takes all traffic again."""
    if split.green_weight != 100:
        raise UsageError("expected green at 100 (run promote first), "
                         f"got green {split.green_weight}")
    return Split(split.green_version, split.green_version, 100, 0)


def rolled_back(split: Split) -> Split:
    """Every request back to blue at once; never refused."""
    return dataclasses.replace(split, blue_weight=100, green_weight=0)


def pinned(split: Split, deployed: Mapping[str, str]) -> Split:
    """Each alias pinned to the version it runs now (``deployed``: colour -> version)."""
    return dataclasses.replace(split, blue_version=deployed["blue"], green_version=deployed["green"])


def deployed_versions(state: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Function -> colour -> the published version its alias runs, from ``terraform show -json``
    of the state."""
    found: dict[str, dict[str, str]] = {}
    resources = ((state.get("values") or {}).get("root_module") or {}).get("resources") or ()
    for resource in resources:
        if resource.get("type") != "aws_lambda_alias" or resource.get("mode") != "managed":
            continue
        function, _, colour = str(resource.get("index", "")).rpartition("-")
        version = str((resource.get("values") or {}).get("function_version") or "")
        if function in FUNCTIONS and colour in naming.COLORS and version.isdigit():
            found.setdefault(function, {})[colour] = version
    return found


def deployed_splits(state: Mapping[str, Any]) -> dict[str, Split]:
    """Function -> the split that serves now, from ``terraform show -json`` of the state: the
    versions its aliases run and the weights its listener rule gives their target groups."""
    resources = list(((state.get("values") or {}).get("root_module") or {}).get("resources") or ())
    colour_of = {}
    for resource in resources:
        if resource.get("type") == "aws_lb_target_group" and resource.get("mode") == "managed":
            colour = str(resource.get("index", "")).rpartition("-")[2]
            colour_of[str((resource.get("values") or {}).get("arn"))] = colour
    weights: dict[str, dict[str, int]] = {}
    for resource in resources:
        if resource.get("type") != "aws_lb_listener_rule" or resource.get("mode") != "managed":
            continue
        for action in (resource.get("values") or {}).get("action") or ():
            for forward in action.get("forward") or ():
                for group in forward.get("target_group") or ():
                    found = colour_of.get(str(group.get("arn")))
                    if found in naming.COLORS and isinstance(group.get("weight"), int):
                        weights.setdefault(str(resource.get("index")), {})[str(found)] = group["weight"]
    return {key: Split(versions["blue"], versions["green"], weights[key]["blue"], weights[key]["green"])
            for key, versions in deployed_versions(state).items()
            if set(versions) == set(naming.COLORS) and set(weights.get(key, {})) == set(naming.COLORS)}


def pin_moves(env: str, state: Mapping[str, Any], functions: Sequence[str] = FUNCTIONS) -> dict[str, Move]:
    """One move per function that pins both aliases to what they run in ``state``."""
    deployed = deployed_versions(state)
    missing = [key for key in functions if set(deployed.get(key, {})) != set(naming.COLORS)]
    if missing:
        raise UsageError(f"{env}: the state has no deployed blue and green alias of {', '.join(missing)}: "
                         f"apply the environment first (`tfgen plan {env}`, `tfgen apply {env}`)")
    return {key: partial(pinned, deployed=deployed[key]) for key in functions}


# ---------------------------------------------------------------------------
# Reading the current state
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """An environment's splits and whether its output directory matches a fresh render."""

    env: str
    splits: dict[str, Split]
    output: str
    target: Path


def splits(model: Any) -> dict[str, Split]:
    return {key: Split.of(getattr(model.lambda_.functions, key).traffic) for key in FUNCTIONS}


def view(project: Project, env: str) -> View:
    [loaded] = project.load([env])
    target = project.target(env)
    status = output.status(project.render_loaded(loaded), target)
    return View(env, splits(loaded.model), _state(status), target)


def _state(status: output.Status) -> str:
    for word, files in (("edited", status.edited), ("stale", status.stale + status.orphaned),
                        ("missing", status.missing)):
        if files:
            return word
    return "current"


def table(current: View) -> str:
    rows = [["FUNCTION", "BLUE-VERSION", "BLUE-WEIGHT", "GREEN-VERSION", "GREEN-WEIGHT", "OUTPUT"]]
    rows += [[key, s.blue_version, str(s.blue_weight), s.green_version, str(s.green_weight),
              current.output] for key, s in current.splits.items()]
    return report.table(rows)


# ---------------------------------------------------------------------------
# Applying a move
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    function: str
    field: str
    old: str | int
    new: str | int

    @property
    def path(self) -> layers.KeyPath:
        return ("lambda", "functions", self.function, "traffic", self.field)

    def __str__(self) -> str:
        return f"{layers.format_path(self.path)}: {self.old} -> {self.new}"


@dataclass(frozen=True)
class Applied:
    """What a move did: the settings changed, the output written, and its diff."""

    env_file: Path
    changes: list[Change]
    result: output.WriteResult
    diff: str


def apply(project: Project, env: str, moves: Mapping[str, Move]) -> Applied:
    """Move the traffic of each function of ``moves`` in ``env`` by its move; validate and render
    before writing anything. Holds the environment's lock throughout (tfgen.render.lock): refused
    (lock.Busy), nothing written, while another command runs on the environment; a release, which
    holds it already, moves through here."""
    target = project.target(env)
    rendered_before = (target / MANIFEST).is_file()  # else nothing can run there yet, and no lock file is left
    with lock.held(target, f"tfgen traffic {env}") if rendered_before else contextlib.nullcontext():
        return _apply(project, env, moves)


def _apply(project: Project, env: str, moves: Mapping[str, Move]) -> Applied:
    [loaded] = project.load([env])
    before = splits(loaded.model)
    after = {**before, **_moved(env, before, moves)}
    changes = [Change(key, name, getattr(before[key], name), getattr(after[key], name))
               for key in FUNCTIONS for name in _FIELDS
               if getattr(before[key], name) != getattr(after[key], name)]
    env_file = project.env_dir / f"{env}.yaml"
    text = env_file.read_text(encoding="utf-8")
    values = {change.path: change.new for change in changes}
    edited = set_values(text, values, str(env_file)) if values else text
    rendered = _checked_render(project, loaded, edited, after)
    target = project.target(env)
    _refuse_hand_edits(rendered, target)
    diff = project.diff_rendered(rendered, include_manifest=False)
    if edited != text:
        _replace(env_file, edited)
    return Applied(env_file, changes, output.write(rendered, target), diff)


_FIELDS = tuple(f.name for f in dataclasses.fields(Split))


def _moved(env: str, before: dict[str, Split], moves: Mapping[str, Move]) -> dict[str, Split]:
    """Each function's move applied to it; every refusal reported at once."""
    moved, refusals = {}, []
    for key, move in moves.items():
        if key not in before:
            raise UsageError(f"function {key!r}: expected one of {', '.join(FUNCTIONS)}")
        try:
            moved[key] = move(before[key])
        except UsageError as exc:
            refusals.append(f"{env}: {key}: {exc}")
    if refusals:
        raise UsageError("\n".join(refusals))
    return moved


def _checked_render(project: Project, loaded: environment.Loaded, text: str,
                    after: dict[str, Split]) -> render.Rendered:
    """Validate ``text`` as the environment file with the model used by render, then render it."""
    label = loaded.config.layers[-1].label
    try:
        merged = layers.merge(loaded.name, [*loaded.config.layers[:-1], layers.parse_yaml(text, label)], label)
        model = environment.validate(merged)
    except ConfigError as exc:
        raise ConfigError([*exc.problems, f"{label}: left unchanged: the traffic change would make "
                           "the configuration invalid"]) from None
    expected = copy.deepcopy(loaded.config.data)
    for key, split in after.items():
        expected["lambda"]["functions"][key]["traffic"] = dataclasses.asdict(split)
    if merged.data != expected:
        raise UsageError(f"{label}: left unchanged: editing the traffic split in place would "
                         "change other settings too (a YAML anchor or alias?); edit it by hand")
    return project.render_loaded(environment.Loaded(config=merged, model=model))


def _refuse_hand_edits(rendered: render.Rendered, target: Path) -> None:
    edited = output.status(rendered, target).edited
    if edited:
        lines = [f"{target / path}: edited by hand since tfgen wrote it" for path in edited]
        advice = (f"{target}: refusing to overwrite hand edits: revert them, or discard them "
                  f"with `tfgen render {rendered.env}`")
        raise OutputError("\n".join([*lines, advice]))


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then ``os.replace``."""
    path = path.resolve()
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
