"""Day-2 changes to a live ``dev`` stack through ``tfgen plan`` and ``tfgen apply``, against
moto_server.

One emulator and one private copy of the project (environments, templates, lambdas: the
scenarios edit them) are shared by the scenarios, which run in file order, each on the stack
the one before left. Three applies before the releases, which make six more (an apply against
the emulator costs up to a minute, mostly the provider's RDS waiters on the emulator's drift,
see allowlist.py):

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
    (j) `tfgen release` of transaction_processing to a newer version with a memory change
        beside it: the first step's plan holds more than the traffic move: stopped before the apply
    (k) the release again: the move (j) left is applied first; killed while that step bakes;
        run again, it resumes there, promotes and finalizes: blue runs green's version at 100 %
    (l) a release of fraud_detection whose green fails at the second step (Lambda Errors
        above the margin): rolled back, blue at 100 % in the emulator's listener rule
    (f) last, as it changes the emulator behind terraform's back: `tfgen drift` on the
        stack (c) and the releases applied finds nothing; then a security group opened, listener weights
        moved, point-in-time recovery off and a role policy widened with boto3 are each
        reported under their class

The releases (j, k, l) bake on synthetic CloudWatch data: while a step bakes, ``Watch`` reads
the function's weights back from the emulator's listener rule and puts, with PutMetricData,
what the load balancer and Lambda publish for that traffic (request counts, response times,
Errors and Throttles per alias); tfgen's own CloudWatch adapter reads it back with
GetMetricData. Against the emulator every plan carries the artefacts tests/e2e/allowlist.py
lists; for the release's step check alone (its plan must be the traffic move and nothing
else), those listed artefacts are read as unchanged (allowlist.without_artefacts), through a
test-only replacement of the check's input; anything else still stops the release.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import copy_inputs, requires_terraform
from tfgen.cli import main as cli
from tfgen.config.names import FUNCTION_KEYS, dashed
from tfgen.config.yaml_edit import set_values
from tfgen.deploy import plans, review, terraform
from tfgen.deploy import release as core
from tfgen.render import templates as render

from . import allowlist
from .allowlist import drift_problems
from .harness import Run, emulated, progress, terraform_environment
from .provider import overrides
from .router import Rule, rule_of
from .verify import client

pytestmark = [pytest.mark.e2e, requires_terraform]

ENV = "dev"
CLUSTER = "aws_rds_cluster.this"
SECRET = f"payment-db-credentials-{ENV}"
TABLE = "aws_dynamodb_table.this"
TABLE_NAME = f"transactions-{ENV}"


@dataclass
class Stack:
    """The deployed copy of the project, the emulator and the commands that act on them."""

    root: Path
    endpoint: str
    sets: list[str]
    say: Callable[[str], None]
    durations: dict[str, float] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.root / "build"

    def tfgen(self, *args: str, expect: int | None = 0) -> tuple[int, str, str]:
        """Run tfgen in-process on the copy; returns (exit code, stdout, stderr)."""
        argv = ["--environments", str(self.root / "environments"), "--templates", str(self.root / "templates"),
                "--lambdas", str(self.root / "lambdas"), *args]
        # A command in a process of its own reads templates and builds packages afresh.
        render.jinja_env.cache_clear()
        render._packages.cache_clear()
        with CliRunner().isolation() as (out, err, _):
            code = cli.main(argv)
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        if expect is not None:
            assert code == expect, f"tfgen {' '.join(args)} exited with {code}, not {expect}:\n{stderr}{stdout[-3000:]}"
        return code, stdout, stderr

    def with_sets(self, extra: tuple[str, ...] = ()) -> list[str]:
        return [arg for setting in (*self.sets, *extra) for arg in ("--set", setting)]

    def render(self, env: str = ENV, *extra: str) -> None:
        self.tfgen("render", env, "--out", str(self.out), *self.with_sets(extra))

    def plan(self, env: str = ENV, *extra: str, refresh: bool = False,
             terraform_args: tuple[str, ...] = ()) -> dict[str, Any]:
        """`tfgen plan --format json` of ``env``: its one review."""
        start = time.monotonic()
        _, stdout, _ = self.tfgen("plan", env, "--out", str(self.out), "--format", "json", *self.with_sets(extra),
                                  "--", *([] if refresh else ["-refresh=false"]), *terraform_args)
        self.durations[f"plan {env}"] = self.durations.get(f"plan {env}", 0) + time.monotonic() - start
        [review] = json.loads(stdout)["plans"]
        assert isinstance(review, dict)
        return review

    def apply(self, *options: str, env: str = ENV, extra: tuple[str, ...] = (), expect: int = 0) -> str:
        start = time.monotonic()
        _, _, stderr = self.tfgen("apply", env, "--out", str(self.out), *options, *self.with_sets(extra),
                                  "--", "-no-color", expect=expect)
        self.durations[f"apply {env}"] = self.durations.get(f"apply {env}", 0) + time.monotonic() - start
        return stderr

    def refused(self, *options: str, extra: tuple[str, ...] = ()) -> str:
        """`tfgen apply` of the saved plan, which must refuse: a non-zero exit and "refused" said.
        Returns what it printed."""
        start = time.monotonic()
        code, stdout, stderr = self.tfgen("apply", ENV, "--out", str(self.out), *options, *self.with_sets(extra),
                                          "--", "-no-color", expect=None)
        self.durations["refused apply"] = self.durations.get("refused apply", 0) + time.monotonic() - start
        said = stderr + stdout
        assert code != 0 and "refused" in said.lower(), f"tfgen apply exited with {code}, not refused:\n{said[-3000:]}"
        return said

    def terraform(self, *args: str) -> None:
        """Run the terraform binary itself in the rendered module (logs/<subcommand>.log); it must succeed."""
        with terraform.environment() as base:
            run = Run(self.out / ENV, self.root / "logs", terraform_environment(base), self.say)
            run.require(args[0], run.terraform(*args))

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint)
        return self._clients[service]

    def aliases(self, function: str) -> dict[str, str]:
        answer = self.client("lambda").list_aliases(FunctionName=function)
        return {alias["Name"]: alias["FunctionVersion"] for alias in answer["Aliases"]}

    def live(self) -> tuple[dict[str, dict[str, str]], list[Rule]]:
        """What serves requests: each payment function's aliases (name -> version), and the
        listener's forwarding rules with their target groups' weights."""
        aliases = {key: self.aliases(f"{dashed(key)}-{ENV}") for key in FUNCTION_KEYS}
        described = self.client("elbv2").describe_rules(ListenerArn=_listener(self))["Rules"]
        return aliases, sorted((rule for rule in map(rule_of, described) if rule is not None),
                               key=lambda rule: rule.priority)

    def versions(self, function: str) -> list[str]:
        """The versions of ``function`` published so far."""
        answer = self.client("lambda").list_versions_by_function(FunctionName=function)["Versions"]
        return sorted((v["Version"] for v in answer if v["Version"] != "$LATEST"), key=int)

    def cluster(self) -> dict[str, Any]:
        [cluster] = self.client("rds").describe_db_clusters(DBClusterIdentifier=f"aurora-cluster-{ENV}")["DBClusters"]
        assert isinstance(cluster, dict)
        return cluster


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
    start = time.monotonic()
    with emulated(root, say) as endpoint:
        result = Stack(root, endpoint, overrides(endpoint), say)
        try:
            result.render()
            result.terraform("init", "-input=false", "-no-color")
            result.durations["setup"] = time.monotonic() - start
            yield result
        finally:
            say("durations: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.durations.items()))


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


def _listener(stack: Stack) -> str:
    elb = stack.client("elbv2")
    [balancer] = elb.describe_load_balancers(Names=[f"payment-alb-{ENV}"])["LoadBalancers"]
    [listener] = elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    return str(listener["ListenerArn"])


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
    described = stack.client("elbv2").describe_rules(ListenerArn=_listener(stack))["Rules"]
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


# --- tfgen release -----------------------------------------------------------------------------

LEDGER = ("database.database_name=ledger",)  # applied by (c): every later render keeps it
REQUESTS = 2000  # per bake and function, split by the listener rule's weights
LATENCIES_S = ((0.020, 60), (0.040, 30), (0.080, 9), (0.150, 1))  # response time, percent of requests
CLOCK, CHECK = core.Clock, core._Release._check  # as tfgen has them, before a test replaces them


def served(stack: Stack, key: str) -> dict[str, tuple[str, int]]:
    """Colour -> (target group ARN, weight) in ``key``'s listener rule, read from the emulator."""
    name = f"{dashed(key)}-{ENV}"
    elb = stack.client("elbv2")
    found = {}
    for rule in filter(None, map(rule_of, elb.describe_rules(ListenerArn=_listener(stack))["Rules"])):
        for group, weight in rule.targets:
            for target in elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]:
                function, _, colour = target["Target"]["Id"].rpartition(":")  # the alias ARN
                if function.endswith(f":function:{name}"):
                    found[colour] = (group, weight)
    assert set(found) == {"blue", "green"}, found
    return found


