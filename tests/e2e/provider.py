"""Pointing the rendered AWS provider at the emulator, and proving nothing escapes it.

``overrides`` is the whole of the e2e run's configuration: command-line
``--set`` settings, so no template or environment file knows about the
emulator. ``uncovered_types`` lists the types of a rendered module whose API
would still be called on a real AWS endpoint.
"""

from __future__ import annotations

import re
from pathlib import Path

# Every AWS API the stack calls, by the provider's endpoint key. sts answers
# GetCallerIdentity, so the provider learns the (emulated) account id itself
# and ARNs carry it; skip_requesting_account_id stays off.
ENDPOINT_SERVICES = ("apigatewayv2", "cloudwatch", "dynamodb", "ec2", "elbv2", "iam", "kms", "lambda",
                     "logs", "rds", "s3", "secretsmanager", "sns", "ssm", "sts")

# The endpoint each resource, data source and ephemeral type of the rendered
# module talks to (None: computed locally). A type matching none of these
# fails the test before apply: its API would be called on real AWS endpoints.
TYPE_SERVICES: tuple[tuple[str, str | None], ...] = (
    (r"aws_(iam_policy_document|partition|region|elb_service_account)$", None),
    (r"aws_caller_identity$", "sts"),
    (r"aws_(vpc|subnet|route|nat_gateway|eip|internet_gateway|egress_only_internet_gateway|"
     r"security_group|default_security_group|default_network_acl|default_route_table|network_acl|"
     r"flow_log|vpc_endpoint|vpc_security_group|availability_zones|ec2_)", "ec2"),
    (r"aws_(lb|alb)(_|$)", "elbv2"),
    (r"aws_lambda_", "lambda"),
    (r"aws_apigatewayv2_", "apigatewayv2"),
    (r"aws_(rds_|db_)", "rds"),
    (r"aws_dynamodb_", "dynamodb"),
    (r"aws_s3_", "s3"),
    (r"aws_sns_", "sns"),
    (r"aws_kms_", "kms"),
    (r"aws_secretsmanager_", "secretsmanager"),
    (r"aws_ssm_", "ssm"),
    (r"aws_cloudwatch_log_", "logs"),
    (r"aws_cloudwatch_(metric_alarm|composite_alarm|dashboard)$", "cloudwatch"),
    (r"aws_iam_", "iam"),
)


def overrides(endpoint: str) -> list[str]:
    """The command-line settings that point the rendered provider at the emulator."""
    sets = [
        "terraform.backend=local",
        "provider.access_key=test",
        "provider.secret_key=test",
        "provider.skip_credentials_validation=true",
        "provider.skip_metadata_api_check=true",
        "provider.s3_use_path_style=true",
        # moto has no AWS Backup selections (CreateBackupSelection); the backup plan is covered by
        # terraform validate, the stack tests and checkov instead.
        "backup.enabled=false",
    ]
    sets += [f"provider.endpoints.{service}={endpoint}" for service in ENDPOINT_SERVICES]
    return sets


def uncovered_types(module: Path) -> list[str]:
    """Types in the rendered module whose API has no emulator endpoint in ENDPOINT_SERVICES."""
    declared = set()
    for path in module.glob("*.tf"):
        declared |= set(re.findall(r'^(?:resource|data|ephemeral)\s+"(aws_[a-z0-9_]+)"',
                                   path.read_text(), flags=re.MULTILINE))
    problems = []
    for kind in sorted(declared):
        service = next((svc for pattern, svc in TYPE_SERVICES if re.match(pattern, kind)), "unknown")
        if service == "unknown":
            problems.append(f"{kind}: no known endpoint (add it to TYPE_SERVICES and, if new, "
                            f"its service to ENDPOINT_SERVICES)")
        elif service is not None and service not in ENDPOINT_SERVICES:
            problems.append(f"{kind}: endpoint {service!r} is not pointed at the emulator")
    return problems
