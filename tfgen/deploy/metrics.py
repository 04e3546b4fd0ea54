"""What a release step saw, asked of CloudWatch: the figures tfgen.deploy.review.canary judges.

``Targets.of_state`` reads from ``terraform show -json`` of the state (its root module and every
child module) what to ask about: the load balancer's and each target group's ARN suffix (the
dimensions of ``AWS/ApplicationELB``), each function's name (``AWS/Lambda``, per alias through
``Resource=NAME:ALIAS``) and the names of the environment's alarms. ``CloudWatch`` asks
``GetMetricData`` for one window per step and ``DescribeAlarms`` (every page) for the alarms'
states.

The window is asked minute by minute from the second the step's bake began. CloudWatch rounds
that start down to the whole minute, so its first datapoint covers the minute under way when the
bake began, partly before the apply: a datapoint is counted only when its minute begins in the
window (at or after the start, before the end), so the window starts at the first whole minute
after the apply (a source that does not round, such as an emulator, answers from the start
itself). A datapoint outside the window is left out; one whose time cannot be told (no
``Timestamps``, a time without zone, twice the same minute) makes the query no answer.

A query's datapoints may come over several pages (``NextToken``; ``PartialData`` on each page but
the last that gives more of them): they are added up over every page, and the answer is complete
only when the last page that gives the query says ``Complete`` and no page failed it
(``InternalError``, ``Forbidden``) or gave it twice. A count with no datapoints in a complete
answer is 0 (the load balancer publishes no 5XX, ``LambdaUserError`` or ``LambdaInternalError``
count while there is none); the p99 is the worst minute's. An answer that is not complete, a
latency without datapoints, a Lambda ``Errors`` without datapoints while requests came, a metric
whose dimensions the state does not give (or gives twice, differently), and an error of the call
are ``None``: no answer, which the judgement never passes.

boto3 is imported only when a client is made: rendering never needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from tfgen.deploy.review.canary import Colour, Observation

COLOURS = ("blue", "green")
PERIOD = 60  # seconds: a datapoint a minute, the finest the load balancer's and Lambda's metrics have
ELB = "AWS/ApplicationELB"
LAMBDA = "AWS/Lambda"


@dataclass(frozen=True)
class Targets:
    """The dimensions of each released function's metrics, and the environment's alarms."""

    load_balancer: str
    target_groups: dict[str, dict[str, str]]  # function -> colour -> arn_suffix
    functions: dict[str, str]  # function -> function name
    alarms: tuple[str, ...]

    @classmethod
    def of_state(cls, state: Mapping[str, Any]) -> Targets:
        """From the resources of the state's root module and every child module. A dimension two
        resources give different values (two load balancers ``this``) is unknown: empty."""
        root = (state.get("values") or {}).get("root_module") or {}
        balancers: set[str] = set()
        groups: dict[tuple[str, str], set[str]] = {}
        functions: dict[str, set[str]] = {}
        alarms: set[str] = set()
        for resource in _resources(root):
            if resource.get("mode") != "managed":
                continue
            kind, index, values = resource.get("type"), str(resource.get("index", "")), resource.get("values") or {}
            if kind == "aws_lb" and resource.get("name") == "this":
                balancers.add(str(values.get("arn_suffix") or ""))
            elif kind == "aws_lb_target_group":
                function, _, colour = index.rpartition("-")
                groups.setdefault((function, colour), set()).add(str(values.get("arn_suffix") or ""))
            elif kind == "aws_lambda_function" and resource.get("name") == "this":
                functions.setdefault(index, set()).add(str(values.get("function_name") or ""))
            elif kind == "aws_cloudwatch_metric_alarm" and values.get("alarm_name"):
                alarms.add(str(values["alarm_name"]))
        by_function: dict[str, dict[str, str]] = {}
        for (function, colour), suffixes in sorted(groups.items()):
            by_function.setdefault(function, {})[colour] = _one(suffixes)
        return cls(_one(balancers), by_function, {key: _one(names) for key, names in sorted(functions.items())},
                   tuple(sorted(alarms)))


def _resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The resources of ``module`` (a ``root_module`` of ``terraform show -json``) and of its child modules."""
    for resource in module.get("resources") or ():
        if isinstance(resource, Mapping):
            yield resource
    for child in module.get("child_modules") or ():
        if isinstance(child, Mapping):
            yield from _resources(child)


