"""Judging a Terraform plan of a rendered environment: what it deletes, which live traffic it moves,
which access it grants, and whether the database password can drift from its secret.

The input is the JSON of ``terraform show -json PLANFILE``; nothing here runs terraform or
prints. ``review`` classifies every resource change once:

- counts of create / update / replace / delete (reads and no-ops are not changes);
- **data loss**: a delete or replace of a resource that holds data (``DATA_TYPES``), with the
  attribute paths that force the replacement (the plan's ``replace_paths``) or the reason
  terraform gives (removed from the configuration, a ``for_each`` key gone, ``-replace``...);
- **traffic**: per payment function and colour, the alias version before and after (``None``
  after: the version this apply publishes), the listener weights before and after, and whether
  the function's code changes;
- **access**: IAM policy and trust documents, KMS key policies, bucket policies, Lambda
  permissions and security-group rules that gain actions, resources, principals, ports or
  CIDRs, with only the added parts;
- **credentials**: changes that would leave the master password of the Aurora cluster and
  the secret holding it different;
- the rest, as counts per resource type.

``Review.refusals`` says what ``tfgen apply`` refuses without an explicit override. The JSON
form (``Review.as_json``) is a stable schema documented in the README (``SCHEMA_VERSION``);
tfgen.deploy.review_format renders a review as text, markdown or that JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

# Resources whose delete or replace loses data (or the means to read it: a key, a secret).
DATA_TYPES = frozenset({
    "aws_rds_cluster", "aws_rds_cluster_instance", "aws_db_instance", "aws_dynamodb_table",
    "aws_s3_bucket", "aws_kms_key", "aws_secretsmanager_secret", "aws_backup_vault",
    "aws_cloudwatch_log_group",
})

ACTIONS = ("create", "update", "replace", "delete")
GREEN = "green"
PUBLISHED = "the version this apply publishes"

# Where the templates keep the pieces the traffic and credential checks read.
FUNCTION = "aws_lambda_function.this"
ALIAS = "aws_lambda_alias.this"
LISTENER_RULE = "aws_lb_listener_rule.this"
TARGET_GROUP = "aws_lb_target_group.this"
CLUSTER = "aws_rds_cluster.this"
SECRET_VERSION = "aws_secretsmanager_secret_version.db_credentials"
PASSWORD_VERSION = "master_password_wo_version"
SECRET_VALUE_VERSION = "secret_string_wo_version"
# Cluster attributes written into the secret: a change must come with a new password version,
# which rewrites the secret from the same run's password.
SECRET_FIELDS = ("port", "database_name", "master_username", "endpoint", "cluster_identifier")
BUMP = "bump database.master_password_version in the environment file, render and plan again"

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

# Documents that grant access, by resource type: the attribute holding the JSON and its kind.
_DOCUMENTS = {
    "aws_iam_role": (("assume_role_policy", "trust policy"),),
    "aws_iam_role_policy": (("policy", "policy"),),
    "aws_iam_policy": (("policy", "policy"),),
    "aws_iam_user_policy": (("policy", "policy"),),
    "aws_iam_group_policy": (("policy", "policy"),),
    "aws_kms_key": (("policy", "key policy"),),
    "aws_kms_key_policy": (("policy", "key policy"),),
    "aws_s3_bucket_policy": (("policy", "bucket policy"),),
    "aws_sns_topic_policy": (("policy", "topic policy"),),
    "aws_secretsmanager_secret_policy": (("policy", "secret policy"),),
}
_SG_RULE_TYPES = ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
_SG_RULE_FIELDS = ("ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "prefix_list_id",
                   "referenced_security_group_id")
_GRANTS = {
    "aws_lambda_permission": ("action", "principal", "source_arn", "qualifier"),
    "aws_iam_role_policy_attachment": ("policy_arn",),
    "aws_security_group_rule": ("type", "protocol", "from_port", "to_port", "cidr_blocks",
                                "ipv6_cidr_blocks", "source_security_group_id", "prefix_list_ids"),
}


# ---------------------------------------------------------------------------
# The review
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DataLoss:
    address: str
    type: str
    action: str  # "delete" or "replace"
    reasons: tuple[str, ...]
    follows: str | None = None  # the loss it is part of: allowing that one allows this one


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


@dataclass(frozen=True)
class AccessGain:
    address: str
    type: str
    kind: str
    action: str
    added: tuple[Any, ...]  # statements (only their added parts), or the granted fields


@dataclass
class Review:
    env: str
    plan_file: str
    rendered_digest: str
    counts: dict[str, int]
    data_loss: list[DataLoss]
    traffic: list[Alias]
    access: list[AccessGain]
    credentials: list[str]
    other: dict[str, dict[str, int]]

    @property
    def changes(self) -> bool:
        return any(self.counts.values())

    def risky_functions(self) -> list[str]:
        return sorted({alias.function for alias in self.traffic if alias.risk})

    def refusals(self, allow_data_loss: Iterable[str] = (), allow_traffic_risk: Iterable[str] = ()) -> list[str]:
        """What ``tfgen apply`` refuses, one line each, with the override or the fix."""
        allowed_loss, allowed_risk = set(allow_data_loss), set(allow_traffic_risk)
        lines = [f"{loss.address}: {loss.action} loses data ({'; '.join(loss.reasons)}); "
                 f"allow it with --allow-data-loss {loss.follows or loss.address}"
                 for loss in self.data_loss if loss.address not in allowed_loss and loss.follows not in allowed_loss]
        for function in self.risky_functions():
            if function in allowed_risk:
                continue
            risky = [a for a in self.traffic if a.function == function and a.risk]
            colours = ", ".join(f"{a.colour} ({a.weight_after} %)" for a in risky)
            lines.append(f"{function}: {risky[0].novelty} would reach live traffic through {colours}, not through "
                         f"green: pin the live versions (`tfgen traffic {self.env} pin`), or allow it with "
                         f"--allow-traffic-risk {function}")
        return lines + list(self.credentials)

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "env": self.env,
            "plan_file": self.plan_file,
            "rendered_digest": self.rendered_digest,
            "changes": self.changes,
            "counts": dict(self.counts),
            "data_loss": [{"address": d.address, "type": d.type, "action": d.action, "reasons": list(d.reasons),
                           "follows": d.follows} for d in self.data_loss],
            "traffic": [{"function": a.function, "colour": a.colour, "address": a.address,
                         "version_before": a.version_before, "version_after": a.version_after,
                         "publishes": a.version_after is None, "moves": a.moves,
                         "weight_before": a.weight_before, "weight_after": a.weight_after,
                         "code_changes": a.code_changes, "risk": a.risk} for a in self.traffic],
            "access": [{"address": g.address, "type": g.type, "kind": g.kind, "action": g.action,
                        "added": list(g.added)} for g in self.access],
            "credentials": list(self.credentials),
            "other": {kind: dict(actions) for kind, actions in self.other.items()},
            "refusals": self.refusals(),
        }


def review(plan: Mapping[str, Any], env: str = "", plan_file: str = "", rendered_digest: str = "") -> Review:
    """Classify every resource change of ``plan`` (the JSON of ``terraform show -json``)."""
    changes = [rc for rc in plan.get("resource_changes") or () if rc.get("mode", "managed") == "managed"]
    counts = dict.fromkeys(ACTIONS, 0)
    data_loss: list[DataLoss] = []
    access: list[AccessGain] = []
    other: dict[str, Counter[str]] = {}
    by_address: dict[str, dict[str, Any]] = {}
    for rc in changes:
        by_address[rc["address"]] = rc
        action = action_of(rc["change"]["actions"])
        if action is None:
            continue
        counts[action] += 1
        kind = rc["type"]
        loss = _data_loss(rc, action)
        if loss is not None:
            data_loss.append(loss)
        gains = list(_access(rc, action))
        access += gains
        if loss is None and not gains and not _traffic_address(rc["address"]):
            other.setdefault(kind, Counter())[action] += 1
    access += _deferred_documents(plan, changes)
    return Review(
        env=env, plan_file=plan_file, rendered_digest=rendered_digest, counts=counts,
        data_loss=sorted(_followers(data_loss), key=lambda d: d.address), traffic=_traffic(by_address),
        access=sorted(access, key=lambda g: g.address), credentials=_credentials(by_address),
        other={kind: dict(sorted(c.items())) for kind, c in sorted(other.items())},
    )


def action_of(actions: Sequence[str]) -> str | None:
    """One word for a change's action list; None for no-op, read and forget."""
    if "create" in actions and "delete" in actions:
        return "replace"
    if len(actions) == 1 and actions[0] in ACTIONS:
        return actions[0]
    return None


