"""Whether a plan is exactly one step of a release: the expected traffic move and nothing else.

``tfgen release`` plans each step through ``tfgen plan`` and applies it only when this judge
finds nothing: every resource the plan changes is an alias or the listener rule of a released
function (or, in the publish step, the function itself), and each only updated: an alias's
function version, the rule's forward weights, the function's code (``source_code_hash``, and the
version, ARNs and dates that follow from it); each released function's serving table goes from
the split it expects before to the split it expects after; the functions it does not release do
not change; no output changes; the review refuses nothing and the plan is complete. Anything else
is a problem, never a pass: a partial plan, an unknown value, a change nobody asked for, an output
created, updated or deleted, an import, a moved resource, a deposed object, a data source with an
action other than a read, an action list or mode terraform does not write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.changes import action_of, has_unknown
from tfgen.deploy.review.serving import Serving
from tfgen.deploy.review.verdict import Review

COLOURS = ("blue", "green")
# The action lists terraform writes, per mode of a resource change.
MANAGED_ACTIONS = (("no-op",), ("create",), ("read",), ("update",), ("delete",), ("create", "delete"),
                   ("delete", "create"), ("forget",), ("create", "forget"))
DATA_READS = (("read",), ("no-op",))  # a data source read changes nothing
OUTPUT_ACTIONS = (("no-op",), ("create",), ("update",), ("delete",), ("create", "delete"), ("delete", "create"))
# What a publish changes of the function: its code, and what terraform knows only after apply
# because a version is published (the version, its ARNs, the code's date, digest and size).
PUBLISH_CODE = ("source_code_hash",)
PUBLISH_FOLLOWS = ("version", "qualified_arn", "qualified_invoke_arn", "last_modified", "code_sha256",
                   "source_code_size")
NOT_PART = "not part of this step"


@dataclass(frozen=True)
class Side:
    """One function's split: the version each colour runs and its weight."""

    blue_version: str
    green_version: str
    blue_weight: int
    green_weight: int


@dataclass(frozen=True)
class Expected:
    """One released function's split before and after the step; ``publishes``: the step publishes
    the function's new code (its aliases stay pinned)."""

    before: Side
    after: Side
    publishes: bool = False


def allowed_addresses(function: str, publishes: bool) -> set[str]:
    allowed = {f'aws_lambda_alias.this["{function}-{colour}"]' for colour in COLOURS}
    allowed.add(f'aws_lb_listener_rule.this["{function}"]')
    if publishes:
        allowed.add(f'aws_lambda_function.this["{function}"]')
    return allowed


def problems(plan: Mapping[str, Any], result: Review, expected: Mapping[str, Expected]) -> list[str]:
    """What keeps ``plan`` (its ``terraform show -json``, reviewed as ``result``) from being exactly
    the step ``expected`` describes; empty when it is."""
    found: list[str] = []
    if result.partial or plan.get("complete") is not True:
        found.append("the plan is partial (-target): a release step is planned whole")
    found += [f"the review refuses: {line}" for line in result.refusals()]
    allowed = set().union(*(allowed_addresses(key, step.publishes) for key, step in expected.items()))
    for rc in plan.get("resource_changes") or ():
        found += _entry(rc if isinstance(rc, Mapping) else {}, allowed)
    found += _outputs(plan.get("output_changes"))
    found += [f"every function: {line}: {NOT_PART}" for line in result.shared_traffic]
    tables = {s.function: s for s in result.traffic}
    for key, step in sorted(expected.items()):
        table = tables.get(key)
        if table is None:
            found.append(f"{key}: the plan shows no serving table for it")
            continue
        found += _function(table, step)
    for key, table in sorted(tables.items()):
        if key not in expected and table.changed:
            found.append(f"{key}: its traffic changes, but it is not part of this release")
    return found


