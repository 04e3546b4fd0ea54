"""Matching what tfgen renders for an environment to the objects an existing stack already runs,
by the identity AWS knows them by: names, ARNs, ids, tags, a KMS key through its alias, a subnet
through its VPC and CIDR. Never by address: the other stack's addresses are its own (CDK for
Terraform's ``Storage_audit_1A2B3C4D``, a hand-written module's ``aws_s3_bucket.audit``).

Pure: the input is tfgen's plan of the environment with nothing in its state (``terraform show
-json``: the resources it would create, their known values and, in ``configuration``, the
references of the values known only after apply; where it runs) and the existing state
(tfgen.deploy.adopt_state reads it); the output is a ``Matching``. A value tfgen knows is
compared as it is; a value that is a reference to another resource (``bucket =
aws_s3_bucket.this.id``) is compared through that resource's own match: the existing value must
be one of the identifiers (id, ARN, name) of the object the referenced resource matched. A value
written through a local (``listener_arn = local.front_listener_arn``: the plan does not say what
a local holds) names the one resource of its type tfgen renders (``THROUGH_LOCALS``). A field
that cannot be read is never left out of the identity: that would widen the match.

Never guess, and refuse what cannot be seen. The errors of a ``Matching`` (the adoption is
refused on any) are:
- one to one: two existing objects with the identity of one resource, or two resources matching
  one object, each named;
- a field of the identity known only after apply that the plan does not tie to one resource;
- an import id the old object's values cannot make (a missing, null or empty ``arn``, ``key_id``);
- a deposed object in the old state (a replacement its last apply left unfinished);
- a KMS key tfgen would create anew while the old stack has an alias of tfgen's alias name (the
  alias would move to a new key);
- a resource that holds data (the review's catalogue) created anew while an old object of its
  type matches nothing (a renamed table: the data would stay behind in the old one);
- an IAM name created anew while an old one differs from it only in case;
- a matched object whose ARN is of another account, region or partition than the plan's, or no
  matched ARN that names an account and a region;
- no match at all (nothing to adopt: the wrong state).

A resource with no identity rule is never matched (it is created anew, and listed); an attachment
of a target group cannot be imported with provider 5.100 and is listed as re-created.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tfgen.deploy import adopt_state
from tfgen.deploy.adopt_state import Existing, index_key

# what adopt reads from here
from tfgen.deploy.adopt_state import MatchError as MatchError
from tfgen.deploy.adopt_state import existing_objects as existing_objects
from tfgen.deploy.review import catalogue

# (address, attribute) -> the environment setting a template writes there, or None (adopt.setting)
Setting = Callable[[str, str], str | None]


@dataclass(frozen=True)
class Rule:
    """How a type is known: the attributes that identify it (``tags.Name`` reads a tag) and the
    import id, a template over the existing object's attributes."""

    fields: tuple[str, ...]
    import_id: str


# The identity of every type tfgen renders. KMS keys have none of their own: aws_kms_key is matched
# through the alias that targets it (see _match_keys).
_S3 = Rule(("bucket",), "{bucket}")
_SG_RULE = Rule(("security_group_id", "ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6",
                 "referenced_security_group_id", "prefix_list_id"), "{id}")
