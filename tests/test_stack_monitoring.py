"""The Monitoring section of SPEC.md: dashboard, alarms, topics and log retention."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import loaded, local, ref, resource, resources_of, text
from tfgen.config.names import FUNCTION_KEYS, ROTATION_KEY
from tfgen.errors import ConfigError

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
    assert set(alarms) == {"api_p99_latency", "aurora_cpu", "dynamodb_throttles", "function", "target_group",
                           "alb_5xx"}
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


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alarms_on_every_functions_errors_and_each_payment_functions_throttles(env: str) -> None:
    alarms = local(env, "monitoring.tf", "function_alarms")
    expected = {f"{key}-{metric.lower()}": {"function": key, "metric": metric,
                                            "name": f"{key.replace('_', '-')}-{metric.lower()}-{env}"}
                for key in FUNCTION_KEYS for metric in ("Errors", "Throttles")}
    # A failed rotation leaves the secret half-rotated: its errors page too.
    expected[f"{ROTATION_KEY}-errors"] = {"function": ROTATION_KEY, "metric": "Errors",
                                          "name": f"db-secret-rotation-errors-{env}"}
    assert alarms == expected
    body = alarm(env, "function")
    assert body["for_each"] == ref("local.function_alarms")
    assert (body["namespace"], body["metric_name"], body["statistic"]) == ("AWS/Lambda", ref("each.value.metric"),
                                                                          "Sum")
    assert (body["comparison_operator"], body["threshold"], body["evaluation_periods"]) == (
        "GreaterThanThreshold", 0, 1)
    assert body["dimensions"] == {"FunctionName": ref("aws_lambda_function.this[each.value.function].function_name")}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alarm_per_target_group_on_5xx_and_lambda_errors_and_on_the_albs_own_5xx(env: str) -> None:
    # Blue and green each have their own alarm, so a bad green shows before it is promoted.
    groups = local(env, "monitoring.tf", "target_group_alarms")
    assert groups == {f"{key}-{color}": f"{key.replace('_', '-')}-{color}-errors-{env}"
                      for key in FUNCTION_KEYS for color in ("blue", "green")}
    assert set(groups) == set(local(env, "lambda.tf", "aliases"))  # the keys of aws_lb_target_group.this
    body = alarm(env, "target_group")
    total, *series = body["metric_query"]
    assert total["return_data"] is True and total["expression"] == (
        "SUM([FILL(m_target_5xx, 0), FILL(m_user_error, 0), FILL(m_internal_error, 0)])")
    assert {s["id"]: s["metric"][0]["metric_name"] for s in series} == {
        "m_target_5xx": "HTTPCode_Target_5XX_Count", "m_user_error": "LambdaUserError",
        "m_internal_error": "LambdaInternalError"}
    for query in series:
        [metric] = query["metric"]
        assert metric["namespace"] == "AWS/ApplicationELB" and metric["stat"] == "Sum"
        assert metric["dimensions"] == {"LoadBalancer": ref("aws_lb.this.arn_suffix"),
                                        "TargetGroup": ref("aws_lb_target_group.this[each.key].arn_suffix")}
    own = alarm(env, "alb_5xx")
    assert own["alarm_name"] == f"payment-alb-5xx-{env}"
    assert (own["namespace"], own["metric_name"], own["threshold"]) == (
        "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", 0)
    assert own["dimensions"] == {"LoadBalancer": ref("aws_lb.this.arn_suffix")}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_dashboard_shows_function_errors_throttles_and_5xx_per_target_group(env: str) -> None:
    body = resource(env, "monitoring.tf", "aws_cloudwatch_dashboard", "this")["dashboard_body"]
    for metric in ('"AWS/Lambda", "Errors", "FunctionName", fn.function_name',
                   '"AWS/Lambda", "Throttles", "FunctionName", fn.function_name',
                   '"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "TargetGroup", group.arn_suffix',
                   '"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", aws_lb.this.arn_suffix'):
        assert metric in " ".join(body.split()), metric


SUBSCRIPTIONS = """monitoring:
  subscriptions:
    - {protocol: email, endpoint: oncall@example.com}
    - {protocol: https, endpoint: "https://events.example.com/sns"}
    - {protocol: sqs, endpoint: "arn:aws:sqs:us-east-1:111122223333:alerts", topic: failed_transactions}
    - {protocol: lambda, endpoint: "arn:aws:lambda:us-east-1:111122223333:function:pager"}
