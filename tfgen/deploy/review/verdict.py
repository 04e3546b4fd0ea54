"""Judging a Terraform plan of a rendered environment: what it deletes, which live traffic it moves,
which access it grants, and whether the database password can drift from its secret.

The input is the JSON of ``terraform show -json PLANFILE``; nothing here runs terraform or
prints. ``review`` classifies every resource change once:

- counts of create / update / replace / delete / forget (reads and no-ops are not changes);
- **data loss**: a delete or replace of a resource that holds data (``DATA_TYPES``), with the
  attribute paths that force the replacement (the plan's ``replace_paths``) or the reason
  terraform gives (removed from the configuration, a ``for_each`` key gone, ``-replace``...);
  and a change that removes or weakens what protects data (``protection``: point-in-time
  recovery off, a retention shortened, an expiration added...: tfgen.deploy.review.data);
- **detection reduced**: a change that stops or weakens what logs and alerts (a flow log deleted,
  an alarm's actions removed, a database log export dropped...: tfgen.deploy.review.detection,
  the same judge ``tfgen drift`` uses);
- **traffic**: per payment function, the serving table before and after the apply (serving):
  each colour's version, weight and whether that version served before, with what breaks the
  canary rules or stays unknown (traffic risks) and what stops serving (outages). A partial
  (``-target``) plan is judged with the values its ``prior_state`` gives the resources it leaves
  out;
- **access**: the policy documents, grants, rules and settings of the catalogue's access types
  that gain actions, resources, principals, ports or CIDRs, lose a Deny or a condition, or open
  (an API route without authorization, a public access block off), with only the added parts
  (tfgen.deploy.review.access);
- **credentials**: changes that would leave the master password of the Aurora cluster and
  the secret holding it different;
- the rest, as counts per resource type;
- **unreadable**: entries of no shape terraform writes (a mode neither managed nor data, or data
  at an address that is not a data source's, which would hide a managed change): refused.

``Review.refusals`` says what ``tfgen apply`` refuses without an explicit override. The JSON
form (``Review.as_json``) is a stable schema documented in the README (``SCHEMA_VERSION``);
tfgen.deploy.review_format renders a review as text, markdown or that JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.access import AccessGain, Documents, gains_of
from tfgen.deploy.review.catalogue import CLUSTER, SECRET_VERSION, traffic_address
from tfgen.deploy.review.changes import ACTIONS, Resources, action_of, data_address
from tfgen.deploy.review.credentials import ROTATION, problems
from tfgen.deploy.review.credentials import changes as set_anew
from tfgen.deploy.review.data import DataLoss, loss_of
from tfgen.deploy.review.detection import DetectionLoss, reduction_of
from tfgen.deploy.review.serving import DEFAULT_MAX_STEP, Serving, serving, shared_changes

SCHEMA_VERSION = 2


@dataclass
class Review:
    env: str
    plan_file: str
    rendered_digest: str
    counts: dict[str, int]
    data_loss: list[DataLoss]
    traffic: list[Serving]
    access: list[AccessGain]
    credentials: list[str]
    other: dict[str, dict[str, int]]
    shared_traffic: list[str] = dataclasses.field(default_factory=list)  # load balancer, listener changes
    partial: bool = False  # a -target plan ("complete": false)
    imports: list[str] = dataclasses.field(default_factory=list)  # brought into the state (import blocks)
    plan_sha256: str = ""  # of the plan file reviewed
    detection_loss: list[DetectionLoss] = dataclasses.field(default_factory=list)
    credential_changes: list[str] = dataclasses.field(default_factory=list)  # an import setting new ones: said
    unreadable: list[str] = dataclasses.field(default_factory=list)  # entries of no shape terraform writes: refused

    @property
    def changes(self) -> bool:
        return any(self.counts.values()) or bool(self.imports)

    def risky_functions(self) -> list[str]:
        return sorted(s.function for s in self.traffic if s.risks)

    def refusals(self, allow_data_loss: Iterable[str] = (), allow_traffic_risk: Iterable[str] = (),
                 allow_outage: Iterable[str] = (), allow_detection_loss: Iterable[str] = ()) -> list[str]:
        """What ``tfgen apply`` refuses, one line each, with the override or the fix."""
        allowed_loss, allowed_risk, allowed_outage = set(allow_data_loss), set(allow_traffic_risk), set(allow_outage)
        lines = [f"{loss.address}: {loss.action} {'weakens data protection' if loss.protection else 'loses data'} "
                 f"({'; '.join(loss.reasons)}); allow it with --allow-data-loss {loss.address}"
                 for loss in self.data_loss if loss.address not in allowed_loss]
        allowed_detection = set(allow_detection_loss)
        lines += [f"{d.address}: {d.action} reduces detection ({'; '.join(d.reasons)}); allow it with "
                  f"--allow-detection-loss {d.address}" for d in self.detection_loss
                  if d.address not in allowed_detection]
        lines += [risk for s in self.traffic if s.function not in allowed_risk for risk in s.risks]
        lines += [f"{s.function}: stops serving: {'; '.join(s.outages)}; allow it with --allow-outage {s.function}"
                  for s in self.traffic if s.outages and s.function not in allowed_outage]
        return lines + list(self.credentials) + list(self.unreadable)

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "env": self.env,
            "plan_file": self.plan_file,
            "plan_sha256": self.plan_sha256,
            "rendered_digest": self.rendered_digest,
            "changes": self.changes,
            "counts": dict(self.counts),
            "imports": list(self.imports),
            "data_loss": [{"address": d.address, "type": d.type, "action": d.action, "reasons": list(d.reasons),
                           "protection": d.protection} for d in self.data_loss],
            "detection_loss": [{"address": d.address, "type": d.type, "action": d.action, "reasons": list(d.reasons)}
                               for d in self.detection_loss],
            "partial": self.partial,
            "traffic": [{"function": s.function, "first_deploy": s.first_deploy, "aliases": [
                {"colour": a.colour, "address": a.address, "version_before": a.version_before,
                 "version_after": a.version_after, "publishes": a.publishes, "exists_after": a.exists_after,
                 "moves": a.moves, "weight_before": a.weight_before, "weight_after": a.weight_after,
                 "served": a.served, "code_changes": a.code_changes} for a in s.aliases],
                "risks": list(s.risks), "outages": list(s.outages), "changes": list(s.changes)}
                for s in self.traffic],
            "shared_traffic": list(self.shared_traffic),
            "access": [{"address": g.address, "type": g.type, "kind": g.kind, "action": g.action,
                        "added": list(g.added)} for g in self.access],
            "credentials": list(self.credentials),
            "credential_changes": list(self.credential_changes),
            "unreadable": list(self.unreadable),
            "other": {kind: dict(actions) for kind, actions in self.other.items()},
            "refusals": self.refusals(),
        }


def review(plan: Mapping[str, Any], env: str = "", plan_file: str = "", rendered_digest: str = "",
           max_step: int = DEFAULT_MAX_STEP, plan_sha256: str = "") -> Review:
    """Classify every resource change of ``plan`` (the JSON of ``terraform show -json``);
    ``max_step`` is the environment's ``lambda.traffic_max_step``."""
    changes, unreadable = _managed(plan.get("resource_changes") or ())
    counts = dict.fromkeys(ACTIONS, 0)
    data_loss: list[DataLoss] = []
    detection_loss: list[DetectionLoss] = []
    access: list[AccessGain] = []
    other: dict[str, Counter[str]] = {}
    documents = Documents(plan)
    imports = sorted(rc["address"] for rc in changes if rc["change"].get("importing"))
    for rc in changes:
        action = action_of(rc["change"]["actions"])
        if action is None:
            continue
        counts[action] += 1
        kind = rc["type"]
        loss = loss_of(rc, action)
        if loss is not None:
            data_loss.append(loss)
        reduced = reduction_of(rc, action, documents)
        if reduced is not None:
            detection_loss.append(reduced)
        gains = list(gains_of(rc, action, documents))
        access += gains
        if loss is None and reduced is None and not gains and not traffic_address(rc["address"]):
            other.setdefault(kind, Counter())[action] += 1
    resources = Resources(plan)
    return Review(
        env=env, plan_file=plan_file, rendered_digest=rendered_digest, counts=counts,
        data_loss=sorted(data_loss, key=lambda d: d.address),
        traffic=serving(resources, env, max_step), access=sorted(access, key=lambda g: g.address),
        credentials=_credentials(resources), other={kind: dict(sorted(c.items())) for kind, c in sorted(other.items())},
        shared_traffic=shared_changes(resources), partial=resources.partial, imports=imports,
        plan_sha256=plan_sha256, detection_loss=sorted(detection_loss, key=lambda d: d.address),
        credential_changes=set_anew({a: found for a in (CLUSTER, SECRET_VERSION, ROTATION)
                                     if (found := resources.get(a))}),
        unreadable=unreadable,
    )


