"""Detection reduced: a change that stops or weakens what logs and alerts on the platform (PCI DSS
10.x): the VPC's flow logs, the access logs of the audit bucket, the API and the load balancer,
the database's exported logs, an alarm or its actions, the subscription alerts reach.

The attributes are the catalogue's (``Entry.detection``, ``Entry.unwatched``:
tfgen.deploy.review.catalogue), judged with the rules of the data-protection judge
(tfgen.deploy.review.data): a value that must stay on, elements that must stay, a destination
that must stay the same. A value known only after apply is a reduction too.

The plan review (tfgen.deploy.review.verdict) and the drift judge (tfgen.deploy.review.drift) judge
the same changes with it: ``tfgen apply`` refuses a plan that reduces detection unless its address
is named with ``--allow-detection-loss``; ``tfgen drift`` reports the live stack's under
"detection reduced".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review import catalogue
from tfgen.deploy.review.data import weakenings


@dataclass(frozen=True)
class DetectionLoss:
    address: str
    type: str
    action: str  # "delete", "replace" or "update"
    reasons: tuple[str, ...]


def reduction_of(rc: Mapping[str, Any], action: str) -> DetectionLoss | None:
    """What ``rc`` stops logging or alerting on, or how it weakens that; None when it does neither.
    A resource created has nothing to weaken."""
    kind = rc["type"]
    if action in ("delete", "replace") and catalogue.unwatched(kind):
        return DetectionLoss(rc["address"], kind, action, (catalogue.unwatched(kind),))
    if action not in ("update", "replace") or not catalogue.detection(kind):
        return None
    reasons = tuple(weakenings(rc, action, catalogue.detection(kind)))
    return DetectionLoss(rc["address"], kind, action, reasons) if reasons else None
