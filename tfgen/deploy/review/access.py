"""Access gained: what the policy documents, grants, rules and settings of the catalogue's access
types (tfgen.deploy.review.catalogue) open that was not open before.

A policy document is compared statement by statement, on content: an Allow statement after the
change that no Allow statement before covers (same or stricter condition, every action, resource
and principal within one statement's, wildcards included) is a gain, shown reduced to what it
adds; a Deny statement before that no Deny after covers is a gain too (``{"Removed": ...}``).
So ``NotAction``/``NotResource``, a wider ``Resource``, a dropped ``Condition``, a removed or
narrowed Deny all show.

A policy known only after apply (built from an ``aws_iam_policy_document`` read at apply) is
never passed: the plan's ``configuration`` gives an expression's references only, the same for
``policy = DOC.json`` as for ``policy = replace(DOC.json, ...)``, so whether the policy is exactly
the document cannot be told. It is reported as not judgeable, followed by what the one document
instance it references grants beyond the same resource's policy before (the document's statements,
shown to be read); a policy built from anything else, or from a document the plan cannot read, is
reported as not judgeable alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tfgen.deploy.review import catalogue
from tfgen.deploy.review.catalogue import POLICY_DOCUMENT, SECURITY_GROUP_TYPES, SG_RULE_TYPES
from tfgen.deploy.review.changes import has_unknown, path_string

LATER = "known after apply"


@dataclass(frozen=True)
class AccessGain:
    address: str
    type: str
    kind: str
    action: str
    added: tuple[Any, ...]  # statements (only their added parts), removed Denies, or the granted fields


# --- statements ------------------------------------------------------------------------------

_ELEMENTS = ("Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal")


@dataclass(frozen=True)
class Statement:
    """A policy statement as sets: each element's values (principals as ``"AWS:arn"``), its
    condition as canonical JSON, and what is known only after apply."""

    effect: str
    elements: Mapping[str, frozenset[str]]
    condition: str
    unknown: frozenset[str]
    shown: Mapping[str, Any]  # the statement as the review shows it


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return sorted(value, key=_canonical) if isinstance(value, list) else [value]


def _principals(value: Any) -> list[str]:
    """``{"AWS": ["a", "b"], "Service": "s"}`` as ``["AWS:a", "AWS:b", "Service:s"]``; ``"*"``,
    ``{"AWS": "*"}`` and a document's ``{"*": ["*"]}`` (anyone) as ``["*"]``."""
    if isinstance(value, dict):
        return sorted("*" if kind == "*" or (kind == "AWS" and item == "*") else f"{kind}:{item}"
                      for kind, items in value.items() for item in _listed(items))
    return [str(item) for item in _listed(value)]


def _condition(value: Any) -> str:
    if not value:
        return ""
    if not isinstance(value, dict):
        return _canonical(value)
    return _canonical({op: {key: sorted(map(str, _listed(v))) for key, v in (keys or {}).items()}
                       if isinstance(keys, dict) else keys for op, keys in value.items()})


def statement_of(shown: Mapping[str, Any], unknown: frozenset[str] = frozenset()) -> Statement:
    elements = {}
    for name in _ELEMENTS:
        if name in shown and name not in unknown:
            value = shown[name]
            elements[name] = frozenset(_principals(value) if "Principal" in name else map(str, _listed(value)))
    effect = "?" if "Effect" in unknown else str(shown.get("Effect", "Allow"))
    return Statement(effect, elements, _condition(shown.get("Condition")), unknown, shown)


def statements_of(document: Any) -> list[Statement] | None:
    """The statements of a policy JSON (a string or a parsed document); None if it cannot be read."""
    if document is None:
        return []
    if isinstance(document, str):
        if not document.strip():
            return []
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, dict):
        return None
    found = document.get("Statement") or []
    found = found if isinstance(found, list) else [found]
    if not all(isinstance(s, dict) for s in found):
        return None
    return [statement_of(s) for s in found]


