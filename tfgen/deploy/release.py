"""``tfgen release``: a canary through green that judges itself, step by step.

One release of the payment functions (all, or those named) to a new version:

1. **publish**: when no ``--version`` is given and no release is under way, the current code is
   planned and applied with the aliases pinned (``tfgen traffic pin`` first when one is on
   ``latest``): the review must show the functions' new code and no alias or weight moving. The
   version it published is read from the state, never looked up by hand.
2. **steps**: for each of ``lambda.release.steps``, green moves to the version at the step's weight
   (``tfgen traffic shift``, the last step ``promote``), the environment is rendered and planned,
   and the release goes on only when the plan is exactly that move (tfgen.deploy.review.step); the
   plan is applied by ``tfgen apply``'s own code. That move is what the release decided: blue
   keeps the version it runs, green runs the released one at the step's weight (and the finalize
   puts the judged version on blue); the plan is checked against that decision, never against the
   file read back, and a move of the environment file that gives anything else (the file changed
   by hand meanwhile) stops the release before anything is written. Then the step bakes: after ``bake_s`` the metric
   source is asked for the window since the apply, and tfgen.deploy.review.canary judges it. An
   inconclusive step bakes on, ``bake_s`` at a time, up to ``max_bake_extension_s`` longer; then
   the release **stops** where it is, promoting nothing.
3. **fail**: a failed step is rolled back at once (``tfgen traffic rollback``: blue 100, green 0),
   planned, checked and applied the same way, and the release ends non-zero naming the metric.
4. **finalize**: after the last step passed, blue takes green's version (``tfgen traffic
   finalize``), so the next release starts clean.

Every move, plan and apply goes through the same code as the manual commands (tfgen.deploy.traffic,
tfgen.deploy.plans) while the release holds the environment's lock (tfgen.render.lock), so no other
release, plan or apply of the environment runs meanwhile. Where a release stands is read from the
environment file and the deployed state, never kept elsewhere: a release interrupted anywhere
resumes with ``tfgen release ENV`` (a move written but not applied is planned and applied first;
a step under way is baked and judged again) or is rolled back with ``tfgen traffic ENV rollback``.
Nothing here prints: progress goes to ``say``, and the result is a ``Report``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from tfgen.config import names as naming
from tfgen.config.model import release_step_problems
from tfgen.deploy import plans, terraform, traffic
from tfgen.deploy.review import canary, step
from tfgen.deploy.traffic import LATEST, Split
from tfgen.errors import Finding, UsageError
from tfgen.project import Project
from tfgen.render import lock

Result = Literal["released", "rolled_back", "stopped", "nothing"]
EXIT_CODES: dict[Result, int] = {"released": 0, "nothing": 0, "rolled_back": 1, "stopped": 4}


class Stopped(Finding):
    """The release stopped before an apply: the plan was not the step it expected; nothing applied."""


class MetricSource(Protocol):
    def observe(self, weights: Mapping[str, tuple[int, int]], start: datetime,
                end: datetime) -> list[canary.Observation]: ...

    def alarms(self) -> dict[str, str | None] | None: ...


@dataclass(frozen=True)
class Options:
    functions: tuple[str, ...] = ()  # empty: every payment function
    version: str | None = None
    steps: tuple[int, ...] | None = None  # None: lambda.release.steps
    bake_s: float | None = None  # None: lambda.release.bake_s
    overrides: tuple[str, ...] = ()
    terraform_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clock:
    """Time as the release sees it: the wall clock and a sleep (stand-ins in tests)."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Record:
    """One thing the release did: a move planned and applied, and the judgement of a step."""

    action: str  # publish, pin, resume, step, promote, rollback, finalize
    weight: int | None
    splits: dict[str, Split]
    applied: bool
    started: str
    ended: str = ""
    bake_s: float = 0.0
    judgement: canary.Judgement | None = None


