"""`tfgen plan` and `tfgen apply` end to end in-process, with a stand-in terraform that writes a
plan file, shows a plan JSON fixture, and records what it was asked to apply."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Run
from tests.deploy import stand_in_plan
from tests.deploy.review.test_serving import FN, UNKNOWN, plan, stack
from tfgen import __version__
from tfgen.deploy import plans, preflight
from tfgen.deploy.review import binding
from tfgen.errors import UsageError
from tfgen.project import Project
from tfgen.render import adoption
from tfgen.render.adoption import Adoption

PLANS = Path(__file__).parent.parent / "fixtures" / "plans"

FAKE_TERRAFORM = """#!/bin/sh
echo "$@" >> "$FAKE_TF_LOG"
[ -n "$FAKE_TF_PROBE" ] && "$FAKE_TF_PYTHON" -c "$FAKE_TF_PROBE" >> "$FAKE_TF_LOG"
for arg in "$@"; do last="$arg"; done
case "$1" in
  plan)
    for arg in "$@"; do case "$arg" in -out=*) "$FAKE_TF_PYTHON" "$FAKE_TF_PLAN_FILES" write "${arg#-out=}";; esac; done
    [ -n "$FAKE_TF_PLAN_FAILS" ] && { echo "Error: no credentials" >&2; exit 1; }
    echo "Plan: 1 to add";;
  show) "$FAKE_TF_PYTHON" "$FAKE_TF_PLAN_FILES" fixture "$last" || exit 1;;
  apply) echo "applied $("$FAKE_TF_PYTHON" "$FAKE_TF_PLAN_FILES" name "$last")" >> "$FAKE_TF_LOG"
    echo "Apply complete!";;