def _matches(value: str, pattern: str, element: str) -> bool:
    """Whether ``pattern`` (with IAM wildcards) covers ``value`` (itself possibly a pattern)."""
    if pattern == "*":
        return True
    if "Action" in element:
        return _wildcard(pattern.lower()).fullmatch(value.lower()) is not None
    return _wildcard(pattern).fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """An IAM pattern as a regular expression: ``*`` and ``?`` are its only wildcards (``[`` is a bracket)."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _within(values: frozenset[str], patterns: frozenset[str], element: str) -> bool:
    return all(any(_matches(v, p, element) for p in patterns) for v in values)


def _element_covered(wide: Statement, narrow: Statement, name: str) -> bool:
    """Whether ``wide`` covers ``narrow`` on one element pair (``Action``/``NotAction``...)."""
    positive, negative = name, "Not" + name
    if positive in narrow.elements:
        if positive in wide.elements:
            return _within(narrow.elements[positive], wide.elements[positive], name)
        if negative in wide.elements:  # wide excludes some; narrow must name none of those
            return not any(_matches(v, p, name) or _matches(p, v, name)
                           for v in narrow.elements[positive] for p in wide.elements[negative])
        return positive != "Principal"  # an identity policy names no principal
    if negative in narrow.elements:
        if positive in wide.elements:
            return "*" in wide.elements[positive]
        if negative in wide.elements:  # wide excludes fewer: each of its exclusions narrow excludes too
            return _within(wide.elements[negative], narrow.elements[negative], name)
        return positive != "Principal"
    return positive not in wide.elements and negative not in wide.elements


def covers(wide: Statement, narrow: Statement) -> bool:
    """Whether every request ``narrow`` matches, ``wide`` matches too (same effect; ``wide`` has
    no condition, or the same one)."""
    if wide.unknown or narrow.unknown or wide.effect != narrow.effect:
        return False
    if wide.condition and wide.condition != narrow.condition:
        return False
    return all(_element_covered(wide, narrow, name) for name in ("Action", "Resource", "Principal"))


def _covered_by_any(statement: Statement, peers: Sequence[Statement]) -> bool:
    if any(covers(peer, statement) for peer in peers):
        return True
    # An Allow split over several statements by action: each action covered by one of them.
    actions = statement.elements.get("Action")
    if not actions or statement.unknown or len(actions) < 2:
        return False
    return all(any(covers(peer, statement_of({**statement.shown, "Action": [action]})) for peer in peers)
               for action in actions)


def _shown(statement: Statement) -> dict[str, Any]:
    shown = dict(statement.shown)
    shown.update({name: LATER for name in statement.unknown})
    return shown


def _reduced(statement: Statement, peers: Sequence[Statement]) -> dict[str, Any]:
    """``statement`` reduced to what it adds to the peer (same effect and condition) it overlaps
    most; whole when it has no such peer, Not-elements or unknown parts."""
    context = [p for p in peers if p.effect == statement.effect and p.condition == statement.condition]
    if not context or statement.unknown or any(n.startswith("Not") for n in statement.elements):
        return _shown(statement)
    peer = max(context, key=lambda p: sum(len(statement.elements.get(n, frozenset()) & p.elements.get(n, frozenset()))
                                          for n in _ELEMENTS))
    gained = {name: sorted(v for v in values if not any(_matches(v, p, name) for p in peer.elements.get(name, ())))
              for name, values in statement.elements.items() if name in peer.elements}
    shown: dict[str, Any] = {key: statement.shown[key] for key in ("Sid", "Effect") if key in statement.shown}
    shown.update({name: values for name, values in gained.items() if values})
    if len(shown) == len([k for k in ("Sid", "Effect") if k in statement.shown]):
        return _shown(statement)
    if "Condition" in statement.shown:
        shown["Condition"] = statement.shown["Condition"]
    return shown


def compare(before: Sequence[Statement], after: Sequence[Statement]) -> list[dict[str, Any]]:
    """What ``after`` grants that ``before`` does not: Allow statements no Allow before covers,
    reduced to what they add, and Deny statements before that no Deny after covers, as
    ``{"Removed": statement}``. A statement of unknown effect is shown whole."""
    allows_before = [s for s in before if s.effect == "Allow"]
    gains = [_reduced(s, allows_before) for s in after
             if s.effect != "Deny" and not _covered_by_any(s, allows_before)]
    denies_after = [s for s in after if s.effect == "Deny"]
    gains += [{"Removed": _shown(s)} for s in before
              if s.effect == "Deny" and not any(covers(d, s) for d in denies_after)]
    return gains


def withdrawn(before: Sequence[Statement], after: Sequence[Statement]) -> tuple[list[Any], list[Any]]:
    """What ``after`` takes back of what ``before`` grants: the Allow statements before that no Allow
    after covers (whole, or reduced to what is lost when an Allow after has the same Sid), and the
    statements after that may deny (a Deny, or an effect known only after apply) no Deny before
    covers. The reverse of ``compare``, for what must keep being allowed."""
    allows_after = [s for s in after if s.effect == "Allow"]
    lost = []
    for statement in before:
        if statement.effect != "Allow" or _covered_by_any(statement, allows_after):
            continue
        sid = statement.shown.get("Sid")
        namesakes = [s for s in allows_after if sid and s.shown.get("Sid") == sid]
        lost.append(_reduced(statement, namesakes) if namesakes else _shown(statement))
    denies_before = [s for s in before if s.effect == "Deny"]
    denied = [_shown(s) for s in after if s.effect != "Allow" and not any(covers(d, s) for d in denies_before)]
    return lost, denied


def added_statements(before: Any, after: Any) -> list[dict[str, Any]]:
    """What the policy JSON ``after`` grants that ``before`` does not (``compare``); a document
    that cannot be read is shown whole."""
    old, new = statements_of(before), statements_of(after)
    if new is None:
        return [{"Unparsed": after}]
    if old is None:
        return [_shown(s) for s in new] or [{"Unparsed before": before}]
    return compare(old, new)


# --- documents read at apply ---------------------------------------------------------------------

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


_BLOCK_ELEMENTS = (("effect", "Effect"), ("actions", "Action"), ("not_actions", "NotAction"),
                   ("resources", "Resource"), ("not_resources", "NotResource"), ("principals", "Principal"),
                   ("not_principals", "NotPrincipal"), ("condition", "Condition"))


class Unjudgeable(Exception):
    """A document whose statements the plan does not tell."""


class Documents:
    """The ``aws_iam_policy_document`` data sources of a plan and its configuration, to find the
    statements of a policy that is known only after apply."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self._data = {rc["address"]: rc for rc in plan.get("resource_changes") or ()
                      if rc.get("mode") == "data" and rc.get("type") == POLICY_DOCUMENT}
        self._config: dict[str, Mapping[str, Any]] = {}
        self._collect((plan.get("configuration") or {}).get("root_module") or {}, "")

    def _collect(self, module: Mapping[str, Any], prefix: str) -> None:
        for resource in module.get("resources") or ():
            self._config[prefix + str(resource.get("address"))] = resource
        for name, call in (module.get("module_calls") or {}).items():
            self._collect(call.get("module") or {}, f"{prefix}module.{name}.")

    def statements(self, rc: Mapping[str, Any], attribute: str) -> list[Statement]:
        """The statements the ``attribute`` of ``rc`` will hold, from the one document its
        expression references; raises Unjudgeable when that cannot be established."""
        address = self._referenced(rc, attribute)
        try:
            return self._document(address, set())
        except (AttributeError, TypeError, ValueError) as exc:  # a shape no terraform writes
            raise Unjudgeable(f"{address} cannot be read ({exc})") from None

    def source(self, rc: Mapping[str, Any], attribute: str) -> str:
        """The document instance ``statements`` read ``attribute`` of ``rc`` from."""
        return self._referenced(rc, attribute)

    def _expression_refs(self, rc: Mapping[str, Any], attribute: str) -> list[str]:
        module = str(rc.get("module_address") or "")
        config_key = _strip_keys(module) + ("." if module else "") + f"{rc['type']}.{rc['name']}"
        if rc.get("mode") == "data":
            config_key = _strip_keys(module) + ("." if module else "") + f"data.{rc['type']}.{rc['name']}"
        config = self._config.get(config_key)
        if config is None:
            raise Unjudgeable("the plan has no configuration for it")
        expression = (config.get("expressions") or {}).get(attribute)
        if not isinstance(expression, dict) or "references" not in expression:
            raise Unjudgeable(f"its {attribute} has no references in the plan's configuration")
        return [str(r) for r in expression["references"]]

    def _referenced(self, rc: Mapping[str, Any], attribute: str) -> str:
        """The address of the one document instance ``attribute`` of ``rc`` is built from."""
        refs = self._expression_refs(rc, attribute)
        addresses = self._instances(rc, refs, f"its {attribute}")
        if len(addresses) != 1:
            raise Unjudgeable(f"its {attribute} is built from {', '.join(refs)}, not from one policy document")
        return addresses[0]

    def _instances(self, rc: Mapping[str, Any], refs: Sequence[str], what: str) -> list[str]:
        """The document instances an expression of ``rc`` (``what``) references: of each document,
        the instances it names by key, else the document itself when it has no instances, else the
        instance of ``rc``'s own key (``lambda_base[each.key]``). Raises Unjudgeable when it is built
        from anything else, or when the instance a key expression names cannot be told (``each.key``
        beside a document named by key: which document it indexes is not in the references)."""
        module = str(rc.get("module_address") or "")
        prefix = module + "." if module else ""
        doc_prefix = f"data.{POLICY_DOCUMENT}."
        keys = [r for r in refs if r in ("each.key", "count.index")]
        others = [r for r in refs if not r.startswith(doc_prefix) and r not in keys]
        documents = sorted({_base(r) for r in refs if r.startswith(doc_prefix)})
        if others or not documents:
            raise Unjudgeable(f"{what} is built from {', '.join(refs) or 'no document'}, not from one "
                              "policy document")
        named = {document: sorted({_instance(r) for r in refs if r.startswith(doc_prefix)
                                   and _base(r) == document and _instance(r) != document})
                 for document in documents}
        if keys and any(named.values()):
            raise Unjudgeable(f"{what} names documents both by key and by {', '.join(keys)}: which instance "
                              "each is cannot be told")
        addresses: list[str] = []
        for document in documents:
            if named[document]:
                addresses += named[document]
            elif prefix + document in self._data or not any(a.startswith(prefix + document + "[") for a in self._data):
                addresses.append(document)
            elif keys and rc.get("index") is not None:
                addresses.append(f"{document}[{json.dumps(rc['index'])}]")
            else:
                raise Unjudgeable(f"which instance of {document} {what} uses cannot be told")
        return [prefix + address for address in addresses]

    def _document(self, address: str, seen: set[str]) -> list[Statement]:
        rc = self._data.get(address)
        if rc is None:
            raise Unjudgeable(f"{address} is not read by this plan")
        if address in seen:
            raise Unjudgeable(f"{address} is built from itself")
        change = rc["change"]
        after, unknown = change.get("after") or {}, change.get("after_unknown") or {}
        if unknown.get("statement") is True:
            raise Unjudgeable(f"the statements of {address} are {LATER}")
        statements: list[Statement] = []
        for name, override in (("source_policy_documents", False), ("source_json", False)):
            for found in self._included(rc, name, after, unknown, seen | {address}):
                statements = _merged(statements, found, override)
        own = []
        marks = unknown.get("statement")
        unknowns: list[Any] = marks if isinstance(marks, list) else []
        for index, block in enumerate(after.get("statement") or ()):
            block_unknown = unknowns[index] if index < len(unknowns) else {}
            if block_unknown is True:
                raise Unjudgeable(f"statement {index} of {address} is {LATER}")
            marked = frozenset(element for field, element in _BLOCK_ELEMENTS
                               if isinstance(block_unknown, dict) and has_unknown(block_unknown.get(field)))
            own.append(statement_of(document_statement(block), marked))
        statements = _merged(statements, own, True)
        for name in ("override_policy_documents", "override_json"):
            for found in self._included(rc, name, after, unknown, seen | {address}):
                statements = _merged(statements, found, True)
        return statements

    def _included(self, rc: Mapping[str, Any], name: str, after: Mapping[str, Any], unknown: Mapping[str, Any],
                  seen: set[str]) -> Iterator[list[Statement]]:
        """The statements of each document included through ``name`` (source or override)."""
        value, marks = after.get(name), unknown.get(name)
        if not has_unknown(marks):
            for text in ([value] if isinstance(value, str) else value or ()):
                found = statements_of(text)
                if found is None:
                    raise Unjudgeable(f"{rc['address']}.{name} is not a policy document")
                yield found
            return
        refs = self._expression_refs(rc, name)
        what = f"{rc['address']}.{name} ({LATER})"
        addresses = self._instances(rc, refs, what)
        if not isinstance(value, list) or len(addresses) != len(value):
            raise Unjudgeable(f"{what} is built from {', '.join(refs)}, not one policy document per entry")
        for address in addresses:
            yield self._document(address, seen)


