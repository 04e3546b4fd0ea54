"""Detection reduced, judged on hand-made changes: what stops or weakens the logs and alerts of the
platform (flow logs, access logs, alarms and their actions, alert subscriptions), from the
catalogue's detection attributes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.test_review import change, of
from tfgen.deploy import review
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


# --- in the plan review: shown under "detection reduced", refused until each address is allowed ------

def test_a_plan_that_stops_or_weakens_detection_is_refused_until_each_address_is_allowed() -> None:
    result = of("detection")
    assert [(d.address, d.action, d.reasons) for d in result.detection_loss] == [
        ("aws_cloudwatch_metric_alarm.api_p99_latency", "update",
         ('alarm action removed: alarm_actions["arn:aws:sns:us-east-1:123456789012:system-errors-dev"]',)),
        ("aws_cloudwatch_metric_alarm.aurora_cpu", "update",
         ("the alarm's threshold raised (threshold: 80.0 -> 90.0)",)),
        ("aws_flow_log.this", "delete", ("the VPC's traffic is no longer logged",)),
        ("aws_rds_cluster.this", "update", ('exported database log removed: enabled_cloudwatch_logs_exports'
                                            '["postgresql"]',)),
    ]
    assert result.data_loss == []
    assert result.refusals() == [
        "aws_cloudwatch_metric_alarm.api_p99_latency: update reduces detection (alarm action removed: "
        'alarm_actions["arn:aws:sns:us-east-1:123456789012:system-errors-dev"]); allow it with '
        "--allow-detection-loss aws_cloudwatch_metric_alarm.api_p99_latency",
        "aws_cloudwatch_metric_alarm.aurora_cpu: update reduces detection (the alarm's threshold raised "
        "(threshold: 80.0 -> 90.0)); allow it with --allow-detection-loss aws_cloudwatch_metric_alarm.aurora_cpu",
        "aws_flow_log.this: delete reduces detection (the VPC's traffic is no longer logged); allow it with "
        "--allow-detection-loss aws_flow_log.this",
        "aws_rds_cluster.this: update reduces detection (exported database log removed: "
        'enabled_cloudwatch_logs_exports["postgresql"]); allow it with --allow-detection-loss aws_rds_cluster.this',
    ]
    allowed = [d.address for d in result.detection_loss]
    assert result.refusals(allow_detection_loss=allowed) == []
    assert [line.split(":")[0] for line in result.refusals(allow_detection_loss=allowed[1:])] == [allowed[0]]


def test_allowing_data_loss_does_not_allow_detection_loss_nor_the_other_way_round() -> None:
    cluster = {"cluster_identifier": "c", "enabled_cloudwatch_logs_exports": ["postgresql"]}
    result = review.review({"resource_changes": [
        change("aws_rds_cluster.this", ["delete", "create"], cluster,
               {**cluster, "enabled_cloudwatch_logs_exports": []})]})
    assert [d.address for d in result.data_loss] == [d.address for d in result.detection_loss] == \
        ["aws_rds_cluster.this"]
    def overrides(**allowed: list[str]) -> list[str]:
        return [line.rsplit("; allow it with ", 1)[1] for line in result.refusals(**allowed)
                if line.startswith("aws_rds_cluster.this: replace")]

    both = ["aws_rds_cluster.this"]
    assert overrides() == ["--allow-data-loss aws_rds_cluster.this", "--allow-detection-loss aws_rds_cluster.this"]
    assert overrides(allow_data_loss=both) == ["--allow-detection-loss aws_rds_cluster.this"]
    assert overrides(allow_detection_loss=both) == ["--allow-data-loss aws_rds_cluster.this"]
    assert overrides(allow_data_loss=both, allow_detection_loss=both) == []


def test_an_alarm_created_reduces_nothing() -> None:
    result = of("detection")
    reduced = {d.address for d in result.detection_loss}
    assert 'aws_cloudwatch_metric_alarm.function["payment_validation-errors"]' not in reduced
    assert result.other == {"aws_cloudwatch_metric_alarm": {"create": 1}}


def test_an_alarm_whose_actions_are_known_only_after_apply_is_refused() -> None:
    result = review.review({"resource_changes": [change(
        "aws_cloudwatch_metric_alarm.x", ["update"], ALARM, {**ALARM, "alarm_actions": None},
        {"alarm_actions": True})]})
    assert result.refusals() == [
        "aws_cloudwatch_metric_alarm.x: update reduces detection (alarm_actions known only after apply); allow it "
        "with --allow-detection-loss aws_cloudwatch_metric_alarm.x"]


@pytest.mark.parametrize("name", ["shift", "release", "no_changes", "access", "protection", "data_loss"])
def test_the_plans_of_a_release_a_traffic_step_and_the_others_reduce_no_detection(name: str) -> None:
    result = of(name)
    assert result.detection_loss == []
    assert not [line for line in result.refusals() if "--allow-detection-loss" in line]


def test_a_prod_day_two_plan_made_by_terraform_reduces_no_detection() -> None:
    """tests/bench/prod-plan.json.gz: prod rendered and applied, then a release, a canary step, a
    policy gaining an action and an Aurora replacement planned by terraform (its alarms, flow log,
    access logs and database log exports all in the state)."""
    with gzip.open(Path(__file__).parents[2] / "bench" / "prod-plan.json.gz") as handle:
        result = review.review(json.load(handle), env="prod")
    assert result.detection_loss == []
    assert [d.address for d in result.data_loss] == ["aws_rds_cluster.this"]


# --- the cluster parameter group: the database's own logging, and TLS ------------------------------

GROUP = "aws_rds_cluster_parameter_group.this"
RENDERED = {"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1", "log_statement": "ddl",
            "log_min_duration_statement": "1000"}  # environments/defaults.yaml: database.cluster_parameters


def parameters(apply_method: str = "immediate", **values: str) -> dict[str, Any]:
    """The group's values as the provider gives them: a set of {name, value, apply_method}."""
    values = {name.replace("__", "."): value for name, value in values.items()}
    return {"name": "aurora-cluster-dev-aurora-postgresql16", "family": "aurora-postgresql16", "parameter": [
        {"apply_method": apply_method, "name": name, "value": value}
        for name, value in sorted({**RENDERED, **values}.items())]}


