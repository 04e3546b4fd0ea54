"""The catalogue of resource types classifies, on purpose, every type the templates render (in
each shipped environment and in the variants tests/test_stack_variants.py renders) and the common
AWS types that hold data or grant access, so that a new template cannot slip past the review."""

from __future__ import annotations

import re

import pytest

from tests.stack import ENV_DIR, rendered
from tests.test_stack_variants import VARIANTS
from tfgen.deploy.review import catalogue

BLOCK = re.compile(r'^(?:resource|data|ephemeral) "([a-z0-9_]+)"', re.MULTILINE)
ENVIRONMENTS = sorted(path.stem for path in ENV_DIR.glob("*.yaml") if path.stem != "defaults")
RENDERINGS = [(env, "") for env in ENVIRONMENTS] + [("dev", extra) for extra in VARIANTS.values()]

# The common AWS types that hold data, protect it, grant access, carry traffic or log and alert, rendered or not.
COMMON = {
    catalogue.DATA: (
        "aws_s3_bucket", "aws_s3_object", "aws_dynamodb_table", "aws_dynamodb_table_item", "aws_db_instance",
        "aws_rds_cluster", "aws_db_snapshot", "aws_db_cluster_snapshot", "aws_kms_key", "aws_kms_replica_key",
        "aws_secretsmanager_secret", "aws_sqs_queue", "aws_backup_vault", "aws_cloudwatch_log_group",
        "aws_efs_file_system", "aws_ebs_volume", "aws_ecr_repository"),
    catalogue.PROTECTION: (
        "aws_s3_bucket_versioning", "aws_s3_bucket_lifecycle_configuration", "aws_backup_plan",
        "aws_backup_selection", "aws_s3_bucket_object_lock_configuration",
        "aws_s3_bucket_server_side_encryption_configuration", "aws_secretsmanager_secret_rotation"),
    catalogue.ACCESS: (
        "aws_iam_role", "aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy",
        "aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment",
        "aws_kms_key_policy", "aws_kms_grant", "aws_s3_bucket_policy", "aws_s3_bucket_public_access_block",
        "aws_sqs_queue_policy", "aws_sns_topic_policy", "aws_secretsmanager_secret_policy", "aws_vpc_endpoint_policy",
        "aws_ecr_repository_policy", "aws_lambda_permission", "aws_lambda_function_url", "aws_apigatewayv2_route",
        "aws_security_group", "aws_vpc_security_group_ingress_rule", "aws_security_group_rule"),
    catalogue.DETECTION: (
        "aws_flow_log", "aws_s3_bucket_logging", "aws_cloudwatch_metric_alarm", "aws_sns_topic_subscription",
        "aws_apigatewayv2_stage", "aws_lb", "aws_sns_topic", "aws_rds_cluster_parameter_group", "aws_cloudtrail",
        "aws_guardduty_detector", "aws_config_configuration_recorder", "aws_config_configuration_recorder_status",
        "aws_securityhub_account", "aws_securityhub_standards_subscription"),
    catalogue.TRAFFIC: (
        "aws_lambda_function", "aws_lambda_alias", "aws_lb", "aws_lb_listener", "aws_lb_listener_rule",
        "aws_lb_target_group", "aws_lb_target_group_attachment", "aws_apigatewayv2_route"),
}


def rendered_types() -> set[str]:
    found = set()
    for env, extra in RENDERINGS:
        for path, data in rendered(env, extra).files.items():
            if path.endswith(".tf"):
                found.update(BLOCK.findall(data.decode()))
    return found


def test_every_rendered_type_is_classified() -> None:
    types = rendered_types()
    assert len(types) > 50  # the walk reads every file of every rendering
    assert sorted(kind for kind in types if not catalogue.classified(kind)) == []


@pytest.mark.parametrize("kind", sorted(COMMON))
def test_the_common_types_of_each_kind_are_classified_so(kind: str) -> None:
    assert [name for name in COMMON[kind] if kind not in (catalogue.kind_of(name) or ())] == []


def test_a_type_of_none_of_the_kinds_says_what_it_is_instead() -> None:
    for name, entry in catalogue.CATALOGUE.items():
        assert entry.kinds or entry.note, f"{name}: classified as nothing, without saying what it is"
    assert catalogue.kind_of("aws_vpc") == frozenset() and catalogue.note("aws_vpc") == "network"


def test_an_unknown_type_is_not_classified() -> None:
    assert catalogue.kind_of("aws_new_data_store") is None
    assert not catalogue.classified("aws_new_data_store")


def test_data_types_carry_their_protections_and_access_types_their_documents() -> None:
    assert catalogue.holds_data("aws_dynamodb_table") and not catalogue.holds_data("aws_rds_cluster_instance")
    assert {p.label for p in catalogue.protection("aws_dynamodb_table")} >= {"point-in-time recovery",
                                                                            "deletion protection"}
    assert catalogue.documents("aws_sqs_queue_policy") == (("policy", "queue policy"),)
    assert catalogue.carries_traffic("aws_lb_listener_rule") and not catalogue.carries_traffic("aws_vpc")
    assert catalogue.grants_access("aws_kms_grant") and catalogue.protects_data("aws_backup_plan")
    for name, entry in catalogue.CATALOGUE.items():
        if catalogue.PROTECTION in entry.kinds:
            assert entry.protection or entry.on_delete, name
