"""Judging one step of a release: green against blue over the same window, from metric answers.

The input is what the metric source answered for the window of the step's bake (nothing here
asks AWS, reads a clock or prints): per payment function and colour, the load balancer's request
count of its target group, its target 5XX count and its ``LambdaUserError`` and
``LambdaInternalError`` counts (requests to the function that failed at the load balancer), the
alias's Lambda ``Errors`` and ``Throttles``, and the target group's ``TargetResponseTime`` p99; and
the state of every alarm of the environment. ``judge`` gives one of three outcomes:

- **fail** on any breach: green's rate of each count (per 100 requests) above
  ``max_error_rate_pct`` or more than ``error_rate_margin_pct`` points above blue's; green's p99
  above ``max_latency_p99_ms`` or more than ``latency_margin_pct`` percent above blue's; any alarm
  of the environment in ``ALARM``. A breach fails the step even when other answers are missing,
  and on thin traffic evidence of harm is enough: green's p99 above the absolute limit, or a count
  that breaches the absolute limit or the margin over blue's rate even of ``min_requests``.
- **inconclusive** when there is too little to judge: green saw fewer than ``min_requests``, blue
  (while it takes traffic) too, an answer is missing (``None``: the source could not tell), a
  figure is nonsensical (negative, not finite, not a number), the weights are no split of 100, a
  function is observed twice, the alarms could not be read or none was answered, or an alarm is
  in a state other than ``OK`` and ``ALARM`` (``INSUFFICIENT_DATA``: it cannot tell either).
- **pass** only when every check was made and none breached.

A colour's figures are ``None`` where the source has no answer; a count the source knows to be
zero is ``0``. A green at 100 percent (the promotion) has no blue traffic beside it: it is judged
against the absolute limits only, and the judgement says so. Comparisons are exact (fractions),
so a figure exactly at a margin passes and anything beyond it fails. Nothing raises: input the
judge cannot read is inconclusive.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

Outcome = Literal["pass", "fail", "inconclusive"]
OK, ALARM = "OK", "ALARM"

# The counted metrics: field of Colour -> its name in a report.
COUNTS = (("target_5xx", "target 5XX"), ("errors", "Lambda Errors"), ("throttles", "Lambda Throttles"),
          ("lambda_user_errors", "ALB LambdaUserError"), ("lambda_internal_errors", "ALB LambdaInternalError"))
LATENCY = "TargetResponseTime p99"
# Every figure of Colour -> its metric in a finding, and its words in a message.
FIGURES = {"requests": ("requests", "request count"), **{a: (m, m) for a, m in COUNTS}, "p99_ms": (LATENCY, LATENCY)}


@dataclass(frozen=True)
class Colour:
    """What one colour of one function saw in the window; ``None``: no answer. ``lambda_user_errors``
    and ``lambda_internal_errors``: the requests the load balancer could not get an answer for from
    the function (its ``LambdaUserError``, ``LambdaInternalError`` of the target group), which
    reach no 5XX count of the target and no Lambda ``Errors``."""

    requests: float | None = None
    target_5xx: float | None = None
    errors: float | None = None
    throttles: float | None = None
    p99_ms: float | None = None
    lambda_user_errors: float | None = None
    lambda_internal_errors: float | None = None


@dataclass(frozen=True)
class Observation:
    """One function's two colours over the same window, with the weights of the step."""

    function: str
    blue: Colour
    green: Colour
    blue_weight: int
    green_weight: int


@dataclass(frozen=True)
class Limits:
    """The environment's ``lambda.release`` figures the judgement uses."""

    min_requests: int
    error_rate_margin_pct: float
    max_error_rate_pct: float
    latency_margin_pct: float
    max_latency_p99_ms: float

    @classmethod
    def of(cls, release: Any) -> Limits:
        return cls(release.min_requests, release.error_rate_margin_pct, release.max_error_rate_pct,
                   release.latency_margin_pct, release.max_latency_p99_ms)


