"""Reading the state of an existing stack for ``tfgen adopt``: ``terraform show -json`` of it
(format 1.x, with ``values.root_module``) or a raw state file (version 4, with ``resources``),
whatever wrote it. Anything else (a plan's ``terraform show -json``, what ``terraform show
-json`` prints where there is no state, a state file of another version) or an entry that cannot
be read is a ``MatchError`` saying what was expected and what was found: a document the matcher
cannot read is never taken for an empty state.

Pure: a parsed document in, the managed objects out, deposed ones marked (a replacement the old
stack's last apply left unfinished; the matcher refuses them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The attributes whose values name an object (what a reference to it resolves to).
_IDENTIFIERS = ("id", "arn", "name", "bucket", "function_name", "cluster_identifier", "identifier",
                "key_id", "target_key_arn", "alarm_name", "dashboard_name", "allocation_id", "prefix_list_id")


class MatchError(ValueError):
    """The inputs cannot be read as a plan and a state."""


@dataclass(frozen=True)
class Existing:
    """One object of the existing stack: its address there, type and attributes."""

    address: str
    type: str
    values: Mapping[str, Any]
    deposed: str = ""  # the deposed key of an object a replacement left behind, "" for the current one

    def identifiers(self) -> set[str]:
        return {v for key in _IDENTIFIERS if isinstance(v := self.values.get(key), str) and v}


_EXPECTED = ("expected `terraform show -json` of a state (format_version 1.x with values.root_module) "
             "or a state file (version 4 with resources)")


def existing_objects(state: Mapping[str, Any]) -> list[Existing]:
    """The managed objects of a state, deposed ones left out: ``terraform show -json`` of it
    (format 1.x, ``values.root_module``) or a raw state file (version 4, ``resources`` with
    ``instances``). Anything else, or an entry that cannot be read, is a ``MatchError``."""
    return [e for e in objects(state) if not e.deposed]


def objects(state: Mapping[str, Any]) -> list[Existing]:
    """Every managed object of ``state``, deposed ones included."""
    plan_keys = sorted({"planned_values", "resource_changes", "prior_state"} & set(state))
    if plan_keys:
        raise _unreadable(f"a plan's `terraform show -json` ({', '.join(plan_keys)})")
    if "format_version" in state:
        version = state["format_version"]
        if not isinstance(version, str) or version.split(".", 1)[0] != "1":
            raise _unreadable(f"`terraform show -json` of format_version {version!r}")
        values = state.get("values")
        if not isinstance(values, Mapping):
            raise _unreadable("`terraform show -json` with no values (what it prints where there is no state)")
        if not isinstance(values.get("root_module"), Mapping):
            raise _unreadable("`terraform show -json` with no values.root_module")
        objects = list(_shown(values["root_module"]))
    elif "version" in state:
        if state["version"] != 4 or isinstance(state["version"], bool):
            raise _unreadable(f"a state file of version {state['version']!r}")
        if not isinstance(state.get("resources"), list):
            raise _unreadable("a state file with no resources list")
        objects = list(_raw(state["resources"]))
    else:
        raise _unreadable("neither format_version nor version")
    seen: set[str] = set()
    for e in objects:
        if not e.deposed and e.address in seen:
            raise _unreadable(f"{e.address} twice")
        seen.add(e.address)
    return sorted(objects, key=lambda e: (e.address, e.deposed))


def _unreadable(found: str) -> MatchError:
    return MatchError(f"found {found}; {_EXPECTED}")


def _shown(module: Mapping[str, Any]) -> Iterator[Existing]:
    for resource in _entries(module.get("resources")):
        if not all(isinstance(resource.get(k), str) for k in ("address", "mode", "type")):
            raise _unreadable(f"a resource without address, mode or type in `terraform show -json`: {resource!r}")
        if resource["mode"] != "managed":
            continue
        if not isinstance(resource.get("values"), Mapping):
            raise _unreadable(f"{resource['address']} without values in `terraform show -json`")
        yield Existing(resource["address"], resource["type"], resource["values"],
                       str(resource.get("deposed_key") or ""))
    for child in _entries(module.get("child_modules")):
        yield from _shown(child)


def _raw(resources: Sequence[Any]) -> Iterator[Existing]:
    for resource in _entries(resources):
        if not all(isinstance(resource.get(k), str) for k in ("mode", "type", "name")):
            raise _unreadable(f"a resource without mode, type or name in the state file: {resource!r}")
        if resource["mode"] != "managed":
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        base = f"{prefix}{resource['type']}.{resource['name']}"
        for instance in _entries(resource.get("instances")):
            key = instance.get("index_key")
            address = base if key is None else f"{base}[{index_key(key)}]"
            if not isinstance(instance.get("attributes"), Mapping):
                raise _unreadable(f"{address} without attributes in the state file")
            yield Existing(address, resource["type"], instance["attributes"], str(instance.get("deposed") or ""))


def _entries(items: Any) -> list[Mapping[str, Any]]:
    """A list of objects (None reads as none); anything else cannot be read."""
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise _unreadable(f"a list of objects that is not one: {items!r:.80}")
    return items


def index_key(key: Any) -> str:
    """An instance key as an address writes it: [0], ["blue"]."""
    return str(key) if isinstance(key, int) else f'"{key}"'
