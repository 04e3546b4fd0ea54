"""Live traffic: per payment function, the serving table before and after the apply, and its
judgement.

For each colour (blue, green) the table holds the version its alias runs (known, or "published by
this apply"), the weight the listener rule's forward action gives its target group, and whether
that version has served traffic before this apply: it is the version of an alias that took traffic
(weight > 0) before, or blue's own version (blue only ever runs a first deploy's version or one
green served: the rules below keep it so, and a rollback to blue is never a new version). Values a
plan does not change come from its ``prior_state``, so a partial (``-target``) plan is judged by
what its resources will be next to the ones it leaves out.

The rules, for a function that served before this apply (a first deploy is accepted):

- a version that has not served may reach only green, by at most ``max_step`` points of its
  requests in one apply (``lambda.traffic_max_step``, as ``tfgen traffic shift`` enforces);
- blue moves only to the version green served before this apply (a finalize);
- a weight or version the plan does not give is not a pass: the review names what is unknown;
- replacing or deleting what a request passes through (the function, an alias, its target group,
  attachment or load-balancer permission, the listener rule, the listener, the load balancer), or
  reserved concurrency 0, is an outage: the review says what stops serving.

The first three are traffic risks (``--allow-traffic-risk FUNCTION``), the last outages
(``--allow-outage FUNCTION``). Other changes to an alias, listener rule or listener (conditions,
priority, default action, routing configuration) are listed to be read, not refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tfgen.deploy.review.catalogue import ALIAS, FUNCTION, LISTENER_RULE, TARGET_GROUP
from tfgen.deploy.review.changes import Resources, action_of

BLUE, GREEN = "blue", "green"
PUBLISHED = "the version this apply publishes"
# lambda.traffic_max_step of environments/defaults.yaml: the most points a version that has not
# served may take in one apply, when the caller does not give the environment's own.
DEFAULT_MAX_STEP = 25

ATTACHMENT = "aws_lb_target_group_attachment.this"
ELB_PRINCIPAL = "elasticloadbalancing.amazonaws.com"
FRONT_TYPES = ("aws_lb", "aws_alb", "aws_lb_listener", "aws_alb_listener")
GONE = ("delete", "replace")
_IGNORED = frozenset({"tags", "tags_all"})


@dataclass(frozen=True)
class Alias:
    """One payment function's alias of one colour, before and after the apply."""

    function: str
    colour: str
    address: str
    version_before: str | None  # None: the alias does not exist before
    version_after: str | None  # None: published by this apply (publishes), unknown, or no alias after
    publishes: bool
    exists_after: bool
    weight_before: int | None  # the rule's weight for its target group; 0: none; None: unknown
    weight_after: int | None
    served: bool  # the version it runs after the apply has served traffic before this apply
    code_changes: bool  # the function's code changes (the alias runs it only if it publishes)

    @property
    def created(self) -> bool:
        return self.version_before is None

    @property
    def moves(self) -> bool:
        return self.exists_after and (self.publishes or self.version_before != self.version_after)

    @property
    def changed(self) -> bool:
        return self.moves or not self.exists_after or self.weight_before != self.weight_after or self.code_changes

    @property
    def version(self) -> str:
        """The version it runs after the apply, in words."""
        if self.publishes:
            return PUBLISHED
        if not self.exists_after:
            return "(none)"
        return self.version_after or "an unknown version"

    @property
    def novelty(self) -> str:
        """What a version published by this apply brings: new code, or only new settings."""
        return "new code" if self.code_changes else "new settings"


@dataclass(frozen=True)
class Serving:
    """One payment function's serving table and its judgement."""

    function: str
    aliases: tuple[Alias, ...]
    first_deploy: bool  # nothing served before this apply
    risks: tuple[str, ...]  # broken canary rules and unknowns: --allow-traffic-risk
    outages: tuple[str, ...]  # what stops serving: --allow-outage
    changes: tuple[str, ...]  # other changes to its aliases and listener rule, to read

    @property
    def changed(self) -> bool:
        return bool(self.risks or self.outages or self.changes) or any(a.changed for a in self.aliases)


