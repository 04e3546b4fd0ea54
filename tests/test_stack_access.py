"""The caller header the payment handlers authorise on, and why it cannot be forged.

API Gateway writes the authenticated caller into ``x-payments-caller`` with ``overwrite:``;
the handlers trust it only because nothing but the VPC link can reach the load balancer
(lambdas/README.md, "Caller and merchant authorisation").
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import CERTIFICATE, local, ref, resource, resources_of

VARIANTS = [(env, "") for env in SHIPPED_ENVS] + [("prod", CERTIFICATE)]
CALLER_MAPPING = {"overwrite:header.x-payments-caller": "$context.identity.userArn"}
PAYMENT_FUNCTIONS = ("payment_validation", "fraud_detection", "transaction_processing")


@pytest.mark.parametrize(("env", "extra"), VARIANTS)
def test_the_integration_overwrites_the_caller_header_with_the_signing_identity(env: str, extra: str) -> None:
    integration = resource(env, "api.tf", "aws_apigatewayv2_integration", "alb", extra)
    assert integration["request_parameters"] == CALLER_MAPPING
    for route in resources_of(env, "aws_apigatewayv2_route", extra).values():
        assert route["authorization_type"] == "AWS_IAM"


@pytest.mark.parametrize(("env", "extra"), VARIANTS)
def test_only_the_vpc_link_reaches_the_load_balancer(env: str, extra: str) -> None:
    alb = resource(env, "alb.tf", "aws_lb", "this", extra)
    assert alb["internal"] is True
    assert alb["security_groups"] == [ref("aws_security_group.alb.id")]
    assert "ingress" not in resource(env, "security_groups.tf", "aws_security_group", "alb", extra)
    alb_group = ref("aws_security_group.alb.id")
    ingress = {name: rule for name, rule in resources_of(env, "aws_vpc_security_group_ingress_rule", extra).items()
               if rule["security_group_id"] == alb_group}
    assert list(ingress) == ["alb_from_vpc_link"]
    rule = ingress["alb_from_vpc_link"]
    assert rule["referenced_security_group_id"] == ref("aws_security_group.vpc_link.id")
    assert not {"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} & set(rule)
    assert resources_of(env, "aws_security_group_rule", extra) == {}
    # The only group allowed into the ALB is the VPC link's, and only the VPC link uses it.
    users = [name for name, body in resources_of(env, "aws_apigatewayv2_vpc_link", extra).items()
             if body["security_group_ids"] == [ref("aws_security_group.vpc_link.id")]]
    assert users == ["this"]
    for kind in ("aws_lambda_function", "aws_vpc_endpoint", "aws_rds_cluster"):
        assert "aws_security_group.vpc_link" not in json.dumps(resources_of(env, kind, extra))


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_the_payment_functions_are_invoked_only_by_their_load_balancer_target_groups(env: str) -> None:
    permissions = resources_of(env, "aws_lambda_permission")
    assert set(permissions) == {"alb", "secrets_manager"}
    alb = permissions["alb"]
    assert alb["principal"] == "elasticloadbalancing.amazonaws.com"
    assert alb["source_arn"] == ref("aws_lb_target_group.this[each.key].arn")
    assert resources_of(env, "aws_lambda_function_url") == {}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_payment_function_gets_the_merchant_mapping(env: str) -> None:
    settings = local(env, "lambda.tf", "function_settings")
    for function in PAYMENT_FUNCTIONS:
        assert json.loads(settings[function]["MERCHANT_ACCESS"]) == {}
    assert "MERCHANT_ACCESS" not in settings["db_secret_rotation"]


def test_the_merchant_mapping_is_rendered_as_json_with_a_role_matching_its_sessions() -> None:
    extra = (
        "lambda:\n  merchant_access:\n"
        "    arn:aws:iam::111122223333:role/payments-m1001: [m-1001, m-0001]\n"
        "    arn:aws:iam::111122223333:user/ops/alice: m-2002\n"
    )
    settings = local("dev", "lambda.tf", "function_settings", extra)
    assert json.loads(settings["fraud_detection"]["MERCHANT_ACCESS"]) == {
        "arn:aws:iam::111122223333:role/payments-m1001": ["m-0001", "m-1001"],
        "arn:aws:iam::111122223333:user/ops/alice": ["m-2002"],
    }