def _traffic_address(address: str) -> bool:
    return address.startswith((ALIAS + "[", LISTENER_RULE + "["))


# ---------------------------------------------------------------------------
# Data loss
# ---------------------------------------------------------------------------

def _data_loss(rc: Mapping[str, Any], action: str) -> DataLoss | None:
    if action not in ("delete", "replace") or rc["type"] not in DATA_TYPES:
        return None
    return DataLoss(rc["address"], rc["type"], action, tuple(reasons_of(rc)))


def _followers(losses: list[DataLoss]) -> list[DataLoss]:
    """An Aurora instance replaced because its cluster is (its cluster_identifier is known only
    after apply) follows the cluster's replacement: allowing the cluster allows it."""
    clusters = [loss.address for loss in losses if loss.type == "aws_rds_cluster"]
    if len(clusters) != 1:
        return losses
    return [dataclasses.replace(loss, follows=clusters[0])
            if loss.type == "aws_rds_cluster_instance" and loss.action == "replace"
            and any(reason.startswith("cluster_identifier forces replacement") for reason in loss.reasons)
            else loss for loss in losses]


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


# ---------------------------------------------------------------------------
# Live traffic
# ---------------------------------------------------------------------------

def _key(address: str, prefix: str) -> str | None:
    """``payment_validation`` of ``aws_lambda_function.this["payment_validation"]``."""
    if not address.startswith(prefix + '["') or not address.endswith('"]'):
        return None
    return address[len(prefix) + 2:-2]


