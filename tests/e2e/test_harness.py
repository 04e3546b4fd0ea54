"""The e2e harness's own parts, quickly: the drift allowlist, the provider settings and endpoint
coverage, the emulator's start/stop and failure, and the moto fix the launcher applies. No
terraform needed."""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import SHIPPED_ENVS
from tests.stack import ENV_DIR, LAMBDAS, TEMPLATES
from tfgen.config import environment
from tfgen.render import templates as render
from tfgen.render.lint import parse

from . import allowlist
from .emulator import Emulator, EmulatorError
from .provider import ENDPOINT_SERVICES, overrides, uncovered_types


def change(address: str, before: dict[str, Any], after: dict[str, Any], unknown: dict[str, Any] | None = None,
           actions: tuple[str, ...] = ("update",), replace: list[list[str]] | None = None) -> dict[str, Any]:
    kind = address.split(".")[0]
    return {"address": address, "mode": "managed", "type": kind,
            "change": {"actions": list(actions), "before": before, "after": after,
                       "after_unknown": unknown or {}, "replace_paths": replace or []}}


def plan(*changes: dict[str, Any], outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"resource_changes": list(changes), "output_changes": outputs or {}}


KMS_DRIFT = change('aws_kms_key.this["rds"]', {"rotation_period_in_days": 0}, {"rotation_period_in_days": 365})


def test_a_plan_with_no_changes_passes() -> None:
    verdict = allowlist.check(plan(change("aws_vpc.this", {"cidr_block": "10.0.0.0/16"},
                                          {"cidr_block": "10.0.0.0/16"}, actions=("no-op",))))
    assert (verdict.problems, verdict.allowed, verdict.changed_resources) == ([], [], 0)


def test_a_listed_artefact_is_allowed_and_counted() -> None:
    verdict = allowlist.check(plan(KMS_DRIFT))
    assert verdict.problems == []
    assert verdict.summary() == "aws_kms_key.rotation_period_in_days x1"


def test_anything_else_fails_naming_the_address_and_attribute() -> None:
    verdict = allowlist.check(plan(KMS_DRIFT, change("aws_lb.this", {"idle_timeout": 60, "name": "a"},
                                                     {"idle_timeout": 30, "name": "a"})))
    assert verdict.problems == ["aws_lb.this: idle_timeout: 60 -> 30 (not an allowlisted emulator artefact)"]


def test_a_knock_on_is_allowed_only_as_unknown_and_only_with_its_cause() -> None:
    knock_on = change('aws_iam_role_policy.lambda["pv"]', {"policy": "{}"}, {"policy": None}, {"policy": True})
    assert allowlist.check(plan(KMS_DRIFT, knock_on)).problems == []
    [alone] = allowlist.check(plan(knock_on)).problems
    assert alone.startswith('aws_iam_role_policy.lambda["pv"]: policy: ') and "not in this plan" in alone
    known = change('aws_iam_role_policy.lambda["pv"]', {"policy": "{}"}, {"policy": '{"a": 1}'})
    [changed] = allowlist.check(plan(KMS_DRIFT, known)).problems
    assert "a known value changes" in changed


def test_creation_deletion_and_replacement_fail() -> None:
    problems = allowlist.check(plan(
        change("aws_sns_topic.errors", {}, {"name": "x"}, actions=("create",)),
        change("aws_sns_topic.old", {"name": "y"}, {}, actions=("delete",)),
        change('aws_lambda_permission.alb["pv-blue"]', {"qualifier": "green"}, {"qualifier": "blue"},
               actions=("delete", "create"), replace=[["qualifier"]]),
    )).problems
    assert problems == [
        "aws_sns_topic.errors: would be created again (missing from the emulator or from state)",
        "aws_sns_topic.old: would be destroyed (no longer in the configuration)",
        "aws_lambda_permission.alb[\"pv-blue\"]: qualifier: 'green' -> 'blue' (forces replacement) "
        "(not an allowlisted emulator artefact)",
    ]


def test_a_changing_output_fails() -> None:
    verdict = allowlist.check(plan(outputs={"vpc_id": {"actions": ["update"], "before": "a", "after": "b"}}))
    assert verdict.problems == ["output vpc_id: planned update: 'a' -> 'b'"]


def test_every_allowlist_entry_has_a_reason_and_knock_ons_name_a_listed_cause() -> None:
    direct = {entry.pair for entry in allowlist.ALLOWLIST if entry.caused_by is None}
    for entry in allowlist.ALLOWLIST:
        assert len(entry.reason) > 20, entry
        assert entry.caused_by is None or entry.caused_by in direct, entry
    assert len({entry.pair for entry in allowlist.ALLOWLIST}) == len(allowlist.ALLOWLIST)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_the_overrides_point_every_endpoint_at_the_emulator(env: str) -> None:
    """What the e2e test renders: the provider calls only the emulator, as the test account, and
    still asks sts for the account id; the state stays local."""
    url = "http://127.0.0.1:54321"
    files = render.render(environment.load(ENV_DIR, env, overrides(url)), TEMPLATES, LAMBDAS).files
    provider = parse(files["providers.tf"].decode())["provider"][0]["aws"]
    assert provider["endpoints"] == [{service: url for service in ENDPOINT_SERVICES}]
    assert (provider["access_key"], provider["secret_key"]) == ("test", "test")
    assert provider.get("skip_requesting_account_id") in (None, False)
    assert parse(files["backend.tf"].decode())["terraform"][0]["backend"][0] == {
        "local": {"path": "terraform.tfstate"}}


