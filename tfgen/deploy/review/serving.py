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
- an alias's additional versions (``routing_config``) serve its share times their fraction, and
  keep the same rules; an alias on ``$LATEST`` runs whatever code or settings the apply gives;
- the rule forwards only to the aliases' target groups, each named once: a weight on any other
  (before or after) is named, and every share counts all of them; another listener rule or a
  listener's default action forwarding to the function's target groups is named too (a rule
  moved by a `moved` block is followed to its new address);
- replacing or deleting what a request passes through (the function, its role and role policy,
  an alias, its target group, attachment or load-balancer permission, the listener rule, its API
  route; for every function the listener, the load balancer, the API, stage, integration, VPC
  link and the security groups on the way), or reserved concurrency 0 (or known only after
  apply), is an outage: the review
  says what stops serving.

The first five are traffic risks (``--allow-traffic-risk FUNCTION``), the last outages
(``--allow-outage FUNCTION``). A listener rule whose condition, priority or listener changes may
take another function's requests, which is not judged: a traffic risk. Other changes to an alias,
listener rule or listener (default action, routing configuration), and the function's reserved
concurrency lowered (not to 0: fewer requests at a time, the rest throttled), are listed to be read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tfgen.deploy.review.catalogue import ALIAS, FUNCTION, LISTENER_RULE, TARGET_GROUP, carries_traffic
from tfgen.deploy.review.changes import Resources, action_of, has_unknown

BLUE, GREEN = "blue", "green"
PUBLISHED = "the version this apply publishes"
LATER = "a target known only after apply"
# lambda.traffic_max_step of environments/defaults.yaml: the most points a version that has not
# served may take in one apply, when the caller does not give the environment's own.
DEFAULT_MAX_STEP = 25

ATTACHMENT = "aws_lb_target_group_attachment.this"
ELB_PRINCIPAL = "elasticloadbalancing.amazonaws.com"
FRONT_TYPES = ("aws_lb", "aws_alb", "aws_lb_listener", "aws_alb_listener")
GONE = ("delete", "replace")
# Not traffic types, yet on every request's way: a function runs as its role (with its inline
# policy) inside its security group; the load balancer and the VPC link answer in theirs.
ON_THE_WAY = ("aws_iam_role.lambda", "aws_iam_role_policy.lambda", "aws_security_group.lambda",
              "aws_security_group.alb", "aws_security_group.vpc_link")
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
    functions = {_key(a, ALIAS).rpartition("-")[0] for a in resources.addresses(ALIAS + "[")} | \
        {_key(a, LISTENER_RULE) for a in resources.addresses(LISTENER_RULE + "[")}
    paths = _on_the_way(resources, functions - {""})
    fronts = paths.get("", [])
    elsewhere = _elsewhere(resources, colour_of_arn, functions - {""})
    return [_judge(resources, function, colour_of_arn.get(function, {}), [*paths.get(function, []), *fronts],
                   env or "ENV", max_step, elsewhere.get(function, []))
            for function in sorted(functions - {""})]


LISTENER_TYPES = ("aws_lb_listener", "aws_alb_listener")
RULE_TYPES = ("aws_lb_listener_rule", "aws_alb_listener_rule")


def _elsewhere(resources: Resources, colour_of_arn: Mapping[str, Mapping[str, str]], functions: set[str]) \
        -> dict[str, list[tuple[str, bool]]]:
    """Function -> (listener rule or listener, whether the plan changes it) for each one other than
    the function's own rule that forwards, before or after the apply, to one of its target groups:
    traffic the serving table does not weigh."""
    owner = {arn: function for function, arns in colour_of_arn.items() if function in functions for arn in arns}
    own = {f'{LISTENER_RULE}["{function}"]' for function in functions}
    out: dict[str, list[tuple[str, bool]]] = {}
    for address in resources.addresses(""):
        rc = resources.get(address)
        if rc is None or rc.get("address", address) != address or address in own \
                or rc.get("previous_address") in own:
            continue
        kind = rc.get("type")
        attribute = "action" if kind in RULE_TYPES else "default_action" if kind in LISTENER_TYPES else None
        if attribute is None:
            continue
        change = rc["change"]
        action = action_of(change["actions"])
        sides = [change.get("before")] + ([] if action == "delete" else [change.get("after")])
        arns = {target for side in sides if isinstance(side, Mapping) for target in _targets(side.get(attribute))}
        for function in sorted({owner[target] for target in arns if target in owner}):
            out.setdefault(function, []).append((address, action is not None))
    return out


