"""Data loss: a delete or replace of a resource that holds data."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfgen.deploy.review.catalogue import DATA_TYPES
from tfgen.deploy.review.changes import reasons_of


@dataclass(frozen=True)
class DataLoss:
    address: str
    type: str
    action: str  # "delete" or "replace"
    reasons: tuple[str, ...]
    follows: str | None = None  # the loss it is part of: allowing that one allows this one


def loss_of(rc: Mapping[str, Any], action: str) -> DataLoss | None:
    if action not in ("delete", "replace") or rc["type"] not in DATA_TYPES:
        return None
    return DataLoss(rc["address"], rc["type"], action, tuple(reasons_of(rc)))


def followers(losses: list[DataLoss]) -> list[DataLoss]:
    """An Aurora instance replaced because its cluster is (its cluster_identifier is known only
    after apply) follows the cluster's replacement: allowing the cluster allows it."""
    clusters = [loss.address for loss in losses if loss.type == "aws_rds_cluster"]
    if len(clusters) != 1:
        return losses
    return [dataclasses.replace(loss, follows=clusters[0])
            if loss.type == "aws_rds_cluster_instance" and loss.action == "replace"
            and any(reason.startswith("cluster_identifier forces replacement") for reason in loss.reasons)
            else loss for loss in losses]


