"""The Outputs section of SPEC.md: six outputs, each with a description."""

from __future__ import annotations

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import hcl, ref

OUTPUTS = {
    "vpc_id": "aws_vpc.this.id",
    "aurora_endpoint": "aws_rds_cluster.this.endpoint",
    "api_endpoint": "aws_apigatewayv2_stage.this.invoke_url",
    "alb_dns_name": "aws_lb.this.dns_name",
    "transactions_table": "aws_dynamodb_table.this.name",
    "audit_bucket": "aws_s3_bucket.this.id",
}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_the_six_outputs_each_with_a_description(env: str) -> None:
    outputs = {name: body for block in hcl(env, "outputs.tf")["output"] for name, body in block.items()}
    assert list(outputs) == list(OUTPUTS)
    for name, expression in OUTPUTS.items():
        assert outputs[name]["value"] == ref(expression)
        assert outputs[name]["description"].strip()
    assert all("sensitive" not in body for body in outputs.values())
