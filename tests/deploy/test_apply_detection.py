"""`tfgen plan` and `tfgen apply` on a plan that reduces detection (the stand-in terraform of
test_plans.py): a flow log deleted, an alarm's actions emptied, an alarm's threshold raised, a
database log export removed are refused like data loss, allowed address by address with
--allow-detection-loss."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Run
from tests.deploy.test_plans import PLANS, calls, rendered, terraform_log, use_plan

__all__ = ["terraform_log"]  # the fixture, shared with test_plans.py

ADDRESSES = ["aws_cloudwatch_metric_alarm.api_p99_latency", "aws_cloudwatch_metric_alarm.aurora_cpu",
             "aws_flow_log.this", "aws_rds_cluster.this"]
CREATED = 'aws_cloudwatch_metric_alarm.function["payment_validation-errors"]'  # a new alarm weakens nothing


def allow(*addresses: str, option: str = "--allow-detection-loss") -> list[str]:
    return [arg for address in addresses for arg in (option, address)]


def test_reduced_detection_is_refused_until_each_address_is_allowed(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("detection")
    planned = run("plan", "dev", "--detailed-exitcode")
    assert planned.exit_code == 5
    assert "detection reduced:\n  update aws_cloudwatch_metric_alarm.api_p99_latency: alarm action removed" \
        in planned.stdout
    result = run("apply", "dev")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "tfgen apply dev: refused, nothing changed:"
    assert "  aws_flow_log.this: delete reduces detection (the VPC's traffic is no longer logged); allow it with " \
        "--allow-detection-loss aws_flow_log.this" in result.stderr.splitlines()
    assert "  aws_cloudwatch_metric_alarm.aurora_cpu: update reduces detection (the alarm's threshold raised " \
        "(threshold: 80.0 -> 90.0)); allow it with --allow-detection-loss aws_cloudwatch_metric_alarm.aurora_cpu" \
        in result.stderr.splitlines()
    assert CREATED not in result.stderr
    assert not [c for c in calls(terraform_log) if c.startswith("apply")]
    result = run("apply", "dev", *allow(*ADDRESSES[1:]))
    assert result.exit_code == 1 and "--allow-detection-loss aws_cloudwatch_metric_alarm.api_p99_latency" \
        in result.stderr
    assert "aws_flow_log.this" not in result.stderr
    result = run("apply", "dev", *allow(*ADDRESSES, option="--allow-data-loss"))
    assert result.exit_code == 2  # data loss is another override: the plan loses no data there
    result = run("apply", "dev", *allow(*ADDRESSES))
    assert result.exit_code == 0, result.output
    assert calls(terraform_log)[-1] == f"applied binary-plan {PLANS / 'detection.json'}"


def test_allowing_detection_loss_the_plan_does_not_hold_is_a_usage_error(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("detection")
    assert run("plan", "dev").exit_code == 0
    result = run("apply", "dev", *allow(*ADDRESSES, CREATED))
    assert result.exit_code == 2
    assert result.stderr == (f"tfgen: --allow-detection-loss {CREATED}: the plan "
                             "neither stops nor weakens logging or alerting there\n")
    assert not [c for c in calls(terraform_log) if c.startswith("apply")]


def test_a_traffic_step_needs_no_detection_override(run: Run, terraform_log: Path) -> None:
    rendered(run)
    use_plan("shift")
    planned = run("plan", "dev", "--detailed-exitcode")
    assert planned.exit_code == 4 and "detection reduced" not in planned.stdout
    result = run("apply", "dev")
    assert result.exit_code == 0, result.output
    assert calls(terraform_log)[-1] == f"applied binary-plan {PLANS / 'shift.json'}"
