"""The plan review on plan JSON fixtures (tests/fixtures/plans/, in the shape of
`terraform show -json PLANFILE`): counts, data loss, access, credentials, and what `tfgen apply`
refuses (live traffic: review/test_serving.py; the renderings: test_review_format.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tfgen.deploy import review

PLANS = Path(__file__).parent.parent / "fixtures" / "plans"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PLANS / f"{name}.json").read_text())
    return data


def of(name: str) -> review.Review:
    return review.review(load(name), env="prod", plan_file="build/prod/plan/tfplan", rendered_digest="ab" * 32)


def change(address: str, actions: list[str], before: Any, after: Any, unknown: dict[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    kind = address.split(".")[0]
    return {"address": address, "mode": "managed", "type": kind, "name": address.split(".")[1].split("[")[0],
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {}},
            **extra}


# --- counts -----------------------------------------------------------------------------------

def test_counts_each_action_once_and_ignores_reads_and_no_ops() -> None:
    result = of("release")
    assert result.counts == {"create": 0, "update": 5, "replace": 0, "delete": 0, "forget": 0}
    assert result.changes


def test_a_plan_of_no_ops_has_no_changes() -> None:
    result = review.review({"resource_changes": [change("aws_vpc.this", ["no-op"], {"a": 1}, {"a": 1})]})
    assert not result.changes
    assert (result.data_loss, result.access, result.credentials, result.other) == ([], [], [], {})
    assert result.refusals() == []


@pytest.mark.parametrize(("actions", "word"), [
    (["create"], "create"), (["update"], "update"), (["delete"], "delete"), (["delete", "create"], "replace"),
    (["create", "delete"], "replace"), (["no-op"], None), (["read"], None), (["forget"], "forget"),
    (["create", "forget"], "forget"),
])
def test_action_words(actions: list[str], word: str | None) -> None:
    assert review.action_of(actions) == word


# --- data loss --------------------------------------------------------------------------------

def test_data_loss_names_each_delete_and_replace_of_a_data_resource_with_its_reason() -> None:
    result = of("data_loss")
    assert [(d.address, d.action, d.reasons) for d in result.data_loss] == [
        ('aws_cloudwatch_log_group.lambda["refunds"]', "delete", ("its for_each key is no longer in the map",)),
        ("aws_dynamodb_table.archive", "delete", ("removed from the configuration",)),
        ("aws_rds_cluster.this", "replace", ('database_name forces replacement ("payments" -> "ledger")',)),
        ("aws_s3_bucket.this", "replace",
         ('object_lock_configuration[0].object_lock_enabled forces replacement ("Enabled" -> "Disabled")',)),
    ]


def test_a_resource_removed_from_the_configuration_is_data_loss() -> None:
    [loss] = review.review({"resource_changes": [change(
        "aws_kms_key.card_tokens", ["delete"], {"key_id": "k"}, None,
        action_reason="delete_because_no_resource_config")]}).data_loss
    assert (loss.action, loss.reasons) == ("delete", ("removed from the configuration",))


def test_a_replace_forced_by_a_nested_attribute_names_its_path() -> None:
    [loss] = [d for d in of("data_loss").data_loss if d.address == "aws_s3_bucket.this"]
    assert loss.reasons[0].startswith("object_lock_configuration[0].object_lock_enabled forces replacement")
    assert review.path_string(["serverlessv2_scaling_configuration", 0, "min_capacity"]) == \
        "serverlessv2_scaling_configuration[0].min_capacity"


def test_deleting_a_resource_without_data_is_not_data_loss() -> None:
    result = of("data_loss")
    assert 'aws_lambda_function.this["refunds"]' not in {d.address for d in result.data_loss}
    assert result.other["aws_lambda_function"] == {"delete": 1}


def test_every_listed_data_type_counts() -> None:
    for kind in ("aws_rds_cluster", "aws_dynamodb_table", "aws_s3_bucket",
                 "aws_kms_key", "aws_secretsmanager_secret", "aws_backup_vault", "aws_cloudwatch_log_group"):
        result = review.review({"resource_changes": [change(f"{kind}.x", ["delete"], {}, None)]})
        assert [d.address for d in result.data_loss] == [f"{kind}.x"]


def test_data_loss_is_refused_unless_each_address_is_allowed() -> None:
    result = of("data_loss")
    refusals = result.refusals()
    assert len(refusals) == 4
    assert refusals[2] == ('aws_rds_cluster.this: replace loses data (database_name forces replacement '
                           '("payments" -> "ledger")); allow it with --allow-data-loss aws_rds_cluster.this')
    allowed = [d.address for d in result.data_loss]
    assert result.refusals(allow_data_loss=allowed) == []
    assert len(result.refusals(allow_data_loss=allowed[1:])) == 1


def test_an_aurora_instance_replaced_with_its_cluster_is_capacity_not_data_loss() -> None:
    """The cluster holds the data: its instances are capacity, shown among the other changes."""
    result = of("data_loss")
    assert "aws_rds_cluster_instance" not in {d.type for d in result.data_loss}
    assert result.other["aws_rds_cluster_instance"] == {"replace": 1}
    assert not [line for line in result.refusals(allow_data_loss=["aws_rds_cluster.this"])
                if line.startswith("aws_rds_cluster")]


# --- live traffic: tests/deploy/review/test_serving.py -------------------------------------------


# --- access -----------------------------------------------------------------------------------

def test_access_shows_only_what_each_document_or_rule_adds() -> None:
    gains = {g.address: (g.kind, g.added) for g in of("access").access}
    assert gains == {
        'aws_iam_role.lambda["fraud_detection"]': (
            "trust policy", ({"Effect": "Allow", "Principal": ["AWS:arn:aws:iam::999999999999:root"]},)),
        'aws_iam_role_policy.lambda["payment_validation"]': (
            "policy", ({"Sid": "TransactionsTable", "Effect": "Allow", "Action": ["dynamodb:DeleteItem"]},)),
        'aws_iam_role_policy.lambda["transaction_processing"]': (
            "policy", ("document known after apply: cannot be judged (the plan has no configuration for it)",)),
        "aws_s3_bucket_policy.this": ("bucket policy", ({
            "Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payment-audit-logs-prod/*"},)),
        "aws_vpc_security_group_ingress_rule.database_from_office": ("security group ingress rule", ({
            "cidr_ipv4": "203.0.113.0/24", "from_port": 5432, "ip_protocol": "tcp", "to_port": 5432},)),
    }


def test_a_reformatted_document_and_a_description_change_grant_nothing() -> None:
    result = of("access")
    assert result.other == {"aws_kms_key": {"update": 1}, "aws_vpc_security_group_ingress_rule": {"update": 1}}


def test_a_new_deny_grants_nothing_and_a_new_condition_shows_the_whole_statement() -> None:
    before = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    deny = {"Statement": [*before["Statement"], {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    assert review.added_statements(json.dumps(before), json.dumps(deny)) == []
    conditioned = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
                   "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    after = {"Statement": [*before["Statement"], conditioned]}
    assert review.added_statements(before, after) == [conditioned]


# --- credentials ------------------------------------------------------------------------------

def test_a_partial_first_apply_is_refused_with_the_recovery() -> None:
    result = of("partial_apply")
    assert result.refusals() == result.credentials
    [problem] = result.credentials
    assert problem.startswith("aws_secretsmanager_secret_version.db_credentials: writes a newly generated "
                              "password into the secret while aws_rds_cluster.this keeps the password it has")
    assert "bump database.master_password_version" in problem


def test_a_replaced_cluster_with_its_secret_rewritten_is_consistent() -> None:
    assert of("data_loss").credentials == []


def _cluster_and_secret(cluster: tuple[list[str], dict[str, Any], dict[str, Any]],
                        secret: tuple[list[str], dict[str, Any], dict[str, Any]]) -> list[str]:
    return review.review({"resource_changes": [
        change("aws_rds_cluster.this", *cluster),
        change("aws_secretsmanager_secret_version.db_credentials", *secret),
    ]}).credentials


def test_a_new_cluster_password_without_the_secret_is_refused() -> None:
    [problem] = _cluster_and_secret(
        (["update"], {"master_password_wo_version": 1}, {"master_password_wo_version": 2}),
        (["no-op"], {"secret_string_wo_version": 1}, {"secret_string_wo_version": 1}))
    assert problem.startswith("aws_rds_cluster.this: receives a newly generated password")


def test_a_port_change_without_a_password_bump_is_refused_and_with_one_passes() -> None:
    [problem] = _cluster_and_secret(
        (["update"], {"port": 5432, "master_password_wo_version": 1}, {"port": 5433, "master_password_wo_version": 1}),
        (["no-op"], {"secret_string_wo_version": 1}, {"secret_string_wo_version": 1}))
    assert problem.startswith("aws_rds_cluster.this: port changes, but the secret keeps the old value")
    assert _cluster_and_secret(
        (["update"], {"port": 5432, "master_password_wo_version": 1}, {"port": 5433, "master_password_wo_version": 2}),
        (["update"], {"secret_string_wo_version": 1}, {"secret_string_wo_version": 2})) == []


def test_a_policy_read_at_apply_is_judged_on_its_document_against_the_same_resource() -> None:
    # The document's inputs (a key ARN) are known only at apply, so the role policy's JSON is
    # unknown; the configuration says which document it is built from, whose statements are
    # compared with the policy this role has now, statement by statement. Whether the policy is
    # exactly the document the configuration cannot say: that comes first.
    [gain] = of("deferred_policy").access
    assert (gain.address, gain.kind) == ('aws_iam_role_policy.lambda["payment_validation"]', "policy (read at apply)")
    assert str(gain.added[0]).startswith("document known after apply: cannot be judged")
    assert gain.added[1:] == (
        {"Sid": "TransactionsTable", "Effect": "Allow", "Action": ["dynamodb:DeleteItem"]},
        {"Sid": "CardTokens", "Effect": "Allow", "Action": ["kms:GenerateMac"], "Resource": "known after apply",
         "Condition": {"StringEquals": {"kms:MacAlgorithm": ["HMAC_SHA_256"]}}})


# --- imports (tfgen adopt) -------------------------------------------------------------------------

def test_imports_are_counted_from_the_plans_importing_field_and_shown() -> None:
    from tfgen.deploy import review_format

    imported = {"address": "aws_dynamodb_table.this", "mode": "managed", "type": "aws_dynamodb_table",
                "change": {"actions": ["no-op"], "before": {"name": "t"}, "after": {"name": "t"},
                           "importing": {"id": "t"}}}
    updated = {"address": "aws_sns_topic.this", "mode": "managed", "type": "aws_sns_topic",
               "change": {"actions": ["update"], "before": {"name": "s"}, "after": {"name": "s", "tags": {}},
                          "importing": {"id": "arn:s"}}}
    result = review.review({"resource_changes": [imported, updated]})
    assert result.imports == ["aws_dynamodb_table.this", "aws_sns_topic.this"]
    assert result.changes and result.counts["update"] == 1 and not result.refusals()
    assert result.as_json()["imports"] == ["aws_dynamodb_table.this", "aws_sns_topic.this"]
    text = review_format.render_text(result)
    assert "0 to forget, 2 to import" in text and "imports:\n  aws_dynamodb_table.this\n" in text
    plain = {**imported, "change": {**imported["change"], "importing": None}}
    assert review.review({"resource_changes": [plain]}).imports == []


# --- entries the review cannot read ---------------------------------------------------------------

@pytest.mark.parametrize(("entry", "why"), [
    ({**change("aws_flow_log.this", ["delete"], {"id": "fl"}, None), "mode": "data"},
     'aws_flow_log.this: mode "data" at an address that is not a data source\'s'),
    ({**change("aws_flow_log.this", ["delete"], {"id": "fl"}, None), "mode": "imaginary"},
     'aws_flow_log.this: mode "imaginary" is neither managed nor data'),
])
def test_an_entry_of_a_mode_its_address_does_not_have_is_refused(entry: dict[str, Any], why: str) -> None:
    result = review.review({"resource_changes": [entry]})
    [refusal] = result.refusals()
    assert refusal.startswith(why) and refusal.endswith("the plan is not one terraform writes: plan again"), refusal
    assert result.as_json()["unreadable"] == [refusal]


def test_a_data_source_read_is_not_a_change_nor_a_refusal() -> None:
    read = {"address": "module.net.data.aws_iam_policy_document.x", "mode": "data", "type": "aws_iam_policy_document",
            "name": "x", "change": {"actions": ["read"], "before": None, "after": {}, "after_unknown": {"json": True}}}
    result = review.review({"resource_changes": [read]})
    assert (result.refusals(), result.changes) == ([], False)
