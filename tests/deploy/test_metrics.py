"""The CloudWatch adapter of tfgen release on hand-made answers (tfgen.deploy.metrics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tfgen.deploy.metrics import CloudWatch, Targets
from tfgen.deploy.review.canary import Colour, Limits, Observation, judge

STATE = {"values": {"root_module": {"resources": [
    {"mode": "managed", "type": "aws_lb", "name": "this", "values": {"arn_suffix": "app/payment-alb-dev/1"}},
    *({"mode": "managed", "type": "aws_lb_target_group", "name": "this", "index": f"payment_validation-{c}",
       "values": {"arn_suffix": f"targetgroup/pv-{c}-dev/2"}} for c in ("blue", "green")),
    {"mode": "managed", "type": "aws_lambda_function", "name": "this", "index": "payment_validation",
     "values": {"function_name": "payment-validation-dev"}},
    {"mode": "managed", "type": "aws_cloudwatch_metric_alarm", "name": "alb_5xx",
     "values": {"alarm_name": "payment-alb-5xx-dev"}}]}}}
START = datetime(2025, 1, 1, tzinfo=UTC)


class FakeCloudWatch:
    def __init__(self, values: dict[str, Any], fail: bool = False) -> None:
        self.values = values
        self.fail = fail
        self.asked: list[dict[str, Any]] = []

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("throttled")
        self.asked.append(kwargs)
        return {"MetricDataResults": [
            result(q["Id"], [], "PartialData") if self.values.get(q["Id"]) == "partial" else
            result(q["Id"], self.values.get(q["Id"], []), start=kwargs["StartTime"])
            for q in kwargs["MetricDataQueries"]]}

    def describe_alarms(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("denied")
        return {"MetricAlarms": [{"AlarmName": "payment-alb-5xx-dev", "StateValue": "OK"}]}


def result(query_id: str, values: list[float], status: str = "Complete", start: datetime = START) -> dict[str, Any]:
    """One MetricDataResult: ``values`` a minute apart from ``start``."""
    return {"Id": query_id, "StatusCode": status, "Values": values,
            "Timestamps": [start + timedelta(minutes=i) for i in range(len(values))]}


def source(fake: FakeCloudWatch) -> CloudWatch:
    return CloudWatch(lambda service: fake, Targets.of_state(STATE))


def test_the_targets_come_from_the_state() -> None:
    targets = Targets.of_state(STATE)
    assert targets.load_balancer == "app/payment-alb-dev/1"
    assert targets.target_groups == {"payment_validation": {"blue": "targetgroup/pv-blue-dev/2",
                                                            "green": "targetgroup/pv-green-dev/2"}}
    assert (targets.functions, targets.alarms) == ({"payment_validation": "payment-validation-dev"},
                                                   ("payment-alb-5xx-dev",))


def test_counts_sum_a_missing_5xx_is_zero_and_latency_is_in_milliseconds() -> None:
    fake = FakeCloudWatch({"requests_green_payment_validation": [60.0, 50.0], "errors_green_payment_validation": [1.0],
                           "p99_green_payment_validation": [0.25, 0.5], "throttles_green_payment_validation": []})
    [seen] = source(fake).observe({"payment_validation": (90, 10)}, START, START + timedelta(seconds=150))
    assert (seen.green.requests, seen.green.target_5xx, seen.green.errors, seen.green.throttles, seen.green.p99_ms) \
        == (110.0, 0.0, 1.0, 0.0, 500.0)  # the worst minute's p99
    assert (seen.blue_weight, seen.green_weight) == (90, 10)
    query = fake.asked[0]["MetricDataQueries"][0]
    assert query["MetricStat"]["Period"] == 60  # minute by minute
    assert {d["Name"] for d in query["MetricStat"]["Metric"]["Dimensions"]} == {"LoadBalancer", "TargetGroup"}


def test_no_lambda_errors_while_requests_came_a_partial_answer_and_a_failed_call_are_no_answer() -> None:
    fake = FakeCloudWatch({"requests_green_payment_validation": [200.0], "target_5xx_green_payment_validation":
                           "partial"})
    [seen] = source(fake).observe({"payment_validation": (90, 10)}, START, START + timedelta(seconds=60))
    assert (seen.green.errors, seen.green.target_5xx, seen.green.p99_ms) == (None, None, None)
    [failed] = source(FakeCloudWatch({}, fail=True)).observe({"payment_validation": (90, 10)}, START,
                                                             START + timedelta(seconds=60))
    assert failed.green.requests is None and failed.blue.requests is None
    assert source(FakeCloudWatch({}, fail=True)).alarms() is None
    assert source(FakeCloudWatch({})).alarms() == {"payment-alb-5xx-dev": "OK"}


def test_the_load_balancer_s_lambda_errors_of_each_target_group_are_counted_as_that_colour_s() -> None:
    fake = FakeCloudWatch({"requests_green_payment_validation": [500.0], "errors_green_payment_validation": [0.0],
                           "lambda_user_errors_green_payment_validation": [3.0, 1.0],
                           "lambda_internal_errors_green_payment_validation": [2.0]})
    [seen] = source(fake).observe({"payment_validation": (90, 10)}, START, START + timedelta(seconds=120))
    assert (seen.green.lambda_user_errors, seen.green.lambda_internal_errors) == (4.0, 2.0)
    # reported only when not zero: no datapoints in a complete answer is none
    assert (seen.blue.lambda_user_errors, seen.blue.lambda_internal_errors) == (0.0, 0.0)
    asked = {q["Id"]: q["MetricStat"] for q in fake.asked[0]["MetricDataQueries"]}
    for colour in ("blue", "green"):
        for field, metric in (("lambda_user_errors", "LambdaUserError"),
                              ("lambda_internal_errors", "LambdaInternalError")):
            stat = asked[f"{field}_{colour}_payment_validation"]
            assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
                "AWS/ApplicationELB", metric, "Sum")
            assert stat["Metric"]["Dimensions"] == [
                {"Name": "LoadBalancer", "Value": "app/payment-alb-dev/1"},
                {"Name": "TargetGroup", "Value": f"targetgroup/pv-{colour}-dev/2"}]
    partial = FakeCloudWatch({"requests_green_payment_validation": [500.0],
                              "lambda_user_errors_green_payment_validation": "partial"})
    [seen] = source(partial).observe({"payment_validation": (90, 10)}, START, START + timedelta(seconds=60))
    assert seen.green.lambda_user_errors is None


def in_modules(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """STATE's resources spread over the root module and nested child modules."""
    return {"values": {"root_module": {"resources": resources[:1], "child_modules": [
        {"address": "module.routing", "resources": resources[1:3], "child_modules": [
            {"address": "module.routing.module.functions", "resources": resources[3:]}]}]}}}