def serving(resources: Resources, env: str = "", max_step: int = DEFAULT_MAX_STEP) -> list[Serving]:
    """The serving table of each payment function the plan or its prior state holds."""
    colour_of_arn = _colours(resources)
    fronts = _fronts(resources)
    functions = {_key(a, ALIAS).rpartition("-")[0] for a in resources.addresses(ALIAS + "[")} | \
        {_key(a, LISTENER_RULE) for a in resources.addresses(LISTENER_RULE + "[")}
    return [_judge(resources, function, colour_of_arn.get(function, {}), fronts, env or "ENV", max_step)
            for function in sorted(functions - {""})]


def shared_changes(resources: Resources) -> list[str]:
    """Changes to the load balancer and listeners every function's requests pass through, other
    than their replacement or deletion (an outage of each function)."""
    lines = []
    for address, rc in sorted(resources.listed.items()):
        if rc.get("type") in FRONT_TYPES and action_of(rc["change"]["actions"]) in ("update", "forget"):
            lines.append(_changed(address, rc, lambda name, value: value))
    return [line for line in lines if line]


def _judge(resources: Resources, function: str, colour_of_arn: Mapping[str, str], fronts: Sequence[str],
           env: str, max_step: int) -> Serving:
    rule_address = f'{LISTENER_RULE}["{function}"]'
    rule = resources.get(rule_address)
    fn = resources.get(f'{FUNCTION}["{function}"]')
    publishing = fn is not None and _publishes(fn)
    # A function deleted or replaced takes its aliases with it (and a new function numbers its
    # versions from 1 again): an alias the plan does not create again is gone, and no version
    # after the apply has served.
    recreated = fn is not None and action_of(fn["change"]["actions"]) in GONE
    code = fn is not None and _code_changes(fn)
    colours = {_key(a, ALIAS).rpartition("-")[2] for a in resources.addresses(f'{ALIAS}["{function}-')}
    if resources.known(rule_address):
        before, before_whole = _weights(rule, "before", colour_of_arn)
        after, after_whole = _weights(rule, "after", colour_of_arn)
    else:
        before, before_whole, after, after_whole = {}, False, {}, False
    colours |= set(before) | set(after)
    aliases = []
    for colour in sorted(colours, key=lambda c: (c != BLUE, c != GREEN, c)):
        address = f'{ALIAS}["{function}-{colour}"]'
        rc = resources.get(address)
        change = rc["change"] if rc is not None else {}
        action = action_of(change["actions"]) if rc is not None else None
        exists_after = rc is not None and action != "delete" and (not recreated or action in ("create", "replace"))
        # $LATEST runs whatever the function was last given: a version this apply publishes, too.
        unknown_version = (change.get("after_unknown") or {}).get("function_version") is True or \
            (publishing and _version(change.get("after")) == "$LATEST")
        if change.get("actions") == ["forget"]:  # left in place, unmanaged: it runs what it ran
            change = {**change, "after": change.get("before")}
        aliases.append(Alias(
            function=function, colour=colour, address=address,
            version_before=_version(change.get("before")),
            version_after=None if unknown_version or not exists_after else _version(change.get("after")),
            publishes=exists_after and unknown_version and publishing, exists_after=exists_after,
            weight_before=before.get(colour, 0 if before_whole else None),
            weight_after=after.get(colour, 0 if after_whole else None), served=False, code_changes=code))
    served = {a.version_before for a in aliases if a.version_before is not None
              and ((a.weight_before or 0) > 0 or a.colour == BLUE)}
    aliases = [_with_served(a, set() if recreated else served) for a in aliases]
    before_unknown = [a.colour for a in aliases if a.weight_before is None]
    first_deploy = not before_unknown and not any((a.weight_before or 0) > 0 for a in aliases)
    unseen = [a for a in (rule_address, f'{FUNCTION}["{function}"]', *(a.address for a in aliases))
              if not resources.known(a)]
    touched = any(action_of(rc["change"]["actions"]) for address, rc in resources.listed.items()
                  if address in (rule_address, f'{FUNCTION}["{function}"]') or address.startswith(
                      tuple(f'{prefix}["{function}-' for prefix in (ALIAS, TARGET_GROUP, ATTACHMENT))))
    moves = any(a.moves or not a.exists_after or a.weight_before != a.weight_after for a in aliases)
    risks: list[str] = []
    if unseen and touched:
        risks.append(f"{function}: the plan is partial (-target) and has no prior_state, so what "
                     f"{', '.join(unseen)} hold is unknown: plan without -target, or allow it with "
                     f"--allow-traffic-risk {function}")
    elif before_unknown and moves:
        risks.append(f"{function}: the weight {', '.join(before_unknown)} took before this apply is unknown "
                     f"(the listener rule forwards to a target group the plan does not name): plan without "
                     f"-target, or allow it with --allow-traffic-risk {function}")
    elif not first_deploy and not unseen and not before_unknown:
        risks += _canary(function, aliases, env, max_step)
    outages = [] if first_deploy else _outages(resources, function, aliases, rule, fn, fronts)
    changes = [line for line in (_changed(a.address, resources.get(a.address), _alias_attribute)
                                 for a in aliases) if line]
    rule_line = _changed(rule_address, rule, _rule_attribute)
    if rule_line:
        changes.append(rule_line)
    return Serving(function, tuple(aliases), first_deploy, tuple(risks), tuple(outages), tuple(changes))