def _traffic(by_address: Mapping[str, Mapping[str, Any]]) -> list[Alias]:
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


# ---------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------

def _access(rc: Mapping[str, Any], action: str) -> Iterator[AccessGain]:
    if action not in ("create", "update", "replace"):
        return
    kind = rc["type"]
    change = rc["change"]
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    for attribute, label in _DOCUMENTS.get(kind, ()):
        if unknown.get(attribute) is True:
            if before.get(attribute) is not None or action == "create":
                yield AccessGain(rc["address"], kind, label, action, ("document known only after apply",))
            continue
        added = added_statements(before.get(attribute), after.get(attribute))
        if added:
            yield AccessGain(rc["address"], kind, label, action, tuple(added))
    if kind in _SG_RULE_TYPES:
        direction = "ingress" if kind.endswith("ingress_rule") else "egress"
        granted = {name: after.get(name) for name in _SG_RULE_FIELDS if after.get(name) is not None}
        granted.update({name: "known after apply" for name in _SG_RULE_FIELDS if unknown.get(name) is True})
        if any(before.get(name) != after.get(name) or unknown.get(name) is True for name in _SG_RULE_FIELDS):
            yield AccessGain(rc["address"], kind, f"security group {direction} rule", action,
                             (dict(sorted(granted.items())),))
    elif kind == "aws_security_group":
        for direction in ("ingress", "egress"):
            old = {_canonical(rule) for rule in before.get(direction) or ()}
            new = [rule for rule in after.get(direction) or () if _canonical(rule) not in old]
            if new:
                yield AccessGain(rc["address"], kind, f"security group {direction}", action, tuple(new))
    elif kind in _GRANTS:
        names = _GRANTS[kind]
        if any(before.get(name) != after.get(name) or unknown.get(name) is True for name in names):
            granted = {name: ("known after apply" if unknown.get(name) is True else after.get(name))
                       for name in names if after.get(name) is not None or unknown.get(name) is True}
            yield AccessGain(rc["address"], kind, kind.removeprefix("aws_").replace("_", " "), action,
                             (granted,))


