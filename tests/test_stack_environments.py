"""The shipped environments of SPEC.md: dev cheapest, staging between, prod exactly the design's figures."""

from __future__ import annotations

import pytest

from tests.stack import local, resource

# env: (NAT gateways, Aurora readers, deletion protection, force_destroy)
SHAPES = {"dev": (1, 0, False, True), "staging": (3, 1, False, True), "prod": (3, 2, True, False)}


@pytest.mark.parametrize("env", SHAPES)
def test_each_environment_has_its_nat_gateways_readers_protection_and_teardown(env: str) -> None:
    nat, readers, protected, force_destroy = SHAPES[env]
    assert len(local(env, "network.tf", "nat_zones")) == nat
    assert len(local(env, "database.tf", "aurora_readers")) == readers
    assert resource(env, "database.tf", "aws_rds_cluster", "this")["deletion_protection"] is protected
    assert resource(env, "dynamodb.tf", "aws_dynamodb_table", "this")["deletion_protection_enabled"] is protected
    assert resource(env, "alb.tf", "aws_lb", "this")["enable_deletion_protection"] is protected
    assert resource(env, "storage.tf", "aws_s3_bucket", "this")["force_destroy"] is force_destroy