def without(name: str) -> dict[str, Any]:
    group = parameters()
    return {**group, "parameter": [p for p in group["parameter"] if p["name"] != name]}


@pytest.mark.parametrize(("after", "reason"), [
    (parameters(log_connections="0"), 'connection logging turned off (parameter["log_connections"].value: "1" -> "0")'),
    (parameters(log_disconnections="off"),
     'disconnection logging turned off (parameter["log_disconnections"].value: "1" -> "off")'),
    (parameters(log_statement="none"),
     'statement logging weakened (parameter["log_statement"].value: "ddl" -> "none")'),
    (parameters(log_min_duration_statement="-1"),
     'slow statement logging threshold lengthened (parameter["log_min_duration_statement"].value: "1000" -> never)'),
    (parameters(log_min_duration_statement="10000"),  # compared as numbers, not as text
     'slow statement logging threshold lengthened (parameter["log_min_duration_statement"].value: "1000" -> "10000")'),
    (without("log_connections"), 'database logging parameter removed: parameter["log_connections"]'),
])
def test_a_database_logging_parameter_turned_off_or_removed_is_detection_reduced(after: dict[str, Any],
                                                                                reason: str) -> None:
    assert reasons(["update"], GROUP, parameters(), after) == (reason,)


@pytest.mark.parametrize("after", [
    parameters(), parameters(apply_method="pending-reboot"), parameters(log_statement="all"),
    parameters(log_min_duration_statement="500"), parameters(log_connections="on"),
    parameters(work_mem="65536"), {**parameters(), "parameter": parameters()["parameter"][::-1]},
])
def test_a_parameter_group_logging_as_much_or_more_reduces_nothing(after: dict[str, Any]) -> None:
    assert reasons(["update"], GROUP, parameters(), after) is None


def test_tls_turned_off_in_the_parameter_group_weakens_data_protection() -> None:
    """``rds.force_ssl`` 1 -> 0 lets a client connect without TLS: the data the cluster holds travels
    in the clear, so it is judged as data protection reduced (``--allow-data-loss``), not as detection."""
    result = review.review({"resource_changes": [
        change(GROUP, ["update"], parameters(), parameters(rds__force_ssl="0", log_statement="none"))]})
    assert [(d.address, d.protection, d.reasons) for d in result.data_loss] == [
        (GROUP, True, ('TLS required for every connection turned off (parameter["rds.force_ssl"].value: "1" -> "0")',))]
    assert [(d.address, d.reasons) for d in result.detection_loss] == [
        (GROUP, ('statement logging weakened (parameter["log_statement"].value: "ddl" -> "none")',))]
    assert [line.rsplit("; allow it with ", 1)[1] for line in result.refusals()] == [
        f"--allow-data-loss {GROUP}", f"--allow-detection-loss {GROUP}"]
    removed = review.review({"resource_changes": [change(GROUP, ["update"], parameters(), without("rds.force_ssl"))]})
    assert [d.reasons for d in removed.data_loss] == [
        ('TLS enforcement parameter removed: parameter["rds.force_ssl"]',)]


