"""Attributes an object reads back from AWS that another managed resource sets: an S3 bucket's
``policy`` (set by ``aws_s3_bucket_policy``), its versioning, encryption, access logging and
lifecycle; a queue's, topic's, key's or secret's policy; a security group's rules; a role's inline
policies and attached policies; a route table's routes; an Aurora cluster's members; a target
group's load balancers; an Elastic IP's association with its NAT gateway.

The object's copy of such an attribute in the state is written only when the object itself is
read, so right after the first apply it predates what the other resource set: a refresh then shows
a difference nobody made. Such a difference is left out, with the reason, **only when the other
resources' live values account for it**: the mirror shows what its owners hold in AWS (their
refreshed values, or what their own drift says), and their own difference, if any, is judged on
them. A mirrored value, or a list element, that no owner's live value gives is kept and judged on
the mirror, against what its owner was reviewed with when that can be told. An attribute whose
owner the judge cannot compare it with (a bucket's CORS rules and its ``aws_s3_bucket_cors_configuration``)
is never left out.

The refreshed state is the plan's ``prior_state`` (terraform writes the state as refresh left it);
the drift of an owner gives its reviewed value (``before``) and its live one (``after``, none when
deleted).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.changes import Resources
from tfgen.deploy.review.serving import LISTENER_TYPES, RULE_TYPES

MIRROR = "mirrors {owner}, which is judged itself"

Values = Mapping[str, Any]


@dataclass(frozen=True)
class Owner:
    """A managed resource that sets a mirrored attribute: its values as reviewed and as they are
    live (None: deleted outside terraform)."""

    address: str
    reviewed: Values | None
    live: Values | None

    def sides(self) -> list[Values]:
        return [side for side in (self.reviewed, self.live) if side is not None]


class State:
    """The managed objects of the refreshed state, with the drift of those that drifted."""

    def __init__(self, plan: Mapping[str, Any], drifted: Sequence[Mapping[str, Any]]) -> None:
        prior = plan.get("prior_state")
        resources = Resources({"prior_state": prior}).prior if isinstance(prior, Mapping) else {}
        found: dict[str, tuple[str, Values | None, Values | None]] = {}
        for address, resource in resources.items():
            values = resource.get("values")
            if isinstance(values, Mapping):
                found[address] = (str(resource.get("type")), values, values)
        for rc in drifted:
            if rc.get("deposed"):
                continue
            change = rc["change"]
            after = change.get("after") if change["actions"] == ["update"] else None
            found[rc["address"]] = (rc["type"], change.get("before"), after)
        self.by_type: dict[str, list[Owner]] = {}
        for address, (kind, reviewed, live) in sorted(found.items()):
            self.by_type.setdefault(kind, []).append(Owner(address, reviewed, live))

    def owners(self, kind: str, link: str, names: set[str]) -> list[Owner]:
        """The resources of ``kind`` whose ``link`` names one of ``names``, as reviewed or live."""
        return [owner for owner in self.by_type.get(kind, [])
                if any(_name_in(side.get(link), names) for side in owner.sides())]


def _name_in(value: Any, names: set[str]) -> bool:
    return isinstance(value, str) and value in names


def names_of(values: Values) -> set[str]:
    """What other resources may name an object by: its id, ARN, bucket or name."""
    return {v for key in ("id", "arn", "bucket", "name") if isinstance(v := values.get(key), str) and v}


# --- comparing a mirror with its owner ----------------------------------------------------------

def normal(value: Any) -> Any:
    """``value`` with what no reader tells apart made equal: null, ``""``, ``false``, ``0``, ``[]``
    and ``{}`` are all null (a key holding one is left out), lists are sets, and a policy JSON text
    is its parsed document in canonical form."""
    if isinstance(value, str):
        document = policy(value)
        return document if document is not None else (value or None)
    if isinstance(value, Mapping):
        items = {key: normal(item) for key, item in value.items()}
        return {key: item for key, item in sorted(items.items()) if item is not None} or None
    if isinstance(value, list):
        return sorted((normal(item) for item in value), key=_key) or None
    if value is False or value == 0:
        return None
    return value


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def policy(value: Any) -> Any:
    """A JSON object parsed from a string, in a canonical form; None when ``value`` is not one."""
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return _canonical(parsed) if isinstance(parsed, dict) else None


def _canonical(value: Any) -> Any:
    """Keys sorted, lists as sorted sets, a one-element list as its element (how the provider
    compares policies)."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        items = sorted((_canonical(item) for item in value), key=_key)
        return items[0] if len(items) == 1 else items
    return value