def _targets(actions: Any) -> Iterator[str]:
    """The target group ARNs a list of actions forwards to at a weight other than 0."""
    for action in actions if isinstance(actions, list) else ():
        if not isinstance(action, Mapping):
            continue
        if isinstance(action.get("target_group_arn"), str):
            yield action["target_group_arn"]
        for forward in _listed(action.get("forward")):
            for group in _listed(forward.get("target_group")) if isinstance(forward, Mapping) else ():
                if isinstance(group, Mapping) and isinstance(group.get("arn"), str) and group.get("weight") != 0:
                    yield group["arn"]


def _listed(value: Any) -> list[Any]:
    """A nested block's list; nothing for any other value (the weights judge names that)."""
    return value if isinstance(value, list) else []


def shared_changes(resources: Resources) -> list[str]:
    """Changes to the load balancer and listeners every function's requests pass through, other
    than their replacement or deletion (an outage of each function)."""
    lines = []
    for address, rc in sorted(resources.listed.items()):
        if rc.get("type") in FRONT_TYPES and action_of(rc["change"]["actions"]) in ("update", "forget"):
            lines.append(_changed(address, rc, lambda name, value: value))
    return [line for line in lines if line]


def _judge(resources: Resources, function: str, colour_of_arn: Mapping[str, str], fronts: Sequence[str],
           env: str, max_step: int, elsewhere: Sequence[tuple[str, bool]] = ()) -> Serving:
    rule_address = f'{LISTENER_RULE}["{function}"]'
    rule = resources.get(rule_address)
    fn = resources.get(f'{FUNCTION}["{function}"]')
    publishing = fn is not None and _publishes(fn)
    # A function deleted or replaced takes its aliases with it (and a new function numbers its
    # versions from 1 again): an alias the plan does not create again is gone, and no version
    # after the apply has served.
    recreated = fn is not None and action_of(fn["change"]["actions"]) in GONE
    code = fn is not None and _code_changes(fn)
    updated = fn is not None and action_of(fn["change"]["actions"]) == "update"
    colours = {_key(a, ALIAS).rpartition("-")[2] for a in resources.addresses(f'{ALIAS}["{function}-')}
    # A partial plan whose prior state holds the function's aliases but no rule does not say
    # what routes to them: not "nothing", as a first deploy would be. (A complete plan may: a
    # function without a route has aliases and no rule.)
    lost_rule = rule is None and resources.partial and any(
        (resources.get(a) or {}).get("change", {}).get("before") is not None
        for a in resources.addresses(f'{ALIAS}["{function}-'))
    if resources.known(rule_address) and not lost_rule:
        weighed = _weights(rule, "before", colour_of_arn), _weights(rule, "after", colour_of_arn)
    else:
        weighed = _Weights({}, False, {}), _Weights({}, False, {})
    (before, before_whole), (after, after_whole) = ((w.colours, w.whole) for w in weighed)
    colours |= set(before) | set(after)
    aliases = []
    for colour in sorted(colours, key=lambda c: (c != BLUE, c != GREEN, c)):
        address = f'{ALIAS}["{function}-{colour}"]'
        rc = resources.get(address)
        change = rc["change"] if rc is not None else {}
        action = action_of(change["actions"]) if rc is not None else None
        exists_after = rc is not None and action != "delete" and (not recreated or action in ("create", "replace"))
        # $LATEST runs whatever the function was last given: a version this apply publishes, too.
        # $LATEST runs the function's new code or settings even when no version is published.
        unknown_version = (change.get("after_unknown") or {}).get("function_version") is True or \
            ((publishing or updated) and _version(change.get("after")) == "$LATEST")
        if change.get("actions") == ["forget"]:  # left in place, unmanaged: it runs what it ran
            change = {**change, "after": change.get("before")}
        aliases.append(Alias(
            function=function, colour=colour, address=address,
            version_before=_version(change.get("before")),
            version_after=None if unknown_version or not exists_after else _version(change.get("after")),
            publishes=exists_after and unknown_version and (publishing or updated), exists_after=exists_after,
            weight_before=before.get(colour, 0 if before_whole else None),
            weight_after=after.get(colour, 0 if after_whole else None), served=False, code_changes=code))
    served = {a.version_before for a in aliases if a.version_before is not None
              and ((a.weight_before or 0) > 0 or a.colour == BLUE)}
    served |= {version for a in aliases if (a.weight_before or 0) > 0
               for version, fraction in _extra_versions(resources.get(a.address), "before").items()
               if fraction != 0}
    aliases = [_with_served(a, set() if recreated else served) for a in aliases]
    # Target groups that are no alias's on a side: a colour no alias ever has, or another ARN
    # (when every alias's weight is known: else it may be an alias's, and that weight is unknown).
    strangers: list[dict[str, int | None]] = []
    for i, side in enumerate(weighed):
        weights = {a.colour: a.weight_before if i == 0 else a.weight_after for a in aliases}
        strangers.append({**(side.others if None not in weights.values() else {}), **{
            f'{TARGET_GROUP}["{function}-{a.colour}"]': weights[a.colour] for a in aliases
            if a.version_before is None and not a.exists_after and weights[a.colour] != 0}})
    before_unknown = [a.colour for a in aliases if a.weight_before is None]
    first_deploy = not before_unknown and not any((a.weight_before or 0) > 0 for a in aliases) and \
        not any(w != 0 for w in strangers[0].values())
    unseen = [a for a in (rule_address, f'{FUNCTION}["{function}"]', *(a.address for a in aliases))
              if not resources.known(a)]
    touched = any(action_of(rc["change"]["actions"]) for address, rc in resources.listed.items()
                  if address in (rule_address, f'{FUNCTION}["{function}"]') or address.startswith(
                      tuple(f'{prefix}["{function}-' for prefix in (ALIAS, TARGET_GROUP, ATTACHMENT))))
    moves = any(a.moves or not a.exists_after or a.weight_before != a.weight_after for a in aliases)
    risks: list[str] = []
    if any(side.unreadable for side in weighed):
        risks.append(f"{function}: {rule_address}: its action cannot be read, so what it routes is not judged: "
                     f"fix the plan, or allow it with --allow-traffic-risk {function}")
    if unseen and touched:
        risks.append(f"{function}: the plan is partial (-target) and has no prior_state, so what "
                     f"{', '.join(unseen)} hold is unknown: plan without -target, or allow it with "
                     f"--allow-traffic-risk {function}")
    elif lost_rule and (moves or touched):
        risks.append(f"{function}: its aliases exist before this apply, but the listener rule {rule_address} is "
                     f"missing from the plan and its prior state, so what they served before is unknown: "
                     f"plan without -target, or "
                     f"allow it with --allow-traffic-risk {function}")
    elif before_unknown and moves:
        risks.append(f"{function}: the weight {', '.join(before_unknown)} took before this apply is unknown "
                     f"(the listener rule forwards to a target group the plan does not name): plan without "
                     f"-target, or allow it with --allow-traffic-risk {function}")
    elif not first_deploy and not unseen and not before_unknown:
        risks += _canary(function, aliases, env, max_step, strangers[1])
        risks += _routed(function, aliases, resources, set() if recreated else served, env, max_step, strangers[1])
    allow = f"or allow it with --allow-traffic-risk {function}"
    for alias in aliases:  # an attachment pointed elsewhere (the bare function ARN runs $LATEST)
        address = f'{ATTACHMENT}["{function}-{alias.colour}"]'
        rc = resources.listed.get(address)
        if rc is None or action_of(rc["change"]["actions"]) != "update":
            continue
        old, new = (rc["change"].get(side) or {} for side in ("before", "after"))
        later = (rc["change"].get("after_unknown") or {}).get("target_id") is True
        if later or old.get("target_id") != new.get("target_id"):
            risks.append(f"{function}: {address} now sends the {alias.colour} target group's requests to "
                         f"{LATER if later else new.get('target_id')} (was {old.get('target_id')}), not judged as "
                         f"the {alias.colour} alias (a bare function ARN runs $LATEST): attach the alias, {allow}")
    for address, forwarder_changes in elsewhere:
        if forwarder_changes or touched or moves:
            risks.append(f"{function}: {address} forwards requests to its target groups, outside its listener rule "
                         f"{rule_address}: the share it sends is not judged: route only through "
                         f"{rule_address}, {allow}")
    if touched or not first_deploy:
        twice = sorted({*weighed[0].twice, *weighed[1].twice})
        if twice:
            risks.append(f"{function}: the listener rule names target group {', '.join(twice)} more than once, "
                         f"so which weight counts cannot be judged: name each once, {allow}")
        for target in sorted({*strangers[0], *strangers[1]}):
            if touched and (strangers[0].get(target, 0) != 0 or strangers[1].get(target, 0) != 0):
                risks.append(f"{function}: the listener rule gives target group {target} "
                             f"{_weight(strangers[0].get(target, 0))} -> {_weight(strangers[1].get(target, 0))} "
                             f"of its requests, and it is no alias's (blue's or green's): what it serves is not "
                             f"judged: forward only to the aliases' target groups, {allow}")
    outages = [] if first_deploy else _outages(resources, function, aliases, rule, fn, fronts)
    changes = [line for line in (_changed(a.address, resources.get(a.address), _alias_attribute)
                                 for a in aliases) if line]
    rule_line = _changed(rule_address, rule, _rule_attribute)
    if rule_line:
        changes.append(rule_line)
    changes += _throttled(fn)
    reach = _reach_changes(rule)
    if reach and not first_deploy:
        risks.append(f"{function}: {rule_address}: its {', '.join(reach)} change{'s' if len(reach) == 1 else ''}: "
                     "which requests the rule takes, its own function's or another function's, is not judged: "
                     f"keep the rule's condition and priority, {allow}")
    return Serving(function, tuple(aliases), first_deploy, tuple(risks), tuple(outages), tuple(changes))