RULES: dict[str, Rule] = {
    "aws_s3_bucket": _S3,
    "aws_s3_bucket_versioning": _S3,
    "aws_s3_bucket_lifecycle_configuration": _S3,
    "aws_s3_bucket_logging": _S3,
    "aws_s3_bucket_ownership_controls": _S3,
    "aws_s3_bucket_policy": _S3,
    "aws_s3_bucket_public_access_block": _S3,
    "aws_s3_bucket_server_side_encryption_configuration": _S3,
    "aws_dynamodb_table": Rule(("name",), "{name}"),
    "aws_rds_cluster": Rule(("cluster_identifier",), "{cluster_identifier}"),
    "aws_rds_cluster_instance": Rule(("identifier",), "{identifier}"),
    "aws_rds_cluster_parameter_group": Rule(("name",), "{name}"),
    "aws_db_subnet_group": Rule(("name",), "{name}"),
    "aws_kms_alias": Rule(("name",), "{name}"),
    "aws_secretsmanager_secret": Rule(("name",), "{arn}"),
    "aws_secretsmanager_secret_version": Rule(("secret_id",), "{id}"),
    "aws_secretsmanager_secret_rotation": Rule(("secret_id",), "{id}"),
    "aws_iam_role": Rule(("name",), "{name}"),
    "aws_iam_role_policy": Rule(("role", "name"), "{role}:{name}"),
    "aws_iam_role_policy_attachment": Rule(("role", "policy_arn"), "{role}/{policy_arn}"),
    "aws_lambda_function": Rule(("function_name",), "{function_name}"),
    "aws_lambda_alias": Rule(("function_name", "name"), "{function_name}/{name}"),
    "aws_lambda_permission": Rule(("function_name", "statement_id", "qualifier"),
                                  "{function_name}{:qualifier}/{statement_id}"),
    "aws_cloudwatch_log_group": Rule(("name",), "{name}"),
    "aws_cloudwatch_metric_alarm": Rule(("alarm_name",), "{alarm_name}"),
    "aws_cloudwatch_dashboard": Rule(("dashboard_name",), "{dashboard_name}"),
    "aws_sns_topic": Rule(("name",), "{arn}"),
    "aws_ssm_parameter": Rule(("name",), "{name}"),
    "aws_vpc": Rule(("cidr_block", "tags.Name"), "{id}"),
    "aws_subnet": Rule(("vpc_id", "cidr_block"), "{id}"),
    "aws_internet_gateway": Rule(("vpc_id",), "{id}"),
    "aws_eip": Rule(("tags.Name",), "{id}"),
    "aws_nat_gateway": Rule(("subnet_id",), "{id}"),
    "aws_route_table": Rule(("vpc_id", "tags.Name"), "{id}"),
    "aws_route_table_association": Rule(("subnet_id", "route_table_id"), "{subnet_id}/{route_table_id}"),
    "aws_route": Rule(("route_table_id", "destination_cidr_block"), "{route_table_id}_{destination_cidr_block}"),
    "aws_default_security_group": Rule(("vpc_id",), "{id}"),
    "aws_security_group": Rule(("vpc_id", "name"), "{id}"),
    "aws_vpc_security_group_ingress_rule": _SG_RULE,
    "aws_vpc_security_group_egress_rule": _SG_RULE,
    "aws_vpc_endpoint": Rule(("vpc_id", "service_name"), "{id}"),
    "aws_flow_log": Rule(("vpc_id",), "{id}"),
    "aws_lb": Rule(("name",), "{arn}"),
    "aws_lb_target_group": Rule(("name",), "{arn}"),
    "aws_lb_listener": Rule(("load_balancer_arn", "port"), "{arn}"),
    "aws_lb_listener_rule": Rule(("listener_arn", "priority"), "{arn}"),
    "aws_apigatewayv2_api": Rule(("name",), "{id}"),
    "aws_apigatewayv2_vpc_link": Rule(("name",), "{id}"),
    "aws_apigatewayv2_integration": Rule(("api_id", "integration_uri"), "{api_id}/{id}"),
    "aws_apigatewayv2_route": Rule(("api_id", "route_key"), "{api_id}/{id}"),
    "aws_apigatewayv2_stage": Rule(("api_id", "name"), "{api_id}/{name}"),
    "aws_backup_vault": Rule(("name",), "{name}"),
    "aws_backup_plan": Rule(("name",), "{id}"),
    "aws_backup_selection": Rule(("plan_id", "name"), "{plan_id}|{id}"),
}

# Attributes tfgen writes through a local (``listener_arn = local.front_listener_arn``), and the type
# of what they name: the one resource of that type tfgen renders (see _through_local).
THROUGH_LOCALS = {
    ("aws_lb_listener_rule", "listener_arn"): "aws_lb_listener",
    ("aws_apigatewayv2_integration", "integration_uri"): "aws_lb_listener",
}

