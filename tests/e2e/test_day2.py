"""Day-2 changes to a live ``dev`` stack through ``tfgen plan`` and ``tfgen apply``, against
moto_server.

One emulator and one private copy of the project (environments, templates, lambdas: the
scenarios edit them) are shared by the scenarios, which run in file order, each on the stack
the one before left. Three applies (an apply against the emulator costs up to a minute, mostly
the provider's RDS waiters on the emulator's drift, see allowlist.py):

    (d) partial first apply: the cluster alone, the full plan refused, the documented
        recovery (a master_password_version bump) planned and applied: the first deploy,
        accepted although nothing served before
    (f) new code for blue in a -target plan that leaves the listener rule out: refused
    (a) pin, then a code release published to no alias: applied
    (g) blue moved to that published version, which green never served: refused
    (h) point-in-time recovery of the transactions table turned off: refused
    (b) a green canary: its review; applied by (c)'s apply
    (e) a role policy gaining an action: its review; applied by (c)'s apply
    (i) (e)'s reviewed plan file replaced by one that deletes the transactions table: refused
    (c) an Aurora replacement: refused, the cluster untouched; applied with
        --allow-data-loss; then the emulator holds (b), (c) and (e)
    (f) last, as it changes the emulator behind terraform's back: `tfgen drift` on the
        stack (c) applied finds nothing; then a security group opened, listener weights
        moved, point-in-time recovery off and a role policy widened with boto3 are each
        reported under their class

Each scenario asserts the review's JSON (`tfgen plan --format json`) and what the emulator
holds. A refused apply (f, g, h, i) must exit non-zero, say "refused", and leave the emulator
as it was: the aliases' versions, the listener rules' weights, the published versions, the
transactions table with its items and its point-in-time recovery.

The commands run in-process; terraform runs as tfgen runs it (provider mirror), with the
environment the apply test gives it. Only ``--set`` settings point the provider at the
emulator, as in test_apply.py. The plans after the first deploy skip terraform's refresh
(nothing changes the emulator behind terraform's back), which halves their time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import copy_inputs, requires_terraform
from tfgen.config.names import FUNCTION_KEYS
from tfgen.config.yaml_edit import set_values
from tfgen.deploy import plans

from .allowlist import drift_problems
from .harness import progress
from .router import rule_of
from .stack import ENV, Stack, initialised, listener_arn

pytestmark = [pytest.mark.e2e, requires_terraform]

CLUSTER = "aws_rds_cluster.this"
SECRET = f"payment-db-credentials-{ENV}"
TABLE = "aws_dynamodb_table.this"
TABLE_NAME = f"transactions-{ENV}"


def aliases(review: dict[str, Any]) -> list[dict[str, Any]]:
    """Every alias row of the review's serving tables, with its function."""
    return [{**alias, "function": table["function"]} for table in review["traffic"] for alias in table["aliases"]]


def traffic(review: dict[str, Any], function: str) -> dict[str, dict[str, Any]]:
    return {alias["colour"]: alias for alias in aliases(review) if alias["function"] == function}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """dev rendered from a copy of the project for a fresh emulator, and initialised."""
    root = copy_inputs(tmp_path_factory.mktemp("day2"))
    say = progress(request, "e2e day-2")
    with initialised(root, say) as result:
        yield result


def test_d_a_partial_first_apply_is_refused_until_the_recovery(stack: Stack) -> None:
    start = time.monotonic()
    stack.terraform("apply", "-auto-approve", "-input=false", "-no-color", f"-target={CLUSTER}")
    stack.durations["apply -target"] = time.monotonic() - start

    review = stack.plan(refresh=True)
    [problem] = review["credentials"]
    assert problem.startswith("aws_secretsmanager_secret_version.db_credentials: writes a newly generated password")
    assert "bump database.master_password_version" in problem and problem in review["refusals"]
    assert "bump database.master_password_version" in stack.apply(expect=1)
    secrets = stack.client("secretsmanager")
    assert not secrets.list_secrets(Filters=[{"Key": "name", "Values": [SECRET]}])["SecretList"]

    # The recovery the README gives: bump the version in the environment file, render, plan, apply.
    env_file = stack.root / "environments" / f"{ENV}.yaml"
    env_file.write_text(set_values(env_file.read_text(), {("database", "master_password_version"): 2}))
    stack.render()
    review = stack.plan(refresh=True)
    assert (review["credentials"], review["refusals"], review["data_loss"]) == ([], [], [])
    assert review["counts"]["create"] > 50
    # No live traffic yet: every alias runs the version this apply publishes, and a first deploy is no risk.
    assert all(alias["publishes"] for alias in aliases(review))
    assert all(table["first_deploy"] and not table["risks"] for table in review["traffic"])
    stack.apply()
    assert [s["Name"] for s in secrets.list_secrets(Filters=[{"Key": "name", "Values": [SECRET]}])["SecretList"]] \
        == [SECRET]
    assert stack.aliases(f"payment-validation-{ENV}") == {"blue": "1", "green": "1"}
    _, rules = stack.live()
    assert [sorted(weight for _, weight in rule.targets) for rule in rules] == [[10, 90]] * len(FUNCTION_KEYS)