def _managed(entries: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The changes of managed resources, and what is wrong with each entry that is neither one of
    those nor a data source's (a mode "data" at a managed address would hide what it changes)."""
    managed, unreadable = [], []
    for rc in entries:
        mode = rc.get("mode", "managed")
        if mode == "managed":
            managed.append(rc)
        elif mode != "data":
            unreadable.append(f"{rc.get('address')}: mode {json.dumps(mode)} is neither managed nor data: {_UNWRITTEN}")
        elif not data_address(str(rc.get("address"))):
            unreadable.append(f'{rc.get("address")}: mode "data" at an address that is not a data source\'s: what it '
                              f"changes cannot be told: {_UNWRITTEN}")
    return managed, unreadable


_UNWRITTEN = "the plan is not one terraform writes: plan again"


def _credentials(resources: Resources) -> list[str]:
    """The password checks, with the cluster or secret a partial plan leaves out as it is."""
    pair = {address: rc for address in (CLUSTER, SECRET_VERSION) if (rc := resources.get(address)) is not None}
    unseen = [address for address in (CLUSTER, SECRET_VERSION) if not resources.known(address)]
    if unseen and len(pair) == 1 and action_of(next(iter(pair.values()))["change"]["actions"]):
        return [f"{unseen[0]}: the plan is partial (-target) and has no prior_state, so whether the database "
                "password and its secret stay the same is unknown: plan without -target"]
    return problems(pair)


