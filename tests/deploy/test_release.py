"""The release loop end to end in-process: the real moves, renders, plans, reviews and applies,
with a stand-in terraform keeping one deployed payment_validation (tests/deploy/fake_stack.py)
and a stand-in metric source and clock."""

from __future__ import annotations

import dataclasses
import json
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import fake_stack
from tests.deploy.review.test_serving import FN, PV, RULE, alias
from tests.deploy.test_plans import LOCK_PROBE, use_account
from tfgen.config.model import release_step_problems
from tfgen.deploy import plans, release, release_format
from tfgen.deploy.review.canary import Colour, Observation
from tfgen.errors import UsageError
from tfgen.project import Project
from tfgen.render import templates

HEALTHY = Colour(requests=500, target_5xx=0, errors=1, throttles=0, p99_ms=120.0, lambda_user_errors=0,
                 lambda_internal_errors=0)
SICK = dataclasses.replace(HEALTHY, errors=40)
THIN = dataclasses.replace(HEALTHY, requests=3, errors=0)
OPTIONS = release.Options(functions=(PV,), bake_s=60)


class Source:
    """Answers per step weight: green's figures (blue is always healthy); records each window."""

    def __init__(self, green: Callable[[int], Colour] = lambda weight: HEALTHY,
                 during: Callable[[int], None] = lambda weight: None) -> None:
        self.green = green
        self.during = during
        self.windows: list[tuple[int, datetime, datetime]] = []

    def observe(self, weights: Mapping[str, tuple[int, int]], start: datetime, end: datetime) -> list[Observation]:
        [(function, (blue, green))] = weights.items()
        self.windows.append((green, start, end))
        self.during(green)
        blue_seen = HEALTHY if blue else Colour(requests=0, target_5xx=0, errors=None, throttles=0, p99_ms=None,
                                                lambda_user_errors=0, lambda_internal_errors=0)
        return [Observation(function, blue_seen, self.green(green), blue, green)]

    def alarms(self) -> dict[str, str | None]:
        return {"payment-alb-5xx-dev": "OK"}


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2025, 1, 1, tzinfo=UTC)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def deployed(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """dev rendered and deployed (the stand-in's state: pinned on version 1, 90/10)."""
    monkeypatch.chdir(project)
    script = tmp_path / "terraform"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(fake_stack.__file__)} \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("TFGEN_TERRAFORM", str(script))
    monkeypatch.delenv("TFGEN_PLUGIN_DIR", raising=False)
    monkeypatch.delenv("FAKE_STACK_EXTRA", raising=False)
    monkeypatch.setenv("FAKE_STACK_STATE", str(tmp_path / "state.json"))
    monkeypatch.setenv("FAKE_STACK_ENVS", str(project / "environments"))
    monkeypatch.setenv("FAKE_STACK_LOG", str(tmp_path / "terraform.log"))
    (tmp_path / "terraform.log").touch()
    use_account(monkeypatch, "123456789012")
    env_file = project / "environments" / "dev.yaml"
    env_file.write_text(env_file.read_text().replace("lambda:\n", "lambda:\n  functions:\n    payment_validation:\n"
                                                     "      traffic: {blue_version: '1', green_version: '1', "
                                                     "blue_weight: 90, green_weight: 10}\n", 1))
    built = Project(project / "environments", project / "templates", project / "build", project / "lambdas")
    list(built.write(["dev"]))
    (tmp_path / "state.json").write_text(json.dumps(fake_stack.initial(
        fake_stack.code_hash_of(project / "build" / "dev"))))
    return built


def new_code(project: Project) -> None:
    handler = project.lambda_dir / PV / f"{PV}.py"
    handler.write_text(handler.read_text() + "\n# the next release\n")
    templates._packages.cache_clear()  # a release runs in a process of its own, which packages afresh


