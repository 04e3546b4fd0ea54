"""Data loss: a delete or replace of a resource that holds data, and a change that destroys or
weakens what protects data (point-in-time recovery off, a retention shortened, a backup rule
removed, an expiration added, versioning suspended, a key disabled, deletion protection off,
default encryption weakened, the key encrypting data removed or swapped, a key's or a secret's
rotation off or lengthened...).

Each is one ``DataLoss`` per address, refused by ``tfgen apply`` unless that address is named with
``--allow-data-loss``. A protecting value known only after apply is a loss too: the judge does not
pass what it cannot see. The resource types and their protecting attributes are the catalogue's
(tfgen.deploy.review.catalogue); a type the catalogue does not know is treated as holding data,
and an update of it that changes an attribute whose name looks like a protection (``retention``,
``backup``, ``deletion_protection``, ``force_delete``/``force_destroy``, ``versioning``,
``snapshot``, ``point_in_time``, ``lifecycle``, ``expiration``...) as weakening one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review import catalogue
from tfgen.deploy.review.catalogue import (
    EXPIRATION,
    FIXED,
    INTERVAL,
    KEPT,
    LEAST,
    NAMED,
    PERIOD,
    RETENTION,
    STAYS,
    TTL,
    Protection,
)
from tfgen.deploy.review.changes import path_string, reasons_of

UNKNOWN = "known only after apply"


@dataclass(frozen=True)
class DataLoss:
    address: str
    type: str
    action: str  # "delete", "replace", or "update" (a protection weakened)
    reasons: tuple[str, ...]
    protection: bool = False  # True: the data stays, what protects it is removed or weakened


def loss_of(rc: Mapping[str, Any], action: str) -> DataLoss | None:
    """The data ``rc`` loses, or the protection it removes or weakens; None when it does neither."""
    kind = rc["type"]
    if action in ("delete", "replace") and not catalogue.classified(kind):
        return DataLoss(rc["address"], kind, action,
                        (f"{kind} is not in the review's catalogue: it may hold data", *reasons_of(rc)))
    if action in ("delete", "replace") and catalogue.holds_data(kind):
        return DataLoss(rc["address"], kind, action, tuple(reasons_of(rc)))
    if action == "update" and not catalogue.classified(kind):
        changed = _protection_like(rc["change"])
        if changed:
            return DataLoss(rc["address"], kind, action, (
                f"{kind} is not in the review's catalogue, and {', '.join(changed)} "
                f"change{'s' if len(changed) == 1 else ''}: it may protect data",), protection=True)
        return None
    on_delete = catalogue.CATALOGUE[kind].on_delete if catalogue.classified(kind) else ""
    # A replace destroys it too: for a while (delete first), or leaving its effect undone
    # (create first: destroying versioning suspends it on the bucket the new one configures).
    if action in ("delete", "replace") and on_delete:
        return DataLoss(rc["address"], kind, action, (on_delete,), protection=True)
    if action not in ("update", "replace", "create") or not catalogue.protection(kind):
        return None
    weakened = tuple(weakenings(rc, action))
    return DataLoss(rc["address"], kind, action, weakened, protection=True) if weakened else None


# Attribute names that look like a protection of data, for a type the catalogue does not know.
PROTECTION_WORDS = ("retention", "backup", "deletion_protection", "force_delete", "force_destroy", "versioning",
                    "snapshot", "point_in_time", "lifecycle", "expiration", "expiry", "recovery")


def _protection_like(change: Mapping[str, Any]) -> list[str]:
    """The attributes an update changes (or leaves unknown) whose names look like a protection."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    return sorted(name for name in set(before) | set(after) | set(unknown)
                  if any(word in name for word in PROTECTION_WORDS)
                  and (before.get(name) != after.get(name) or _unknown_in(unknown.get(name))))


