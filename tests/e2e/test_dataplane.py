"""The data-plane harness's parts, quickly: the router, the binomial bound, the call audit with
the real IAM evaluator, the worker environment, a worker running a zip with a role's credentials
against moto_server with IAM enforced, and the launcher fixes that enforcement needs. No terraform."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from . import dataplane, iam_audit
from .emulator import Emulator
from .router import Router, binomial_bounds, header_mappings, rule_of

ACCOUNT = "123456789012"
REGION = "us-east-1"
TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/transactions-dev"


def described_rule(priority: int, path: str, method: str, weights: dict[str, int]) -> dict[str, Any]:
    """A listener rule as DescribeRules returns it."""
    return {"Priority": str(priority), "IsDefault": False,
            "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}},
                           {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": [method]}}],
            "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": f"{TG}/{name}/1", "Weight": weight} for name, weight in weights.items()]}}]}


def router(weights: dict[str, int], **kwargs: Any) -> Router:
    rules = [rule_of(described_rule(200, "/payments/*/fraud-check", "POST", {"fd-blue": 1})),
             rule_of(described_rule(100, "/payments", "POST", weights))]
    assert None not in rules
    ordered = sorted((r for r in rules if r is not None), key=lambda r: r.priority)
    aliases = {f"{TG}/{name}/1": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pv:{name.split('-')[1]}"
               for name in (*weights, "fd-blue")}
    return Router(ordered, aliases, **kwargs)


def test_the_router_follows_priority_paths_and_methods() -> None:
    routes = router({"pv-blue": 1})
    routed = routes.route("POST", "/payments/abc/fraud-check")
    assert routed is not None and routed.target_group == f"{TG}/fd-blue/1"
    assert routes.route("GET", "/payments") is None
    assert routes.route("POST", "/refunds") is None
    assert rule_of({"Priority": "default", "IsDefault": True, "Actions": []}) is None


def test_the_router_sends_the_documented_alb_event() -> None:
    routed = router({"pv-blue": 1}).route("POST", "/payments", '{"a": 1}', {"Idempotency-Key": "k"})
    assert routed is not None
    assert routed.event == {
        "requestContext": {"elb": {"targetGroupArn": f"{TG}/pv-blue/1"}}, "httpMethod": "POST", "path": "/payments",
        "body": '{"a": 1}', "isBase64Encoded": False, "queryStringParameters": {},
        "headers": {"content-type": "application/json", "x-forwarded-proto": "https", "idempotency-key": "k"}}
    assert routed.alias_arn.endswith(":function:pv:blue")
    multi = router({"pv-blue": 1}, multi_value={f"{TG}/pv-blue/1": True}).route("POST", "/payments")
    assert multi is not None and multi.event["multiValueHeaders"]["content-type"] == ["application/json"]
    assert "headers" not in multi.event


def test_a_zero_weight_group_gets_nothing_and_the_split_follows_the_weights() -> None:
    routes = router({"pv-blue": 100, "pv-green": 0})
    assert {r.target_group for r in (routes.route("POST", "/payments") for _ in range(500)) if r} == {f"{TG}/pv-blue/1"}
    routes = router({"pv-blue": 90, "pv-green": 10})
    green = sum(1 for _ in range(2000) if (r := routes.route("POST", "/payments")) and "green" in r.target_group)
    low, high = binomial_bounds(2000, 0.1)
    assert low <= green <= high


def test_the_caller_header_is_set_as_the_integration_maps_it() -> None:
    integration = {"RequestParameters": {"overwrite:header.X-Payments-Caller": "$context.identity.userArn",
                                         "overwrite:path": "$request.path"}}
    assert header_mappings(integration) == {"x-payments-caller": "$context.identity.userArn"}
    routes = router({"pv-blue": 1}, headers_from_caller=header_mappings(integration))
    caller = {"$context.identity.userArn": "arn:aws:iam::1:user/m"}
    sent = routes.route("POST", "/payments", headers={"X-Payments-Caller": "forged"}, caller=caller)
    assert sent is not None and sent.event["headers"]["x-payments-caller"] == "arn:aws:iam::1:user/m"
    with pytest.raises(KeyError, match=r"identity\.userArn"):
        routes.route("POST", "/payments", caller={"$context.identity.caller": "x"})
    anonymous = routes.route("POST", "/payments", headers={"X-Payments-Caller": "forged"})
    assert anonymous is not None and "x-payments-caller" not in anonymous.event["headers"]


def test_the_binomial_bound_is_the_central_999_interval() -> None:
    low, high = binomial_bounds(2000, 0.1)
    # Normal approximation: 200 +- 3.29 * sqrt(2000 * 0.1 * 0.9) = 200 +- 44.
    assert abs(low - 156) <= 2 and abs(high - 244) <= 2
    assert binomial_bounds(2000, 0.0) == (0, 0)
    assert binomial_bounds(2000, 1.0) == (2000, 2000)


# --- the call audit, with the real evaluator ----------------------------------------------------

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "TransactionsTable", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
     "Resource": TABLE},
    {"Sid": "CardTokens", "Effect": "Allow", "Action": "kms:GenerateMac",
     "Resource": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1",
     "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}},
    {"Sid": "Audit", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::audit/audit/*"}]}
BUCKET_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
KEY_POLICY = {"Version": "2012-10-17", "Statement": [  # KMS honours IAM policies only if the key policy says so
    {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
     "Action": "kms:*", "Resource": "*"}]}
RESOURCE_POLICIES = {"arn:aws:s3:::audit": BUCKET_POLICY, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1": KEY_POLICY}
CALLER = iam_audit.Caller("payment-validation-dev:blue", f"arn:aws:iam::{ACCOUNT}:role/payment-validation-dev",
                          {"payment-validation-dev": POLICY})


def call(service: str, operation: str, params: dict[str, Any], url: str = "https://127.0.0.1:1/") -> dict[str, Any]:
    return {"service": service, "operation": operation, "params": params, "url": url, "status": 200, "error": None}


def test_calls_become_the_requests_aws_authorises() -> None:
    transact = call("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "transactions-dev"}}, {"Update": {"TableName": "transactions-dev"}}]})
    assert [(r.action, r.resource) for r in iam_audit.requests_for(transact, REGION, ACCOUNT, "1.2") or []] == [
        ("dynamodb:PutItem", TABLE), ("dynamodb:UpdateItem", TABLE)]
    query = call("dynamodb", "Query", {"TableName": "transactions-dev", "IndexName": "user-index"})
    [request] = iam_audit.requests_for(query, REGION, ACCOUNT, "1.2") or []
    assert request.resource == f"{TABLE}/index/user-index"
    assert iam_audit.requests_for(call("lambda", "Invoke", {}), REGION, ACCOUNT, None) is None


def test_the_audit_allows_what_the_role_allows_and_names_what_it_lacks() -> None:
    calls = [call("dynamodb", "GetItem", {"TableName": "transactions-dev"}),
             call("kms", "GenerateMac", {"KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1",
                                         "MacAlgorithm": "HMAC_SHA_256"}),
             call("s3", "PutObject", {"Bucket": "audit", "Key": "audit/t.json"})]
    verdict = iam_audit.audit([(CALLER, c) for c in calls], REGION, ACCOUNT, RESOURCE_POLICIES)
    assert (verdict.checked, verdict.problems) == (3, [])
    wrong = [call("dynamodb", "UpdateItem", {"TableName": "transactions-dev"}),
             call("kms", "GenerateMac", {"KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1",
                                         "MacAlgorithm": "HMAC_SHA_512"}),
             call("dynamodb", "GetItem", {"TableName": "other"}),
             call("lambda", "Invoke", {"FunctionName": "x"})]
    problems = iam_audit.audit([(CALLER, c) for c in wrong], REGION, ACCOUNT, RESOURCE_POLICIES).problems
    assert problems[0] == ("payment-validation-dev:blue: lambda:Invoke: no IAM mapping for this operation in "
                           "iam_audit.requests_for; add it so the call is checked")
    assert problems[1] == (f"payment-validation-dev:blue: dynamodb:UpdateItem on {TABLE}: not allowed by the role's "
                           f"policies (payment-validation-dev): missing permission dynamodb:UpdateItem")
    assert "kms:GenerateMac on" in problems[2] and "missing permission kms:GenerateMac" in problems[2]
    assert problems[3].startswith("payment-validation-dev:blue: dynamodb:GetItem on "
                                  f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other: not allowed")


def test_a_kms_call_needs_the_key_policy_to_honour_iam_policies() -> None:
    mac = call("kms", "GenerateMac", {"KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1",
                                      "MacAlgorithm": "HMAC_SHA_256"})
    closed = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}, "Action": "kms:*",
         "Resource": "*"}]}
    [problem] = iam_audit.audit([(CALLER, mac)], REGION, ACCOUNT,
                                {f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1": closed}).problems
    assert "kms:GenerateMac on" in problem and "not allowed" in problem


def test_the_audit_applies_the_bucket_policy_with_the_transport_used() -> None:
    plain = call("s3", "PutObject", {"Bucket": "audit", "Key": "audit/t.json"}, url="http://127.0.0.1:1/audit/t.json")
    [problem] = iam_audit.audit([(CALLER, plain)], REGION, ACCOUNT, {"arn:aws:s3:::audit": BUCKET_POLICY}).problems
    assert problem.startswith("payment-validation-dev:blue: s3:PutObject on arn:aws:s3:::audit/audit/t.json: "
                              "explicitly denied")


# --- deployed artefacts and workers -----------------------------------------------------------


def test_the_package_is_found_by_the_deployed_hash(tmp_path: Path) -> None:
    for name, text in (("a.zip", b"one"), ("b.zip", b"two")):
        (tmp_path / name).write_bytes(text)
    assert dataplane.package_for(tmp_path, dataplane.code_sha256(tmp_path / "b.zip")) == tmp_path / "b.zip"
    assert dataplane.package_for(tmp_path, "nothing") is None


def test_the_worker_environment_is_the_deployed_one_pointed_at_the_emulator(tmp_path: Path) -> None:
    env = dataplane.worker_environment(
        {"TRANSACTIONS_TABLE": "transactions-dev", "SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.us-east-1.amazonaws.com"},
        "http://127.0.0.1:5000", REGION, {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t"},
        {"FunctionName": "fn", "Timeout": 10}, tmp_path)
    assert (env["TRANSACTIONS_TABLE"], env["SECRETS_MANAGER_ENDPOINT"], env["AWS_ENDPOINT_URL"]) == (
        "transactions-dev", "http://127.0.0.1:5000", "http://127.0.0.1:5000")
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SESSION_TOKEN"], env["PYTHONPATH"]) == ("ASIA1", "t", str(tmp_path))


def test_the_functions_run_under_the_deployed_python_where_the_machine_has_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    (tmp_path / "python3.42").symlink_to(sys.executable)  # a machine that has the runtime's version
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    python, note = dataplane.runtime_interpreter("python3.42")
    assert note is None and python.endswith("python3.42")
    python, note = dataplane.runtime_interpreter("python3.99")
    assert (python, note) == (sys.executable, f"no python3.99 on this machine: the functions run under Python "
                                              f"{sys.version_info.major}.{sys.version_info.minor}")


def test_an_action_is_removed_from_a_policy_document() -> None:
    reduced = dataplane._without_action(POLICY, "dynamodb:GetItem")
    assert reduced["Statement"][0]["Action"] == ["dynamodb:PutItem"]
    assert POLICY["Statement"][0]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


def _client(service: str, url: str, **keys: str) -> Any:
    keys = keys or {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client(service, region_name=REGION, endpoint_url=url, config=Config(proxies={}), **keys)


HANDLER = '''
import boto3, os
def handler(event, context):
    table = os.environ["TABLE"]
    client = boto3.client("dynamodb")
    answer = {"function": context.function_name}
    for operation, call in (("GetItem", lambda: client.get_item(TableName=table, Key={"k": {"S": "a"}})),
                            ("PutItem", lambda: client.put_item(TableName=table, Item={"k": {"S": "a"}}))):
        try:
            call()
            answer[operation] = "ok"
        except Exception as exc:
            answer[operation] = type(exc).__name__
    return answer
'''


def test_a_worker_runs_the_zip_with_its_role_and_the_emulator_enforces_its_actions(
        moto: Emulator, tmp_path: Path) -> None:
    iam, ddb, sts = _client("iam", moto.url), _client("dynamodb", moto.url), _client("sts", moto.url)
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="fn", PolicyName="fn", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                                                "Resource": ddb.describe_table(TableName="t")["Table"]["TableArn"]}]}))
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="fn-session")["Credentials"]
    package = tmp_path / "fn.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("fn.py", HANDLER)
    env = dataplane.worker_environment({"TABLE": "t"}, moto.tls_url, REGION, credentials, {"FunctionName": "fn"},
                                       dataplane.runtime_path(tmp_path / "runtime"), moto.ca_file)
    worker = dataplane.Worker("fn", package, "fn.handler", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn", env,
                              tmp_path / "fn.log")
    try:
        with dataplane.enforced_iam(moto.url):
            answer = worker.invoke({})
            with pytest.raises(Exception, match=r"InvalidClientTokenId|security token"):
                _client("sts", moto.url).get_caller_identity()  # the test keys are no user
    finally:
        worker.stop()
    # Resource-scoped GetItem is allowed (the launcher's iam-unknown-resource fix); PutItem is not in the role.
    assert answer["result"] == {"function": "fn", "GetItem": "ok", "PutItem": "ClientError"}
    assert [(c["service"], c["operation"], c["params"]["TableName"], c["status"]) for c in answer["calls"]] == [
        ("dynamodb", "GetItem", "t", 200), ("dynamodb", "PutItem", "t", 403)]
    assert {c["url"] for c in answer["calls"]} == {moto.tls_url + "/"}  # over the TLS listener
    assert answer["calls"][1]["error"] == ("AccessDenied: User: arn:aws:sts::123456789012:assumed-role/fn/fn-session "
                                           "is not authorized to perform: dynamodb:PutItem")
    _client("sts", moto.url).get_caller_identity()  # enforcement is off again


def test_a_bucket_policy_deny_applies_only_when_its_condition_could_hold(moto: Emulator) -> None:
    s3 = _client("s3", moto.url)
    s3.create_bucket(Bucket="audit")
    s3.put_bucket_policy(Bucket="audit", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        BUCKET_POLICY["Statement"][0],
        {"Sid": "DenyOther", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::audit/forbidden/*"}]}))
    s3.put_object(Bucket="audit", Key="audit/t.json", Body=b"{}")  # the conditional Deny is left to the audit
    with pytest.raises(s3.exceptions.ClientError, match=r"403|AccessDenied"):
        s3.put_object(Bucket="audit", Key="forbidden/t.json", Body=b"{}")


def test_a_worker_that_fails_reports_the_error_and_goes_on(tmp_path: Path) -> None:
    package = tmp_path / "bad.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("bad.py", "def handler(event, context):\n    raise ValueError(event['why'])\n")
    env = dataplane.worker_environment({}, "http://127.0.0.1:9", REGION,
                                       {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"},
                                       {"FunctionName": "bad"}, dataplane.runtime_path(tmp_path / "runtime"))
    worker = dataplane.Worker("bad", package, "bad.handler", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bad",
                              env, tmp_path / "bad.log")
    try:
        assert worker.invoke({"why": "no"})["error"] == "ValueError: no"
        assert worker.invoke({"why": "again"})["error"] == "ValueError: again"
    finally:
        worker.stop()
    assert "Traceback" in (tmp_path / "bad.log").read_text()


def test_only_the_runtime_modules_are_importable_in_a_worker(tmp_path: Path) -> None:
    package = tmp_path / "probe.zip"
    buffer = io.StringIO("def handler(event, context):\n"
                         "    import importlib.util\n"
                         "    return {m: importlib.util.find_spec(m) is not None for m in event}\n")
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("probe.py", buffer.getvalue())
    env = dataplane.worker_environment({}, "http://127.0.0.1:9", REGION,
                                       {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"},
                                       {"FunctionName": "probe"}, dataplane.runtime_path(tmp_path / "runtime"))
    python, _ = dataplane.runtime_interpreter("python3.12")  # the deployed runtime, where the machine has it
    worker = dataplane.Worker("probe", package, "probe.handler", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:p",
                              env, tmp_path / "probe.log", python)
    try:
        answer = worker.invoke(["boto3", "botocore", "pg8000", "moto", "tfgen", "pytest", "tests"])
    finally:
        worker.stop()
    assert answer["result"] == {"boto3": True, "botocore": True, "pg8000": False, "moto": False, "tfgen": False,
                                "pytest": False, "tests": False}


def test_a_transaction_is_authorised_as_its_items_actions(moto: Emulator) -> None:
    iam, ddb, sts = _client("iam", moto.url), _client("dynamodb", moto.url), _client("sts", moto.url)
    ddb.create_table(TableName="tx", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName="writer", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="writer", PolicyName="writer", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]}))
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="writer")["Credentials"]
    writer = _client("dynamodb", moto.url, aws_access_key_id=credentials["AccessKeyId"],
                     aws_secret_access_key=credentials["SecretAccessKey"],
                     aws_session_token=credentials["SessionToken"])
    with dataplane.enforced_iam(moto.url):
        writer.transact_write_items(TransactItems=[{"Put": {"TableName": "tx", "Item": {"k": {"S": "a"}}}}])
        with pytest.raises(writer.exceptions.ClientError, match=r"dynamodb:UpdateItem"):
            writer.transact_write_items(TransactItems=[
                {"Put": {"TableName": "tx", "Item": {"k": {"S": "b"}}}},
                {"Update": {"TableName": "tx", "Key": {"k": {"S": "a"}}, "UpdateExpression": "SET v = :v",
                            "ExpressionAttributeValues": {":v": {"S": "1"}}}}])


def test_rotate_secret_only_labels_a_pending_version_for_the_function_to_fill(moto: Emulator) -> None:
    iam, lam, sm = _client("iam", moto.url), _client("lambda", moto.url), _client("secretsmanager", moto.url)
    role = iam.create_role(RoleName="rotation", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("rotate.py", "def handler(event, context):\n    return None\n")
    function = lam.create_function(FunctionName="rotate", Runtime="python3.12", Role=role, Handler="rotate.handler",
                                   Code={"ZipFile": package.getvalue()})["FunctionArn"]
    arn = sm.create_secret(Name="db", SecretString='{"password": "old"}')["ARN"]
    [current] = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    token = "0f9c4d53-7c5e-4a6b-9d0e-2f1a3b4c5d6e"
    sm.rotate_secret(SecretId=arn, ClientRequestToken=token, RotationLambdaARN=function,
                     RotationRules={"AutomaticallyAfterDays": 30})
    assert sm.describe_secret(SecretId=arn)["VersionIdsToStages"] == {current: ["AWSCURRENT"], token: ["AWSPENDING"]}
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == '{"password": "old"}'
    with pytest.raises(sm.exceptions.ResourceNotFoundException):  # the function's createSecret fills it
        sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")


def test_the_run_grants_its_merchants_in_its_copy_of_the_environment_files(tmp_path: Path) -> None:
    import shutil

    from tests.stack import ENV_DIR
    from tfgen.config import environment

    shutil.copytree(ENV_DIR, tmp_path / "environments")
    dataplane.grant_merchants(tmp_path / "environments" / "dev.yaml", dataplane.merchant_access(ACCOUNT))
    (tmp_path / "ca.pem").write_text("-")
    dataplane.set_in_environment(tmp_path / "environments" / "dev.yaml", ("lambda", "rotation", "ca_bundle"),
                                 str(tmp_path / "ca.pem"))
    original = (ENV_DIR / "dev.yaml").read_text().splitlines()
    assert set(original) <= set((tmp_path / "environments" / "dev.yaml").read_text().splitlines())  # lines kept
    model = environment.load(tmp_path / "environments", "dev").model
    assert model.lambda_.rotation.ca_bundle == str(tmp_path / "ca.pem")
    assert model.lambda_.merchant_access == {f"arn:aws:iam::{ACCOUNT}:role/e2e-m-e2e-1": ["m-e2e-1"],
                                             f"arn:aws:iam::{ACCOUNT}:role/e2e-m-e2e-2": ["m-e2e-2"]}
    assert dataplane.merchant_callers(ACCOUNT)["m-e2e-1"] == {
        "$context.identity.userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/e2e-m-e2e-1/e2e"}


def test_a_worker_reaches_a_deployed_host_at_its_stand_in(tmp_path: Path) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    package = tmp_path / "dial.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("dial.py", "import socket\n"
                                    "def handler(event, context):\n"
                                    "    socket.create_connection((event['host'], event['port']), timeout=5).close()\n"
                                    "    return 'connected'\n")
    env = dataplane.worker_environment({}, "http://127.0.0.1:9", REGION,
                                       {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"},
                                       {"FunctionName": "dial"}, dataplane.runtime_path(tmp_path / "runtime"))
    env["E2E_NETWORK_MAP"] = json.dumps({"aurora.cluster.example:5432": f"127.0.0.1:{listener.getsockname()[1]}"})
    worker = dataplane.Worker("dial", package, "dial.handler", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dial",
                              env, tmp_path / "dial.log")
    try:
        assert worker.invoke({"host": "aurora.cluster.example", "port": 5432})["result"] == "connected"
    finally:
        worker.stop()
        listener.close()


def test_the_stand_in_database_has_a_certificate_for_the_cluster_name_from_the_shipped_ca(tmp_path: Path) -> None:
    import ssl

    import pg8000.native
    from cryptography import x509

    from tests.postgres_server import make_ca, postgres_server

    ca = make_ca(tmp_path / "ca")  # PostgresUnavailable fails the test: the e2e rotation needs the server
    with postgres_server(ca, ["aurora-cluster-dev.cluster-x.us-east-1.rds.amazonaws.com"]) as database:
        certificate = x509.load_pem_x509_certificate((database.directory / "server.crt").read_bytes())
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == ["aurora-cluster-dev.cluster-x.us-east-1.rds.amazonaws.com"]
        assert certificate.issuer == x509.load_pem_x509_certificate(ca[0].read_bytes()).subject
        admin = database.admin()
        admin.run("CREATE ROLE probe LOGIN PASSWORD 'probe-password-1'")
        admin.close()
        pg8000.native.Connection(user="probe", password="probe-password-1", host=database.host, port=database.port,
                                 database="postgres", ssl_context=ssl.create_default_context(cafile=str(ca[0])),
                                 timeout=10).close()