# The fields of names AWS compares ignoring case (IAM): an old name differing only in case is an error.
CASELESS = {
    "aws_iam_role": frozenset({"name"}),
    "aws_iam_role_policy": frozenset({"role", "name"}),
    "aws_iam_role_policy_attachment": frozenset({"role"}),
}

# Types the provider (5.100) cannot import: terraform creates them again. What each re-creation
# does to live traffic is said with it.
NOT_IMPORTABLE = {
    "aws_lb_target_group_attachment": "registered again (RegisterTargets on a Lambda target that is already "
                                      "registered is a no-op): traffic is not interrupted",
}

_REFERENCE = re.compile(r"^(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)(\[(\"[^\"]*\"|[0-9]+)\])?")


class _Refused(Exception):
    """One resource cannot be matched safely; the message says why (an error of the matching)."""


@dataclass(frozen=True)
class Wanted:
    """One resource instance tfgen would create: its address, type, known values, the attributes
    known only after apply, and (per attribute) the resource instance the value refers to, or
    None when the plan cannot tie it to one."""

    address: str
    type: str
    values: Mapping[str, Any]
    unknown: frozenset[str]
    refers: Mapping[str, str | None]


@dataclass(frozen=True)
class Match:
    address: str  # tfgen's
    existing: str  # the old stack's
    type: str
    import_id: str


@dataclass
class Matching:
    matches: list[Match] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)  # (address, why) tfgen creates anew
    recreated: list[tuple[str, str]] = field(default_factory=list)  # (address, what it does): not importable
    unmanaged: list[str] = field(default_factory=list)  # old objects tfgen does not manage
    errors: list[str] = field(default_factory=list)

    def by_address(self) -> dict[str, Match]:
        return {m.address: m for m in self.matches}


# --- reading tfgen's plan ------------------------------------------------------------------------

def wanted_resources(plan: Mapping[str, Any]) -> list[Wanted]:
    """The managed resource instances ``plan`` creates (and only creates), with their references."""
    config = {r["address"]: r for r in _config_resources((plan.get("configuration") or {}).get("root_module") or {})}
    creates = [rc for rc in plan.get("resource_changes") or ()
               if rc.get("mode", "managed") == "managed" and list(rc["change"]["actions"]) == ["create"]]
    instances: dict[str, list[str]] = {}
    for rc in creates:
        instances.setdefault(_resource_of(rc["address"]), []).append(rc["address"])
    out = []
    for rc in creates:
        change = rc["change"]
        unknown = frozenset(k for k, v in (change.get("after_unknown") or {}).items() if v is True)
        expressions = (config.get(_resource_of(rc["address"])) or {}).get("expressions") or {}
        refers = {name: _target(expression, rc.get("index"), instances)
                  for name, expression in expressions.items() if isinstance(expression, Mapping)}
        out.append(Wanted(rc["address"], rc["type"], change.get("after") or {}, unknown, refers))
    return out


def _config_resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from module.get("resources") or ()


def _resource_of(address: str) -> str:
    return address.split("[", 1)[0]


def _target(expression: Mapping[str, Any], index: Any, instances: Mapping[str, list[str]]) -> str | None:
    """The one resource instance an attribute's expression refers to, or None."""
    for reference in expression.get("references") or ():
        found = _REFERENCE.match(reference)
        if found is None:
            continue
        resource = f"{found.group(1)}.{found.group(2)}"
        known = instances.get(resource)
        if not known:
            continue
        if found.group(3):
            address = resource + found.group(3)
            return address if address in known else None
        if known == [resource]:
            return resource
        if index is not None and f"{resource}[{index_key(index)}]" in known:
            return f"{resource}[{index_key(index)}]"
        return None
    return None


# --- matching ------------------------------------------------------------------------------------