def _with_served(alias: Alias, served: set[str]) -> Alias:
    return replace(alias, served=alias.exists_after and not alias.publishes and alias.version_after is not None
                   and alias.version_after in served)


def _canary(function: str, aliases: Sequence[Alias], env: str, max_step: int) -> list[str]:
    """The rules a function that served before this apply keeps."""
    weights = [a.weight_after for a in aliases]
    total = None if any(w is None for w in weights) else sum(w or 0 for w in weights)
    green = next((a for a in aliases if a.colour == GREEN), None)
    green_served = green.version_before if green is not None and (green.weight_before or 0) > 0 else None
    allow = f"or allow it with --allow-traffic-risk {function}"
    risks = []
    for alias in aliases:
        if not alias.exists_after:
            continue
        what = f"{PUBLISHED} ({alias.novelty})" if alias.publishes else \
            f"version {alias.version_after}" if alias.version_after else "a version known only after apply"
        if alias.colour == BLUE and alias.moves:
            if alias.version_after is None or alias.version_after != green_served:
                start = f"version {alias.version_before}" if alias.version_before else "no alias"
                where = f"version {green_served}" if green_served else "none: green took no traffic"
                risks.append(f"{function}: blue would move from {start} to {what}: blue takes only the version "
                             f"green served before this apply ({where}), with `tfgen traffic {env} finalize`; pin "
                             f"the live versions (`tfgen traffic {env} pin`), {allow}")
            continue
        if alias.served:
            continue
        share = None if total is None or alias.weight_after is None else \
            (alias.weight_after * 100 / total if total else 0)
        if share is None:
            risks.append(f"{function}: {alias.colour} would run {what}, which has served no traffic, and the "
                         f"share of requests it takes after the apply is unknown (a weight or target group known "
                         f"only after apply): apply the target groups first, {allow}")
        elif alias.colour != GREEN and share > 0:
            risks.append(f"{function}: {what}, which has served no traffic, would take {_percent(share)} of live "
                         f"traffic through {alias.colour}, not through green: pin the live versions "
                         f"(`tfgen traffic {env} pin`), {allow}")
        elif alias.colour == GREEN and share > max_step:
            risks.append(f"{function}: {what}, which has served no traffic, would take {_percent(share)} of live "
                         f"traffic through green in one apply, more than lambda.traffic_max_step ({max_step} "
                         f"points): shift it in steps (`tfgen traffic {env} shift --green {max_step}`), {allow}")
    return risks


def _percent(share: float) -> str:
    return f"{share:g} %" if share == int(share) else f"{share:.1f} %"


