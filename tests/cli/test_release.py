"""`tfgen release` on the command line: its durations and steps, --yes, exit codes and formats,
and the refusal to release again a version that was rolled back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Run
from tests.deploy.test_release import HEALTHY, SICK, FakeClock, Source, applies, deployed, new_code, serving
from tests.deploy.test_release import run as run_release
from tfgen.deploy import metrics
from tfgen.deploy import release as core
from tfgen.project import Project

__all__ = ["deployed"]  # the fixture, used by name


@pytest.fixture
def called(monkeypatch: pytest.MonkeyPatch) -> list[core.Options]:
    """The release replaced by one that records its options and reports nothing to release."""
    seen: list[core.Options] = []

    def fake(project: Project, env: str, options: core.Options, *args: Any, **kwargs: Any) -> core.Report:
        seen.append(options)
        return core.Report(env, options.functions, result="nothing", message="nothing to release")

    monkeypatch.setattr(core, "release", fake)
    return seen


@pytest.mark.parametrize(("given", "seconds"), [("300", 300.0), ("90s", 90.0), ("5m", 300.0), ("1.5m", 90.0),
                                                ("1h", 3600.0), ("250ms", 0.25), (" 2s ", 2.0)])
def test_bake_durations_are_read_in_seconds(run: Run, called: list[core.Options], given: str, seconds: float) -> None:
    result = run("release", "dev", "--yes", "--bake", given)
    assert result.exit_code == 0, result.output
    [options] = called
    assert options.bake_s == seconds


@pytest.mark.parametrize("given", ["0", "0s", "-5s", "5d", "ten", "5 m", "", "1e3"])
def test_a_bake_that_is_no_duration_is_refused_before_anything_runs(run: Run, called: list[core.Options],
                                                                    given: str) -> None:
    result = run("release", "dev", "--yes", "--bake", given)
    assert result.exit_code == 2
    assert f"Invalid value for '--bake': expected a duration such as 300, 90s, 5m or 1h, got {given!r}" \
        in result.stderr
    assert called == []


def test_steps_are_read_as_percentages_and_anything_else_is_refused(run: Run, called: list[core.Options]) -> None:
    assert run("release", "dev", "--yes", "--steps", "10,25,50,100").exit_code == 0
    assert called[0].steps == (10, 25, 50, 100)
    result = run("release", "dev", "--yes", "--steps", "10,half,100")
    assert result.exit_code == 2
    assert "expected percentages such as 10,25,50,100, got '10,half,100'" in result.stderr
    assert len(called) == 1


def test_without_yes_and_without_a_terminal_nothing_runs(run: Run, called: list[core.Options]) -> None:
    result = run("release", "dev")
    assert result.exit_code == 2
    assert "release: not confirmed: pass --yes to run without asking" in result.stderr
    assert called == []


def test_yes_runs_with_the_options_given(run: Run, called: list[core.Options]) -> None:
    result = run("release", "dev", "--yes", "--function", "fraud_detection", "--version", "7", "--set",
                 "lambda.release.min_requests=50", "--", "-refresh=false")
    assert result.exit_code == 0, result.output
    assert called == [core.Options(("fraud_detection",), "7", None, None, ("lambda.release.min_requests=50",),
                                   ("-refresh=false",))]
    assert result.stdout.startswith("release dev: ")


def rolled_back(deployed: Project, tmp_path: Path) -> None:
    """Version 2 published, failed at step 25 and rolled back: green keeps it at 0 %."""
    new_code(deployed)
    report = run_release(deployed, Source(lambda weight: SICK if weight == 25 else HEALTHY))
    assert report.result == "rolled_back", report.message
    assert serving(tmp_path) == ("1", "2", [100, 0])


def test_a_version_rolled_back_is_not_released_again_unasked(run: Run, deployed: Project, tmp_path: Path) -> None:
    rolled_back(deployed, tmp_path)
    before = applies(tmp_path)
    result = run("release", "dev", "--yes", "--function", "payment_validation")
    assert result.exit_code == 2, result.output
    assert ("dev: payment_validation: version 2 was rolled back (green runs it at 0 %) and the code has not "
            "changed since: release it again with --version 2 --function payment_validation, or change the code"
            in result.stderr)
    assert applies(tmp_path) == before  # nothing applied
    assert serving(tmp_path) == ("1", "2", [100, 0])


def test_a_version_rolled_back_is_released_again_when_named(run: Run, deployed: Project, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rolled_back(deployed, tmp_path)
    clock, real = FakeClock(), core.Clock
    monkeypatch.setattr(core, "Clock", lambda: real(clock.now, clock.sleep))
    monkeypatch.setattr(metrics, "cloudwatch", lambda model, state: Source())
    result = run("release", "dev", "--yes", "--function", "payment_validation", "--version", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["result"], report["versions"]) == ("released", {"payment_validation": "2"})
    assert serving(tmp_path) == ("2", "2", [100, 0])