def publish(cloudwatch: Any, balancer: str, function: str, groups: dict[str, tuple[str, int]],
            green_error_pct: float) -> None:
    """Put what the load balancer and Lambda publish for ``REQUESTS`` requests split by the
    weights of ``groups`` (colour -> target group ARN suffix, weight), now."""
    now = datetime.now(UTC)
    for colour, (group, weight) in sorted(groups.items()):
        requests = REQUESTS * weight // 100
        if not requests:
            continue  # a target group without requests publishes nothing
        errors = round(requests * (green_error_pct if colour == "green" else 0.0) / 100)
        elb = [{"Name": "LoadBalancer", "Value": balancer}, {"Name": "TargetGroup", "Value": group}]
        alias = [{"Name": "FunctionName", "Value": function}, {"Name": "Resource", "Value": f"{function}:{colour}"}]
        cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
            {"MetricName": "RequestCount", "Dimensions": elb, "Timestamp": now, "Value": requests, "Unit": "Count"},
            {"MetricName": "TargetResponseTime", "Dimensions": elb, "Timestamp": now, "Unit": "Seconds",
             "Values": [s for s, _ in LATENCIES_S], "Counts": [requests * pct / 100 for _, pct in LATENCIES_S]}])
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": "Errors", "Dimensions": alias, "Timestamp": now, "Value": errors, "Unit": "Count"},
            {"MetricName": "Throttles", "Dimensions": alias, "Timestamp": now, "Value": 0, "Unit": "Count"}])