@dataclass
class Report:
    env: str
    functions: tuple[str, ...]
    versions: dict[str, str] = field(default_factory=dict)
    steps: tuple[int, ...] = ()
    result: Result = "nothing"
    message: str = ""
    records: list[Record] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.result]

    def as_json(self) -> dict[str, Any]:
        return {"env": self.env, "result": self.result, "message": self.message, "functions": list(self.functions),
                "versions": dict(self.versions), "steps": list(self.steps),
                "records": [{"action": r.action, "weight": r.weight, "applied": r.applied, "started": r.started,
                             "ended": r.ended, "bake_s": r.bake_s,
                             "splits": {k: vars(s) for k, s in sorted(r.splits.items())},
                             "judgement": r.judgement.as_json() if r.judgement else None} for r in self.records]}


Say = Callable[[str], None]


def release(project: Project, env: str, options: Options, source: MetricSource | None = None,
            clock: Clock | None = None, say: Say = lambda line: None) -> Report:
    """Release ``env`` as the module docstring says; ``source`` None: CloudWatch of the environment."""
    directory = project.target(env)
    if not directory.is_dir():
        project.require_current(env, list(options.overrides))
    with lock.held(directory, f"tfgen release {env}"):
        return _Release(project, env, options, source, clock or Clock(), say).run()