def test_f_new_code_for_blue_in_a_targeted_plan_is_refused(stack: Stack) -> None:
    # Both aliases follow the version each apply publishes, so new code would reach blue at 90 %.
    # A -target of blue's alias leaves the listener rule, and so its weights, out of the plan.
    function = f"payment-validation-{ENV}"
    handler = stack.root / "lambdas" / "payment_validation" / "payment_validation.py"
    original = handler.read_text()
    live, published = stack.live(), stack.versions(function)
    handler.write_text(original + "\n# a release for blue alone\n")
    stack.render()
    review = stack.plan(terraform_args=('-target=aws_lambda_alias.this["payment_validation-blue"]',))
    assert review["counts"]["update"] >= 1 and review["refusals"], review
    assert "payment_validation" in stack.refused()
    assert (stack.live(), stack.versions(function)) == (live, published)

    handler.write_text(original)
    stack.render()


def test_a_a_pinned_release_publishes_a_version_no_live_alias_runs(stack: Stack) -> None:
    stack.tfgen("traffic", ENV, "pin", "--out", str(stack.out))
    env_file = (stack.root / "environments" / f"{ENV}.yaml").read_text()
    assert 'blue_version: "1"' in env_file and 'green_version: "1"' in env_file
    handler = stack.root / "lambdas" / "payment_validation" / "payment_validation.py"
    handler.write_text(handler.read_text() + "\n# release 2\n")
    stack.render()  # the pin rewrote the output without the emulator settings

    review = stack.plan()
    pv = traffic(review, "payment_validation")
    assert pv["blue"]["code_changes"] and pv["green"]["code_changes"]
    moving = [a for a in aliases(review) if a["moves"] or a["weight_before"] != a["weight_after"]]
    assert moving == [], moving
    assert (review["refusals"], review["data_loss"]) == ([], [])
    function = f"payment-validation-{ENV}"
    live, published = stack.live(), stack.versions(function)
    stack.apply()
    assert stack.live() == live  # every alias and weight as it was
    assert stack.aliases(function) == {"blue": "1", "green": "1"}
    assert len(stack.versions(function)) > len(published)


def test_g_blue_moved_to_a_version_green_never_served_is_refused(stack: Stack) -> None:
    # (a) published a version no alias runs; blue, at 90 %, may take only what green served.
    function = f"payment-validation-{ENV}"
    newest = stack.versions(function)[-1]
    assert newest not in stack.aliases(function).values()
    blue = (f'lambda.functions.payment_validation.traffic.blue_version="{newest}"',)
    stack.render(ENV, *blue)
    live = stack.live()
    review = stack.plan(ENV, *blue)
    assert review["counts"]["update"] >= 1 and review["refusals"], review
    assert "payment_validation" in stack.refused(extra=blue)
    assert stack.live() == live


def _recovery(stack: Stack) -> str:
    answer = stack.client("dynamodb").describe_continuous_backups(TableName=TABLE_NAME)
    return str(answer["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"])


def test_h_point_in_time_recovery_turned_off_is_refused(stack: Stack) -> None:
    assert _recovery(stack) == "ENABLED"
    off = ("dynamodb.point_in_time_recovery=false",)
    stack.render(ENV, *off)
    review = stack.plan(ENV, *off)
    assert review["counts"]["update"] >= 1 and review["refusals"], review
    assert TABLE in stack.refused(extra=off)  # the address an --allow-data-loss would name
    assert _recovery(stack) == "ENABLED"