def weakenings(rc: Mapping[str, Any], action: str, rules: Sequence[Protection] | None = None) -> Iterator[str]:
    """What the change does to each protecting attribute of ``rc`` that exposes its data (``rules``:
    the catalogue's protections of its type, unless given: tfgen.deploy.review.detection gives the
    attributes that keep it watched).

    A resource the plan creates has nothing to weaken, except a protecting resource (a lifecycle
    configuration, say) created for a bucket that already exists: it is judged against nothing."""
    change = rc["change"]
    before: Any = change.get("before") or {}
    after, unknown = change.get("after") or {}, change.get("after_unknown") or {}
    if action == "create":
        target = catalogue.CATALOGUE[rc["type"]].target
        if not target or unknown.get(target) is True or after.get(target) is None:
            return
        before = {}
    said = set()
    for rule in catalogue.protection(rc["type"]) if rules is None else rules:
        for reason in _judge(rule, _leaves(before, None, rule.path, rule.key, only=rule.only),
                             _leaves(after, unknown, rule.path, rule.key, only=rule.only)):
            if reason not in said:  # a list known only after apply, once for all its rules
                said.add(reason)
                yield reason


Leaf = tuple[Any, Any]  # a value, and its part of after_unknown (True: known only after apply)


def _leaves(value: Any, unknown: Any, path: tuple[str | int, ...], key: str, name: str = "",
            only: tuple[str, ...] = ()) -> dict[str, Leaf]:
    """The values at ``path``, by name: ``""`` for a plain path; with ``"*"``, one per list element,
    named by its ``key`` attribute (``rule "daily"``); with ``only``, just the elements whose key is
    one of those, or cannot be told."""
    if unknown is True or not path:
        return {name: (None if unknown is True else value, unknown)}
    step, rest = path[0], path[1:]
    if step == "*":
        out: dict[str, Leaf] = {}
        items = value if isinstance(value, list) else []
        unknowns = unknown if isinstance(unknown, list) else []
        for index, item in enumerate(items):
            item_unknown = unknowns[index] if index < len(unknowns) else None
            label = item if not key else item.get(key) if isinstance(item, dict) else None
            if label is None or (isinstance(item_unknown, dict) and item_unknown.get(key) is True):
                label = f"#{index} ({UNKNOWN})" if item_unknown else f"#{index}"
            elif only and label not in only:
                continue
            out.update(_leaves(item, item_unknown, rest, key, f"{name}{path_step(label)}", only))
        return out
    return _leaves(_child(value, step), _child(unknown, step), rest, key, name, only)


def path_step(label: Any) -> str:
    return f"[{json.dumps(label)}]"


def _child(value: Any, step: str | int) -> Any:
    if isinstance(step, int):
        return value[step] if isinstance(value, list) and len(value) > step else None
    return value.get(step) if isinstance(value, dict) else None


def _list_path(rule: Protection) -> tuple[str | int, ...]:
    return rule.path[:rule.path.index("*")] if "*" in rule.path else rule.path


def _shown(value: Any) -> str:
    return "null" if value is None else json.dumps(value)


def _where(rule: Protection, name: str) -> str:
    prefix = rule.path[:rule.path.index("*")] if "*" in rule.path else rule.path
    rest = rule.path[len(prefix) + 1:] if "*" in rule.path else ()
    return path_string(prefix) + name + ("." + path_string(rest) if rest else "")