@dataclass(frozen=True)
class Whole:
    """Attributes of a mirror that one owner sets whole. ``view(owner values or None)`` is what the
    owner's values make them (None: no owner live, so what AWS has without it);
    ``mirror(values)`` is the mirror's attributes seen the same way. With ``shaped``, ``view`` gives
    the attribute itself, and stands for its reviewed value when the two disagree."""

    attributes: tuple[str, ...]
    owner: str
    link: str
    view: Callable[[Values | None], Any]
    mirror: Callable[[Values], Any]
    shaped: bool = True


def _same_attribute(name: str) -> Callable[[Values | None], Any]:
    return lambda owner: None if owner is None else owner.get(name)


def _attribute(name: str) -> Callable[[Values], Any]:
    return lambda values: values.get(name)


def _first(value: Any) -> Values:
    return value[0] if isinstance(value, list) and value and isinstance(value[0], Mapping) else {}


def _versioning(owner: Values | None) -> Any:
    """``aws_s3_bucket_versioning`` as the bucket reads its versioning."""
    block = _first((owner or {}).get("versioning_configuration"))
    return [{"enabled": block.get("status") == "Enabled", "mfa_delete": block.get("mfa_delete") == "Enabled"}]


def _encryption(owner: Values | None) -> Any:
    """``aws_s3_bucket_server_side_encryption_configuration`` as the bucket reads it; without it,
    S3 encrypts new objects with its own key."""
    if owner is None:
        return [{"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}]}]
    return [{"rule": owner.get("rule")}]


def _logging(owner: Values | None) -> Any:
    if owner is None:
        return []
    return [{"target_bucket": owner.get("target_bucket"), "target_prefix": owner.get("target_prefix")}]


def _lifecycle_of_owner(owner: Values | None) -> Any:
    """What each rule of ``aws_s3_bucket_lifecycle_configuration`` keeps and expires: its id,
    whether it is on, its prefix, and its expirations."""
    rules = (owner or {}).get("rule")
    out = []
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, Mapping):
            out.append({"unreadable": rule})
            continue
        where = _first(rule.get("filter"))
        prefix = where.get("prefix") or _first(where.get("and")).get("prefix") or rule.get("prefix")
        out.append(_lifecycle(rule.get("id"), rule.get("status") == "Enabled", prefix, _first(rule.get("expiration")),
                              _first(rule.get("noncurrent_version_expiration")).get("noncurrent_days")))
    return out


def _lifecycle_of_bucket(values: Values) -> Any:
    """The bucket's ``lifecycle_rule`` seen as ``_lifecycle_of_owner`` sees its owner's rules."""
    rules = values.get("lifecycle_rule")
    out = []
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, Mapping):
            out.append({"unreadable": rule})
            continue
        out.append(_lifecycle(rule.get("id"), rule.get("enabled"), rule.get("prefix"), _first(rule.get("expiration")),
                              _first(rule.get("noncurrent_version_expiration")).get("days")))
    return out


