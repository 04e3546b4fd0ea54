"""The Security section of SPEC.md: KMS keys, security groups and least-privilege IAM."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import (
    CERTIFICATE,
    all_blocks,
    data,
    hcl,
    local,
    readme_actions,
    ref,
    resource,
    resources_of,
    statements,
)
from tfgen.config.names import FUNCTION_KEYS, ROTATION_KEY

ALL_FUNCTIONS = (*FUNCTION_KEYS, ROTATION_KEY)


def dynamic_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``content`` of each ``dynamic "statement"`` block of a policy document."""
    return [d["statement"]["content"][0] for d in document.get("dynamic", []) if "statement" in d]


def key(name: str) -> str:
    return ref(f'aws_kms_key.this["{name}"].arn')


# --- KMS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("name", ["rds", "dynamodb"])
def test_kms_keys_rds_and_dynamodb_with_their_aliases(env: str, name: str) -> None:
    assert name in local(env, "kms.tf", "kms_keys")
    assert local(env, "kms.tf", "kms_aliases")[name] == f"alias/{name}-{env}"
    alias = resource(env, "kms.tf", "aws_kms_alias", "this")
    assert alias["for_each"] == ref("local.kms_keys")
    assert alias["name"] == ref("local.kms_aliases[each.key]")
    assert alias["target_key_id"] == ref("aws_kms_key.this[each.key].key_id")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_kms_keys_rotate_annually(env: str) -> None:
    kms = resource(env, "kms.tf", "aws_kms_key", "this")
    assert kms["enable_key_rotation"] is True
    assert kms["rotation_period_in_days"] == 365
    assert kms["deletion_window_in_days"] == 30


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_further_keys_for_s3_sns_logs_secrets_lambda_and_backup(env: str) -> None:
    assert set(local(env, "kms.tf", "kms_keys")) == {"backup", "dynamodb", "lambda", "logs", "rds", "s3", "secrets",
                                                     "sns"}
    assert set(local(env, "kms.tf", "kms_aliases")) == {*local(env, "kms.tf", "kms_keys"), "card_tokens"}


def test_without_aws_backup_there_is_no_backup_key() -> None:
    extra = "backup:\n  enabled: false\n"
    assert "backup" not in local("prod", "kms.tf", "kms_keys", extra)
    assert "backup" not in local("prod", "kms.tf", "kms_aliases", extra)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_key_policies_let_the_account_administer_and_the_owning_service_use_each_key(env: str) -> None:
    policy = data(env, "kms.tf", "aws_iam_policy_document", "kms")
    assert policy["for_each"] == ref("local.kms_keys")
    admin, _grants = statements(policy)
    assert admin["sid"] == "AccountAdministration"
    assert admin["principals"] == [{"type": "AWS", "identifiers": [ref("local.account_root_arn")]}]
    use = next(s for s in dynamic_statements(policy) if s["sid"] == "UseThroughOwningService")
    conditions = {c["variable"]: c["values"] for c in use["condition"]}
    assert conditions == {"kms:ViaService": [ref("statement.value")],
                          "kms:CallerAccount": [ref("local.account_id")]}
    services = {name: spec["via_service"] for name, spec in local(env, "kms.tf", "kms_keys").items()}
    assert services == {"backup": "backup.us-east-1.amazonaws.com", "dynamodb": "dynamodb.us-east-1.amazonaws.com",
                        "lambda": "lambda.us-east-1.amazonaws.com", "logs": None,
                        "rds": "rds.us-east-1.amazonaws.com", "s3": "s3.us-east-1.amazonaws.com",
                        "secrets": "secretsmanager.us-east-1.amazonaws.com", "sns": "sns.us-east-1.amazonaws.com"}


