"""Every AWS name of the stack comes from tfgen/config/names.py and fits the limits AWS puts on it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import all_blocks, loaded, local
from tfgen.config import names

# Arguments that hold the AWS name of what a resource creates.
NAME_ARGUMENTS = ("name", "bucket", "cluster_identifier", "identifier", "function_name", "alarm_name",
                  "dashboard_name")


def checked(env: str) -> set[str]:
    return {name for _, name in names.checked(env, loaded(env).model)}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_name_of_every_shipped_environment_fits_aws_limits(env: str) -> None:
    assert names.problems(env, loaded(env).model) == []
    for rule, name in names.checked(env, loaded(env).model):
        assert rule.min_length <= len(name) <= rule.max_length and rule.pattern.match(name), (rule.kind, name)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_literal_name_in_the_output_is_a_checked_name(env: str) -> None:
    literal: list[str] = []
    for key, body in all_blocks(env, "resource").items():
        if key == "aws_apigatewayv2_stage.this":  # a stage name, not an AWS resource name
            continue
        literal += [body[arg] for arg in NAME_ARGUMENTS
                    if isinstance(body.get(arg), str) and "${" not in body[arg]]
    lambda_locals: dict[str, Any] = local(env, "lambda.tf", "functions")
    literal += [fn["function_name"] for fn in lambda_locals.values()]
    literal += [fn["log_group"] for fn in lambda_locals.values()]
    literal += [alias["target_group"] for alias in local(env, "lambda.tf", "aliases").values()]
    literal += list(local(env, "database.tf", "aurora_readers").values())
    literal += list(local(env, "kms.tf", "kms_aliases").values())
    literal += [p["name"] for p in local(env, "parameters.tf", "parameters").values()]
    assert literal and set(literal) - checked(env) == set()


def test_a_long_environment_name_is_refused_for_each_limit_it_breaks() -> None:
    cfg = loaded("prod").model
    found = names.problems("a" * 24, cfg)
    assert f"target group name 'pv-green-{'a' * 24}' is 33 characters, AWS allows at most 32" in found
    assert f"load balancer name 'payment-alb-{'a' * 24}' is 36 characters, AWS allows at most 32" in found
    assert all("Lambda function name" not in problem for problem in found)


def test_reader_identifiers_are_checked_too() -> None:
    cfg = loaded("prod", "database:\n  reader_count: 15\n").model
    instances = [name for rule, name in names.checked("prod", cfg) if rule is names.RDS_INSTANCE]
    assert instances == ["aurora-cluster-prod-writer", *[f"aurora-cluster-prod-reader-{i}" for i in range(1, 16)]]