def test_the_cluster_moved_to_another_parameter_group_is_reduced() -> None:
    cluster = {"cluster_identifier": "c", "db_cluster_parameter_group_name": "aurora-cluster-dev-aurora-postgresql16",
               "enabled_cloudwatch_logs_exports": ["postgresql"]}
    moved = {**cluster, "db_cluster_parameter_group_name": "default.aurora-postgresql16"}
    result = review.review({"resource_changes": [change("aws_rds_cluster.this", ["update"], cluster, moved)]})
    said = ('the cluster\'s parameter group changed (db_cluster_parameter_group_name: '
            '"aurora-cluster-dev-aurora-postgresql16" -> "default.aurora-postgresql16")')
    assert [d.reasons for d in result.detection_loss] == [(said,)]
    assert [d.reasons for d in result.data_loss] == [(said,)]


# --- an alert subscription's filter policy ------------------------------------------------------------

SUBSCRIPTION = 'aws_sns_topic_subscription.this["oncall"]'
SUB = {"topic_arn": "arn:aws:sns:us-east-1:1:system-errors", "protocol": "email", "endpoint": "oncall@example.com",
       "filter_policy": "", "filter_policy_scope": "", "raw_message_delivery": False}
NEVER = '{"never": ["matches"]}'


@pytest.mark.parametrize(("before", "after", "unknown", "reason"), [
    (SUB, {**SUB, "filter_policy": NEVER, "filter_policy_scope": "MessageAttributes"}, None,
     'the subscription\'s filter policy added (filter_policy: "" -> "{\\"never\\": [\\"matches\\"]}")'),
    ({**SUB, "filter_policy": '{"severity": ["high", "low"]}'}, {**SUB, "filter_policy": '{"severity": ["high"]}'},
     None, 'the subscription\'s filter policy changed (filter_policy: "{\\"severity\\": [\\"high\\", \\"low\\"]}" -> '
     '"{\\"severity\\": [\\"high\\"]}")'),
    ({**SUB, "filter_policy": NEVER}, {**SUB, "filter_policy": NEVER, "filter_policy_scope": "MessageBody"}, None,
     'the subscription\'s filter policy scope changed (filter_policy_scope: "MessageAttributes" -> "MessageBody")'),
    (SUB, {**SUB, "filter_policy": None}, {"filter_policy": True},
     "the subscription's filter policy: filter_policy known only after apply"),
])
def test_a_filter_policy_added_or_changed_on_an_alert_subscription_is_detection_reduced(
        before: dict[str, Any], after: dict[str, Any], unknown: dict[str, Any] | None, reason: str) -> None:
    assert reasons(["update"], SUBSCRIPTION, before, after, unknown) == (reason,)
    result = review.review({"resource_changes": [change(SUBSCRIPTION, ["update"], before, after, unknown)]})
    assert [line.rsplit("; allow it with ", 1)[1] for line in result.refusals()] == [
        f"--allow-detection-loss {SUBSCRIPTION}"]