def state(tmp_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((tmp_path / "state.json").read_text())
    return loaded


def serving(tmp_path: Path) -> tuple[str, str, list[int]]:
    now = state(tmp_path)
    weights = [g["weight"] for g in now[RULE]["action"][0]["forward"][0]["target_group"]]
    return now[alias("blue")]["function_version"], now[alias("green")]["function_version"], weights


def applies(tmp_path: Path) -> int:
    return sum(line.startswith("apply") for line in (tmp_path / "terraform.log").read_text().splitlines())


def run(project: Project, source: Source, clock: FakeClock | None = None,
        options: release.Options = OPTIONS) -> release.Report:
    clock = clock or FakeClock()
    lines: list[str] = []
    report = release.release(project, "dev", options, source, release.Clock(clock.now, clock.sleep), lines.append)
    report.message += "\n" + "\n".join(lines)  # shown when an assertion fails
    return report


def test_a_healthy_release_publishes_steps_promotes_and_finalizes(deployed: Project, tmp_path: Path) -> None:
    new_code(deployed)
    source = Source()
    report = run(deployed, source)
    assert report.result == "released", report.message
    assert report.versions == {PV: "2"}
    assert serving(tmp_path) == ("2", "2", [100, 0])
    assert [green for green, _, _ in source.windows] == [10, 25, 50, 100]
    # each window starts when its step was applied and lasts the bake
    assert all((end - start).total_seconds() == 60 for _, start, end in source.windows)
    assert [(r.action, r.weight) for r in report.records if r.judgement is None] == [
        ("publish", None), ("step", 10), ("step", 25), ("step", 50), ("promote", 100), ("finalize", None)]
    assert applies(tmp_path) == 6
    env_file = (deployed.env_dir / "dev.yaml").read_text()
    assert "blue_version: '2'" in env_file or 'blue_version: "2"' in env_file
    assert report.exit_code == 0
    text = release_format.render_text(report)
    assert "release dev: released" in text and "bake 25 %: pass after 60 s" in text
    assert json.loads(release_format.render_json(report))["result"] == "released"
    assert "### Release of `dev`: released" in release_format.render_markdown(report)


def test_a_failing_second_step_rolls_back_to_blue_and_names_the_metric(deployed: Project, tmp_path: Path) -> None:
    new_code(deployed)
    report = run(deployed, Source(lambda weight: SICK if weight == 25 else HEALTHY))
    assert report.result == "rolled_back" and report.exit_code == 1, report.message
    assert serving(tmp_path) == ("1", "2", [100, 0])
    assert "step 25 % failed: payment_validation: green's Lambda Errors rate 8 % (40 of 500 requests)" \
        in report.message
    assert [(r.action, r.weight) for r in report.records if r.judgement is None][-1] == ("rollback", 0)
    assert "FAILED, rolled back" in release_format.render_text(report)


def test_thin_traffic_bakes_longer_then_stops_without_promoting(deployed: Project, tmp_path: Path) -> None:
    new_code(deployed)
    clock = FakeClock()
    report = run(deployed, Source(lambda weight: THIN), clock)
    assert report.result == "stopped" and report.exit_code == 4, report.message
    assert clock.slept == [60.0] * 16  # 60 s, then up to max_bake_extension_s (900) longer
    assert serving(tmp_path) == ("1", "2", [90, 10])
    assert "green saw 3 requests, fewer than min_requests 100" in report.message


def test_missing_answers_never_promote(deployed: Project, tmp_path: Path) -> None:
    new_code(deployed)
    report = run(deployed, Source(lambda weight: dataclasses.replace(HEALTHY, errors=None)))
    assert report.result == "stopped", report.message
    assert serving(tmp_path) == ("1", "2", [90, 10])


def test_a_release_killed_during_a_bake_resumes_where_it_stood(deployed: Project, tmp_path: Path) -> None:
    new_code(deployed)

    def kill(weight: int) -> None:
        if weight == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(deployed, Source(during=kill))
    assert serving(tmp_path) == ("1", "2", [75, 25])
    source = Source()
    report = run(deployed, source)
    assert report.result == "released", report.message
    assert [green for green, _, _ in source.windows] == [25, 50, 100]  # step 25 judged again, nothing published
    assert report.records[0].action == "bake"
    assert serving(tmp_path) == ("2", "2", [100, 0])


def test_a_release_killed_between_a_move_and_its_apply_applies_that_move_first(
        deployed: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_code(deployed)
    real_apply = plans.apply_environment
    calls = []

    def apply_once_killed(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 3:  # publish, step 10, then killed before step 25's apply
            raise KeyboardInterrupt
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(plans, "apply_environment", apply_once_killed)
    with pytest.raises(KeyboardInterrupt):
        run(deployed, Source())
    monkeypatch.setattr(plans, "apply_environment", real_apply)
    assert serving(tmp_path) == ("1", "2", [90, 10])  # the file says 25, the state 10
    source = Source()
    report = run(deployed, source)
    assert report.result == "released", report.message
    assert report.records[0].action == "resume"
    assert [green for green, _, _ in source.windows] == [25, 50, 100]


def test_a_move_left_by_a_release_with_other_settings_is_rendered_before_its_plan(
        deployed: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stopped or killed release leaves OUT/ENV rendered with its own --set settings; the
    release that resumes renders with its own before it plans the move left pending."""
    new_code(deployed)
    real_apply = plans.apply_environment
    calls = []

    def apply_once_killed(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(plans, "apply_environment", apply_once_killed)
    other = release.Options(functions=(PV,), bake_s=60,
                            overrides=("lambda.functions.payment_validation.memory_mb=1024",))
    with pytest.raises(KeyboardInterrupt):
        run(deployed, Source(), options=other)
    monkeypatch.setattr(plans, "apply_environment", real_apply)
    report = run(deployed, Source())
    assert report.result == "released", report.message
    assert report.records[0].action == "resume"


def test_a_plan_beyond_the_traffic_move_stops_the_release_before_the_apply(
        deployed: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_code(deployed)
    monkeypatch.setenv("FAKE_STACK_EXTRA", "aws_s3_bucket.audit")
    with pytest.raises(release.Stopped) as stopped:
        run(deployed, Source())
    assert "publish: stopped before the apply, nothing applied" in str(stopped.value)
    assert "update aws_s3_bucket.audit: not part of this step" in str(stopped.value)
    assert applies(tmp_path) == 0
    assert state(tmp_path)[FN]["version"] == "1"


def test_the_lock_refuses_another_command_while_a_release_runs(deployed: Project, tmp_path: Path) -> None:
    new_code(deployed)
    probes: list[str] = []

    def probe(weight: int) -> None:
        found = subprocess.run([sys.executable, "-c", LOCK_PROBE], cwd=deployed.target("dev"), capture_output=True,
                               text=True, check=True)
        probes.append(found.stdout.strip())

    assert run(deployed, Source(during=probe)).result == "released"
    assert probes == ["lock held"] * 4


def test_nothing_to_release_when_the_code_is_what_blue_runs(deployed: Project, tmp_path: Path) -> None:
    report = run(deployed, Source())
    assert (report.result, report.exit_code) == ("nothing", 0), report.message
    assert applies(tmp_path) == 0


def test_steps_beyond_the_max_step_are_refused_before_anything_moves(deployed: Project, tmp_path: Path) -> None:
    new_code(deployed)
    with pytest.raises(UsageError, match=r"--steps: expected rises of at most lambda.traffic_max_step \(25\)"):
        run(deployed, Source(), options=release.Options(functions=(PV,), steps=(10, 50, 100)))
    assert release_step_problems([10, 35, 60, 100], 25) == []
    assert applies(tmp_path) == 0


def killed_at_apply(monkeypatch: pytest.MonkeyPatch, number: int) -> Callable[[], None]:
    """``plans.apply_environment`` killed (Ctrl-C) at its ``number``-th call; the call that puts it back."""
    real_apply = plans.apply_environment
    calls = []

    def apply_once_killed(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == number:
            raise KeyboardInterrupt
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(plans, "apply_environment", apply_once_killed)
    return lambda: monkeypatch.setattr(plans, "apply_environment", real_apply)


def test_a_finalize_written_but_not_applied_is_applied_and_ends_released(
        deployed: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_code(deployed)
    restore = killed_at_apply(monkeypatch, 6)  # publish, steps 10, 25, 50, promote; killed at the finalize
    with pytest.raises(KeyboardInterrupt):
        run(deployed, Source())
    restore()
    assert serving(tmp_path) == ("1", "2", [0, 100])  # the file says blue 2 at 100, the state green 2 at 100
    source = Source()
    report = run(deployed, source)
    assert (report.result, report.exit_code) == ("released", 0), report.message
    assert report.message.startswith(f"released {PV} version 2: blue runs it at 100 %"), report.message
    assert report.versions == {PV: "2"}
    assert [r.action for r in report.records] == ["finalize"]
    assert source.windows == []  # judged at 100 % before it was killed: nothing baked again
    assert serving(tmp_path) == ("2", "2", [100, 0])


def test_a_rollback_written_but_not_applied_is_applied_and_ends_rolled_back(
        deployed: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_code(deployed)
    restore = killed_at_apply(monkeypatch, 3)  # publish, step 10; killed at the rollback of step 10
    with pytest.raises(KeyboardInterrupt):
        run(deployed, Source(lambda weight: SICK))
    restore()
    assert serving(tmp_path) == ("1", "2", [90, 10])
    report = run(deployed, Source())
    assert (report.result, report.exit_code) == ("rolled_back", 1), report.message
    assert [r.action for r in report.records] == ["rollback"]
    assert serving(tmp_path) == ("1", "2", [100, 0])


def edit_traffic(project: Project, **values: str | int) -> None:
    """payment_validation's traffic in the environment file set to ``values``, by hand."""
    from tfgen.config.yaml_edit import set_values

    env_file = project.env_dir / "dev.yaml"
    env_file.write_text(set_values(env_file.read_text(), {("lambda", "functions", PV, "traffic", name): value
                                                          for name, value in values.items()}, str(env_file)))


DECIDED = {"step": "blue version 1 75 % / green version 2 25 %",
           "promote": "blue version 1 0 % / green version 2 100 %",
           "finalize": "blue version 2 100 % / green version 2 0 %"}


@pytest.mark.parametrize(("at", "edit", "action", "given"), [
    (10, {"blue_version": "5"}, "step", "blue version 5 75 % / green version 2 25 %"),
    (50, {"green_version": "3"}, "promote", "blue version 1 0 % / green version 3 100 %"),
    (100, {"green_version": "3"}, "finalize", "blue version 3 100 % / green version 3 0 %"),
    # blue would keep version 1, which the review lets pass: only the release knows it released 2
    (100, {"green_version": "1"}, "finalize", "blue version 1 100 % / green version 1 0 %")])
def test_a_move_that_is_not_what_the_release_decided_stops_it_before_anything_is_written(
        deployed: Project, tmp_path: Path, at: int, edit: dict[str, str], action: str, given: str) -> None:
    new_code(deployed)
    edited: list[str] = []

    def by_hand(weight: int) -> None:
        if weight == at:
            edit_traffic(deployed, **edit)
            edited.append((deployed.env_dir / "dev.yaml").read_text())

    with pytest.raises(release.Stopped) as stopped:
        run(deployed, Source(during=by_hand))
    assert str(stopped.value) == (
        f"tfgen release dev: {action}: stopped before the apply, nothing written or applied: {PV}: the environment "
        f"file gives {given}, the release decided {DECIDED[action]}: someone changed the environment file while "
        "the release ran: put it back, then resume with `tfgen release dev`, or roll back with `tfgen traffic dev "
        "rollback`")
    assert (deployed.env_dir / "dev.yaml").read_text() == edited[0]
    assert applies(tmp_path) == 2 + [10, 25, 50, 100].index(at)  # publish and the steps before it
    assert serving(tmp_path)[2] == [100 - at, at]


def test_a_move_changed_by_hand_after_it_was_written_is_planned_against_what_the_release_decided(
        deployed: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tfgen.deploy import traffic

    new_code(deployed)
    real_apply, calls = traffic.apply, []

    def then_by_hand(*args: Any, **kwargs: Any) -> Any:
        applied = real_apply(*args, **kwargs)
        calls.append(1)
        if len(calls) == 5:  # steps 10, 25, 50, the promotion, then the finalize: blue back to version 1
            edit_traffic(deployed, blue_version="1", green_version="1")
        return applied

    monkeypatch.setattr(traffic, "apply", then_by_hand)
    with pytest.raises(release.Stopped) as stopped:
        run(deployed, Source())
    assert "finalize: stopped before the apply, nothing applied: the plan is not exactly the expected move" \
        in str(stopped.value)
    assert f"{PV} blue: the plan gives version 1 at 100 %, the step version 2 at 100 %" in str(stopped.value)
    assert serving(tmp_path) == ("1", "2", [0, 100])
