"""``tfgen adopt ENV --state FILE``: bring an existing stack under tfgen through reviewed imports.

1. ENV is rendered with no adoption record and planned with terraform's refresh off: the
   resources tfgen would create (tfgen's own state for ENV must not hold them already).
2. They are matched to the objects of FILE (tfgen.deploy.adopt_match) by identity. An ambiguous
   or conflicting match refuses the adoption.
3. The matches are written into the adoption record (tfgen.render.adoption), ENV is rendered again
   (with ``imports.tf``) and planned through the reviewed flow (tfgen.deploy.plans): the saved
   plan is what ``tfgen apply ENV`` applies, and its review is the guard's.
4. The report: the imports; what updates in place on import (settings that differ); what would
   be replaced, with the environment setting that would avoid it; what tfgen creates anew and
   what is re-created; what the old stack has that tfgen does not manage; and how to drop the
   adopted objects (and the old ones tfgen's re-created objects take the place of) from the old
   state and configuration without destroying them. The adoption is refused when the review
   refuses the plan (data loss, traffic, credentials) beyond what the caller allows.

A refused adoption (or one that fails or is interrupted) changes no file: the adoption record and
the environment file are put back as they were, the tree is rendered from them again and the plan
is discarded. Values terraform marks sensitive never reach the report.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tfgen.deploy import adopt_match, plans, traffic
from tfgen.deploy.adopt_match import Matching
from tfgen.deploy.review import Review
from tfgen.errors import Finding, TfgenError, UsageError
from tfgen.project import Project
from tfgen.render import adoption
from tfgen.render.adoption import Adoption


class AdoptionRefused(Finding):
    """The existing stack cannot be adopted as it is; nothing was recorded."""


@dataclass(frozen=True)
class Allowed:
    """What ``tfgen apply`` will be told to allow (its ``--allow-*`` options): the adoption is not
    refused for them."""

    data_loss: tuple[str, ...] = ()
    traffic_risk: tuple[str, ...] = ()
    outage: tuple[str, ...] = ()
    detection_loss: tuple[str, ...] = ()


@dataclass
class Report:
    env: str
    matching: Matching
    review: Review | None = None
    updates: list[tuple[str, list[str]]] = field(default_factory=list)  # address, "attr: before -> after" lines
    replaces: list[tuple[str, list[str]]] = field(default_factory=list)  # address, "attr: setting" lines
    credentials: str = adoption.KEPT
    pinned: list[str] = field(default_factory=list)  # the traffic settings pinned to the live versions
    superseded: list[str] = field(default_factory=list)  # old objects tfgen's re-created ones take the place of
    allowed: Allowed = field(default_factory=Allowed)

    @property
    def refusals(self) -> list[str]:
        """The matcher's errors and the review's refusals; a refused resource whose difference an
        environment setting would avoid names the setting."""
        hints: dict[str, list[str]] = {}
        for address, lines in (*self.updates, *self.replaces):
            hints[address] = [line.split(": set ", 1)[1] for line in lines if ": set " in line]
        lines, allowed = [], self.allowed
        refused = self.review.refusals(allowed.data_loss, allowed.traffic_risk, allowed.outage,
                                       allowed.detection_loss) if self.review else []
        for line in refused:
            settings = hints.get(line.split(": ", 1)[0])
            lines.append(f"{line}; or set {' and '.join(settings)}" if settings else line)
        return self.matching.errors + lines

    @property
    def unmanaged(self) -> list[str]:
        """The old stack's objects tfgen neither adopts nor takes the place of."""
        return [a for a in self.matching.unmanaged if a not in self.superseded]

    def dropped(self) -> list[str]:
        """The old stack's objects to drop from its state: the adopted ones, and those tfgen's
        re-created objects take the place of."""
        return [m.existing for m in self.matching.matches] + list(self.superseded)

    def state_rm(self) -> list[str]:
        return [f"terraform state rm {shlex.quote(address)}" for address in self.dropped()]

    def _resources(self) -> tuple[list[str], list[str]]:
        """The old configuration's resources whose every object is dropped, and those dropped in
        part (the old stack keeps other instances). None of the first when an old address cannot
        be read: which resource it belongs to is unknown."""
        dropped = set(self.dropped())
        kept: set[str] = set()
        for address in self.unmanaged:
            resource = resource_of(address)
            if resource is None:
                return [], []
            kept.add(resource)
        resources = {r for address in dropped if (r := resource_of(address)) is not None}
        return sorted(resources - kept), sorted(resources & kept)

    def removed_blocks(self) -> list[str]:
        resources = self._resources()[0]
        return [f"removed {{\n  from = {r}\n  lifecycle {{\n    destroy = false\n  }}\n}}" for r in resources]

    def adopted_in_part(self) -> list[str]:
        return self._resources()[1]

    def as_json(self) -> dict[str, Any]:
        m = self.matching
        return {
            "env": self.env,
            "adopted": not self.refusals,
            "imports": [{"address": x.address, "existing": x.existing, "id": x.import_id} for x in m.matches],
            "updates_in_place": [{"address": a, "attributes": lines} for a, lines in self.updates],
            "replaces": [{"address": a, "settings": lines} for a, lines in self.replaces],
            "created": [{"address": a, "why": why} for a, why in m.created],
            "recreated": [{"address": a, "traffic": what} for a, what in m.recreated],
            "unmanaged": self.unmanaged,
            "credentials": self.credentials,
            "pinned": self.pinned,
            "old_state": {"state_rm": self.state_rm(), "removed_blocks": self.removed_blocks(),
                          "adopted_in_part": self.adopted_in_part(), "superseded": list(self.superseded)},
            "refusals": self.refusals,
        }

    def text(self) -> str:
        m = self.matching
        out = [f"{self.env}: adoption of {len(m.matches)} existing objects"]
        sections: list[tuple[str, list[str]]] = [
            ("imports", [f"{x.address} <- {x.existing} ({x.import_id})" for x in m.matches]),
            ("updated in place on import (settings that differ)",
             [f"{a}: {'; '.join(lines)}" for a, lines in self.updates]),
            ("replaced (forced by a setting)", [f"{a}: {'; '.join(lines)}" for a, lines in self.replaces]),
            ("created anew", [f"{a}: {why}" for a, why in m.created]),
            ("re-created (cannot be imported)", [f"{a}: {what}" for a, what in m.recreated]),
            ("in the old stack, not managed by tfgen", self.unmanaged),
            ("in the old stack, registered again by tfgen (dropped from the old state below: the old stack's "
             "destroy would deregister them)", list(self.superseded)),
            ("credentials", [_CREDENTIALS[self.credentials],
                             *(self.review.credential_changes if self.review else [])]),
            (f"traffic pinned to the versions the old stack serves (environments/{self.env}.yaml)"
             if not self.refusals else "traffic the adoption pins to the versions the old stack serves (with it)",
             self.pinned),
            ("old state: after the apply, drop these objects from it without destroying them, and delete the "
             "adopted resources from the old configuration (CDKTF: their constructs from the stack's code) in the "
             "same change, or its next apply creates them again", self.state_rm()),
            ("or, in an HCL configuration, replace each of these resource blocks by its removed block, in the same "
             "change (terraform refuses a removed block for a resource still declared)", self.removed_blocks()),
            ("adopted in part (the old stack keeps other instances): terraform state rm only, and delete the "
             "adopted instances from the resource's for_each or count", self.adopted_in_part()),
        ]
        for title, lines in sections:
            if lines:
                out.append(f"{title}:")
                out += [f"  {line}".replace("\n", "\n  ") for line in lines]
        if self.refusals:
            out.append("refused:")
            out += [f"  {line}" for line in self.refusals]
            out.append(f"nothing recorded: environments/{self.env}.yaml and environments/{adoption.DIRECTORY}/"
                       f"{self.env}.json are as they were, and the plan is discarded")
        else:
            out.append(f"next: review `tfgen plan {self.env}`, then `tfgen apply {self.env}`; after the apply, "
                       "drop the objects from the old state and delete the adopted resources from the old "
                       "configuration as above")
        return "\n".join(out) + "\n"


