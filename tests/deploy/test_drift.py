"""`tfgen drift` in-process, with the stand-in terraform of test_plans: the refresh-only run, where it
keeps its evidence, the lock, the account check, the formats and the exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT, Run
from tests.deploy.review.test_drift import plan, policy, update
from tests.deploy.test_plans import LOCK_PROBE, OTHER, calls, rendered, terraform_log, use_account
from tests.deploy.test_review import change
from tfgen.deploy import drift
from tfgen.deploy.review.drift import judge

__all__ = ["terraform_log"]  # the stand-in terraform, a fixture

REFRESH = ["plan -refresh-only -input=false -no-color -out=drift/tfplan", "show -json -no-color drift/tfplan"]
WIDENED = update('aws_iam_role_policy.lambda["payment_validation"]', {"policy": policy("dynamodb:GetItem")},
                 {"policy": policy("dynamodb:GetItem", "dynamodb:*")})
RETAGGED = update("aws_ssm_parameter.p", {"tags": {"a": "1"}, "tags_all": {"a": "1"}},
                  {"tags": {"a": "2"}, "tags_all": {"a": "2"}})


def shows(tmp_path: Path, document: Any) -> None:
    """The plan JSON the stand-in's `show` prints."""
    path = tmp_path / "shown.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    os.environ["FAKE_TF_PLAN"] = str(path)


@pytest.mark.parametrize(("drifted", "code"), [((), 0), ((RETAGGED,), 4), ((RETAGGED, WIDENED), 5)])
def test_exit_codes_tell_no_drift_from_other_differences_from_serious_drift(
        run: Run, tmp_path: Path, terraform_log: Path, drifted: tuple[dict[str, Any], ...], code: int) -> None:
    rendered(run)
    shows(tmp_path, plan(*drifted))
    result = run("drift", "dev")
    assert result.exit_code == code, result.output
    assert calls(terraform_log) == REFRESH


def test_the_text_report_lists_each_class_with_live_and_reviewed_values(
        run: Run, project: Path, tmp_path: Path, terraform_log: Path) -> None:
    rendered(run)
    shows(tmp_path, plan(RETAGGED, WIDENED))
    result = run("drift", "dev")
    lines = result.stdout.splitlines()
    assert lines[0] == "dev: drift found: 2 object(s) differ from the reviewed state (1 access gained, " \
                       "1 other differences)"
    assert lines[1:3] == ["access gained:", '  changed aws_iam_role_policy.lambda["payment_validation"]']
    assert '    policy: adds {"Action": ["dynamodb:*"], "Effect": "Allow", "Sid": "TransactionsTable"}' in lines
    assert "    tags.a: live \"2\", reviewed \"1\"" in lines
    assert lines[-1] == "filtered: 1 attribute(s) (tags_all repeats the difference of " \
                        "tags x1)"
    evidence = project / "build" / "dev" / "drift"
    assert json.loads((evidence / "plan.json").read_text()) == plan(RETAGGED, WIDENED)
    assert (evidence / "plan.log").read_text() == "Plan: 1 to add\n"


def test_json_and_markdown(run: Run, tmp_path: Path, terraform_log: Path) -> None:
    rendered(run)
    shows(tmp_path, plan(WIDENED))
    document = json.loads(run("drift", "dev", "--format", "json").stdout)
    jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "json" / "drift.schema.json").read_text())) \
        .validate(document)
    assert (document["env"], document["drift"], document["serious"]) == ("dev", True, True)
    [entry] = document["classes"]["access gained"]
    assert entry["differences"][0]["live"] == policy("dynamodb:GetItem", "dynamodb:*")
    markdown = run("drift", "dev", "--format", "markdown").stdout
    assert markdown.startswith("### tfgen drift: `dev`\n")
    assert "#### :warning: Access gained" in markdown


def test_every_format_shows_detection_reduced_as_a_security_class(run: Run, tmp_path: Path,
                                                                   terraform_log: Path) -> None:
    rendered(run)
    shows(tmp_path, plan(change("aws_flow_log.this", ["delete"], {"id": "fl-1", "traffic_type": "ALL"}, None)))
    text = run("drift", "dev")
    assert text.exit_code == 5
    assert text.stdout.splitlines()[:3] == [
        "dev: drift found: 1 object(s) differ from the reviewed state (1 detection reduced)", "detection reduced:",
        "  deleted aws_flow_log.this"]
    assert "    the VPC's traffic is no longer logged" in text.stdout.splitlines()
    document = json.loads(run("drift", "dev", "--format", "json").stdout)
    jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "json" / "drift.schema.json").read_text())) \
        .validate(document)
    [entry] = document["classes"]["detection reduced"]
    assert (entry["address"], entry["findings"], document["serious"]) == (
        "aws_flow_log.this", ["the VPC's traffic is no longer logged"], True)
    markdown = run("drift", "dev", "--format", "markdown").stdout
    assert "#### :warning: Detection reduced" in markdown
    assert "| `aws_flow_log.this` | the VPC's traffic is no longer logged |" in markdown


def test_drift_leaves_a_reviewed_plan_alone_and_holds_the_lock(
        run: Run, project: Path, tmp_path: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run)
    assert run("plan", "dev").exit_code == 0
    saved = (project / "build" / "dev" / "plan" / "tfplan").read_bytes()
    shows(tmp_path, plan())
    monkeypatch.setenv("FAKE_TF_PROBE", LOCK_PROBE)
    assert run("drift", "dev").exit_code == 0
    assert (project / "build" / "dev" / "plan" / "tfplan").read_bytes() == saved
    assert calls(terraform_log)[-4:] == [REFRESH[0], "lock held", REFRESH[1], "lock held"]


def test_a_failed_refresh_exits_1_with_terraforms_last_lines(
        run: Run, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run)
    monkeypatch.setenv("FAKE_TF_PLAN_FAILS", "1")
    result = run("drift", "dev")
    assert result.exit_code == 1
    assert "dev: terraform plan -refresh-only exited with 1" in result.stderr
    assert "Error: no credentials" in result.stderr


@pytest.mark.parametrize("document", ["not json", {"resource_drift": []}, {
    "format_version": "1.0", "terraform_version": "1.11.4", "values": {"root_module": {}}}])
def test_a_plan_that_cannot_be_read_is_a_failure_not_a_pass(
        run: Run, tmp_path: Path, terraform_log: Path, document: Any) -> None:
    rendered(run)
    shows(tmp_path, document)
    result = run("drift", "dev")
    assert result.exit_code == 1 and "cannot be judged" in result.stderr


def test_stale_output_and_another_account_are_refused_before_terraform_runs(
        run: Run, project: Path, terraform_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("drift", "dev")
    assert result.exit_code == 1 and "run `tfgen render dev`" in result.stderr
    rendered(run)
    (project / "environments" / "dev.yaml").write_text(
        (project / "environments" / "dev.yaml").read_text() + "aws_account_id: \"123456789012\"\n")
    assert run("render", "dev").exit_code == 0
    use_account(monkeypatch, OTHER)
    result = run("drift", "dev")
    assert result.exit_code != 0 and OTHER in result.stderr
    assert calls(terraform_log) == []


def test_exit_code_of_a_report() -> None:
    assert drift.exit_code(judge(plan())) == 0
    assert (drift.EXIT_DRIFT, drift.EXIT_SERIOUS) == (4, 5)
