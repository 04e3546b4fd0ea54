"""Judging a Terraform plan of a rendered environment: what it deletes, which live traffic it moves,
which access it grants, and whether the database password can drift from its secret.

The input is the JSON of ``terraform show -json PLANFILE``; nothing here runs terraform or
prints. ``review`` classifies every resource change once:

- counts of create / update / replace / delete (reads and no-ops are not changes);
- **data loss**: a delete or replace of a resource that holds data (``DATA_TYPES``), with the
  attribute paths that force the replacement (the plan's ``replace_paths``) or the reason
  terraform gives (removed from the configuration, a ``for_each`` key gone, ``-replace``...);
  and a change that removes or weakens what protects data (``protection``: point-in-time
  recovery off, a retention shortened, an expiration added...: tfgen.deploy.review.data);
- **traffic**: per payment function and colour, the alias version before and after (``None``
  after: the version this apply publishes), the listener weights before and after, and whether
  the function's code changes;
- **access**: the policy documents, grants, rules and settings of the catalogue's access types
  that gain actions, resources, principals, ports or CIDRs, lose a Deny or a condition, or open
  (an API route without authorization, a public access block off), with only the added parts
  (tfgen.deploy.review.access);
- **credentials**: changes that would leave the master password of the Aurora cluster and
  the secret holding it different;
- the rest, as counts per resource type.

``Review.refusals`` says what ``tfgen apply`` refuses without an explicit override. The JSON
form (``Review.as_json``) is a stable schema documented in the README (``SCHEMA_VERSION``);
tfgen.deploy.review_format renders a review as text, markdown or that JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.access import AccessGain, Documents, gains_of
from tfgen.deploy.review.catalogue import traffic_address
from tfgen.deploy.review.changes import ACTIONS, action_of
from tfgen.deploy.review.credentials import problems
from tfgen.deploy.review.data import DataLoss, loss_of
from tfgen.deploy.review.serving import Alias, aliases

SCHEMA_VERSION = 1


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
        lines = [f"{loss.address}: {loss.action} {'weakens data protection' if loss.protection else 'loses data'} "
                 f"({'; '.join(loss.reasons)}); allow it with --allow-data-loss {loss.address}"
                 for loss in self.data_loss if loss.address not in allowed_loss]
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
                           "protection": d.protection} for d in self.data_loss],
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
    documents = Documents(plan)
    for rc in changes:
        by_address[rc["address"]] = rc
        action = action_of(rc["change"]["actions"])
        if action is None:
            continue
        counts[action] += 1
        kind = rc["type"]
        loss = loss_of(rc, action)
        if loss is not None:
            data_loss.append(loss)
        gains = list(gains_of(rc, action, documents))
        access += gains
        if loss is None and not gains and not traffic_address(rc["address"]):
            other.setdefault(kind, Counter())[action] += 1
    return Review(
        env=env, plan_file=plan_file, rendered_digest=rendered_digest, counts=counts,
        data_loss=sorted(data_loss, key=lambda d: d.address), traffic=aliases(by_address),
        access=sorted(access, key=lambda g: g.address), credentials=problems(by_address),
        other={kind: dict(sorted(c.items())) for kind, c in sorted(other.items())},
    )