@dataclass
class Watch:
    """The release's sleep while a step bakes: the step's traffic as CloudWatch would see it.
    ``green_error_pct``: green's Lambda Errors per 100 requests by the bake's number (from 1);
    ``kill_at``: the bake during which the release is killed (Ctrl-C)."""

    stack: Stack
    key: str
    green_error_pct: Callable[[int], float] = lambda bake: 0.0
    kill_at: int | None = None
    greens: list[int] = field(default_factory=list)  # green's weight in the listener rule at each bake

    def sleep(self, seconds: float) -> None:
        groups = served(self.stack, self.key)
        self.greens.append(groups["green"][1])
        if self.kill_at == len(self.greens):
            raise KeyboardInterrupt("the release is killed while a step bakes")
        elb = self.stack.client("elbv2")
        [balancer] = elb.describe_load_balancers(Names=[f"payment-alb-{ENV}"])["LoadBalancers"]
        publish(self.stack.client("cloudwatch"), balancer["LoadBalancerArn"].split(":loadbalancer/", 1)[1],
                f"{dashed(self.key)}-{ENV}", {c: (arn.rsplit(":", 1)[1], w) for c, (arn, w) in groups.items()},
                self.green_error_pct(len(self.greens)))
        time.sleep(seconds)  # then the release asks CloudWatch for the window since the step began


def release(stack: Stack, monkeypatch: pytest.MonkeyPatch, watch: Watch, *args: str, extra: tuple[str, ...] = (),
            expect: int | None = 0) -> tuple[int, dict[str, Any] | None, str]:
    """`tfgen release dev --yes --format json --bake 2s ARGS`: (exit code, its report, stderr)."""
    monkeypatch.setattr(core, "Clock", lambda: CLOCK(sleep=watch.sleep))

    def check_without_artefacts(self: Any, plan: Any, result: Any, expected: Any, action: str) -> None:
        cleaned = allowlist.without_artefacts(plan)
        again = review.review(cleaned, env=self.env, max_step=int(self.model.lambda_.traffic_max_step))
        CHECK(self, cleaned, again, expected, action)

    monkeypatch.setattr(core._Release, "_check", check_without_artefacts)
    start = time.monotonic()
    try:
        code, stdout, stderr = stack.tfgen("release", ENV, "--out", str(stack.out), "--yes", "--format", "json",
                                           "--bake", "2s", *args, *stack.with_sets((*LEDGER, *extra)),
                                           "--", "-refresh=false", expect=expect)
    finally:
        stack.durations["release"] = stack.durations.get("release", 0) + time.monotonic() - start
    return code, json.loads(stdout) if stdout.strip() else None, stderr