def _entry(rc: Mapping[str, Any], allowed: set[str]) -> list[str]:
    """What is wrong with one resource change in a step: anything but a no-op, a data source read,
    or an update of an allowed address that changes only what the step changes."""
    address = rc.get("address")
    given = rc.get("change")
    change: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    raw = change.get("actions")
    actions = tuple(raw) if isinstance(raw, list) and all(isinstance(a, str) for a in raw) else None
    mode = rc.get("mode", "managed")
    word = action_of(actions) if actions else None
    if change.get("importing") is not None:
        return [f"import {address}: terraform would take it under management: {NOT_PART}"]
    if rc.get("deposed"):
        return [f"{word or 'change'} {address} (deposed object {rc['deposed']}): a leftover of an earlier "
                f"replacement: {NOT_PART}"]
    if mode == "data":
        return [] if actions in DATA_READS else \
            [f"{address}: data source with actions {raw!r}, not a read: {NOT_PART}"]
    if mode != "managed":
        return [f"{address}: a resource change of mode {mode!r}: {NOT_PART}"]
    if actions not in MANAGED_ACTIONS or actions == ("read",):
        return [f"{address}: actions {raw!r}, which terraform does not write: {NOT_PART}"]
    previous = rc.get("previous_address")
    if previous is not None and previous != address:
        return [f"{address}: moved from {previous}: {NOT_PART}"]
    if actions == ("no-op",):
        return []
    if address not in allowed:
        return [f"{word} {address}: {NOT_PART}"]
    if actions != ("update",):
        return [f"{word} {address}: a release step only updates it: {NOT_PART}"]
    before, after = change.get("before"), change.get("after")
    given_unknown = change.get("after_unknown")
    unknown: Mapping[str, Any] = given_unknown if isinstance(given_unknown, Mapping) else {}
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return [f"update {address}: the plan does not show its values before and after: {NOT_PART}"]
    changed = sorted(name for name in {*before, *after, *unknown}
                     if before.get(name) != after.get(name) or has_unknown(unknown.get(name)))
    kind = str(address).split(".", 1)[0]
    if kind == "aws_lambda_alias":
        return [f"update {address}: its {name} changes beyond the function version: {NOT_PART}"
                for name in changed if name != "function_version"]
    if kind == "aws_lb_listener_rule":
        return [f"update {address}: its {name} changes beyond the forward weights: {NOT_PART}"
                for name in changed if name != "action" or _without_weights(before.get(name))
                != _without_weights(after.get(name)) or has_unknown(_without_weights(unknown.get(name)))]
    return [f"update {address}: its {name} changes: a publish changes only the function's code "
            f"({', '.join(PUBLISH_CODE)}) and what follows from it: {NOT_PART}"
            for name in changed if name not in PUBLISH_CODE
            and not (name in PUBLISH_FOLLOWS and unknown.get(name) is True)]


def _outputs(changes: Any) -> list[str]:
    """Every output the plan changes (created, updated, deleted): a step changes no output. Its
    values are never shown (an output may hold a secret)."""
    if changes is None:
        return []
    if not isinstance(changes, Mapping):
        return [f"the plan's output changes cannot be read: {NOT_PART}"]
    found = []
    for name, change in sorted(changes.items(), key=lambda item: str(item[0])):
        raw = change.get("actions") if isinstance(change, Mapping) else None
        actions = tuple(raw) if isinstance(raw, list) and all(isinstance(a, str) for a in raw) else None
        if actions not in OUTPUT_ACTIONS:
            found.append(f"output {name}: actions {raw!r}, which terraform does not write: {NOT_PART}")
        elif actions != ("no-op",):
            found.append(f"{action_of(actions) if actions else 'change'} output {name}: {NOT_PART}")
    return found


def _without_weights(actions: Any) -> Any:
    """A listener rule's actions with the forward weights left out, each forward's target groups
    in one order (a set: terraform lists them in an order of its own)."""
    if not isinstance(actions, list):
        return actions
    out = []
    for action in actions:
        if isinstance(action, Mapping) and isinstance(action.get("forward"), list):
            action = {**action, "forward": [_forward_without_weights(f) for f in action["forward"]]}
        out.append(action)
    return out


def _forward_without_weights(forward: Any) -> Any:
    if not isinstance(forward, Mapping) or not isinstance(forward.get("target_group"), list):
        return forward
    groups = [{k: v for k, v in g.items() if k != "weight"} if isinstance(g, Mapping) else g
              for g in forward["target_group"]]
    return {**forward, "target_group": sorted(groups, key=lambda g: json.dumps(g, sort_keys=True, default=str))}


def _function(table: Serving, step: Expected) -> list[str]:
    key = table.function
    found = [f"{key}: stops serving: {line}" for line in table.outages]
    found += [f"{key}: {line}" for line in table.changes]
    aliases = {a.colour: a for a in table.aliases}
    for colour in COLOURS:
        alias = aliases.get(colour)
        if alias is None:
            found.append(f"{key} {colour}: the plan shows no alias")
            continue
        want_before = (getattr(step.before, f"{colour}_version"), getattr(step.before, f"{colour}_weight"))
        want_after = (getattr(step.after, f"{colour}_version"), getattr(step.after, f"{colour}_weight"))
        got_before = (alias.version_before, alias.weight_before)
        got_after = (None if alias.publishes else alias.version_after, alias.weight_after)
        if got_before != want_before:
            found.append(f"{key} {colour}: the plan starts from {_side(got_before)}, the step from "
                         f"{_side(want_before)}")
        if got_after != want_after or not alias.exists_after:
            found.append(f"{key} {colour}: the plan gives {_side(got_after, alias.publishes)}, the step "
                         f"{_side(want_after)}")
        if alias.code_changes and not step.publishes:
            found.append(f"{key}: its code changes in a traffic step: publish it first")
    if step.publishes and not any(a.code_changes for a in table.aliases):
        found.append(f"{key}: the publish step holds no new code of it")
    return found


def _side(pair: tuple[str | None, int | None], publishes: bool = False) -> str:
    version, weight = pair
    shown = "the version this apply publishes" if publishes else \
        f"version {version}" if version is not None else "an unknown version"
    return f"{shown} at {weight if weight is not None else 'an unknown weight'} %"