class _Release:
    def __init__(self, project: Project, env: str, options: Options, source: MetricSource | None, clock: Clock,
                 say: Say) -> None:
        self.project, self.env, self.options, self.clock, self.say = project, env, options, clock, say
        self._source = source
        [loaded] = project.load([env], list(options.overrides))
        self.model = loaded.model
        settings = self.model.lambda_.release
        self.steps = tuple(options.steps or settings.steps)
        problems = release_step_problems(list(self.steps), self.model.lambda_.traffic_max_step)
        if problems:
            raise UsageError("\n".join(f"--steps: {problem}" for problem in problems))
        self.bake_s = float(options.bake_s if options.bake_s is not None else settings.bake_s)
        self.max_extension_s = float(settings.max_bake_extension_s)
        self.limits = canary.Limits.of(settings)
        self.functions = tuple(options.functions or naming.FUNCTION_KEYS)
        self.report = Report(env, self.functions, steps=self.steps)

    # -- the whole release ------------------------------------------------------------------------

    def run(self) -> Report:
        state = self._state()
        deployed = self._deployed(state)
        self._pin_latest(deployed)
        pending = {k: s for k, s in self._configured().items() if k in self.functions and s != deployed[k]}
        if pending:
            kind = _pending_kind(deployed, pending)
            deployed = self._finish_pending(kind, deployed, pending)
            if kind == "rollback":
                return self._end("rolled_back", "a rollback written but not applied was applied; the release ends")
            if kind == "finalize":
                self.report.versions = {k: s.blue_version for k, s in pending.items()}
                return self._end("released", f"released {_shown(self.report.versions)}: blue runs it at 100 % "
                                             "(a finalize written but not applied was applied)")
        versions = self._versions(deployed)
        self.report.versions = versions
        if not versions:
            return self._end("nothing", "every function named already runs its newest version on blue: "
                                        "nothing to release")
        current = self._position(deployed, versions)
        if current == 100 and all(deployed[k].blue_version == v and deployed[k].green_weight == 0
                                  for k, v in versions.items()):
            return self._end("nothing", "released already")
        weights = ([current] if current else []) + [w for w in self.steps if w > current]
        for weight in weights:
            if weight != current:
                self._move("promote" if weight == 100 else "step", weight, self._step_moves(weight, versions),
                           _stepped(versions, weight))
            judgement = self._bake(weight, versions)
            if judgement.outcome == "fail":
                self._move("rollback", 0, dict.fromkeys(versions, traffic.rolled_back))
                failed = "; ".join(str(f) for f in judgement.failures)
                return self._end("rolled_back", f"step {weight} % failed: {failed}; rolled back to blue")
            if judgement.outcome == "inconclusive":
                why = "; ".join(str(f) for f in judgement.findings)
                return self._end("stopped", f"step {weight} % stayed inconclusive after the longest bake: {why}; "
                                 f"green keeps {weight} %: resume with `tfgen release {self.env}` or roll back with "
                                 f"`tfgen traffic {self.env} rollback`, then plan and apply")
        self._move("finalize", None, dict.fromkeys(versions, traffic.finalized), _finalized(versions))
        return self._end("released", f"released {_shown(versions)}: blue runs it at 100 %")

    def _end(self, result: Result, message: str) -> Report:
        self.report.result, self.report.message = result, message
        self.say(f"{self.env}: {result.replace('_', ' ')}: {message}")
        return self.report

    # -- where the release stands -----------------------------------------------------------------

    def _state(self) -> Any:
        return terraform.show_json(self.project.target(self.env))

    def _configured(self) -> dict[str, Split]:
        [loaded] = self.project.load([self.env], list(self.options.overrides))
        return traffic.splits(loaded.model)

    def _deployed(self, state: Any) -> dict[str, Split]:
        deployed = traffic.deployed_splits(state)
        missing = [k for k in self.functions if k not in deployed]
        if missing:
            raise UsageError(f"{self.env}: the state has no deployed aliases and listener rule of "
                             f"{', '.join(missing)}: deploy the environment first (`tfgen plan {self.env}`, "
                             f"`tfgen apply {self.env}`)")
        return deployed

    def _pin_latest(self, deployed: Mapping[str, Split]) -> None:
        """Aliases on ``latest`` follow every publish: pin them to what they run (no traffic moves)."""
        configured = self._configured()
        latest = [k for k in self.functions if LATEST in (configured[k].blue_version, configured[k].green_version)]
        if latest:
            moves = {k: partial(traffic.pinned, deployed={"blue": deployed[k].blue_version,
                                                          "green": deployed[k].green_version}) for k in latest}
            self._write("pin", None, moves)

    def _finish_pending(self, kind: str, deployed: dict[str, Split], pending: Mapping[str, Split]) \
            -> dict[str, Split]:
        """A move written to the environment file but not applied (an interrupted release or a manual
        move): planned, checked to be exactly that move, and applied; recorded as ``kind``."""
        self.say(f"{self.env}: the environment file and the deployed state differ: applying that move first")
        self._render()  # OUT/ENV may hold a render of other settings (a stopped release's, a manual one's)
        self._plan_apply(kind, None, {k: step.Expected(_side(deployed[k]), _side(s)) for k, s in pending.items()},
                         {k: s for k, s in pending.items()})
        return {**deployed, **pending}

    def _versions(self, deployed: Mapping[str, Split]) -> dict[str, str]:
        """Function -> the version to release; functions whose blue runs it already are left out."""
        if self.options.version:
            return {k: self.options.version for k in self.functions if deployed[k].blue_version != self.options.version}
        under_way = {k: deployed[k].green_version for k in self.functions
                     if deployed[k].green_version != deployed[k].blue_version and deployed[k].green_weight > 0}
        if under_way:
            return under_way
        published = self._publish(deployed)
        rolled_back = [k for k, v in published.items()
                       if v == deployed[k].green_version and deployed[k].green_version != deployed[k].blue_version]
        if rolled_back:
            raise UsageError("\n".join(f"{self.env}: {k}: version {published[k]} was rolled back (green runs it at 0 "
                                       f"%) and the code has not changed since: release it again with --version "
                                       f"{published[k]} --function {k}, or change the code" for k in rolled_back))
        return {k: v for k, v in published.items() if v != deployed[k].blue_version}

    def _publish(self, deployed: Mapping[str, Split]) -> dict[str, str]:
        """Plan the current code with the aliases pinned; apply it when it publishes; the newest
        version of each function, read from the state."""
        self._render()
        planned = plans.plan_environment(self.project, self.env, self.options.overrides, self.options.terraform_args)
        if planned.review.changes:
            plan = _plan_json(planned.directory)
            code = {s.function for s in planned.review.traffic if any(a.code_changes for a in s.aliases)}
            expected = {k: step.Expected(_side(deployed[k]), _side(deployed[k]), publishes=k in code)
                        for k in self.functions}
            self._check(plan, planned.review, expected, "publish")
            self._apply("publish", None, dict(deployed))
        else:
            self.say(f"{self.env}: publish: the plan holds no changes: the code is published already")
        newest = _published_versions(self._state())
        missing = [k for k in self.functions if k not in newest]
        if missing:
            raise UsageError(f"{self.env}: the state holds no published version of {', '.join(missing)}")
        return {k: newest[k] for k in self.functions}

    def _position(self, deployed: Mapping[str, Split], versions: Mapping[str, str]) -> int:
        """Green's weight in the release under way (0: not started); the same for every function."""
        weights = {k: deployed[k].green_weight if deployed[k].green_version == v else 0 for k, v in versions.items()}
        if deployed and all(deployed[k].blue_version == v and deployed[k].green_version == v
                            for k, v in versions.items()):
            return 100
        if len(set(weights.values())) > 1:
            shown = ", ".join(f"{k} {w} %" for k, w in sorted(weights.items()))
            raise UsageError(f"{self.env}: the functions stand at different steps ({shown}): release them one at a "
                             "time with --function NAME")
        [weight] = set(weights.values())
        if weight and weight not in self.steps:
            self.say(f"{self.env}: green takes {weight} %, which is not one of the steps {list(self.steps)}: "
                     "judged there, then on to the next step")
        return weight

    def _step_moves(self, weight: int, versions: Mapping[str, str]) -> dict[str, traffic.Move]:
        if weight == 100:
            return dict.fromkeys(versions, partial(traffic.promoted, force=False))
        max_step = int(self.model.lambda_.traffic_max_step)
        return {k: partial(traffic.shifted, green=weight, green_version=v, max_step=max_step, force=False)
                for k, v in versions.items()}

    # -- moving, planning, applying ---------------------------------------------------------------

    def _move(self, action: str, weight: int | None, moves: Mapping[str, traffic.Move],
              decide: Decide | None = None) -> None:
        """Write ``moves``, then plan, check and apply them. ``decide``: what the release decided each
        function's split after the move is (function, deployed split -> split); a move of the
        environment file that gives anything else stops the release before anything is written."""
        before = {k: s for k, s in self._deployed(self._state()).items() if k in moves}
        decided = {k: decide(k, before[k]) for k in moves} if decide is not None else None
        if decided is not None:
            moves = {k: self._as_decided(action, k, move, decided[k]) for k, move in moves.items()}
        after = self._write(action, weight, moves)
        if decided is not None:
            after = decided  # the plan is checked against the decision, never against the file read back
        self._plan_apply(action, weight, {k: step.Expected(_side(before[k]), _side(after[k])) for k in moves},
                         after)

    def _as_decided(self, action: str, key: str, move: traffic.Move, decided: Split) -> traffic.Move:
        def checked(split: Split) -> Split:
            moved = move(split)
            if moved != decided:
                raise Stopped(f"tfgen release {self.env}: {action}: stopped before the apply, nothing written or "
                              f"applied: {key}: the environment file gives {_split(moved)}, the release decided "
                              f"{_split(decided)}: someone changed the environment file while the release ran: put "
                              f"it back, then resume with `tfgen release {self.env}`, or roll back with `tfgen "
                              f"traffic {self.env} rollback`")
            return moved
        return checked

    def _write(self, action: str, weight: int | None, moves: Mapping[str, traffic.Move]) -> dict[str, Split]:
        applied = traffic.apply(self.project, self.env, moves)
        for change in applied.changes:
            self.say(f"{self.env}: {action}: {applied.env_file}: {change}")
        self._render()
        return {k: s for k, s in self._configured().items() if k in moves}

    def _render(self) -> None:
        for _ in self.project.write([self.env], list(self.options.overrides)):
            pass

    def _plan_apply(self, action: str, weight: int | None, expected: Mapping[str, step.Expected],
                    after: Mapping[str, Split]) -> None:
        planned = plans.plan_environment(self.project, self.env, self.options.overrides, self.options.terraform_args)
        self._check(_plan_json(planned.directory), planned.review, expected, action)
        self._apply(action, weight, dict(after))

    def _check(self, plan: Any, result: Any, expected: Mapping[str, step.Expected], action: str) -> None:
        problems = step.problems(plan, result, expected)
        if problems:
            where = self.project.target(self.env) / plans.PLAN_DIR
            raise Stopped("\n".join([f"tfgen release {self.env}: {action}: stopped before the apply, nothing "
                                     "applied: the plan is not exactly the expected move:",
                                     *(f"  {line}" for line in problems),
                                     f"the plan and its review are in {where}; resume with `tfgen release "
                                     f"{self.env}` once it is, or roll back with `tfgen traffic {self.env} "
                                     "rollback`"]))

    def _apply(self, action: str, weight: int | None, splits: dict[str, Split]) -> None:
        started = self._stamp()
        code = plans.apply_environment(self.project, self.env, self.options.overrides)
        if code:
            raise Stopped(f"tfgen release {self.env}: {action}: terraform apply exited with {code}: resume with "
                          f"`tfgen release {self.env}`, or roll back with `tfgen traffic {self.env} rollback`")
        self.report.records.append(Record(action, weight, splits, True, started, self._stamp()))
        shown = ", ".join(f"{k} blue {s.blue_version} {s.blue_weight} % / green {s.green_version} {s.green_weight} %"
                          for k, s in sorted(splits.items()))
        self.say(f"{self.env}: {action}{f' {weight} %' if weight is not None else ''}: applied: {shown}")

    # -- baking -----------------------------------------------------------------------------------

    def _bake(self, weight: int, versions: Mapping[str, str]) -> canary.Judgement:
        start = self.clock.now()
        record = Record("bake", weight, {}, False, start.isoformat())
        self.report.records.append(record)
        weights = {k: (100 - weight, weight) for k in versions}
        waited = 0.0
        while True:
            self.clock.sleep(self.bake_s)
            waited += self.bake_s
            end = self.clock.now()
            source = self.source()
            judgement = canary.judge(source.observe(weights, start, end), source.alarms(), self.limits)
            record.judgement, record.bake_s, record.ended = judgement, waited, end.isoformat()
            self.say(f"{self.env}: step {weight} %: baked {waited:g} s: {judgement.outcome}"
                     + "".join(f"; {f}" for f in judgement.findings))
            if judgement.outcome != "inconclusive" or waited >= self.bake_s + self.max_extension_s:
                return judgement

    def source(self) -> MetricSource:
        if self._source is None:
            from tfgen.deploy import metrics

            self._source = metrics.cloudwatch(self.model, self._state())
        return self._source

    def _stamp(self) -> str:
        return self.clock.now().isoformat()


