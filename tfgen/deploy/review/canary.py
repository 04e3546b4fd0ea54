"""Judging one step of a release: green against blue over the same window, from metric answers.

The input is what the metric source answered for the window of the step's bake (nothing here
asks AWS, reads a clock or prints): per payment function and colour, the load balancer's request
count of its target group, its target 5XX count, the alias's Lambda ``Errors`` and ``Throttles``,
and the target group's ``TargetResponseTime`` p99; and the state of every alarm of the
environment. ``judge`` gives one of three outcomes:

- **fail** on any breach: green's rate of 5XX, errors or throttles (per 100 requests) above
  ``max_error_rate_pct`` or more than ``error_rate_margin_pct`` points above blue's; green's p99
  above ``max_latency_p99_ms`` or more than ``latency_margin_pct`` percent above blue's; any alarm
  of the environment in ``ALARM``. A breach fails the step even when other answers are missing.
- **inconclusive** when there is too little to judge: green saw fewer than ``min_requests``, blue
  (while it takes traffic) too, an answer is missing (``None``: the source could not tell), the
  alarms could not be read or none was answered, or an alarm is in a state other than ``OK`` and
  ``ALARM`` (``INSUFFICIENT_DATA``: it cannot tell either).
- **pass** only when every check was made and none breached.

A colour's figures are ``None`` where the source has no answer; a count the source knows to be
zero is ``0``. A green at 100 percent (the promotion) has no blue traffic beside it: it is judged
against the absolute limits only, and the judgement says so. Comparisons are exact (fractions),
so a figure exactly at a margin passes and anything beyond it fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

Outcome = Literal["pass", "fail", "inconclusive"]
OK, ALARM = "OK", "ALARM"

# The counted metrics: field of Colour -> its name in a report.
COUNTS = (("target_5xx", "target 5XX"), ("errors", "Lambda Errors"), ("throttles", "Lambda Throttles"))
LATENCY = "TargetResponseTime p99"


@dataclass(frozen=True)
class Colour:
    """What one colour of one function saw in the window; ``None``: no answer."""

    requests: float | None = None
    target_5xx: float | None = None
    errors: float | None = None
    throttles: float | None = None
    p99_ms: float | None = None


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
    if not observations:
        findings.append(Finding("inconclusive", "", "observations", "no function was observed"))
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
    name, green, blue = observation.function, observation.green, observation.blue

    def add(outcome: Literal["fail", "inconclusive"], metric: str, message: str) -> None:
        findings.append(Finding(outcome, name, metric, message))

    if green.requests is None:
        add("inconclusive", "requests", "no answer for green's request count")
        return
    if green.requests < limits.min_requests:
        add("inconclusive", "requests", f"green saw {_n(green.requests)} requests, fewer than min_requests "
            f"{limits.min_requests}: too little traffic to judge")
        _certain_breaches(observation, limits, add)
        return
    compare = observation.blue_weight > 0
    if not compare:
        checks.append(f"{name}: blue takes no traffic in this step: green judged against the absolute limits only")
    elif blue.requests is None:
        add("inconclusive", "requests", "no answer for blue's request count")
        compare = False
    elif blue.requests < limits.min_requests:
        add("inconclusive", "requests", f"blue saw {_n(blue.requests)} requests, fewer than min_requests "
            f"{limits.min_requests}: too little to compare green with")
        compare = False
    checks.append(f"{name}: requests green {_n(green.requests)}"
                  + (f", blue {_n(blue.requests)}" if blue.requests is not None else ""))
    for attribute, metric in COUNTS:
        _rate(name, metric, getattr(green, attribute), green.requests,
              getattr(blue, attribute) if compare else None, blue.requests if compare else None,
              compare, limits, add, checks)
    _latency(name, green.p99_ms, blue.p99_ms, compare, limits, add, checks)


def _certain_breaches(observation: Observation, limits: Limits, add: Any) -> None:
    """On thin traffic: the counts that breach the absolute limit however many of ``min_requests`` succeed."""
    for attribute, metric in COUNTS:
        count = getattr(observation.green, attribute)
        if count is not None and _exact(count) * 100 > _exact(limits.max_error_rate_pct) * limits.min_requests:
            add("fail", metric, f"green's {metric} {_n(count)} in {_n(observation.green.requests or 0)} requests "
                f"is above max_error_rate_pct {_pct(_exact(limits.max_error_rate_pct))} even of min_requests "
                f"{limits.min_requests}")


def _rate(name: str, metric: str, green: float | None, green_requests: float, blue: float | None,
          blue_requests: float | None, compare: bool, limits: Limits, add: Any, checks: list[str]) -> None:
    if green is None:
        add("inconclusive", metric, f"no answer for green's {metric}")
        return
    rate = _exact(green) * 100 / _exact(green_requests)
    held = True
    if rate > _exact(limits.max_error_rate_pct):
        add("fail", metric, f"green's {metric} rate {_pct(rate)} ({_n(green)} of {_n(green_requests)} requests) "
            f"is above max_error_rate_pct {_pct(_exact(limits.max_error_rate_pct))}")
        held = False
    if compare and blue_requests:
        if blue is None:
            add("inconclusive", metric, f"no answer for blue's {metric}")
            return
        blue_rate = _exact(blue) * 100 / _exact(blue_requests)
        if rate > blue_rate + _exact(limits.error_rate_margin_pct):
            add("fail", metric, f"green's {metric} rate {_pct(rate)} ({_n(green)} of {_n(green_requests)} requests) "
                f"is more than error_rate_margin_pct {_pct(_exact(limits.error_rate_margin_pct))} points above "
                f"blue's {_pct(blue_rate)} ({_n(blue)} of {_n(blue_requests)})")
            held = False
        elif held:
            checks.append(f"{name}: {metric} green {_pct(rate)}, blue {_pct(blue_rate)}")
    elif held:
        checks.append(f"{name}: {metric} green {_pct(rate)}")


def _latency(name: str, green: float | None, blue: float | None, compare: bool, limits: Limits, add: Any,
             checks: list[str]) -> None:
    if green is None:
        add("inconclusive", LATENCY, f"no answer for green's {LATENCY}")
        return
    held = True
    if _exact(green) > _exact(limits.max_latency_p99_ms):
        add("fail", LATENCY, f"green's {LATENCY} {_n(green)} ms is above max_latency_p99_ms "
            f"{_n(limits.max_latency_p99_ms)} ms")
        held = False
    if compare:
        if blue is None:
            add("inconclusive", LATENCY, f"no answer for blue's {LATENCY}")
            return
        bound = _exact(blue) * (100 + _exact(limits.latency_margin_pct)) / 100
        if _exact(green) > bound:
            add("fail", LATENCY, f"green's {LATENCY} {_n(green)} ms is more than latency_margin_pct "
                f"{_n(limits.latency_margin_pct)} % above blue's {_n(blue)} ms")
            held = False
        elif held:
            checks.append(f"{name}: {LATENCY} green {_n(green)} ms, blue {_n(blue)} ms")
    elif held:
        checks.append(f"{name}: {LATENCY} green {_n(green)} ms")


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
    """``value`` as the decimal it was written as (0.1 is one tenth, not its binary neighbour)."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _pct(value: Fraction) -> str:
    return f"{float(value):.4g} %"


def _n(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """fail over inconclusive over pass."""
    found = set(outcomes)
    return "fail" if "fail" in found else "inconclusive" if "inconclusive" in found else "pass"
