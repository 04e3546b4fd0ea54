"""Credentials: what an apply that imports the database cluster and its secret does to the live
password, said in the review (not refused): the adoption with --rotate-credentials."""

from __future__ import annotations

from typing import Any

from tests.deploy.test_review import change
from tfgen.deploy import review, review_format

IMPORTING = {"id": "x"}
CLUSTER = "aws_rds_cluster.this"
SECRET = "aws_secretsmanager_secret_version.db_credentials"
ROTATION = "aws_secretsmanager_secret_rotation.db_credentials"
RULES = [{"automatically_after_days": 30, "duration": None, "schedule_expression": ""}]


def imported(address: str, actions: list[str], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    rc = change(address, actions, before, after)
    rc["change"]["importing"] = IMPORTING
    return rc


def rotated(rotation_before: dict[str, Any], rotation_after: dict[str, Any]) -> review.Review:
    """The first plan of an adoption with credentials rotated (as on the emulator)."""
    return review.review({"complete": True, "resource_changes": [
        imported(CLUSTER, ["update"], {"cluster_identifier": "c", "master_password_wo_version": None},
                 {"cluster_identifier": "c", "master_password_wo_version": 1}),
        imported(SECRET, ["delete", "create"], {"secret_string_wo_version": None}, {"secret_string_wo_version": 1}),
        imported(ROTATION, ["update"], rotation_before, rotation_after)]}, env="dev")


def test_an_adoption_that_rotates_credentials_says_what_the_apply_does_to_them() -> None:
    result = rotated({"rotate_immediately": None, "rotation_rules": RULES, "rotation_lambda_arn": "arn:f"},
                     {"rotate_immediately": True, "rotation_rules": RULES, "rotation_lambda_arn": "arn:f"})
    assert result.credentials == [] and result.refusals() == []
    assert result.credential_changes == [
        f"{CLUSTER}: imported; the apply sets a new master password on it (master_password_wo_version null -> 1)",
        f"{SECRET}: imported and replaced: a new secret version holds the new password",
        f"{ROTATION}: imported; no rotation is started (the provider sends rotate_immediately only with a change of "
        "the rotation function or rules): rotation follows the schedule as configured",
    ]
    text = review_format.render_text(result)
    assert "credentials set by this apply:\n  " + "\n  ".join(result.credential_changes) + "\n" in text
    assert "tfgen apply refuses" not in text
    assert result.as_json()["credential_changes"] == result.credential_changes
    assert f"- {result.credential_changes[0]}" in review_format.render_markdown(result)


def test_a_rotation_whose_rules_change_starts_one_at_once() -> None:
    faster = [{**RULES[0], "automatically_after_days": 7}]
    result = rotated({"rotate_immediately": None, "rotation_rules": RULES, "rotation_lambda_arn": "arn:f"},
                     {"rotate_immediately": True, "rotation_rules": faster, "rotation_lambda_arn": "arn:f"})
    assert result.credential_changes[-1] == (
        f"{ROTATION}: imported; rotation_rules changes: the apply calls RotateSecret, which starts a rotation at once")
    calm = rotated({"rotate_immediately": None, "rotation_rules": RULES}, {"rotate_immediately": False,
                                                                          "rotation_rules": faster})
    assert calm.credential_changes[-1] == (
        f"{ROTATION}: imported; rotation_rules changes: the apply calls RotateSecret with rotate_immediately false: "
        "the next rotation follows the new schedule")


def test_kept_credentials_and_plans_that_import_nothing_say_nothing() -> None:
    kept = review.review({"complete": True, "resource_changes": [
        imported(CLUSTER, ["no-op"], {"master_password_wo_version": None}, {"master_password_wo_version": None}),
        imported(SECRET, ["no-op"], {"secret_string_wo_version": None}, {"secret_string_wo_version": None}),
        imported(ROTATION, ["no-op"], {"rotate_immediately": None}, {"rotate_immediately": None})]})
    assert kept.credential_changes == []
    bumped = review.review({"complete": True, "resource_changes": [
        change(CLUSTER, ["update"], {"master_password_wo_version": 1}, {"master_password_wo_version": 2}),
        change(SECRET, ["delete", "create"], {"secret_string_wo_version": 1}, {"secret_string_wo_version": 2})]})
    assert bumped.credential_changes == [] and bumped.credentials == []
    assert "credentials set by this apply" not in review_format.render_text(kept)
