"""The API and traffic section of SPEC.md: the HTTP API, the internal ALB and blue/green routing."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import CERTIFICATE, all_blocks, local, ref, rendered, resource, resources_of, text
from tfgen.config.names import FUNCTION_KEYS
from tfgen.errors import RenderError

SHORT = {"payment_validation": "pv", "fraud_detection": "fd", "transaction_processing": "tp"}
ROUTES = {"payment_validation": ("POST /payments", "/payments"),
          "fraud_detection": ("POST /payments/{id}/fraud-check", "/payments/*/fraud-check"),
          "transaction_processing": ("POST /payments/{id}/process", "/payments/*/process")}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_http_api_named_payment_api_env(env: str) -> None:
    api = resource(env, "api.tf", "aws_apigatewayv2_api", "this")
    assert api["name"] == f"payment-api-{env}" and api["protocol_type"] == "HTTP"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_vpc_link_into_the_private_subnets(env: str) -> None:
    link = resource(env, "api.tf", "aws_apigatewayv2_vpc_link", "this")
    assert link["name"] == f"payment-vpc-link-{env}"
    assert link["subnet_ids"] == ref("[for subnet in aws_subnet.private : subnet.id]")
    assert link["security_group_ids"] == [ref("aws_security_group.vpc_link.id")]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_http_proxy_integration_to_the_internal_alb_listener_through_the_vpc_link(env: str) -> None:
    integration = resource(env, "api.tf", "aws_apigatewayv2_integration", "alb")
    assert integration["integration_type"] == "HTTP_PROXY"
    assert integration["connection_type"] == "VPC_LINK"
    assert integration["connection_id"] == ref("aws_apigatewayv2_vpc_link.this.id")
    assert integration["integration_uri"] == ref("local.front_listener_arn")
    assert local(env, "alb.tf", "front_listener_arn") == ref("aws_lb_listener.http.arn")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_integration_timeout_is_explicit_and_every_function_stops_before_it(env: str) -> None:
    # HTTP API integrations give up after 30 s at most; a function still running then
    # completes a payment whose caller was told 504.
    integration = resource(env, "api.tf", "aws_apigatewayv2_integration", "alb")
    assert integration["timeout_milliseconds"] == 30000
    functions = local(env, "lambda.tf", "functions")
    assert {key: functions[key]["timeout"] * 1000 < 30000 for key in FUNCTION_KEYS} == dict.fromkeys(
        FUNCTION_KEYS, True)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_stage_auto_deploys_with_access_logs_and_throttling(env: str) -> None:
    stage = resource(env, "api.tf", "aws_apigatewayv2_stage", "this")
    assert stage["name"] == "$default" and stage["auto_deploy"] is True
    [logs] = stage["access_log_settings"]
    assert logs["destination_arn"] == ref("aws_cloudwatch_log_group.api.arn")
    assert "$context.requestId" in logs["format"] and "$context.status" in logs["format"]
    assert stage["default_route_settings"] == [{"detailed_metrics_enabled": True, "throttling_burst_limit": 100,
                                                "throttling_rate_limit": 50.0}]


@pytest.mark.parametrize(("env", "retention"), [("dev", 30), ("staging", 365), ("prod", 365)])
def test_api_stage_log_group_with_retention(env: str, retention: int) -> None:
    group = resource(env, "api.tf", "aws_cloudwatch_log_group", "api")
    assert group["name"] == f"/aws/apigateway/payment-api-{env}"
    assert group["retention_in_days"] == retention
    assert group["kms_key_id"] == ref('aws_kms_key.this["logs"].arn')


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_internal_alb_named_payment_alb_env_in_the_private_subnets(env: str) -> None:
    alb = resource(env, "alb.tf", "aws_lb", "this")
    assert alb["name"] == f"payment-alb-{env}"
    assert alb["internal"] is True and alb["load_balancer_type"] == "application"
    assert alb["subnets"] == ref("[for subnet in aws_subnet.private : subnet.id]")
    assert alb["security_groups"] == [ref("aws_security_group.alb.id")]
    assert alb["drop_invalid_header_fields"] is True


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_alb_deletion_protection_only_in_prod(env: str, protected: bool) -> None:
    assert resource(env, "alb.tf", "aws_lb", "this")["enable_deletion_protection"] is protected


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_http_listener_on_80_answers_404_unless_a_rule_matches(env: str) -> None:
    listener = resource(env, "alb.tf", "aws_lb_listener", "http")
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    [action] = listener["default_action"]
    assert action["type"] == "fixed-response" and action["fixed_response"][0]["status_code"] == "404"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_without_a_certificate_the_only_listener_is_http(env: str) -> None:
    assert local(env, "alb.tf", "https_enabled") is False
    assert set(resources_of(env, "aws_lb_listener")) == {"http"}


def test_with_a_certificate_the_only_listener_is_https_and_the_api_verifies_the_server_name() -> None:
    assert local("prod", "alb.tf", "https_enabled", CERTIFICATE) is True
    assert set(resources_of("prod", "aws_lb_listener", CERTIFICATE)) == {"https"}
    https = resource("prod", "alb.tf", "aws_lb_listener", "https", CERTIFICATE)
    assert https["port"] == 443 and https["protocol"] == "HTTPS"
    assert https["certificate_arn"] == "arn:aws:acm:us-east-1:111122223333:certificate/abc"
    assert https["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert local("prod", "alb.tf", "front_listener_arn", CERTIFICATE) == ref("aws_lb_listener.https.arn")
    integration = resource("prod", "api.tf", "aws_apigatewayv2_integration", "alb", CERTIFICATE)
    [tls] = integration["dynamic"]
    assert tls["tls_config"]["for_each"] == ref(
        'local.https_enabled ? ["payments.internal.example.com"] : []')


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_alb_access_logs_go_to_the_access_log_bucket(env: str) -> None:
    alb = resource(env, "alb.tf", "aws_lb", "this")
    assert alb["access_logs"] == [{"bucket": ref("aws_s3_bucket.access_logs.id"),
                                   "prefix": ref("local.access_log_prefixes.alb"), "enabled": True}]
    assert alb["depends_on"] == [ref("aws_s3_bucket_policy.access_logs")]
    assert local(env, "storage.tf", "access_log_prefixes")["alb"] == "alb"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_route_requires_signed_requests(env: str) -> None:
    route = resource(env, "api.tf", "aws_apigatewayv2_route", "this")
    assert route["authorization_type"] == "AWS_IAM"


def test_a_route_without_iam_authorisation_does_not_render() -> None:
    """Without IAM authorisation a client's own x-payments-caller would stand for the caller."""
    with pytest.raises(RenderError, match="authorization_type must be AWS_IAM: a payment route without IAM "
                                         "authorisation is not rendered"):
        rendered("prod", "api:\n  authorization_type: NONE\n")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_no_rendered_route_lacks_iam_authorisation(env: str) -> None:
    routes = [body for address, body in all_blocks(env, "resource").items()
              if address.startswith("aws_apigatewayv2_route.")]
    assert routes and all(route["authorization_type"] == "AWS_IAM" for route in routes)
    assert 'authorization_type = "AWS_IAM"' in text(env, "api.tf")
    assert "authorization_type" not in text(env, "api.tf").replace('authorization_type = "AWS_IAM"', "")