def _judge(rule: Protection, before: dict[str, Leaf], after: dict[str, Leaf]) -> Iterator[str]:
    if rule.rule == EXPIRATION:
        yield from _expirations(rule, before, after)
        return
    # A list known only after apply, or an element of it: nothing can be told about what it keeps.
    later = [name for name, (_, u) in after.items() if u is True and name not in before]
    yield from (f"{rule.label}: {_where(rule, name)} {UNKNOWN}" if name else
                f"{path_string(_list_path(rule))} {UNKNOWN}" for name in later)
    if "" in later:
        return
    if rule.rule == KEPT:
        yield from (f"{rule.label} removed: {_where(rule, name)}" for name in before if name not in after)
        return
    if rule.rule == FIXED:
        for name, (old, _) in before.items():
            new, unknown = after.get(name, (None, None))
            if _unknown_in(unknown):
                yield f"{rule.label}: {_where(rule, name)} {UNKNOWN}"
            elif (old or None) != (new or None):
                yield f"{rule.label} changed ({_where(rule, name)}: {_shown(old)} -> {_shown(new)})"
        return
    for name, (old, _) in before.items():
        if name not in after:
            continue  # an element removed: its KEPT rule says so
        new, unknown = after[name]
        where = _where(rule, name)
        if rule.rule == NAMED:
            if _unset(old):
                continue  # nothing was named: naming one now weakens nothing
            if _unknown_in(unknown):
                yield f"{rule.label}: {where} {UNKNOWN}"
            elif _unset(new):
                yield f"{rule.label} removed ({where}: {_shown(old)} -> {_shown(new)})"
            elif new != old:
                yield f"{rule.label} changed ({where}: {_shown(old)} -> {_shown(new)})"
        elif rule.rule == STAYS:
            old, new = (rule.default if old is None else old), (rule.default if new is None else new)
            if _safe(rule, old) and unknown is True:
                yield f"{rule.label}: {where} {UNKNOWN}"
            elif _safe(rule, old) and not _safe(rule, new):
                yield f"{rule.label} turned off ({where}: {_shown(old)} -> {_shown(new)})"
        elif unknown is True or (rule.rule == PERIOD and _unknown_in(unknown)):
            yield f"{rule.label}: {where} {UNKNOWN}"
        elif rule.rule == PERIOD and _lock_days(new) < _lock_days(old):
            yield f"{rule.label} shortened ({where}: {_lock_period(old)} -> {_lock_period(new)})"
        elif rule.rule == RETENTION and _shorter(rule, old, new):
            yield f"{rule.label} shortened ({where}: {_retention(rule, old)} -> {_retention(rule, new)})"
        elif rule.rule == LEAST and _rank(rule, new) < _rank(rule, old):
            yield f"{rule.label} weakened ({where}: {_shown(old)} -> {_shown(new)})"
        elif rule.rule == INTERVAL and _longer(rule, old, new):
            yield f"{rule.label} lengthened ({where}: {_interval(rule, old)} -> {_interval(rule, new)})"
        elif rule.rule == TTL and _ttl(new) and _ttl(new) != _ttl(old):
            yield f"{rule.label}: items now expire by their {_shown(_ttl(new))} attribute ({where}: " \
                  f"{_shown(_ttl(old))} -> {_shown(_ttl(new))})"


def _lock_days(retention: Any) -> int:
    """An object lock default retention in days (a year is 365: 30 days -> 1 year is longer)."""
    if not isinstance(retention, dict):
        return 0
    return int(retention.get("days") or 0) + 365 * int(retention.get("years") or 0)


def _lock_period(retention: Any) -> str:
    if not _lock_days(retention):
        return "none"
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for unit in ("year", "day")
             if (n := int(retention.get(unit + "s") or 0))]
    return " ".join(parts)


def _safe(rule: Protection, value: Any) -> bool:
    return value in rule.safe if isinstance(rule.safe, tuple) else bool(value == rule.safe)