def match(plan: Mapping[str, Any], state: Mapping[str, Any], setting: Setting | None = None) -> Matching:
    """Match every resource ``plan`` creates to one object of ``state``. ``setting`` names the
    environment setting a template writes into an attribute of a resource (``adopt.setting``),
    to say where a name that differs comes from."""
    wanted = wanted_resources(plan)
    objects = adopt_state.objects(state)
    existing = [e for e in objects if not e.deposed]
    result = Matching()
    result.errors += [f"{e.address}: the old state holds a deposed object of it (deposed {e.deposed}), left by a "
                      "replacement its last apply did not finish: finish or clean up the old stack's apply first"
                      for e in objects if e.deposed]
    matched, refused = _pair(wanted, existing, result.errors)
    taken = {e.address for e in matched.values()}
    for w in wanted:
        if w.address in refused:
            continue
        if w.address in matched:
            e = matched[w.address]
            try:
                result.matches.append(Match(w.address, e.address, w.type, _import_id(w, e)))
            except _Refused as why:
                result.errors.append(str(why))
        elif w.type in NOT_IMPORTABLE:
            result.recreated.append((w.address, NOT_IMPORTABLE[w.type]))
        elif w.type in RULES or w.type == "aws_kms_key":
            result.created.append((w.address, f"no object of the old stack has its identity ({_identity(w)})"))
        else:
            result.created.append((w.address, f"{w.type}: tfgen has no identity rule for this type"))
    unmatched = [w for w in wanted if w.address not in matched and w.address not in refused]
    result.errors += _orphaned_keys(unmatched, wanted, existing)
    result.errors += _orphaned_data(unmatched, [e for e in existing if e.address not in taken], wanted, setting)
    result.errors += _case_only(unmatched, [e for e in existing if e.address not in taken], matched, wanted)
    if matched:
        result.errors += _elsewhere(plan, list(matched.values()))
    result.unmanaged = [e.address for e in existing if e.address not in taken]
    result.matches.sort(key=lambda m: m.address)
    if not result.matches and not result.errors:
        result.errors.append("the old state holds none of the objects tfgen renders: nothing to adopt "
                             "(is it the state of the stack to adopt?)")
    return result


def _pair(wanted: Sequence[Wanted], existing: Sequence[Existing],
          errors: list[str]) -> tuple[dict[str, Existing], set[str]]:
    """Each resource with the one object of its identity, a resource waiting until those it
    refers to are matched. Returns the matches (tfgen address -> object) and the resources
    refused (their errors added to ``errors``)."""
    matched: dict[str, Existing] = {}
    taken: dict[str, str] = {}  # existing address -> tfgen address
    refused: set[str] = set()
    pending = [w for w in wanted if w.type in RULES or w.type == "aws_kms_key"]
    progress = True
    while progress:
        progress = False
        for w in list(pending):
            try:
                found = _candidates(w, existing, matched, wanted)
            except _Refused as why:
                pending.remove(w)
                progress = True
                refused.add(w.address)
                errors.append(str(why))
                continue
            if found is None:
                continue  # waits for a resource it refers to
            pending.remove(w)
            progress = True
            if len(found) > 1:
                refused.add(w.address)
                errors.append(f"{w.address}: ambiguous: both {found[0].address} and {found[1].address} "
                              f"have its identity ({_identity(w)})")
            elif found and found[0].address in taken:
                refused.add(w.address)
                errors.append(f"{found[0].address}: matched by both {taken[found[0].address]} and {w.address}")
            elif found:
                taken[found[0].address] = w.address
                matched[w.address] = found[0]
    return matched, refused