def _deferred_documents(plan: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> list[AccessGain]:
    """Policy documents read only at apply time (an input is not known yet), so that the policies
    built from them are "known after apply": the actions and principals their statements add to
    what the current policies of those resources grant under the same Sid. Resources and
    condition values are often unknown until apply and are not compared."""
    current: dict[str, list[dict[str, set[str]]]] = {}
    for rc in changes:
        unknown = rc["change"].get("after_unknown") or {}
        before = rc["change"].get("before") or {}
        for attribute, _ in _DOCUMENTS.get(rc["type"], ()):
            if unknown.get(attribute) is True:
                for statement in _statements(before.get(attribute)):
                    current.setdefault(str(statement.get("Sid", "")), []).append(_grants(statement))
    gains = []
    for rc in plan.get("resource_changes") or ():
        if rc.get("mode") != "data" or rc.get("type") != "aws_iam_policy_document":
            continue
        added = []
        for block in (rc["change"].get("after") or {}).get("statement") or ():
            statement = document_statement(block)
            if statement["Effect"] != "Allow":
                continue
            peers = current.get(str(statement.get("Sid", "")), [])
            gained: dict[str, Any] = {k: statement[k] for k in ("Sid", "Effect") if k in statement}
            for name in ("Action", "NotAction", "Principal", "NotPrincipal"):
                values = _grants(statement).get(name, set())
                new = sorted(values - set().union(*(peer.get(name, set()) for peer in peers)))
                if new:
                    gained[name] = new
            if len(gained) > len([k for k in ("Sid", "Effect") if k in statement]):
                if "Resource" in statement:
                    gained["Resource"] = statement["Resource"]
                added.append(gained)
        if added:
            gains.append(AccessGain(rc["address"], rc["type"], "policy document read at apply", "read",
                                    tuple(added)))
    return gains


def document_statement(block: Mapping[str, Any]) -> dict[str, Any]:
    """A ``statement`` block of ``aws_iam_policy_document`` as a policy statement; values known
    only at apply are left out."""
    out: dict[str, Any] = {"Effect": block.get("effect") or "Allow"}
    if block.get("sid"):
        out["Sid"] = block["sid"]
    for name, element in (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource"),
                          ("not_resources", "NotResource")):
        values = [v for v in block.get(name) or () if v is not None]
        if values:
            out[element] = sorted(values)
    for name, element in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        principals: dict[str, list[str]] = {}
        for p in block.get(name) or ():
            principals.setdefault(str(p.get("type")), []).extend(i for i in p.get("identifiers") or () if i)
        if principals:
            out[element] = principals
    conditions: dict[str, dict[str, list[str]]] = {}
    for c in block.get("condition") or ():
        conditions.setdefault(str(c.get("test")), {})[str(c.get("variable"))] = list(c.get("values") or ())
    if conditions:
        out["Condition"] = conditions
    return out


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return sorted(value, key=_canonical) if isinstance(value, list) else [value]


def _principals(value: Any) -> list[str]:
    """``{"AWS": ["a", "b"], "Service": "s"}`` as ``["AWS:a", "AWS:b", "Service:s"]``; ``"*"`` as ``["*"]``."""
    if isinstance(value, dict):
        return sorted(f"{kind}:{item}" for kind, items in value.items() for item in _listed(items))
    return [str(item) for item in _listed(value)]


# A statement's grants: one tuple per (effect, condition, element, value) it names.
_ELEMENTS = ("Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal")


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        if not document.strip():
            return []
        try:
            document = json.loads(document)
        except ValueError:
            return [{"Unparsed": document}]
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement") or []
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]


