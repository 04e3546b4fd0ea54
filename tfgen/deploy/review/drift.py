"""Drift: what a refresh-only plan (``terraform plan -refresh-only``, then ``terraform show -json``)
finds changed outside terraform, judged with the plan review's catalogue and judges.

Each object that differs between the state (what was reviewed and applied) and AWS (live) is
put in the classes its differences raise:

- **access gained**: its policy documents, grants, rules or settings open what the state does not
  (tfgen.deploy.review.access, the change read as state -> live);
- **traffic moved**: a payment function's serving table differs (a weight, the version an alias
  runs, its code, its reserved concurrency lowered), the serving judge says of the live table
  what it does not say of the reviewed one (a target group of no alias, an attachment sent
  elsewhere, a version that never served), or what its requests pass through is gone or changed
  (tfgen.deploy.review.serving);
- **data protection reduced**: what protects data is off, shorter or gone (a backup, a retention,
  encryption or its key, a key's or a secret's rotation), or an object holding data no longer
  exists (tfgen.deploy.review.data);
- **detection reduced**: what logs or alerts is off or gone (flow logs, access logs, an alarm or
  its actions, the subscription alerts reach: tfgen.deploy.review.detection);
- **other differences**: the rest.

Every entry carries its differences, attribute by attribute, with the live value and the reviewed
one. Provider-default noise is filtered first (``noise``): a difference between null and an empty
value where both sides have the attribute (a map key that appears or disappears is kept, whatever
its value), two policy JSON texts the provider itself holds equivalent, ``tags_all`` keys that
only repeat a difference of ``tags``, and attributes another managed resource sets when its live
value accounts for them (tfgen.deploy.review.mirrors). What is filtered is listed in the report,
never dropped silently, and a filtered attribute never reaches a judge.

The judge is pure and pessimistic: a document that is not a refresh-only plan's JSON (a state, a
plan that plans changes, one without ``complete`` and ``errored``, or with drift but no
``prior_state``), or an entry it cannot read (an address listed twice, a mode neither managed nor
data, the mode "data" at an address that is not a data source's, an update without an object on
both sides), is ``Unreadable``; a partial or errored plan, or
a value known only after apply, is listed as not judged and counts as drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tfgen.deploy.review import catalogue
from tfgen.deploy.review.access import Documents, gains_of
from tfgen.deploy.review.catalogue import ALIAS, FUNCTION, LISTENER_RULE, TARGET_GROUP
from tfgen.deploy.review.changes import Resources, data_address, path_string
from tfgen.deploy.review.data import loss_of
from tfgen.deploy.review.detection import reduction_of
from tfgen.deploy.review.mirrors import State, mirrors, policy
from tfgen.deploy.review.serving import ATTACHMENT, FRONT_TYPES, Serving, serving, shared_changes

SCHEMA_VERSION = 1

ACCESS_GAINED = "access gained"
TRAFFIC_MOVED = "traffic moved"
PROTECTION_REDUCED = "data protection reduced"
DETECTION_REDUCED = "detection reduced"
OTHER = "other differences"
CLASSES = (ACCESS_GAINED, TRAFFIC_MOVED, PROTECTION_REDUCED, DETECTION_REDUCED, OTHER)
SERIOUS = frozenset({ACCESS_GAINED, TRAFFIC_MOVED, PROTECTION_REDUCED, DETECTION_REDUCED})

GONE = "deleted outside terraform"
LATER = "known only after apply"

# The provider-default noise the filter removes (``noise``), by the reason the report gives.
EMPTY = "null and empty are the same value to AWS"
EQUIVALENT_POLICY = "equivalent policy JSON (the provider compares policies by meaning)"
TAGS_ALL = "tags_all repeats the difference of tags"

_FUNCTION_PREFIXES = (FUNCTION, ALIAS, LISTENER_RULE, TARGET_GROUP, ATTACHMENT, "aws_lambda_permission.alb")


class Unreadable(ValueError):
    """The document is not the JSON of a terraform plan: nothing can be said about drift."""


@dataclass(frozen=True)
class Difference:
    """One attribute of one object: the value the state holds (reviewed) and the one AWS gives (live)."""

    path: str
    reviewed: Any
    live: Any


@dataclass(frozen=True)
class Filtered:
    address: str
    path: str
    reason: str


@dataclass(frozen=True)
class Drifted:
    """One object under one class: what the judge found, and every difference of the object."""

    address: str
    type: str
    category: str  # one of CLASSES
    action: str  # "update": changed outside terraform; "delete": gone
    findings: tuple[Any, ...]  # the class's own words: statements gained, protections weakened, weights moved
    differences: tuple[Difference, ...]


@dataclass
class DriftReport:
    env: str
    drifted: list[Drifted]
    filtered: list[Filtered] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)  # what the plan does not let the judge see

    @property
    def drift(self) -> bool:
        return bool(self.drifted or self.unjudged)

    @property
    def serious(self) -> bool:
        """Drift a security class names, or drift that cannot be judged."""
        return bool(self.unjudged) or any(d.category in SERIOUS for d in self.drifted)

    def of(self, category: str) -> list[Drifted]:
        return [d for d in self.drifted if d.category == category]

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "env": self.env,
            "drift": self.drift,
            "serious": self.serious,
            "classes": {category: [{"address": d.address, "type": d.type, "action": d.action,
                                    "findings": list(d.findings),
                                    "differences": [{"path": x.path, "live": x.live, "reviewed": x.reviewed}
                                                    for x in d.differences]} for d in self.of(category)]
                        for category in CLASSES},
            "unjudged": list(self.unjudged),
            "filtered": [{"address": f.address, "path": f.path, "reason": f.reason} for f in self.filtered],
        }


# --- reading the plan ---------------------------------------------------------------------------

_DRIFT_ACTIONS = (["update"], ["delete"])
_QUIET_ACTIONS = (["no-op"],)  # "read" is a data source's, and those are left out before


def drifted_changes(plan: Any) -> list[dict[str, Any]]:
    """The managed objects a refresh-only plan finds changed outside terraform (its ``resource_drift``);
    raises Unreadable for what is not a refresh-only plan's JSON, or a part of it that cannot be read.

    A refresh-only plan plans nothing: its ``resource_changes``, if any, are all no-ops. A data
    source's entry is not an object terraform manages and is left out; a deposed object (left by a
    replacement that failed) is judged under ``ADDRESS (deposed object KEY)``."""
    _require_plan(plan)
    found: dict[str, dict[str, Any]] = {}
    for key in ("resource_drift", "resource_changes"):
        entries = plan.get(key, [])
        if not isinstance(entries, list):
            raise Unreadable(f"{key} is not a list")
        seen: set[str] = set()
        for rc in entries:
            address = _entry_address(key, rc)
            if address in seen:
                raise Unreadable(f"{key}: {address} is listed twice: which one is AWS cannot be told")
            seen.add(address)
            if rc["mode"] == "data":
                if not data_address(rc["address"]):
                    raise Unreadable(f'{key}: {rc["address"]}: mode "data" at an address that is not a data '
                                     "source's: a managed object's drift would be hidden")
                continue
            actions = rc["change"]["actions"]
            if key == "resource_changes" or actions not in _DRIFT_ACTIONS:
                if actions not in _QUIET_ACTIONS:
                    raise Unreadable(f"{address}: {'/'.join(map(str, actions))} in {key} is not drift: "
                                     "the plan is not refresh-only")
                continue
            _require_sides(address, rc["change"])
            found[address] = {**rc, "address": address}
    return [found[address] for address in sorted(found)]


def _require_plan(plan: Any) -> None:
    """``plan`` has the shape of ``terraform show -json`` of a plan file written by terraform 1.11 or
    later (the version the rendered root modules require)."""
    if not isinstance(plan, Mapping) or not isinstance(plan.get("format_version"), str):
        raise Unreadable("not the JSON of `terraform show -json PLANFILE` (no format_version)")
    if not plan["format_version"].startswith("1."):
        raise Unreadable(f"format_version {plan['format_version']} is not the plan format this judge reads (1.x)")
    if not isinstance(plan.get("planned_values"), Mapping):
        raise Unreadable("not a plan (no planned_values): `terraform show -json` of a state is not a "
                         "refresh-only plan")
    for flag in ("complete", "errored"):
        if not isinstance(plan.get(flag), bool):
            raise Unreadable(f"{flag} is {json.dumps(plan.get(flag))}, not true or false: a plan written by "
                             "terraform 1.11 or later says whether it is complete and whether it errored")
    if plan.get("resource_drift"):
        prior = plan.get("prior_state")
        values = prior.get("values") if isinstance(prior, Mapping) else None
        if not isinstance(values, Mapping) or not isinstance(values.get("root_module", {}), Mapping):
            raise Unreadable("the plan finds drift but has no readable prior_state: what the drifted objects "
                             "are next to cannot be told")


def _entry_address(key: str, rc: Any) -> str:
    """The address an entry is judged under; raises Unreadable for an entry of another shape."""
    if not (isinstance(rc, Mapping) and isinstance(rc.get("address"), str) and isinstance(rc.get("type"), str)
            and isinstance(rc.get("change"), Mapping) and isinstance(rc["change"].get("actions"), list)):
        raise Unreadable(f"{key}: an entry without address, type or change actions: {str(rc)[:120]}")
    if rc.get("mode") not in ("managed", "data"):
        raise Unreadable(f"{key}: {rc['address']}: mode {json.dumps(rc.get('mode'))} is neither managed nor data")
    deposed = rc.get("deposed")
    if deposed is None or deposed == "":
        return str(rc["address"])
    if not isinstance(deposed, str):
        raise Unreadable(f"{key}: {rc['address']}: deposed key {json.dumps(deposed)} is not a string")
    return f"{rc['address']} (deposed object {deposed})"


def _require_sides(address: str, change: Mapping[str, Any]) -> None:
    """An update has an object on both sides, a delete one before and none after; ``after_unknown``
    is a map of the attributes known only after apply."""
    before, after = change.get("before"), change.get("after")
    if change["actions"] == ["update"] and not (isinstance(before, dict) and isinstance(after, dict)):
        raise Unreadable(f"{address}: an update without an object before and after: what changed cannot be read")
    if change["actions"] == ["delete"] and not (isinstance(before, dict) and after is None):
        raise Unreadable(f"{address}: a delete without the object before, or with one after")
    if not isinstance(change.get("after_unknown", {}), dict):
        raise Unreadable(f"{address}: after_unknown is not a map of attributes")


# --- provider-default noise -----------------------------------------------------------------------

def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def same(reviewed: Any, live: Any) -> bool:
    """Whether two values differ only by provider-default noise: null against an empty string, list
    or map (at any depth, where both sides have the key), or two policy JSON texts of the same
    meaning. A map key (a tag, an environment variable) that one side has and the other has not is
    a difference whatever its value, unless that value is null."""
    if reviewed == live or (_empty(reviewed) and _empty(live)):
        return True
    if isinstance(reviewed, dict) and isinstance(live, dict):
        return not _one_sided(reviewed, live) and \
            all(same(reviewed[key], live[key]) for key in set(reviewed) & set(live))
    if isinstance(reviewed, list) and isinstance(live, list):
        return len(reviewed) == len(live) and all(same(a, b) for a, b in zip(reviewed, live, strict=True))
    old, new = policy(reviewed), policy(live)
    return old is not None and old == new


def _one_sided(reviewed: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The keys with a value (anything but null) on one side only."""
    return sorted(key for key in set(reviewed) ^ set(live) if (reviewed.get(key), live.get(key)) != (None, None))