def _orphaned_keys(unmatched: Sequence[Wanted], wanted: Sequence[Wanted], existing: Sequence[Existing]) -> list[str]:
    """A key tfgen would create anew while the old stack has an alias of tfgen's alias name for it:
    the alias would be moved to a new key, and everything derived from the key would change."""
    errors = []
    for key in (w for w in unmatched if w.type == "aws_kms_key"):
        names = {a.values.get("name") for a in wanted
                 if a.type == "aws_kms_alias" and a.refers.get("target_key_id") == key.address}
        for alias in (e for e in existing if e.type == "aws_kms_alias" and e.values.get("name") in names):
            # a key the old state holds is matched through this alias, or refused as ambiguous
            target = next((v for k in ("target_key_id", "target_key_arn") if _usable(v := alias.values.get(k))), None)
            said = ("targets no key the old state names" if target is None
                    else f"targets key {target}, which the old state does not hold")
            errors.append(f"{key.address}: the old stack's {alias.address} ({alias.values.get('name')}) {said}: "
                          "tfgen would create a new key and move the alias to it, changing what is derived from "
                          "the key; adopt with a state that holds the key")
    return errors


def _orphaned_data(unmatched: Sequence[Wanted], unmanaged: Sequence[Existing], wanted: Sequence[Wanted],
                   setting: Setting | None) -> list[str]:
    """A resource that holds data, created anew while an old object of its type that holds data
    matches nothing: the functions would be pointed at a new, empty store and the data left in
    the old one. The names must agree, or the old one be left out of the adoption on purpose."""
    errors = []
    for w in unmatched:
        if not catalogue.holds_data(w.type):
            continue
        others = [e for e in unmanaged if e.type == w.type]
        if not others:
            continue
        if w.type == "aws_kms_key":
            aliases = sorted(str(a.values.get("name")) for a in wanted
                             if a.type == "aws_kms_alias" and a.refers.get("target_key_id") == w.address)
            same = (f"tfgen's alias must target it ({', '.join(aliases)})" if aliases
                    else "tfgen matches a key only through its alias, and this one has none")
        else:
            where = setting(w.address, RULES[w.type].fields[0]) if setting and w.type in RULES else None
            same = "the names must agree" + (f" (tfgen's: {where})" if where else "")
        olds = " and ".join(f"{e.address} ({_old_identity(e)})" for e in others)
        errors.append(f"{w.address} ({_identity(w)}) would be created anew, while the old stack's {olds}, of the "
                      f"same type and holding data, {'matches' if len(others) == 1 else 'match'} nothing: if it is "
                      f"the same, {same}; if not, drop it from the state given to adopt")
    return errors


def _old_identity(e: Existing) -> str:
    fields = ("key_id",) if e.type == "aws_kms_key" else RULES[e.type].fields if e.type in RULES else ("id",)
    return ", ".join(f"{name}={_read(e.values, name)}" for name in fields)


def _case_only(unmatched: Sequence[Wanted], unmanaged: Sequence[Existing], matched: Mapping[str, Existing],
               wanted: Sequence[Wanted]) -> list[str]:
    """An IAM resource created anew while an old one's name differs from it only in case: IAM
    names ignore case, so the create would fail (or take the old one's place)."""
    errors = []
    for w in (w for w in unmatched if w.type in CASELESS):
        tests = _tests(w, matched, wanted)
        for e in (e for e in unmanaged if tests is not None and e.type == w.type and _fits(e, tests, CASELESS[w.type])):
            errors.append(f"{w.address} ({_identity(w)}): the old stack's {e.address} ({_old_identity(e)}) differs "
                          "only in case, and IAM names ignore case: tfgen's could not be created beside it; give both "
                          "the same name")
    return errors


def _elsewhere(plan: Mapping[str, Any], objects: Sequence[Existing]) -> list[str]:
    """The matched objects' ARNs against where tfgen's plan runs (the caller's account and
    partition it read, its provider's region): an object of another account, region or partition
    is not the one an import by name or id would take. A global ARN (S3, IAM) says no region."""
    place, unsaid = _place(plan)
    if unsaid:
        return [f"tfgen's plan does not say the environment's {', '.join(unsaid)}: the old state cannot be checked "
                "against it"]
    partition, account, region = place
    said = {"account": False, "region": False}
    elsewhere = []
    for e in objects:
        arn = e.values.get("arn")
        if not isinstance(arn, str) or not arn:
            continue  # an import id that needs it says so
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn" or parts[1] != partition or parts[3] not in ("", region) \
                or parts[4] not in ("", account):
            elsewhere.append(f"{e.address} is {arn}")
            continue
        said["account"] = said["account"] or bool(parts[4])
        said["region"] = said["region"] or bool(parts[3])
    where = f"the environment's (partition {partition}, account {account}, region {region})"
    if elsewhere:
        more = len(elsewhere) - 1
        return [f"the old state is not of {where}: {elsewhere[0]}"
                + (f" (and {more} other object{'s' if more > 1 else ''})" if more else "")]
    if not all(said.values()):
        missing = " or ".join(f"an {k}" if k == "account" else f"a {k}" for k, v in said.items() if not v)
        return [f"no ARN of the objects matched names {missing}: the old state cannot be told to be of {where}"]
    return []