@dataclass(frozen=True)
class Finding:
    """One check that failed or could not be made; ``function`` is empty for an alarm."""

    outcome: Literal["fail", "inconclusive"]
    function: str
    metric: str
    message: str

    def __str__(self) -> str:
        return f"{self.function}: {self.message}" if self.function else self.message


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    findings: tuple[Finding, ...]
    checks: tuple[str, ...] = field(default=())  # what was checked and held, with the figures

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.outcome == "fail")

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome,
                "findings": [{"outcome": f.outcome, "function": f.function, "metric": f.metric,
                              "message": f.message} for f in self.findings],
                "checks": list(self.checks)}


def judge(observations: Sequence[Observation], alarms: Mapping[str, Any] | None,
          limits: Limits) -> Judgement:
    """The step's outcome from ``observations`` (one per released function) and ``alarms`` (every
    alarm of the environment -> its state, ``None`` when it was not found; ``None`` altogether
    when the alarms could not be read)."""
    findings: list[Finding] = []
    checks: list[str] = []
    limits = replace(limits, min_requests=max(1, limits.min_requests))  # no rate of no requests
    if not observations:
        findings.append(Finding("inconclusive", "", "observations", "no function was observed"))
    names = Counter(o.function for o in observations)
    for name in sorted(n for n, times in names.items() if times > 1):
        findings.append(Finding("inconclusive", name, "observations",
                                "observed more than once: which answer holds cannot be told"))
    for observation in observations:
        _function(observation, limits, findings, checks)
    _alarms(alarms, findings, checks)
    outcome: Outcome = "pass"
    if any(f.outcome == "fail" for f in findings):
        outcome = "fail"
    elif findings:
        outcome = "inconclusive"
    return Judgement(outcome, tuple(findings), tuple(checks))


def _function(observation: Observation, limits: Limits, findings: list[Finding], checks: list[str]) -> None:
    name = observation.function

    def add(outcome: Literal["fail", "inconclusive"], metric: str, message: str) -> None:
        findings.append(Finding(outcome, name, metric, message))

    green, blue = _Seen("green", observation.green, add), _Seen("blue", observation.blue, add)
    split = _split(observation, add)
    requests = green.needed("requests")
    if requests is None or requests < limits.min_requests:
        if requests is not None:
            add("inconclusive", "requests", f"green saw {_n(requests)} requests, fewer than min_requests "
                f"{limits.min_requests}: too little traffic to judge")
        _evident_harm(green, blue, requests, split and observation.blue_weight > 0, limits, add)
        return
    compare = split and observation.blue_weight > 0
    if split and not compare:
        checks.append(f"{name}: blue takes no traffic in this step: green judged against the absolute limits only")
    elif compare:
        blue_requests = blue.needed("requests")
        if blue_requests is None:
            compare = False
        elif blue_requests < limits.min_requests:
            add("inconclusive", "requests", f"blue saw {_n(blue_requests)} requests, fewer than min_requests "
                f"{limits.min_requests}: too little to compare green with")
            compare = False
    shown = blue.known("requests")
    checks.append(f"{name}: requests green {_n(requests)}" + (f", blue {_n(shown)}" if shown is not None else ""))
    for attribute, metric in COUNTS:
        _rate(name, attribute, metric, green, blue, compare, limits, add, checks)
    _latency(name, green, blue, compare, limits, add, checks)


Add = Callable[[Literal["fail", "inconclusive"], str, str], None]