def _throttled(fn: Mapping[str, Any] | None) -> list[str]:
    """An update lowering the function's reserved concurrency (unreserved is -1), but not to 0 (an
    outage): fewer requests at a time are served, the rest throttled."""
    if fn is None or action_of(fn["change"]["actions"]) != "update":
        return []
    before, after = (fn["change"].get(side) or {} for side in ("before", "after"))
    old, new = (-1 if v is None else v for v in (before.get("reserved_concurrent_executions"),
                                                  after.get("reserved_concurrent_executions")))
    if not (isinstance(old, int) and isinstance(new, int)) or new <= 0 or (old != -1 and new >= old):
        return []
    was = "unreserved" if old == -1 else str(old)
    return [f"update {fn['address']}: reserved concurrency lowered from {was} to {new}: requests beyond {new} "
            f"at a time are throttled"]


def _with_served(alias: Alias, served: set[str]) -> Alias:
    return replace(alias, served=alias.exists_after and not alias.publishes and alias.version_after is not None
                   and alias.version_after in served)


def _weight(weight: int | None) -> str:
    return "a weight known only after apply" if weight is None else f"{weight} %"


def _canary(function: str, aliases: Sequence[Alias], env: str, max_step: int,
            others: Mapping[str, int | None]) -> list[str]:
    """The rules a function that served before this apply keeps; ``others``: the weights after the
    apply of target groups that are no alias's, which count in every share."""
    weights = [a.weight_after for a in aliases if a.exists_after] + list(others.values())
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