esac
"""
# The stand-in's plan file (tests/deploy/stand_in_plan.py) names the plan JSON fixture its `show`
# prints, as a real plan file holds the plan terraform shows: another plan file shows another plan;
# and it holds the configuration it was made from, as a real plan file does.

# Run by the stand-in before each command when FAKE_TF_PROBE is set: whether tfgen holds the lock.
LOCK_PROBE = """import fcntl, os
fd = os.open(".tfgen-plan.lock", os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("lock free")
except BlockingIOError:
    print("lock held")
"""

ACCOUNT = "123456789012"
OTHER = "111122223333"


class FakeSts:
    """STS answering GetCallerIdentity with ``account``, or raising it."""

    def __init__(self, account: str | Exception) -> None:
        self.account = account

    def get_caller_identity(self) -> dict[str, str]:
        if isinstance(self.account, Exception):
            raise self.account
        return {"Account": self.account}


def use_account(monkeypatch: pytest.MonkeyPatch, account: str | Exception | None) -> None:
    """The account of the caller's credentials; None: boto3 is not installed."""
    def clients_for(cfg: object) -> object:
        if account is None:
            raise UsageError("tfgen preflight needs boto3: pip install 'payments-tfgen[aws]'")
        return {"sts": FakeSts(account)}.__getitem__

    monkeypatch.setattr(preflight, "clients_for", clients_for)


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
    monkeypatch.setenv("FAKE_TF_PYTHON", sys.executable)
    monkeypatch.setenv("FAKE_TF_PLAN_FILES", stand_in_plan.__file__)
    monkeypatch.delenv("FAKE_TF_EDIT", raising=False)
    use_account(monkeypatch, ACCOUNT)
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
    assert stand_in_plan.fixture_of(target / "plan" / "tfplan") == str(PLANS / "shift.json")
    shown = json.loads((target / "plan" / "plan.json").read_text())
    assert shown == json.loads((PLANS / "shift.json").read_text())
    meta = json.loads((target / "plan" / "meta.json").read_text())
    assert meta == {"format": 1, "env": "dev", "overrides": [], "overrides_sha256": hashlib.sha256(b"[]").hexdigest(),
                    "account": ACCOUNT, "account_unknown": "",
                    "plan_sha256": hashlib.sha256((target / "plan" / "tfplan").read_bytes()).hexdigest(),
                    "plan_json_sha256": binding.json_digest(shown),
                    "rendered_digest": plans.rendered_digest(target), "tfgen_version": __version__}
    assert calls(terraform_log) == ["plan -input=false -no-color -out=plan/tfplan", "show -json -no-color plan/tfplan"]
    assert "  payment_validation green: version 4 -> 5 (not served yet), weight 0 % -> 10 %" \
        in result.stdout.splitlines()


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
    *_, applied_args, applied = calls(terraform_log)
    assert applied_args.startswith("apply -input=false /") and applied_args.endswith("/tfplan")
    assert applied == f"applied binary-plan {PLANS / 'data_loss.json'}"
    assert not (project / "build" / "dev" / "plan").exists()
    assert run("apply", "dev").exit_code == 1  # the plan was used up


def test_allowing_data_loss_the_plan_does_not_hold_is_a_usage_error(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("shift")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev", "--allow-data-loss", "aws_rds_cluster.this")
    assert result.exit_code == 2
    assert result.stderr == ("tfgen: --allow-data-loss aws_rds_cluster.this: the plan neither loses data nor "
                             "weakens its protection there\n")


def test_apply_refuses_a_traffic_risk_unless_the_function_is_allowed(run: Run, terraform_log: Path) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev")
    assert result.exit_code == 1 and "--allow-traffic-risk payment_validation" in result.stderr
    result = run("apply", "dev", "--allow-traffic-risk", "payment_validation")
    assert result.exit_code == 0, result.output


def test_apply_refuses_an_outage_unless_the_function_is_allowed(run: Run, tmp_path: Path,
                                                               terraform_log: Path) -> None:
    state = stack()
    document = plan(state, {FN: (["delete", "create"], {**state[FN], "version": UNKNOWN})})
    (tmp_path / "outage.json").write_text(json.dumps(document))
    os.environ["FAKE_TF_PLAN"] = str(tmp_path / "outage.json")
    rendered(run)
    assert run("plan", "dev", "--detailed-exitcode").exit_code == 5
    result = run("apply", "dev", "--allow-traffic-risk", "payment_validation")
    assert result.exit_code == 1
    assert "payment_validation: stops serving: replace aws_lambda_function.this" in result.stderr
    assert not any(call.startswith("apply") for call in calls(terraform_log))
    result = run("apply", "dev", "--allow-outage", "payment_validation")
    assert result.exit_code == 0, result.output
    assert calls(terraform_log)[-1] == f"applied binary-plan {tmp_path / 'outage.json'}"


def test_the_canary_step_is_the_environments_traffic_max_step(run: Run, terraform_log: Path) -> None:
    """The shift fixture gives a version that has not served 10 %: more than a step of 5."""
    step = ("--set", "lambda.traffic_max_step=5")
    assert run("render", "dev", *step).exit_code == 0
    use_plan("shift")
    result = run("plan", "dev", "--detailed-exitcode", *step)
    assert result.exit_code == 5
    assert "more than lambda.traffic_max_step (5 points)" in result.stdout
    result = run("apply", "dev", *step)
    assert result.exit_code == 1 and "more than lambda.traffic_max_step (5 points)" in result.stderr
    assert run("render", "dev").exit_code == 0
    assert run("plan", "dev", "--detailed-exitcode").exit_code == 4


def test_apply_refuses_a_secret_written_without_the_clusters_password(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("partial_apply")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "bump database.master_password_version" in result.stderr


# --- what is applied is what was reviewed ------------------------------------------------------

def applies(log: Path) -> list[str]:
    return [c for c in calls(log) if c.startswith(("apply", "applied"))]


def test_another_plan_file_put_at_plan_tfplan_after_the_review_is_refused(
        run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0  # the review: nothing changes
    target = project / "build" / "dev"
    (target / "plan" / "tfplan").write_bytes(stand_in_plan.plan_file(str(PLANS / "data_loss.json"), target))
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "tfgen apply dev: refused, nothing changed: the plan is not the one reviewed:",
        "  plan/tfplan is not the file that was reviewed (sha256 "
        f"{hashlib.sha256((target / 'plan' / 'tfplan').read_bytes()).hexdigest()[:12]}, reviewed "
        f"{json.loads((target / 'plan' / 'meta.json').read_text())['plan_sha256'][:12]}): it was replaced after "
        "the review"]
    assert "run `tfgen plan dev` again" in result.stderr
    assert applies(terraform_log) == []
    assert (target / "plan" / "tfplan").is_file()  # a refused plan is left for inspection


def test_apply_shows_and_applies_a_private_copy_of_the_reviewed_file(run: Run, project: Path,
                                                                    terraform_log: Path) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    assert run("apply", "dev").exit_code == 0
    show, apply_args, applied = calls(terraform_log)[-3:]
    copy = apply_args.split()[-1]
    assert show == f"show -json -no-color {copy}" and apply_args == f"apply -input=false {copy}"
    assert Path(copy).is_absolute() and not Path(copy).is_relative_to(project)
    assert not Path(copy).exists()  # the private copy goes with the apply
    assert applied == f"applied binary-plan {PLANS / 'no_changes.json'}"


def test_a_symlink_at_plan_tfplan_is_refused(run: Run, project: Path, terraform_log: Path, tmp_path: Path) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    plan_file = project / "build" / "dev" / "plan" / "tfplan"
    elsewhere = tmp_path / "elsewhere.tfplan"
    shutil.copy(plan_file, elsewhere)
    plan_file.unlink()
    plan_file.symlink_to(elsewhere)
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert result.stderr == (f"tfgen apply dev: refused, nothing changed: {Path('build/dev/plan/tfplan')} is a "
                             "symbolic link, not the plan file tfgen saved: run `tfgen plan dev` again\n")
    assert applies(terraform_log) == []


def test_a_plan_json_edited_after_the_review_is_refused(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("data_loss")
    assert run("plan", "dev").exit_code == 0
    (project / "build" / "dev" / "plan" / "plan.json").write_text((PLANS / "no_changes.json").read_text())
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "  plan/plan.json was changed after the review" in result.stderr
    assert applies(terraform_log) == []


def test_a_plan_file_whose_show_differs_from_the_review_is_refused(
        run: Run, project: Path, terraform_log: Path, tmp_path: Path) -> None:
    rendered(run)
    fixture = tmp_path / "plan.json"
    shutil.copy(PLANS / "no_changes.json", fixture)
    os.environ["FAKE_TF_PLAN"] = str(fixture)
    assert run("plan", "dev").exit_code == 0
    shutil.copy(PLANS / "data_loss.json", fixture)  # same plan file bytes, another plan behind them
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "  terraform show -json of the plan file is not the plan that was reviewed" in result.stderr
    assert applies(terraform_log) == []


def test_a_plan_of_another_environment_is_refused(run: Run, project: Path, terraform_log: Path,
                                                  state_dir: Path) -> None:
    assert run("render", "dev", "staging").exit_code == 0
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    assert run("plan", "staging").exit_code == 0
    dev, staging = project / "build" / "dev", project / "build" / "staging"
    shutil.rmtree(staging / "plan")
    shutil.copytree(dev / "plan", staging / "plan")
    result = run("apply", "staging")
    assert result.exit_code == 1
    assert "  plan/meta.json is not the record tfgen keeps of the reviewed plan" in result.stderr
    shutil.copy(private_record(state_dir, dev), private_record(state_dir, staging))  # the record moved too
    result = run("apply", "staging")
    assert result.exit_code == 1
    assert "  the plan was made for environment dev, not staging" in result.stderr
    assert applies(terraform_log) == []


def test_a_plan_made_with_other_set_values_is_refused(run: Run, project: Path, terraform_log: Path) -> None:
    region = "--set", "region=us-east-1"  # dev's own region: the rendered tree is the same
    assert run("render", "dev", *region).exit_code == 0
    use_plan("no_changes")
    assert run("plan", "dev", *region).exit_code == 0
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert ("  the plan was made with --set region=us-east-1, and apply was given no --set: apply with the same "
            "--set settings") in result.stderr
    assert applies(terraform_log) == []
    assert run("apply", "dev", *region).exit_code == 0


@pytest.mark.parametrize("aws_account_id", [None, ACCOUNT])
def test_a_plan_made_in_another_account_is_refused(
        run: Run, project: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch,
        aws_account_id: str | None) -> None:
    if aws_account_id:
        with open(project / "environments" / "dev.yaml", "a", encoding="utf-8") as handle:
            handle.write(f"aws_account_id: '{OTHER}'\n")
    rendered(run)
    use_plan("no_changes")
    use_account(monkeypatch, OTHER)
    assert run("plan", "dev").exit_code == 0
    use_account(monkeypatch, ACCOUNT)
    result = run("apply", "dev")
    assert result.exit_code in (1, 2) and applies(terraform_log) == []
    if aws_account_id:  # aws_account_id refuses the credentials themselves, before the plan is read
        assert "refusing to run terraform in the wrong account" in result.stderr
    else:
        assert (f"  the plan was made in AWS account {OTHER}, and the credentials now are for account {ACCOUNT}"
                in result.stderr)


def test_an_account_that_cannot_be_told_is_recorded_and_apply_refuses_it(
        run: Run, project: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run)
    use_plan("no_changes")
    use_account(monkeypatch, None)
    result = run("plan", "dev")
    assert result.exit_code == 0
    reason = "boto3 is not installed: pip install 'payments-tfgen[aws]'"
    assert result.stderr == (f"tfgen: dev: the AWS account of the credentials cannot be told ({reason}): "
                             "tfgen apply will refuse this plan\n")
    meta = json.loads((project / "build" / "dev" / "plan" / "meta.json").read_text())
    assert (meta["account"], meta["account_unknown"]) == (None, reason)
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "two unknown accounts are not known to be the same" in result.stderr
    assert applies(terraform_log) == []


def private_record(state_dir: Path, target: Path) -> Path:
    return state_dir / "plans" / f"{hashlib.sha256(str(target.resolve()).encode()).hexdigest()}.json"


def test_a_saved_plan_of_an_older_tfgen_is_refused(run: Run, project: Path, terraform_log: Path,
                                                  state_dir: Path) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    record = private_record(state_dir, project / "build" / "dev")
    old = json.loads(record.read_text())
    record.write_text(json.dumps({key: old[key] for key in ("env", "rendered_digest", "tfgen_version")}))
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "unreadable plan binding" in result.stderr and "run `tfgen plan dev`" in result.stderr
    assert applies(terraform_log) == []


def forge(target: Path, fixture: str) -> None:
    """What a writer of OUT/ENV can do: put another plan file at plan/tfplan and re-bind plan/meta.json
    and plan/plan.json to it."""
    plan_dir = target / "plan"
    (plan_dir / "tfplan").write_bytes(stand_in_plan.plan_file(str(PLANS / fixture), target))
    shown = json.loads((PLANS / fixture).read_text())
    meta = json.loads((plan_dir / "meta.json").read_text())
    meta["plan_sha256"] = hashlib.sha256((plan_dir / "tfplan").read_bytes()).hexdigest()
    meta["plan_json_sha256"] = binding.json_digest(shown)
    (plan_dir / "plan.json").write_text(json.dumps(shown))
    (plan_dir / "meta.json").write_text(json.dumps(meta))


def test_a_plan_rebound_in_a_forged_meta_json_is_refused(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0  # the review: nothing changes
    forge(project / "build" / "dev", "data_loss.json")
    result = run("apply", "dev", "--allow-data-loss", "aws_rds_cluster.this",
                 "--allow-data-loss", "aws_dynamodb_table.archive")
    assert result.exit_code == 1, result.output
    assert "  plan/tfplan is not the file that was reviewed" in result.stderr
    assert "  plan/meta.json is not the record tfgen keeps of the reviewed plan: it was changed after the review" \
        in result.stderr
    assert applies(terraform_log) == []


def test_the_record_of_the_review_is_kept_where_only_the_user_can_write(
        run: Run, project: Path, terraform_log: Path, state_dir: Path) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    target = project / "build" / "dev"
    record = private_record(state_dir, target)
    assert json.loads(record.read_text()) == json.loads((target / "plan" / "meta.json").read_text())
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert run("apply", "dev", "--allow-traffic-risk", "payment_validation").exit_code == 0
    assert not record.exists()  # used up with the plan


def test_a_plan_without_the_private_record_is_refused(run: Run, project: Path, terraform_log: Path,
                                                      state_dir: Path) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    private_record(state_dir, project / "build" / "dev").unlink()  # another user's or machine's plan
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert ("made by another user or machine, or the record was removed: plan again: run `tfgen plan dev`"
            in result.stderr)
    assert applies(terraform_log) == []


def test_a_state_directory_others_can_write_is_refused(run: Run, terraform_log: Path, state_dir: Path) -> None:
    rendered(run)
    state_dir.mkdir(mode=0o777)
    state_dir.chmod(0o777)
    result = run("plan", "dev")
    assert result.exit_code == 1
    assert f"{state_dir}: tfgen's state directory is writable by others" in result.stderr


def test_the_review_names_the_plan_sha256_and_apply_says_what_it_applies(
        run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("no_changes")

    def planned(*args: str) -> tuple[str, str]:
        """The review's output and the sha256 of the plan file that plan saved."""
        output = run("plan", "dev", *args).stdout
        return output, hashlib.sha256((project / "build" / "dev" / "plan" / "tfplan").read_bytes()).hexdigest()

    markdown, sha = planned("--format", "markdown")
    assert f"sha256 `{sha}`" in markdown
    document, sha = planned("--format", "json")
    assert json.loads(document)["plans"][0]["plan_sha256"] == sha
    text, sha = planned()
    assert text.splitlines()[0] == f"dev: plan {Path('build/dev/plan/tfplan')} (sha256 {sha})"
    result = run("apply", "dev")
    assert result.exit_code == 0, result.output
    assert (f"tfgen apply dev: applying plan sha256 {sha}: 0 to create, 0 to update, 0 to replace, 0 to delete, "
            "0 to forget\n") in result.stderr


@pytest.mark.parametrize("argument", [
    "-state-out=elsewhere.tfstate", "-backup=-", "-lock=false", "-target=aws_vpc.this", "-replace=aws_vpc.this",
    "-parallelism=0x10", "--parallelism=5", "-refresh=false", "-var=x=1", "-state=other.tfstate", "plan.tfplan"])
def test_apply_refuses_a_terraform_argument_that_changes_what_or_where_it_applies(
        run: Run, terraform_log: Path, argument: str) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev", "--", argument)
    assert result.exit_code == 2
    assert result.stderr == (f"tfgen: apply: terraform argument {argument!r} is not allowed: tfgen apply passes "
                             "-parallelism=N, -lock-timeout=DURATION, -compact-warnings, -no-color and "
                             "-input=false only\n")
    assert applies(terraform_log) == []


def test_apply_passes_the_terraform_arguments_it_allows(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    allowed = ["-parallelism=4", "-lock-timeout=1m30s", "-compact-warnings", "-no-color", "-input=false"]
    assert run("apply", "dev", "--", *allowed).exit_code == 0
    [apply_args] = [c for c in calls(terraform_log) if c.startswith("apply")]
    assert apply_args.split()[:-1] == ["apply", "-input=false", *allowed]


ENV_PROBE = """import os
print("env", *(os.environ.get(name, "-") for name in ("TF_CLI_ARGS", "TF_CLI_ARGS_show", "TF_CLI_ARGS_apply")))
"""


def test_terraform_arguments_from_the_environment_do_not_reach_show_or_apply(
        run: Run, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run)
    use_plan("no_changes")
    monkeypatch.setenv("TF_CLI_ARGS", "-lock=false")
    monkeypatch.setenv("TF_CLI_ARGS_show", "-no-color")
    monkeypatch.setenv("TF_CLI_ARGS_apply", "-state-out=elsewhere.tfstate")
    monkeypatch.setenv("FAKE_TF_PROBE", ENV_PROBE)
    assert run("plan", "dev").exit_code == 0
    assert run("apply", "dev").exit_code == 0
    assert [c for c in calls(terraform_log) if c.startswith("env")] == ["env - - -"] * 4  # plan, show, show, apply


# --- the lock ----------------------------------------------------------------------------------

HOLD_LOCK = """import sys
from pathlib import Path
from tfgen.render import lock
with lock.held(Path(sys.argv[1]), "tfgen plan dev"):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_second_plan_or_apply_while_one_runs_is_refused_at_once(
        run: Run, project: Path, terraform_log: Path, command: str) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    target = project / "build" / "dev"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = calls(terraform_log)
        result = run(command, "dev", *(["--allow-traffic-risk", "payment_validation"] if command == "apply" else []))
        assert result.exit_code == 1
        assert result.stderr == (f"{Path('build/dev')}: busy: tfgen plan dev (pid {holder.pid}) is running on this "
                                 f"environment; {command} refused, nothing changed: try again when it ends\n")
        assert calls(terraform_log) == before
    finally:
        holder.communicate("")
    assert run("apply", "dev", "--allow-traffic-risk", "payment_validation").exit_code == 0


def test_a_render_while_a_plan_runs_is_refused_at_once(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    target = project / "build" / "dev"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = (target / "lambda.tf").read_bytes()
        result = run("render", "dev", "--set", "lambda.log_level=INFO")
        assert result.exit_code == 1
        assert result.stderr == (f"{Path('build/dev')}: busy: tfgen plan dev (pid {holder.pid}) is running on this "
                                 "environment; render refused, nothing changed: try again when it ends\n")
        assert (target / "lambda.tf").read_bytes() == before
    finally:
        holder.communicate("")
    assert run("render", "dev", "--set", "lambda.log_level=INFO").exit_code == 0


def test_a_render_of_several_stopped_by_a_busy_one_says_which_were_written(
        run: Run, project: Path, terraform_log: Path) -> None:
    assert run("render", "--all").exit_code == 0
    target = project / "build" / "staging"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK.replace("plan dev", "plan staging"), str(target)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = {env: (project / "build" / env / "lambda.tf").read_bytes() for env in ("dev", "staging", "prod")}
        result = run("render", "dev", "staging", "prod", "--set", "lambda.log_level=INFO")
        assert result.exit_code == 1
        assert result.stdout.startswith("dev: 1 written, ")
        assert result.stderr == (f"{Path('build/staging')}: busy: tfgen plan staging (pid {holder.pid}) is running "
                                 "on this environment; render stopped there: dev was written, staging, prod were "
                                 "not: render staging prod again when it ends\n")
        after = {env: (project / "build" / env / "lambda.tf").read_bytes() for env in ("dev", "staging", "prod")}
        assert [env for env in before if before[env] != after[env]] == ["dev"]
    finally:
        holder.communicate("")


def test_plan_and_apply_hold_the_lock_while_terraform_runs(run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    os.environ["FAKE_TF_PROBE"] = LOCK_PROBE
    try:
        use_plan("no_changes")
        assert run("plan", "dev").exit_code == 0
        assert run("apply", "dev").exit_code == 0
    finally:
        del os.environ["FAKE_TF_PROBE"]
    assert [c for c in calls(terraform_log) if c.startswith("lock")] == ["lock held"] * 4  # plan, show, show, apply
    assert run("check", "dev").exit_code == 0  # the lock file is no output file


# --- files terraform would load that tfgen did not write ---------------------------------------

STRAY = ["evil.tf", "override.tf", "database_override.tf", "extra.tf.json", "terraform.tfvars",
         "x.auto.tfvars", "x.auto.tfvars.json", "other.tfvars", "other.tfvars.json"]


@pytest.mark.parametrize("name", STRAY)
def test_a_file_terraform_would_load_makes_the_tree_not_current(run: Run, project: Path, terraform_log: Path,
                                                                 name: str) -> None:
    rendered(run)
    target = project / "build" / "dev"
    (target / name).write_text('resource "aws_dynamodb_table" "evil" {}\n')
    line = f"{target.relative_to(project) / name}: terraform would load this file, which tfgen did not write: remove it"
    result = run("check", "dev")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (1, line)
    result = run("diff", "dev")
    assert result.exit_code == 1 and f"--- a/dev/{name}\n+++ /dev/null\n" in result.stdout
    result = run("plan", "dev")
    assert result.exit_code == 1 and line in result.stderr.splitlines()
    assert calls(terraform_log) == []
    assert run("render", "dev").exit_code == 0 and (target / name).is_file()  # render leaves it alone
    (target / name).unlink()
    assert run("check", "dev").exit_code == 0


def test_a_file_terraform_would_load_added_after_the_plan_is_refused_by_apply(
        run: Run, project: Path, terraform_log: Path) -> None:
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    (project / "build" / "dev" / "override.tf").write_text('resource "aws_dynamodb_table" "evil" {}\n')
    result = run("apply", "dev")
    assert result.exit_code == 1 and "override.tf: terraform would load this file" in result.stderr
    assert applies(terraform_log) == []


def forge_manifest(target: Path, name: str, text: str) -> None:
    """What a writer of OUT/ENV can do: write a .tf file and list it, with its sha256, in the manifest."""
    (target / name).write_text(text)
    manifest = json.loads((target / ".tfgen-manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(text.encode()).hexdigest()
    (target / ".tfgen-manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["evil.tf", "kms.tf"])
def test_a_tf_file_listed_in_a_forged_manifest_is_refused_by_plan_and_apply(
        run: Run, project: Path, terraform_log: Path, name: str) -> None:
    """An extra file, or a rendered one edited, that the manifest was made to list as tfgen's."""
    rendered(run)
    use_plan("no_changes")
    assert run("plan", "dev").exit_code == 0
    target = project / "build" / "dev"
    before = (target / name).read_text() if (target / name).exists() else ""
    forge_manifest(target, name, before + 'resource "aws_iam_user" "backdoor" { name = "x" }\n')
    result = run("apply", "dev")
    assert result.exit_code == 1 and f"{Path('build/dev') / name}: " in result.stderr
    assert "output is not current" in result.stderr
    result = run("plan", "dev")
    assert result.exit_code == 1 and f"{Path('build/dev') / name}: " in result.stderr
    assert applies(terraform_log) == [] and calls(terraform_log).count("plan -input=false -no-color "
                                                                       "-out=plan/tfplan") == 1


def test_files_terraform_does_not_load_leave_the_tree_current(run: Run, project: Path) -> None:
    rendered(run)
    target = project / "build" / "dev"
    for name in (".hidden.tf", "notes.txt", "backup.tf~", "terraform.tfstate", ".tfgen-plan.lock"):
        (target / name).write_text("x\n")
    (target / "modules.tf").mkdir()
    assert run("check", "dev").exit_code == 0


def test_the_rendered_digest_covers_files_terraform_would_load(run: Run, project: Path) -> None:
    rendered(run)
    target = project / "build" / "dev"
    clean = plans.rendered_digest(target)
    (target / "notes.txt").write_text("x\n")
    assert plans.rendered_digest(target) == clean
    (target / "evil.tf").write_text("locals {}\n")
    with_stray = plans.rendered_digest(target)
    (target / "evil.tf").write_text("locals {\n}\n")
    assert len({clean, with_stray, plans.rendered_digest(target)}) == 3


def test_a_tf_file_edited_while_terraform_plans_and_restored_discards_the_plan(
        run: Run, project: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rendered tree is current before and after; only the plan file holds the edited outputs.tf."""
    rendered(run)
    target = project / "build" / "dev"
    rendered_outputs = (target / "outputs.tf").read_bytes()
    monkeypatch.setenv("FAKE_TF_EDIT", "outputs.tf")
    result = run("plan", "dev")
    assert result.exit_code == 1, result.output
    assert (target / "outputs.tf").read_bytes() == rendered_outputs and run("check", "dev").exit_code == 0
    edited = hashlib.sha256(rendered_outputs + stand_in_plan.BACKDOOR.encode()).hexdigest()
    assert result.stderr == (
        "tfgen plan dev: the plan is discarded:\n"
        "  the plan was made from configuration tfgen did not render: outputs.tf was read by terraform with other "
        f"content (sha256 {edited[:12]}, rendered {hashlib.sha256(rendered_outputs).hexdigest()[:12]})\n"
        f"something other than tfgen changed {Path('build/dev')} while terraform read it: find it, then run "
        "`tfgen plan dev` again\n")
    assert not (target / "plan" / "tfplan").exists()
    assert "no saved plan" in run("apply", "dev").stderr
    assert applies(terraform_log) == []


def test_apply_refuses_a_recorded_plan_made_from_configuration_tfgen_did_not_render(
        run: Run, project: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply reads the configuration in its private copy again, whatever plan recorded."""
    rendered(run)
    use_plan("no_changes")
    with monkeypatch.context() as patched:
        patched.setenv("FAKE_TF_EDIT", "outputs.tf")
        patched.setattr(plans, "_check_configuration", lambda *args: None)  # a plan recorded without the check
        assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[:2] == [
        "tfgen apply dev: refused, nothing changed: the plan is not the one reviewed:",
        "  the plan was made from configuration tfgen did not render: outputs.tf was read by terraform with other "
        "content (sha256 " + hashlib.sha256((project / "build" / "dev" / "outputs.tf").read_bytes()
                                            + stand_in_plan.BACKDOOR.encode()).hexdigest()[:12] + ", rendered "
        + hashlib.sha256((project / "build" / "dev" / "outputs.tf").read_bytes()).hexdigest()[:12] + ")"]
    assert applies(terraform_log) == []


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
        bound = binding.Binding.of(env, (), binding.Account("123456789012"), "", "", "", __version__)
        return plans.PlanResult(env, tmp_path, result, bound)

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


# --- an adoption (tfgen adopt) is planned and applied whole ---------------------------------------

ADOPTED = {"aws_sns_topic.system_errors": "arn:aws:sns:us-east-1:123456789012:system-errors-dev",
           "aws_dynamodb_table.this": "transactions-dev"}


def _importing(*addresses: str, complete: bool = True, prior: tuple[str, ...] = ()) -> dict[str, object]:
    """A plan importing ``addresses`` (no-op otherwise), with ``prior`` already in the state."""
    return {"format_version": "1.2", "complete": complete,
            "resource_changes": [{"address": a, "mode": "managed", "type": a.split(".")[0], "name": a.split(".")[1],
                                  "change": {"actions": ["no-op"], "before": {"name": "x"}, "after": {"name": "x"},
                                             "after_unknown": {}, "importing": {"id": ADOPTED[a]}}}
                                 for a in addresses],
            "prior_state": {"values": {"root_module": {"resources": [
                {"address": a, "mode": "managed", "type": a.split(".")[0], "values": {}} for a in prior]}}}}


def _adopted(project: Path, run: Run) -> None:
    adoption.write(project / "environments", "dev", Adoption(ADOPTED))
    rendered(run)
    assert (project / "build" / "dev" / adoption.IMPORTS_FILE).is_file()


def test_an_adoption_is_never_planned_in_part(run: Run, project: Path, terraform_log: Path) -> None:
    _adopted(project, run)
    result = run("plan", "dev", "--", "-target=aws_dynamodb_table.this")
    assert result.exit_code == 2
    assert result.stderr == ("tfgen: plan dev: -target=aws_dynamodb_table.this: build/dev/imports.tf carries the "
                             "adoption of environments/adopt/dev.json, which is planned and applied whole: plan "
                             "without -target\n")
    assert calls(terraform_log) == []


@pytest.mark.parametrize(("plan", "remaining"), [
    (_importing(*ADOPTED), []),
    (_importing("aws_sns_topic.system_errors", prior=("aws_dynamodb_table.this",)), []),  # imported before
    (_importing("aws_dynamodb_table.this"), ["aws_sns_topic.system_errors"]),
    (_importing(*ADOPTED, complete=False), sorted(ADOPTED)),  # a -target plan marks nothing
    ({"resource_changes": []}, sorted(ADOPTED)),  # a plan that does not say it is complete
])
def test_the_record_is_marked_applied_only_after_a_whole_plan_imported_every_address(
        project: Path, plan: dict[str, object], remaining: list[str]) -> None:
    p = Project(project / "environments", project / "templates", project / "build", project / "lambdas")
    adoption.write(p.env_dir, "dev", Adoption(ADOPTED))
    assert plans._imported(p, "dev", plan) == remaining
    assert adoption.read(p.env_dir, "dev") == Adoption(ADOPTED, applied=not remaining)


def test_an_apply_that_left_imports_out_keeps_the_record_and_says_which(
        run: Run, project: Path, terraform_log: Path, tmp_path: Path) -> None:
    _adopted(project, run)
    fixture = tmp_path / "partial_import.json"
    fixture.write_text(json.dumps(_importing("aws_dynamodb_table.this")))
    os.environ["FAKE_TF_PLAN"] = str(fixture)
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev")
    assert result.exit_code == 0, result.output
    assert ("tfgen apply dev: the adoption is not complete: 1 import(s) did not run (aws_sns_topic.system_errors): "
            "environments/adopt/dev.json stays unapplied, so imports.tf stays in the tree; run `tfgen plan dev` "
            "without -target, review it and apply\n") in result.stderr
    assert adoption.read(project / "environments", "dev") == Adoption(ADOPTED)
    assert run("render", "dev").exit_code == 0 and (project / "build" / "dev" / adoption.IMPORTS_FILE).is_file()
