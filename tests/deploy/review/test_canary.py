"""The judgement of one release step on hand-made metric answers (tfgen.deploy.review.canary)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tfgen.deploy.review.canary import Colour, Limits, Observation, judge, worst

LIMITS = Limits(min_requests=100, error_rate_margin_pct=0.5, max_error_rate_pct=2.0, latency_margin_pct=20.0,
                max_latency_p99_ms=800.0)
HEALTHY = Colour(requests=1000, target_5xx=2, errors=3, throttles=0, p99_ms=200.0)
QUIET = {"payment-alb-5xx-prod": "OK", "api-p99-latency-prod": "OK"}


def seen(green: dict[str, Any] | None = None, blue: dict[str, Any] | None = None, weights: tuple[int, int] = (90, 10),
         function: str = "payment_validation") -> Observation:
    return Observation(function, dataclasses.replace(HEALTHY, **(blue or {})),
                       dataclasses.replace(HEALTHY, **(green or {})), *weights)


def test_a_green_like_blue_with_quiet_alarms_passes_and_says_what_it_checked() -> None:
    result = judge([seen({"requests": 120, "target_5xx": 0, "errors": 0, "p99_ms": 210.0})], QUIET, LIMITS)
    assert (result.outcome, result.findings) == ("pass", ())
    assert "payment_validation: requests green 120, blue 1000" in result.checks
    assert "payment_validation: target 5XX green 0 %, blue 0.2 %" in result.checks
    assert "payment_validation: TargetResponseTime p99 green 210 ms, blue 200 ms" in result.checks
    assert "alarms: 2 OK" in result.checks


@pytest.mark.parametrize(("attribute", "metric"), [("target_5xx", "target 5XX"), ("errors", "Lambda Errors"),
                                                   ("throttles", "Lambda Throttles")])
def test_each_count_fails_beyond_the_margin_over_blue_naming_the_metric_and_figures(attribute: str,
                                                                                   metric: str) -> None:
    # blue 0.3 % (3 of 1000); green 9 of 1000 = 0.9 %: 0.6 points above, margin 0.5.
    result = judge([seen({attribute: 9}, {attribute: 3})], QUIET, LIMITS)
    assert result.outcome == "fail"
    [finding] = result.findings
    assert (finding.function, finding.metric) == ("payment_validation", metric)
    assert finding.message == (f"green's {metric} rate 0.9 % (9 of 1000 requests) is more than error_rate_margin_pct "
                               f"0.5 % points above blue's 0.3 % (3 of 1000)")


@pytest.mark.parametrize("attribute", ["target_5xx", "errors", "throttles"])
def test_each_count_fails_above_the_absolute_limit_even_when_blue_is_as_bad(attribute: str) -> None:
    result = judge([seen({attribute: 30}, {attribute: 30})], QUIET, LIMITS)
    assert result.outcome == "fail"
    [finding] = result.findings
    assert "rate 3 % (30 of 1000 requests) is above max_error_rate_pct 2 %" in finding.message


def test_the_error_margin_passes_at_its_edge_and_fails_just_beyond() -> None:
    # blue 1 of 1000 = 0.1 %; green 6 of 1000 = 0.6 % is exactly 0.5 points above (0.1 + 0.5 is not exact in binary).
    assert judge([seen({"errors": 6}, {"errors": 1})], QUIET, LIMITS).outcome == "pass"
    assert judge([seen({"errors": 6.01}, {"errors": 1})], QUIET, LIMITS).outcome == "fail"


def test_the_absolute_error_limit_passes_at_its_edge_and_fails_just_beyond() -> None:
    assert judge([seen({"errors": 20}, {"errors": 20})], QUIET, LIMITS).outcome == "pass"
    assert judge([seen({"errors": 20.01}, {"errors": 20})], QUIET, LIMITS).outcome == "fail"


def test_latency_passes_at_the_margin_edge_and_fails_just_beyond() -> None:
    assert judge([seen({"p99_ms": 240.0})], QUIET, LIMITS).outcome == "pass"  # 200 * 1.2
    result = judge([seen({"p99_ms": 240.5})], QUIET, LIMITS)
    assert result.outcome == "fail"
    [finding] = result.findings
    assert finding.metric == "TargetResponseTime p99"
    assert finding.message == ("green's TargetResponseTime p99 240.5 ms is more than latency_margin_pct 20 % "
                               "above blue's 200 ms")


def test_latency_fails_above_the_absolute_limit_and_passes_at_it() -> None:
    assert judge([seen({"p99_ms": 800.0}, {"p99_ms": 790.0})], QUIET, LIMITS).outcome == "pass"
    result = judge([seen({"p99_ms": 801.0}, {"p99_ms": 790.0})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert [f.message for f in result.findings] == [
        "green's TargetResponseTime p99 801 ms is above max_latency_p99_ms 800 ms"]


@pytest.mark.parametrize("state", ["ALARM"])
def test_any_alarm_of_the_environment_in_alarm_fails_a_healthy_step(state: str) -> None:
    result = judge([seen()], {**QUIET, "aurora-cpu-prod": state}, LIMITS)
    assert result.outcome == "fail"
    assert [(f.metric, f.message) for f in result.findings] == [("alarms", "alarm aurora-cpu-prod is in ALARM")]


def test_each_alarm_in_alarm_is_named() -> None:
    alarms = {name: "ALARM" for name in QUIET}
    result = judge([seen()], alarms, LIMITS)
    assert [str(f) for f in result.findings] == ["alarm api-p99-latency-prod is in ALARM",
                                                 "alarm payment-alb-5xx-prod is in ALARM"]


def test_alarms_that_could_not_be_read_or_are_missing_are_inconclusive() -> None:
    assert judge([seen()], None, LIMITS).outcome == "inconclusive"
    result = judge([seen()], {**QUIET, "aurora-cpu-prod": None}, LIMITS)
    assert (result.outcome, [str(f) for f in result.findings]) == ("inconclusive",
                                                                    ["alarm aurora-cpu-prod: not found"])


@pytest.mark.parametrize("state", ["INSUFFICIENT_DATA", "alarm", "Alarm", "ok", "", " OK", "None"])
def test_an_alarm_in_any_state_but_ok_or_alarm_is_inconclusive_naming_the_alarm_and_its_state(state: str) -> None:
    result = judge([seen()], {**QUIET, "aurora-cpu-prod": state}, LIMITS)
    assert result.outcome == "inconclusive"
    assert [(f.outcome, f.metric, f.message) for f in result.findings] == [
        ("inconclusive", "alarms", f"alarm aurora-cpu-prod is in state {state!r}, not OK: whether it is quiet "
                                   "cannot be told")]
    assert "alarms: 2 OK" in result.checks


@pytest.mark.parametrize("state", [0, False, ["OK"]])
def test_an_alarm_state_that_is_not_text_is_inconclusive(state: Any) -> None:
    result = judge([seen()], {**QUIET, "aurora-cpu-prod": state}, LIMITS)
    assert result.outcome == "inconclusive"
    assert [f.message for f in result.findings] == [
        f"alarm aurora-cpu-prod is in state {state!r}, not OK: whether it is quiet cannot be told"]


def test_no_alarm_answered_is_inconclusive_the_stack_always_has_alarms() -> None:
    result = judge([seen()], {}, LIMITS)
    assert result.outcome == "inconclusive"
    assert [(f.metric, f.message) for f in result.findings] == [
        ("alarms", "no alarm of the environment was answered (the stack always has some): whether one is in "
                   "ALARM cannot be told")]


def test_thin_green_traffic_is_inconclusive_whatever_its_errors() -> None:
    result = judge([seen({"requests": 99, "errors": 0})], QUIET, LIMITS)
    assert result.outcome == "inconclusive"
    assert [f.message for f in result.findings] == [
        "green saw 99 requests, fewer than min_requests 100: too little traffic to judge"]
    enough = seen({"requests": 100, "target_5xx": 0, "errors": 0})  # min_requests itself is enough
    assert judge([enough], QUIET, LIMITS).outcome == "pass"


def test_thin_green_traffic_fails_when_its_errors_breach_the_limit_even_of_min_requests() -> None:
    assert judge([seen({"requests": 40, "errors": 2})], QUIET, LIMITS).outcome == "inconclusive"  # 2 of 100 is 2 %
    result = judge([seen({"requests": 40, "errors": 3})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert [f.message for f in result.failures] == [
        "green's Lambda Errors 3 in 40 requests is above max_error_rate_pct 2 % even of min_requests 100"]


def test_thin_blue_traffic_is_inconclusive_while_blue_takes_traffic() -> None:
    result = judge([seen(blue={"requests": 50})], QUIET, LIMITS)
    assert result.outcome == "inconclusive"
    assert [f.message for f in result.findings] == [
        "blue saw 50 requests, fewer than min_requests 100: too little to compare green with"]


def test_a_breach_fails_even_when_blue_cannot_be_compared() -> None:
    result = judge([seen({"errors": 50}, {"requests": 10})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert {f.outcome for f in result.findings} == {"fail", "inconclusive"}


@pytest.mark.parametrize("colour", ["green", "blue"])
@pytest.mark.parametrize("attribute", ["requests", "target_5xx", "errors", "throttles", "p99_ms"])
def test_a_missing_answer_is_inconclusive_never_a_pass(colour: str, attribute: str) -> None:
    observation = seen({attribute: None}) if colour == "green" else seen(blue={attribute: None})
    result = judge([observation], QUIET, LIMITS)
    assert result.outcome == "inconclusive", result
    assert all("no answer for" in f.message for f in result.findings)


def test_at_the_promotion_green_is_judged_against_the_absolute_limits_only() -> None:
    blue_idle = {"requests": 0, "target_5xx": None, "errors": None, "throttles": None, "p99_ms": None}
    result = judge([seen({"errors": 15}, blue_idle, weights=(0, 100))], QUIET, LIMITS)
    assert result.outcome == "pass"
    assert "payment_validation: blue takes no traffic in this step: green judged against the absolute limits only" \
        in result.checks
    assert judge([seen({"errors": 25}, blue_idle, weights=(0, 100))], QUIET, LIMITS).outcome == "fail"


def test_nothing_observed_is_inconclusive() -> None:
    assert judge([], QUIET, LIMITS).outcome == "inconclusive"


def test_every_function_is_judged_and_one_failing_fails_the_step() -> None:
    result = judge([seen(function="payment_validation"), seen({"throttles": 40}, function="fraud_detection")],
                   QUIET, LIMITS)
    assert result.outcome == "fail"
    assert {f.function for f in result.findings} == {"fraud_detection"}
    assert result.as_json()["findings"][0]["metric"] == "Lambda Throttles"


def test_worst_orders_the_outcomes() -> None:
    assert worst(["pass", "inconclusive"]) == "inconclusive"
    assert worst(["inconclusive", "fail", "pass"]) == "fail"
    assert worst(["pass"]) == "pass"
