"""The adoption report: settings that differ, replacements with the setting that avoids them, the
old side's removal, and the record marked applied after the apply."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import ROOT, Run
from tests.deploy.test_adopt_match import plan as where_it_runs
from tests.deploy.test_plans import terraform_log  # noqa: F401 (a fixture)
from tfgen.deploy import adopt, plans, review, traffic
from tfgen.deploy.adopt_match import Match, Matching
from tfgen.project import Project
from tfgen.render import adoption
from tfgen.render.adoption import Adoption

TEMPLATES = ROOT / "templates"


def imported(address: str, actions: list[str], before: dict[str, object], after: dict[str, object],
             replace_paths: list[list[str]] | None = None) -> dict[str, object]:
    return {"address": address, "type": address.split(".")[0], "mode": "managed",
            "change": {"actions": actions, "before": before, "after": after, "importing": {"id": "x"},
                       "replace_paths": replace_paths or []}}


def test_a_replacement_is_reported_with_the_environment_setting_that_avoids_it() -> None:
    cluster = imported("aws_rds_cluster.this", ["delete", "create"], {"database_name": "ledger"},
                       {"database_name": "payments"}, [["database_name"]])
    alarm = imported("aws_cloudwatch_metric_alarm.aurora_cpu", ["update"], {"threshold": 90, "alarm_name": "a"},
                     {"threshold": 80, "alarm_name": "a"})
    created = {"address": "aws_sns_topic.x", "type": "aws_sns_topic", "change": {"actions": ["create"]}}
    updates, replaces = adopt.differences({"resource_changes": [cluster, alarm, created]}, TEMPLATES)
    assert updates == [("aws_cloudwatch_metric_alarm.aurora_cpu", [
        "threshold 90 -> 80: set monitoring.aurora_cpu_percent: 90 to keep it"])]
    assert replaces == [("aws_rds_cluster.this", [
        "database_name 'ledger' -> 'payments': set database.database_name: 'ledger' to keep it"])]


def test_settings_are_found_in_the_templates() -> None:
    assert adopt.setting(TEMPLATES, "aws_rds_cluster.this", "engine_version") == "database.engine_version"
    assert adopt.setting(TEMPLATES, "aws_rds_cluster.this", "cluster_identifier") == \
        "the name tfgen derives (names.aurora_cluster)"
    assert adopt.setting(TEMPLATES, "aws_rds_cluster.this", "no_such_attribute") is None


def test_the_old_side_is_dropped_without_destroying_it() -> None:
    matching = Matching(matches=[
        Match("aws_s3_bucket.this", "aws_s3_bucket.Storage_audit_1A2B3C4D", "aws_s3_bucket", "b"),
        Match('aws_kms_key.this["s3"]', 'aws_kms_key.keys["s3"]', "aws_kms_key", "k"),
        Match('aws_kms_key.this["rds"]', 'aws_kms_key.keys["rds"]', "aws_kms_key", "k2")],
        unmanaged=["aws_sqs_queue.Legacy_queue_0F0F0F0F"], created=[("aws_sns_topic.x", "no object")])
    report = adopt.Report("dev", matching)
    assert report.state_rm()[1] == "terraform state rm 'aws_kms_key.keys[\"s3\"]'"
    assert report.removed_blocks() == [
        "removed {\n  from = aws_kms_key.keys\n  lifecycle {\n    destroy = false\n  }\n}",
        "removed {\n  from = aws_s3_bucket.Storage_audit_1A2B3C4D\n  lifecycle {\n    destroy = false\n  }\n}"]
    text = report.text()
    assert "in the old stack, not managed by tfgen:\n  aws_sqs_queue.Legacy_queue_0F0F0F0F" in text
    assert "created anew:\n  aws_sns_topic.x: no object" in text and "credentials:\n  kept:" in text
    assert report.as_json()["old_state"]["state_rm"] == report.state_rm() and report.as_json()["adopted"]
    refused = adopt.Report("dev", Matching(errors=["aws_s3_bucket.this: ambiguous: both a and b ..."]))
    assert not refused.as_json()["adopted"] and "refused:\n  aws_s3_bucket.this: ambiguous" in refused.text()


def test_a_weakened_protection_on_import_is_reported_with_the_setting_that_keeps_it() -> None:
    # Importing a bucket reads force_destroy as false (it is no AWS setting); dev says true.
    bucket = imported("aws_s3_bucket.this", ["update"], {"bucket": "b", "force_destroy": False},
                      {"bucket": "b", "force_destroy": True})
    plan = {"resource_changes": [bucket]}
    updates, replaces = adopt.differences(plan, TEMPLATES)
    assert updates == [("aws_s3_bucket.this", ["force_destroy false -> true: set storage.force_destroy: false to "
                                               "keep it"])]
    report = adopt.Report("dev", Matching(), review.review(plan, env="dev"), updates, replaces)
    [refusal] = report.refusals
    assert refusal.startswith("aws_s3_bucket.this: update weakens data protection")
    assert refusal.endswith("allow it with --allow-data-loss aws_s3_bucket.this; or set storage.force_destroy: "
                            "false to keep it")
    assert "aws_s3_bucket.this: force_destroy false -> true: set storage.force_destroy" in report.text()


def test_an_update_known_only_after_apply_is_named_not_left_blank() -> None:
    # A role policy whose document is read at apply (a data source depending on an imported key
    # that updates): the policy is unknown in the plan, the only difference terraform shows.
    policy = imported("aws_iam_role_policy.lambda[\"payment_validation\"]", ["update"],
                      {"name": "p", "policy": '{"Statement":[]}'}, {"name": "p"})
    policy["change"]["after_unknown"] = {"policy": True}
    updates, _ = adopt.differences({"resource_changes": [policy]}, TEMPLATES)
    assert updates == [('aws_iam_role_policy.lambda["payment_validation"]',
                        ['policy \'{"Statement":[]}\' -> (known after apply)'])]
    silent = imported("aws_sns_topic.x", ["update"], {"name": "x"}, {"name": "x"})
    silent["change"]["action_reason"] = "some_reason"
    assert adopt.differences({"resource_changes": [silent]}, TEMPLATES)[0] == [
        ("aws_sns_topic.x", ["no attribute differs (some_reason)"])]


def _alias(address: str, version: str) -> dict[str, object]:
    return {"address": address, "mode": "managed", "type": "aws_lambda_alias",
            "values": {"function_version": version}}


def test_the_aliases_are_pinned_to_the_versions_the_old_stack_serves(project: Path) -> None:
    keys = traffic.FUNCTIONS
    old = [_alias(f'aws_lambda_alias.Lambda_alias_0A1B2C3D["{key}-{colour}"]', version)
           for key in keys for colour, version in (("blue", "3"), ("green", "4"))]
    state = {"format_version": "1.0", "values": {"root_module": {"resources": old}}}
    matching = Matching(matches=[Match(f'aws_lambda_alias.this["{key}-{colour}"]', str(o["address"]),
                                       "aws_lambda_alias", f"{key}/{colour}")
                                 for o, (key, colour) in zip(old, [(k, c) for k in keys for c in ("blue", "green")],
                                                             strict=True)])
    assert adopt.live_versions(matching, state) == {key: {"blue": "3", "green": "4"} for key in keys}
    p = Project(project / "environments", project / "templates", project / "build", project / "lambdas")
    changed = adopt.pin(p, "dev", matching, state)
    assert f"lambda.functions.{keys[0]}.traffic.blue_version: latest -> 3" in changed
    [loaded] = p.load(["dev"])
    assert {(s.blue_version, s.green_version) for s in traffic.splits(loaded.model).values()} == {("3", "4")}
    assert adopt.pin(p, "dev", Matching(), state) == []  # nothing adopted: nothing pinned


# --- the old side ---------------------------------------------------------------------------------

def _removed(resource: str) -> str:
    return f"removed {{\n  from = {resource}\n  lifecycle {{\n    destroy = false\n  }}\n}}"


def test_state_rm_commands_are_quoted_for_the_shell(tmp_path: Path) -> None:
    # A for_each key of the old stack is any string: pasted as printed, the command must run
    # `terraform state rm` on that address and nothing else.
    hostile = f'aws_ssm_parameter.p["api\'$(touch {tmp_path}/ran)\'"]'
    report = adopt.Report("dev", Matching(matches=[Match('aws_ssm_parameter.this["api-endpoint"]', hostile,
                                                         "aws_ssm_parameter", "/payment/dev/api-endpoint")]))
    [command] = report.state_rm()
    assert shlex.split(command) == ["terraform", "state", "rm", hostile]
    subprocess.run(["sh", "-c", command.replace("terraform", "true", 1)], check=True)
    assert not (tmp_path / "ran").exists()


def test_a_removed_block_names_one_resource_and_only_one_whose_every_instance_is_adopted() -> None:
    old_subnet = 'module.net["main"].aws_subnet.private'
    matching = Matching(matches=[
        Match('aws_subnet.private["0"]', f'{old_subnet}["0"]', "aws_subnet", "subnet-0"),
        Match('aws_subnet.private["1"]', f'{old_subnet}["1"]', "aws_subnet", "subnet-1"),
        Match("aws_vpc.this", 'module.net["main"].aws_vpc.this', "aws_vpc", "vpc-1"),
        Match('aws_kms_key.this["s3"]', 'aws_kms_key.keys["s3.a]"]', "aws_kms_key", "k")],
        unmanaged=[f'{old_subnet}["3"]', "aws_sqs_queue.legacy"])
    report = adopt.Report("dev", matching)
    # Never a module (module.net would forget every resource of every instance of it), never an
    # instance key, and not the subnets: the old stack keeps subnet "3".
    assert report.removed_blocks() == [_removed("aws_kms_key.keys"), _removed("module.net.aws_vpc.this")]
    assert report.adopted_in_part() == ["module.net.aws_subnet.private"]
    assert [shlex.split(c)[-1] for c in report.state_rm()] == [m.existing for m in matching.matches]
    text = report.text()
    assert "from = module.net\n" not in text
    assert "adopted in part (the old stack keeps other instances): terraform state rm only" in text
    assert "delete the adopted resources from the old configuration" in text
    assert "in the same change" in text and "still declared" in text
    assert report.as_json()["old_state"]["adopted_in_part"] == ["module.net.aws_subnet.private"]


def test_no_removed_block_when_an_old_address_cannot_be_read() -> None:
    matching = Matching(matches=[Match("aws_vpc.this", "aws_vpc.main", "aws_vpc", "vpc-1")],
                        unmanaged=["not an address"])
    report = adopt.Report("dev", matching)
    assert report.removed_blocks() == [] and report.state_rm() == ["terraform state rm aws_vpc.main"]


WANTED_ATTACHMENT = {
    "resource_changes": [
        {"address": f'{kind}.this["pv-blue"]', "type": kind, "name": "this", "index": "pv-blue", "mode": "managed",
         "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown}}
        for kind, after, unknown in [
            ("aws_lb_target_group", {"name": "pv-blue-dev"}, {"arn": True, "id": True}),
            ("aws_lambda_alias", {"function_name": "payment-validation-dev", "name": "blue"}, {"arn": True}),
            ("aws_lb_target_group_attachment", {}, {"target_group_arn": True, "target_id": True, "id": True})]],
    "configuration": {"root_module": {"resources": [
        {"address": "aws_lb_target_group_attachment.this", "type": "aws_lb_target_group_attachment",
         "expressions": {"target_group_arn": {"references": ["aws_lb_target_group.this[each.key].arn",
                                                             "aws_lb_target_group.this"]},
                         "target_id": {"references": ["aws_lambda_alias.this[each.key].arn",
                                                      "aws_lambda_alias.this"]}}}]}},
}
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/pv-blue-dev/e446"
ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:payment-validation-dev:blue"


def _old(address: str, kind: str, values: dict[str, object]) -> dict[str, object]:
    return {"address": address, "type": kind, "mode": "managed", "values": values}


def test_the_old_attachments_tfgen_registers_again_leave_the_old_state_too() -> None:
    # tfgen cannot import an attachment: it registers the same target again. The old stack's
    # attachment is the same registration; left in its state, its next destroy deregisters it.
    state = {"format_version": "1.0", "values": {"root_module": {"resources": [
        _old('aws_lb_target_group.Tg_1A2B3C4D["pv-blue"]', "aws_lb_target_group", {"name": "pv-blue-dev", "arn": TG}),
        _old('aws_lambda_alias.Alias_0A0B0C0D["pv-blue"]', "aws_lambda_alias",
             {"function_name": "payment-validation-dev", "name": "blue", "arn": ALIAS}),
        _old('aws_lb_target_group_attachment.Att_5E6F7A8B["pv-blue"]', "aws_lb_target_group_attachment",
             {"target_group_arn": TG, "target_id": ALIAS, "id": "att-1"}),
        _old('aws_lb_target_group_attachment.Att_5E6F7A8B["other"]', "aws_lb_target_group_attachment",
             {"target_group_arn": TG, "target_id": "arn:aws:lambda:us-east-1:123456789012:function:other", "id": "a2"}),
    ]}}}
    matching = Matching(
        matches=[Match('aws_lambda_alias.this["pv-blue"]', 'aws_lambda_alias.Alias_0A0B0C0D["pv-blue"]',
                       "aws_lambda_alias", "payment-validation-dev/blue"),
                 Match('aws_lb_target_group.this["pv-blue"]', 'aws_lb_target_group.Tg_1A2B3C4D["pv-blue"]',
                       "aws_lb_target_group", TG)],
        recreated=[('aws_lb_target_group_attachment.this["pv-blue"]', "registered again")],
        unmanaged=['aws_lb_target_group_attachment.Att_5E6F7A8B["other"]',
                   'aws_lb_target_group_attachment.Att_5E6F7A8B["pv-blue"]'])
    superseded = adopt.superseded(WANTED_ATTACHMENT, state, matching)
    assert superseded == ['aws_lb_target_group_attachment.Att_5E6F7A8B["pv-blue"]']
    report = adopt.Report("dev", matching, superseded=superseded)
    assert "terraform state rm 'aws_lb_target_group_attachment.Att_5E6F7A8B[\"pv-blue\"]'" in report.state_rm()
    # The other attachment registers a target tfgen does not: the old stack keeps it, so the
    # attachment resource is dropped in part.
    assert report.adopted_in_part() == ["aws_lb_target_group_attachment.Att_5E6F7A8B"]
    text = report.text()
    assert "in the old stack, not managed by tfgen:\n  aws_lb_target_group_attachment.Att_5E6F7A8B[\"other\"]\n" in text
    assert "registered again by tfgen" in text
    assert report.as_json()["old_state"]["superseded"] == superseded
    assert report.as_json()["unmanaged"] == ['aws_lb_target_group_attachment.Att_5E6F7A8B["other"]']


# --- what differs on import -----------------------------------------------------------------------

LIVE = '{"dbname":"payments","password":"LIVE-PASSWORD-123","username":"payments_admin"}'


def test_a_value_terraform_marks_sensitive_is_never_printed() -> None:
    # --rotate-credentials: the imported secret version is replaced; its value is the live password.
    secret = imported("aws_secretsmanager_secret_version.db_credentials", ["delete", "create"],
                      {"secret_string": LIVE, "secret_string_wo_version": None}, {"secret_string_wo_version": 1},
                      [["secret_string_wo_version"], ["secret_string"]])
    secret["change"].update(before_sensitive={"secret_string": True, "secret_string_wo": True},
                            after_sensitive={"secret_string": True, "secret_string_wo": True})
    function = imported('aws_lambda_function.this["payment_validation"]', ["update"],
                        {"environment": [{"variables": {"TOKEN": "LIVE-TOKEN", "STAGE": "dev"}}]},
                        {"environment": [{"variables": {"TOKEN": "NEW-TOKEN", "STAGE": "dev"}}]})
    function["change"].update(before_sensitive={"environment": [{"variables": {"TOKEN": True}}]},
                              after_sensitive={"environment": [{"variables": {"TOKEN": True}}]})
    policy = imported("aws_iam_role_policy.flow_logs", ["update"], {"policy": "LIVE-DOCUMENT"}, {})
    policy["change"].update(after_unknown={"policy": True}, before_sensitive={"policy": True})
    plan = {"resource_changes": [secret, function, policy]}
    updates, replaces = adopt.differences(plan, TEMPLATES)
    assert replaces == [("aws_secretsmanager_secret_version.db_credentials", [
        "secret_string_wo_version null -> 1 (not read on import; from database.master_password_version)",
        "secret_string (sensitive) -> (sensitive)"])]
    assert updates == [('aws_lambda_function.this["payment_validation"]', ["environment (sensitive) -> (sensitive)"]),
                       ("aws_iam_role_policy.flow_logs", ["policy (sensitive) -> (known after apply)"])]
    report = adopt.Report("dev", Matching(), None, updates, replaces, adoption.ROTATED)
    shown = report.text() + json.dumps(report.as_json())
    assert "LIVE-" not in shown and "NEW-TOKEN" not in shown and ": None" not in shown


def test_an_argument_the_import_does_not_read_names_its_setting() -> None:
    # provider 5.100 imports force_destroy as null; dev says true: the refusal offers the setting.
    bucket = imported("aws_s3_bucket.this", ["update"], {"bucket": "b", "force_destroy": None},
                      {"bucket": "b", "force_destroy": True})
    key = imported('aws_kms_key.this["s3"]', ["update"], {"deletion_window_in_days": None},
                   {"deletion_window_in_days": 30})
    plan = {"resource_changes": [bucket, key], "complete": True}
    updates, replaces = adopt.differences(plan, TEMPLATES)
    assert updates == [
        ("aws_s3_bucket.this", ["force_destroy null -> true (not read on import): set storage.force_destroy: false to "
                                "keep it"]),
        ('aws_kms_key.this["s3"]', ["deletion_window_in_days null -> 30 (not read on import; from "
                                    "kms.deletion_window_days)"])]
    report = adopt.Report("dev", Matching(), review.review(plan, env="dev"), updates, replaces)
    [refusal] = report.refusals
    assert refusal.endswith("allow it with --allow-data-loss aws_s3_bucket.this; or set storage.force_destroy: "
                            "false to keep it")


def test_a_null_the_import_did_read_is_an_ordinary_difference() -> None:
    # A security group rule's description is read on import: null there is a real difference.
    rule = imported("aws_vpc_security_group_ingress_rule.database_from_lambda", ["update"],
                    {"description": None}, {"description": "PostgreSQL from the payment Lambda functions"})
    assert adopt.differences({"resource_changes": [rule]}, TEMPLATES)[0] == [
        ("aws_vpc_security_group_ingress_rule.database_from_lambda",
         ["description null -> 'PostgreSQL from the payment Lambda functions'"])]


def test_the_arguments_not_read_on_import_are_a_documented_list() -> None:
    assert {("aws_s3_bucket", "force_destroy"), ("aws_kms_key", "deletion_window_in_days"),
            ("aws_rds_cluster", "master_password_wo_version"),
            ("aws_secretsmanager_secret_version", "secret_string_wo_version"),
            ("aws_secretsmanager_secret_rotation", "rotate_immediately")} <= set(adopt.NOT_READ_ON_IMPORT)
    assert all(why for why, _ in adopt.NOT_READ_ON_IMPORT.values())
    assert ("aws_vpc_security_group_ingress_rule", "description") not in adopt.NOT_READ_ON_IMPORT


def test_rotated_credentials_are_said_as_the_plan_changes_them() -> None:
    cluster = imported("aws_rds_cluster.this", ["update"], {"master_password_wo_version": None},
                       {"master_password_wo_version": 1})
    secret = imported("aws_secretsmanager_secret_version.db_credentials", ["delete", "create"],
                      {"secret_string_wo_version": None}, {"secret_string_wo_version": 1},
                      [["secret_string_wo_version"]])
    rotation = imported("aws_secretsmanager_secret_rotation.db_credentials", ["update"],
                        {"rotate_immediately": None}, {"rotate_immediately": True})
    plan = {"resource_changes": [cluster, secret, rotation], "complete": True}
    report = adopt.Report("dev", Matching(), review.review(plan, env="dev"), credentials=adoption.ROTATED)
    section = report.text().split("credentials:\n", 1)[1].split("\n", 4)
    assert section[0] == ("  rotated (--rotate-credentials): the apply sets a new master password on the cluster and "
                          "writes it into a new secret version; the rotation keeps its schedule (what it does "
                          "follows, as the plan's review says it)")
    assert report.review is not None
    assert section[1:4] == [f"  {line}" for line in report.review.credential_changes]
    assert "no rotation is started" in section[3] and "starts a rotation" not in report.text()


# --- a refused adoption changes no file -----------------------------------------------------------

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:system-errors-dev"


def _create(address: str, after: dict[str, object]) -> dict[str, object]:
    kind, name = address.split("[")[0].split(".")
    index = address.split('["')[1].rstrip('"]') if "[" in address else None
    return {"address": address, "mode": "managed", "type": kind, "name": name, "index": index,
            "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": {"arn": True}}}


# tfgen's dev with nothing in its state: the topic and payment_validation's aliases (hand-made).
WANTED = {**where_it_runs(
    _create("aws_sns_topic.system_errors", {"name": "system-errors-dev"}),
    *(_create(f'aws_lambda_alias.this["payment_validation-{colour}"]',
              {"function_name": "payment-validation-dev", "name": colour}) for colour in ("blue", "green"))),
    "complete": True}
OLD = {"format_version": "1.0", "values": {"root_module": {"resources": [
    _old("aws_sns_topic.Topic_0F1E2D3C", "aws_sns_topic", {"name": "system-errors-dev", "arn": TOPIC_ARN}),
    *(_old(f'aws_lambda_alias.Alias_0A0B0C0D["{colour}"]', "aws_lambda_alias",
           {"function_name": "payment-validation-dev", "name": colour, "function_version": version})
      for colour, version in (("blue", "3"), ("green", "4")))]}}}
# The plan with the imports: dev's force_destroy true weakens the imported bucket's protection.
WEAKENED = {"format_version": "1.2", "complete": True, "resource_changes": [
    imported("aws_s3_bucket.this", ["update"], {"bucket": "b", "force_destroy": None},
             {"bucket": "b", "force_destroy": True})]}


@pytest.fixture
def adopting(run: Run, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             request: pytest.FixtureRequest) -> Callable[..., Result]:
    """``tfgen adopt dev --state OLD`` where terraform (tests/deploy/test_plans.py's stand-in) shows
    WANTED, then the given plan."""
    request.getfixturevalue("terraform_log")
    (tmp_path / "wanted.json").write_text(json.dumps(WANTED))
    (tmp_path / "old.json").write_text(json.dumps(OLD))
    real = plans.plan_environment

    def adopt_with(second: dict[str, object], *args: str, state: dict[str, object] = OLD,
                   second_fails: bool = False) -> Result:
        (tmp_path / "second.json").write_text(json.dumps(second))
        (tmp_path / "old.json").write_text(json.dumps(state))
        shown = iter([tmp_path / "wanted.json", tmp_path / "second.json"])

        def planned(*a: Any, **k: Any) -> plans.PlanResult:
            os.environ["FAKE_TF_PLAN"] = str(next(shown))
            if second_fails and os.environ["FAKE_TF_PLAN"].endswith("second.json"):
                monkeypatch.setenv("FAKE_TF_PLAN_FAILS", "1")
            return real(*a, **k)

        monkeypatch.setattr(plans, "plan_environment", planned)
        return run("adopt", "dev", "--state", str(tmp_path / "old.json"), *args)

    assert run("render", "dev").exit_code == 0
    return adopt_with


def _inputs(project: Path) -> dict[str, bytes | None]:
    files = [project / "environments" / "dev.yaml", project / "environments" / "adopt" / "dev.json"]
    return {str(f): f.read_bytes() if f.is_file() else None for f in files}


def test_a_refused_adoption_changes_no_file_and_leaves_no_plan(adopting: Callable[..., Result], project: Path,
                                                              run: Run) -> None:
    before = _inputs(project)
    result = adopting(WEAKENED)
    assert result.exit_code == 1
    assert "traffic pinned" not in result.stdout
    assert "lambda.functions.payment_validation.traffic.blue_version: latest -> 3" in result.stdout
    assert result.stdout.endswith("nothing recorded: environments/dev.yaml and environments/adopt/dev.json are as "
                                  "they were, and the plan is discarded\n")
    assert _inputs(project) == before
    assert not (project / "build" / "dev" / "plan").exists()
    assert run("check", "dev").exit_code == 0  # the tree is rendered from the inputs as they are


def test_an_adoption_allowed_what_its_review_refuses_is_recorded(adopting: Callable[..., Result],
                                                                project: Path) -> None:
    result = adopting(WEAKENED, "--allow-data-loss", "aws_s3_bucket.this")
    assert result.exit_code == 0, result.output
    assert adoption.read(project / "environments", "dev") == Adoption({
        "aws_sns_topic.system_errors": TOPIC_ARN, 'aws_lambda_alias.this["payment_validation-blue"]':
        "payment-validation-dev/blue", 'aws_lambda_alias.this["payment_validation-green"]':
        "payment-validation-dev/green"})
    assert 'blue_version: "3"' in (project / "environments" / "dev.yaml").read_text()
    assert (project / "build" / "dev" / "plan" / "tfplan").is_file()


def test_a_refused_match_keeps_the_earlier_record(adopting: Callable[..., Result], project: Path, run: Run) -> None:
    earlier = Adoption({"aws_sns_topic.system_errors": TOPIC_ARN}, adoption.ROTATED)
    adoption.write(project / "environments", "dev", earlier)
    assert run("render", "dev").exit_code == 0
    before = _inputs(project)
    twice = json.loads(json.dumps(OLD))
    twice["values"]["root_module"]["resources"].append(
        _old("aws_sns_topic.Other_1A1A1A1A", "aws_sns_topic", {"name": "system-errors-dev", "arn": "arn:other"}))
    result = adopting(WEAKENED, state=twice)
    assert result.exit_code == 1 and "ambiguous" in result.stderr
    assert "nothing recorded (environments/adopt/dev.json is as it was)" in result.stderr
    assert _inputs(project) == before and adoption.read(project / "environments", "dev") == earlier
    assert (project / "build" / "dev" / adoption.IMPORTS_FILE).is_file()
    assert run("check", "dev").exit_code == 0


def test_a_failed_plan_of_the_imports_changes_no_file(adopting: Callable[..., Result], project: Path) -> None:
    before = _inputs(project)
    result = adopting(WEAKENED, second_fails=True)
    assert result.exit_code == 1 and "terraform plan exited with 1" in result.stderr
    assert _inputs(project) == before
