"""The Secrets and parameters section of SPEC.md, and no credential in any rendered file."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import local, ref, rendered, resource, text, tf_files

SECRET = ref("aws_secretsmanager_secret.db_credentials.arn")
ROTATION_FUNCTION = 'aws_lambda_function.this["db_secret_rotation"]'
PASSWORD = "ephemeral.aws_secretsmanager_random_password.master.random_password"


@pytest.mark.parametrize(("env", "recovery_days"), [("dev", 0), ("staging", 0), ("prod", 30)])
def test_secret_payment_db_credentials_env_encrypted_with_the_secrets_key(env: str, recovery_days: int) -> None:
    secret = resource(env, "secrets.tf", "aws_secretsmanager_secret", "db_credentials")
    assert secret["name"] == f"payment-db-credentials-{env}"
    assert secret["kms_key_id"] == ref('aws_kms_key.this["secrets"].arn')
    assert secret["recovery_window_in_days"] == recovery_days


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_secret_holds_username_password_host_port_and_dbname_write_only(env: str) -> None:
    version = resource(env, "secrets.tf", "aws_secretsmanager_secret_version", "db_credentials")
    assert "secret_string" not in version and "secret_binary" not in version
    value = version["secret_string_wo"]
    for field, source in [("username", "aws_rds_cluster.this.master_username"), ("password", PASSWORD),
                          ("host", "aws_rds_cluster.this.endpoint"), ("port", "aws_rds_cluster.this.port"),
                          ("dbname", "aws_rds_cluster.this.database_name")]:
        assert f"{field} = {source}" in value
    assert version["secret_string_wo_version"] == 1


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_a_replaced_cluster_replaces_the_secret_version_in_the_same_run(env: str) -> None:
    # A replaced cluster gets the run's ephemeral password; the secret version, replaced with it,
    # writes the same value. The cluster's resource id is new for every cluster (the identifier is not).
    version = resource(env, "secrets.tf", "aws_secretsmanager_secret_version", "db_credentials")
    assert version["lifecycle"] == [{"replace_triggered_by": [ref("aws_rds_cluster.this.cluster_resource_id")]}]
    cluster = resource(env, "database.tf", "aws_rds_cluster", "this")
    assert cluster["master_password_wo_version"] == version["secret_string_wo_version"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_rotation_every_30_days_by_db_secret_rotation(env: str) -> None:
    rotation = resource(env, "secrets.tf", "aws_secretsmanager_secret_rotation", "db_credentials")
    assert rotation["rotation_lambda_arn"] == ref(f"{ROTATION_FUNCTION}.arn")
    assert rotation["rotation_rules"] == [{"automatically_after_days": 30}]
    assert ref("aws_rds_cluster_instance.writer") in rotation["depends_on"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_secrets_manager_may_invoke_the_rotation_function_for_this_secret_only(env: str) -> None:
    permission = resource(env, "secrets.tf", "aws_lambda_permission", "secrets_manager")
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "secretsmanager.amazonaws.com"
    assert permission["function_name"] == ref(f"{ROTATION_FUNCTION}.function_name")
    assert permission["source_arn"] == SECRET


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_rotation_function_reaches_secrets_manager_and_the_database(env: str) -> None:
    # Its security group reaches the endpoints and 5432 (tests/test_stack_security.py); here, the
    # Secrets Manager endpoint is an interface endpoint with private DNS in the private subnets.
    endpoint = resource(env, "endpoints.tf", "aws_vpc_endpoint", "interface")
    assert "secretsmanager" in endpoint["for_each"] and endpoint["private_dns_enabled"] is True
    settings = local(env, "lambda.tf", "function_settings")["db_secret_rotation"]
    assert settings["SECRETS_MANAGER_ENDPOINT"] == "https://secretsmanager.us-east-1.amazonaws.com"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_ssm_parameters_api_endpoint_db_endpoint_and_table_name(env: str) -> None:
    assert local(env, "parameters.tf", "parameters") == {
        "api-endpoint": {"name": f"/payment/{env}/api-endpoint",
                         "value": ref("aws_apigatewayv2_stage.this.invoke_url")},
        "db-endpoint": {"name": f"/payment/{env}/db-endpoint", "value": ref("aws_rds_cluster.this.endpoint")},
        "table-name": {"name": f"/payment/{env}/table-name", "value": ref("aws_dynamodb_table.this.name")},
    }
    parameter = resource(env, "parameters.tf", "aws_ssm_parameter", "this")
    assert parameter["for_each"] == ref("local.parameters") and parameter["type"] == "String"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_the_generated_password_reaches_only_write_only_arguments(env: str) -> None:
    uses = [(file, line.strip()) for file in tf_files(env) for line in text(env, file).splitlines()
            if "ephemeral.aws_secretsmanager_random_password" in line]
    assert uses == [("database.tf", f"master_password_wo         = {PASSWORD}"),
                    ("secrets.tf", f"password            = {PASSWORD}")]
    # The second use is inside the secret version's write-only secret_string_wo.
    assert "secret_string_wo = jsonencode({" in text(env, "secrets.tf")


# Attribute names that would hold a credential, assigned a quoted literal.
_CREDENTIAL_ASSIGNMENT = re.compile(
    r'^\s*"?((?:\w+_)?(?:password|passwd|secret|secret_key|secret_string|access_key|private_key|token|'
    r'session_token|api_key|credentials?))"?\s*=\s*"', re.IGNORECASE | re.MULTILINE)
_LOOKS_SECRET = [
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)\b(?:password|passwd|pwd)\s*[:=]\s*['\"][^'\"$]{4,}"),
    re.compile(r"(?i)postgres(?:ql)?://[^:\s/]+:[^@\s]+@"),  # credentials in a connection URL
]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_no_rendered_file_holds_anything_that_looks_like_a_literal_credential(env: str) -> None:
    found = []
    for path, data in rendered(env).files.items():
        if not path.endswith(".tf"):
            continue
        content = data.decode()
        found += [f"{path}: {m.group(0).strip()}" for m in _CREDENTIAL_ASSIGNMENT.finditer(content)]
        found += [f"{path}: {m.group(0)}" for pattern in _LOOKS_SECRET for m in pattern.finditer(content)]
    assert found == []


def test_the_credential_scan_catches_a_literal_password() -> None:
    sample = 'resource "x" "y" {\n  master_password = "hunter22"\n  token = "abc"\n}\nAKIAABCDEFGHIJKLMNOP\n'
    assert [m.group(1) for m in _CREDENTIAL_ASSIGNMENT.finditer(sample)] == ["master_password", "token"]
    assert any(pattern.search(sample) for pattern in _LOOKS_SECRET)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_first_rotation_waits_for_the_network_paths_of_the_rotation_function(env: str) -> None:
    rotation = resource(env, "secrets.tf", "aws_secretsmanager_secret_rotation", "db_credentials")
    for dependency in ("aws_vpc_security_group_egress_rule.rotation_lambda_to_database",
                       "aws_vpc_security_group_ingress_rule.database_from_rotation_lambda",
                       "aws_vpc_security_group_egress_rule.rotation_lambda_to_endpoints",
                       "aws_vpc_security_group_ingress_rule.endpoints_from_rotation_lambda",
                       "aws_vpc_endpoint.interface"):
        assert ref(dependency) in rotation["depends_on"]