def _lifecycle(rule_id: Any, enabled: Any, prefix: Any, expiration: Values, noncurrent_days: Any) -> dict[str, Any]:
    date = expiration.get("date")
    return {"id": rule_id, "enabled": enabled, "prefix": prefix, "expiration_days": expiration.get("days"),
            "expiration_date": date[:10] if isinstance(date, str) else date,
            "expired_object_delete_marker": expiration.get("expired_object_delete_marker"),
            "noncurrent_days": noncurrent_days}


def _association(owner: Values | None) -> Any:
    """The association a NAT gateway gives its Elastic IP."""
    owner = owner or {}
    return {"association_id": owner.get("association_id"), "network_interface": owner.get("network_interface_id"),
            "private_ip": owner.get("private_ip")}


def _eip_association(values: Values) -> Any:
    return {name: values.get(name) for name in ("association_id", "network_interface", "private_ip")}


def _policy_of(owner: str, link: str) -> Whole:
    return Whole(("policy",), owner, link, _same_attribute("policy"), _attribute("policy"))


WHOLE: dict[str, tuple[Whole, ...]] = {
    "aws_s3_bucket": (
        _policy_of("aws_s3_bucket_policy", "bucket"),
        Whole(("versioning",), "aws_s3_bucket_versioning", "bucket", _versioning, _attribute("versioning")),
        Whole(("server_side_encryption_configuration",), "aws_s3_bucket_server_side_encryption_configuration",
              "bucket", _encryption, _attribute("server_side_encryption_configuration")),
        Whole(("logging",), "aws_s3_bucket_logging", "bucket", _logging, _attribute("logging")),
        Whole(("lifecycle_rule",), "aws_s3_bucket_lifecycle_configuration", "bucket", _lifecycle_of_owner,
              _lifecycle_of_bucket, shaped=False),
    ),
    # An Elastic IP is associated by the NAT gateway created with it (its DNS name and instance follow).
    "aws_eip": (Whole(("association_id", "instance", "network_interface", "private_dns", "private_ip"),
                      "aws_nat_gateway", "allocation_id", _association, _eip_association, shaped=False),),
    "aws_sqs_queue": (_policy_of("aws_sqs_queue_policy", "queue_url"),),
    "aws_sns_topic": (_policy_of("aws_sns_topic_policy", "arn"),),
    "aws_kms_key": (_policy_of("aws_kms_key_policy", "key_id"),),
    "aws_secretsmanager_secret": (_policy_of("aws_secretsmanager_secret_policy", "secret_arn"),),
}


# --- the mirrors of one object ------------------------------------------------------------------

def mirrors(kind: str, before: Values, after: Values, state: State) \
        -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """``before`` and ``after`` without what other managed resources set and hold live, and the
    attributes left out whole with the reason."""
    old, new, found = dict(before), dict(after), {}
    names = names_of(before) | names_of(after)
    for whole in WHOLE.get(kind, ()):
        differing = [name for name in whole.attributes if old.get(name) != new.get(name)]
        owners = state.owners(whole.owner, whole.link, names)
        if not differing or not owners:
            continue  # nothing differs, or nobody manages it: the difference stays
        live = normal(whole.mirror(new))
        if any(live == normal(whole.view(owner.live)) for owner in owners):
            for name in differing:
                old.pop(name, None)
                new.pop(name, None)
                found[name] = MIRROR.format(owner=owners[0].address)
        elif whole.shaped and owners[0].reviewed is not None:
            [name] = whole.attributes
            old[name] = whole.view(owners[0].reviewed)  # judged against what its owner was reviewed with
    for part in _parts(kind, names, state):
        name = part.attribute
        if old.get(name) == new.get(name) or not part.owners:
            continue
        reviewed = _sorted([item for item in part.explode(old.get(name)) if part.ident(item) not in part.named])
        live = _sorted([item for item in part.explode(new.get(name)) if part.content(item) not in part.held])
        if normal(reviewed) == normal(live):
            old.pop(name, None)
            new.pop(name, None)
            found[name] = MIRROR.format(owner=", ".join(part.owners))
        else:
            old[name], new[name] = reviewed, live
    return old, new, found


