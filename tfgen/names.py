"""The AWS names of an environment's resources, and the limits AWS puts on them.

Templates take every name from here, so the naming convention lives in one
place and the configuration check can prove every name is acceptable before
anything is rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfgen.schema import Environment

FUNCTION_KEYS = ("payment_validation", "fraud_detection", "transaction_processing")
ROTATION_KEY = "db_secret_rotation"


@dataclass(frozen=True)
class Rule:
    kind: str
    max_length: int
    pattern: re.Pattern[str]
    charset: str
    min_length: int = 1


_LOWER_DNS = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_ALNUM_HYPHEN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_LAMBDA = re.compile(r"^[A-Za-z0-9_-]+$")
_IAM = re.compile(r"^[\w+=,.@-]+$")
_GENERIC = re.compile(r"^[\w./#+=,@:-]+$")

S3_BUCKET = Rule("S3 bucket name", 63, _LOWER_DNS, "lowercase letters, digits and hyphens", 3)
LAMBDA = Rule("Lambda function name", 64, _LAMBDA, "letters, digits, hyphens and underscores")
ALB = Rule("load balancer name", 32, _ALNUM_HYPHEN, "letters, digits and hyphens")
TARGET_GROUP = Rule("target group name", 32, _ALNUM_HYPHEN, "letters, digits and hyphens")
IAM_ROLE = Rule("IAM role name", 64, _IAM, "letters, digits and +=,.@_-")
RDS_CLUSTER = Rule("Aurora cluster identifier", 63, _LOWER_DNS, "lowercase letters, digits and hyphens")
DYNAMODB = Rule("DynamoDB table name", 255, re.compile(r"^[A-Za-z0-9_.-]+$"), "letters, digits and _.-", 3)
GENERIC = Rule("name", 255, _GENERIC, "letters, digits and ./#+=,@:_-")


def dashed(key: str) -> str:
    return key.replace("_", "-")


def names(env: str, cfg: Environment) -> dict[str, object]:
    """Every AWS name of the environment, keyed as the templates use them."""
    functions = {key: f"{dashed(key)}-{env}" for key in (*FUNCTION_KEYS, ROTATION_KEY)}
    target_groups = {
        key: {color: f"{getattr(cfg.lambda_.functions, key).short_name}-{color}-{env}"
              for color in ("blue", "green")}
        for key in FUNCTION_KEYS
    }
    return {
        "vpc": f"vpc-{env}",
        "igw": f"igw-{env}",
        "audit_bucket": f"payment-audit-logs-{env}",
        "table": f"transactions-{env}",
        "aurora_cluster": f"aurora-cluster-{env}",
        "db_subnet_group": f"aurora-subnets-{env}",
        "alb": f"payment-alb-{env}",
        "api": f"payment-api-{env}",
        "vpc_link": f"payment-vpc-link-{env}",
        "secret": f"payment-db-credentials-{env}",
        "topic_failed": f"failed-transactions-{env}",
        "topic_errors": f"system-errors-{env}",
        "dashboard": f"payment-{env}",
        "functions": functions,
        "roles": {key: f"{dashed(key)}-{env}" for key in functions},
        "target_groups": target_groups,
        "ssm_prefix": f"/payment/{env}",
    }


def checked(env: str, cfg: Environment) -> list[tuple[Rule, str]]:
    """The names that AWS limits, each with its rule."""
    n = names(env, cfg)
    functions: dict[str, str] = n["functions"]  # type: ignore[assignment]
    roles: dict[str, str] = n["roles"]  # type: ignore[assignment]
    groups: dict[str, dict[str, str]] = n["target_groups"]  # type: ignore[assignment]
    result: list[tuple[Rule, str]] = [
        (S3_BUCKET, str(n["audit_bucket"])),
        (ALB, str(n["alb"])),
        (RDS_CLUSTER, str(n["aurora_cluster"])),
        (DYNAMODB, str(n["table"])),
    ]
    result += [(LAMBDA, name) for name in functions.values()]
    result += [(IAM_ROLE, name) for name in roles.values()]
    result += [(TARGET_GROUP, name) for pair in groups.values() for name in pair.values()]
    return result


def problems(env: str, cfg: Environment) -> list[str]:
    """A message for each name AWS would reject."""
    found = []
    for rule, name in checked(env, cfg):
        if len(name) > rule.max_length:
            found.append(f"{rule.kind} {name!r} is {len(name)} characters, AWS allows at most "
                         f"{rule.max_length}")
        elif len(name) < rule.min_length:
            found.append(f"{rule.kind} {name!r} is shorter than {rule.min_length} characters")
        elif not rule.pattern.match(name):
            found.append(f"{rule.kind} {name!r} must use only {rule.charset}")
    return found