Decide = Callable[[str, Split], Split]


def _stepped(versions: Mapping[str, str], weight: int) -> Decide:
    """A step (or the promotion) to ``weight``: green runs the released version, blue keeps its own."""
    return lambda key, before: Split(before.blue_version, versions[key], 100 - weight, weight)


def _finalized(versions: Mapping[str, str]) -> Decide:
    """The finalize: blue runs the version judged at every step, at 100 %."""
    return lambda key, before: Split(versions[key], versions[key], 100, 0)


def _split(split: Split) -> str:
    return (f"blue version {split.blue_version} {split.blue_weight} % / green version {split.green_version} "
            f"{split.green_weight} %")


def _pending_kind(deployed: Mapping[str, Split], pending: Mapping[str, Split]) -> str:
    """What a move written but not applied is: ``finalize`` when blue takes the version green
    serves at 100 %, ``rollback`` when green's traffic goes back to blue, which keeps its version;
    ``resume`` (a step, or several kinds at once) otherwise."""
    if all(deployed[k].green_weight == 100 and s == traffic.finalized(deployed[k]) for k, s in pending.items()):
        return "finalize"
    if all(s.green_weight == 0 and deployed[k].green_weight > 0 and s.blue_version == deployed[k].blue_version
           for k, s in pending.items()):
        return "rollback"
    return "resume"


def _shown(versions: Mapping[str, str]) -> str:
    return ", ".join(f"{k} version {v}" for k, v in sorted(versions.items()))


def _side(split: Split) -> step.Side:
    return step.Side(split.blue_version, split.green_version, split.blue_weight, split.green_weight)


def _plan_json(directory: Path) -> Any:
    return json.loads((directory / plans.SHOW_FILE).read_text(encoding="utf-8"))


def _published_versions(state: Mapping[str, Any]) -> dict[str, str]:
    """Function -> the newest version its code was published as, from the state."""
    found = {}
    for resource in ((state.get("values") or {}).get("root_module") or {}).get("resources") or ():
        if resource.get("type") == "aws_lambda_function" and resource.get("name") == "this" \
                and resource.get("mode") == "managed":
            version = str((resource.get("values") or {}).get("version") or "")
            if version.isdigit():
                found[str(resource.get("index"))] = version
    return found
