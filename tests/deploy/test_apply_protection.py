"""`tfgen plan` and `tfgen apply` on a plan that weakens data protection (the stand-in terraform
of test_plans.py): refused like a delete, allowed address by address."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Run
from tests.deploy.test_plans import PLANS, calls, rendered, terraform_log, use_plan

__all__ = ["terraform_log"]  # the fixture, shared with test_plans.py


def test_weakened_protection_is_refused_until_each_address_is_allowed(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("protection")
    assert run("plan", "dev", "--detailed-exitcode").exit_code == 5
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert "aws_dynamodb_table.this: update weakens data protection (point-in-time recovery turned off" \
        in result.stderr
    assert "aws_rds_cluster_instance" not in result.stderr  # a reader removed is capacity
    assert not [c for c in calls(terraform_log) if c.startswith("apply")]
    addresses = ['aws_cloudwatch_log_group.lambda["payment_validation"]', "aws_dynamodb_table.this",
                 "aws_rds_cluster.this"]
    result = run("apply", "dev", *[arg for a in addresses[1:] for arg in ("--allow-data-loss", a)])
    assert result.exit_code == 1 and "--allow-data-loss aws_cloudwatch_log_group.lambda" in result.stderr
    result = run("apply", "dev", *[arg for a in addresses for arg in ("--allow-data-loss", a)])
    assert result.exit_code == 0, result.output
    assert calls(terraform_log)[-1] == f"applied binary-plan {PLANS / 'protection.json'}"


def test_allowing_an_aurora_instance_is_a_usage_error_it_loses_no_data(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("protection")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev", "--allow-data-loss", 'aws_rds_cluster_instance.reader["reader-2"]')
    assert result.exit_code == 2
    assert result.stderr == ('tfgen: --allow-data-loss aws_rds_cluster_instance.reader["reader-2"]: the plan '
                             "neither loses data nor weakens its protection there\n")