_CREDENTIALS = {
    adoption.KEPT: "kept: the master password, the secret's value and the rotation schedule stay as they are "
                   "(no password reset, no new secret version, no rotation started); "
                   "--rotate-credentials to set new ones",
    adoption.ROTATED: "rotated (--rotate-credentials): the apply sets a new master password on the cluster and "
                      "writes it into a new secret version; the rotation keeps its schedule (what it does follows, "
                      "as the plan's review says it)",
}


_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_KEY = r'\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\]'
_MODULE = re.compile(rf"module\.({_NAME})(?:{_KEY})?\.")
_RESOURCE = re.compile(rf"((?:module\.{_NAME}(?:{_KEY})?\.)*)([a-z][a-z0-9_]*\.{_NAME})(?:{_KEY})?")


def resource_of(address: str) -> str | None:
    """The resource of the configuration a state address is an instance of: its module path and
    type.name with every instance key left out (``module.net["a"].aws_subnet.x["0"]`` ->
    ``module.net.aws_subnet.x``), as a ``removed`` block names it; None when ``address`` is not
    one."""
    found = _RESOURCE.fullmatch(address)
    if found is None:
        return None
    return "".join(f"module.{m.group(1)}." for m in _MODULE.finditer(found.group(1))) + found.group(2)


# What an object of a type tfgen cannot import is known by: an old object whose each of these
# attributes names the old object its counterpart in tfgen refers to is the same AWS object.
_SUPERSEDES = {"aws_lb_target_group_attachment": ("target_group_arn", "target_id")}