def test_the_targets_come_from_child_modules_too() -> None:
    resources = STATE["values"]["root_module"]["resources"]
    assert Targets.of_state(in_modules(resources)) == Targets.of_state(STATE)


def test_a_dimension_the_state_names_twice_differently_is_unknown_and_asked_of_no_one() -> None:
    resources = STATE["values"]["root_module"]["resources"]
    other = {"mode": "managed", "type": "aws_lb", "name": "this", "values": {"arn_suffix": "app/other/9"}}
    targets = Targets.of_state(in_modules([*resources, other]))
    assert targets.load_balancer == ""
    fake = FakeCloudWatch({"requests_green_payment_validation": [500.0]})
    [seen] = CloudWatch(lambda service: fake, targets).observe({"payment_validation": (90, 10)}, START,
                                                               START + timedelta(seconds=60))
    assert (seen.green.requests, seen.green.target_5xx, seen.green.p99_ms) == (None, None, None)
    asked = [q["MetricStat"]["Metric"] for call in fake.asked for q in call["MetricDataQueries"]]
    assert asked and all(d["Value"] for metric in asked for d in metric["Dimensions"])
    assert {m["Namespace"] for m in asked} == {"AWS/Lambda"}  # the function is known: its own metrics are asked


def test_a_function_or_target_group_the_state_does_not_hold_is_no_answer() -> None:
    resources = [r for r in STATE["values"]["root_module"]["resources"]
                 if r.get("index") != "payment_validation-green"]
    fake = FakeCloudWatch({"requests_green_payment_validation": [500.0], "requests_blue_payment_validation": [900.0]})
    targets = Targets.of_state({"values": {"root_module": {"resources": resources}}})
    [seen] = CloudWatch(lambda service: fake, targets).observe({"payment_validation": (90, 10)}, START,
                                                               START + timedelta(seconds=60))
    assert (seen.green.requests, seen.green.target_5xx, seen.green.lambda_user_errors) == (None, None, None)
    assert seen.blue.requests == 900.0
    [unknown] = CloudWatch(lambda service: fake, targets).observe({"fraud_detection": (90, 10)}, START,
                                                                  START + timedelta(seconds=60))
    assert unknown.green == unknown.blue == Colour()