def _merged(statements: list[Statement], added: list[Statement], override: bool) -> list[Statement]:
    """``added`` after ``statements``; with ``override``, an added statement replaces the one with
    its Sid (how ``aws_iam_policy_document`` combines its own and override documents)."""
    out = list(statements)
    for statement in added:
        sid = statement.shown.get("Sid")
        same = [i for i, s in enumerate(out) if sid and s.shown.get("Sid") == sid]
        if override and same:
            out[same[0]] = statement
        else:
            out.append(statement)
    return out


def _strip_keys(address: str) -> str:
    """``module.a["x"].module.b`` as ``module.a.module.b``."""
    out, depth = "", 0
    for char in address:
        depth += char == "["
        if not depth:
            out += char
        depth -= char == "]"
    return out


def _instance(reference: str) -> str:
    """``data.aws_iam_policy_document.kms["logs"]`` of ``data.aws_iam_policy_document.kms["logs"].json``."""
    return reference.removesuffix(".json").removesuffix(".minified_json")


def _base(reference: str) -> str:
    """``data.aws_iam_policy_document.kms`` of any reference to it."""
    return ".".join(_instance(reference).split("[", 1)[0].split(".")[:3])


# --- gains of one resource change -------------------------------------------------------------------

def gains_of(rc: Mapping[str, Any], action: str, documents: Documents) -> Iterator[AccessGain]:
    kind = rc["type"]
    if not catalogue.classified(kind):
        if action != "delete":
            yield AccessGain(rc["address"], kind, "unclassified type", action,
                             (f"{kind} is not in the review's catalogue: the access it grants cannot be judged",))
        return
    change = rc["change"]
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    holder = catalogue.holder(kind)
    if holder and action in ("update", "replace") and \
            (unknown.get(holder) is True or before.get(holder) != after.get(holder)):
        # Attached to another role, bucket, function...: all it grants is new there.
        yield AccessGain(rc["address"], kind, f"attached to another {holder}", action, (
            {holder: LATER if unknown.get(holder) is True else after.get(holder), "before": before.get(holder)},))
        before = {}
    for attribute, label in catalogue.documents(kind):
        if unknown.get(attribute) is True:
            yield from _deferred(rc, action, attribute, label, before, documents)
            continue
        if action != "delete" and after.get(attribute) == before.get(attribute):
            continue
        added = added_statements(before.get(attribute), None if action == "delete" else after.get(attribute))
        if added:
            yield AccessGain(rc["address"], kind, label, action, tuple(added))
    yield from _openings(rc, kind, action, before, after, unknown)
    if action == "delete":
        return
    for members in catalogue.members(kind):
        added = _members_added(members, before, after, unknown)
        if added:
            yield AccessGain(rc["address"], kind, members.label, action, tuple(added))
    if kind in SG_RULE_TYPES:
        direction = "ingress" if kind.endswith("ingress_rule") else "egress"
        fields = catalogue.grants(kind)
        granted = {name: after.get(name) for name in fields if after.get(name) is not None}
        granted.update({name: LATER for name in fields if unknown.get(name) is True})
        if any(before.get(name) != after.get(name) or unknown.get(name) is True for name in fields):
            yield AccessGain(rc["address"], kind, f"security group {direction} rule", action,
                             (dict(sorted(granted.items())),))
    elif kind in SECURITY_GROUP_TYPES:
        for direction in ("ingress", "egress"):
            if unknown.get(direction) is True:
                yield AccessGain(rc["address"], kind, f"security group {direction}", action, (LATER,))
                continue
            old = {_canonical(rule) for rule in _listed(before.get(direction))}
            new = [rule for rule in _listed(after.get(direction)) if _canonical(rule) not in old]
            if new:
                yield AccessGain(rc["address"], kind, f"security group {direction}", action, tuple(new))
    elif catalogue.grants(kind):
        names = catalogue.grants(kind)
        if any(before.get(name) != after.get(name) or unknown.get(name) is True for name in names):
            granted = {name: (LATER if unknown.get(name) is True else after.get(name))
                       for name in names if after.get(name) is not None or unknown.get(name) is True}
            # A field removed (a permissions boundary, a key grant's constraints) can widen too.
            granted.update({name: f"removed (was {_canonical(before[name])})" for name in names
                            if before.get(name) is not None and after.get(name) is None
                            and unknown.get(name) is not True})
            yield AccessGain(rc["address"], kind, kind.removeprefix("aws_").replace("_", " "), action, (granted,))


