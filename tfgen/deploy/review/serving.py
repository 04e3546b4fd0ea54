"""Live traffic: per payment function and colour, the alias version and listener weight before
and after the plan, and whether the function's code changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.catalogue import ALIAS, FUNCTION, LISTENER_RULE, TARGET_GROUP
from tfgen.deploy.review.changes import action_of

GREEN = "green"
PUBLISHED = "the version this apply publishes"


@dataclass(frozen=True)
class Alias:
    """One payment function's alias of one colour, before and after the plan."""

    function: str
    colour: str
    address: str
    version_before: str | None  # None: the alias does not exist yet
    version_after: str | None  # None: the version this apply publishes
    weight_before: int | None
    weight_after: int | None
    code_changes: bool

    @property
    def created(self) -> bool:
        return self.version_before is None

    @property
    def moves(self) -> bool:
        return self.version_after is None or self.version_before != self.version_after

    @property
    def changed(self) -> bool:
        return self.moves or self.weight_before != self.weight_after or self.code_changes

    @property
    def risk(self) -> bool:
        """A new version reaching live traffic other than through green: this alias existed before
        and runs the version the apply publishes (for new code, or new settings: either publishes
        a version), it is not green, and it takes traffic."""
        return (self.version_after is None and self.colour != GREEN
                and (self.weight_after or 0) > 0 and not self.created)

    @property
    def novelty(self) -> str:
        """What the version this alias would run brings: new code, or only new settings."""
        return "new code" if self.code_changes else "new settings"


def _key(address: str, prefix: str) -> str | None:
    """``payment_validation`` of ``aws_lambda_function.this["payment_validation"]``."""
    if not address.startswith(prefix + '["') or not address.endswith('"]'):
        return None
    return address[len(prefix) + 2:-2]


def aliases(by_address: Mapping[str, Mapping[str, Any]]) -> list[Alias]:
    colour_of_arn: dict[str, str] = {}
    for address, rc in by_address.items():
        key = _key(address, TARGET_GROUP)
        if key is None:
            continue
        for side in ("before", "after"):
            arn = (rc["change"].get(side) or {}).get("arn")
            if arn:
                colour_of_arn[arn] = key.rpartition("-")[2]
    aliases = []
    for address, rc in sorted(by_address.items()):
        key = _key(address, ALIAS)
        if key is None:
            continue
        function, _, colour = key.rpartition("-")
        change = rc["change"]
        before, after = change.get("before") or {}, change.get("after") or {}
        unknown = (change.get("after_unknown") or {}).get("function_version") is True
        rule = by_address.get(f'{LISTENER_RULE}["{function}"]')
        weights_before = _weights(rule, "before", colour_of_arn)
        weights_after = _weights(rule, "after", colour_of_arn)
        aliases.append(Alias(
            function=function, colour=colour, address=address,
            version_before=before.get("function_version") if change.get("before") else None,
            version_after=None if unknown else after.get("function_version"),
            weight_before=weights_before.get(colour), weight_after=weights_after.get(colour),
            code_changes=_code_changes(by_address.get(f'{FUNCTION}["{function}"]')),
        ))
    order = {"blue": 0, "green": 1}
    return sorted(aliases, key=lambda a: (a.function, order.get(a.colour, 2), a.colour))


def _weights(rule: Mapping[str, Any] | None, side: str, colour_of_arn: Mapping[str, str]) -> dict[str, int]:
    """Colour -> weight of a listener rule's forward action, on one side of the change."""
    if rule is None:
        return {}
    value = rule["change"].get(side) or {}
    weights: dict[str, int] = {}
    for action in value.get("action") or ():
        for forward in action.get("forward") or ():
            for group in forward.get("target_group") or ():
                # A target group created by the same apply has no ARN yet: its weight stays unknown.
                colour = colour_of_arn.get(group.get("arn") or "")
                if colour is not None:
                    weights[colour] = group.get("weight")
    return weights


def _code_changes(rc: Mapping[str, Any] | None) -> bool:
    if rc is None:
        return False
    change = rc["change"]
    if action_of(change["actions"]) in ("create", "replace"):
        return True
    before, after = change.get("before") or {}, change.get("after") or {}
    if (change.get("after_unknown") or {}).get("source_code_hash") is True:
        return True
    return any(before.get(name) != after.get(name) for name in ("source_code_hash", "image_uri", "s3_key"))