def _place(plan: Mapping[str, Any]) -> tuple[tuple[str, str, str], list[str]]:
    """(partition, account, region) of tfgen's plan, and what it does not say."""
    read: dict[str, set[Any]] = {"aws_caller_identity": set(), "aws_partition": set()}
    prior = plan.get("prior_state")
    values = prior.get("values") if isinstance(prior, Mapping) else None
    module = values.get("root_module") if isinstance(values, Mapping) else None
    for resource in (module.get("resources") or () if isinstance(module, Mapping) else ()):
        if isinstance(resource, Mapping) and resource.get("mode") == "data" and resource.get("type") in read:
            attribute = "account_id" if resource["type"] == "aws_caller_identity" else "partition"
            read[resource["type"]].add((resource.get("values") or {}).get(attribute))
    provider = _read(plan, "configuration.provider_config.aws.expressions.region.constant_value")
    found = {"account (data.aws_caller_identity)": read["aws_caller_identity"],
             "partition (data.aws_partition)": read["aws_partition"],
             "region (the aws provider's region)": {provider}}
    unsaid = [what for what, got in found.items() if len(got) != 1 or not _usable(next(iter(got)))]
    account, partition, region = (str(next(iter(got), "")) for got in found.values())
    return (partition, account, region), unsaid


def _identity(w: Wanted) -> str:
    if w.type == "aws_kms_key":
        return "the key an alias of it targets"
    return ", ".join(f"{name}={_shown_value(w, name)}" for name in RULES[w.type].fields
                     if _shown_value(w, name) is not None)


def _shown_value(w: Wanted, name: str) -> Any:
    if name in w.unknown:
        return f"<{w.refers.get(name) or 'unknown'}>"
    return _read(w.values, name)


_Test = tuple[str, Any, "set[str] | None"]  # (field, literal, identifiers of the object a reference matched)


def _candidates(w: Wanted, existing: Sequence[Existing], matched: Mapping[str, Existing],
                wanted: Sequence[Wanted]) -> list[Existing] | None:
    """The existing objects with ``w``'s identity; None while a resource it refers to is unmatched.
    Every field of the identity is compared: one that cannot be read is a ``_Refused``, never
    left out (that would widen the match)."""
    if w.type == "aws_kms_key":
        return _key_candidates(w, existing, matched, wanted)
    tests = _tests(w, matched, wanted)
    if tests is None:
        return None if _waits(w, wanted) else []
    return [e for e in existing if e.type == w.type and _fits(e, tests)]


def _tests(w: Wanted, matched: Mapping[str, Existing], wanted: Sequence[Wanted]) -> list[_Test] | None:
    """What an object must hold to have ``w``'s identity; None while (or because) a resource a
    field refers to is not matched."""
    tests: list[_Test] = []
    for name in RULES[w.type].fields:
        top = name.split(".", 1)[0]
        if top in w.unknown:
            target = w.refers.get(top) or _through_local(w, top, wanted)
            if target not in matched:
                return None
            tests.append((name, None, matched[target].identifiers()))
        else:
            tests.append((name, _read(w.values, name), None))
    if all(ids is None and literal in (None, "") for _, literal, ids in tests):
        raise _Refused(f"{w.address}: tfgen's plan gives it no identity "
                       f"({', '.join(f'{name} is null' for name, _, _ in tests)})")
    return tests


