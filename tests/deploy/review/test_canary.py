"""The judgement of one release step on hand-made metric answers (tfgen.deploy.review.canary)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tfgen.deploy.review.canary import Colour, Limits, Observation, judge, worst

LIMITS = Limits(min_requests=100, error_rate_margin_pct=0.5, max_error_rate_pct=2.0, latency_margin_pct=20.0,
                max_latency_p99_ms=800.0)
HEALTHY = Colour(requests=1000, target_5xx=2, errors=3, throttles=0, p99_ms=200.0, lambda_user_errors=0,
                 lambda_internal_errors=0)
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
    assert "payment_validation: ALB LambdaUserError green 0 %, blue 0 %" in result.checks
    assert "payment_validation: ALB LambdaInternalError green 0 %, blue 0 %" in result.checks
    assert "alarms: 2 OK" in result.checks


COUNTS = [("target_5xx", "target 5XX"), ("errors", "Lambda Errors"), ("throttles", "Lambda Throttles"),
          ("lambda_user_errors", "ALB LambdaUserError"), ("lambda_internal_errors", "ALB LambdaInternalError")]


@pytest.mark.parametrize(("attribute", "metric"), COUNTS)
def test_each_count_fails_beyond_the_margin_over_blue_naming_the_metric_and_figures(attribute: str,
                                                                                   metric: str) -> None:
    # blue 0.3 % (3 of 1000); green 9 of 1000 = 0.9 %: 0.6 points above, margin 0.5.
    result = judge([seen({attribute: 9}, {attribute: 3})], QUIET, LIMITS)
    assert result.outcome == "fail"
    [finding] = result.findings
    assert (finding.function, finding.metric) == ("payment_validation", metric)
    assert finding.message == (f"green's {metric} rate 0.9 % (9 of 1000 requests) is more than error_rate_margin_pct "
                               f"0.5 % points above blue's 0.3 % (3 of 1000)")


@pytest.mark.parametrize("attribute", [attribute for attribute, _ in COUNTS])
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


def test_thin_green_traffic_within_the_margins_is_inconclusive() -> None:
    result = judge([seen({"requests": 99, "target_5xx": 0, "errors": 0})], QUIET, LIMITS)
    assert result.outcome == "inconclusive"
    assert [f.message for f in result.findings] == [
        "green saw 99 requests, fewer than min_requests 100: too little traffic to judge"]
    enough = seen({"requests": 100, "target_5xx": 0, "errors": 0})  # min_requests itself is enough
    assert judge([enough], QUIET, LIMITS).outcome == "pass"


def test_thin_green_traffic_fails_when_its_errors_breach_the_limit_even_of_min_requests() -> None:
    # blue 25 of 1000 = 2.5 %: the margin allows green 3 %, the absolute limit 2 %
    green = {"requests": 40, "target_5xx": 0}
    assert judge([seen({**green, "errors": 2}, {"errors": 25})], QUIET, LIMITS).outcome == "inconclusive"  # 2 %
    result = judge([seen({**green, "errors": 3}, {"errors": 25})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert [f.message for f in result.failures] == [
        "green's Lambda Errors 3 in 40 requests is above max_error_rate_pct 2 % even of min_requests 100"]


def test_thin_green_traffic_fails_when_its_errors_breach_the_margin_over_blue_even_of_min_requests() -> None:
    # blue 1 of 1000 = 0.1 %: the margin allows green 0.6 %, 0.6 errors of min_requests; 1 is above it
    green = {"requests": 30, "target_5xx": 0, "errors": 1}
    result = judge([seen(green, {"errors": 1})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert [f.message for f in result.failures] == [
        "green's Lambda Errors 1 in 30 requests is more than error_rate_margin_pct 0.5 % points above blue's 0.1 % "
        "(1 of 1000) even of min_requests 100"]
    # blue 5 of 1000 = 0.5 %: 1 of min_requests is 1 %, within 0.5 + 0.5 points: not yet evidence
    assert judge([seen(green, {"errors": 5})], QUIET, LIMITS).outcome == "inconclusive"


def test_thin_green_traffic_is_not_held_to_blue_s_rate_when_blue_saw_too_little_too() -> None:
    result = judge([seen({"requests": 30, "target_5xx": 0, "errors": 1}, {"requests": 50, "errors": 0})], QUIET,
                   LIMITS)
    assert (result.outcome, result.failures) == ("inconclusive", ())


def test_thin_green_traffic_fails_when_its_p99_is_above_the_absolute_limit() -> None:
    result = judge([seen({"requests": 50, "target_5xx": 0, "errors": 0, "p99_ms": 5000.0})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert [(f.metric, f.message) for f in result.failures] == [
        ("TargetResponseTime p99", "green's TargetResponseTime p99 5000 ms is above max_latency_p99_ms 800 ms")]
    at_limit = seen({"requests": 50, "target_5xx": 0, "errors": 0, "p99_ms": 800.0})
    assert judge([at_limit], QUIET, LIMITS).outcome == "inconclusive"


def test_green_s_p99_above_the_absolute_limit_fails_even_with_no_answer_for_its_requests() -> None:
    result = judge([seen({"requests": None, "p99_ms": 900.0})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert {(f.outcome, f.metric) for f in result.findings} == {("inconclusive", "requests"),
                                                                ("fail", "TargetResponseTime p99")}


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
@pytest.mark.parametrize("attribute", ["requests", *(attribute for attribute, _ in COUNTS), "p99_ms"])
def test_a_missing_answer_is_inconclusive_never_a_pass(colour: str, attribute: str) -> None:
    observation = seen({attribute: None}) if colour == "green" else seen(blue={attribute: None})
    result = judge([observation], QUIET, LIMITS)
    assert result.outcome == "inconclusive", result
    assert all("no answer for" in f.message for f in result.findings)


FIGURES = [("requests", "requests", "request count"), ("target_5xx", "target 5XX", "target 5XX"),
           ("errors", "Lambda Errors", "Lambda Errors"), ("throttles", "Lambda Throttles", "Lambda Throttles"),
           ("lambda_user_errors", "ALB LambdaUserError", "ALB LambdaUserError"),
           ("lambda_internal_errors", "ALB LambdaInternalError", "ALB LambdaInternalError"),
           ("p99_ms", "TargetResponseTime p99", "TargetResponseTime p99")]


@pytest.mark.parametrize("colour", ["green", "blue"])
@pytest.mark.parametrize(("attribute", "metric", "words"), FIGURES)
def test_a_negative_figure_is_nonsense_and_inconclusive_never_a_pass(colour: str, attribute: str, metric: str,
                                                                     words: str) -> None:
    observation = seen({attribute: -50}) if colour == "green" else seen(blue={attribute: -50})
    result = judge([observation], QUIET, LIMITS)
    assert result.outcome == "inconclusive", result
    assert [(f.outcome, f.metric, f.message) for f in result.findings] == [
        ("inconclusive", metric, f"{colour}'s {words} is -50: negative, which no metric source gives")]


def test_a_negative_count_does_not_mask_green_s_errors() -> None:
    # 5XX -1000 would bring green's summed failures to nothing; blue's negative errors its rate below zero
    result = judge([seen({"target_5xx": -1000, "errors": 40}, {"errors": -40})], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert {(f.outcome, f.metric) for f in result.findings} == {
        ("inconclusive", "target 5XX"), ("inconclusive", "Lambda Errors"), ("fail", "Lambda Errors")}
    assert [f.message for f in result.failures] == [
        "green's Lambda Errors rate 4 % (40 of 1000 requests) is above max_error_rate_pct 2 %"]


@pytest.mark.parametrize("colour", ["green", "blue"])
@pytest.mark.parametrize(("attribute", "metric", "words"), FIGURES)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_figure_that_is_not_finite_is_inconclusive_not_an_exception(colour: str, attribute: str, metric: str,
                                                                      words: str, value: float) -> None:
    observation = seen({attribute: value}) if colour == "green" else seen(blue={attribute: value})
    result = judge([observation], QUIET, LIMITS)
    assert result.outcome == "inconclusive", result
    assert [(f.outcome, f.metric, f.message) for f in result.findings] == [
        ("inconclusive", metric, f"{colour}'s {words} is {value!r}: not a finite number")]


@pytest.mark.parametrize("value", [True, "1000", [1000], object()])
def test_a_figure_that_is_no_number_is_inconclusive_not_an_exception(value: Any) -> None:
    result = judge([seen({"requests": value})], QUIET, LIMITS)
    assert result.outcome == "inconclusive", result
    assert [f.message for f in result.findings] == [f"green's request count is {value!r}: not a number"]


def test_a_fraction_below_min_requests_is_shown_as_it_is() -> None:
    result = judge([seen({"requests": 99.99999999, "target_5xx": 0, "errors": 0})], QUIET, LIMITS)
    assert [f.message for f in result.findings] == [
        "green saw 99.99999999 requests, fewer than min_requests 100: too little traffic to judge"]


def test_at_the_promotion_green_is_judged_against_the_absolute_limits_only() -> None:
    blue_idle = {"requests": 0, "target_5xx": None, "errors": None, "throttles": None, "p99_ms": None}
    result = judge([seen({"errors": 15}, blue_idle, weights=(0, 100))], QUIET, LIMITS)
    assert result.outcome == "pass"
    assert "payment_validation: blue takes no traffic in this step: green judged against the absolute limits only" \
        in result.checks
    assert judge([seen({"errors": 25}, blue_idle, weights=(0, 100))], QUIET, LIMITS).outcome == "fail"


@pytest.mark.parametrize("weights", [(-1, 101), (90, 20), (0, 10), (50, 49), (101, -1), (True, 99), (90.0, 10)])
def test_weights_that_are_no_split_of_100_are_inconclusive_never_a_pass(weights: tuple[Any, Any]) -> None:
    result = judge([seen(weights=weights)], QUIET, LIMITS)
    assert result.outcome == "inconclusive", result
    assert [(f.metric, f.message) for f in result.findings] == [
        ("weights", f"the step's weights blue {weights[0]!r} / green {weights[1]!r} are no split of 100 % (each 0 to "
                    "100, summing to 100): which traffic green took cannot be told")]


def test_weights_that_are_no_split_still_fail_a_breach_of_the_absolute_limits() -> None:
    result = judge([seen({"errors": 50}, weights=(-10, 10))], QUIET, LIMITS)
    assert result.outcome == "fail"
    assert {(f.outcome, f.metric) for f in result.findings} == {("inconclusive", "weights"),
                                                                ("fail", "Lambda Errors")}


def test_a_function_observed_twice_is_inconclusive() -> None:
    result = judge([seen(), seen({"errors": 0})], QUIET, LIMITS)
    assert result.outcome == "inconclusive"
    assert [str(f) for f in result.findings] == [
        "payment_validation: observed more than once: which answer holds cannot be told"]


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


def test_no_requests_are_too_few_to_judge_even_when_min_requests_asks_for_none() -> None:
    none_needed = Limits(min_requests=0, error_rate_margin_pct=0.5, max_error_rate_pct=2.0, latency_margin_pct=20.0,
                         max_latency_p99_ms=800.0)
    idle = {"requests": 0, "target_5xx": 0, "errors": 0, "throttles": 0}
    result = judge([seen(idle, idle)], QUIET, none_needed)
    assert result.outcome == "inconclusive"
    assert [f.message for f in result.findings] == [
        "green saw 0 requests, fewer than min_requests 1: too little traffic to judge"]
