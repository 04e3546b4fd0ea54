"""Detection reduced: a change that stops or weakens what logs and alerts on the platform (PCI DSS
10.x): the VPC's flow logs, the access logs of the audit bucket, the API and the load balancer,
the database's exported logs and logging parameters, an alarm, what it watches or its actions,
the subscription alerts reach and its filter policy.

The attributes are the catalogue's (``Entry.detection``, ``Entry.unwatched``:
tfgen.deploy.review.catalogue), judged with the rules of the data-protection judge
(tfgen.deploy.review.data): a value that must stay on, elements that must stay, a destination
that must stay the same; and with two of its own: a subscription's filter policy (``FILTER``:
one added or changed may drop alerts; one removed delivers more), and an alarm's threshold
(``THRESHOLD``: moved towards alerting less, or either way when its comparison does not say which
way alerts more). What lets a detector deliver (``catalogue.DELIVERY``: the flow logs' role and its
policy, the access log bucket's policy, the key policies letting CloudWatch use the keys of the
log groups and alert topics) is judged too: destroyed, it stops the delivery; its policy
(``ALLOWS``) must keep every Allow statement (of the service named, for a key policy) and gain no
Deny. A value known only after apply is a reduction too, except a policy read at apply whose
document the plan shows (the rendered configuration builds it from that document): it is judged
on that document's statements.

A type the catalogue does not know is judged by its words, as the data-protection judge judges
one (``DETECTION_WORDS``): an update that changes an attribute named like a detector's setting
(``logging_enabled``, ``status``, ``enable``...), and a delete or replace of a type named like a
detector (``aws_macie2_account``, ``..._audit_...``), may stop or weaken what it logs or alerts on.

The plan review (tfgen.deploy.review.verdict) and the drift judge (tfgen.deploy.review.drift) judge
the same changes with it: ``tfgen apply`` refuses a plan that reduces detection unless its address
is named with ``--allow-detection-loss``; ``tfgen drift`` reports the live stack's under
"detection reduced".
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review import catalogue
from tfgen.deploy.review.access import Documents, Statement, Unjudgeable, statements_of, withdrawn
from tfgen.deploy.review.catalogue import ALLOWS, FILTER, THRESHOLD, Protection
from tfgen.deploy.review.changes import has_unknown
from tfgen.deploy.review.data import UNKNOWN, weakenings

_OWN_RULES = (FILTER, THRESHOLD, ALLOWS)
# An alarm's comparisons: which way its threshold moves to alert more.
_LOWER_ALERTS_MORE = ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")
_HIGHER_ALERTS_MORE = ("LessThanThreshold", "LessThanOrEqualToThreshold")


@dataclass(frozen=True)
class DetectionLoss:
    address: str
    type: str
    action: str  # "delete", "replace" or "update"
    reasons: tuple[str, ...]


# Words of an attribute, or of a type's name, that say it may log or alert (a type the catalogue
# does not know): matched against the words between underscores.
DETECTION_WORDS = frozenset({
    "log", "logs", "logging", "audit", "auditing", "alarm", "alarms", "alert", "alerts", "trail", "cloudtrail",
    "monitor", "monitoring", "detector", "detection", "detective", "guardduty", "securityhub", "inspector",
    "inspector2", "macie", "macie2", "config", "recorder", "recording", "finding", "findings", "insight",
    "insights", "notification", "notifications", "flow", "enable", "enabled", "status", "tracing"})
# A word that only says what a setting is about, not that a type named with it detects.
_SETTING_WORDS = frozenset({"enable", "enabled", "status", "tracing", "notification", "notifications"})


def reduction_of(rc: Mapping[str, Any], action: str, documents: Documents | None = None) -> DetectionLoss | None:
    """What ``rc`` stops logging or alerting on, or how it weakens that; None when it does neither.
    A resource created has nothing to weaken. ``documents``: the plan's policy documents, to judge
    a policy read at apply."""
    kind, address = rc["type"], rc["address"]
    if not catalogue.classified(kind):
        reason = _looks_like_a_detector(rc, action)
        return DetectionLoss(address, kind, action, (reason,)) if reason else None
    stops = catalogue.unwatched(kind, address)
    if action in ("delete", "replace") and stops:
        return DetectionLoss(address, kind, action, (stops,))
    rules = catalogue.watching(kind, address)
    if action not in ("update", "replace") or not rules:
        return None
    reasons = list(weakenings(rc, action, tuple(r for r in rules if r.rule not in _OWN_RULES)))
    change = rc["change"]
    before, after, unknown = change.get("before") or {}, change.get("after") or {}, change.get("after_unknown") or {}
    for rule in rules:
        if rule.rule == FILTER:
            reasons += _filter_narrowed(rule, before, after, unknown)
        elif rule.rule == THRESHOLD:
            reasons += _threshold_moved(rule, before, after, unknown)
        elif rule.rule == ALLOWS:
            reasons += _delivery_denied(rule, rc, documents)
    return DetectionLoss(address, kind, action, tuple(reasons)) if reasons else None


def _looks_like_a_detector(rc: Mapping[str, Any], action: str) -> str:
    """Why a change of a type the catalogue does not know may reduce detection, by its words; empty
    when it does not look like it."""
    kind = rc["type"]
    if action in ("delete", "replace"):
        named = set(kind.removeprefix("aws_").split("_")) & (DETECTION_WORDS - _SETTING_WORDS)
        return f"{kind} is not in the review's catalogue, and its name says it may log or alert" if named else ""
    if action != "update":
        return ""
    change = rc["change"]
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    changed = sorted(name for name in set(before) | set(after) | set(unknown)
                     if set(name.split("_")) & DETECTION_WORDS
                     and (before.get(name) != after.get(name) or has_unknown(unknown.get(name))))
    if not changed:
        return ""
    return (f"{kind} is not in the review's catalogue, and {', '.join(changed)} "
            f"change{'s' if len(changed) == 1 else ''}: it may log or alert")


def _delivery_denied(rule: Protection, rc: Mapping[str, Any], documents: Documents | None) -> Iterator[str]:
    """What a policy letting a detector deliver no longer allows (its Allow statements, of the
    principals ``rule.key`` matches, that no Allow after covers: shown reduced to what is lost),
    and the Deny statements it gains."""
    name = str(rule.path[0])
    change = rc["change"]
    old = statements_of((change.get("before") or {}).get(name))
    new: list[Statement] | None
    if (change.get("after_unknown") or {}).get(name) is True:
        if documents is None:
            yield f"{rule.label}: {name} {UNKNOWN}"
            return
        try:
            new = documents.statements(rc, name)
        except Unjudgeable as why:
            yield f"{rule.label}: {name} {UNKNOWN} ({why})"
            return
    else:
        new = statements_of((change.get("after") or {}).get(name))
    if old is None or new is None:
        yield f"{rule.label}: {name} cannot be read as a policy document"
        return
    lost, denied = withdrawn([s for s in old if s.effect != "Allow" or _names(s, rule.key)], new)
    yield from (f"{rule.label}: no longer allows {json.dumps(s, sort_keys=True)}" for s in lost)
    yield from (f"{rule.label}: denies {json.dumps(s, sort_keys=True)}" for s in denied)


def _names(statement: Statement, pattern: str) -> bool:
    """Whether ``statement`` names a principal ``pattern`` matches (``Service:logs.*``); any, without one."""
    principals: Sequence[str] = sorted(statement.elements.get("Principal", ()))
    return not pattern or any(fnmatch.fnmatchcase(p, pattern) for p in principals)


def _filter_narrowed(rule: Protection, before: Mapping[str, Any], after: Mapping[str, Any],
                     unknown: Mapping[str, Any]) -> Iterator[str]:
    """A filter policy added or changed, or its scope changed while it filters: alerts it does not
    match no longer reach the endpoint. Whether another filter matches all the first one did cannot
    be told, so any change but its removal is a reduction."""
    name, scope = str(rule.path[0]), rule.key
    if unknown.get(name) is True:
        yield f"{rule.label}: {name} {UNKNOWN}"
        return
    old, new = before.get(name), after.get(name)
    if _unset(new):
        return  # no filter: every alert is delivered
    if _unset(old):
        yield f"{rule.label} added ({name}: {_shown(old)} -> {_shown(new)})"
    elif _parsed(old) != _parsed(new):
        yield f"{rule.label} changed ({name}: {_shown(old)} -> {_shown(new)})"
    if unknown.get(scope) is True:
        yield f"{rule.label}: {scope} {UNKNOWN}"
        return
    old_scope, new_scope = before.get(scope) or rule.default, after.get(scope) or rule.default
    if not _unset(old) and old_scope != new_scope:
        yield f"{rule.label} scope changed ({scope}: {_shown(old_scope)} -> {_shown(new_scope)})"


def _threshold_moved(rule: Protection, before: Mapping[str, Any], after: Mapping[str, Any],
                     unknown: Mapping[str, Any]) -> Iterator[str]:
    """A threshold moved so that the alarm fires less: raised when it fires above it, lowered when
    below; any move when the comparison changes, is not one of those, or is not given."""
    name, comparison = str(rule.path[0]), rule.key
    if unknown.get(name) is True:
        yield f"{rule.label}: {name} {UNKNOWN}"
        return
    old, new = before.get(name) or 0, after.get(name) or 0  # unset is 0 to the provider
    if old == new:
        return
    operator = before.get(comparison)
    same = operator == after.get(comparison) and unknown.get(comparison) is not True
    try:
        if same and operator in _LOWER_ALERTS_MORE:
            if new < old:
                return
            yield f"{rule.label} raised ({name}: {_shown(before.get(name))} -> {_shown(after.get(name))})"
            return
        if same and operator in _HIGHER_ALERTS_MORE:
            if new > old:
                return
            yield f"{rule.label} lowered ({name}: {_shown(before.get(name))} -> {_shown(after.get(name))})"
            return
    except TypeError:
        pass  # not numbers: which way it moved cannot be told
    yield f"{rule.label} changed ({name}: {_shown(before.get(name))} -> {_shown(after.get(name))})"


def _unset(value: Any) -> bool:
    return value is None or value == ""


def _parsed(value: Any) -> Any:
    """A JSON text as what it means (a reformatted policy is the same policy); other values as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _shown(value: Any) -> str:
    return "null" if value is None else json.dumps(value)