def test_types_without_an_emulator_endpoint_are_reported(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_vpc" "a" {}\ndata "aws_caller_identity" "b" {}\n'
        'ephemeral "aws_secretsmanager_random_password" "c" {}\nresource "aws_wafv2_web_acl" "d" {}\n'
        'data "aws_iam_policy_document" "e" {}\nresource "aws_lb_listener_rule" "f" {}\n')
    assert uncovered_types(tmp_path) == [
        "aws_wafv2_web_acl: no known endpoint (add it to TYPE_SERVICES and, if new, its service to "
        "ENDPOINT_SERVICES)"]


def test_an_emulator_that_cannot_start_is_an_error_not_a_skip(tmp_path: Path) -> None:
    broken = Emulator(tmp_path / "moto.log", command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(EmulatorError, match="exited with code 3"):
        broken.start()
    assert not broken.running


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Emulator(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


def test_the_emulator_answers_and_stops(tmp_path: Path) -> None:
    server = Emulator(tmp_path / "moto.log")
    with server:
        process = server.process
        assert server.running and server.url.startswith("http://127.0.0.1:")
    assert process is not None and process.poll() is not None
    log = (tmp_path / "moto.log").read_text()
    assert all(f"fix {name} applied" in log
               for name in ("lambda-alias-policies", "log-resent-requests", "answer-resent-requests",
                            "s3-lifecycle-minimum-object-size", "cloudwatch-percentiles"))
    assert server.fixes_not_applied() == []
    server.stop()  # idempotent


def test_the_emulator_serves_one_request_per_connection(moto: Emulator) -> None:
    import http.client
    from urllib.parse import urlparse

    url = urlparse(moto.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.request("GET", "/moto-api/")
        response = connection.getresponse()
        response.read()
        assert response.version == 10  # HTTP/1.0: the server closes the connection after answering
        assert response.will_close
    finally:
        connection.close()


def test_the_emulator_log_names_requests_the_sdk_resent(moto: Emulator) -> None:
    import http.client
    from urllib.parse import urlparse

    url = urlparse(moto.url)
    for attempt in (1, 2):
        connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
        try:
            connection.request("GET", f"/moto-api/?probe={attempt}",
                               headers={"amz-sdk-request": f"attempt={attempt}; max=3",
                                        "amz-sdk-invocation-id": f"probe-{attempt}"})
            connection.getresponse().read()
        finally:
            connection.close()
    log = moto.log_path.read_text()
    assert 'resent by the SDK: "GET /moto-api/?probe=2 HTTP/1.1" attempt=2; max=3 (invocation probe-2)' in log
    assert "invocation probe-1" not in log


def test_a_resent_call_is_answered_as_the_first_attempt_was_not_carried_out_twice(moto: Emulator) -> None:
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="test",
                       aws_secret_access_key="test", config=Config(proxies={}, retries={"max_attempts": 1}))
    attempt = {"n": 1}

    def as_attempt(request: Any, **_: Any) -> None:  # what the SDK sends when it resends a request
        request.headers["amz-sdk-invocation-id"] = "resent-create-role"
        request.headers["amz-sdk-request"] = f"attempt={attempt['n']}; max=3"

    iam.meta.events.register("before-send.iam.CreateRole", as_attempt)
    first = iam.create_role(RoleName="resent", AssumeRolePolicyDocument="{}")["Role"]
    attempt["n"] = 2
    again = iam.create_role(RoleName="resent", AssumeRolePolicyDocument="{}")["Role"]  # not EntityAlreadyExists
    assert again["Arn"] == first["Arn"] and again["RoleId"] == first["RoleId"]
    assert "resent invocation resent-create-role answered with its first response" in moto.log_path.read_text()
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):  # a new invocation is carried out
        iam.meta.events.unregister("before-send.iam.CreateRole", as_attempt)
        iam.create_role(RoleName="resent", AssumeRolePolicyDocument="{}")


def test_alias_permissions_are_kept_per_alias_as_on_aws(moto: Emulator) -> None:
    def client(service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="test",
                            aws_secret_access_key="test", config=Config(proxies={}))

    role = client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    lam = client("lambda")
    lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"ZipFile": package.getvalue()}, Publish=True)
    for alias in ("blue", "green"):
        lam.create_alias(FunctionName="fn", Name=alias, FunctionVersion="1")
        lam.add_permission(FunctionName="fn", Qualifier=alias, StatementId="AllowExecutionFromALB",
                           Action="lambda:InvokeFunction", Principal="elasticloadbalancing.amazonaws.com")

    def statements(alias: str) -> list[str]:
        import json

        policy = json.loads(lam.get_policy(FunctionName="fn", Qualifier=alias)["Policy"])
        return [statement["Resource"].rsplit(":", 1)[-1] for statement in policy["Statement"]]

    assert (statements("blue"), statements("green")) == (["blue"], ["green"])
    lam.remove_permission(FunctionName="fn", Qualifier="blue", StatementId="AllowExecutionFromALB")
    assert statements("green") == ["green"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName="fn", Qualifier="blue")