@dataclass(frozen=True)
class Part:
    """A list attribute of a mirror whose elements other resources set: the resources, the mirror's
    elements (``explode``), what names an element (``ident``), what it holds (``content``), the
    names any owner sets (reviewed or live) and what the owners hold live."""

    attribute: str
    owners: tuple[str, ...]
    explode: Callable[[Any], list[Any]]
    ident: Callable[[Any], Any]
    content: Callable[[Any], str]
    named: frozenset[Any]
    held: frozenset[str]


def _part(attribute: str, owners: Sequence[Owner], elements: Callable[[Values], list[Any]],
          explode: Callable[[Any], list[Any]], ident: Callable[[Any], Any],
          content: Callable[[Any], str] | None = None) -> Part:
    """A ``Part`` whose owners' values give the elements they set with ``elements``."""
    content = content or _element
    named = frozenset(_hashable(ident(item)) for owner in owners for side in owner.sides() for item in elements(side))
    held = frozenset(content(item) for owner in owners if owner.live is not None for item in elements(owner.live))
    return Part(attribute, tuple(owner.address for owner in owners), explode, lambda item: _hashable(ident(item)),
                content, named, held)


def _parts(kind: str, names: set[str], state: State) -> Iterator[Part]:
    """Each list attribute of ``kind`` whose elements other resources may set."""
    if kind in ("aws_security_group", "aws_default_security_group"):
        for direction in ("ingress", "egress"):
            rules = state.owners(f"aws_vpc_security_group_{direction}_rule", "security_group_id", names)
            rules += [owner for owner in state.owners("aws_security_group_rule", "security_group_id", names)
                      if any(side.get("type") == direction for side in owner.sides())]
            yield _part(direction, rules, lambda values: _rule_atoms(values, names), _group_atoms, _element)
    elif kind == "aws_iam_role":
        yield _part("inline_policy", state.owners("aws_iam_role_policy", "role", names),
                    lambda values: [{"name": values.get("name"), "policy": values.get("policy")}], _listed, _name)
        yield _part("managed_policy_arns", state.owners("aws_iam_role_policy_attachment", "role", names),
                    lambda values: [values.get("policy_arn")], _listed, _itself)
    elif kind == "aws_rds_cluster":
        yield _part("cluster_members", state.owners("aws_rds_cluster_instance", "cluster_identifier", names),
                    lambda values: [values.get("identifier")], _listed, _itself)
    elif kind == "aws_route_table":
        yield _part("route", state.owners("aws_route", "route_table_id", names), lambda values: [values], _listed,
                    _destination, lambda route: _element(_route(route)))
    elif kind in ("aws_lb_target_group", "aws_alb_target_group"):
        yield _forwarding(names, state)


def _element(item: Any) -> str:
    return _key(normal(item))


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else _key(value)


def _name(item: Any) -> Any:
    return item.get("name") if isinstance(item, Mapping) else None


def _itself(item: Any) -> Any:
    return item


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=_key)


_TARGETS = ("carrier_gateway_id", "core_network_arn", "egress_only_gateway_id", "gateway_id", "local_gateway_id",
            "nat_gateway_id", "network_interface_id", "transit_gateway_id", "vpc_endpoint_id",
            "vpc_peering_connection_id")


def _route(route: Any) -> Any:
    """A route table's route or an ``aws_route`` as its destination and the set of what it sends to."""
    if not isinstance(route, Mapping):
        return {"unreadable": route}
    targets = sorted({str(route[name]) for name in _TARGETS if route.get(name)})
    return {"destination": _destination(route), "to": targets}


def _destination(route: Any) -> Any:
    """The destination of a route table's route (``cidr_block``…), an ``aws_route``
    (``destination_cidr_block``…) or a ``_route``."""
    if not isinstance(route, Mapping):
        return None
    if "destination" in route:
        return route["destination"]
    for name in ("cidr_block", "ipv6_cidr_block", "prefix_list_id"):
        value = route.get(name) or route.get("destination_" + name)
        if value:
            return value
    return None