def _outages(resources: Resources, function: str, aliases: Sequence[Alias], rule: Mapping[str, Any] | None,
             fn: Mapping[str, Any] | None, fronts: Sequence[str]) -> list[str]:
    """What stops serving ``function``'s requests."""
    lines = []
    if fn is not None:
        action = action_of(fn["change"]["actions"])
        if action in GONE:
            lines.append(f"{action} {fn['address']}: the function is deleted, and its aliases with it")
        after = fn["change"].get("after") or {}
        before = fn["change"].get("before") or {}
        if action not in GONE and after.get("reserved_concurrent_executions") == 0 \
                and before.get("reserved_concurrent_executions") != 0:
            lines.append(f"update {fn['address']}: reserved concurrency 0 throttles every request")
    for alias in aliases:
        weight = "" if alias.weight_before is None else f" ({alias.weight_before} % of its requests)"
        rc = resources.listed.get(alias.address)
        action = action_of(rc["change"]["actions"]) if rc else None
        if action in GONE:
            lines.append(f"{action} {alias.address}: the {alias.colour} alias{weight} is deleted")
        pieces = ((f'{TARGET_GROUP}["{function}-{alias.colour}"]', "target group", "is deleted"),
                  (f'{ATTACHMENT}["{function}-{alias.colour}"]', "alias", "is detached from its target group"))
        for address, noun, what in pieces:
            rc = resources.listed.get(address)
            action = action_of(rc["change"]["actions"]) if rc else None
            if action in GONE:
                lines.append(f"{action} {address}: the {alias.colour} {noun}{weight} {what}")
    name = ((fn or {}).get("change", {}).get("before") or {}).get("function_name")
    for address, rc in sorted(resources.listed.items()):
        before = rc["change"].get("before") or {}
        if rc.get("type") != "aws_lambda_permission" or before.get("principal") != ELB_PRINCIPAL:
            continue
        mine = _key(address, "aws_lambda_permission.alb").rpartition("-")[0] == function or \
            (name is not None and before.get("function_name") == name)
        action = action_of(rc["change"]["actions"])
        if mine and action in GONE:
            lines.append(f"{action} {address}: the load balancer may no longer invoke the function")
    if rule is not None:
        action = action_of(rule["change"]["actions"])
        if action in GONE:
            lines.append(f"{action} {rule['address']}: the listener rule routing its requests is deleted")
        elif all(a.weight_after == 0 for a in aliases) and aliases:
            lines.append(f"update {rule['address']}: after the apply no alias takes its requests")
    lines += fronts
    return lines


def _fronts(resources: Resources) -> list[str]:
    """The load balancer and listeners the plan replaces or deletes: an outage of every function."""
    lines = []
    for address, rc in sorted(resources.listed.items()):
        action = action_of(rc["change"]["actions"])
        if rc.get("type") in FRONT_TYPES and action in GONE:
            lines.append(f"{action} {address}: every request to the load balancer fails until it is back")
    return lines


def _colours(resources: Resources) -> dict[str, dict[str, str]]:
    """Function -> target group ARN -> colour, from the target groups' changes and prior state."""
    out: dict[str, dict[str, str]] = {}
    for address in resources.addresses(TARGET_GROUP + "["):
        function, _, colour = _key(address, TARGET_GROUP).rpartition("-")
        rc = resources.get(address)
        for side in ("before", "after"):
            arn = ((rc or {}).get("change", {}).get(side) or {}).get("arn")
            if arn:
                out.setdefault(function, {})[arn] = colour
    return out