def test_b_a_green_canary_moves_only_green_and_the_weights(stack: Stack) -> None:
    function = f"payment-validation-{ENV}"
    versions = stack.client("lambda").list_versions_by_function(FunctionName=function)["Versions"]
    newest = str(max(int(v["Version"]) for v in versions if v["Version"] != "$LATEST"))
    stack.tfgen("traffic", ENV, "shift", "--out", str(stack.out), "--green", "20", "--green-version", newest,
                "--function", "payment_validation")
    stack.render()

    review = stack.plan()
    changed = [(a["function"], a["colour"], a["version_before"], a["version_after"], a["weight_before"],
                a["weight_after"]) for a in aliases(review) if a["moves"] or a["weight_before"] != a["weight_after"]]
    assert changed == [("payment_validation", "blue", "1", "1", 90, 80),
                       ("payment_validation", "green", "1", newest, 10, 20)]
    assert not any(a["code_changes"] for a in aliases(review))
    assert review["refusals"] == []
    stack.expected["green"] = newest  # applied, and checked, with (c)


def test_e_an_iam_policy_gaining_an_action_is_shown_under_access(stack: Stack) -> None:
    template = stack.root / "templates" / "iam.tf.j2"
    text = template.read_text()
    old = 'actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]'
    assert text.count(old) == 1
    new = 'actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]'
    template.write_text(text.replace(old, new))
    stack.render()

    review = stack.plan()
    # Against the emulator the document is read only at apply (see allowlist.py: the keys' pending
    # rotation period); against AWS the role policy's JSON is known at plan. Either shows the action.
    gained = [(entry["address"], statement.get("Sid"), statement.get("Action")) for entry in review["access"]
              for statement in entry["added"] if isinstance(statement, dict)]
    assert gained in ([("data.aws_iam_policy_document.payment_validation", "TransactionsTable",
                        ["dynamodb:DeleteItem"])],
                      [('aws_iam_role_policy.lambda["payment_validation"]', "TransactionsTable",
                        ["dynamodb:DeleteItem"])]), gained
    assert review["refusals"] == []  # applied, and checked, with (c)


def test_i_a_plan_file_replaced_after_its_review_is_refused(stack: Stack) -> None:
    # (e)'s plan is reviewed and saved; then another valid plan, one that deletes the transactions
    # table, takes the place of its plan file.
    key = {"transaction_id": {"S": "txn-day2-i"}, "timestamp": {"N": "1700000000"}}
    item = {**key, "amount": {"N": "42"}}
    dynamodb = stack.client("dynamodb")
    dynamodb.put_item(TableName=TABLE_NAME, Item=item)
    swapped = stack.root / "swapped.tfplan"
    stack.terraform("plan", "-destroy", f"-target={TABLE}", "-refresh=false", "-input=false", "-no-color",
                    f"-out={swapped}")
    plan_file = stack.out / ENV / plans.PLAN_FILE
    assert plan_file.is_file()
    os.replace(swapped, plan_file)
    live = stack.live()

    stack.refused()
    assert dynamodb.get_item(TableName=TABLE_NAME, Key=key, ConsistentRead=True).get("Item") == item
    assert _recovery(stack) == "ENABLED"
    assert stack.live() == live


def _role(stack: Stack, function: str) -> str:
    config = stack.client("lambda").get_function_configuration(FunctionName=function)
    return str(config["Role"].rsplit("/", 1)[-1])