def test_no_alarm_in_the_state_answers_none_which_the_judgement_never_passes() -> None:
    resources = [r for r in STATE["values"]["root_module"]["resources"] if r["type"] != "aws_cloudwatch_metric_alarm"]
    targets = Targets.of_state({"values": {"root_module": {"resources": resources}}})
    alarms = CloudWatch(lambda service: FakeCloudWatch({}), targets).alarms()
    assert alarms == {}
    healthy = Colour(requests=1000, target_5xx=0, errors=0, throttles=0, p99_ms=100.0, lambda_user_errors=0,
                     lambda_internal_errors=0)
    limits = Limits(min_requests=100, error_rate_margin_pct=0.5, max_error_rate_pct=1.0, latency_margin_pct=20.0,
                    max_latency_p99_ms=1000.0)
    assert judge([Observation("payment_validation", healthy, healthy, 90, 10)], alarms, limits).outcome \
        == "inconclusive"


# --- GetMetricData pages ------------------------------------------------------------------------

PV_GREEN_5XX, PV_GREEN_REQUESTS = "target_5xx_green_payment_validation", "requests_green_payment_validation"




class PagedCloudWatch(FakeCloudWatch):
    """GetMetricData answering ``pages`` one call at a time (each but the last with a NextToken);
    every Id no page names is answered Complete with no datapoints on the first page."""

    def __init__(self, *pages: list[dict[str, Any]], tokens: list[str] | None = None) -> None:
        super().__init__({})
        self.pages = pages
        self.tokens = tokens or [f"page-{n + 2}" for n in range(len(pages) - 1)]

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        number = len(self.asked) - 1
        answer: dict[str, Any] = {"MetricDataResults": list(self.pages[number])}
        if number == 0:
            named = {r["Id"] for page in self.pages for r in page}
            answer["MetricDataResults"] += [result(q["Id"], []) for q in kwargs["MetricDataQueries"]
                                            if q["Id"] not in named]
        if number < len(self.tokens):
            answer["NextToken"] = self.tokens[number]
        return answer


def observed(fake: FakeCloudWatch) -> Colour:
    [seen] = source(fake).observe({"payment_validation": (90, 10)}, START, START + timedelta(minutes=5))
    return seen.green


def test_the_datapoints_of_one_query_over_several_pages_add_up() -> None:
    minute = [START + timedelta(minutes=n) for n in range(3)]
    fake = PagedCloudWatch([result(PV_GREEN_REQUESTS, [300.0], "PartialData"), result(PV_GREEN_5XX, [60.0],
                                                                                      "PartialData")],
                           [result(PV_GREEN_REQUESTS, [200.0], start=minute[1]),
                            result(PV_GREEN_5XX, [0.0], "PartialData", start=minute[1])],
                           [result(PV_GREEN_5XX, [4.0], start=minute[2])])
    green = observed(fake)
    assert (green.requests, green.target_5xx) == (500.0, 64.0)
    assert [call.get("NextToken") for call in fake.asked] == [None, "page-2", "page-3"]


def test_a_query_still_partial_on_the_last_page_is_no_answer() -> None:
    fake = PagedCloudWatch([result(PV_GREEN_5XX, [60.0], "PartialData")], [result(PV_GREEN_5XX, [0.0],
                                                                                  "PartialData")])
    assert observed(fake).target_5xx is None
    alone = PagedCloudWatch([result(PV_GREEN_5XX, [60.0], "PartialData")])
    assert observed(alone).target_5xx is None


@pytest.mark.parametrize("status", ["InternalError", "Forbidden", "Unheard-of", None])
def test_a_page_that_failed_a_query_leaves_it_without_an_answer_whatever_comes_after(status: str | None) -> None:
    failed = {**result(PV_GREEN_5XX, [60.0]), "StatusCode": status}
    fake = PagedCloudWatch([failed], [result(PV_GREEN_5XX, [0.0])])
    assert observed(fake).target_5xx is None
    assert observed(PagedCloudWatch([result(PV_GREEN_5XX, [1.0], "PartialData")], [failed])).target_5xx is None


def test_a_query_no_page_answers_is_no_answer() -> None:
    fake = PagedCloudWatch([result(PV_GREEN_REQUESTS, [500.0])])
    fake.get_metric_data = lambda **kwargs: {"MetricDataResults": [  # type: ignore[method-assign]
        result(q["Id"], [1.0]) for q in kwargs["MetricDataQueries"] if q["Id"] != PV_GREEN_5XX]}
    green = observed(fake)
    assert (green.requests, green.target_5xx) == (1.0, None)


