"""Detection reduced, judged on hand-made changes: what stops or weakens the logs and alerts of the
platform (flow logs, access logs, alarms and their actions, alert subscriptions), from the
catalogue's detection attributes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.test_review import change
from tfgen.deploy.review import catalogue
from tfgen.deploy.review.detection import reduction_of

ALARM = {"alarm_name": "a", "actions_enabled": True, "alarm_actions": ["arn:sns:errors"], "ok_actions": []}


def reasons(actions: list[str], address: str, before: Any, after: Any,
            unknown: dict[str, Any] | None = None) -> tuple[str, ...] | None:
    rc = change(address, actions, before, after, unknown)
    reduced = reduction_of(rc, "replace" if actions == ["create", "delete"] else actions[0])
    return None if reduced is None else reduced.reasons


def test_a_detecting_resource_deleted_or_replaced_stops_watching() -> None:
    assert reasons(["delete"], "aws_flow_log.this", {"id": "fl"}, None) == ("the VPC's traffic is no longer logged",)
    assert reasons(["create", "delete"], "aws_cloudwatch_metric_alarm.x", ALARM, ALARM) == (
        "the alarm no longer watches its metric",)


def test_an_alarm_action_removed_turned_off_or_known_only_after_apply_is_reduced() -> None:
    assert reasons(["update"], "aws_cloudwatch_metric_alarm.x", ALARM, {**ALARM, "alarm_actions": []}) == (
        'alarm action removed: alarm_actions["arn:sns:errors"]',)
    assert reasons(["update"], "aws_cloudwatch_metric_alarm.x", ALARM, {**ALARM, "actions_enabled": None}) is None
    assert reasons(["update"], "aws_cloudwatch_metric_alarm.x", ALARM, {**ALARM, "alarm_actions": None},
                   {"alarm_actions": True}) == ("alarm_actions known only after apply",)


def test_a_new_detecting_resource_or_a_stronger_one_reduces_nothing() -> None:
    assert reasons(["create"], "aws_flow_log.this", None, {"traffic_type": "REJECT"}) is None
    assert reasons(["update"], "aws_flow_log.this", {"traffic_type": "REJECT"}, {"traffic_type": "ALL"}) is None
    assert reasons(["update"], "aws_cloudwatch_metric_alarm.x", ALARM,
                   {**ALARM, "alarm_actions": ["arn:sns:errors", "arn:sns:pager"]}) is None


def test_a_type_without_detection_attributes_is_none_of_its_business() -> None:
    assert reasons(["delete"], "aws_dynamodb_table.this", {"name": "t"}, None) is None
    assert reasons(["update"], "aws_imaginary.thing", {"a": 1}, {"a": 2}) is None


@pytest.mark.parametrize("kind", sorted(k for k, e in catalogue.CATALOGUE.items() if catalogue.DETECTION in e.kinds))
def test_every_detecting_type_says_what_it_watches(kind: str) -> None:
    entry = catalogue.CATALOGUE[kind]
    assert entry.detection or entry.unwatched, kind
