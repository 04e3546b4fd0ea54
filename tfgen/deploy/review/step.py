"""Whether a plan is exactly one step of a release: the expected traffic move and nothing else.

``tfgen release`` plans each step through ``tfgen plan`` and applies it only when this judge
finds nothing: every resource the plan changes is an alias or the listener rule of a released
function (or, in the publish step, the function itself); each released function's serving table
goes from the split it expects before to the split it expects after; the functions it does not
release do not change; the review refuses nothing and the plan is complete. Anything else, a
partial plan, an unknown value or a change nobody asked for, is a problem, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.changes import action_of
from tfgen.deploy.review.serving import Serving
from tfgen.deploy.review.verdict import Review

COLOURS = ("blue", "green")


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
    if result.partial or plan.get("complete") is False:
        found.append("the plan is partial (-target): a release step is planned whole")
    found += [f"the review refuses: {line}" for line in result.refusals()]
    allowed = set().union(*(allowed_addresses(key, step.publishes) for key, step in expected.items()))
    for rc in plan.get("resource_changes") or ():
        if rc.get("mode", "managed") != "managed":
            continue
        action = action_of((rc.get("change") or {}).get("actions") or ())
        if action is not None and rc.get("address") not in allowed:
            found.append(f"{action} {rc.get('address')}: not part of this step")
    found += [f"every function: {line}: not part of this step" for line in result.shared_traffic]
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