def _deferred(rc: Mapping[str, Any], action: str, attribute: str, label: str, before: Mapping[str, Any],
              documents: Documents) -> Iterator[AccessGain]:
    """The gain of a policy known only after apply, judged on the document it is built from."""
    old = statements_of(before.get(attribute))
    try:
        new = documents.statements(rc, attribute)
    except Unjudgeable as why:
        yield AccessGain(rc["address"], rc["type"], label, action, (f"document {LATER}: cannot be judged ({why})",))
        return
    added = [_shown(s) for s in new] if old is None else compare(old, new)
    document = documents.source(rc, attribute)
    # The configuration lists the same references for `policy = DOC.json` as for an expression
    # that rewrites it (replace(DOC.json, ...), concat(jsondecode(DOC.json).Statement, [...])):
    # the document's statements are shown, never taken for the policy's.
    unsure = (f"document {LATER}: cannot be judged (the plan's configuration lists the same references whether "
           f"{attribute} is {document}.json or an expression rewriting it, such as replace() or concat(); "
           f"what {document} grants beyond the policy before follows)")
    yield AccessGain(rc["address"], rc["type"], f"{label} (read at apply)", action, (unsure, *added))


def _openings(rc: Mapping[str, Any], kind: str, action: str, before: Mapping[str, Any], after: Mapping[str, Any],
              unknown: Mapping[str, Any]) -> Iterator[AccessGain]:
    opened = {}
    for opening in catalogue.openings(kind):
        old, new, later = _at(before, opening.path), _at(after, opening.path), _at(unknown, opening.path)
        was_open = action != "create" and old not in opening.closed
        if action == "delete":
            if opening.on_delete and not was_open:
                opened[opening.label] = "the resource is destroyed"
        elif action == "replace" and opening.on_delete and not was_open:
            # Destroyed too: off until its successor exists, or (created first) for good.
            opened[opening.label] = "the resource is replaced (destroyed)"
        elif later is True:
            opened[opening.label] = LATER
        elif new not in opening.closed and not was_open:
            opened[opening.label] = new
    if opened:
        yield AccessGain(rc["address"], kind, "opened", action, (opened,))


def _members_added(members: catalogue.Members, before: Mapping[str, Any], after: Mapping[str, Any],
                   unknown: Mapping[str, Any]) -> list[Any]:
    """The elements of a ``Members`` list after the change that none before is (compared on content,
    lists as sets), and its emptying when that opens access."""
    if has_unknown(_at(unknown, members.path)):
        return [LATER]
    old, new = _listed(_at(before, members.path)), _listed(_at(after, members.path))
    if members.empty_opens and not old:
        return []  # nothing was required: whatever is now, is narrower
    kept = {_element(item) for item in old}
    added = [item for item in new if _element(item) not in kept]
    if members.empty_opens and old and not new:
        added.append(f"removed: {path_string(members.path)} is empty, so any token the authorizer accepts is "
                     f"(was {_canonical(old)})")
    return added


def _element(value: Any) -> str:
    """A canonical form of a list element: map keys and the items of its lists sorted."""
    def sort(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: sort(v) for key, v in item.items()}
        if isinstance(item, list):
            return sorted((sort(v) for v in item), key=_canonical)
        return item
    return _canonical(sort(value))


def _at(value: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value