"""


def test_subscriptions_reach_the_topic_each_names() -> None:
    subs = local("prod", "monitoring.tf", "topic_subscriptions", SUBSCRIPTIONS)
    assert subs == {
        "system_errors email oncall@example.com": {
            "topic": "system_errors", "protocol": "email", "endpoint": "oncall@example.com"},
        "system_errors https https://events.example.com/sns": {
            "topic": "system_errors", "protocol": "https", "endpoint": "https://events.example.com/sns"},
        "failed_transactions sqs arn:aws:sqs:us-east-1:111122223333:alerts": {
            "topic": "failed_transactions", "protocol": "sqs",
            "endpoint": "arn:aws:sqs:us-east-1:111122223333:alerts"},
        "system_errors lambda arn:aws:lambda:us-east-1:111122223333:function:pager": {
            "topic": "system_errors", "protocol": "lambda",
            "endpoint": "arn:aws:lambda:us-east-1:111122223333:function:pager"},
    }
    body = resource("prod", "monitoring.tf", "aws_sns_topic_subscription", "this", SUBSCRIPTIONS)
    assert body["for_each"] == ref("local.topic_subscriptions")
    assert body["topic_arn"] == ref('each.value.topic == "failed_transactions" ? '
                                    'aws_sns_topic.failed_transactions.arn : aws_sns_topic.system_errors.arn')
    assert (body["protocol"], body["endpoint"]) == (ref("each.value.protocol"), ref("each.value.endpoint"))


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_no_subscription_is_rendered_unless_configured(env: str) -> None:
    assert "aws_sns_topic_subscription" not in str(resources_of(env, "aws_sns_topic_subscription"))
    assert "reaches nobody until a subscription is configured" in text(env, "monitoring.tf")


@pytest.mark.parametrize(("entry", "message"), [
    ("{protocol: email, endpoint: oncall}",
     "<test>:3:25: monitoring.subscriptions.0.endpoint: expected an e-mail address such as 'oncall@example.com' "
     "for protocol email, got 'oncall'"),
    ("{protocol: https, endpoint: 'http://events.example.com/sns'}",
     "<test>:3:25: monitoring.subscriptions.0.endpoint: expected an https:// URL such as "
     "'https://events.example.com/sns' for protocol https, got 'http://events.example.com/sns'"),
    ("{protocol: sqs, endpoint: 'arn:aws:sns:us-east-1:111122223333:alerts'}",
     "<test>:3:23: monitoring.subscriptions.0.endpoint: expected an SQS queue ARN such as "
     "'arn:aws:sqs:us-east-1:111122223333:alerts' for protocol sqs, got 'arn:aws:sns:us-east-1:111122223333:alerts'"),
    ("{protocol: lambda, endpoint: 'arn:aws:lambda:us-east-1:111122223333:pager'}",
     "<test>:3:26: monitoring.subscriptions.0.endpoint: expected a Lambda function ARN such as "
     "'arn:aws:lambda:us-east-1:111122223333:function:pager' for protocol lambda, got "
     "'arn:aws:lambda:us-east-1:111122223333:pager'"),
    ("{protocol: sms, endpoint: '+15555550100'}",
     "<test>:3:8: monitoring.subscriptions.0.protocol: expected 'email', 'https', 'sqs' or 'lambda', got string 'sms'"),
])
def test_subscriptions_are_validated(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        loaded("prod", f"monitoring:\n  subscriptions:\n    - {entry}\n")
    assert info.value.problems == [message]


def test_a_subscription_listed_twice_is_refused() -> None:
    twice = "monitoring:\n  subscriptions:\n    - {protocol: email, endpoint: a@example.com}\n" \
            "    - {protocol: email, endpoint: a@example.com}\n"
    with pytest.raises(ConfigError) as info:
        loaded("prod", twice)
    assert info.value.problems == ["<test>:4:25: monitoring.subscriptions.1.endpoint: expected each subscription "
                                   "once, got 'a@example.com' again for email on system_errors"]
