"""Credentials: changes that would leave the Aurora cluster's master password and the secret holding
it different."""

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
