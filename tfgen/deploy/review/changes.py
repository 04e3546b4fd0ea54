"""Reading a plan's resource changes: one word for an action list, and why terraform deletes or
replaces a resource (the attribute paths that force it, or its reason)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

ACTIONS = ("create", "update", "replace", "delete")

_REASONS = {
    "delete_because_no_resource_config": "removed from the configuration",
    "delete_because_no_module": "its module was removed from the configuration",
    "delete_because_wrong_repetition": "count/for_each changed how it is repeated",
    "delete_because_count_index": "its count index is no longer in range",
    "delete_because_each_key": "its for_each key is no longer in the map",
    "delete_because_no_move_target": "the target of a moved block does not exist",
    "replace_because_tainted": "tainted (a failed create, or terraform taint)",
    "replace_by_request": "replacement requested (-replace)",
    "replace_by_triggers": "replace_triggered_by: a referenced resource changes",
}


def action_of(actions: Sequence[str]) -> str | None:
    """One word for a change's action list; None for no-op, read and forget."""
    if "create" in actions and "delete" in actions:
        return "replace"
    if len(actions) == 1 and actions[0] in ACTIONS:
        return actions[0]
    return None


def reasons_of(rc: Mapping[str, Any]) -> list[str]:
    """Why a resource is deleted or replaced: the attribute paths forcing it, or terraform's reason."""
    change = rc["change"]
    paths = [path_string(path) for path in change.get("replace_paths") or ()]
    reasons = [f"{path} forces replacement{_values(change, raw)}"
               for path, raw in zip(paths, change.get("replace_paths") or (), strict=True)]
    reason = rc.get("action_reason")
    if reason in _REASONS and not (reason == "replace_because_cannot_update" and reasons):
        reasons.append(_REASONS[reason])
    return reasons or [str(reason or "deleted or replaced by the plan")]


def path_string(path: Sequence[str | int]) -> str:
    """``["serverlessv2_scaling_configuration", 0, "min_capacity"]`` as
    ``serverlessv2_scaling_configuration[0].min_capacity``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


def _values(change: Mapping[str, Any], path: Sequence[str | int]) -> str:
    """`` (a -> b)`` for a scalar attribute known on both sides; empty otherwise."""
    before, after = _at(change.get("before"), path), _at(change.get("after"), path)
    if _at(change.get("after_unknown"), path) is True:
        return f" ({_short(before)} -> known after apply)" if _scalar(before) else ""
    if _scalar(before) and _scalar(after) and before != after:
        return f" ({_short(before)} -> {_short(after)})"
    return ""


def _at(value: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _short(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
        else str(value)


