"""The adoption report: settings that differ, replacements with the setting that avoids them, the
old side's removal, and the record marked applied after the apply."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT
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


def test_an_apply_that_carried_the_imports_marks_the_record_applied(tmp_path: Path) -> None:
    project = Project(tmp_path / "environments", TEMPLATES, tmp_path / "build", ROOT / "lambdas")
    project.env_dir.mkdir()
    (tmp_path / "build" / "dev").mkdir(parents=True)
    adoption.write(project.env_dir, "dev", Adoption({"aws_sns_topic.x": "arn"}))
    plans._imported(project, "dev", project.target("dev"))  # no imports.tf in the tree: nothing to mark
    assert adoption.read(project.env_dir, "dev") == Adoption({"aws_sns_topic.x": "arn"})
    (project.target("dev") / adoption.IMPORTS_FILE).write_text("import {}\n")
    plans._imported(project, "dev", project.target("dev"))
    assert adoption.read(project.env_dir, "dev") == Adoption({"aws_sns_topic.x": "arn"}, applied=True)


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


def test_an_argument_the_import_does_not_read_is_said_so_without_a_setting() -> None:
    key = imported('aws_kms_key.this["s3"]', ["update"], {"deletion_window_in_days": None},
                   {"deletion_window_in_days": 30})
    assert adopt.differences({"resource_changes": [key]}, TEMPLATES)[0] == [
        ('aws_kms_key.this["s3"]', ["deletion_window_in_days null -> 30 (not read on import)"])]