def failures(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for record in report["records"] if record["judgement"] for f in record["judgement"]["findings"]
            if f["outcome"] == "fail"]


def test_j_a_release_step_holding_more_than_the_move_stops_before_the_apply(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    function = f"transaction-processing-{ENV}"
    assert stack.aliases(function) == {"blue": "1", "green": "1"}
    version = stack.versions(function)[-1]  # each apply republished it (allowlist.py: logging_config)
    assert version != "1"
    stack.expected["transaction_processing"] = version
    live = stack.live()
    watch = Watch(stack, "transaction_processing")
    code, report, stderr = release(stack, monkeypatch, watch, "--function", "transaction_processing", "--version",
                                   version, "--steps", "10,100",
                                   extra=("lambda.functions.transaction_processing.memory_mb=2048",), expect=None)
    assert code != 0 and report is None, stderr
    assert "step: stopped before the apply, nothing applied" in stderr, stderr
    assert 'update aws_lambda_function.this["transaction_processing"]: not part of this step' in stderr, stderr
    assert watch.greens == []  # nothing applied, nothing baked
    assert stack.live() == live


def test_k_a_release_killed_between_steps_resumes_and_finishes(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # `tfgen release ENV` alone (no --version): the release under way is read from the environment
    # file (the move (j) wrote) and the deployed state.
    function = f"transaction-processing-{ENV}"
    version = stack.expected["transaction_processing"]
    watch = Watch(stack, "transaction_processing", kill_at=1)
    code, _, stderr = release(stack, monkeypatch, watch, "--function", "transaction_processing", "--steps", "10,100",
                              expect=None)
    assert code == 130, stderr  # killed
    assert watch.greens == [10]  # the move (j) wrote was applied first, then killed while it baked
    assert stack.aliases(function) == {"blue": "1", "green": version}

    watch = Watch(stack, "transaction_processing")
    _, report, _ = release(stack, monkeypatch, watch, "--function", "transaction_processing", "--steps", "10,100")
    assert report is not None and report["result"] == "released", report
    assert watch.greens == [10, 100]  # step 10 judged again, then the promotion
    assert [r["action"] for r in report["records"]] == ["bake", "promote", "bake", "finalize"]
    assert [r["judgement"]["outcome"] for r in report["records"] if r["judgement"]] == ["pass", "pass"]
    # green's version on blue at 100 %, read back from the emulator
    assert stack.aliases(function) == {"blue": version, "green": version}
    assert {c: w for c, (_, w) in served(stack, "transaction_processing").items()} == {"blue": 100, "green": 0}


def test_l_an_unhealthy_second_step_is_rolled_back_to_blue(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    function = f"fraud-detection-{ENV}"
    assert stack.aliases(function) == {"blue": "1", "green": "1"}
    version = stack.versions(function)[-1]
    assert version != "1"
    watch = Watch(stack, "fraud_detection", green_error_pct=lambda bake: 5.0 if bake == 2 else 0.0)
    _, report, _ = release(stack, monkeypatch, watch, "--function", "fraud_detection", "--version", version,
                           "--steps", "10,20,100", expect=1)
    assert report is not None and report["result"] == "rolled_back", report
    assert watch.greens == [10, 20]
    assert {(f["function"], f["metric"]) for f in failures(report)} == {("fraud_detection", "Lambda Errors")}
    assert "green's Lambda Errors rate 5 % (20 of 400 requests)" in report["message"], report
    assert [r["action"] for r in report["records"]][-1] == "rollback"
    # blue at 100 %, read back from the emulator's listener rule; green keeps the version at 0
    assert {c: w for c, (_, w) in served(stack, "fraud_detection").items()} == {"blue": 100, "green": 0}
    assert stack.aliases(function) == {"blue": "1", "green": version}


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
    [rule] = [r for r in elb.describe_rules(ListenerArn=_listener(stack))["Rules"] if r["Priority"] == "100"]
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
