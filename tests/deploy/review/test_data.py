"""Data loss judged on plan fixtures: deletes and replaces of data, and updates that remove or
weaken what protects it, each refused like a delete until its address is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.test_review import change, of
from tfgen.deploy import review
from tfgen.deploy.review import catalogue


def losses(*changes: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(d.address, d.action, d.reasons) for d in review.review({"resource_changes": list(changes)}).data_loss]


def update(address: str, before: dict[str, Any], after: dict[str, Any],
           unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    return change(address, ["update"], before, after, unknown)


# --- the red-team findings: accepted before, refused now ------------------------------------------

def test_point_in_time_recovery_off_backup_retention_and_log_retention_of_1_day_are_refused() -> None:
    result = of("protection")
    assert [(d.address, d.action, d.protection, d.reasons) for d in result.data_loss] == [
        ('aws_cloudwatch_log_group.lambda["payment_validation"]', "update", True,
         ("log retention shortened (retention_in_days: 365 -> 1)",)),
        ("aws_dynamodb_table.this", "update", True,
         ("point-in-time recovery turned off (point_in_time_recovery[0].enabled: true -> false)",)),
        ("aws_rds_cluster.this", "update", True, ("backup retention shortened (backup_retention_period: 7 -> 1)",)),
    ]
    assert result.refusals()[1] == (
        "aws_dynamodb_table.this: update weakens data protection (point-in-time recovery turned off "
        "(point_in_time_recovery[0].enabled: true -> false)); allow it with --allow-data-loss aws_dynamodb_table.this")
    allowed = [d.address for d in result.data_loss]
    assert result.refusals(allow_data_loss=allowed) == []
    assert len(result.refusals(allow_data_loss=allowed[1:])) == 1


def test_lowering_the_reader_count_is_capacity_not_data_loss() -> None:
    result = of("protection")
    assert "aws_rds_cluster_instance" not in {d.type for d in result.data_loss}
    assert result.other == {"aws_rds_cluster_instance": {"delete": 1}}
    assert catalogue.note("aws_rds_cluster_instance") == "database capacity: the cluster holds the data"


@pytest.mark.parametrize("actions", [["delete"], ["delete", "create"]])
def test_deleting_or_replacing_an_aurora_instance_is_not_data_loss(actions: list[str]) -> None:
    assert losses(change("aws_rds_cluster_instance.writer", actions, {"identifier": "w"}, None)) == []


# --- each protection --------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "before", "after", "reason"), [
    ("aws_dynamodb_table.this", {"deletion_protection_enabled": True}, {"deletion_protection_enabled": False},
     "deletion protection turned off (deletion_protection_enabled: true -> false)"),
    ("aws_dynamodb_table.this", {"point_in_time_recovery": [{"enabled": True, "recovery_period_in_days": 35}]},
     {"point_in_time_recovery": [{"enabled": True, "recovery_period_in_days": 7}]},
     "point-in-time recovery period shortened (point_in_time_recovery[0].recovery_period_in_days: 35 -> 7)"),
    ("aws_dynamodb_table.this", {"ttl": [{"attribute_name": "expires_at", "enabled": True}]},
     {"ttl": [{"attribute_name": "timestamp", "enabled": True}]},
     'item expiry (TTL): items now expire by their "timestamp" attribute (ttl[0]: "expires_at" -> "timestamp")'),
    ("aws_dynamodb_table.this", {"replica": [{"region_name": "us-west-2"}]}, {"replica": []},
     'replica removed: replica["us-west-2"]'),
    ("aws_rds_cluster.this", {"deletion_protection": True}, {"deletion_protection": False},
     "deletion protection turned off (deletion_protection: true -> false)"),
    ("aws_rds_cluster.this", {"skip_final_snapshot": False}, {"skip_final_snapshot": True},
     "the final snapshot turned off (skip_final_snapshot: false -> true)"),
    ("aws_db_instance.legacy", {"backup_retention_period": 14}, {"backup_retention_period": 0},
     "backup retention shortened (backup_retention_period: 14 -> 0)"),
    ("aws_cloudwatch_log_group.api", {"retention_in_days": 0}, {"retention_in_days": 30},
     "log retention shortened (retention_in_days: for ever -> 30)"),
    ("aws_s3_bucket.this", {"force_destroy": False}, {"force_destroy": True},
     "keeping objects when the bucket is destroyed turned off (force_destroy: false -> true)"),
    ("aws_s3_bucket_versioning.this", {"versioning_configuration": [{"status": "Enabled"}]},
     {"versioning_configuration": [{"status": "Suspended"}]},
     'versioning turned off (versioning_configuration[0].status: "Enabled" -> "Suspended")'),
    ("aws_kms_key.this", {"is_enabled": True}, {"is_enabled": False}, "the key turned off (is_enabled: true -> false)"),
    ("aws_kms_key.this", {"deletion_window_in_days": 30}, {"deletion_window_in_days": 7},
     "the key's deletion window shortened (deletion_window_in_days: 30 -> 7)"),
    ("aws_secretsmanager_secret.db", {"recovery_window_in_days": 30}, {"recovery_window_in_days": 0},
     "the secret's recovery window shortened (recovery_window_in_days: 30 -> 0)"),
    ("aws_backup_plan.this", {"rule": [{"rule_name": "daily", "lifecycle": [{"delete_after": 35}]}]},
     {"rule": [{"rule_name": "daily", "lifecycle": [{"delete_after": 1}]}]},
     'backup retention shortened (rule["daily"].lifecycle[0].delete_after: 35 -> 1)'),
    ("aws_backup_plan.this", {"rule": [{"rule_name": "daily", "lifecycle": []}]},
     {"rule": [{"rule_name": "daily", "lifecycle": [{"delete_after": 3650}]}]},
     'backup retention shortened (rule["daily"].lifecycle[0].delete_after: for ever -> 3650)'),
    ("aws_backup_plan.this", {"rule": [{"rule_name": "daily"}, {"rule_name": "monthly"}]},
     {"rule": [{"rule_name": "daily"}]}, 'backup plan rule removed: rule["monthly"]'),
])
def test_a_weakened_protection_is_refused_like_a_delete(address: str, before: dict[str, Any], after: dict[str, Any],
                                                       reason: str) -> None:
    [loss] = review.review({"resource_changes": [update(address, before, after)]}).data_loss
    assert (loss.address, loss.action, loss.protection, loss.reasons) == (address, "update", True, (reason,))


@pytest.mark.parametrize(("address", "before", "after"), [
    ("aws_dynamodb_table.this", {"point_in_time_recovery": [{"enabled": False}]},
     {"point_in_time_recovery": [{"enabled": True}]}),
    ("aws_rds_cluster.this", {"backup_retention_period": 7, "deletion_protection": False},
     {"backup_retention_period": 35, "deletion_protection": True}),
    ("aws_cloudwatch_log_group.api", {"retention_in_days": 30}, {"retention_in_days": 0}),
    ("aws_cloudwatch_log_group.api", {"retention_in_days": 30}, {"retention_in_days": 365}),
    ("aws_backup_plan.this", {"rule": [{"rule_name": "daily", "lifecycle": [{"delete_after": 35}]}]},
     {"rule": [{"rule_name": "daily", "lifecycle": [{"delete_after": 35}]}, {"rule_name": "monthly"}]}),
    ("aws_s3_bucket_versioning.this", {"versioning_configuration": [{"status": "Suspended"}]},
     {"versioning_configuration": [{"status": "Enabled"}]}),
    ("aws_dynamodb_table.this", {"ttl": [{"attribute_name": "expires_at", "enabled": True}]},
     {"ttl": [{"attribute_name": "expires_at", "enabled": False}]}),
])
def test_a_stronger_or_equal_protection_is_no_loss(address: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert losses(update(address, before, after)) == []


@pytest.mark.parametrize(("address", "before", "after", "reason"), [
    ("aws_s3_bucket_server_side_encryption_configuration.this",
     {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms:dsse"}]}]},
     {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]},
     'default encryption weakened (rule[0].apply_server_side_encryption_by_default[0].sse_algorithm: '
     '"aws:kms:dsse" -> "aws:kms")'),
    ("aws_kms_key.this", {"enable_key_rotation": True}, {"enable_key_rotation": False},
     "automatic key rotation turned off (enable_key_rotation: true -> false)"),
    ("aws_secretsmanager_secret_rotation.db", {"rotation_rules": [{"automatically_after_days": 30}]},
     {"rotation_rules": [{"automatically_after_days": 90}]},
     "secret rotation period lengthened (rotation_rules[0].automatically_after_days: 30 -> 90)"),
    ("aws_secretsmanager_secret_rotation.db", {"rotation_lambda_arn": "arn:fn:rotation"},
     {"rotation_lambda_arn": "arn:fn:other"},
     'the function rotating the secret changed (rotation_lambda_arn: "arn:fn:rotation" -> "arn:fn:other")'),
    ("aws_secretsmanager_secret.db", {"kms_key_id": "arn:key:secrets"}, {"kms_key_id": None},
     'the key encrypting the secret removed (kms_key_id: "arn:key:secrets" -> null)'),
    ("aws_sqs_queue.dlq", {"kms_master_key_id": "arn:key:sqs"}, {"kms_master_key_id": "arn:key:other"},
     'the key encrypting the messages changed (kms_master_key_id: "arn:key:sqs" -> "arn:key:other")'),
])
def test_encryption_and_rotation_weakened_in_a_plan_are_refused_as_drift_reports_them(
        address: str, before: dict[str, Any], after: dict[str, Any], reason: str) -> None:
    [loss] = review.review({"resource_changes": [update(address, before, after)]}).data_loss
    assert (loss.address, loss.protection, loss.reasons) == (address, True, (reason,))


def test_a_key_known_only_after_apply_is_refused_and_a_key_set_where_none_was_is_not() -> None:
    assert losses(update('aws_lambda_function.this["pv"]', {"kms_key_arn": "arn:key:lambda"}, {},
                         {"kms_key_arn": True})) == [
        ('aws_lambda_function.this["pv"]', "update",
         ("the key encrypting its environment variables: kms_key_arn known only after apply",))]
    assert losses(update('aws_lambda_function.this["pv"]', {"kms_key_arn": None}, {}, {"kms_key_arn": True})) == []
    assert losses(change("aws_s3_bucket_server_side_encryption_configuration.this", ["delete"], {"bucket": "b"},
                         None)) == [("aws_s3_bucket_server_side_encryption_configuration.this", "delete", (
                             "default encryption removed: new objects are encrypted with S3's own key (SSE-S3)",))]


def test_a_protection_known_only_after_apply_is_refused_not_passed() -> None:
    assert losses(
        update("aws_dynamodb_table.this", {"point_in_time_recovery": [{"enabled": True}]},
               {"point_in_time_recovery": [{}]}, {"point_in_time_recovery": [{"enabled": True}]}),
        update("aws_rds_cluster.this", {"backup_retention_period": 7}, {}, {"backup_retention_period": True}),
        update("aws_backup_plan.this", {"rule": [{"rule_name": "daily"}]}, {}, {"rule": True}),
    ) == [
        ("aws_backup_plan.this", "update", ("rule known only after apply",)),
        ("aws_dynamodb_table.this", "update",
         ("point-in-time recovery: point_in_time_recovery[0].enabled known only after apply",)),
        ("aws_rds_cluster.this", "update", ("backup retention: backup_retention_period known only after apply",)),
    ]


def test_a_new_resource_has_no_data_to_lose_whatever_its_settings() -> None:
    assert losses(change("aws_dynamodb_table.new", ["create"], None,
                         {"point_in_time_recovery": [{"enabled": False}], "deletion_protection_enabled": False})) == []


@pytest.mark.parametrize(("address", "reason"), [
    ("aws_s3_bucket_versioning.this", "versioning suspended (destroying the resource suspends it)"),
    ("aws_backup_plan.this", "backup plan removed: no new recovery points"),
    ("aws_backup_selection.this", "its resources are no longer backed up"),
])
def test_destroying_what_protects_data_is_refused(address: str, reason: str) -> None:
    assert losses(change(address, ["delete"], {"id": "x"}, None)) == [(address, "delete", (reason,))]


def test_destroying_a_lifecycle_configuration_removes_expirations_and_loses_nothing() -> None:
    assert losses(change("aws_s3_bucket_lifecycle_configuration.this", ["delete"], {"rule": []}, None)) == []


def test_a_key_scheduled_for_deletion_is_data_loss() -> None:
    assert losses(change("aws_kms_key.card_tokens", ["delete"], {"key_id": "k"}, None)) == [
        ("aws_kms_key.card_tokens", "delete", ("deleted or replaced by the plan",))]


def test_a_type_the_catalogue_does_not_know_is_treated_as_holding_data() -> None:
    assert losses(change("aws_neptune_cluster.graph", ["delete"], {"id": "g"}, None)) == [
        ("aws_neptune_cluster.graph", "delete",
         ("aws_neptune_cluster is not in the review's catalogue: it may hold data", "deleted or replaced by the plan"))]


# --- S3 lifecycle expirations ---------------------------------------------------------------------

def _rule(status: str = "Enabled", days: int | None = None, noncurrent: int | None = None,
          prefix: str = "") -> dict[str, Any]:
    return {"id": "archive", "status": status, "filter": [{"prefix": prefix}],
            "expiration": [{"days": days, "date": None}] if days is not None else [],
            "noncurrent_version_expiration": [{"noncurrent_days": noncurrent}] if noncurrent is not None else [],
            "transition": [{"days": 90, "storage_class": "GLACIER"}]}


LIFECYCLE = "aws_s3_bucket_lifecycle_configuration.this"


@pytest.mark.parametrize(("before", "after", "reason"), [
    (_rule(), _rule(days=2555), 'lifecycle expiration added (rule["archive"].expiration[0].days = 2555)'),
    (_rule(days=2555), _rule(days=30),
     'lifecycle expiration shortened (rule["archive"].expiration[0].days: 2555 -> 30)'),
    (_rule(noncurrent=400), _rule(noncurrent=1),
     'lifecycle expiration shortened (rule["archive"].noncurrent_version_expiration[0].noncurrent_days: 400 -> 1)'),
    (_rule("Disabled", days=30), _rule(days=30),
     'lifecycle expiration added (rule["archive"].expiration[0].days = 30)'),
    (_rule(days=30, prefix="tmp/"), _rule(days=30),
     'lifecycle expiration now applies to other objects (rule["archive"].filter changed)'),
])
def test_a_lifecycle_expiration_added_shortened_or_widened_is_refused(
        before: dict[str, Any], after: dict[str, Any], reason: str) -> None:
    assert losses(update(LIFECYCLE, {"bucket": "audit", "rule": [before]}, {"bucket": "audit", "rule": [after]})) == [
        (LIFECYCLE, "update", (reason,))]


def test_a_lifecycle_expiration_lengthened_or_disabled_loses_nothing() -> None:
    assert losses(update(LIFECYCLE, {"bucket": "audit", "rule": [_rule(days=30)]},
                         {"bucket": "audit", "rule": [_rule(days=2555)]})) == []
    assert losses(update(LIFECYCLE, {"bucket": "audit", "rule": [_rule(days=30)]},
                         {"bucket": "audit", "rule": [_rule("Disabled", days=1)]})) == []


def test_a_lifecycle_created_for_an_existing_bucket_is_judged_and_for_a_new_one_is_not() -> None:
    created = change(LIFECYCLE, ["create"], None, {"bucket": "audit", "rule": [_rule(days=7)]})
    assert losses(created) == [
        (LIFECYCLE, "create", ('lifecycle expiration added (rule["archive"].expiration[0].days = 7)',))]
    new_bucket = change(LIFECYCLE, ["create"], None, {"rule": [_rule(days=7)]}, {"bucket": True})
    assert losses(new_bucket) == []


def test_a_lifecycle_expiration_known_only_after_apply_is_refused() -> None:
    assert losses(update(LIFECYCLE, {"bucket": "audit", "rule": [_rule()]},
                         {"bucket": "audit", "rule": [_rule(days=0)]},
                         {"rule": [{"expiration": [{"days": True}]}]})) == [
        (LIFECYCLE, "update", ('lifecycle expiration: rule["archive"].expiration[0].days known only after apply',))]


# --- the review's JSON ---------------------------------------------------------------------------

def test_json_marks_protection_entries() -> None:
    entry = of("protection").as_json()["data_loss"][1]
    assert entry == {
        "address": "aws_dynamodb_table.this", "type": "aws_dynamodb_table", "action": "update",
        "reasons": ["point-in-time recovery turned off (point_in_time_recovery[0].enabled: true -> false)"],
        "protection": True}


# --- a protecting resource replaced, a backup selection narrowed --------------------------------

@pytest.mark.parametrize("address", [
    "aws_s3_bucket_versioning.this", "aws_s3_bucket_object_lock_configuration.this",
    "aws_s3_bucket_replication_configuration.this", "aws_backup_vault_lock_configuration.this",
    "aws_backup_selection.this"])
@pytest.mark.parametrize("actions", [["create", "delete"], ["delete", "create"]])
def test_replacing_what_protects_data_removes_it_for_a_while_and_is_refused(address: str,
                                                                             actions: list[str]) -> None:
    [(_, action, reasons)] = losses(change(address, actions, {"id": "x"}, {"id": "x"}))
    assert action == "replace" and reasons == (catalogue.CATALOGUE[address.split(".")[0]].on_delete,)


DB = "arn:aws:rds:eu-west-1:111122223333:cluster:aurora"


@pytest.mark.parametrize(("field", "old", "new"), [
    ("not_resources", [], [DB]),
    ("selection_tag", [], [{"type": "STRINGEQUALS", "key": "backup", "value": "yes"}]),
    ("condition", [], [{"string_equals": [{"key": "aws:ResourceTag/backup", "value": "yes"}]}]),
    ("iam_role_arn", "arn:aws:iam::111122223333:role/backup", "arn:aws:iam::111122223333:role/other"),
])
def test_a_backup_selection_narrowed_another_way_is_refused(field: str, old: Any, new: Any) -> None:
    address = "aws_backup_selection.this"
    [(_, action, (reason,))] = losses(update(address, {"resources": [DB], field: old}, {"resources": [DB], field: new}))
    assert action == "update" and field in reason


LOCK = "aws_s3_bucket_object_lock_configuration.audit"


def _lock(mode: str = "COMPLIANCE", days: int | None = None, years: int | None = None) -> dict[str, Any]:
    return {"bucket": "audit", "rule": [{"default_retention": [{"mode": mode, "days": days, "years": years}]}]}


@pytest.mark.parametrize(("before", "after", "reason"), [
    (_lock("COMPLIANCE", days=30), _lock("GOVERNANCE", days=30),
     'object lock mode turned off (rule[0].default_retention[0].mode: "COMPLIANCE" -> "GOVERNANCE")'),
    (_lock(years=5), _lock(days=30),
     "object lock retention shortened (rule[0].default_retention[0]: 5 years -> 30 days)"),
    (_lock(days=400), _lock(years=1),
     "object lock retention shortened (rule[0].default_retention[0]: 400 days -> 1 year)"),
])
def test_an_object_lock_weakened_in_mode_or_period_is_refused(before: dict[str, Any], after: dict[str, Any],
                                                             reason: str) -> None:
    assert losses(update(LOCK, before, after)) == [(LOCK, "update", (reason,))]


@pytest.mark.parametrize(("before", "after"), [
    (_lock("GOVERNANCE", days=30), _lock("COMPLIANCE", days=30)),
    (_lock(days=30), _lock(years=1)),
    (_lock(days=365), _lock(years=1)),
    (_lock(years=1), _lock(days=365)),
])
def test_an_object_lock_kept_or_strengthened_in_another_unit_is_no_loss(before: dict[str, Any],
                                                                        after: dict[str, Any]) -> None:
    assert losses(update(LOCK, before, after)) == []


def test_a_lifecycle_rule_renamed_with_the_same_content_loses_nothing() -> None:
    rule = {"id": "old", "status": "Enabled", "filter": [{"prefix": "logs/"}], "expiration": [{"days": 400}]}
    renamed = {**rule, "id": "new"}
    assert losses(update("aws_s3_bucket_lifecycle_configuration.audit", {"bucket": "audit", "rule": [rule]},
                         {"bucket": "audit", "rule": [renamed]})) == []
    shorter = {**renamed, "expiration": [{"days": 30}]}
    [(_, _, reasons)] = losses(update("aws_s3_bucket_lifecycle_configuration.audit",
                                      {"bucket": "audit", "rule": [rule]}, {"bucket": "audit", "rule": [shorter]}))
    assert reasons == ('lifecycle expiration shortened (rule["new"].expiration[0].days: 400 -> 30)',)


@pytest.mark.parametrize(("address", "before", "after", "reason"), [
    ("aws_efs_backup_policy.this", {"backup_policy": [{"status": "ENABLED"}]},
     {"backup_policy": [{"status": "DISABLED"}]},
     'EFS automatic backups turned off (backup_policy[0].status: "ENABLED" -> "DISABLED")'),
    ("aws_elasticache_replication_group.this", {"snapshot_retention_limit": 7}, {"snapshot_retention_limit": 0},
     "snapshot retention shortened (snapshot_retention_limit: 7 -> 0)"),
    ("aws_ecr_repository.this", {"force_delete": False}, {"force_delete": True},
     "keeping images when the repository is destroyed turned off (force_delete: false -> true)"),
    ("aws_opensearch_domain.this", {"snapshot_options": [{"automated_snapshot_start_hour": 3}]},
     {"snapshot_options": []},
     "aws_opensearch_domain is not in the review's catalogue, and snapshot_options changes: "
     "it may protect data"),
])
def test_a_backup_or_retention_turned_off_on_other_types_is_refused(address: str, before: dict[str, Any],
                                                                     after: dict[str, Any], reason: str) -> None:
    assert losses(update(address, before, after)) == [(address, "update", (reason,))]


def test_an_uncatalogued_update_of_other_attributes_is_not_data_loss() -> None:
    assert losses(update("aws_opensearch_domain.this", {"engine_version": "1"}, {"engine_version": "2"})) == []


def test_deleting_the_database_secret_version_says_the_secret_version_is_deleted() -> None:
    result = review.review({"resource_changes": [
        change("aws_rds_cluster.this", ["no-op"], {"master_password_wo_version": 1}, {"master_password_wo_version": 1}),
        change("aws_secretsmanager_secret_version.db_credentials", ["delete"], {"secret_string_wo_version": 1}, None)]})
    [line] = result.credentials
    assert "aws_secretsmanager_secret_version.db_credentials: deleted" in line
    assert "writes a newly generated password" not in line