def _number(value: Any) -> Any:
    """A number given as text (``"1000"``, a database parameter's value) as a number; else the value."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def _unknown_in(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_unknown_in(v) for v in value.values())
    if isinstance(value, list):
        return any(_unknown_in(v) for v in value)
    return value is True


def _shorter(rule: Protection, old: Any, new: Any) -> bool:
    old, new = (rule.default if old is None else old), (rule.default if new is None else new)
    if new in rule.forever or old == new:
        return False
    if old in rule.forever:
        return True
    if old is None or new is None:
        return new is None and None not in rule.forever  # unset, with no default: cannot tell it is as long
    try:
        return bool(_number(new) < _number(old))
    except TypeError:
        return True


def _unset(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _rank(rule: Protection, value: Any) -> int:
    """Where ``value`` stands in ``rule.order`` (weakest first); -1 for a value it does not list."""
    value = rule.default if value is None else value
    return rule.order.index(value) if value in rule.order else -1


def _longer(rule: Protection, old: Any, new: Any) -> bool:
    """An interval (days between rotations) that grows, or stops: ``forever`` values mean never."""
    old, new = (rule.default if old is None else old), (rule.default if new is None else new)
    if old in rule.forever or old == new:
        return False
    if new in rule.forever:
        return True
    try:
        return bool(_number(new) > _number(old))
    except TypeError:
        return True


def _interval(rule: Protection, value: Any) -> str:
    value = rule.default if value is None else value
    return "never" if value in rule.forever else _shown(value)


def _retention(rule: Protection, value: Any) -> str:
    value = rule.default if value is None else value
    return "for ever" if value in rule.forever else _shown(value)


def _ttl(block: Any) -> Any:
    """The attribute items expire by, when time to live is on."""
    return block.get("attribute_name") if isinstance(block, dict) and block.get("enabled") else None


# --- S3 lifecycle expirations ----------------------------------------------------------------

_EXPIRES = (("expiration", "days"), ("expiration", "date"), ("noncurrent_version_expiration", "noncurrent_days"),
            ("noncurrent_version_expiration", "newer_noncurrent_versions"))


def _expirations(rule: Protection, before: dict[str, Leaf], after: dict[str, Leaf]) -> Iterator[str]:
    """Lifecycle rules that expire objects, compared by content (a rule renamed is the same rule,
    and one with a new id is judged against the rule before with its filter): a rule that expires
    now and did not (added, enabled),
    expires sooner (fewer days, an earlier date, fewer noncurrent versions kept), or expires other
    objects (its filter changed)."""
    for name, (new, unknown) in after.items():
        where = _where(rule, name)
        if unknown is True or _field(unknown, "status") is True:
            yield f"{rule.label}: {where} {UNKNOWN}"
            continue
        if not isinstance(new, dict) or new.get("status") != "Enabled":
            continue
        enabled = [v for v, _ in before.values() if isinstance(v, dict) and v.get("status") == "Enabled"]
        if any(_content(v) == _content(new) for v in enabled):
            continue  # the same rule, perhaps under another id
        old = before.get(name, (None, False))[0]
        if name not in before:  # a renamed rule: judged against the one with its filter
            old = next((v for v in enabled if _filter(v) == _filter(new)), None)
        old = old if isinstance(old, dict) and old.get("status") == "Enabled" else {}
        for block, field in _EXPIRES:
            value, previous = _field(new, block, field), _field(old, block, field)
            if _field(unknown, block) is True or _field(unknown, block, field) is True:
                yield f"{rule.label}: {where}.{block}[0].{field} {UNKNOWN}"
            elif value is not None and previous is None:
                yield f"{rule.label} added ({where}.{block}[0].{field} = {_shown(value)})"
            elif value is not None and _sooner(value, previous):
                yield f"{rule.label} shortened ({where}.{block}[0].{field}: {_shown(previous)} -> {_shown(value)})"
            elif value is not None and _filter(new) != _filter(old):
                yield f"{rule.label} now applies to other objects ({where}.filter changed)"


def _field(rule: Any, block: str, field: str = "") -> Any:
    """``rule[block][0][field]`` (``rule[block]`` without a field); 0 and "" are unset."""
    blocks = rule.get(block) if isinstance(rule, dict) else None
    if not field or blocks is True:
        return blocks
    value = blocks[0].get(field) if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict) else None
    return None if value in (0, "") and value is not False else value


def _sooner(value: Any, previous: Any) -> bool:
    try:
        return bool(value < previous)
    except TypeError:
        return True


def _content(rule: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in rule.items() if k != "id"}, sort_keys=True)


def _filter(rule: Mapping[str, Any]) -> str:
    return json.dumps([rule.get("filter"), rule.get("prefix")], sort_keys=True)
