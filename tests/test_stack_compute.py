"""The Compute section of SPEC.md: the four Lambda functions, their packages and aliases."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import local, readme_variables, ref, rendered, resource
from tfgen.config.names import FUNCTION_KEYS, ROTATION_KEY

ALL_FUNCTIONS = (*FUNCTION_KEYS, ROTATION_KEY)
PINNED = ("lambda:\n  functions:\n    fraud_detection:\n      traffic:\n"
          "        blue_version: '3'\n        green_version: latest\n")


def functions(env: str, extra: str = "") -> dict[str, dict[str, Any]]:
    return local(env, "lambda.tf", "functions", extra)  # type: ignore[no-any-return]


def function_resource(env: str, extra: str = "") -> dict[str, Any]:
    return resource(env, "lambda.tf", "aws_lambda_function", "this", extra)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize(("function", "memory", "timeout", "concurrency"), [
    # The design's 30, 30 and 60 s would outlive the API's 30 s integration timeout (README: deviations).
    ("payment_validation", 512, 29, 10),
    ("fraud_detection", 512, 29, 10),
    ("transaction_processing", 1024, 29, 20),
])
def test_payment_function_name_memory_timeout_and_reserved_concurrency(
        env: str, function: str, memory: int, timeout: int, concurrency: int) -> None:
    fn = functions(env)[function]
    assert fn["function_name"] == f"{function.replace('_', '-')}-{env}"
    assert (fn["memory_size"], fn["timeout"], fn["reserved_concurrent_executions"]) == (memory, timeout, concurrency)
    body = function_resource(env)
    assert body["for_each"] == ref("local.functions")
    assert body["memory_size"] == ref("each.value.memory_size") and body["timeout"] == ref("each.value.timeout")
    assert body["reserved_concurrent_executions"] == ref("each.value.reserved_concurrent_executions")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_db_secret_rotation_function_with_one_reserved_execution(env: str) -> None:
    fn = functions(env)[ROTATION_KEY]
    assert fn["function_name"] == f"db-secret-rotation-{env}"
    # Secrets Manager runs the rotation steps one at a time: one execution is
    # all it needs, always available and never more.
    assert fn["reserved_concurrent_executions"] == 1
    assert fn["memory_size"] == 256 and fn["timeout"] == 60  # a rotation step needs at least 30 s


def test_rotation_concurrency_can_be_left_unreserved() -> None:
    fn = functions("prod", "lambda:\n  rotation:\n    reserved_concurrency: null\n")[ROTATION_KEY]
    assert fn["reserved_concurrent_executions"] is None


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_function_runs_in_the_private_subnets(env: str) -> None:
    [vpc] = function_resource(env)["vpc_config"]
    assert vpc["subnet_ids"] == ref("[for subnet in aws_subnet.private : subnet.id]")
    assert vpc["security_group_ids"] == [ref("local.function_security_groups[each.key]")]
    groups = local(env, "lambda.tf", "function_security_groups")
    assert groups == {**{key: ref("aws_security_group.lambda.id") for key in FUNCTION_KEYS},
                      ROTATION_KEY: ref("aws_security_group.rotation_lambda.id")}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_runtime_python3_12_not_the_deprecated_3_9(env: str) -> None:
    body = function_resource(env)
    assert body["runtime"] == "python3.12" and body["architectures"] == ["x86_64"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_package_is_the_zip_tfgen_built_referenced_by_its_hash(env: str, function: str) -> None:
    fn = functions(env)[function]
    zipped = rendered(env).files[f"packages/{function}.zip"]
    assert fn["filename"] == f"packages/{function}.zip"
    assert fn["source_code_hash"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert fn["handler"] == f"{function}.handler"
    body = function_resource(env)
    assert body["filename"] == ref("each.value.filename")
    assert body["source_code_hash"] == ref("each.value.source_code_hash")
    assert body["handler"] == ref("each.value.handler")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_each_function_publishes_versions(env: str) -> None:
    assert function_resource(env)["publish"] is True


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_blue_and_green_aliases_follow_latest_by_default(env: str) -> None:
    aliases = local(env, "lambda.tf", "aliases")
    assert set(aliases) == {f"{key}-{color}" for key in FUNCTION_KEYS for color in ("blue", "green")}
    for name, alias in aliases.items():
        function, color = name.rsplit("-", 1)
        assert (alias["function"], alias["alias"], alias["function_version"]) == (function, color, None)
    body = resource(env, "lambda.tf", "aws_lambda_alias", "this")
    assert body["for_each"] == ref("local.aliases") and body["name"] == ref("each.value.alias")
    assert body["function_version"] == ref(
        "coalesce(each.value.function_version, aws_lambda_function.this[each.value.function].version)")


def test_an_alias_pinned_in_the_environment_file_points_at_that_version() -> None:
    aliases = local("prod", "lambda.tf", "aliases", PINNED)
    assert aliases["fraud_detection-blue"]["function_version"] == "3"
    assert aliases["fraud_detection-green"]["function_version"] is None
    assert aliases["payment_validation-blue"]["function_version"] is None


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_environment_variables_are_those_lambdas_readme_documents(env: str, function: str) -> None:
    documented = readme_variables()[function]
    configured = set(local(env, "lambda.tf", "function_settings")[function])
    named = set(local(env, "lambda.tf", "function_resources")[function])
    assert not configured & named
    assert configured | named <= set(documented), "every variable set is documented"
    assert {name for name, required in documented.items() if required} <= configured | named
    body = function_resource(env)
    assert body["environment"] == [{"variables": ref(
        "merge(local.function_settings[each.key], local.function_resources[each.key])")}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_handlers_are_told_the_resources_they_use(env: str) -> None:
    assert local(env, "lambda.tf", "function_resources") == {
        "payment_validation": {"TRANSACTIONS_TABLE": ref("aws_dynamodb_table.this.name"),
                               "CARD_TOKEN_KMS_KEY_ID": ref("aws_kms_key.card_tokens.arn")},
        "fraud_detection": {"TRANSACTIONS_TABLE": ref("aws_dynamodb_table.this.name"),
                            "FAILED_TRANSACTIONS_TOPIC_ARN": ref("aws_sns_topic.failed_transactions.arn")},
        "transaction_processing": {"TRANSACTIONS_TABLE": ref("aws_dynamodb_table.this.name"),
                                   "AUDIT_BUCKET": ref("aws_s3_bucket.this.id"),
                                   "AUDIT_KMS_KEY_ID": ref('aws_kms_key.this["s3"].arn')},
        ROTATION_KEY: {},
    }


@pytest.mark.parametrize(("env", "level"), [("dev", "DEBUG"), ("staging", "INFO"), ("prod", "INFO")])
def test_business_rules_and_log_level_come_from_configuration(env: str, level: str) -> None:
    settings = local(env, "lambda.tf", "function_settings")
    common = {"ENVIRONMENT": env, "LOG_LEVEL": level, "MERCHANT_ACCESS": "{}"}
    limits = {code: {"min": "0", "max": "10000"} for code in ("EUR", "GBP", "USD")}
    assert json.loads(settings["payment_validation"].pop("AMOUNT_LIMITS")) == limits
    assert settings["payment_validation"] == {**common, "ALLOWED_CURRENCIES": "EUR,GBP,USD",
                                              "IDEMPOTENCY_TTL_HOURS": "24"}
    thresholds = dict.fromkeys(("EUR", "GBP", "USD"), "10000")
    assert json.loads(settings["fraud_detection"].pop("FRAUD_AMOUNT_THRESHOLDS")) == thresholds
    assert settings["fraud_detection"] == {**common,
                                           "FRAUD_VELOCITY_WINDOW_SECONDS": "3600",
                                           "FRAUD_VELOCITY_MAX_TRANSACTIONS": "5",
                                           "FRAUD_FAILURE_WINDOW_SECONDS": "86400", "FRAUD_FAILURE_MAX": "3",
                                           "FRAUD_CARD_VELOCITY_WINDOW_SECONDS": "3600",
                                           "FRAUD_CARD_VELOCITY_MAX_TRANSACTIONS": "5"}
    assert settings["transaction_processing"] == common
    assert settings[ROTATION_KEY] == {"LOG_LEVEL": level, "PASSWORD_LENGTH": "32",
                                      "SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.us-east-1.amazonaws.com"}


def test_fractional_amounts_reach_the_handlers_as_plain_decimals() -> None:
    settings = local("prod", "lambda.tf", "function_settings", "lambda:\n  min_amount: 0.5\n")
    assert json.loads(settings["payment_validation"]["AMOUNT_LIMITS"])["EUR"]["min"] == "0.5"


def test_each_currency_has_its_own_limits_in_its_own_major_units() -> None:
    extra = ("lambda:\n  allowed_currencies: [EUR, JPY]\n  currency_limits:\n"
             "    JPY: {max_amount: 1500000.0, fraud_amount_threshold: 750000.0}\n")
    settings = local("prod", "lambda.tf", "function_settings", extra)
    assert json.loads(settings["payment_validation"]["AMOUNT_LIMITS"]) == {
        "EUR": {"min": "0", "max": "10000"}, "JPY": {"min": "0", "max": "1500000"}}
    assert json.loads(settings["fraud_detection"]["FRAUD_AMOUNT_THRESHOLDS"]) == {"EUR": "10000", "JPY": "750000"}


@pytest.mark.parametrize(("env", "retention"), [("dev", 30), ("staging", 365), ("prod", 365)])
def test_every_function_logs_to_its_own_encrypted_log_group_with_retention(env: str, retention: int) -> None:
    group = resource(env, "lambda.tf", "aws_cloudwatch_log_group", "lambda")
    assert group["for_each"] == ref("local.functions") and group["name"] == ref("each.value.log_group")
    assert group["retention_in_days"] == retention
    assert group["kms_key_id"] == ref('aws_kms_key.this["logs"].arn')
    assert {key: fn["log_group"] for key, fn in functions(env).items()} == {
        key: f"/aws/lambda/{key.replace('_', '-')}-{env}" for key in ALL_FUNCTIONS}
    assert function_resource(env)["logging_config"] == [
        {"log_format": "Text", "log_group": ref("aws_cloudwatch_log_group.lambda[each.key].name")}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_active_tracing_and_eni_permissions_before_the_vpc_attachment(env: str) -> None:
    body = function_resource(env)
    assert body["tracing_config"] == [{"mode": "Active"}]
    assert body["depends_on"] == [ref("aws_iam_role_policy.lambda")]
    assert body["role"] == ref("aws_iam_role.lambda[each.key].arn")


def test_tiny_amounts_are_not_written_in_exponent_notation() -> None:
    settings = local("prod", "lambda.tf", "function_settings", "lambda:\n  min_amount: 0.00001\n")
    assert json.loads(settings["payment_validation"]["AMOUNT_LIMITS"])["EUR"]["min"] == "0.00001"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_environment_variables_are_encrypted_with_the_lambda_key(env: str) -> None:
    assert function_resource(env)["kms_key_arn"] == ref('aws_kms_key.this["lambda"].arn')
    assert local(env, "kms.tf", "kms_keys")["lambda"]["via_service"] == "lambda.us-east-1.amazonaws.com"