class _Seen:
    """One colour's figures as exact fractions. A figure with no answer or a nonsensical one
    (negative, not finite, not a number) is absent: a nonsensical one is reported as it is read,
    one with no answer where it is needed."""

    def __init__(self, label: str, colour: Colour, add: Add) -> None:
        self.label, self.add = label, add
        self.values: dict[str, Fraction] = {}
        self.unreadable: set[str] = set()
        for attribute, (metric, words) in FIGURES.items():
            raw = getattr(colour, attribute)
            if raw is None:
                continue
            value, problem = _figure(raw)
            if value is None:
                self.unreadable.add(attribute)
                add("inconclusive", metric, f"{label}'s {words} is {raw!r}: {problem}")
            else:
                self.values[attribute] = value

    def known(self, attribute: str) -> Fraction | None:
        return self.values.get(attribute)

    def needed(self, attribute: str) -> Fraction | None:
        """The figure; when there is no answer, that is said (a nonsensical figure was already)."""
        value = self.values.get(attribute)
        if value is None and attribute not in self.unreadable:
            metric, words = FIGURES[attribute]
            self.add("inconclusive", metric, f"no answer for {self.label}'s {words}")
        return value


def _figure(value: object) -> tuple[Fraction | None, str]:
    """``value`` as the exact decimal it was written as (0.1 is one tenth, not its binary
    neighbour), or None and why it is no figure a metric source gives."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None, "not a number"
    if isinstance(value, numbers.Rational):
        exact = Fraction(int(value.numerator), int(value.denominator))
    else:
        number = float(value)
        if not math.isfinite(number):
            return None, "not a finite number"
        exact = Fraction(repr(number))
    if exact < 0:
        return None, "negative, which no metric source gives"
    return exact, ""


def _split(observation: Observation, add: Add) -> bool:
    """Whether the step's weights are a split of 100 %: else what green's share was is unknown."""
    weights = (observation.blue_weight, observation.green_weight)
    if all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= 100 for w in weights) \
            and sum(weights) == 100:
        return True
    add("inconclusive", "weights", f"the step's weights blue {observation.blue_weight!r} / green "
        f"{observation.green_weight!r} are no split of 100 % (each 0 to 100, summing to 100): which traffic green "
        "took cannot be told")
    return False


def _evident_harm(green: _Seen, blue: _Seen, requests: Fraction | None, compare: bool, limits: Limits,
                  add: Add) -> None:
    """On thin traffic, or with green's request count unknown: the breaches already certain. A
    count breaches when it does even of ``min_requests`` (however many of them succeed), against
    the absolute limit and, where blue saw enough to compare, the margin over blue's rate; green's
    p99 when it is above the absolute limit, whatever its requests."""
    max_rate, margin = _exact(limits.max_error_rate_pct), _exact(limits.error_rate_margin_pct)
    blue_requests = blue.known("requests") if compare else None
    for attribute, metric in COUNTS if requests is not None else ():
        count = green.known(attribute)
        if count is None:
            continue
        least = count * 100 / limits.min_requests  # green's rate had it seen min_requests
        seen = f"green's {metric} {_n(count)} in {_n(requests or Fraction(0))} requests"
        if least > max_rate:
            add("fail", metric, f"{seen} is above max_error_rate_pct {_pct(max_rate)} even of min_requests "
                f"{limits.min_requests}")
        blue_count = blue.known(attribute)
        if blue_requests is not None and blue_requests >= limits.min_requests and blue_count is not None:
            blue_rate = blue_count * 100 / blue_requests
            if least > blue_rate + margin:
                add("fail", metric, f"{seen} is more than error_rate_margin_pct {_pct(margin)} points above blue's "
                    f"{_pct(blue_rate)} ({_n(blue_count)} of {_n(blue_requests)}) even of min_requests "
                    f"{limits.min_requests}")
    p99 = green.known("p99_ms")
    if p99 is not None and p99 > _exact(limits.max_latency_p99_ms):
        add("fail", LATENCY, f"green's {LATENCY} {_n(p99)} ms is above max_latency_p99_ms "
            f"{_n(_exact(limits.max_latency_p99_ms))} ms")


def _rate(name: str, attribute: str, metric: str, green: _Seen, blue: _Seen, compare: bool, limits: Limits,
          add: Add, checks: list[str]) -> None:
    count, requests = green.needed(attribute), green.known("requests")
    if count is None or requests is None:
        return
    max_rate, margin = _exact(limits.max_error_rate_pct), _exact(limits.error_rate_margin_pct)
    rate = count * 100 / requests
    held = True
    if rate > max_rate:
        add("fail", metric, f"green's {metric} rate {_pct(rate)} ({_n(count)} of {_n(requests)} requests) "
            f"is above max_error_rate_pct {_pct(max_rate)}")
        held = False
    blue_requests = blue.known("requests")
    if compare and blue_requests:
        blue_count = blue.needed(attribute)
        if blue_count is None:
            return
        blue_rate = blue_count * 100 / blue_requests
        if rate > blue_rate + margin:
            add("fail", metric, f"green's {metric} rate {_pct(rate)} ({_n(count)} of {_n(requests)} requests) "
                f"is more than error_rate_margin_pct {_pct(margin)} points above blue's {_pct(blue_rate)} "
                f"({_n(blue_count)} of {_n(blue_requests)})")
            held = False
        elif held:
            checks.append(f"{name}: {metric} green {_pct(rate)}, blue {_pct(blue_rate)}")
    elif held:
        checks.append(f"{name}: {metric} green {_pct(rate)}")


def _latency(name: str, green: _Seen, blue: _Seen, compare: bool, limits: Limits, add: Add,
             checks: list[str]) -> None:
    p99 = green.needed("p99_ms")
    if p99 is None:
        return
    held = True
    if p99 > _exact(limits.max_latency_p99_ms):
        add("fail", LATENCY, f"green's {LATENCY} {_n(p99)} ms is above max_latency_p99_ms "
            f"{_n(_exact(limits.max_latency_p99_ms))} ms")
        held = False
    if compare:
        blue_p99 = blue.needed("p99_ms")
        if blue_p99 is None:
            return
        margin = _exact(limits.latency_margin_pct)
        if p99 > blue_p99 * (100 + margin) / 100:
            add("fail", LATENCY, f"green's {LATENCY} {_n(p99)} ms is more than latency_margin_pct "
                f"{_n(margin)} % above blue's {_n(blue_p99)} ms")
            held = False
        elif held:
            checks.append(f"{name}: {LATENCY} green {_n(p99)} ms, blue {_n(blue_p99)} ms")
    elif held:
        checks.append(f"{name}: {LATENCY} green {_n(p99)} ms")


def _alarms(alarms: Mapping[str, Any] | None, findings: list[Finding], checks: list[str]) -> None:
    """Only ``OK`` is quiet and only ``ALARM`` a breach: any other state (``INSUFFICIENT_DATA``, a
    spelling CloudWatch does not give) says nothing either way."""
    if alarms is None:
        findings.append(Finding("inconclusive", "", "alarms", "the environment's alarms could not be read"))
        return
    if not alarms:
        findings.append(Finding("inconclusive", "", "alarms", "no alarm of the environment was answered (the stack "
                                "always has some): whether one is in ALARM cannot be told"))
        return
    for name, state in sorted(alarms.items(), key=lambda item: str(item[0])):
        if state is None:
            findings.append(Finding("inconclusive", "", "alarms", f"alarm {name}: not found"))
        elif isinstance(state, str) and state == ALARM:
            findings.append(Finding("fail", "", "alarms", f"alarm {name} is in ALARM"))
        elif not (isinstance(state, str) and state == OK):
            findings.append(Finding("inconclusive", "", "alarms", f"alarm {name} is in state {state!r}, not OK: "
                                    "whether it is quiet cannot be told"))
    quiet = [name for name, state in alarms.items() if isinstance(state, str) and state == OK]
    if quiet:
        checks.append(f"alarms: {len(quiet)} OK")


def _exact(value: float | int) -> Fraction:
    """A limit of the configuration as the decimal it was written as."""
    return Fraction(repr(float(value))) if isinstance(value, float) else Fraction(value)


def _pct(value: Fraction) -> str:
    return f"{float(value):.4g} %"


def _n(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.12g}"


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """fail over inconclusive over pass."""
    found = set(outcomes)
    return "fail" if "fail" in found else "inconclusive" if "inconclusive" in found else "pass"
