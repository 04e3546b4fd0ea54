"""The Monitoring section of SPEC.md: dashboard, alarms, topics and log retention."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import local, ref, resource, resources_of

SYSTEM_ERRORS = [ref("aws_sns_topic.system_errors.arn")]


def alarm(env: str, name: str) -> dict[str, Any]:
    return resource(env, "monitoring.tf", "aws_cloudwatch_metric_alarm", name)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_dashboard_shows_api_p99_latency_4xx_5xx_and_aurora_cpu_and_connections(env: str) -> None:
    dashboard = resource(env, "monitoring.tf", "aws_cloudwatch_dashboard", "this")
    assert dashboard["dashboard_name"] == f"payment-{env}"
    body = dashboard["dashboard_body"]
    for metric in ('["AWS/ApiGateway", "Latency"], local.api_dimensions',
                   '["AWS/ApiGateway", "4xx"], local.api_dimensions',
                   '["AWS/ApiGateway", "5xx"], local.api_dimensions',
                   '["AWS/RDS", "CPUUtilization"], local.aurora_dimensions',
                   '["AWS/RDS", "DatabaseConnections"], local.aurora_dimensions'):
        assert f"concat({metric})" in body
    assert 'stat = "p99"' in body and "period = local.dashboard_period" in body
    assert local(env, "monitoring.tf", "dashboard_period") == 60
    assert local(env, "monitoring.tf", "api_dimensions") == [
        "ApiId", ref("aws_apigatewayv2_api.this.id"), "Stage", ref("aws_apigatewayv2_stage.this.name")]
    assert local(env, "monitoring.tf", "aurora_dimensions") == [
        "DBClusterIdentifier", ref("aws_rds_cluster.this.cluster_identifier")]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alarm_api_p99_latency_above_1000_ms(env: str) -> None:
    body = alarm(env, "api_p99_latency")
    assert body["alarm_name"] == f"payment-api-p99-latency-{env}"
    assert (body["namespace"], body["metric_name"], body["extended_statistic"]) == (
        "AWS/ApiGateway", "Latency", "p99")
    assert body["comparison_operator"] == "GreaterThanThreshold" and body["threshold"] == 1000.0
    assert body["dimensions"] == {"ApiId": ref("aws_apigatewayv2_api.this.id"),
                                  "Stage": ref("aws_apigatewayv2_stage.this.name")}
    assert (body["period"], body["evaluation_periods"]) == (300, 2)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alarm_aurora_cpu_above_80_percent(env: str) -> None:
    body = alarm(env, "aurora_cpu")
    assert body["alarm_name"] == f"aurora-cpu-{env}"
    assert (body["namespace"], body["metric_name"], body["statistic"]) == ("AWS/RDS", "CPUUtilization", "Average")
    assert body["comparison_operator"] == "GreaterThanThreshold" and body["threshold"] == 80.0
    assert body["dimensions"] == {"DBClusterIdentifier": ref("aws_rds_cluster.this.cluster_identifier")}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alarm_dynamodb_throttled_requests_above_10_summed_over_operations(env: str) -> None:
    body = alarm(env, "dynamodb_throttles")
    assert body["alarm_name"] == f"dynamodb-throttles-{env}"
    assert body["comparison_operator"] == "GreaterThanThreshold" and body["threshold"] == 10.0
    total, *series = body["metric_query"]
    operations = ["GetItem", "Query", "TransactWriteItems", "UpdateItem"]
    assert total["return_data"] is True
    assert total["expression"] == "SUM([" + ", ".join(f"FILL(m_{o.lower()}, 0)" for o in operations) + "])"
    assert [s["id"] for s in series] == [f"m_{o.lower()}" for o in operations]
    for query, operation in zip(series, operations, strict=True):
        [metric] = query["metric"]
        assert (metric["namespace"], metric["metric_name"], metric["stat"]) == (
            "AWS/DynamoDB", "ThrottledRequests", "Sum")
        assert metric["dimensions"] == {"TableName": ref("aws_dynamodb_table.this.name"), "Operation": operation}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alarm_actions_go_to_the_system_errors_topic(env: str) -> None:
    alarms = resources_of(env, "aws_cloudwatch_metric_alarm")
    assert set(alarms) == {"api_p99_latency", "aurora_cpu", "dynamodb_throttles"}
    for body in alarms.values():
        assert body["alarm_actions"] == SYSTEM_ERRORS and body["ok_actions"] == SYSTEM_ERRORS


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_topics_failed_transactions_and_system_errors_encrypted(env: str) -> None:
    topics = resources_of(env, "aws_sns_topic")
    assert {name: body["name"] for name, body in topics.items()} == {
        "failed_transactions": f"failed-transactions-{env}", "system_errors": f"system-errors-{env}"}
    assert all(body["kms_master_key_id"] == ref('aws_kms_key.this["sns"].arn') for body in topics.values())


@pytest.mark.parametrize(("env", "days"), [("dev", 30), ("staging", 365), ("prod", 365)])
def test_log_groups_for_every_function_and_the_api_stage_with_retention_and_encryption(env: str, days: int) -> None:
    groups = resources_of(env, "aws_cloudwatch_log_group")
    assert set(groups) == {"lambda", "api", "aurora", "flow_logs"}
    assert groups["lambda"]["retention_in_days"] == groups["api"]["retention_in_days"] == days
    assert groups["flow_logs"]["retention_in_days"] == 365
    assert all(body["kms_key_id"] == ref('aws_kms_key.this["logs"].arn') for body in groups.values())
