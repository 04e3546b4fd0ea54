"""The settings the stack added to the configuration: their bounds and cross-field checks."""

from __future__ import annotations

import pytest

from tests.stack import CANCEL_HTTP_SKIPS, CERTIFICATE, CERTIFICATE_ARN, ENV_DIR, SERVER_NAME, loaded
from tfgen.errors import ConfigError

REASON = "a reason long enough and specific enough to say why the check does not apply"

CASES = {
    "secret recovery window": (
        "database:\n  secret_recovery_window_days: 3\n",
        "<test>:2:3: database.secret_recovery_window_days: expected 0 (delete at once) or 7 to 30 days, got 3"),
    "maintenance window": (
        "database:\n  preferred_maintenance_window: sunday:04:30-sun:05:30\n",
        "<test>:2:3: database.preferred_maintenance_window: expected a weekly UTC window such as "
        "'sun:04:30-sun:05:30', got 'sunday:04:30-sun:05:30'"),
    "backup window": (
        "database:\n  preferred_backup_window: '3:00-4:00'\n",
        "<test>:2:3: database.preferred_backup_window: expected a daily UTC window such as '03:00-04:00', "
        "got '3:00-4:00'"),
    "password length": (
        "database:\n  master_password_length: 8\n",
        "<test>:2:3: database.master_password_length: expected a number >= 16, got integer 8"),
    "amount bounds": (
        "lambda:\n  min_amount: 20000.0\n",
        "<test>:2:3: lambda.min_amount: expected at most max_amount (10000.0), got 20000.0"),
    "velocity window": (
        "lambda:\n  fraud_failure_window_s: 2592001\n",
        "<test>:2:3: lambda.fraud_failure_window_s: expected a number <= 2592000, got integer 2592001"),
    "rotation timeout": (
        "lambda:\n  rotation:\n    timeout_s: 10\n",
        "<test>:3:5: lambda.rotation.timeout_s: expected a number >= 30, got integer 10"),
    "function outlives the API integration": (
        "lambda:\n  functions:\n    transaction_processing:\n      timeout_s: 60\n",
        "<test>:4:7: lambda.functions.transaction_processing.timeout_s: expected less than "
        "api.integration_timeout_s (30 s: the API answers 504 then while the function runs on), got 60"),
    "function as long as the API integration": (
        "api:\n  integration_timeout_s: 20\nlambda:\n  functions:\n    payment_validation:\n      timeout_s: 10\n"
        "    fraud_detection:\n      timeout_s: 10\n    transaction_processing:\n      timeout_s: 20\n",
        "<test>:10:7: lambda.functions.transaction_processing.timeout_s: expected less than "
        "api.integration_timeout_s (20 s: the API answers 504 then while the function runs on), got 20"),
    "integration timeout beyond the HTTP API limit": (
        "api:\n  integration_timeout_s: 60\n",
        "<test>:2:3: api.integration_timeout_s: expected a number <= 30, got integer 60"),
    "account id as a number": (
        "aws_account_id: 011122223333\n",
        "<test>:1:1: aws_account_id: expected the 12-digit account id as a quoted string such as '111122223333' "
        "(unquoted, YAML reads a number, losing leading zeros or reading them as octal), got 1229530843"),
    "account id of the wrong length": (
        "aws_account_id: '1234'\n",
        "<test>:1:1: aws_account_id: expected a 12-digit AWS account id such as '111122223333', got '1234'"),
    "bucket suffix S3 would refuse": (
        "storage:\n  bucket_suffix: Team_A\n",
        "<test>:2:3: storage.bucket_suffix: expected lowercase letters, digits and inner hyphens, such as the "
        "account id '111122223333', got 'Team_A'"),
    "certificate without a server name": (
        CERTIFICATE_ARN + CANCEL_HTTP_SKIPS,
        "<test>:1:1: alb.tls_server_name: expected the host name on the certificate (API Gateway verifies it "
        "on the HTTPS listener), got nothing"),
    "same listener ports": (
        "alb:\n  https_port: 80\n",
        "<test>:2:3: alb.https_port: expected a port other than http_port, got 80"),
    "repeated throttle operation": (
        "monitoring:\n  dynamodb_throttle_operations: [Query, Query]\n",
        "<test>:2:3: monitoring.dynamodb_throttle_operations: expected each operation once, got ['Query', 'Query']"),
    "noncurrent versions expire before archiving": (
        "storage:\n  noncurrent_glacier_days: 500\n  noncurrent_expiration_days: 400\n",
        "<test>:2:3: storage.noncurrent_glacier_days: expected fewer days than noncurrent_expiration_days, got 500"),
    "noncurrent versions kept less than a year": (
        "storage:\n  noncurrent_expiration_days: 100\n",
        "<test>:2:3: storage.noncurrent_expiration_days: expected a number >= 365, got integer 100"),
    "skip of an unknown check id": (
        f"compliance:\n  skips:\n    aws_lb.this:\n      CKV_AWS_X: {REASON}\n",
        "<test>:2:3: compliance.skips: aws_lb.this: expected a checkov check ID such as 'CKV_AWS_116', "
        "got 'CKV_AWS_X'"),
    "skip without a specific reason": (
        "compliance:\n  skips:\n    aws_lb.this:\n      CKV_AWS_91: not applicable\n",
        "<test>:2:3: compliance.skips: aws_lb.this.CKV_AWS_91: expected a specific reason (at least 40 characters "
        "saying why the check does not apply here), got 'not applicable'"),
    "skip of something that is not a block address": (
        f"compliance:\n  skips:\n    lambda:\n      CKV_AWS_116: {REASON}\n",
        "<test>:2:3: compliance.skips: expected a block address such as 'aws_lambda_function.this' or "
        "'data.aws_iam_policy_document.kms', got 'lambda'"),
}


