"""Settings no shipped environment uses still render to Terraform that terraform accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import requires_terraform
from tests.stack import CERTIFICATE, rendered
from tfgen.deploy import terraform
from tfgen.render import lint

pytestmark = [pytest.mark.terraform, requires_terraform]

VARIANTS = {
    "https listener, no tracing, expiring audit records, pinned versions": (
        CERTIFICATE +
        "lambda:\n  tracing: false\n  functions:\n    payment_validation:\n      traffic:\n"
        "        blue_version: '4'\n        green_version: '5'\n        blue_weight: 50\n        green_weight: 50\n"
        "storage:\n  audit_expiration_days: 2555\n  noncurrent_expiration_days: 400\n"
        "aws_account_id: '011122223333'\n"),
    "no VPC endpoints: the Lambdas use the NAT gateways": (
        "network:\n  gateway_endpoints: []\n  interface_endpoints: []\n"
        "database:\n  log_exports: []\n"),
    "no AWS Backup, Enhanced Monitoring or Performance Insights": (
        "backup:\n  enabled: false\n"
        "database:\n  monitoring_interval_s: 0\n  performance_insights: false\n"
        "lambda:\n  rotation:\n    reserved_concurrency: null\n"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_passes_terraform_fmt_validate_and_lint(variant: str, tmp_path: Path) -> None:
    for path, data in rendered("dev", VARIANTS[variant]).files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    assert lint.check(tmp_path) == []
    assert terraform.validate(tmp_path) == []