def _waits(w: Wanted, wanted: Sequence[Wanted]) -> bool:
    """Whether every resource ``w``'s identity refers to is one tfgen creates (and may match yet)."""
    addresses = {x.address for x in wanted}
    return all((w.refers.get(name) or _through_local(w, name, wanted)) in addresses
               for name in (f.split(".", 1)[0] for f in RULES[w.type].fields) if name in w.unknown)


def _fits(e: Existing, tests: Sequence[_Test], caseless: frozenset[str] = frozenset()) -> bool:
    for name, literal, ids in tests:
        value = _read(e.values, name)
        if ids is not None:
            if value not in ids:
                return False
        elif name in caseless and isinstance(value, str) and isinstance(literal, str):
            if value.casefold() != literal.casefold():
                return False
        elif not _same(value, literal):
            return False
    return True


def _through_local(w: Wanted, name: str, wanted: Sequence[Wanted]) -> str:
    """The resource an attribute known only after apply names when its expression is a local
    (the plan's configuration does not say what a local holds): the one resource of the type
    the attribute names that tfgen renders, or a ``_Refused``."""
    said = f"{w.address}: {name} is known only after apply, through a value the plan does not tie to one resource"
    kind = THROUGH_LOCALS.get((w.type, name))
    if kind is None:
        raise _Refused(f"{said}: the old object cannot be told")
    ours = [x.address for x in wanted if x.type == kind]
    if len(ours) != 1:
        raise _Refused(f"{said}, and tfgen renders {len(ours)} {kind}, not one: the old object cannot be told")
    return ours[0]


def _key_candidates(w: Wanted, existing: Sequence[Existing], matched: Mapping[str, Existing],
                    wanted: Sequence[Wanted]) -> list[Existing] | None:
    aliases = [a for a in wanted if a.type == "aws_kms_alias" and a.refers.get("target_key_id") == w.address]
    if not aliases:
        return []
    if any(a.address not in matched for a in aliases):
        # an alias not matched yet waits; one that found nothing leaves the key unmatched
        return None if any(a.address not in matched and _alias_pending(a, existing) for a in aliases) else []
    targets = {matched[a.address].values.get("target_key_id") for a in aliases} | {
        matched[a.address].values.get("target_key_arn") for a in aliases}
    keys = [e for e in existing if e.type == "aws_kms_key" and e.identifiers() & {t for t in targets if t}]
    return keys


def _alias_pending(alias: Wanted, existing: Sequence[Existing]) -> bool:
    return any(e.type == "aws_kms_alias" and e.values.get("name") == alias.values.get("name") for e in existing)


def _read(values: Mapping[str, Any], path: str) -> Any:
    value: Any = values
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return bool(a == b or (a in (None, "") and b in (None, "")))


def _import_id(w: Wanted, e: Existing) -> str:
    """The id terraform imports ``e`` by, for ``w``; a value it needs that the old state does
    not hold (missing, null, empty) is a ``_Refused`` naming the object and the attribute."""
    if w.type == "aws_kms_key":
        return _part(w, e, "key_id" if _usable(e.values.get("key_id")) or not _usable(e.values.get("id")) else "id")
    template = RULES[w.type].import_id
    qualifier = e.values.get("qualifier")
    template = template.replace("{:qualifier}", ":{qualifier}" if qualifier not in (None, "") else "")
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format_map({name: _part(w, e, name) for name in names})


def _part(w: Wanted, e: Existing, name: str) -> str:
    value = e.values.get(name)
    if _usable(value):
        return str(value)
    said = ("missing" if name not in e.values else "null" if value is None else "empty" if value == ""
            else f"not a name ({value!r:.40})")
    raise _Refused(f"{e.address}: {name} is {said} in the old state: the import id of {w.address} cannot be made")


def _usable(value: Any) -> bool:
    return (isinstance(value, str) and value != "") or (isinstance(value, int) and not isinstance(value, bool))