def _extra_versions(rc: Mapping[str, Any] | None, side: str) -> dict[str, float | None]:
    """An alias's ``routing_config`` additional versions on one side: version -> fraction of the
    alias's requests (None: unknown); ``{"": None}`` when the routing itself is known only after
    apply or of a shape terraform does not write."""
    if rc is None:
        return {}
    change = rc["change"]
    if side == "after" and has_unknown((change.get("after_unknown") or {}).get("routing_config")):
        return {"": None}
    routing = (change.get(side) or {}).get("routing_config")
    if routing in (None, []):
        return {}
    if not isinstance(routing, list):
        return {"": None}
    out: dict[str, float | None] = {}
    for block in routing:
        weights = block.get("additional_version_weights") if isinstance(block, Mapping) else None
        if weights is None:
            continue
        if not isinstance(weights, Mapping):
            return {"": None}
        for version, fraction in weights.items():
            out[str(version)] = float(fraction) if isinstance(fraction, (int, float)) else None
    return out


def _routed(function: str, aliases: Sequence[Alias], resources: Resources, served: set[str], env: str,
            max_step: int, others: Mapping[str, int | None]) -> list[str]:
    """An alias's additional versions (``routing_config``) serve its share times their fraction:
    the canary rules hold for each."""
    weights = [a.weight_after for a in aliases if a.exists_after] + list(others.values())
    total = None if any(w is None for w in weights) else sum(w or 0 for w in weights)
    allow = f"or allow it with --allow-traffic-risk {function}"
    risks = []
    for alias in aliases:
        if not alias.exists_after:
            continue
        for version, fraction in _extra_versions(resources.get(alias.address), "after").items():
            if version in served and version != "$LATEST":
                continue
            share = None if total is None or alias.weight_after is None or fraction is None else \
                (alias.weight_after * 100 * fraction / total if total else 0)
            what = f"version {version}" if version else "an additional version"
            if share is None:
                risks.append(f"{function}: {alias.colour}'s routing configuration would send requests to {what}, "
                             f"and the share it takes is unknown (known only after apply): {allow}")
            elif share > 0 and (alias.colour != GREEN or share > max_step):
                limit = "not through green" if alias.colour != GREEN else \
                    f"more than lambda.traffic_max_step ({max_step} points)"
                risks.append(f"{function}: {what}, which has served no traffic, would take {_percent(share)} of "
                             f"live traffic through {alias.colour}'s routing configuration, {limit}: shift it with "
                             f"`tfgen traffic {env} shift`, {allow}")
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
        elif action not in GONE and (fn["change"].get("after_unknown") or {}).get(
                "reserved_concurrent_executions") is True:
            lines.append(f"update {fn['address']}: reserved concurrency known only after apply (0 would throttle "
                         f"every request)")
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
    said = {line.split(" ", 2)[1] for line in lines}
    return lines + [line for line in fronts if line.split(" ", 2)[1] not in said]


