"""The AWS names of an environment's resources, and the limits AWS puts on them.

Templates take every name from here, so the naming convention lives in one
place and the configuration check can prove every name is acceptable before
anything is rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfgen.config.model import Environment

FUNCTION_KEYS = ("payment_validation", "fraud_detection", "transaction_processing")
ROTATION_KEY = "db_secret_rotation"
COLORS = ("blue", "green")
# One customer-managed key per data domain; card_tokens is the HMAC key that
# turns card numbers into tokens; backup exists only while backup.enabled.
KMS_KEYS = ("backup", "card_tokens", "dynamodb", "lambda", "logs", "rds", "s3", "secrets", "sns")
SECURITY_GROUPS = ("alb", "database", "endpoints", "lambda", "rotation_lambda", "vpc_link")
PARAMETERS = ("api-endpoint", "db-endpoint", "table-name")
ALARMS = ("api_p99_latency", "aurora_cpu", "dynamodb_throttles")


@dataclass(frozen=True)
class Rule:
    kind: str
    max_length: int
    pattern: re.Pattern[str]
    charset: str
    min_length: int = 1


_LOWER_DNS = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_RDS = re.compile(r"^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$")
_ALNUM_HYPHEN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_LAMBDA = re.compile(r"^[A-Za-z0-9_-]+$")
_IAM = re.compile(r"^[\w+=,.@-]+$")
_GENERIC = re.compile(r"^[\w./#+=,@:-]+$")

S3_BUCKET = Rule("S3 bucket name", 63, _LOWER_DNS, "lowercase letters, digits and hyphens", 3)
LAMBDA = Rule("Lambda function name", 64, _LAMBDA, "letters, digits, hyphens and underscores")
ALB = Rule("load balancer name", 32, _ALNUM_HYPHEN, "letters, digits and hyphens")
TARGET_GROUP = Rule("target group name", 32, _ALNUM_HYPHEN, "letters, digits and hyphens")
IAM_ROLE = Rule("IAM role name", 64, _IAM, "letters, digits and +=,.@_-")
IAM_POLICY = Rule("IAM inline policy name", 128, _IAM, "letters, digits and +=,.@_-")
RDS_CLUSTER = Rule("Aurora cluster identifier", 63, _RDS,
                   "lowercase letters, digits and single hyphens, starting with a letter")
RDS_INSTANCE = Rule("Aurora instance identifier", 63, _RDS,
                    "lowercase letters, digits and single hyphens, starting with a letter")
RDS_SNAPSHOT = Rule("final snapshot identifier", 255, _RDS,
                    "lowercase letters, digits and single hyphens, starting with a letter")
RDS_GROUP = Rule("RDS subnet or parameter group name", 255, _RDS,
                 "lowercase letters, digits and single hyphens, starting with a letter")
DYNAMODB = Rule("DynamoDB table name", 255, re.compile(r"^[A-Za-z0-9_.-]+$"), "letters, digits and _.-", 3)
KMS_ALIAS = Rule("KMS alias", 256, re.compile(r"^alias/(?!aws/)[A-Za-z0-9/_-]+$"),
                 "alias/ followed by letters, digits and /_-")
SNS_TOPIC = Rule("SNS topic name", 256, _LAMBDA, "letters, digits, hyphens and underscores")
SECRET = Rule("Secrets Manager secret name", 512, re.compile(r"^[A-Za-z0-9/_+=.@-]+$"),
              "letters, digits and /_+=.@-")
LOG_GROUP = Rule("log group name", 512, re.compile(r"^[A-Za-z0-9_/.#-]+$"), "letters, digits and _/.#-")
SECURITY_GROUP = Rule("security group name", 255, re.compile(r"^(?!sg-)[A-Za-z0-9 ._:/()#,@\[\]+=&;{}!$*-]+$"),
                      "letters, digits and ._-:/()#,@[]+=&;{}!$* (not starting with sg-)")
SSM_PARAMETER = Rule("SSM parameter name", 1011, re.compile(r"^(/[A-Za-z0-9_.-]+)+$"),
                     "/-separated letters, digits and _.-")
API = Rule("API or VPC link name", 128, _GENERIC, "letters, digits and ./#+=,@:_-")
BACKUP_VAULT = Rule("backup vault name", 50, re.compile(r"^[A-Za-z0-9_-]+$"),
                    "letters, digits, hyphens and underscores", 2)
BACKUP_PLAN = Rule("backup plan or selection name", 50, re.compile(r"^[A-Za-z0-9_.-]+$"),
                   "letters, digits and _.-")
CLOUDWATCH = Rule("CloudWatch alarm or dashboard name", 255, _LAMBDA,
                  "letters, digits, hyphens and underscores")
GENERIC = Rule("name", 255, _GENERIC, "letters, digits and ./#+=,@:_-")


def dashed(key: str) -> str:
    return key.replace("_", "-")


def engine_family(engine_version: str) -> str:
    """The parameter group family of an Aurora PostgreSQL version: ``15.10`` gives ``aurora-postgresql15``."""
    return f"aurora-postgresql{engine_version.split('.')[0]}"


def names(env: str, cfg: Environment) -> dict[str, Any]:
    """Every AWS name of the environment, keyed as the templates use them."""
    functions = {key: f"{dashed(key)}-{env}" for key in (*FUNCTION_KEYS, ROTATION_KEY)}
    target_groups = {
        key: {color: f"{getattr(cfg.lambda_.functions, key).short_name}-{color}-{env}" for color in COLORS}
        for key in FUNCTION_KEYS
    }
    cluster = f"aurora-cluster-{env}"
    readers = [f"reader-{index}" for index in range(1, cfg.database.reader_count + 1)]
    api = f"payment-api-{env}"
    # S3 bucket names are global: storage.bucket_suffix lets a team whose name is taken deploy.
    bucket_suffix = f"-{cfg.storage.bucket_suffix}" if cfg.storage.bucket_suffix else ""
    return {
        "vpc": f"vpc-{env}",
        "igw": f"igw-{env}",
        "flow_logs": f"/aws/vpc/flow-logs/vpc-{env}",
        "flow_logs_role": f"vpc-flow-logs-{env}",
        "audit_bucket": f"payment-audit-logs-{env}{bucket_suffix}",
        "access_log_bucket": f"payment-access-logs-{env}{bucket_suffix}",
        "table": f"transactions-{env}",
        "aurora_cluster": cluster,
        "aurora_instances": {"writer": f"{cluster}-writer", **{key: f"{cluster}-{key}" for key in readers}},
        "aurora_final_snapshot": f"{cluster}-final",
        "aurora_log_group": f"/aws/rds/cluster/{cluster}/postgresql",
        "db_subnet_group": f"aurora-subnets-{env}",
        "db_parameter_group": f"{cluster}-{engine_family(cfg.database.engine_version)}",
        "rds_monitoring_role": f"rds-monitoring-{env}",
        "backup_vault": f"payment-backups-{env}",
        "backup_plan": cluster,
        "backup_role": f"aws-backup-{env}",
        "alb": f"payment-alb-{env}",
        "api": api,
        "api_log_group": f"/aws/apigateway/{api}",
        "vpc_link": f"payment-vpc-link-{env}",
        "secret": f"payment-db-credentials-{env}",
        "topic_failed": f"failed-transactions-{env}",
        "topic_errors": f"system-errors-{env}",
        "dashboard": f"payment-{env}",
        "alarms": {
            "api_p99_latency": f"payment-api-p99-latency-{env}",
            "aurora_cpu": f"aurora-cpu-{env}",
            "dynamodb_throttles": f"dynamodb-throttles-{env}",
        },
        # Errors and Throttles of each payment function, Errors of the rotation function.
        "function_alarms": {
            f"{key}-{metric.lower()}": {"function": key, "metric": metric,
                                        "name": f"{dashed(key)}-{metric.lower()}-{env}"}
            for key in (*FUNCTION_KEYS, ROTATION_KEY)
            for metric in (("Errors",) if key == ROTATION_KEY else ("Errors", "Throttles"))
        },
        # 5XX answers and Lambda errors per target group, keyed like the aliases (<function>-<colour>).
        "target_group_alarms": {f"{key}-{color}": f"{dashed(key)}-{color}-errors-{env}"
                                for key in FUNCTION_KEYS for color in COLORS},
        "alb_5xx_alarm": f"payment-alb-5xx-{env}",
        "kms_aliases": {key: f"alias/{dashed(key)}-{env}" for key in KMS_KEYS
                        if key != "backup" or cfg.backup.enabled},
        "security_groups": {
            "alb": f"payment-alb-{env}",
            "database": f"{cluster}",
            "endpoints": f"vpc-endpoints-{env}",
            "lambda": f"payment-lambda-{env}",
            "rotation_lambda": f"{functions[ROTATION_KEY]}",
            "vpc_link": f"payment-vpc-link-{env}",
        },
        "functions": functions,
        "log_groups": {key: f"/aws/lambda/{name}" for key, name in functions.items()},
        "roles": {key: f"{dashed(key)}-{env}" for key in functions},
        "target_groups": target_groups,
        "ssm_prefix": f"/payment/{env}",
        "parameters": {key: f"/payment/{env}/{key}" for key in PARAMETERS},
    }


def checked(env: str, cfg: Environment) -> list[tuple[Rule, str]]:
    """Every name AWS limits, each with its rule."""
    n = names(env, cfg)
    result: list[tuple[Rule, str]] = [
        (S3_BUCKET, n["audit_bucket"]),
        (S3_BUCKET, n["access_log_bucket"]),
        (ALB, n["alb"]),
        (RDS_CLUSTER, n["aurora_cluster"]),
        (DYNAMODB, n["table"]),
    ]
    result += [(LAMBDA, name) for name in n["functions"].values()]
    inline = (*n["roles"].values(), n["flow_logs_role"], n["rds_monitoring_role"])  # role and policy share a name
    result += [(IAM_ROLE, name) for name in (*inline, n["backup_role"])]
    result += [(IAM_POLICY, name) for name in inline]
    result += [(TARGET_GROUP, name) for pair in n["target_groups"].values() for name in pair.values()]
    result += [(RDS_INSTANCE, name) for name in n["aurora_instances"].values()]
    result += [(RDS_SNAPSHOT, n["aurora_final_snapshot"]),
               (RDS_GROUP, n["db_subnet_group"]), (RDS_GROUP, n["db_parameter_group"])]
    result += [(KMS_ALIAS, name) for name in n["kms_aliases"].values()]
    result += [(SNS_TOPIC, n["topic_failed"]), (SNS_TOPIC, n["topic_errors"]), (SECRET, n["secret"])]
    result += [(LOG_GROUP, name) for name in (*n["log_groups"].values(), n["api_log_group"],
                                              n["aurora_log_group"], n["flow_logs"])]
    result += [(SECURITY_GROUP, name) for name in n["security_groups"].values()]
    result += [(SSM_PARAMETER, name) for name in n["parameters"].values()]
    result += [(API, n["api"]), (API, n["vpc_link"])]
    result += [(CLOUDWATCH, name) for name in (n["dashboard"], *n["alarms"].values(), n["alb_5xx_alarm"],
                                               *n["target_group_alarms"].values())]
    result += [(CLOUDWATCH, alarm["name"]) for alarm in n["function_alarms"].values()]
    result += [(BACKUP_VAULT, n["backup_vault"]), (BACKUP_PLAN, n["backup_plan"])]
    result += [(GENERIC, name) for name in (n["vpc"], n["igw"])]
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
