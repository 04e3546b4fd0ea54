"""Credentials: changes that would leave the Aurora cluster's master password and the secret holding
it different (``problems``, refused), and what an apply that imports them does to the live
credentials (``changes``, said: ``tfgen adopt --rotate-credentials``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfgen.deploy.review.catalogue import CLUSTER, SECRET_VERSION
from tfgen.deploy.review.changes import action_of

PASSWORD_VERSION = "master_password_wo_version"
SECRET_VALUE_VERSION = "secret_string_wo_version"
# Cluster attributes written into the secret: a change must come with a new password version,
# which rewrites the secret from the same run's password.
SECRET_FIELDS = ("port", "database_name", "master_username", "endpoint", "cluster_identifier")
BUMP = "bump database.master_password_version in the environment file, render and plan again"
ROTATION = "aws_secretsmanager_secret_rotation.db_credentials"
# The provider (5.100) calls RotateSecret on an update only when one of these changes; only then is
# rotate_immediately sent.
ROTATION_TRIGGERS = ("rotation_lambda_arn", "rotation_rules", "external_secret_rotation_metadata",
                     "external_secret_rotation_role_arn")


def problems(by_address: Mapping[str, Mapping[str, Any]]) -> list[str]:
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
    if s_action == "delete" and c_action != "delete":
        problems.append(f"{SECRET_VERSION}: deleted: the secret no longer holds the database password {CLUSTER} "
                        "keeps (delete the cluster with it, or keep the secret version)")
    elif secret_written and not password_set:
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


def changes(by_address: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What the apply does to the live credentials when it imports the cluster, its secret version
    or the rotation and sets them anew: one line each, for the review to say (nothing to refuse)."""
    cluster, secret, rotation = (by_address.get(a) for a in (CLUSTER, SECRET_VERSION, ROTATION))
    if not any(rc is not None and rc["change"].get("importing") for rc in (cluster, secret, rotation)):
        return []
    lines = []
    if cluster is not None and cluster["change"].get("importing") and action_of(cluster["change"]["actions"]):
        before, after = cluster["change"].get("before") or {}, cluster["change"].get("after") or {}
        if before.get(PASSWORD_VERSION) != after.get(PASSWORD_VERSION):
            lines.append(f"{CLUSTER}: imported; the apply sets a new master password on it ({PASSWORD_VERSION} "
                         f"{_json(before.get(PASSWORD_VERSION))} -> {_json(after.get(PASSWORD_VERSION))})")
    if secret is not None and secret["change"].get("importing") and \
            action_of(secret["change"]["actions"]) in ("replace", "update"):
        before, after = secret["change"].get("before") or {}, secret["change"].get("after") or {}
        if before.get(SECRET_VALUE_VERSION) != after.get(SECRET_VALUE_VERSION):
            lines.append(f"{SECRET_VERSION}: imported and replaced: a new secret version holds the new password")
    if rotation is not None and rotation["change"].get("importing") and action_of(rotation["change"]["actions"]):
        lines.append(_rotation(rotation["change"]))
    return lines


def _rotation(change: Mapping[str, Any]) -> str:
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    moved = [name for name in ROTATION_TRIGGERS if before.get(name) != after.get(name) or unknown.get(name) is True]
    if not moved:
        return (f"{ROTATION}: imported; no rotation is started (the provider sends rotate_immediately only with a "
                "change of the rotation function or rules): rotation follows the schedule as configured")
    if after.get("rotate_immediately") is False:
        return (f"{ROTATION}: imported; {', '.join(moved)} changes: the apply calls RotateSecret with "
                "rotate_immediately false: the next rotation follows the new schedule")
    return (f"{ROTATION}: imported; {', '.join(moved)} changes: the apply calls RotateSecret, which starts a "
            "rotation at once")


def _json(value: Any) -> str:
    return "null" if value is None else str(value)