@pytest.mark.parametrize("case", CASES)
def test_stack_setting_is_refused_with_its_position(case: str) -> None:
    extra, message = CASES[case]
    with pytest.raises(ConfigError) as info:
        loaded("prod", extra)
    assert info.value.problems == [message]


def test_prod_keeps_every_new_setting_at_its_default() -> None:
    prod = loaded("prod").model
    assert prod.database.secret_recovery_window_days == 30 and prod.alb.deletion_protection is True
    assert loaded("dev").model.database.secret_recovery_window_days == 0
    assert loaded("dev").model.alb.deletion_protection is False


def test_a_certificate_requires_cancelling_the_skips_only_plain_http_needs() -> None:
    with pytest.raises(ConfigError) as info:
        loaded("prod", CERTIFICATE_ARN + SERVER_NAME)
    reason = ("expected no skip once alb.certificate_arn is set (the ALB then serves HTTPS only, so the check "
              "passes): set it to null, got a skip")
    assert info.value.problems == [
        f"{ENV_DIR / 'defaults.yaml'}:{line}:{column}: compliance.skips.{path}: {reason}"
        for line, column, path in [(_line("      CKV2_AWS_20:"), 7, "aws_lb.this.CKV2_AWS_20"),
                                   (_line("      CKV_AWS_103:"), 7, "aws_lb_listener.http.CKV_AWS_103"),
                                   (_line("      CKV_AWS_2:"), 7, "aws_lb_listener.http.CKV_AWS_2"),
                                   (_line("      CKV_AWS_260:"), 7,
                                    "aws_vpc_security_group_ingress_rule.alb_from_vpc_link.CKV_AWS_260")]]
    assert loaded("prod", CERTIFICATE).model.compliance.active().get("aws_lb_listener.http") is None


def test_an_environment_adds_skips_to_the_shared_ones_and_null_cancels_one() -> None:
    dev = loaded("dev").model.compliance.active()
    assert set(dev["aws_lb.this"]) == {"CKV2_AWS_20", "CKV_AWS_150"}
    assert "aws_lb.this" not in loaded("prod", "compliance:\n  skips:\n    aws_lb.this: {CKV2_AWS_20: null}\n"
                                       ).model.compliance.active()


def _line(prefix: str) -> int:
    """The line of defaults.yaml that starts with ``prefix`` (exactly one does)."""
    lines = (ENV_DIR / "defaults.yaml").read_text().splitlines()
    [number] = [index for index, line in enumerate(lines, 1) if line.startswith(prefix)]
    return number


def test_account_id_is_optional_and_kept_as_written() -> None:
    assert loaded("prod").model.aws_account_id is None
    assert loaded("prod", "aws_account_id: '011122223333'\n").model.aws_account_id == "011122223333"


def test_the_provider_allows_only_the_environments_account_when_it_is_set() -> None:
    from tests.stack import hcl

    [provider] = [block["aws"] for block in hcl("prod", "providers.tf")["provider"]]
    assert "allowed_account_ids" not in provider
    extra = "aws_account_id: '011122223333'\n"
    [provider] = [block["aws"] for block in hcl("prod", "providers.tf", extra)["provider"]]
    assert provider["allowed_account_ids"] == ["011122223333"]


def test_every_allowed_currency_needs_its_own_limits() -> None:
    from tests.stack import loaded
    from tfgen.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        loaded("dev", "lambda:\n  allowed_currencies: [EUR, JPY]\n")
    assert "lambda.currency_limits: expected limits for every allowed currency" in str(caught.value)
    assert "got none for JPY" in str(caught.value)
    with pytest.raises(ConfigError, match=r"lambda\.currency_limits\.EUR\.min_amount: expected at most max_amount"):
        loaded("dev", "lambda:\n  currency_limits:\n    EUR: {min_amount: 20.0, max_amount: 10.0}\n")