def test_a_lifecycle_configuration_reads_back_its_minimum_object_size_as_on_aws(moto: Emulator) -> None:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="test",
                      aws_secret_access_key="test", config=Config(proxies={}, s3={"addressing_style": "path"}))
    rules = {"Rules": [{"ID": "archive", "Status": "Enabled", "Filter": {},
                        "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}]}]}
    for bucket, size in (("small-objects", "varies_by_storage_class"), ("default-size", None)):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rules,
                                              **({"TransitionDefaultMinimumObjectSize": size} if size else {}))
        read = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        assert read["TransitionDefaultMinimumObjectSize"] == (size or "all_storage_classes_128K")


def test_a_percentile_is_answered_from_the_values_put_as_on_aws(moto: Emulator) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="test",
                              aws_secret_access_key="test", config=Config(proxies={}))
    now = datetime.now(UTC).replace(microsecond=0)
    dims = [{"Name": "LoadBalancer", "Value": "app/alb/1"}, {"Name": "TargetGroup", "Value": "targetgroup/tg/2"}]
    values = [float(ms) / 1000 for ms in range(1, 201)]  # 1 ms .. 200 ms
    cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "TargetResponseTime", "Dimensions": dims, "Timestamp": now, "Values": values}])
    cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "Aggregated", "Dimensions": dims, "Timestamp": now,
         "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 1, "Maximum": 2}}])

    def query(metric: str, stat: str) -> list[float]:
        answer = cloudwatch.get_metric_data(
            StartTime=now - timedelta(minutes=1), EndTime=now + timedelta(minutes=1),
            MetricDataQueries=[{"Id": "q", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB",
                                                                     "MetricName": metric, "Dimensions": dims},
                                                          "Period": 120, "Stat": stat}}])
        [result] = answer["MetricDataResults"]
        return list(result["Values"])

    assert query("TargetResponseTime", "p99") == [0.198]  # the 198th of 200 values
    assert query("TargetResponseTime", "p50") == [0.1]
    assert query("TargetResponseTime", "Maximum") == [0.2]
    assert query("Aggregated", "Sum") == [3.0]
    assert query("Aggregated", "p99") == []  # a statistic set has no percentile: no value, as on AWS


def test_the_percentile_is_the_nearest_rank() -> None:
    from .moto_launcher import percentile

    assert percentile([5.0, 1.0, 3.0], "p50") == 3.0
    assert percentile([5.0, 1.0, 3.0], "p100") == 5.0
    assert percentile([5.0, 1.0, 3.0], "p0.1") == 1.0
    assert percentile([], "p99") is None
    assert percentile([1.0], "Average") is None


def test_without_artefacts_reads_exactly_the_listed_artefacts_as_unchanged() -> None:
    drift = change('aws_lambda_function.this["pv"]', {"logging_config": [], "version": "3", "memory_size": 512},
                   {"logging_config": [{"log_format": "JSON"}], "version": None, "memory_size": 512},
                   {"version": True})
    real = change('aws_lambda_function.this["fd"]', {"logging_config": [], "memory_size": 512},
                  {"logging_config": [{"log_format": "JSON"}], "memory_size": 1024})
    alone = change('aws_iam_role_policy.lambda["pv"]', {"policy": "{}"}, {"policy": None}, {"policy": True})
    created = change("aws_sns_topic.errors", {}, {"name": "x"}, actions=("create",))
    cleaned = allowlist.without_artefacts(plan(drift, real, alone, created))
    by_address = {rc["address"]: rc["change"] for rc in cleaned["resource_changes"]}
    assert by_address['aws_lambda_function.this["pv"]']["actions"] == ["no-op"]
    assert by_address['aws_lambda_function.this["pv"]']["after"]["version"] == "3"
    # a change beyond the artefacts stays, the artefact in it read as unchanged
    assert by_address['aws_lambda_function.this["fd"]']["actions"] == ["update"]
    assert by_address['aws_lambda_function.this["fd"]']["after"] == {"logging_config": [], "memory_size": 1024}
    # a knock-on without its cause in the plan, and a creation, stay
    assert by_address['aws_iam_role_policy.lambda["pv"]']["actions"] == ["update"]
    assert by_address["aws_sns_topic.errors"]["actions"] == ["create"]
    # the plan given is not changed
    assert drift["change"]["actions"] == ["update"]