def _weights(rule: Mapping[str, Any] | None, side: str, colour_of_arn: Mapping[str, str]) \
        -> tuple[dict[str, int | None], bool]:
    """Colour -> weight of a listener rule's forward actions on one side of its change, and whether
    every target group it forwards to is one of the function's colours (else a colour it does not
    name has an unknown weight). No rule: nothing is routed."""
    if rule is None:
        return {}, True
    change = rule["change"]
    if side == "after" and action_of(change["actions"]) == "delete":
        return {}, True
    value = change.get(side)
    if value is None:
        return {}, True
    unknown: Any = change.get("after_unknown") if side == "after" else {}
    if unknown is True or _at(unknown, "action") is True:
        return {}, False
    weights: dict[str, int | None] = {}
    whole = True
    for i, action in enumerate(value.get("action") or ()):
        action_unknown = _at(unknown, "action", i)
        if action_unknown is True:
            whole = False
            continue
        groups: list[tuple[Any, Any, Any]] = []
        if action.get("target_group_arn") or _at(action_unknown, "target_group_arn") is True:
            groups.append((action.get("target_group_arn"), 1, _at(action_unknown, "target_group_arn")))
        for j, forward in enumerate(action.get("forward") or ()):
            forward_unknown = _at(action_unknown, "forward", j)
            if forward_unknown is True or _at(forward_unknown, "target_group") is True:
                whole = False
                continue
            for k, group in enumerate(forward.get("target_group") or ()):
                group_unknown = _at(forward_unknown, "target_group", k)
                if group_unknown is True:
                    whole = False
                    continue
                weight = None if _at(group_unknown, "weight") is True else group.get("weight")
                groups.append((group.get("arn"), weight, _at(group_unknown, "arn")))
        for arn, weight, arn_unknown in groups:
            colour = colour_of_arn.get(arn) if arn and arn_unknown is not True else None
            if colour is None:
                whole = False
            else:
                weights[colour] = None if weight is None else int(weight)
    return weights, whole


def _at(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, Mapping):
            value = value.get(step)
        else:
            return None
    return value


def _changed(address: str, rc: Mapping[str, Any] | None, view: Callable[[str, Any], Any]) -> str:
    """``ADDRESS: a, b change`` for the attributes an update or forget changes, each seen through
    ``view(name, value)`` (which leaves out what the table shows); empty when nothing else changes."""
    if rc is None:
        return ""
    change = rc["change"]
    action = action_of(change["actions"])
    if action == "forget":
        return f"forget {address}: terraform stops managing it (a `removed` block); it keeps serving as it is"
    if action != "update":
        return ""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    names = sorted(name for name in set(before) | set(after) | set(unknown) if name not in _IGNORED
                   and (view(name, before.get(name)) != view(name, after.get(name))
                        or _has_unknown(view(name, unknown.get(name)))))
    return f"update {address}: {', '.join(names)} change{'s' if len(names) == 1 else ''}" if names else ""


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return value is True


def _alias_attribute(name: str, value: Any) -> Any:
    return None if name in ("function_version", "arn", "invoke_arn") else value


def _rule_attribute(name: str, value: Any) -> Any:
    """A listener rule's attribute with the forward weights and target group ARNs left out."""
    if name != "action" or not isinstance(value, list):
        return value
    return [{**action, "forward": [{**forward, "target_group": None} for forward in action.get("forward") or ()]}
            if isinstance(action, Mapping) else action for action in value]


def _key(address: str, prefix: str) -> str:
    """``payment_validation`` of ``aws_lambda_function.this["payment_validation"]``; empty if not of it."""
    if not address.startswith(prefix + '["') or not address.endswith('"]'):
        return ""
    return address[len(prefix) + 2:-2]


def _version(values: Any) -> str | None:
    if not isinstance(values, Mapping):
        return None
    version = values.get("function_version")
    return None if version is None else str(version)


def _publishes(rc: Mapping[str, Any]) -> bool:
    """The function publishes a new version in this apply."""
    change = rc["change"]
    return action_of(change["actions"]) in ("create", "replace") or \
        (change.get("after_unknown") or {}).get("version") is True


def _code_changes(rc: Mapping[str, Any]) -> bool:
    change = rc["change"]
    if action_of(change["actions"]) in ("create", "replace"):
        return True
    before, after = change.get("before") or {}, change.get("after") or {}
    if (change.get("after_unknown") or {}).get("source_code_hash") is True:
        return True
    return any(before.get(name) != after.get(name) for name in ("source_code_hash", "image_uri", "s3_key"))