ACCESS_LOG_FIELD = re.compile(r'(\w+) = "(\$context\.[\w.]+)"')


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_the_access_log_names_the_caller(env: str) -> None:
    """PCI DSS 10.2.2: who made each request; the same ARN the functions receive in x-payments-caller."""
    [logs] = resource(env, "api.tf", "aws_apigatewayv2_stage", "this")["access_log_settings"]
    fields = dict(ACCESS_LOG_FIELD.findall(logs["format"]))
    integration = resource(env, "api.tf", "aws_apigatewayv2_integration", "alb")
    assert fields["callerArn"] == integration["request_parameters"]["overwrite:header.x-payments-caller"]
    assert (fields["callerArn"], fields["callerId"], fields["callerAccountId"]) == (
        "$context.identity.userArn", "$context.identity.caller", "$context.identity.accountId")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("function", FUNCTION_KEYS)
def test_each_payment_function_has_its_own_path_through_the_api_and_the_alb(env: str, function: str) -> None:
    route_key, path_pattern = ROUTES[function]
    route = local(env, "alb.tf", "routes")[function]
    assert (route["route_key"], route["path_pattern"], route["method"]) == (route_key, path_pattern, "POST")
    api_route = resource(env, "api.tf", "aws_apigatewayv2_route", "this")
    assert api_route["for_each"] == ref("local.routes") and api_route["route_key"] == ref("each.value.route_key")
    assert api_route["target"] == "integrations/" + ref("aws_apigatewayv2_integration.alb.id")
    rule = resource(env, "alb.tf", "aws_lb_listener_rule", "this")
    assert rule["for_each"] == ref("local.routes")
    assert rule["listener_arn"] == ref("local.front_listener_arn")
    assert rule["condition"] == [{"path_pattern": [{"values": [ref("each.value.path_pattern")]}]},
                                 {"http_request_method": [{"values": [ref("each.value.method")]}]}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_listener_rule_priorities_are_distinct(env: str) -> None:
    priorities = [route["priority"] for route in local(env, "alb.tf", "routes").values()]
    assert len(set(priorities)) == len(FUNCTION_KEYS)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("function", FUNCTION_KEYS)
def test_blue_and_green_lambda_target_groups_with_the_matching_alias_attached(env: str, function: str) -> None:
    aliases = local(env, "lambda.tf", "aliases")
    for color in ("blue", "green"):
        assert aliases[f"{function}-{color}"]["target_group"] == f"{SHORT[function]}-{color}-{env}"
    group = resource(env, "alb.tf", "aws_lb_target_group", "this")
    assert group["for_each"] == ref("local.aliases") and group["target_type"] == "lambda"
    assert group["name"] == ref("each.value.target_group")
    attachment = resource(env, "alb.tf", "aws_lb_target_group_attachment", "this")
    assert attachment["for_each"] == ref("local.aliases")
    assert attachment["target_group_arn"] == ref("aws_lb_target_group.this[each.key].arn")
    assert attachment["target_id"] == ref("aws_lambda_alias.this[each.key].arn")
    permission = resource(env, "alb.tf", "aws_lambda_permission", "alb")
    assert permission["principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["qualifier"] == ref("aws_lambda_alias.this[each.key].name")
    assert permission["source_arn"] == ref("aws_lb_target_group.this[each.key].arn")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_listener_rules_forward_blue_90_green_10_by_default(env: str) -> None:
    for route in local(env, "alb.tf", "routes").values():
        assert route["weights"] == {"blue": 90, "green": 10}
    rule = resource(env, "alb.tf", "aws_lb_listener_rule", "this")
    [action] = rule["action"]
    [forward] = action["forward"]
    [group] = forward["dynamic"]
    assert group["target_group"]["for_each"] == ref("each.value.weights")
    assert group["target_group"]["content"] == [{
        "arn": ref('aws_lb_target_group.this["${each.key}-${target_group.key}"].arn'),
        "weight": ref("target_group.value")}]


def test_weights_come_from_the_environment_file() -> None:
    extra = ("lambda:\n  functions:\n    transaction_processing:\n      traffic:\n"
             "        blue_weight: 0\n        green_weight: 100\n")
    routes = local("prod", "alb.tf", "routes", extra)
    assert routes["transaction_processing"]["weights"] == {"blue": 0, "green": 100}
    assert routes["payment_validation"]["weights"] == {"blue": 90, "green": 10}