KMS_ADMINISTRATION = {
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListKeyRotations",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("document", ["kms", "card_tokens"])
def test_key_administration_lists_its_actions_and_cannot_grant_decrypt(env: str, document: str) -> None:
    # kms:Create* in the administrator statement includes kms:CreateGrant: any principal the
    # account's IAM policies allow it could grant itself kms:Decrypt on the key.
    policy = data(env, "kms.tf", "aws_iam_policy_document", document)
    every = [*statements(policy), *(dynamic_statements(policy) if document == "kms" else [])]
    [admin] = [s for s in every if s["sid"] == "AccountAdministration"]
    expected = KMS_ADMINISTRATION - ({"kms:RotateKeyOnDemand"} if document == "card_tokens" else set())
    assert set(admin["actions"]) == expected and len(admin["actions"]) == len(expected)
    grants = [s for s in every if any(fnmatch.fnmatchcase("kms:CreateGrant", a) for a in s["actions"])]
    if document == "card_tokens":  # no AWS service uses the HMAC key on anyone's behalf
        assert grants == []
        return
    assert grants == [{"sid": "GrantsForAWSServices", "actions": ["kms:CreateGrant"], "resources": ["*"],
                       "principals": [{"type": "AWS", "identifiers": [ref("local.account_root_arn")]}],
                       "condition": [{"test": "Bool", "variable": "kms:GrantIsForAWSResource",
                                      "values": ["true"]}]}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_card_token_key_is_an_hmac_key_only_payment_validation_uses(env: str) -> None:
    card = resource(env, "kms.tf", "aws_kms_key", "card_tokens")
    assert card["key_usage"] == "GENERATE_VERIFY_MAC" and card["customer_master_key_spec"] == "HMAC_256"
    assert card["enable_key_rotation"] is False  # AWS cannot rotate HMAC keys
    use = [s for s in statements(data(env, "kms.tf", "aws_iam_policy_document", "card_tokens"))
           if s["sid"] != "AccountAdministration"]
    assert use == [{"sid": "PaymentValidationTokens", "actions": ["kms:GenerateMac"], "resources": ["*"],
                    "principals": [{"type": "AWS",
                                    "identifiers": [ref('aws_iam_role.lambda["payment_validation"].arn')]}]}]
    assert local(env, "kms.tf", "kms_aliases")["card_tokens"] == f"alias/card-tokens-{env}"


# --- Security groups ------------------------------------------------------------------------


def rules(env: str, kind: str, group: str, extra: str = "") -> dict[str, dict[str, Any]]:
    """The ingress or egress rules of one security group."""
    return {name: body for name, body in resources_of(env, f"aws_vpc_security_group_{kind}_rule", extra).items()
            if body["security_group_id"] == ref(f"aws_security_group.{group}.id")}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alb_accepts_http_only_from_the_vpc_link_security_group(env: str) -> None:
    ingress = rules(env, "ingress", "alb")
    assert set(ingress) == {"alb_from_vpc_link"}
    rule = ingress["alb_from_vpc_link"]
    assert rule["referenced_security_group_id"] == ref("aws_security_group.vpc_link.id")
    assert "cidr_ipv4" not in rule and "prefix_list_id" not in rule
    assert rule["for_each"] == ref("local.alb_listener_ports")
    assert (rule["from_port"], rule["to_port"]) == (ref("each.value"), ref("each.value"))
    assert local(env, "alb.tf", "https_enabled") is False
    assert local(env, "alb.tf", "alb_listener_ports") == {"http": 80}


def test_alb_accepts_only_443_once_a_certificate_replaces_http_with_https() -> None:
    assert local("prod", "alb.tf", "https_enabled", CERTIFICATE) is True
    assert local("prod", "alb.tf", "alb_listener_ports", CERTIFICATE) == {"https": 443}
    egress = rules("prod", "egress", "vpc_link", CERTIFICATE)
    assert set(egress) == {"vpc_link_to_alb"}
    assert egress["vpc_link_to_alb"]["referenced_security_group_id"] == ref("aws_security_group.alb.id")
    assert egress["vpc_link_to_alb"]["for_each"] == ref("local.alb_listener_ports")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_database_accepts_5432_only_from_the_lambda_and_rotation_lambda_groups(env: str) -> None:
    ingress = rules(env, "ingress", "database")
    sources = {body["referenced_security_group_id"] for body in ingress.values()}
    assert sources == {ref("aws_security_group.lambda.id"), ref("aws_security_group.rotation_lambda.id")}
    for body in ingress.values():
        assert (body["ip_protocol"], body["from_port"], body["to_port"]) == ("tcp", 5432, 5432)
        assert "cidr_ipv4" not in body


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_payment_lambdas_egress_only_to_the_vpc_endpoints(env: str) -> None:
    egress = rules(env, "egress", "lambda")
    assert set(egress) == {"lambda_to_endpoints", "lambda_to_dynamodb", "lambda_to_s3"}
    assert egress["lambda_to_endpoints"]["referenced_security_group_id"] == ref("aws_security_group.endpoints.id")
    assert egress["lambda_to_s3"]["prefix_list_id"] == ref("aws_vpc_endpoint.s3.prefix_list_id")
    assert egress["lambda_to_dynamodb"]["prefix_list_id"] == ref("aws_vpc_endpoint.dynamodb.prefix_list_id")
    assert all(body["from_port"] == ref("local.aws_api_port") for body in egress.values())
    assert local(env, "security_groups.tf", "aws_api_port") == 443


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_rotation_lambda_egress_only_to_secrets_manager_and_the_database(env: str) -> None:
    egress = rules(env, "egress", "rotation_lambda")
    assert set(egress) == {"rotation_lambda_to_endpoints", "rotation_lambda_to_database"}
    database = egress["rotation_lambda_to_database"]
    assert database["referenced_security_group_id"] == ref("aws_security_group.database.id")
    assert (database["from_port"], database["to_port"]) == (5432, 5432)
    endpoints = egress["rotation_lambda_to_endpoints"]
    assert endpoints["referenced_security_group_id"] == ref("aws_security_group.endpoints.id")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_interface_endpoints_accept_https_only_from_the_lambda_groups(env: str) -> None:
    ingress = rules(env, "ingress", "endpoints")
    assert {body["referenced_security_group_id"] for body in ingress.values()} == {
        ref("aws_security_group.lambda.id"), ref("aws_security_group.rotation_lambda.id")}


def test_without_interface_endpoints_the_lambdas_reach_those_apis_through_nat_only_on_443() -> None:
    extra = "network:\n  interface_endpoints: []\n"
    egress = rules("prod", "egress", "lambda", extra)
    assert set(egress) == {"lambda_to_dynamodb", "lambda_to_s3", "lambda_to_aws_apis"}
    nat = egress["lambda_to_aws_apis"]
    assert nat["cidr_ipv4"] == "0.0.0.0/0" and nat["from_port"] == nat["to_port"] == ref("local.aws_api_port")
    assert nat["description"].endswith("kms, sns")
    assert set(rules("prod", "egress", "rotation_lambda", extra)) == {
        "rotation_lambda_to_aws_apis", "rotation_lambda_to_database"}
    assert "aws_security_group.endpoints" not in all_blocks("prod", "resource", extra)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_security_group_is_named_for_its_role_in_the_vpc(env: str) -> None:
    groups = resources_of(env, "aws_security_group")
    assert {name: body["name"] for name, body in groups.items()} == {
        "vpc_link": f"payment-vpc-link-{env}", "alb": f"payment-alb-{env}", "lambda": f"payment-lambda-{env}",
        "rotation_lambda": f"db-secret-rotation-{env}", "database": f"aurora-cluster-{env}",
        "endpoints": f"vpc-endpoints-{env}"}
    assert all(body["vpc_id"] == ref("aws_vpc.this.id") and "ingress" not in body and "egress" not in body
               for body in groups.values())


# --- IAM ------------------------------------------------------------------------------------

LOG_STREAMS = ref("aws_cloudwatch_log_group.lambda[each.key].arn") + ":*"
TABLE = ref("aws_dynamodb_table.this.arn")
ENI = ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
       "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses"]
XRAY = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
STAR_ALLOWED = {*ENI, *XRAY}
TABLE_KEY = {(action, key("dynamodb")) for action in
             ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")}

# What each role reaches beyond its own log group, ENIs and tracing: (action, resource) pairs.
REACHES: dict[str, set[tuple[str, str]]] = {
    "payment_validation": {("dynamodb:GetItem", TABLE), ("dynamodb:PutItem", TABLE), *TABLE_KEY,
                           ("kms:GenerateMac", ref("aws_kms_key.card_tokens.arn"))},
    "fraud_detection": {("dynamodb:GetItem", TABLE), ("dynamodb:Query", TABLE), ("dynamodb:UpdateItem", TABLE),
                        ("dynamodb:Query", ref("aws_dynamodb_table.this.arn") + "/index/merchant-user-index"),
                        ("dynamodb:Query", ref("aws_dynamodb_table.this.arn") + "/index/card-token-index"),
                        *TABLE_KEY, ("sns:Publish", ref("aws_sns_topic.failed_transactions.arn")),
                        ("kms:Decrypt", key("sns")), ("kms:GenerateDataKey", key("sns"))},
    "transaction_processing": {("dynamodb:GetItem", TABLE), ("dynamodb:Query", TABLE),
                               ("dynamodb:UpdateItem", TABLE), *TABLE_KEY,
                               ("s3:PutObject", ref("aws_s3_bucket.this.arn") + "/" + ref("local.audit_prefix") + "*"),
                               ("kms:GenerateDataKey", key("s3"))},
    "db_secret_rotation": {*{(f"secretsmanager:{action}", ref("aws_secretsmanager_secret.db_credentials.arn"))
                             for action in ("DescribeSecret", "GetSecretValue", "PutSecretValue",
                                            "UpdateSecretVersionStage")},
                           ("kms:Decrypt", key("secrets")), ("kms:GenerateDataKey", key("secrets"))},
}


def guarded_statements(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The ``dynamic "statement"`` blocks of a document for each function, by the key that turns
    each on (``for_each = each.key == "payment_validation" ? [1] : []``); any other guard fails."""
    found: dict[str, list[dict[str, Any]]] = {}
    for block in document.get("dynamic", []):
        guard = block["statement"]["for_each"]
        function = next((f for f in ALL_FUNCTIONS if guard == ref(f'each.key == "{f}" ? [1] : []')), None)
        assert function is not None, guard
        found.setdefault(function, []).extend(block["statement"]["content"])
    return found


def role_statements(env: str, function: str, extra: str = "") -> list[dict[str, Any]]:
    """The statements of a function's inline policy: the shared ones, then its own."""
    own = data(env, "iam.tf", "aws_iam_policy_document", "lambda", extra)
    assert own["for_each"] == ref("local.functions") and not statements(own)
    assert own["source_policy_documents"] == [ref("data.aws_iam_policy_document.lambda_base[each.key].json")]
    base = data(env, "iam.tf", "aws_iam_policy_document", "lambda_base", extra)
    return [*statements(base), *guarded_statements(own)[function]]


def identity_policies(env: str) -> dict[str, list[dict[str, Any]]]:
    """Every policy attached to a role (not key or bucket policies)."""
    found = {function: role_statements(env, function) for function in ALL_FUNCTIONS}
    found["flow_logs"] = statements(data(env, "network.tf", "aws_iam_policy_document", "flow_logs"))
    found["rds_monitoring"] = statements(data(env, "database.tf", "aws_iam_policy_document", "rds_monitoring"))
    return found


def all_policy_statements(env: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name, body in all_blocks(env, "data").items():
        if name.startswith("aws_iam_policy_document."):
            found += statements(body)
            found += dynamic_statements(body)
    return found


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_no_allow_statement_anywhere_has_a_star_action(env: str) -> None:
    for statement in all_policy_statements(env):
        if statement.get("effect", "Allow") == "Allow":
            assert not any(action == "*" or action.endswith(":*") for action in statement["actions"]), statement


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_star_resources_only_for_eni_management_and_xray(env: str) -> None:
    for policy, found in identity_policies(env).items():
        for statement in found:
            if "*" in statement["resources"]:
                assert statement["resources"] == ["*"], (policy, statement)
                assert set(statement["actions"]) <= STAR_ALLOWED, (policy, statement)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_each_role_reaches_only_its_own_resources(env: str, function: str) -> None:
    pairs = {(action, res) for statement in role_statements(env, function)
             for action in statement["actions"] for res in statement["resources"]}
    base = {("logs:CreateLogStream", LOG_STREAMS), ("logs:PutLogEvents", LOG_STREAMS),
            ("kms:Decrypt", key("lambda")), *{(action, "*") for action in STAR_ALLOWED}}
    assert pairs == base | REACHES[function]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_each_role_grants_exactly_the_actions_lambdas_readme_lists(env: str, function: str) -> None:
    actions = {action for statement in role_statements(env, function) for action in statement["actions"]}
    assert actions - set(XRAY) == readme_actions()[function]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_kms_use_by_a_role_only_through_the_service_that_owns_the_data(env: str) -> None:
    via = {key("dynamodb"): "dynamodb.us-east-1.amazonaws.com", key("sns"): "sns.us-east-1.amazonaws.com",
           key("lambda"): "lambda.us-east-1.amazonaws.com",
           key("s3"): "s3.us-east-1.amazonaws.com", key("secrets"): "secretsmanager.us-east-1.amazonaws.com"}
    for function in ALL_FUNCTIONS:
        for statement in role_statements(env, function):
            if statement["resources"][0] in via:
                conditions = {c["variable"]: c["values"] for c in statement["condition"]}
                assert conditions["kms:ViaService"] == [via[statement["resources"][0]]], statement
    [secret_key] = [s for s in role_statements(env, ROTATION_KEY) if s["resources"] == [key("secrets")]]
    conditions = {c["variable"]: c["values"] for c in secret_key["condition"]}
    assert conditions["kms:EncryptionContext:SecretARN"] == [ref("aws_secretsmanager_secret.db_credentials.arn")]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_one_role_and_one_inline_policy_per_function_assumed_only_by_lambda(env: str) -> None:
    role = resource(env, "iam.tf", "aws_iam_role", "lambda")
    assert role["for_each"] == ref("local.functions") and role["name"] == ref("each.value.function_name")
    assert "managed_policy_arns" not in role
    assume = statements(data(env, "iam.tf", "aws_iam_policy_document", "lambda_assume_role"))
    assert assume == [{"actions": ["sts:AssumeRole"],
                       "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}]}]
    policy = resource(env, "iam.tf", "aws_iam_role_policy", "lambda")
    assert policy["for_each"] == ref("local.functions")
    assert policy["role"] == ref("aws_iam_role.lambda[each.key].id")
    assert policy["policy"] == ref("data.aws_iam_policy_document.lambda[each.key].json")
    own = guarded_statements(data(env, "iam.tf", "aws_iam_policy_document", "lambda"))
    assert set(own) == set(ALL_FUNCTIONS) == set(local(env, "lambda.tf", "functions"))
    assert {f["function_name"] for f in local(env, "lambda.tf", "functions").values()} == {
        f"{function.replace('_', '-')}-{env}" for function in ALL_FUNCTIONS}
    assert "aws_iam_role_policy_attachment" not in str(hcl(env, "iam.tf"))


def test_without_tracing_no_role_gets_xray() -> None:
    extra = "lambda:\n  tracing: false\n"
    for function in ALL_FUNCTIONS:
        actions = {a for s in role_statements("prod", function, extra) for a in s["actions"]}
        assert not actions & set(XRAY)
    assert resource("prod", "lambda.tf", "aws_lambda_function", "this", extra)["tracing_config"] == [
        {"mode": "PassThrough"}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_flow_log_role_writes_only_its_own_log_group_and_can_find_it(env: str) -> None:
    group = ref("aws_cloudwatch_log_group.flow_logs.arn")
    statement, find = statements(data(env, "network.tf", "aws_iam_policy_document", "flow_logs"))
    assert statement["resources"] == [group, group + ":*"]
    assert set(statement["actions"]) == {"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}
    # AWS documents logs:DescribeLogGroups for the flow-log role; it lists groups, so its resource
    # is every log group of the account and region, and it reads nothing else.
    assert find["actions"] == ["logs:DescribeLogGroups"]
    assert find["resources"] == ["arn:" + ref("local.partition") + ":logs:" + ref("local.region") + ":" +
                                 ref("local.account_id") + ":log-group:*"]
    [assume] = statements(data(env, "network.tf", "aws_iam_policy_document", "flow_logs_assume_role"))
    assert assume["principals"] == [{"type": "Service", "identifiers": ["vpc-flow-logs.amazonaws.com"]}]
    assert {c["variable"] for c in assume["condition"]} == {"aws:SourceAccount", "aws:SourceArn"}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_enhanced_monitoring_role_writes_only_the_rdsosmetrics_log_group(env: str) -> None:
    group = "arn:" + ref("local.partition") + ":logs:" + ref("local.region") + ":" + ref("local.account_id") + \
        ":log-group:RDSOSMetrics"
    found = {s["sid"]: s for s in statements(data(env, "database.tf", "aws_iam_policy_document", "rds_monitoring"))}
    assert found["MetricsLogGroup"]["resources"] == [group]
    assert set(found["MetricsLogGroup"]["actions"]) == {"logs:CreateLogGroup", "logs:PutRetentionPolicy"}
    assert found["MetricsLogStreams"]["resources"] == [group + ":log-stream:*"]
    [assume] = statements(data(env, "database.tf", "aws_iam_policy_document", "rds_monitoring_assume_role"))
    assert assume["principals"] == [{"type": "Service", "identifiers": ["monitoring.rds.amazonaws.com"]}]
    assert assume["condition"] == [{"test": "StringEquals", "variable": "aws:SourceAccount",
                                    "values": [ref("local.account_id")]}]
    role = resource(env, "database.tf", "aws_iam_role", "rds_monitoring")
    assert role["name"] == f"rds-monitoring-{env}"
    policy = resource(env, "database.tf", "aws_iam_role_policy", "rds_monitoring")
    assert policy["role"] == ref("aws_iam_role.rds_monitoring.id")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_backup_role_is_assumed_only_by_aws_backup_with_its_documented_policy(env: str) -> None:
    [assume] = statements(data(env, "backup.tf", "aws_iam_policy_document", "backup_assume_role"))
    assert assume == {"actions": ["sts:AssumeRole"],
                      "principals": [{"type": "Service", "identifiers": ["backup.amazonaws.com"]}]}
    role = resource(env, "backup.tf", "aws_iam_role", "backup")
    assert role["name"] == f"aws-backup-{env}"
    attachment = resource(env, "backup.tf", "aws_iam_role_policy_attachment", "backup")
    assert attachment["policy_arn"] == (
        "arn:" + ref("local.partition") + ":iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")