def _one(values: set[str]) -> str:
    """The value every resource agrees on; empty (unknown) when they differ or none gives one."""
    return next(iter(values)) if len(values) == 1 else ""


Clients = Callable[[str], Any]


class CloudWatch:
    """The metric source of ``tfgen release``: CloudWatch of the environment's account and region."""

    def __init__(self, clients: Clients, targets: Targets) -> None:
        self.clients = clients
        self.targets = targets

    def observe(self, weights: Mapping[str, tuple[int, int]], start: datetime, end: datetime) -> list[Observation]:
        """Per function of ``weights`` (function -> blue, green weight of the step): both colours
        over the minutes that begin in [start, end) (``start`` to the second)."""
        queries: list[dict[str, Any]] = []
        for key in sorted(weights):
            for colour in COLOURS:
                queries += self._queries(key, colour, PERIOD)
        answers = self._answers(queries, start.replace(microsecond=0), end)
        return [Observation(key, self._colour(key, "blue", answers), self._colour(key, "green", answers),
                            *weights[key]) for key in sorted(weights)]

    def alarms(self) -> dict[str, str | None] | None:
        """Every alarm of the environment -> its state (None: not found); None when the call fails."""
        names = list(self.targets.alarms)
        states: dict[str, str | None] = dict.fromkeys(names)
        try:
            client = self.clients("cloudwatch")
            for first in range(0, len(names), 100):
                for page in _pages(partial(client.describe_alarms, AlarmNames=names[first:first + 100],
                                           AlarmTypes=["MetricAlarm"])):
                    for alarm in page.get("MetricAlarms") or ():
                        states[alarm["AlarmName"]] = str(alarm.get("StateValue"))
        except Exception:  # any failure to read is no answer
            return None
        return states

    def _queries(self, key: str, colour: str, period: int) -> list[dict[str, Any]]:
        """The queries of one colour of one function; none for a metric whose dimensions the state
        does not give (asked with an empty one, it would answer "no datapoints": 0)."""
        group = self.targets.target_groups.get(key, {}).get(colour, "")
        elb = [{"Name": "LoadBalancer", "Value": self.targets.load_balancer}, {"Name": "TargetGroup", "Value": group}]
        name = self.targets.functions.get(key, "")
        alias = [{"Name": "FunctionName", "Value": name},
                 {"Name": "Resource", "Value": f"{name}:{colour}" if name else ""}]
        wanted = (("requests", ELB, "RequestCount", elb, "Sum"),
                  ("target_5xx", ELB, "HTTPCode_Target_5XX_Count", elb, "Sum"),
                  # requests the load balancer failed to get an answer for from a Lambda target
                  ("lambda_user_errors", ELB, "LambdaUserError", elb, "Sum"),
                  ("lambda_internal_errors", ELB, "LambdaInternalError", elb, "Sum"),
                  ("p99", ELB, "TargetResponseTime", elb, "p99"), ("errors", LAMBDA, "Errors", alias, "Sum"),
                  ("throttles", LAMBDA, "Throttles", alias, "Sum"))
        return [{"Id": _id(key, colour, field), "ReturnData": True,
                 "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                                "Period": period, "Stat": stat}}
                for field, namespace, metric, dims, stat in wanted if all(d["Value"] for d in dims)]

    def _answers(self, queries: Sequence[dict[str, Any]], start: datetime, end: datetime) \
            -> dict[str, list[float] | None]:
        """Query id -> its datapoints over every page of the answer of the periods that begin in
        [start, end); None (no answer) unless the last page that gave it says ``Complete`` and no
        page failed it, gave it twice or gave a datapoint whose period cannot be told."""
        series: dict[str, _Series] = {q["Id"]: _Series(start, end) for q in queries}
        try:
            client = self.clients("cloudwatch")
            for first in range(0, len(queries), 500):
                batch = list(queries[first:first + 500])
                for page in _pages(partial(client.get_metric_data, MetricDataQueries=batch, StartTime=start,
                                           EndTime=end)):
                    on_page: set[str] = set()
                    for result in page.get("MetricDataResults") or ():
                        query_id = result.get("Id") if isinstance(result, Mapping) else None
                        if query_id not in series:
                            continue
                        series[query_id].add(result, again=query_id in on_page)
                        on_page.add(query_id)
        except Exception:  # any failure to read is no answer
            return dict.fromkeys(series)
        return {query_id: one.answer() for query_id, one in series.items()}

    def _colour(self, key: str, colour: str, answers: Mapping[str, list[float] | None]) -> Colour:
        def total(field: str) -> float | None:
            values = answers.get(_id(key, colour, field))
            return None if values is None else sum(values)

        requests = total("requests")
        errors = total("errors")
        if errors == 0 and not answers.get(_id(key, colour, "errors")) and requests:
            errors = None  # Lambda publishes Errors with every invocation: none at all is no answer
        latencies = answers.get(_id(key, colour, "p99"))
        p99 = max(latencies) * 1000 if latencies else None  # seconds; the worst period of the window
        return Colour(requests=requests, target_5xx=total("target_5xx"), errors=errors,
                      throttles=total("throttles"), p99_ms=p99, lambda_user_errors=total("lambda_user_errors"),
                      lambda_internal_errors=total("lambda_internal_errors"))


MOST_PAGES = 1000  # of one GetMetricData call; a source that pages on beyond it answers nothing


def _pages(call: Callable[..., Any]) -> Iterator[Mapping[str, Any]]:
    """Each page of a paginated call, following its ``NextToken``; raises when a token comes back
    again or the pages do not end (a source that would page forever)."""
    seen: set[str] = set()
    token: str | None = None
    for _ in range(MOST_PAGES):
        page = call(**({"NextToken": token} if token else {}))
        yield page
        token = page.get("NextToken")
        if not token:
            return
        if token in seen:
            raise ValueError(f"NextToken {token!r} came back again")
        seen.add(token)
    raise ValueError(f"more than {MOST_PAGES} pages")


@dataclass
class _Series:
    """One query's datapoints over the pages of an answer: CloudWatch splits them over pages,
    ``PartialData`` on each page but the last that gives more of them, ``Complete`` on that one."""

    start: datetime
    end: datetime
    points: dict[datetime, float] = field(default_factory=dict)  # the start of each period -> its value
    status: str | None = None  # of the last page that gave the query
    broken: bool = False  # a page failed it, gave it twice or gave what makes no sense

    def add(self, result: Mapping[str, Any], again: bool) -> None:
        values, times, status = result.get("Values"), result.get("Timestamps"), result.get("StatusCode")
        if again or status not in ("Complete", "PartialData") or not isinstance(values, list) \
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) \
                or not isinstance(times, list) or len(times) != len(values) \
                or not all(isinstance(t, datetime) and t.utcoffset() is not None for t in times) \
                or len(set(times)) != len(times) or self.points.keys() & set(times):
            self.broken = True
            return
        self.points.update(zip(times, (float(v) for v in values), strict=True))
        self.status = status

    def answer(self) -> list[float] | None:
        """The values of the periods that begin in [start, end): CloudWatch rounds the start down
        (to the minute), so the period under way at the start, which began before it, is left out."""
        if self.broken or self.status != "Complete":
            return None
        return [value for time, value in sorted(self.points.items()) if self.start <= time < self.end]


def _id(key: str, colour: str, field: str) -> str:
    return f"{field}_{colour}_{key}".lower()


def cloudwatch(model: Any, state: Mapping[str, Any]) -> CloudWatch:
    """The metric source of a deployed environment (``model``: its configuration)."""
    from tfgen.deploy import preflight

    return CloudWatch(preflight.clients_for(model), Targets.of_state(state))