def test_a_query_answered_twice_on_one_page_is_no_answer() -> None:
    fake = PagedCloudWatch([result(PV_GREEN_5XX, [60.0]), result(PV_GREEN_5XX, [0.0])])
    assert observed(fake).target_5xx is None


def test_a_next_token_that_comes_back_again_ends_in_no_answer_not_in_a_loop() -> None:
    fake = PagedCloudWatch([result(PV_GREEN_5XX, [1.0], "PartialData")], [result(PV_GREEN_5XX, [1.0],
                                                                                 "PartialData")],
                           [result(PV_GREEN_5XX, [1.0])], tokens=["again", "again"])
    green = observed(fake)
    assert (green.requests, green.target_5xx) == (None, None)
    assert len(fake.asked) == 2


# --- the window: from the first whole minute at or after the bake's start ------------------------


def test_datapoints_outside_the_window_are_left_out() -> None:
    end = START + timedelta(minutes=5)
    fake = PagedCloudWatch([{**result(PV_GREEN_REQUESTS, [50.0, 5000.0, 7.0]),
                             "Timestamps": [START + timedelta(minutes=1), START - timedelta(hours=1), end]}])
    [seen] = source(fake).observe({"payment_validation": (90, 10)}, START, end)
    assert seen.green.requests == 50.0
    assert (fake.asked[0]["StartTime"], fake.asked[0]["EndTime"]) == (START, end)


def test_the_minute_under_way_when_the_bake_began_is_left_out_cloudwatch_rounds_the_start_down() -> None:
    # the apply ends at 00:00:30.25; CloudWatch answers from 00:00:00, the minute before it began
    begun = START + timedelta(seconds=30, microseconds=250000)
    fake = PagedCloudWatch([result(PV_GREEN_REQUESTS, [400.0, 60.0, 70.0]),
                            result(PV_GREEN_5XX, [40.0, 1.0, 0.0]),
                            result("p99_green_payment_validation", [2.5, 0.1, 0.2])])
    [seen] = source(fake).observe({"payment_validation": (90, 10)}, begun, START + timedelta(minutes=3))
    assert (seen.green.requests, seen.green.target_5xx, seen.green.p99_ms) == (130.0, 1.0, 200.0)
    # asked from the second the bake began: a source that does not round answers from there
    assert fake.asked[0]["StartTime"] == START + timedelta(seconds=30)
    at_the_second = PagedCloudWatch([result(PV_GREEN_REQUESTS, [400.0], start=START + timedelta(seconds=30))])
    [seen] = source(at_the_second).observe({"payment_validation": (90, 10)}, begun, START + timedelta(seconds=32))
    assert seen.green.requests == 400.0


@pytest.mark.parametrize("timestamps", [None, [], [START, START + timedelta(minutes=1)], "00:01",
                                        [datetime(2025, 1, 1, 0, 1)], [START + timedelta(minutes=1)] * 3])
def test_datapoints_whose_time_cannot_be_told_are_no_answer(timestamps: Any) -> None:
    fake = PagedCloudWatch([{**result(PV_GREEN_5XX, [1.0, 2.0, 3.0]), "Timestamps": timestamps}])
    assert observed(fake).target_5xx is None


def test_the_same_minute_on_two_pages_is_no_answer() -> None:
    fake = PagedCloudWatch([result(PV_GREEN_5XX, [1.0], "PartialData")], [result(PV_GREEN_5XX, [1.0])])
    assert observed(fake).target_5xx is None


def test_the_alarms_over_several_pages_are_all_read() -> None:
    class Paged(FakeCloudWatch):
        def describe_alarms(self, **kwargs: Any) -> dict[str, Any]:
            self.asked.append(kwargs)
            if kwargs.get("NextToken") is None:
                return {"MetricAlarms": [{"AlarmName": "payment-alb-5xx-dev", "StateValue": "OK"}],
                        "NextToken": "more"}
            return {"MetricAlarms": [{"AlarmName": "api-p99-latency-dev", "StateValue": "ALARM"}]}

    resources = [*STATE["values"]["root_module"]["resources"],
                 {"mode": "managed", "type": "aws_cloudwatch_metric_alarm", "name": "api_p99",
                  "values": {"alarm_name": "api-p99-latency-dev"}}]
    fake = Paged({})
    targets = Targets.of_state({"values": {"root_module": {"resources": resources}}})
    assert CloudWatch(lambda service: fake, targets).alarms() == {"payment-alb-5xx-dev": "OK",
                                                                  "api-p99-latency-dev": "ALARM"}
    assert [call.get("NextToken") for call in fake.asked] == [None, "more"]