def noise(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, str]:
    """The top-level attributes whose difference is provider-default noise, with the reason."""
    found: dict[str, str] = {}
    one_sided = set(_one_sided(before, after))
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new or name in one_sided:
            continue
        if name == "tags_all" and _tags_all_repeats(before, after):
            found[name] = TAGS_ALL
        elif same(old, new):
            found[name] = EQUIVALENT_POLICY if policy(old) is not None or policy(new) is not None else EMPTY
    return found


def _tags_all_repeats(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Every key of ``tags_all`` that differs differs the same way in ``tags`` (a default tag changed
    outside terraform shows in ``tags_all`` only, and is kept)."""
    old_all, new_all = before.get("tags_all") or {}, after.get("tags_all") or {}
    old_tags, new_tags = before.get("tags") or {}, after.get("tags") or {}
    if not all(isinstance(v, dict) for v in (old_all, new_all, old_tags, new_tags)):
        return False
    keys = {k for k in set(old_all) | set(new_all) if old_all.get(k) != new_all.get(k)}
    return all(old_tags.get(k) == old_all.get(k) and new_tags.get(k) == new_all.get(k) for k in keys)


# --- differences --------------------------------------------------------------------------------

def differences(before: Any, after: Any, unknown: Any, path: tuple[str | int, ...] = ()) -> Iterator[Difference]:
    """The leaves that differ: maps and lists of the same length are followed into, anything else
    is one difference; a value known only after apply is a difference whatever it was."""
    if unknown is True:
        yield Difference(path_string(path), before, LATER)
        return
    if isinstance(before, dict) and isinstance(after, dict):
        keys = unknown if isinstance(unknown, dict) else {}
        one_sided = set(_one_sided(before, after))
        for key in sorted(set(before) | set(after) | set(keys)):
            if key in one_sided and keys.get(key) is not True:  # a map key appears or disappears
                yield Difference(path_string((*path, key)), before.get(key), after.get(key))
            else:
                yield from differences(before.get(key), after.get(key), keys.get(key), (*path, key))
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after) and path:
        marks = unknown if isinstance(unknown, list) else []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from differences(old, new, marks[index] if index < len(marks) else None, (*path, index))
        return
    if not same(before, after):
        yield Difference(path_string(path), before, after)


# --- the judgement -------------------------------------------------------------------------------

def judge(plan: Any, env: str = "") -> DriftReport:
    """The drift a refresh-only plan's JSON shows, by class, with the noise it filtered."""
    changes = drifted_changes(plan)
    filtered: list[Filtered] = []
    unjudged: list[str] = []
    if plan.get("complete") is False:
        unjudged.append("the plan is partial (-target): objects it leaves out were not compared with AWS")
    if plan.get("errored") is True:
        unjudged.append("terraform reported errors while refreshing: the plan may be missing objects")
    judged: list[dict[str, Any]] = []
    found: dict[str, tuple[Difference, ...]] = {}
    state = State(plan, changes)
    for rc in changes:
        change = rc["change"]
        action = change["actions"][0]
        before = change.get("before") if isinstance(change.get("before"), dict) else {}
        after = change.get("after") if isinstance(change.get("after"), dict) else {}
        unknown = change.get("after_unknown") if isinstance(change.get("after_unknown"), dict) else {}
        if action == "update":
            before, after, owned = mirrors(rc["type"], before, after, state)
            filtered += [Filtered(rc["address"], name, reason) for name, reason in owned.items()]
            quiet = noise(before, after)
            filtered += [Filtered(rc["address"], name, reason) for name, reason in quiet.items()]
            after = {**after, **{name: before.get(name) for name in quiet}}
            diffs = tuple(differences(before, after, unknown))
            if not diffs:
                continue
            unjudged += [f"{rc['address']}: {d.path} is {LATER}" for d in diffs if d.live == LATER]
        else:
            after = {}
            diffs = (Difference("(the object)", "exists", GONE),)
        found[rc["address"]] = diffs
        judged.append({**rc, "change": {**change, "before": before, "after": None if action == "delete" else after,
                                        "after_unknown": unknown}})
    drifted: list[Drifted] = []
    documents = Documents(plan)
    explained: set[str] = set()
    for rc in judged:
        action = rc["change"]["actions"][0]
        address, kind, diffs = rc["address"], rc["type"], found[rc["address"]]
        gains = list(gains_of(rc, action, documents))
        if gains:
            drifted.append(Drifted(address, kind, ACCESS_GAINED, action,
                                   tuple({"kind": g.kind, "added": list(g.added)} for g in gains), diffs))
        loss = loss_of(rc, action)
        if loss is not None:
            reasons = loss.reasons if loss.protection else (f"{GONE}: the data it held may be lost",) + \
                (() if catalogue.classified(kind) else (f"{kind} is not in the review's catalogue: it may hold data",))
            drifted.append(Drifted(address, kind, PROTECTION_REDUCED, action, tuple(reasons), diffs))
        reduced = reduction_of(rc, action, documents)
        if reduced is not None:
            drifted.append(Drifted(address, kind, DETECTION_REDUCED, action, reduced.reasons, diffs))
        if gains or loss is not None or reduced is not None:
            explained.add(address)
    moved = _traffic(plan, judged, found, env)
    drifted += moved
    explained |= {d.address for d in moved}
    drifted += [Drifted(rc["address"], rc["type"], OTHER, rc["change"]["actions"][0], _other(rc), found[rc["address"]])
                for rc in judged if rc["address"] not in explained]
    return DriftReport(env, sorted(drifted, key=lambda d: (CLASSES.index(d.category), d.address)),
                       sorted(filtered, key=lambda f: (f.address, f.path)), unjudged)


def _other(rc: Mapping[str, Any]) -> tuple[str, ...]:
    kind = rc["type"]
    if not catalogue.classified(kind):
        return (f"{kind} is not in the review's catalogue",)
    note = catalogue.CATALOGUE[kind].note
    return (note,) if note else ()


def _traffic(plan: Mapping[str, Any], judged: Sequence[Mapping[str, Any]],
             found: Mapping[str, tuple[Difference, ...]], env: str) -> list[Drifted]:
    """The drifted objects that change what serves a payment function, or the load balancer in front.

    Each function's serving table is judged as the plan review judges it (tfgen.deploy.review.serving),
    with the reviewed state as "before" and AWS as "after". What the same judgement says of the
    reviewed state itself, with the same objects touched but nothing moved, is not drift (a rule
    that named a target group twice when it was reviewed): only what the live values add is."""
    resources = _resources(plan, judged)
    unmoved = {table.function: table for table in serving(_resources(plan, [_unmoved(rc) for rc in judged]), env)}
    by_address = {rc["address"]: rc for rc in judged}
    said: dict[str, list[str]] = {}  # address -> what moved, in order
    fronts = shared_changes(resources)
    for address, rc in by_address.items():
        if rc["type"] in FRONT_TYPES:
            if rc["change"]["actions"] == ["delete"]:
                said[address] = [f"{address}: {GONE}: every request to the load balancer fails"]
            else:
                said[address] = [line for line in fronts if line.startswith(f"update {address}:")]
    for table in serving(resources, env):
        lines = _serving_lines(table, unmoved.get(table.function))
        # A function's own objects, and any drifted object its lines name (a listener forwarding to it).
        for address in by_address:
            if lines and (_serves(address, table.function) or any(_names(line, address) for line in lines)):
                known = said.setdefault(address, [])
                known += [line for line in lines if line not in known]
    for address, rc in by_address.items():
        if rc["change"]["actions"] == ["delete"] and not said.get(address) and catalogue.classified(rc["type"]) \
                and catalogue.carries_traffic(rc["type"]):
            said[address] = [f"{address}: {GONE}: the requests it carried fail"]
    return [Drifted(address, by_address[address]["type"], TRAFFIC_MOVED, by_address[address]["change"]["actions"][0],
                    tuple(lines), found[address]) for address, lines in said.items() if lines]


def _names(line: str, address: str) -> bool:
    """Whether ``line`` names ``address`` (not an address it is a prefix of)."""
    return re.search(re.escape(address) + r"(?![\w\[\]\"-])", line) is not None


def _resources(plan: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> Resources:
    """The drifted objects as resource changes (state -> AWS), next to the rest of the refreshed state."""
    return Resources({"resource_changes": list(changes), "prior_state": plan.get("prior_state"),
                      "complete": plan.get("complete")})


def _unmoved(rc: Mapping[str, Any]) -> dict[str, Any]:
    """``rc`` touched but left as it was reviewed."""
    before = rc["change"]["before"]
    return {**rc, "change": {**rc["change"], "actions": ["update"], "after": before, "after_unknown": {}}}


def _serves(address: str, function: str) -> bool:
    """Whether ``address`` is one of ``function``'s serving objects: keyed by the function, or by the
    function and a colour (``["payment_validation-blue"]``), never by a function it is a prefix of."""
    for prefix in _FUNCTION_PREFIXES:
        if address.startswith(prefix + '["') and address.endswith('"]'):
            key = address[len(prefix) + 2:-2]
            if function in (key, key.rpartition("-")[0]):
                return True
    return False


_PLAN_ADVICE = re.compile(r",? (?:or )?allow it with --allow-traffic-risk \S+$")


def _serving_lines(table: Serving, unmoved: Serving | None) -> list[str]:
    """What differs in one function's serving table, live against reviewed, and what its judgement
    says of the live table that it does not say of the reviewed one (``unmoved``)."""
    lines = []
    for alias in table.aliases:
        if not alias.exists_after:
            lines.append(f"{table.function}: the {alias.colour} alias is {GONE}")
            continue
        if alias.version_before != alias.version_after:
            lines.append(f"{table.function}: {alias.colour} runs version {alias.version_after} "
                         f"(reviewed: {alias.version_before})")
        if alias.weight_before != alias.weight_after:
            lines.append(f"{table.function}: {alias.colour} takes {_weight(alias.weight_after)} of its requests "
                         f"(reviewed: {_weight(alias.weight_before)})")
    if any(alias.code_changes for alias in table.aliases):
        lines.append(f"{table.function}: the function's code differs from the reviewed")
    lines += [line.replace("update ", "", 1) for line in table.changes]
    known_risks, known_outages = (unmoved.risks, unmoved.outages) if unmoved is not None else ((), ())
    lines += [_PLAN_ADVICE.sub("", risk) for risk in table.risks if risk not in known_risks]
    lines += [line for line in table.outages
              if not line.startswith(("delete ", "replace ")) and line not in known_outages]
    return lines


def _weight(value: int | None) -> str:
    return "an unknown share" if value is None else f"weight {value}"


def classes(report: DriftReport) -> Iterable[tuple[str, list[Drifted]]]:
    """Each class with its entries, in the report's order."""
    return ((category, report.of(category)) for category in CLASSES)