def _grants(statement: Mapping[str, Any]) -> dict[str, set[str]]:
    grants = {}
    for element in _ELEMENTS:
        if element in statement:
            value = statement[element]
            grants[element] = set(_principals(value) if "Principal" in element else map(str, _listed(value)))
    return grants


def _context(statement: Mapping[str, Any]) -> str:
    return _canonical([statement.get("Effect", "Allow"), statement.get("Condition")])


def added_statements(before: Any, after: Any) -> list[dict[str, Any]]:
    """The Allow statements of ``after`` that grant something ``before`` does not, each reduced to
    what it adds: the actions, resources and principals no statement of ``before`` with the same
    effect and condition already names. A statement whose effect, condition or Not-elements are
    new is shown whole."""
    old = _statements(before)
    added = []
    for statement in _statements(after):
        if "Unparsed" in statement:
            added.append(statement)
            continue
        if statement.get("Effect", "Allow") != "Allow":
            continue
        grants = _grants(statement)
        peers = [_grants(s) for s in old if _context(s) == _context(statement)]
        if any(peer == grants for peer in peers):
            continue
        if not peers or any(name.startswith("Not") for name in grants):
            added.append(statement)
            continue
        # Compare the statement with the peer it overlaps most; show what it adds beyond it.
        peer = max(peers, key=lambda p: sum(len(grants.get(n, set()) & p.get(n, set())) for n in _ELEMENTS))
        gained = {name: sorted(values - peer.get(name, set())) for name, values in grants.items()}
        if not any(gained.values()):
            continue
        shown: dict[str, Any] = {key: statement[key] for key in ("Sid", "Effect") if key in statement}
        shown.update({name: values for name, values in gained.items() if values})
        if "Condition" in statement:
            shown["Condition"] = statement["Condition"]
        added.append(shown)
    return added


# ---------------------------------------------------------------------------
# Credentials: the cluster's password and the secret holding it
# ---------------------------------------------------------------------------

def _credentials(by_address: Mapping[str, Mapping[str, Any]]) -> list[str]:
    cluster, secret = by_address.get(CLUSTER), by_address.get(SECRET_VERSION)
    if cluster is None or secret is None:
        return []
    c_change, s_change = cluster["change"], secret["change"]
    c_action, s_action = action_of(c_change["actions"]), action_of(s_change["actions"])
    c_before, c_after = c_change.get("before") or {}, c_change.get("after") or {}
    s_before, s_after = s_change.get("before") or {}, s_change.get("after") or {}
    password_set = c_action in ("create", "replace") or c_before.get(PASSWORD_VERSION) != c_after.get(PASSWORD_VERSION)
    secret_written = s_action in ("create", "replace") or \
        s_before.get(SECRET_VALUE_VERSION) != s_after.get(SECRET_VALUE_VERSION)
    problems = []
    if secret_written and not password_set:
        problems.append(
            f"{SECRET_VERSION}: writes a newly generated password into the secret while {CLUSTER} keeps "
            f"the password it has (a partial first apply?): {BUMP}, so that one apply sets the same new "
            "password on both")
    elif password_set and not secret_written:
        problems.append(
            f"{CLUSTER}: receives a newly generated password that {SECRET_VERSION} does not store: {BUMP}")
    elif c_action == "update" and not password_set:
        moved = [name for name in SECRET_FIELDS if c_before.get(name) != c_after.get(name)
                 or (c_change.get("after_unknown") or {}).get(name) is True]
        if moved:
            problems.append(f"{CLUSTER}: {', '.join(moved)} changes, but the secret keeps the old value "
                            f"(its value is written only with a new password): {BUMP}")
    return problems