@pytest.mark.parametrize(("before", "after"), [
    ({**SUB, "filter_policy": NEVER}, SUB),  # removed: every alert reaches the endpoint again
    ({**SUB, "filter_policy": NEVER}, {**SUB, "filter_policy": '{\n  "never": [ "matches" ]\n}'}),  # reformatted
    (SUB, {**SUB, "filter_policy_scope": "MessageBody"}),  # a scope without a filter filters nothing
    (SUB, {**SUB, "raw_message_delivery": True}),
])
def test_a_filter_policy_removed_or_the_same_reduces_nothing(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert reasons(["update"], SUBSCRIPTION, before, after) is None


# --- an alarm silenced without touching its actions ---------------------------------------------------

WATCHING = {**ALARM, "namespace": "AWS/ApiGateway", "metric_name": "Latency", "extended_statistic": "p99",
            "statistic": "", "threshold": 1000, "comparison_operator": "GreaterThanThreshold", "period": 300,
            "evaluation_periods": 2, "datapoints_to_alarm": 0, "treat_missing_data": "breaching", "unit": "",
            "dimensions": {"ApiId": "abc", "Stage": "$default"}, "alarm_description": "p99", "metric_query": []}
MATH = {**ALARM, "threshold": 10, "comparison_operator": "GreaterThanThreshold", "evaluation_periods": 2,
        "treat_missing_data": "notBreaching", "metric_query": [
            {"id": "throttled", "expression": "SUM([FILL(m_getitem, 0)])", "return_data": True, "period": None,
             "metric": [], "label": "ThrottledRequests"},
            {"id": "m_getitem", "expression": "", "return_data": False, "period": None, "label": "", "metric": [
                {"namespace": "AWS/DynamoDB", "metric_name": "ThrottledRequests", "stat": "Sum", "period": 300,
                 "unit": "", "dimensions": {"TableName": "transactions-dev", "Operation": "GetItem"}}]}]}


def query(index: int, **values: Any) -> dict[str, Any]:
    queries = [dict(q) for q in MATH["metric_query"]]
    queries[index].update(values)
    return {**MATH, "metric_query": queries}


@pytest.mark.parametrize(("before", "after", "reason"), [
    (WATCHING, {**WATCHING, "threshold": 1e15},
     "the alarm's threshold raised (threshold: 1000 -> 1000000000000000.0)"),
    ({**WATCHING, "comparison_operator": "LessThanOrEqualToThreshold"},
     {**WATCHING, "comparison_operator": "LessThanOrEqualToThreshold", "threshold": 10},
     "the alarm's threshold lowered (threshold: 1000 -> 10)"),
    ({**WATCHING, "comparison_operator": "LessThanLowerOrGreaterThanUpperThreshold", "threshold": None,
      "threshold_metric_id": "band"},
     {**WATCHING, "comparison_operator": "LessThanLowerOrGreaterThanUpperThreshold", "threshold": None,
      "threshold_metric_id": "other"},
     'the alarm\'s threshold changed (threshold_metric_id: "band" -> "other")'),
    ({**ALARM, "threshold": 1}, {**ALARM, "threshold": 0.5},  # no comparison: which way alerts more is unknown
     "the alarm's threshold changed (threshold: 1 -> 0.5)"),
    (WATCHING, {**WATCHING, "threshold": 10, "comparison_operator": "LessThanThreshold"},
     "the alarm's threshold changed (threshold: 1000 -> 10)"),
    (WATCHING, {**WATCHING, "threshold": None}, "the alarm's threshold: threshold known only after apply"),
    (WATCHING, {**WATCHING, "comparison_operator": "LessThanThreshold"},
     'the alarm\'s comparison changed (comparison_operator: "GreaterThanThreshold" -> "LessThanThreshold")'),
    (WATCHING, {**WATCHING, "metric_name": "NoSuchMetric"},
     'the alarm\'s metric changed (metric_name: "Latency" -> "NoSuchMetric")'),
    (WATCHING, {**WATCHING, "namespace": "AWS/Lambda"},
     'the alarm\'s metric namespace changed (namespace: "AWS/ApiGateway" -> "AWS/Lambda")'),
    (WATCHING, {**WATCHING, "dimensions": {"ApiId": "abc", "Stage": "gone"}},
     'the alarm\'s metric dimensions changed (dimensions: {"ApiId": "abc", "Stage": "$default"} -> '
     '{"ApiId": "abc", "Stage": "gone"})'),
    (WATCHING, {**WATCHING, "extended_statistic": "p10"},
     'the alarm\'s statistic changed (extended_statistic: "p99" -> "p10")'),
    (WATCHING, {**WATCHING, "unit": "Bytes"}, 'the alarm\'s metric unit changed (unit: "" -> "Bytes")'),
    (WATCHING, {**WATCHING, "treat_missing_data": "notBreaching"},
     'the alarm\'s treatment of missing data weakened (treat_missing_data: "breaching" -> "notBreaching")'),
    ({**WATCHING, "treat_missing_data": "missing"}, {**WATCHING, "treat_missing_data": "ignore"},
     'the alarm\'s treatment of missing data weakened (treat_missing_data: "missing" -> "ignore")'),
    (WATCHING, {**WATCHING, "evaluation_periods": 100000},
     "the alarm's evaluation periods changed (evaluation_periods: 2 -> 100000)"),
    (WATCHING, {**WATCHING, "datapoints_to_alarm": 2},
     "the datapoints that raise the alarm changed (datapoints_to_alarm: 0 -> 2)"),
    (WATCHING, {**WATCHING, "period": 86400}, "the alarm's period changed (period: 300 -> 86400)"),
    (WATCHING, {**WATCHING, "dimensions": None}, "the alarm's metric dimensions: dimensions known only after apply"),
    (MATH, query(0, expression="SUM([m_getitem]) * 0"),
     'the alarm\'s metric query changed (metric_query["throttled"].expression: "SUM([FILL(m_getitem, 0)])" -> '
     '"SUM([m_getitem]) * 0")'),
    (MATH, query(1, metric=[{**MATH["metric_query"][1]["metric"][0], "metric_name": "Nothing"}]),
     'the alarm\'s queried metric changed (metric_query["m_getitem"].metric: '
     + json.dumps(MATH["metric_query"][1]["metric"]) + " -> "
     + json.dumps([{**MATH["metric_query"][1]["metric"][0], "metric_name": "Nothing"}]) + ")"),
    (MATH, query(0, return_data=False),
     'the alarm\'s metric query result changed (metric_query["throttled"].return_data: true -> false)'),
    (MATH, {**MATH, "metric_query": MATH["metric_query"][:1]},
     'the alarm\'s metric query removed: metric_query["m_getitem"]'),
])
def test_an_alarm_silenced_without_touching_its_actions_is_detection_reduced(
        before: dict[str, Any], after: dict[str, Any], reason: str) -> None:
    unknown = {name: True for name in ("dimensions", "threshold") if name in after and after[name] is None
               and before.get(name) is not None} or None
    found = reasons(["update"], "aws_cloudwatch_metric_alarm.x", before, after, unknown)
    assert found is not None and reason in found, found


@pytest.mark.parametrize(("before", "after"), [
    (WATCHING, {**WATCHING, "alarm_description": "p99 latency above 1 s", "alarm_name": "renamed"}),
    (WATCHING, {**WATCHING, "threshold": 10}),  # a lower threshold over it fires sooner
    ({**WATCHING, "comparison_operator": "LessThanThreshold"},
     {**WATCHING, "comparison_operator": "LessThanThreshold", "threshold": 2000}),
    (WATCHING, {**WATCHING, "threshold": 1000.0}),
    ({**WATCHING, "treat_missing_data": "notBreaching"}, {**WATCHING, "treat_missing_data": "breaching"}),
    ({**WATCHING, "treat_missing_data": "ignore"}, {**WATCHING, "treat_missing_data": "missing"}),
    (WATCHING, {**WATCHING, "ok_actions": ["arn:sns:errors"]}),
    (MATH, query(0, period=0)),  # 0 and null: no period of its own (moto reads it back as 0)
    (MATH, query(0, label="renamed")),
    (MATH, {**MATH, "metric_query": MATH["metric_query"][::-1]}),
])
def test_an_alarm_that_watches_the_same_as_much_reduces_nothing(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert reasons(["update"], "aws_cloudwatch_metric_alarm.x", before, after) is None


def test_a_reviewed_threshold_change_is_shown_and_refused_until_allowed() -> None:
    result = review.review({"resource_changes": [change(
        "aws_cloudwatch_metric_alarm.aurora_cpu", ["update"], {**WATCHING, "threshold": 80.0},
        {**WATCHING, "threshold": 90.0})]})
    assert [(d.address, d.reasons) for d in result.detection_loss] == [
        ("aws_cloudwatch_metric_alarm.aurora_cpu", ("the alarm's threshold raised (threshold: 80.0 -> 90.0)",))]
    assert result.refusals() == [
        "aws_cloudwatch_metric_alarm.aurora_cpu: update reduces detection (the alarm's threshold raised "
        "(threshold: 80.0 -> 90.0)); allow it with --allow-detection-loss aws_cloudwatch_metric_alarm.aurora_cpu"]
    assert result.refusals(allow_detection_loss=["aws_cloudwatch_metric_alarm.aurora_cpu"]) == []
    assert result.other == {}


# --- what lets a detector deliver: the flow logs' role, the access log bucket's and the sns key's policy -------

def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


FLOW_LOGS = {"Sid": "OwnLogGroup", "Effect": "Allow",
             "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
             "Resource": ["arn:aws:logs:us-east-1:1:log-group:flow", "arn:aws:logs:us-east-1:1:log-group:flow:*"]}
FIND = {"Sid": "FindLogGroup", "Effect": "Allow", "Action": "logs:DescribeLogGroups",
        "Resource": "arn:aws:logs:us-east-1:1:log-group:*"}
DENY_LOGS = {"Effect": "Deny", "Action": "logs:*", "Resource": "*"}
ROLE_POLICY = {"id": "flow-logs:flow-logs", "name": "flow-logs", "role": "flow-logs", "policy": doc(FLOW_LOGS, FIND)}
TRUST = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}}
ROLE = {"name": "flow-logs", "arn": "arn:aws:iam::1:role/flow-logs", "assume_role_policy": doc(TRUST)}
ADMIN = {"Sid": "AccountAdministration", "Effect": "Allow", "Action": ["kms:DescribeKey", "kms:PutKeyPolicy"],
         "Resource": "*", "Principal": {"AWS": "arn:aws:iam::1:root"}}