def _on_the_way(resources: Resources, functions: set[str]) -> dict[str, list[str]]:
    """Function -> what the plan replaces or deletes on its requests' way (``_outages`` words its
    own pieces better and drops these lines for them); "" -> what every payment function's
    requests pass through (an unkeyed invoke permission is ``_outages``' to attribute). A
    piece keyed by a function (``["payment_validation"]``, ``["payment_validation-blue"]``) serves
    that function; one keyed by another function (the rotation function) none; any other one all."""
    others = {_key(a, FUNCTION) for a in resources.addresses(FUNCTION + "[")} - functions
    out: dict[str, list[str]] = {}
    for address, rc in sorted(resources.listed.items()):
        action = action_of(rc["change"]["actions"])
        if action not in GONE or (rc.get("type") == "aws_lambda_permission" and address.startswith(
                "aws_lambda_permission.") and _key(address, "aws_lambda_permission.alb") == ""):
            continue
        if not carries_traffic(str(rc.get("type"))) and not address.startswith(ON_THE_WAY):
            continue
        key = address.rpartition('["')[2][:-2] if address.endswith('"]') else ""
        owner = key if key in functions else key.rpartition("-")[0] if key.rpartition("-")[0] in functions \
            else None if key in others or key.rpartition("-")[0] in others else ""
        if owner is None:
            continue
        if owner:
            what = "its requests fail until it is back"
        elif rc.get("type") in FRONT_TYPES:
            what = "every request to the load balancer fails until it is back"
        else:
            what = "every payment function's requests pass through it and fail until it is back"
        out.setdefault(owner, []).append(f"{action} {address}: {what}")
    return out


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