def superseded(plan: Mapping[str, Any], state: Mapping[str, Any], matching: Matching) -> list[str]:
    """The old stack's objects that tfgen's re-created ones take the place of (an attachment tfgen
    registers again to the same target group and target): left in the old state, the old stack's
    destroy would delete what tfgen now relies on. ``plan`` is tfgen's plan of the resources it
    creates (the matcher's input), ``state`` the old stack's."""
    old = {e.address: e for e in adopt_match.existing_objects(state)}
    adopted = {m.address: old[m.existing] for m in matching.matches if m.existing in old}
    recreated = {address for address, _ in matching.recreated}
    free = [old[a] for a in matching.unmanaged if a in old]
    found: list[str] = []
    for wanted in adopt_match.wanted_resources(plan):
        fields = _SUPERSEDES.get(wanted.type)
        if wanted.address not in recreated or fields is None:
            continue
        targets = [adopted.get(wanted.refers.get(name) or "") for name in fields]
        if any(target is None for target in targets):
            continue  # refers to something tfgen does not adopt, or the plan cannot tell what
        same = [e for e in free if e.type == wanted.type and e.address not in found
                and all(e.values.get(name) in target.identifiers() for name, target in zip(fields, targets, strict=True)
                        if target is not None)]
        if len(same) == 1:
            found.append(same[0].address)
    return sorted(found)