def _forwarding(names: set[str], state: State) -> Part:
    """A target group's ``load_balancer_arns``: set by the managed listeners and listener rules
    forwarding to it, each naming its load balancer (a rule through its listener)."""
    def mentions(values: Values) -> bool:
        text = json.dumps(values.get("default_action", values.get("action")), default=str)
        return any(json.dumps(name) in text for name in names)

    listeners = [owner for kind in LISTENER_TYPES for owner in state.by_type.get(kind, [])]
    rules = [owner for kind in RULE_TYPES for owner in state.by_type.get(kind, [])]
    balancer_of = {side.get("arn"): side.get("load_balancer_arn") for owner in listeners for side in owner.sides()}

    def balancer(values: Values) -> Any:
        return values.get("load_balancer_arn") or balancer_of.get(values.get("listener_arn"))

    owners = [owner for owner in listeners + rules if any(mentions(side) for side in owner.sides())]
    named = frozenset(_hashable(balancer(side)) for owner in owners for side in owner.sides() if mentions(side))
    held = frozenset(_element(balancer(owner.live)) for owner in owners
                     if owner.live is not None and mentions(owner.live))
    return Part("load_balancer_arns", tuple(owner.address for owner in owners), _listed, _hashable, _element, named,
                held)


# --- security group rules -----------------------------------------------------------------------

_SOURCES = (("cidr_blocks", "cidr_ipv4"), ("ipv6_cidr_blocks", "cidr_ipv6"), ("prefix_list_ids", "prefix_list_id"),
            ("security_groups", "referenced_security_group_id"))


def _ports(protocol: Any, low: Any, high: Any) -> tuple[str, int, int]:
    protocol = str(protocol).lower()
    if protocol in ("-1", "all"):
        return "-1", 0, 0
    return protocol, int(low if low is not None else -1), int(high if high is not None else -1)


def _group_atoms(rules: Any) -> list[dict[str, Any]]:
    """A security group's ``ingress`` or ``egress`` as one element per source (AWS groups the
    sources of one protocol and port range in one element)."""
    atoms = []
    for rule in _listed(rules):
        if not isinstance(rule, Mapping):
            atoms.append({"unreadable": rule})
            continue
        protocol, low, high = _ports(rule.get("protocol"), rule.get("from_port"), rule.get("to_port"))
        base = {"protocol": protocol, "from_port": low, "to_port": high}
        for source, _ in _SOURCES:
            atoms += [{**base, source: [value]} for value in _listed(rule.get(source))]
        if rule.get("self"):
            atoms.append({**base, "self": True})
    return atoms


def _rule_atoms(rule: Values, group: set[str]) -> list[dict[str, Any]]:
    """The sources one rule resource sets, in the form of ``_group_atoms``."""
    protocol, low, high = _ports(rule.get("ip_protocol", rule.get("protocol")), rule.get("from_port"),
                                 rule.get("to_port"))
    base = {"protocol": protocol, "from_port": low, "to_port": high}
    atoms: list[dict[str, Any]] = []
    for source, field_name in _SOURCES:
        value = rule.get(field_name)
        if field_name == "referenced_security_group_id" and _name_in(value, group):
            atoms.append({**base, "self": True})
            continue
        atoms += [{**base, source: [v]} for v in (value if isinstance(value, list) else [value] if value else [])]
    for source in ("cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"):  # aws_security_group_rule
        atoms += [{**base, source: [v]} for v in _listed(rule.get(source))]
    if rule.get("source_security_group_id"):
        atoms.append({**base, "security_groups": [rule["source_security_group_id"]]})
    if rule.get("self"):
        atoms.append({**base, "self": True})
    return atoms