@dataclass(frozen=True)
class _Weights:
    """A listener rule's forward weights on one side of its change: colour -> weight; whether every
    target group it forwards to is known (else a colour it does not name has an unknown weight);
    the weights of target groups that are none of the function's colours (by ARN); and the target
    groups it names more than once (which weight counts is then not the plan's to say)."""

    colours: dict[str, int | None]
    whole: bool
    others: dict[str, int | None]
    twice: tuple[str, ...] = ()
    unreadable: bool = False  # an action of a shape terraform does not write: what it routes is unknown


def _weights(rule: Mapping[str, Any] | None, side: str, colour_of_arn: Mapping[str, str]) -> _Weights:
    """The weights of ``rule`` on ``side`` (before or after). No rule: nothing is routed."""
    if rule is None:
        return _Weights({}, True, {})
    change = rule["change"]
    if side == "after" and action_of(change["actions"]) == "delete":
        return _Weights({}, True, {})
    value = change.get(side)
    if value is None:
        return _Weights({}, True, {})
    unknown: Any = change.get("after_unknown") if side == "after" else {}
    if unknown is True or _at(unknown, "action") is True:
        return _Weights({}, False, {})
    weights: dict[str, int | None] = {}
    others: dict[str, int | None] = {}
    seen: set[str] = set()
    twice: list[str] = []
    whole = True
    actions: Any = value.get("action") if isinstance(value, Mapping) else 0
    if not _shaped(actions, ("forward", ("target_group", ()))):
        return _Weights({}, False, {}, unreadable=True)
    for i, action in enumerate(_listed(actions)):
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
                if weight is not None and not (isinstance(weight, (int, float)) and not isinstance(weight, bool)
                                               and float(weight).is_integer()):
                    return _Weights({}, False, {}, unreadable=True)
                groups.append((group.get("arn"), weight, _at(group_unknown, "arn")))
        for arn, weight, arn_unknown in groups:
            if not isinstance(arn, str) or not arn or arn_unknown is True:
                # Perhaps a colour's (whose weight is then unknown), perhaps none: named either way.
                whole = False
                others[f"#{len(others) + 1} (a target group known only after apply)"] = \
                    None if weight is None else int(weight)
                continue
            if arn in seen:
                twice.append(arn)
            seen.add(arn)
            colour = colour_of_arn.get(arn)
            if colour is None:
                # A target group the plan does not name may be one of the colours'.
                whole = False
                others[arn] = None if weight is None else int(weight)
            else:
                weights[colour] = None if weight is None else int(weight)
    return _Weights(weights, whole, others, tuple(twice))


def _shaped(blocks: Any, nested: tuple[Any, ...]) -> bool:
    """Whether ``blocks`` is null or a list of maps, each of whose ``nested`` blocks is shaped so in
    turn (``("forward", ("target_group", ()))``: actions, their forward blocks, their target groups)."""
    if blocks is None:
        return True
    if not isinstance(blocks, list) or not all(isinstance(block, Mapping) for block in blocks):
        return False
    if not nested:
        return True
    name, inner = nested
    return all(_shaped(block.get(name), inner) for block in blocks)


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
                        or has_unknown(view(name, unknown.get(name)))))
    return f"update {address}: {', '.join(names)} change{'s' if len(names) == 1 else ''}" if names else ""


def _reach_changes(rule: Mapping[str, Any] | None) -> list[str]:
    """What an update of a listener rule changes in which requests it takes: its condition, priority
    or listener (a change, or a value known only after apply)."""
    if rule is None or action_of(rule["change"]["actions"]) != "update":
        return []
    change = rule["change"]
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    return [name for name in ("condition", "listener_arn", "priority")
            if before.get(name) != after.get(name) or has_unknown(unknown.get(name))]


def _alias_attribute(name: str, value: Any) -> Any:
    return None if name in ("function_version", "arn", "invoke_arn") else value


def _rule_attribute(name: str, value: Any) -> Any:
    """A listener rule's attribute with the forward weights and target group ARNs left out."""
    if name != "action" or not isinstance(value, list):
        return value
    return [{**action, "forward": [{**forward, "target_group": None} if isinstance(forward, Mapping) else forward
                                   for forward in _listed(action.get("forward"))]}
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
