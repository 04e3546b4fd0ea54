"""The Storage and compliance section of SPEC.md: the audit log bucket."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import ENV_DIR, LAMBDAS, data, loaded, local, ref, resource, statements
from tfgen.errors import ConfigError

BUCKET = ref("aws_s3_bucket.this.id")


def lifecycle_rule(env: str, extra: str = "", bucket: str = "this") -> dict[str, Any]:
    config = resource(env, "storage.tf", "aws_s3_bucket_lifecycle_configuration", bucket, extra)
    [rule] = config["rule"]
    assert rule["status"] == "Enabled" and config["bucket"] == ref(f"aws_s3_bucket.{bucket}.id")
    return rule  # type: ignore[no-any-return]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_bucket_named_payment_audit_logs_env(env: str) -> None:
    assert resource(env, "storage.tf", "aws_s3_bucket", "this")["bucket"] == f"payment-audit-logs-{env}"


def test_bucket_suffix_renames_both_buckets_when_the_designs_names_are_taken() -> None:
    # S3 bucket names are global: a team whose payment-audit-logs-prod belongs to someone else
    # appends a suffix such as its account id; every reference follows the names.
    extra = "storage:\n  bucket_suffix: '111122223333'\n"
    assert resource("prod", "storage.tf", "aws_s3_bucket", "this", extra)["bucket"] == \
        "payment-audit-logs-prod-111122223333"
    assert resource("prod", "storage.tf", "aws_s3_bucket", "access_logs", extra)["bucket"] == \
        "payment-access-logs-prod-111122223333"
    assert local("prod", "storage.tf", "access_log_prefixes", extra)["s3"] == "s3/payment-audit-logs-prod-111122223333/"


def test_a_bucket_suffix_that_makes_a_name_too_long_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        loaded("staging", f"storage:\n  bucket_suffix: '{'a' * 36}'\n")
    # payment-audit-logs-staging-<36> is exactly 63 characters; the access-log name is one longer.
    assert info.value.problems == [
        f"{ENV_DIR / 'staging.yaml'}:1:1: environment 'staging': S3 bucket name "
        f"'payment-access-logs-staging-{'a' * 36}' is 64 characters, AWS allows at most 63"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_versioning_enabled(env: str) -> None:
    versioning = resource(env, "storage.tf", "aws_s3_bucket_versioning", "this")
    assert versioning["bucket"] == BUCKET
    assert versioning["versioning_configuration"] == [{"status": "Enabled"}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_lifecycle_to_glacier_after_90_days(env: str) -> None:
    rule = lifecycle_rule(env)
    assert rule["transition"] == [{"days": 90, "storage_class": "GLACIER"}]
    assert rule["noncurrent_version_transition"] == [{"noncurrent_days": 90, "storage_class": "GLACIER"}]
    assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 7}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("bucket", ["this", "access_logs"])
def test_objects_under_128_kb_transition_too(env: str, bucket: str) -> None:
    # S3's default minimum (all_storage_classes_128K) would keep every audit record and most
    # log files out of GLACIER: they are smaller than 128 KB.
    config = resource(env, "storage.tf", "aws_s3_bucket_lifecycle_configuration", bucket)
    assert config["transition_default_minimum_object_size"] == "varies_by_storage_class"
    assert "object_size_greater_than" not in str(config["rule"])


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_audit_records_do_not_expire_by_default(env: str) -> None:
    rule = lifecycle_rule(env)
    assert "expiration" not in rule and "noncurrent_version_expiration" not in rule


def test_expiry_when_configured_is_never_before_365_days() -> None:
    extra = "storage:\n  audit_expiration_days: 2555\n  noncurrent_expiration_days: 400\n"
    rule = lifecycle_rule("prod", extra)
    assert rule["expiration"] == [{"days": 2555}]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 400}]
    with pytest.raises(ConfigError, match=r"storage\.audit_expiration_days: expected a number >= 365, got integer 300"):
        loaded("prod", "storage:\n  audit_expiration_days: 300\n")


@pytest.mark.parametrize(("env", "force_destroy"), [("dev", True), ("staging", True), ("prod", False)])
def test_force_destroy_only_outside_prod(env: str, force_destroy: bool) -> None:
    assert resource(env, "storage.tf", "aws_s3_bucket", "this")["force_destroy"] is force_destroy


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_public_access_blocked_and_acls_disabled(env: str) -> None:
    block = resource(env, "storage.tf", "aws_s3_bucket_public_access_block", "this")
    assert block == {"bucket": BUCKET, "block_public_acls": True, "block_public_policy": True,
                     "ignore_public_acls": True, "restrict_public_buckets": True}
    ownership = resource(env, "storage.tf", "aws_s3_bucket_ownership_controls", "this")
    assert ownership["rule"] == [{"object_ownership": "BucketOwnerEnforced"}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_server_side_encryption_with_the_s3_key(env: str) -> None:
    sse = resource(env, "storage.tf", "aws_s3_bucket_server_side_encryption_configuration", "this")
    [rule] = sse["rule"]
    assert rule["apply_server_side_encryption_by_default"] == [
        {"sse_algorithm": "aws:kms", "kms_master_key_id": ref('aws_kms_key.this["s3"].arn')}]
    assert rule["bucket_key_enabled"] is True


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_bucket_policy_denies_non_tls_access(env: str) -> None:
    policy = resource(env, "storage.tf", "aws_s3_bucket_policy", "this")
    assert policy["policy"] == ref("data.aws_iam_policy_document.audit_bucket.json")
    found = {s["sid"]: s for s in statements(data(env, "storage.tf", "aws_iam_policy_document", "audit_bucket"))}
    everything = [ref("aws_s3_bucket.this.arn"), ref("aws_s3_bucket.this.arn") + "/*"]
    insecure = found["DenyInsecureTransport"]
    assert insecure["effect"] == "Deny" and insecure["resources"] == everything
    assert insecure["principals"] == [{"type": "*", "identifiers": ["*"]}]
    assert insecure["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
    old_tls = found["DenyOutdatedTls"]
    assert old_tls["effect"] == "Deny" and old_tls["resources"] == everything
    assert old_tls["condition"] == [{"test": "NumericLessThan", "variable": "s3:TlsVersion",
                                     "values": [ref("local.audit_minimum_tls_version")]}]
    assert local(env, "storage.tf", "audit_minimum_tls_version") == "1.2"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_audit_records_go_under_the_prefix_the_handler_writes(env: str) -> None:
    assert local(env, "storage.tf", "audit_prefix") == "audit/"
    source = (LAMBDAS / "transaction_processing" / "audit_record.py").read_text()
    assert 'AUDIT_PREFIX = "audit/"' in source


# --- access logs --------------------------------------------------------------------------

LOG_BUCKET = ref("aws_s3_bucket.access_logs.id")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_request_to_the_audit_bucket_is_logged_to_the_access_log_bucket(env: str) -> None:
    logging = resource(env, "storage.tf", "aws_s3_bucket_logging", "this")
    assert logging["bucket"] == BUCKET and logging["target_bucket"] == LOG_BUCKET
    assert logging["target_prefix"] == ref("local.access_log_prefixes.s3")
    assert local(env, "storage.tf", "access_log_prefixes") == {"alb": "alb", "s3": f"s3/payment-audit-logs-{env}/"}


@pytest.mark.parametrize(("env", "force_destroy"), [("dev", True), ("staging", True), ("prod", False)])
def test_access_log_bucket_is_private_versioned_and_sse_s3(env: str, force_destroy: bool) -> None:
    bucket = resource(env, "storage.tf", "aws_s3_bucket", "access_logs")
    assert bucket["bucket"] == f"payment-access-logs-{env}" and bucket["force_destroy"] is force_destroy
    block = resource(env, "storage.tf", "aws_s3_bucket_public_access_block", "access_logs")
    assert block == {"bucket": LOG_BUCKET, "block_public_acls": True, "block_public_policy": True,
                     "ignore_public_acls": True, "restrict_public_buckets": True}
    ownership = resource(env, "storage.tf", "aws_s3_bucket_ownership_controls", "access_logs")
    assert ownership["rule"] == [{"object_ownership": "BucketOwnerEnforced"}]
    versioning = resource(env, "storage.tf", "aws_s3_bucket_versioning", "access_logs")
    assert versioning["versioning_configuration"] == [{"status": "Enabled"}]
    # Neither S3 server access logging nor ALB access logs deliver to an SSE-KMS bucket.
    sse = resource(env, "storage.tf", "aws_s3_bucket_server_side_encryption_configuration", "access_logs")
    assert sse["rule"] == [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_access_logs_are_kept_a_year_three_months_at_hand(env: str) -> None:
    rule = lifecycle_rule(env, bucket="access_logs")
    assert rule["transition"] == [{"days": 90, "storage_class": "GLACIER"}]
    assert rule["expiration"] == [{"days": 365}]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 365}]


def test_access_logs_cannot_be_kept_less_than_a_year() -> None:
    with pytest.raises(ConfigError, match=r"storage\.access_log_expiration_days: expected a number >= 365"):
        loaded("prod", "storage:\n  access_log_expiration_days: 90\n")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_access_log_bucket_policy_admits_only_the_two_log_deliveries_over_tls(env: str) -> None:
    policy = resource(env, "storage.tf", "aws_s3_bucket_policy", "access_logs")
    assert policy["policy"] == ref("data.aws_iam_policy_document.access_logs.json")
    found = {s["sid"]: s for s in statements(data(env, "storage.tf", "aws_iam_policy_document", "access_logs"))}
    assert set(found) == {"S3ServerAccessLogs", "AlbAccessLogs", "DenyInsecureTransport", "DenyOutdatedTls"}
    s3 = found["S3ServerAccessLogs"]
    assert s3["actions"] == ["s3:PutObject"]
    assert s3["resources"] == [ref("aws_s3_bucket.access_logs.arn") + "/" + ref("local.access_log_prefixes.s3") + "*"]
    assert s3["principals"] == [{"type": "Service", "identifiers": ["logging.s3.amazonaws.com"]}]
    assert {c["variable"]: c["values"] for c in s3["condition"]} == {
        "aws:SourceArn": [ref("aws_s3_bucket.this.arn")], "aws:SourceAccount": [ref("local.account_id")]}
    alb = found["AlbAccessLogs"]
    assert alb["actions"] == ["s3:PutObject"]
    assert alb["resources"] == [ref("aws_s3_bucket.access_logs.arn") + "/" + ref("local.access_log_prefixes.alb")
                                + "/AWSLogs/" + ref("local.account_id") + "/*"]
    assert alb["principals"] == [{"type": "AWS", "identifiers": [ref("data.aws_elb_service_account.this.arn")]}]
    for sid in ("DenyInsecureTransport", "DenyOutdatedTls"):
        assert found[sid]["effect"] == "Deny" and found[sid]["principals"] == [{"type": "*", "identifiers": ["*"]}]
