"""`tfgen plan` and `tfgen apply` end to end in-process, with a stand-in terraform that writes a
plan file, shows a plan JSON fixture, and records what it was asked to apply."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import Run
from tfgen.deploy import plans

PLANS = Path(__file__).parent.parent / "fixtures" / "plans"

FAKE_TERRAFORM = """#!/bin/sh
echo "$@" >> "$FAKE_TF_LOG"
case "$1" in
  plan)
    for arg in "$@"; do case "$arg" in -out=*) echo binary-plan > "${arg#-out=}";; esac; done
    [ -n "$FAKE_TF_PLAN_FAILS" ] && { echo "Error: no credentials" >&2; exit 1; }
    echo "Plan: 1 to add";;
  show) cat "$FAKE_TF_PLAN";;
  apply) echo "Apply complete!";;
esac
"""


@pytest.fixture
def terraform_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    binary = tmp_path / "fake-terraform"
    binary.write_text(FAKE_TERRAFORM)
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "terraform.log"
    log.touch()
    monkeypatch.setenv("TFGEN_TERRAFORM", str(binary))
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    monkeypatch.delenv("TFGEN_PLUGIN_DIR", raising=False)
    monkeypatch.setenv("FAKE_TF_PLAN", str(PLANS / "release.json"))  # restored after each test
    return log


def use_plan(name: str) -> None:
    os.environ["FAKE_TF_PLAN"] = str(PLANS / f"{name}.json")


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines()


def rendered(run: Run) -> None:
    assert run("render", "dev").exit_code == 0


def test_plan_saves_the_plan_its_json_and_the_rendered_digest(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("shift")
    result = run("plan", "dev")
    assert result.exit_code == 0, result.output
    target = project / "build" / "dev"
    assert (target / "plan" / "tfplan").read_text() == "binary-plan\n"
    assert json.loads((target / "plan" / "plan.json").read_text()) == json.loads((PLANS / "shift.json").read_text())
    meta = json.loads((target / "plan" / "meta.json").read_text())
    assert meta["rendered_digest"] == plans.rendered_digest(target)
    assert calls(terraform_log) == ["plan -input=false -no-color -out=plan/tfplan", "show -json -no-color plan/tfplan"]
    assert "  payment_validation green: version 4 -> 5, weight 0 % -> 10 %" in result.stdout.splitlines()


def test_plan_passes_terraform_arguments_and_plans_several_environments(run: Run, terraform_log: Path) -> None:
    assert run("render", "dev", "staging").exit_code == 0
    result = run("plan", "dev", "staging", "--format", "json", "--", "-target=aws_vpc.this")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [p["env"] for p in document["plans"]] == ["dev", "staging"]
    assert document["plans"][0]["rendered_digest"] != document["plans"][1]["rendered_digest"]
    assert calls(terraform_log)[0] == "plan -input=false -no-color -out=plan/tfplan -target=aws_vpc.this"


def test_plan_all_runs_side_by_side_each_failure_grouped_and_the_highest_exit_code(
        run: Run, project: Path, terraform_log: Path) -> None:
    assert run("render", "--all").exit_code == 0
    with open(project / "build" / "staging" / "kms.tf", "a", encoding="utf-8") as handle:
        handle.write("# edited by hand\n")
    result = run("plan", "--all", "--jobs", "3", "--format", "json")
    assert result.exit_code == 1
    assert [p["env"] for p in json.loads(result.stdout)["plans"]] == ["dev", "prod"]
    assert result.stderr.startswith("==> staging (exit 1)\n")
    assert "build/staging/kms.tf" in result.stderr and "run `tfgen render staging`" in result.stderr
    assert result.stderr.endswith("\n3 environment(s), 2 ok: failed staging\n")
    assert sorted(calls(terraform_log)) == ["plan -input=false -no-color -out=plan/tfplan"] * 2 + [
        "show -json -no-color plan/tfplan"] * 2


def test_plan_needs_an_environment_or_all(run: Run, terraform_log: Path) -> None:
    result = run("plan")
    assert (result.exit_code, result.stderr) == (2, "tfgen: plan: name at least one environment, or --all\n")


@pytest.mark.parametrize(("fixture", "code"), [("no_changes", 0), ("shift", 4), ("data_loss", 5)])
def test_detailed_exitcode_tells_no_changes_from_changes_from_refused_changes(
        run: Run, terraform_log: Path, fixture: str, code: int) -> None:
    rendered(run)
    use_plan(fixture)
    assert run("plan", "dev", "--detailed-exitcode").exit_code == code
    assert run("plan", "dev").exit_code == 0


def test_a_failed_plan_exits_1_with_terraforms_last_lines_and_leaves_no_plan(
        run: Run, project: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run)
    monkeypatch.setenv("FAKE_TF_PLAN_FAILS", "1")
    result = run("plan", "dev")
    assert result.exit_code == 1
    assert "dev: terraform plan exited with 1" in result.stderr and "Error: no credentials" in result.stderr
    assert not (project / "build" / "dev" / "plan" / "tfplan").exists()


def test_a_failed_show_exits_1_with_terraforms_error_and_leaves_nothing_to_apply(
        run: Run, project: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run)
    monkeypatch.setenv("FAKE_TF_PLAN", str(project / "no-such-plan.json"))
    result = run("plan", "dev")
    assert result.exit_code == 1
    assert "terraform show -json exited with 1" in result.stderr and "no-such-plan.json" in result.stderr
    assert not (project / "build" / "dev" / "plan" / "plan.json").exists()
    assert "no saved plan" in run("apply", "dev").stderr


def test_markdown_output(run: Run, terraform_log: Path) -> None:
    rendered(run)
    result = run("plan", "dev", "--format", "markdown")
    assert result.stdout.startswith("### tfgen plan: `dev`\n")


def test_a_rerender_keeps_the_saved_plan_and_check_ignores_it(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    (project / "lambdas" / "payment_validation" / "handler_note.py").write_text("NOTE = 1\n")
    assert run("render", "dev").exit_code == 0
    assert (project / "build" / "dev" / "plan" / "tfplan").is_file()
    assert run("check", "dev").exit_code == 0


# --- apply ------------------------------------------------------------------------------------

def test_apply_without_a_plan_is_refused(run: Run, terraform_log: Path) -> None:
    rendered(run)
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert result.stderr == (f"{Path('build/dev/plan/tfplan')}: no saved plan: run `tfgen plan dev`, review it, "
                             "then apply\n")
    assert calls(terraform_log) == []


def test_apply_refuses_a_plan_of_an_older_render(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("shift")
    assert run("plan", "dev").exit_code == 0
    env_file = project / "environments" / "dev.yaml"
    env_file.write_text(env_file.read_text() + "monitoring:\n  alarm_period_s: 60\n")
    rendered(run)
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "the rendered tree changed since the plan was made" in result.stderr
    assert "run `tfgen plan dev` again" in result.stderr
    assert not [c for c in calls(terraform_log) if c.startswith("apply")]


def test_apply_refuses_stale_output(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    env_file = project / "environments" / "dev.yaml"
    env_file.write_text(env_file.read_text() + "monitoring:\n  alarm_period_s: 60\n")
    result = run("apply", "dev")
    assert result.exit_code == 1 and "output is not current" in result.stderr


def test_apply_refuses_data_loss_until_each_address_is_allowed(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("data_loss")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev", "--allow-data-loss", "aws_rds_cluster.this")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "tfgen apply dev: refused, nothing changed:"
    assert "aws_rds_cluster.this" not in result.stderr
    assert "--allow-data-loss aws_dynamodb_table.archive" in result.stderr
    assert not [c for c in calls(terraform_log) if c.startswith("apply")]
    addresses = ['aws_cloudwatch_log_group.lambda["refunds"]', "aws_dynamodb_table.archive", "aws_rds_cluster.this",
                 "aws_s3_bucket.this"]
    result = run("apply", "dev", *[arg for a in addresses for arg in ("--allow-data-loss", a)])
    assert result.exit_code == 0, result.output
    assert calls(terraform_log)[-1] == "apply -input=false plan/tfplan"
    assert not (project / "build" / "dev" / "plan").exists()
    assert run("apply", "dev").exit_code == 1  # the plan was used up


def test_allowing_data_loss_the_plan_does_not_hold_is_a_usage_error(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("shift")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev", "--allow-data-loss", "aws_rds_cluster.this")
    assert result.exit_code == 2
    assert result.stderr == ("tfgen: --allow-data-loss aws_rds_cluster.this: the plan deletes or replaces no such "
                             "data-bearing resource\n")


def test_apply_refuses_a_traffic_risk_unless_the_function_is_allowed(run: Run, terraform_log: Path) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev")
    assert result.exit_code == 1 and "--allow-traffic-risk payment_validation" in result.stderr
    result = run("apply", "dev", "--allow-traffic-risk", "payment_validation")
    assert result.exit_code == 0, result.output


def test_apply_refuses_a_secret_written_without_the_clusters_password(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("partial_apply")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "bump database.master_password_version" in result.stderr


def test_plan_many_keeps_no_review_it_has_handed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`plan --all` prints each review as it comes: memory stays flat in the number of environments."""
    import gc
    import weakref

    from tfgen.deploy import review
    from tfgen.project import Project

    made: list[tuple[str, weakref.ref[review.Review]]] = []

    def plan_environment(project: Project, env: str, *args: object) -> plans.PlanResult:
        result = review.review({}, env=env)
        made.append((env, weakref.ref(result)))
        return plans.PlanResult(env, tmp_path, result)

    monkeypatch.setattr(plans, "plan_environment", plan_environment)
    project = Project(env_dir=tmp_path, template_dir=tmp_path, out_dir=tmp_path, lambda_dir=tmp_path)
    handed: list[str] = []
    for planned in plans.plan_many(project, ["a", "b", "c", "d"]):
        assert planned.review is not None and planned.review.env == planned.outcome.env
        handed.append(planned.outcome.env)
        del planned
        gc.collect()
        assert [env for env, ref in made if env in handed and ref() is not None] == []
    assert handed == ["a", "b", "c", "d"]