def read_state(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the state: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a state (a JSON object)")
    return data


def adopt(project: Project, env: str, state_file: Path, overrides: Sequence[str] = (),
          rotate_credentials: bool = False, allowed: Allowed = Allowed()) -> Report:
    """Match, record and plan the adoption of the stack whose state is ``state_file``. Unless it is
    adopted (no refusal), the adoption record and the environment file are left as they were, the
    tree is rendered from them again and the plan is discarded."""
    state = read_state(state_file)
    existing = adoption.read(project.env_dir, env)
    if existing is not None and existing.applied:
        raise UsageError(f"{adoption.path(project.env_dir, env)}: {env} was adopted and applied already")
    with _undone_unless_kept(project, env, overrides) as keep:
        adoption.write(project.env_dir, env, None)
        list(project.write([env], list(overrides)))
        wanted = plans.plan_environment(project, env, overrides, ["-refresh=false"])
        plan = json.loads((wanted.directory / plans.SHOW_FILE).read_text(encoding="utf-8"))
        plans.discard(wanted.directory)
        try:
            matching = adopt_match.match(plan, state, partial(setting, project.template_dir))
        except adopt_match.MatchError as exc:
            raise UsageError(f"{state_file}: {exc}") from None
        credentials = adoption.ROTATED if rotate_credentials else adoption.KEPT
        if matching.errors:
            kept = f" ({adoption.path(project.env_dir, env)} is as it was)" if existing is not None else ""
            raise AdoptionRefused("\n".join([f"tfgen adopt {env}: refused, nothing recorded{kept}:",
                                             *(f"  {line}" for line in matching.errors)]))
        adoption.write(project.env_dir, env, Adoption({m.address: m.import_id for m in matching.matches},
                                                      credentials))
        pinned = pin(project, env, matching, state)
        list(project.write([env], list(overrides)))
        planned = plans.plan_environment(project, env, overrides)
        shown = json.loads((planned.directory / plans.SHOW_FILE).read_text(encoding="utf-8"))
        updates, replaces = differences(shown, project.template_dir)
        report = Report(env, matching, planned.review, updates, replaces, credentials, pinned,
                        superseded(plan, state, matching), allowed)
        if not report.refusals:
            keep()
    return report


@contextmanager
def _undone_unless_kept(project: Project, env: str, overrides: Sequence[str]) -> Iterator[Callable[[], None]]:
    """Unless the block calls the function it is given, put the adoption record and the environment
    file back as they were when it ends (a refusal, an error, an interrupt), render the
    environment from them again and discard its saved plan: a refused adoption changes no file."""
    files = [adoption.path(project.env_dir, env), project.env_dir / f"{env}.yaml"]
    before = {path: path.read_bytes() if path.is_file() else None for path in files}
    kept: list[bool] = []
    try:
        yield lambda: kept.append(True)
    finally:
        if not kept:
            for path, data in before.items():
                if (path.read_bytes() if path.is_file() else None) != data:
                    _put_back(path, data)
            plans.discard(project.target(env))
            with suppress(TfgenError):  # plan and apply refuse a tree left stale, and say to render
                list(project.write([env], list(overrides)))


def _put_back(path: Path, data: bytes | None) -> None:
    """``path`` with the bytes ``data`` (None: no file), replaced at once."""
    if data is None:
        path.unlink(missing_ok=True)
        return
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def live_versions(matching: Matching, state: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Function -> colour -> the published version the old stack's alias runs, read through the
    matches (the old stack's addresses are its own)."""
    values = {e.address: e.values for e in adopt_match.existing_objects(state)}
    shown = [{"type": m.type, "mode": "managed", "index": m.address.split("[", 1)[-1].strip('"]'),
              "values": values.get(m.existing) or {}} for m in matching.matches if m.type == "aws_lambda_alias"]
    return traffic.deployed_versions({"values": {"root_module": {"resources": shown}}})


def pin(project: Project, env: str, matching: Matching, state: Mapping[str, Any]) -> list[str]:
    """Pin each adopted function's aliases to the versions they serve, as `tfgen traffic pin`
    does: importing a function publishes a new version, which an alias following the newest one
    would take, moving live traffic. Returns the settings changed."""
    live = live_versions(matching, state)
    moves = {key: partial(traffic.pinned, deployed=colours) for key, colours in live.items()
             if set(colours) == {"blue", "green"}}
    return [str(change) for change in traffic.apply(project, env, moves).changes] if moves else []


# The arguments provider 5.100 does not read when it imports an object of the type: the import
# leaves them null, and the first apply writes the configured value. Each with why, and the value
# that keeps what the object does now (None when no value does: nothing about the object changes).
# Any other null -> value difference is a real one: the import read null.
NOT_READ_ON_IMPORT: dict[tuple[str, str], tuple[str, Any]] = {
    ("aws_s3_bucket", "force_destroy"): ("terraform's own: whether destroying the bucket deletes its objects", False),
    ("aws_kms_key", "deletion_window_in_days"): ("used only when the key is scheduled for deletion", None),
    ("aws_kms_key", "bypass_policy_lockout_safety_check"): ("sent with a key policy update, never read", None),
    ("aws_lambda_function", "filename"): ("the local file terraform uploads", None),
    ("aws_lambda_function", "publish"): ("terraform's own: whether an update publishes a version", None),
    ("aws_lb_target_group", "deregistration_delay"): ("no attribute of a Lambda target group in AWS", None),
    ("aws_lb_target_group", "proxy_protocol_v2"): ("no attribute of a Lambda target group in AWS", None),
    ("aws_lb_target_group", "slow_start"): ("no attribute of a Lambda target group in AWS", None),
    ("aws_rds_cluster", "enable_global_write_forwarding"): ("sent on create and modify, never read", None),
    ("aws_rds_cluster", "enable_local_write_forwarding"): ("sent on create and modify, never read", None),
    ("aws_rds_cluster", "master_password_wo_version"): ("the version of a write-only password", None),
    ("aws_secretsmanager_secret_version", "secret_string_wo_version"): ("the version of a write-only value", None),
    ("aws_secretsmanager_secret_rotation", "rotate_immediately"):
        ("sent only when the rotation function or rules change", None),
}
SENSITIVE = "(sensitive)"


def differences(plan: Mapping[str, Any], template_dir: Path) -> tuple[list[tuple[str, list[str]]],
                                                                      list[tuple[str, list[str]]]]:
    """The imported resources that update in place (with the attributes that differ) and those
    replaced (with the attributes that force it), each with the old and new values and the
    setting that keeps the old one. A value terraform marks sensitive is never shown, nor a
    setting value offered for it."""
    updates, replaces = [], []
    for rc in plan.get("resource_changes") or ():
        change = rc["change"]
        if not change.get("importing"):
            continue
        before, after = change.get("before") or {}, change.get("after") or {}
        actions = list(change["actions"])
        if actions == ["update"]:
            unknown = change.get("after_unknown") or {}
            attributes = sorted(set(after) | {k for k, v in unknown.items() if v is True})
            lines = [_difference(rc, attr, template_dir) for attr in attributes
                     if (before.get(attr) != after.get(attr) if unknown.get(attr) is not True
                         else before.get(attr) is not None)]
            updates.append((rc["address"], lines or [f"no attribute differs ({_reason(change)})"]))
        elif "delete" in actions:
            lines = [_difference(rc, str(path[0]), template_dir) for path in change.get("replace_paths") or ()]
            replaces.append((rc["address"], lines or ["replaced"]))
    return updates, replaces


def _difference(rc: Mapping[str, Any], attr: str, template_dir: Path) -> str:
    """``attr before -> after`` of an imported resource, with the setting that keeps ``before``."""
    change = rc["change"]
    old, new = (change.get("before") or {}).get(attr), (change.get("after") or {}).get(attr)
    secret = _sensitive(change.get("before_sensitive"), attr) or _sensitive(change.get("after_sensitive"), attr)
    old_text, new_text = (SENSITIVE, SENSITIVE) if secret else (_short(old), _short(new))
    if (change.get("after_unknown") or {}).get(attr) is True:
        return f"{attr} {old_text} -> (known after apply)"
    line = f"{attr} {old_text} -> {new_text}"
    where = setting(template_dir, rc["address"], attr)
    unread = NOT_READ_ON_IMPORT.get((rc["type"], attr)) if old is None else None
    if unread is not None:
        keep = unread[1]
        if where and keep is not None and not secret:
            return f"{line} (not read on import): set {where}: {_short(keep)} to keep it"
        return f"{line} (not read on import{f'; from {where}' if where else ''})"
    if where is None:
        return line
    if secret or old is None:
        return f"{line} (from {where})"  # no value of the setting keeps it
    return f"{line}: set {where}: {_short(old)} to keep it"


def _sensitive(marks: Any, attr: str) -> bool:
    """Whether terraform marks ``attr``, or anything inside it, sensitive (``before_sensitive`` /
    ``after_sensitive``: true, or an object or list of such marks)."""
    if marks is True:
        return True
    return isinstance(marks, Mapping) and _marked(marks.get(attr))


def _marked(marks: Any) -> bool:
    if isinstance(marks, Mapping):
        return any(_marked(value) for value in marks.values())
    if isinstance(marks, list):
        return any(_marked(value) for value in marks)
    return marks is True


def _short(value: Any, limit: int = 80) -> str:
    """A value as the environment file writes it: 'a string', false, 3, {"a": 1}."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _reason(change: Mapping[str, Any]) -> str:
    return str(change.get("action_reason") or "terraform gave no reason")


_BLOCK = re.compile(r'^resource "([a-z0-9_]+)" "([A-Za-z0-9_-]+)"')
_SETTING = re.compile(r"^\s*([a-z0-9_]+)\s*=\s*\{\{\s*(cfg|names)\.([A-Za-z0-9_.]+)")


def setting(template_dir: Path, address: str, attribute: str) -> str | None:
    """The environment setting a template writes into ``attribute`` of ``address``
    (``database.database_name``), or the derived name it takes (``the name names.x``)."""
    kind, name = address.split("[", 1)[0].split(".", 1)
    for template in sorted(template_dir.glob("*.j2")):
        inside = False
        for line in template.read_text(encoding="utf-8").splitlines():
            block = _BLOCK.match(line)
            if block:
                inside = block.groups() == (kind, name)
            elif inside and (found := _SETTING.match(line)) and found.group(1) == attribute:
                path = found.group(3).replace("lambda_.", "lambda.")
                return path if found.group(2) == "cfg" else f"the name tfgen derives (names.{path})"
    return None
