"""Access gained: policy documents, grants and security-group rules that add something."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.catalogue import DOCUMENTS, GRANTS, SG_RULE_FIELDS, SG_RULE_TYPES


@dataclass(frozen=True)
class AccessGain:
    address: str
    type: str
    kind: str
    action: str
    added: tuple[Any, ...]  # statements (only their added parts), or the granted fields


def gains_of(rc: Mapping[str, Any], action: str) -> Iterator[AccessGain]:
    if action not in ("create", "update", "replace"):
        return
    kind = rc["type"]
    change = rc["change"]
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    for attribute, label in DOCUMENTS.get(kind, ()):
        if unknown.get(attribute) is True:
            if before.get(attribute) is not None or action == "create":
                yield AccessGain(rc["address"], kind, label, action, ("document known only after apply",))
            continue
        added = added_statements(before.get(attribute), after.get(attribute))
        if added:
            yield AccessGain(rc["address"], kind, label, action, tuple(added))
    if kind in SG_RULE_TYPES:
        direction = "ingress" if kind.endswith("ingress_rule") else "egress"
        granted = {name: after.get(name) for name in SG_RULE_FIELDS if after.get(name) is not None}
        granted.update({name: "known after apply" for name in SG_RULE_FIELDS if unknown.get(name) is True})
        if any(before.get(name) != after.get(name) or unknown.get(name) is True for name in SG_RULE_FIELDS):
            yield AccessGain(rc["address"], kind, f"security group {direction} rule", action,
                             (dict(sorted(granted.items())),))
    elif kind == "aws_security_group":
        for direction in ("ingress", "egress"):
            old = {_canonical(rule) for rule in before.get(direction) or ()}
            new = [rule for rule in after.get(direction) or () if _canonical(rule) not in old]
            if new:
                yield AccessGain(rc["address"], kind, f"security group {direction}", action, tuple(new))
    elif kind in GRANTS:
        names = GRANTS[kind]
        if any(before.get(name) != after.get(name) or unknown.get(name) is True for name in names):
            granted = {name: ("known after apply" if unknown.get(name) is True else after.get(name))
                       for name in names if after.get(name) is not None or unknown.get(name) is True}
            yield AccessGain(rc["address"], kind, kind.removeprefix("aws_").replace("_", " "), action,
                             (granted,))


def deferred_documents(plan: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> list[AccessGain]:
    """Policy documents read only at apply time (an input is not known yet), so that the policies
    built from them are "known after apply": the actions and principals their statements add to
    what the current policies of those resources grant under the same Sid. Resources and
    condition values are often unknown until apply and are not compared."""
    current: dict[str, list[dict[str, set[str]]]] = {}
    for rc in changes:
        unknown = rc["change"].get("after_unknown") or {}
        before = rc["change"].get("before") or {}
        for attribute, _ in DOCUMENTS.get(rc["type"], ()):
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