ALARMS = {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
          "Resource": "*", "Principal": {"Service": "cloudwatch.amazonaws.com"}}
SNS_KEY = {"key_id": "k", "arn": "arn:key:sns", "is_enabled": True, "policy": doc(ADMIN, ALARMS)}
ALB_LOGS = {"Sid": "AlbAccessLogs", "Effect": "Allow", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::access-logs/alb/AWSLogs/1/*",
            "Principal": {"AWS": "arn:aws:iam::127311923021:root"}}
BUCKET_POLICY = {"bucket": "access-logs", "policy": doc(ALB_LOGS)}


@pytest.mark.parametrize(("actions", "address", "before", "after", "reason"), [
    (["delete"], "aws_iam_role_policy.flow_logs", ROLE_POLICY, None,
     "the flow logs can no longer be delivered: their role's permissions are gone"),
    (["create", "delete"], "aws_iam_role_policy.flow_logs", ROLE_POLICY, ROLE_POLICY,
     "the flow logs can no longer be delivered: their role's permissions are gone"),
    (["delete"], "aws_iam_role.flow_logs", ROLE, None,
     "the flow logs can no longer be delivered: the role they are delivered as is gone"),
    (["delete"], "aws_s3_bucket_policy.access_logs", BUCKET_POLICY, None,
     "the access logs of the audit bucket and the load balancer can no longer be delivered to their bucket"),
])
def test_what_lets_a_detector_deliver_destroyed_is_detection_reduced(
        actions: list[str], address: str, before: dict[str, Any], after: dict[str, Any] | None, reason: str) -> None:
    assert reasons(actions, address, before, after) == (reason,)


@pytest.mark.parametrize(("address", "before", "after", "reason"), [
    ("aws_iam_role_policy.flow_logs", ROLE_POLICY, {**ROLE_POLICY, "policy": doc(DENY_LOGS)},
     'the flow logs\' delivery permissions: no longer allows {"Action": ["logs:CreateLogStream", '
     '"logs:DescribeLogStreams", "logs:PutLogEvents"], "Effect": "Allow", "Resource": '
     '["arn:aws:logs:us-east-1:1:log-group:flow", "arn:aws:logs:us-east-1:1:log-group:flow:*"], "Sid": "OwnLogGroup"}'),
    ("aws_iam_role_policy.flow_logs", ROLE_POLICY, {**ROLE_POLICY, "policy": doc(FLOW_LOGS, FIND, DENY_LOGS)},
     'the flow logs\' delivery permissions: denies {"Action": "logs:*", "Effect": "Deny", "Resource": "*"}'),
    ("aws_iam_role_policy.flow_logs", ROLE_POLICY,
     {**ROLE_POLICY, "policy": doc({**FLOW_LOGS, "Action": ["logs:CreateLogStream"]}, FIND)},
     'the flow logs\' delivery permissions: no longer allows {"Action": ["logs:DescribeLogStreams", '
     '"logs:PutLogEvents"], "Effect": "Allow", "Sid": "OwnLogGroup"}'),
    ("aws_iam_role.flow_logs", ROLE, {**ROLE, "assume_role_policy": doc({**TRUST, "Principal": {"AWS": "x"}})},
     'the flow logs\' delivery role trust: no longer allows {"Action": "sts:AssumeRole", "Effect": "Allow", '
     '"Principal": {"Service": "vpc-flow-logs.amazonaws.com"}}'),
    ('aws_kms_key.this["sns"]', SNS_KEY, {**SNS_KEY, "policy": doc(ADMIN)},
     'the key policy letting CloudWatch alarms publish to the encrypted alert topics: no longer allows '
     '{"Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Effect": "Allow", "Principal": {"Service": '
     '"cloudwatch.amazonaws.com"}, "Resource": "*", "Sid": "CloudWatchAlarms"}'),
    ("aws_s3_bucket_policy.access_logs", BUCKET_POLICY, {**BUCKET_POLICY, "policy": doc()},
     'the access log bucket\'s delivery permissions: no longer allows {"Action": "s3:PutObject", "Effect": '
     '"Allow", "Principal": {"AWS": "arn:aws:iam::127311923021:root"}, "Resource": '
     '"arn:aws:s3:::access-logs/alb/AWSLogs/1/*", "Sid": "AlbAccessLogs"}'),
    ("aws_iam_role_policy.flow_logs", ROLE_POLICY, {**ROLE_POLICY, "policy": None},
     "the flow logs' delivery permissions: policy known only after apply"),
    ("aws_iam_role_policy.flow_logs", ROLE_POLICY, {**ROLE_POLICY, "policy": "not json"},
     "the flow logs' delivery permissions: policy cannot be read as a policy document"),
])
def test_an_allow_removed_or_narrowed_or_a_deny_added_where_a_detector_delivers_is_detection_reduced(
        address: str, before: dict[str, Any], after: dict[str, Any], reason: str) -> None:
    unknown = {"policy": True} if after.get("policy", "") is None else None
    found = reasons(["update"], address, before, after, unknown)
    assert found is not None and reason in found, found
    result = review.review({"resource_changes": [change(address, ["update"], before, after, unknown)]})
    assert [d.address for d in result.detection_loss] == [address]


@pytest.mark.parametrize(("address", "before", "after"), [
    ("aws_iam_role_policy.flow_logs", ROLE_POLICY, {**ROLE_POLICY, "policy": doc(FIND, {
        **FLOW_LOGS, "Action": [*FLOW_LOGS["Action"], "logs:CreateLogGroup"]})}),  # reordered, an action added
    ('aws_kms_key.this["sns"]', SNS_KEY, {**SNS_KEY, "policy": doc({**ADMIN, "Action": "kms:DescribeKey"}, ALARMS)}),
    ('aws_kms_key.this["rds"]', SNS_KEY, {**SNS_KEY, "policy": doc(ADMIN)}),  # the alarms do not use that key
    ('aws_iam_role_policy.lambda["payment_validation"]', ROLE_POLICY, {**ROLE_POLICY, "policy": doc(DENY_LOGS)}),
    ("aws_iam_role_policy.flow_logs", ROLE_POLICY, {**ROLE_POLICY, "name": "renamed"}),
])
def test_what_keeps_or_widens_delivery_or_delivers_nothing_reduces_nothing(
        address: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert reasons(["update"], address, before, after) is None
    assert reasons(["delete"], 'aws_iam_role_policy.lambda["payment_validation"]', ROLE_POLICY, None) is None


def test_a_delivery_policy_read_at_apply_is_judged_on_its_document() -> None:
    """The flow logs' policy is read at apply when its log group changes (a retention, say): the
    document it is built from is judged; one the plan cannot tell is a reduction."""
    from tests.deploy.review.test_access import DOC, block, config, document
    plan = {"configuration": config(("aws_iam_role_policy.flow_logs", "policy",
                                     [f"{DOC}.flow_logs.json", f"{DOC}.flow_logs"]))}
    deferred = change("aws_iam_role_policy.flow_logs", ["update"], ROLE_POLICY, {**ROLE_POLICY, "policy": None},
                      {"policy": True})
    same = document(f"{DOC}.flow_logs", [block("OwnLogGroup", FLOW_LOGS["Action"], FLOW_LOGS["Resource"]),
                                         block("FindLogGroup", [FIND["Action"]], [FIND["Resource"]])])
    assert review.review({"resource_changes": [deferred, same], **plan}).detection_loss == []
    narrowed = document(f"{DOC}.flow_logs", [block("FindLogGroup", [FIND["Action"]], [FIND["Resource"]])])
    [loss] = review.review({"resource_changes": [deferred, narrowed], **plan}).detection_loss
    assert loss.reasons[0].startswith("the flow logs' delivery permissions: no longer allows ")
    [loss] = review.review({"resource_changes": [deferred], **plan}).detection_loss
    assert loss.reasons == ("the flow logs' delivery permissions: policy known only after apply (data.aws_iam_policy_"
                            "document.flow_logs is not read by this plan)",)


# --- the alert topics, and the fronts whose access logs stop with them ----------------------------------

TOPIC = {"arn": "arn:aws:sns:us-east-1:1:system-errors", "name": "system-errors", "kms_master_key_id": "arn:key:sns",
         "policy": doc({"Sid": "Owner", "Effect": "Allow", "Action": "SNS:Publish", "Resource": "*",
                        "Principal": {"AWS": "*"}, "Condition": {"StringEquals": {"AWS:SourceOwner": "1"}}})}
STAGE = {"name": "$default", "api_id": "api",
         "access_log_settings": [{"destination_arn": "arn:logs:api", "format": "$context.requestId"}]}
BALANCER = {"arn": "arn:lb", "name": "alb", "internal": True,
            "access_logs": [{"enabled": True, "bucket": "access-logs", "prefix": "alb"}]}


@pytest.mark.parametrize(("address", "before", "reason"), [
    ("aws_sns_topic.system_errors", TOPIC,
     "alerts published to the topic reach no one: its subscriptions go with it"),
    ("aws_apigatewayv2_stage.this", STAGE, "the API's access logs stop"),
    ("aws_lb.this", BALANCER, "the load balancer's access logs stop"),
])
@pytest.mark.parametrize("actions", [["delete"], ["create", "delete"], ["delete", "create"]])
def test_an_alert_topic_or_a_front_with_access_logs_destroyed_is_detection_reduced(
        actions: list[str], address: str, before: dict[str, Any], reason: str) -> None:
    assert reasons(actions, address, before, None if actions == ["delete"] else before) == (reason,)
    result = review.review({"resource_changes": [change(address, actions, before, None)]})
    assert f"--allow-detection-loss {address}" in "\n".join(result.refusals())


def test_a_deny_added_to_an_alert_topics_policy_is_detection_reduced() -> None:
    deny = {"Effect": "Deny", "Action": "SNS:Publish", "Resource": "*",
            "Principal": {"Service": "cloudwatch.amazonaws.com"}}
    policy = json.loads(TOPIC["policy"])
    denied = {**TOPIC, "policy": json.dumps({**policy, "Statement": [*policy["Statement"], deny]})}
    assert reasons(["update"], "aws_sns_topic.system_errors", TOPIC, denied) == (
        "the topic policy: denies " + json.dumps(deny, sort_keys=True),)
    assert reasons(["update"], "aws_sns_topic.system_errors", TOPIC, {**TOPIC, "name": TOPIC["name"]}) is None


# --- what detects outside the rendered stack: CloudTrail, GuardDuty, AWS Config, Security Hub ---------------

TRAIL = {"name": "t", "enable_logging": True, "is_multi_region_trail": True, "include_global_service_events": True,
         "enable_log_file_validation": True, "s3_bucket_name": "audit", "event_selector": []}


@pytest.mark.parametrize(("address", "before", "after", "reason"), [
    ("aws_cloudtrail.this", TRAIL, {**TRAIL, "enable_logging": False},
     "the trail's logging turned off (enable_logging: true -> false)"),
    ("aws_cloudtrail.this", TRAIL, {**TRAIL, "is_multi_region_trail": False},
     "logging every region turned off (is_multi_region_trail: true -> false)"),
    ("aws_cloudtrail.this", TRAIL, {**TRAIL, "s3_bucket_name": "elsewhere"},
     'the trail\'s bucket changed (s3_bucket_name: "audit" -> "elsewhere")'),
    ("aws_guardduty_detector.this", {"enable": True}, {"enable": False},
     "GuardDuty turned off (enable: true -> false)"),
    ("aws_guardduty_detector_feature.s3", {"name": "S3_DATA_EVENTS", "status": "ENABLED"},
     {"name": "S3_DATA_EVENTS", "status": "DISABLED"},
     'the GuardDuty protection turned off (status: "ENABLED" -> "DISABLED")'),
    ("aws_config_configuration_recorder_status.this", {"name": "r", "is_enabled": True},
     {"name": "r", "is_enabled": False}, "AWS Config recording turned off (is_enabled: true -> false)"),
    ("aws_securityhub_standards_control.pci", {"control_status": "ENABLED"}, {"control_status": "DISABLED"},
     'the Security Hub control turned off (control_status: "ENABLED" -> "DISABLED")'),
])
def test_a_common_detector_turned_off_is_detection_reduced(address: str, before: dict[str, Any],
                                                           after: dict[str, Any], reason: str) -> None:
    found = reasons(["update"], address, before, after)
    assert found is not None and reason in found, found
    assert f"--allow-detection-loss {address}" in "\n".join(
        review.review({"resource_changes": [change(address, ["update"], before, after)]}).refusals())


@pytest.mark.parametrize("address", ["aws_cloudtrail.this", "aws_guardduty_detector.this",
                                     "aws_config_configuration_recorder.this", "aws_securityhub_account.this",
                                     "aws_securityhub_standards_subscription.pci"])
def test_a_common_detector_destroyed_is_detection_reduced(address: str) -> None:
    assert reasons(["delete"], address, {"id": "x"}, None) is not None


@pytest.mark.parametrize(("actions", "address", "before", "after", "reason"), [
    (["update"], "aws_macie3_session.this", {"status": "ENABLED", "name": "m"}, {"status": "PAUSED", "name": "m"},
     "aws_macie3_session is not in the review's catalogue, and status changes: it may log or alert"),
    (["update"], "aws_imaginary_sink.this", {"logging_enabled": True}, {"logging_enabled": None},
     "aws_imaginary_sink is not in the review's catalogue, and logging_enabled changes: it may log or alert"),
    (["delete"], "aws_imaginary_audit_trail.this", {"id": "x"}, None,
     "aws_imaginary_audit_trail is not in the review's catalogue, and its name says it may log or alert"),
])
def test_an_unknown_type_that_looks_like_a_detector_is_judged_by_its_words(
        actions: list[str], address: str, before: dict[str, Any], after: dict[str, Any] | None, reason: str) -> None:
    unknown = {"logging_enabled": True} if after and after.get("logging_enabled", 0) is None else None
    assert reasons(actions, address, before, after, unknown) == (reason,)


def test_an_unknown_type_without_such_words_is_left_to_the_other_judges() -> None:
    assert reasons(["update"], "aws_imaginary.thing", {"size": 1}, {"size": 2}) is None
    assert reasons(["delete"], "aws_imaginary_store.thing", {"size": 1}, None) is None
