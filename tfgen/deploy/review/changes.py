"""Reading a plan's resource changes: one word for an action list, why terraform deletes or
replaces a resource (the attribute paths that force it, or its reason), and the resources a
partial (``-target``) plan leaves out, read from its ``prior_state``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

# "forget": a `removed` block with `destroy = false` takes the object out of the state and leaves
# it running, unmanaged (["forget"]; ["create", "forget"] also creates its successor).
ACTIONS = ("create", "update", "replace", "delete", "forget")

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


_NAME = r"[A-Za-z_][\w-]*"
_KEY = r'(?:\[(?:"(?:[^"\\]|\\.)*"|\d+)\])?'
_DATA_ADDRESS = re.compile(rf"(?:module\.{_NAME}{_KEY}\.)*data\.{_NAME}\.{_NAME}{_KEY}")


def data_address(address: str) -> bool:
    """Whether ``address`` is a data source's: ``data.TYPE.NAME``, in the root module or in a
    module (``module.net["a"].data.TYPE.NAME[0]``). A change whose mode says "data" at any other
    address would hide a managed resource: terraform never writes one."""
    return _DATA_ADDRESS.fullmatch(address) is not None


def action_of(actions: Sequence[str]) -> str | None:
    """One word for a change's action list; None for no-op and read."""
    if "create" in actions and "delete" in actions:
        return "replace"
    if "forget" in actions:
        return "forget"
    if len(actions) == 1 and actions[0] in ACTIONS:
        return actions[0]
    return None


class Resources:
    """The managed resources of a plan, each as a resource change: those the plan lists, and those
    a partial plan (``"complete": false``, a ``-target`` plan) leaves out, which keep the values
    its ``prior_state`` gives them (a no-op change).

    Terraform leaves ``prior_state`` out only when the state is empty, and writes it whole. A
    partial plan (one that does not say ``"complete": true``) whose changes show existing objects
    and whose prior state is missing, of another shape, or without one of those objects cannot say
    what the resources it leaves out hold: those are ``unknown``, and a judge that needs one
    refuses."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.listed: dict[str, Mapping[str, Any]] = {}
        # A moved resource (a `moved` block) is the object its previous address held.
        self.moved: dict[str, Mapping[str, Any]] = {}
        for rc in plan.get("resource_changes") or ():
            if rc.get("mode", "managed") == "managed" and not rc.get("deposed"):
                self.listed[rc["address"]] = rc
                if isinstance(rc.get("previous_address"), str) and rc["previous_address"] != rc["address"]:
                    self.moved[rc["previous_address"]] = rc
        # Only ``"complete": true`` says the plan lists every resource: without it, it may not.
        self.partial = plan.get("complete") is not True
        prior = plan.get("prior_state")
        root = prior.get("values") if isinstance(prior, Mapping) else None
        root = root.get("root_module") if isinstance(root, Mapping) else None
        self.prior: dict[str, Mapping[str, Any]] = {}
        if isinstance(root, Mapping):
            for resource in _module_resources(root):
                if isinstance(resource, Mapping) and resource.get("mode", "managed") == "managed" \
                        and not resource.get("deposed_key") and isinstance(resource.get("address"), str):
                    self.prior[resource["address"]] = resource
        # A partial plan's prior state is the whole state: one of another shape, or without a
        # resource the plan changes from an existing object, cannot say what it leaves out.
        existing = [address for address, rc in self.listed.items() if rc["change"].get("before") is not None]
        self.blind = self.partial and bool(existing) and (
            not isinstance(root, Mapping) or any(address not in self.prior for address in existing))

    def get(self, address: str) -> Mapping[str, Any] | None:
        """The change of ``address``: listed, or a no-op of its prior value; None when it neither
        exists nor is planned (or is unknown: see ``known``)."""
        rc = self.listed.get(address) or self.moved.get(address)
        if rc is not None:
            return rc
        resource = self.prior.get(address)
        if resource is None:
            return None
        values = resource.get("values") or {}
        return {"address": address, "mode": "managed", "type": resource.get("type"),
                "change": {"actions": ["no-op"], "before": values, "after": values, "after_unknown": {}}}

    def known(self, address: str) -> bool:
        """Whether the plan says what ``address`` is before and after the apply."""
        return not self.blind or address in self.listed or address in self.moved

    def addresses(self, prefix: str) -> list[str]:
        """Every address starting with ``prefix``, listed, moved from or in the prior state, sorted."""
        return sorted({a for a in (*self.listed, *self.moved, *self.prior) if a.startswith(prefix)})


def _module_resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from module.get("resources") or ()
    for child in module.get("child_modules") or ():
        yield from _module_resources(child)


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


def has_unknown(value: Any) -> bool:
    """Whether an ``after_unknown`` value marks anything, at any depth, as known only after apply."""
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return value is True
