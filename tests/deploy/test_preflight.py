"""`tfgen preflight`: the judges on fixtures, then every check against moto in-process.

moto has no Lambda GetAccountSettings, answers Service Quotas only for the vpc service, and
does not model bucket ownership across accounts; those answers are stubbed on the client
(a ``before-call`` handler, as botocore's Stubber does), every other call goes to moto.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest

from tests.conftest import Run
from tests.stack import loaded
from tfgen.deploy import preflight
from tfgen.deploy.preflight import Check
from tfgen.errors import UsageError

ACCOUNT = "123456789012"  # moto's account
OTHER = "111122223333"
Clients = Callable[[str], Any]

# --- the judges ---------------------------------------------------------------------------------


def test_credentials_judged_against_aws_account_id() -> None:
    assert preflight.judge_credentials(ACCOUNT, None) == Check(
        "credentials", "ok", f"account {ACCOUNT} (aws_account_id is not set, so any account is accepted)")
    assert preflight.judge_credentials(ACCOUNT, ACCOUNT) == Check(
        "credentials", "ok", f"account {ACCOUNT}, as aws_account_id says")
    assert preflight.judge_credentials(ACCOUNT, OTHER) == Check(
        "credentials", "problem", f"the credentials are for account {ACCOUNT}, but aws_account_id is {OTHER}: "
                                  "plan and apply refuse them")
    assert preflight.judge_credentials(None, OTHER, "NoCredentialsError: Unable to locate credentials") == Check(
        "credentials", "problem", "no usable AWS credentials (NoCredentialsError: Unable to locate credentials): "
                                  "nothing can be applied")


def test_dev_staging_and_prod_in_one_account_need_seven_elastic_ips() -> None:
    # dev's one NAT gateway and staging's three already hold 4 EIPs; prod needs 3 more.
    assert preflight.judge_elastic_ips(3, 4, None, "NoSuchResourceException") == Check(
        "elastic IPs", "problem",
        "3 for this environment's NAT gateways + 4 already allocated = 7 of 5 (AWS's default quota "
        "(NoSuchResourceException)): the NAT gateways' EIPs would fail to allocate; release EIPs or request "
        "more (Service Quotas ec2 L-0263D0A3)")
    assert preflight.judge_elastic_ips(3, 4, 10.0) == Check(
        "elastic IPs", "ok", "3 for this environment's NAT gateways + 4 already allocated = 7 of 10 (quota)")
    assert preflight.judge_elastic_ips(3, 2, None).status == "ok"  # exactly 5 of 5 fits


def test_lambda_must_keep_100_unreserved() -> None:
    # prod reserves 10 + 10 + 20 + 1 = 41.
    assert preflight.judge_concurrency(41, 1000, 1000, 0) == Check(
        "Lambda concurrency", "ok",
        "account limit 1000, 0 reserved by other functions, 41 reserved here: 959 left unreserved")
    # New accounts often start at a limit of 10: no reservation fits.
    check = preflight.judge_concurrency(41, 10, 10, 0)
    assert check.status == "problem" and check.detail.startswith(
        "account limit 10, 0 reserved by other functions, 41 reserved here: -31 left unreserved, Lambda keeps "
        "at least 100: setting the reserved concurrency would fail;")
    # Re-run against the deployed stack: its own reservations are not counted twice.
    assert preflight.judge_concurrency(41, 141, 100, 41).status == "ok"
    # Other functions' reservations count.
    assert preflight.judge_concurrency(41, 1000, 100, 0).detail.startswith(
        "account limit 1000, 900 reserved by other functions, 41 reserved here: 59 left unreserved")


@pytest.mark.parametrize(("status", "expected"), [
    (200, Check("bucket b", "ok", "exists and belongs to this account")),
    (404, Check("bucket b", "ok", "free")),
    (403, Check("bucket b", "problem", "taken by another account (HeadBucket answered 403); bucket names are "
                                       "global: set storage.bucket_suffix, for example to the account id")),
    (500, Check("bucket b", "could-not-check", "HeadBucket failed: InternalError")),
])
def test_bucket_names_are_free_or_this_accounts(status: int, expected: Check) -> None:
    assert preflight.judge_bucket("b", status, "InternalError") == expected


@pytest.mark.parametrize(("status", "versioning", "expected"), [
    (200, "Enabled", Check("state bucket s", "ok", "exists, versioning enabled")),
    (200, None, Check("state bucket s", "problem", "versioning is off: turn it on, so an overwritten or deleted "
                                                    "state can be recovered")),
    (200, "Suspended", Check("state bucket s", "problem", "versioning is Suspended: turn it on, so an "
                                                           "overwritten or deleted state can be recovered")),
    (404, None, Check("state bucket s", "problem", "does not exist: create it, with versioning, before "
                                                   "`tfgen init`")),
    (403, None, Check("state bucket s", "problem", "not readable with these credentials (HeadBucket answered 403)")),
])
def test_state_bucket_exists_with_versioning(status: int, versioning: str | None, expected: Check) -> None:
    assert preflight.judge_state_bucket("s", status, versioning) == expected


# --- against moto ---------------------------------------------------------------------------------


class _Answer:
    status_code = 200


def answer(client: Any, operation: str, parsed: dict[str, Any] | Exception) -> None:
    """Answer ``operation`` on ``client`` with ``parsed`` (or raise it), without calling AWS."""
    def handler(**_: Any) -> Any:
        if isinstance(parsed, Exception):
            raise parsed
        return _Answer(), parsed
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.unregister(event, unique_id=f"answer-{operation}")  # the latest answer wins
    client.meta.events.register(event, handler, unique_id=f"answer-{operation}")


def client_error(status: int, code: str, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto in-process; the returned dict holds the clients the checks will use, by service."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        made: dict[str, Any] = {service: boto3.client(service, region_name="us-east-1")
                                for service in ("sts", "s3", "ec2", "lambda", "service-quotas", "iam")}
        answer(made["lambda"], "GetAccountSettings", {"AccountLimit": {
            "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}})
        made["s3"].create_bucket(Bucket="iac-rlhf-tf-states")
        made["s3"].put_bucket_versioning(Bucket="iac-rlhf-tf-states",
                                         VersioningConfiguration={"Status": "Enabled"})
        yield made


def clients(made: dict[str, Any]) -> Clients:
    return made.__getitem__


def lines(report: preflight.Report) -> list[str]:
    return report.text().splitlines()


def test_a_fresh_account_passes_with_the_default_eip_quota(aws: dict[str, Any]) -> None:
    report = preflight.run("prod", loaded("prod").model, clients(aws))
    assert lines(report) == [
        f"ok               credentials: account {ACCOUNT} (aws_account_id is not set, so any account is accepted)",
        "ok               state bucket iac-rlhf-tf-states: exists, versioning enabled",
        "ok               bucket payment-audit-logs-prod: free",
        "ok               bucket payment-access-logs-prod: free",
        "ok               elastic IPs: 3 for this environment's NAT gateways + 0 already allocated = 3 of 5 "
        "(AWS's default quota (NoSuchResourceException: This service is not available in the current Region. "
        "Choose a different Region or a different service.))",
        "ok               Lambda concurrency: account limit 1000, 0 reserved by other functions, 41 reserved here: "
        "959 left unreserved",
    ]
    assert report.problems == []


def test_prod_beside_dev_and_staging_runs_out_of_elastic_ips(aws: dict[str, Any]) -> None:
    ec2 = aws["ec2"]
    for env, count in (("dev", 1), ("staging", 3)):
        for _ in range(count):
            ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [
                {"Key": "Environment", "Value": env}, {"Key": "Project", "Value": "payment"},
                {"Key": "ManagedBy", "Value": "tfgen"}]}])
    prod = preflight.run("prod", loaded("prod").model, clients(aws))
    [eips] = [check for check in prod.checks if check.name == "elastic IPs"]
    assert eips.status == "problem" and eips.detail.startswith(
        "3 for this environment's NAT gateways + 4 already allocated = 7 of 5")
    # staging's own EIPs are not counted twice when staging is checked again.
    staging = preflight.run("staging", loaded("staging").model, clients(aws))
    [eips] = [check for check in staging.checks if check.name == "elastic IPs"]
    assert eips.status == "ok" and eips.detail.startswith(
        "3 for this environment's NAT gateways + 1 already allocated = 4 of 5")


def test_the_eip_quota_comes_from_service_quotas(aws: dict[str, Any]) -> None:
    answer(aws["service-quotas"], "GetServiceQuota", {"Quota": {"Value": 2.0}})
    report = preflight.run("prod", loaded("prod").model, clients(aws))
    [eips] = [check for check in report.checks if check.name == "elastic IPs"]
    assert eips == Check("elastic IPs", "problem",
                         "3 for this environment's NAT gateways + 0 already allocated = 3 of 2 (quota): the NAT "
                         "gateways' EIPs would fail to allocate; release EIPs or request more (Service Quotas ec2 "
                         "L-0263D0A3)")


def _function(aws: dict[str, Any], name: str, reserved: int) -> None:
    role = aws["iam"].create_role(RoleName=f"r-{name}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    aws["lambda"].create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
                                  Code={"ZipFile": package.getvalue()})
    aws["lambda"].put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


def test_concurrency_counts_other_functions_reservations_not_this_environments_own(aws: dict[str, Any]) -> None:
    # The account limit is 1000: another team reserves 870, prod's transaction-processing already 20.
    _function(aws, "someone-else", 870)
    _function(aws, "transaction-processing-prod", 20)
    answer(aws["lambda"], "GetAccountSettings", {"AccountLimit": {
        "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 110}})
    report = preflight.run("prod", loaded("prod").model, clients(aws))
    [check] = [check for check in report.checks if check.name == "Lambda concurrency"]
    assert check == Check("Lambda concurrency", "problem",
                          "account limit 1000, 870 reserved by other functions, 41 reserved here: 89 left "
                          "unreserved, Lambda keeps at least 100: setting the reserved concurrency would fail; "
                          "request a higher concurrency quota (Service Quotas lambda L-B99A9384) or reserve less")


def test_a_bucket_name_another_account_owns_is_a_problem(aws: dict[str, Any]) -> None:
    # moto does not model bucket ownership across accounts: S3's answer is stubbed.
    answer(aws["s3"], "HeadBucket", client_error(403, "403", "HeadBucket"))
    report = preflight.run("dev", loaded("dev").model, clients(aws))
    assert [(c.name, c.status) for c in report.checks if c.name.startswith(("bucket", "state"))] == [
        ("state bucket iac-rlhf-tf-states", "problem"), ("bucket payment-audit-logs-dev", "problem"),
        ("bucket payment-access-logs-dev", "problem")]
    assert report.checks[2].detail == ("taken by another account (HeadBucket answered 403); bucket names are global: "
                                       "set storage.bucket_suffix, for example to the account id")


def test_this_accounts_buckets_pass_and_the_suffix_names_the_buckets_checked(aws: dict[str, Any]) -> None:
    aws["s3"].create_bucket(Bucket="payment-audit-logs-dev")
    report = preflight.run("dev", loaded("dev").model, clients(aws))
    assert report.checks[2] == Check("bucket payment-audit-logs-dev", "ok", "exists and belongs to this account")
    suffixed = preflight.run("dev", loaded("dev", f"storage:\n  bucket_suffix: '{ACCOUNT}'\n").model, clients(aws))
    assert [c.name for c in suffixed.checks[2:4]] == [f"bucket payment-audit-logs-dev-{ACCOUNT}",
                                                      f"bucket payment-access-logs-dev-{ACCOUNT}"]


def test_state_bucket_missing_or_without_versioning(aws: dict[str, Any]) -> None:
    aws["s3"].create_bucket(Bucket="unversioned-states")
    unversioned = preflight.run("dev", loaded("dev", "terraform:\n  state_bucket: unversioned-states\n").model,
                                clients(aws))
    assert unversioned.checks[1] == Check("state bucket unversioned-states", "problem",
                                          "versioning is off: turn it on, so an overwritten or deleted state can "
                                          "be recovered")
    missing = preflight.run("dev", loaded("dev", "terraform:\n  state_bucket: no-such-states\n").model,
                            clients(aws))
    assert missing.checks[1] == Check("state bucket no-such-states", "problem",
                                      "does not exist: create it, with versioning, before `tfgen init`")
    local = preflight.run("dev", loaded("dev", "terraform:\n  backend: local\n").model, clients(aws))
    assert local.checks[1] == Check("state bucket", "ok", "local backend: no state bucket to check")


def test_credentials_of_another_account_are_a_problem(aws: dict[str, Any]) -> None:
    report = preflight.run("prod", loaded("prod", f"aws_account_id: '{OTHER}'\n").model, clients(aws))
    assert report.checks[0] == Check("credentials", "problem",
                                     f"the credentials are for account {ACCOUNT}, but aws_account_id is {OTHER}: "
                                     "plan and apply refuse them")
    assert [c.status for c in report.problems] == ["problem"]


def test_an_api_that_fails_is_could_not_check(aws: dict[str, Any]) -> None:
    answer(aws["ec2"], "DescribeAddresses", client_error(403, "UnauthorizedOperation", "DescribeAddresses"))
    answer(aws["lambda"], "GetAccountSettings", client_error(403, "AccessDeniedException", "GetAccountSettings"))
    report = preflight.run("prod", loaded("prod").model, clients(aws))
    assert report.checks[-2:] == [
        Check("elastic IPs", "could-not-check", "DescribeAddresses failed: UnauthorizedOperation"),
        Check("Lambda concurrency", "could-not-check", "AccessDeniedException")]
    assert report.problems == []


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)


@pytest.mark.usefixtures("no_credentials")
def test_without_credentials_every_other_check_is_could_not_check() -> None:
    report = preflight.run("dev", loaded("dev").model)
    assert lines(report) == [
        "problem          credentials: no usable AWS credentials (NoCredentialsError: Unable to locate "
        "credentials): nothing can be applied",
        "could-not-check  state bucket: no credentials",
        "could-not-check  bucket payment-audit-logs-dev: no credentials",
        "could-not-check  bucket payment-access-logs-dev: no credentials",
        "could-not-check  elastic IPs: no credentials",
        "could-not-check  Lambda concurrency: no credentials",
    ]


# --- plan and apply refuse another account ---------------------------------------------------------


def _never(service: str) -> Any:
    raise AssertionError(f"{service} asked although aws_account_id is not set")


def test_require_account_asks_nothing_without_aws_account_id() -> None:
    preflight.require_account(loaded("prod").model, _never)


def test_require_account_accepts_the_right_account_and_refuses_another(aws: dict[str, Any]) -> None:
    preflight.require_account(loaded("prod", f"aws_account_id: '{ACCOUNT}'\n").model, clients(aws))
    with pytest.raises(UsageError) as info:
        preflight.require_account(loaded("prod", f"aws_account_id: '{OTHER}'\n").model, clients(aws))
    assert str(info.value) == (f"the AWS credentials are for account {ACCOUNT}, but aws_account_id is {OTHER}: "
                               "refusing to run terraform in the wrong account")


@pytest.mark.usefixtures("no_credentials")
def test_require_account_refuses_when_the_account_cannot_be_told() -> None:
    with pytest.raises(UsageError) as info:
        preflight.require_account(loaded("prod", f"aws_account_id: '{OTHER}'\n").model)
    assert str(info.value) == (f"aws_account_id is {OTHER}, but the account of the AWS credentials cannot be told "
                               "(NoCredentialsError: Unable to locate credentials): refusing to run terraform")


# --- the command ---------------------------------------------------------------------------------


def _use(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "clients_for", lambda cfg: clients(aws))


def test_command_prints_one_line_per_check_and_exits_1_on_a_problem(
        run: Run, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _use(aws, monkeypatch)
    answer(aws["service-quotas"], "GetServiceQuota", {"Quota": {"Value": 2.0}})
    result = run("preflight", "prod")
    assert result.exit_code == 1
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["ok", "ok", "ok", "ok", "problem", "ok"]
    assert result.stderr == "prod: 1 problem(s) to fix before an apply\n"


def test_command_json_and_a_clean_exit(run: Run, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _use(aws, monkeypatch)
    result = run("preflight", "dev", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["environment"], document["account"], document["problems"]) == ("dev", ACCOUNT, 0)
    assert document["checks"][0] == {"name": "credentials", "status": "ok",
                                     "detail": f"account {ACCOUNT} (aws_account_id is not set, so any account is "
                                               "accepted)"}
    assert [check["status"] for check in document["checks"]] == ["ok"] * 6


@pytest.mark.parametrize("action", ["plan", "apply"])
def test_plan_and_apply_refuse_credentials_of_another_account(
        run: Run, project: Path, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    from tfgen.deploy import terraform

    with open(project / "environments" / "dev.yaml", "a", encoding="utf-8") as handle:
        handle.write(f"aws_account_id: '{OTHER}'\n")
    assert run("render", "dev").exit_code == 0
    _use(aws, monkeypatch)
    ran: list[list[str]] = []
    monkeypatch.setattr(terraform, "stream", lambda args, directory: ran.append(args) or 0)
    result = run(action, "dev")
    assert (result.exit_code, ran) == (2, [])
    assert result.stderr == (f"tfgen: the AWS credentials are for account {ACCOUNT}, but aws_account_id is {OTHER}: "
                             "refusing to run terraform in the wrong account\n")
    assert run("init", "dev").exit_code == 0 and ran == [["init"]]  # init and destroy do not ask
