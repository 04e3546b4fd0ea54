"""``tfgen release`` on a live ``dev`` stack, against moto_server.

One emulator and one private copy of the project are shared by the scenarios, which run in file
order, each on the stack the one before left. The stack is deployed first, then its aliases are
pinned to the versions they run and new code of every function is published to no alias (as
``tfgen traffic pin``, a plan and an apply do): where a release starts.

    (j) a release of transaction_processing to that version with a memory change beside it:
        the first step's plan holds more than the traffic move: stopped before the apply
    (k) the release again: the move (j) left is applied first; killed while that step bakes;
        run again, it resumes there, promotes and finalizes: blue runs green's version at 100 %
    (l) a release of fraud_detection whose green fails at the second step (Lambda Errors
        above the margin): rolled back, blue at 100 % in the emulator's listener rule
    (m) new code of payment_validation released with no version named: the release publishes
        it (the plan is the code and nothing else), reads the version from the state, steps,
        promotes and finalizes

The releases bake on synthetic CloudWatch data: while a step bakes, ``Watch`` reads the
function's weights back from the emulator's listener rule and puts, with PutMetricData, what the
load balancer and Lambda publish for that traffic (request counts, response times, Errors and
Throttles per alias); tfgen's own CloudWatch adapter reads it back with GetMetricData. Against
the emulator every plan carries the artefacts tests/e2e/allowlist.py lists; for the release's
step check alone (its plan must be the traffic move and nothing else), those listed artefacts
are read as unchanged (allowlist.without_artefacts), through a test-only replacement of the
check's input; anything else still stops the release.

The commands run in-process, as in test_day2.py; only ``--set`` settings point the provider at
the emulator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import copy_inputs, requires_terraform
from tfgen.config.names import FUNCTION_KEYS, dashed
from tfgen.deploy import release as core
from tfgen.deploy import review

from . import allowlist
from .harness import progress
from .router import rule_of
from .stack import ENV, Stack, initialised, listener_arn

pytestmark = [pytest.mark.e2e, requires_terraform]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """dev deployed from a copy of the project on a fresh emulator, pinned, with new code published."""
    root = copy_inputs(tmp_path_factory.mktemp("release"))
    say = progress(request, "e2e release")
    with initialised(root, say) as result:
        start = time.monotonic()
        _deploy(result)
        result.durations["deploy"] = time.monotonic() - start
        yield result


def _change_code(stack: Stack, key: str, note: str) -> None:
    handler = stack.root / "lambdas" / key / f"{key}.py"
    handler.write_text(handler.read_text() + f"\n# {note}\n")


def _deploy(stack: Stack) -> None:
    """The first deploy; then every alias pinned to the version it runs (1) and new code of every
    function published to no alias."""
    review = stack.plan()
    assert (review["refusals"], review["data_loss"]) == ([], []), review
    stack.apply()
    stack.tfgen("traffic", ENV, "pin", "--out", str(stack.out))
    for key in FUNCTION_KEYS:
        _change_code(stack, key, "release 2")
    stack.render()  # the pin rewrote the output without the emulator settings
    review = stack.plan()
    assert review["refusals"] == [], review
    stack.apply()
    for key in FUNCTION_KEYS:
        function = f"{dashed(key)}-{ENV}"
        assert stack.aliases(function) == {"blue": "1", "green": "1"}
        assert stack.versions(function)[-1] != "1"


REQUESTS = 2000  # per bake and function, split by the listener rule's weights
LATENCIES_S = ((0.020, 60), (0.040, 30), (0.080, 9), (0.150, 1))  # response time, percent of requests
CLOCK, CHECK = core.Clock, core._Release._check  # as tfgen has them, before a test replaces them


def served(stack: Stack, key: str) -> dict[str, tuple[str, int]]:
    """Colour -> (target group ARN, weight) in ``key``'s listener rule, read from the emulator."""
    name = f"{dashed(key)}-{ENV}"
    elb = stack.client("elbv2")
    found = {}
    for rule in filter(None, map(rule_of, elb.describe_rules(ListenerArn=listener_arn(stack))["Rules"])):
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
                                           "--bake", "2s", *args, *stack.with_sets(extra),
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


def test_m_new_code_released_with_no_version_named_is_published_then_released(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    function = f"payment-validation-{ENV}"
    assert stack.aliases(function) == {"blue": "1", "green": "1"}
    published = stack.versions(function)
    _change_code(stack, "payment_validation", "release 3")
    watch = Watch(stack, "payment_validation")
    _, report, _ = release(stack, monkeypatch, watch, "--function", "payment_validation", "--steps", "10,100")
    assert report is not None and report["result"] == "released", report
    # The release published the code and read the version from the state: the first one it made
    # (against the emulator each later apply publishes again, allowlist.py: logging_config).
    version = report["versions"]["payment_validation"]
    assert version == next(v for v in stack.versions(function) if v not in published), report
    assert [r["action"] for r in report["records"]] == ["publish", "step", "bake", "promote", "bake", "finalize"]
    assert watch.greens == [10, 100]
    assert stack.aliases(function) == {"blue": version, "green": version}
    assert {c: w for c, (_, w) in served(stack, "payment_validation").items()} == {"blue": 100, "green": 0}