def test_c_an_aurora_replacement_is_refused_until_allowed(stack: Stack) -> None:
    replace = ("database.database_name=ledger",)
    stack.render(ENV, *replace)
    before = stack.cluster()

    review = stack.plan(ENV, *replace)
    losses = {loss["address"]: loss for loss in review["data_loss"]}
    assert losses[CLUSTER]["action"] == "replace"
    assert losses[CLUSTER]["reasons"] == ['database_name forces replacement ("payments" -> "ledger")']
    assert review["credentials"] == []  # the secret version is replaced with the cluster
    stderr = stack.apply(extra=replace, expect=1)
    assert f"--allow-data-loss {CLUSTER}" in stderr
    after = stack.cluster()
    assert (after["DbClusterResourceId"], after["DatabaseName"]) == (before["DbClusterResourceId"], "payments")

    function = f"payment-validation-{ENV}"
    assert stack.aliases(function)["green"] == "1"  # (b) is not applied either

    stack.apply("--allow-data-loss", CLUSTER, extra=replace)
    replaced = stack.cluster()
    assert replaced["DatabaseName"] == "ledger"
    assert replaced["DbClusterResourceId"] != before["DbClusterResourceId"]
    secret = json.loads(stack.client("secretsmanager").get_secret_value(SecretId=SECRET)["SecretString"])
    assert (secret["dbname"], secret["host"]) == ("ledger", replaced["Endpoint"])
    # (b): green runs the new version with 20 %, blue the pinned one with 80 %.
    assert stack.aliases(function) == {"blue": "1", "green": stack.expected["green"]}
    described = stack.client("elbv2").describe_rules(ListenerArn=listener_arn(stack))["Rules"]
    rules = [rule for rule in map(rule_of, described) if rule is not None]
    [rule] = [rule for rule in rules if rule.priority == 100]  # payment_validation's (render.routes)
    assert sorted(weight for _, weight in rule.targets) == [20, 80]
    # (e): the role may now delete items.
    iam = stack.client("iam")
    role = _role(stack, function)
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    actions = {a for s in document["Statement"] if s.get("Sid") == "TransactionsTable"
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "dynamodb:DeleteItem" in actions


def _drift(stack: Stack, name: str) -> tuple[int, dict[str, Any]]:
    """`tfgen drift --format json` of the stack (c) left; its report is kept in logs/drift-NAME.json."""
    start = time.monotonic()
    code, stdout, stderr = stack.tfgen("drift", ENV, "--out", str(stack.out), "--format", "json",
                                       *stack.with_sets(("database.database_name=ledger",)), expect=None)
    stack.durations["drift"] = stack.durations.get("drift", 0) + time.monotonic() - start
    (stack.root / "logs" / f"drift-{name}.json").write_text(stdout + stderr)
    assert code in (0, 4, 5), f"tfgen drift exited with {code}:\n{stderr}"
    report = json.loads(stdout)
    assert isinstance(report, dict)
    return code, report


def test_f_drift_outside_terraform_is_reported_under_its_class(stack: Stack) -> None:
    """Last: it changes the emulator behind terraform's back. The stack (c) applied shows no drift;
    then a security group opened, listener weights moved, point-in-time recovery off and a role
    policy widened, each with boto3, are each reported under their class."""
    untouched_code, untouched = _drift(stack, "untouched")

    ec2 = stack.client("ec2")
    [group] = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"aurora-cluster-{ENV}"]}])[
        "SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    elb = stack.client("elbv2")
    [rule] = [r for r in elb.describe_rules(ListenerArn=listener_arn(stack))["Rules"] if r["Priority"] == "100"]
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    elb.modify_rule(RuleArn=rule["RuleArn"], Actions=[{"Type": "forward", "Order": 1, "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": g["TargetGroupArn"], "Weight": 50} for g in groups]}}])
    stack.client("dynamodb").update_continuous_backups(
        TableName=f"transactions-{ENV}", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    iam = stack.client("iam")
    role = _role(stack, f"payment-validation-{ENV}")
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document["Statement"].append({"Sid": "Incident", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"})
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))

    code, report = _drift(stack, "changed")
    # On AWS an untouched stack exits 0; the emulator reads a few attributes back unlike it was given
    # them (allowlist.py), which show as other differences only.
    assert untouched_code in (0, 4) and not untouched["serious"], json.dumps(untouched, indent=1)[:6000]
    assert [c for c, entries in untouched["classes"].items() if entries] in ([], ["other differences"])
    assert drift_problems(untouched) == []
    assert code == 5, json.dumps(report, indent=1)[:6000]
    assert drift_problems(report) == []
    classes = {category: {entry["address"]: entry for entry in entries}
               for category, entries in report["classes"].items()}
    assert report["unjudged"] == []
    access = classes["access gained"]
    assert set(access) == {"aws_security_group.database", 'aws_iam_role_policy.lambda["payment_validation"]'}, access
    assert access["aws_security_group.database"]["findings"] == [{"kind": "security group ingress", "added": [
        {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "cidr_blocks": ["0.0.0.0/0"]}]}]
    [widened] = access['aws_iam_role_policy.lambda["payment_validation"]']["findings"]
    # Only what the statement adds: the role may already act on "*" (ENI management, X-Ray).
    assert widened["added"] == [{"Sid": "Incident", "Effect": "Allow", "Action": ["dynamodb:*"]}]
    assert set(classes["traffic moved"]) == {'aws_lb_listener_rule.this["payment_validation"]'}
    [moved] = classes["traffic moved"].values()
    assert sorted(moved["findings"]) == [
        "payment_validation: blue takes weight 50 of its requests (reviewed: weight 80)",
        "payment_validation: green takes weight 50 of its requests (reviewed: weight 20)"]
    [table] = classes["data protection reduced"].values()
    assert table["address"] == "aws_dynamodb_table.this"
    assert table["findings"][0] == \
        "point-in-time recovery turned off (point_in_time_recovery[0].enabled: true -> false)"
    assert {"path": "point_in_time_recovery[0].enabled", "live": False, "reviewed": True} in table["differences"]
