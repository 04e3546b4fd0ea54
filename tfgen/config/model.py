"""The typed model of one environment's configuration, and its cross-field checks.

The model is strict: YAML already gives typed values, so a quoted ``"512"``
where a number belongs is an error rather than something to coerce.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tfgen.config.currency import currency_limits

_AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_VERSION = re.compile(r"^(latest|[1-9][0-9]*)$")
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]"
_DAY_TIME = rf"(mon|tue|wed|thu|fri|sat|sun):{_TIME}"

Percent = Annotated[int, Field(ge=0, le=100)]
PositiveInt = Annotated[int, Field(ge=1)]
Port = Annotated[int, Field(ge=1, le=65535)]
WindowSeconds = Annotated[int, Field(ge=1, le=30 * 86400)]
DynamoDbOperation = Literal[
    "BatchGetItem", "BatchWriteItem", "DeleteItem", "GetItem", "PutItem", "Query", "Scan",
    "TransactGetItems", "TransactWriteItems", "UpdateItem",
]
# An IAM identity allowed to call the API, as lambdas/common/paycommon/access.py matches it: a role
# (its sessions' assumed-role ARNs match it) or a user, with or without a path, or an account root.
PrincipalArn = Annotated[
    str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:((role|user)/([\w+=,.@-]+/)*[\w+=,.@-]+|root)$")]
MerchantId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")]
RetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


@lru_cache(maxsize=1024)
def _ipv4_network(value: str) -> ipaddress.IPv4Network:
    """Parsed once per process: environments repeat the same CIDRs, checked field by field and again
    across fields."""
    return ipaddress.IPv4Network(value, strict=True)


def _cidr(value: str) -> str:
    try:
        network = _ipv4_network(value)
    except ValueError:
        raise ValueError(f"expected an IPv4 CIDR such as 10.0.0.0/16, got {value!r}") from None
    if str(network) != value:
        raise ValueError(f"expected the canonical form {str(network)!r}, got {value!r}")
    return value


class TerraformSettings(Model):
    backend: Literal["s3", "local"]
    state_bucket: str
    state_key_prefix: str
    state_region: str | None = None
    local_state_path: str


class ProviderSettings(Model):
    """Settings that let the provider target a local AWS emulator purely through configuration."""

    endpoints: dict[str, str] = {}
    access_key: str | None = None
    secret_key: str | None = None
    skip_credentials_validation: bool = False
    skip_metadata_api_check: bool = False
    skip_region_validation: bool = False
    skip_requesting_account_id: bool = False
    s3_use_path_style: bool = False

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:  # attribute names of the provider's endpoints block: bare identifiers
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"expected AWS service names such as 's3' or 'secretsmanager', got {name!r}")
        return value


class Network(Model):
    vpc_cidr: str
    availability_zones: list[str]
    public_subnets: list[str]
    private_subnets: list[str]
    database_subnets: list[str]
    single_nat_gateway: bool
    gateway_endpoints: list[Literal["s3", "dynamodb"]]
    interface_endpoints: list[Literal["kms", "secretsmanager", "sns"]]
    flow_log_retention_days: RetentionDays

    _vpc = field_validator("vpc_cidr")(_cidr)

    @field_validator("public_subnets", "private_subnets", "database_subnets")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        for cidr in value:
            _cidr(cidr)
        return value

    @property
    def nat_gateways(self) -> int:
        """How many NAT gateways (and Elastic IPs for them) the network has: one, or one per zone."""
        return 1 if self.single_nat_gateway else len(self.availability_zones)


class Kms(Model):
    deletion_window_days: Annotated[int, Field(ge=7, le=30)]
    rotation_period_days: Annotated[int, Field(ge=90, le=2560)]


class Database(Model):
    engine_version: str
    auto_minor_version_upgrade: bool
    database_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    master_username: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")]
    master_password_length: Annotated[int, Field(ge=16, le=99)]
    master_password_version: PositiveInt
    secret_recovery_window_days: Annotated[int, Field(ge=0, le=30)]
    port: Annotated[int, Field(ge=1150, le=65535)]
    min_capacity: Annotated[float, Field(ge=0.0, le=256.0)]
    max_capacity: Annotated[float, Field(ge=1.0, le=256.0)]
    reader_count: Annotated[int, Field(ge=0, le=15)]
    backup_retention_days: Annotated[int, Field(ge=1, le=35)]
    preferred_backup_window: str
    preferred_maintenance_window: str
    deletion_protection: bool
    skip_final_snapshot: bool
    cluster_parameters: dict[str, str]
    log_exports: list[Literal["postgresql"]]
    log_retention_days: RetentionDays
    monitoring_interval_s: Literal[0, 1, 5, 10, 15, 30, 60]
    performance_insights: bool
    performance_insights_retention_days: int

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _insights_retention(cls, value: int) -> int:
        if value not in (7, 731) and not (value % 31 == 0 and 31 <= value <= 713):
            raise ValueError(f"expected 7, a multiple of 31 up to 713 (months), or 731 days, got {value}")
        return value

    @field_validator("engine_version")
    @classmethod
    def _engine(cls, value: str) -> str:
        if not re.fullmatch(r"15\.\d+", value):
            raise ValueError(f"expected an Aurora PostgreSQL 15 minor version such as '15.10', got {value!r}")
        return value

    @field_validator("preferred_backup_window")
    @classmethod
    def _daily_window(cls, value: str) -> str:
        if not re.fullmatch(f"{_TIME}-{_TIME}", value):
            raise ValueError(f"expected a daily UTC window such as '03:00-04:00', got {value!r}")
        return value

    @field_validator("preferred_maintenance_window")
    @classmethod
    def _weekly_window(cls, value: str) -> str:
        if not re.fullmatch(f"{_DAY_TIME}-{_DAY_TIME}", value):
            raise ValueError(f"expected a weekly UTC window such as 'sun:04:30-sun:05:30', got {value!r}")
        return value

    @field_validator("secret_recovery_window_days")
    @classmethod
    def _recovery(cls, value: int) -> int:
        if 0 < value < 7:
            raise ValueError(f"expected 0 (delete at once) or 7 to 30 days, got {value}")
        return value


class DynamoDb(Model):
    point_in_time_recovery: bool
    deletion_protection: bool


class Traffic(Model):
    """Which published version each alias points at, and how the listener splits traffic."""

    blue_version: str
    green_version: str
    blue_weight: Percent
    green_weight: Percent

    @field_validator("blue_version", "green_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"expected 'latest' or a published version number such as '3', got {value!r}")
        return value


class Function(Model):
    memory_mb: Annotated[int, Field(ge=128, le=10240)]
    timeout_s: Annotated[int, Field(ge=1, le=900)]
    reserved_concurrency: Annotated[int, Field(ge=-1)] | None = None
    short_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,5}$")]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    route: str
    traffic: Traffic

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        if not re.fullmatch(r"(/[a-z0-9_-]+|/\{[a-z_]+\})+", value):
            raise ValueError(f"expected a path such as /payments/{{id}}/process, got {value!r}")
        return value


class Functions(Model):
    payment_validation: Function
    fraud_detection: Function
    transaction_processing: Function


class Rotation(Model):
    memory_mb: Annotated[int, Field(ge=128, le=10240)]
    timeout_s: Annotated[int, Field(ge=30, le=900)]  # a rotation step needs at least 30 s
    reserved_concurrency: Annotated[int, Field(ge=1)] | None
    rotation_days: Annotated[int, Field(ge=1, le=1000)]
    # PEM CA bundle shipped as the function's DB_TLS_CA_FILE, relative to the repository root;
    # unset: the pinned Amazon RDS bundle lambdas/certs/rds-global-bundle.pem.
    ca_bundle: Annotated[str, Field(min_length=1)] | None = None


class CurrencyLimits(Model):
    """One currency's figures, in its own major units; unset ones are the lambda-wide figures."""

    min_amount: Annotated[float, Field(ge=0)] | None = None
    max_amount: Annotated[float, Field(gt=0)] | None = None
    fraud_amount_threshold: Annotated[float, Field(gt=0)] | None = None


class Release(Model):
    """How ``tfgen release`` moves green and judges each step (tfgen.deploy.release)."""

    # Green's weight at each step; the last is 100 (the promotion).
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(min_length=1)] = [10, 25, 50, 100]
    bake_s: Annotated[int, Field(ge=1, le=86400)] = 300
    max_bake_extension_s: Annotated[int, Field(ge=0, le=86400)] = 900
    min_requests: Annotated[int, Field(ge=1)] = 100
    error_rate_margin_pct: Annotated[float, Field(ge=0, le=100)] = 0.5
    max_error_rate_pct: Annotated[float, Field(ge=0, le=100)] = 1.0
    latency_margin_pct: Annotated[float, Field(ge=0)] = 20.0
    max_latency_p99_ms: Annotated[float, Field(gt=0)] = 1000.0

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[int]) -> list[int]:
        if any(later <= earlier for earlier, later in pairwise(value)) or value[-1] != 100:
            raise ValueError(f"expected rising percentages ending at 100 (the promotion), got {value}")
        return value


class Lambda(Model):
    """Settings of every function; the business rules reach the handlers as environment variables."""

    runtime: Literal["python3.12", "python3.13"]
    architecture: Literal["x86_64", "arm64"]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    log_retention_days: RetentionDays
    tracing: bool
    allowed_currencies: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]], Field(min_length=1)]
    min_amount: Annotated[float, Field(ge=0)]
    max_amount: Annotated[float, Field(gt=0)]
    idempotency_ttl_hours: Annotated[int, Field(ge=1, le=8760)]
    fraud_amount_threshold: Annotated[float, Field(gt=0)]
    fraud_velocity_window_s: WindowSeconds
    fraud_velocity_max: PositiveInt
    traffic_max_step: Annotated[int, Field(ge=1, le=100)]
    fraud_failure_window_s: WindowSeconds
    fraud_failure_max: PositiveInt
    fraud_card_velocity_window_s: WindowSeconds = 3600
    fraud_card_velocity_max: PositiveInt = 5
    # Every allowed currency's limits (AMOUNT_LIMITS, FRAUD_AMOUNT_THRESHOLDS).
    currency_limits: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], CurrencyLimits] = {}
    # Which merchants each caller may act for (MERCHANT_ACCESS); a single id may be written as a string.
    merchant_access: dict[PrincipalArn, list[MerchantId] | MerchantId] = {}
    functions: Functions
    rotation: Rotation
    release: Release = Release()


    @field_validator("merchant_access")
    @classmethod
    def _merchant_access(cls, value: dict[str, list[str] | str]) -> dict[str, list[str] | str]:
        size = sum(len(arn) + sum(len(m) + 3 for m in ([ids] if isinstance(ids, str) else ids)) + 6
                   for arn, ids in value.items())
        if size > MERCHANT_ACCESS_MAX_CHARS:
            raise ValueError(f"expected at most {MERCHANT_ACCESS_MAX_CHARS} characters of JSON (Lambda keeps 4 KB "
                             f"of environment variables per function), got about {size}")
        return value


MERCHANT_ACCESS_MAX_CHARS = 3000


class Api(Model):
    stage_name: str
    authorization_type: Literal["AWS_IAM", "NONE"]
    throttling_burst_limit: PositiveInt
    throttling_rate_limit: Annotated[float, Field(gt=0)]
    log_retention_days: RetentionDays
    # HTTP API integrations give up after at most 30 s (AWS's default and its limit).
    integration_timeout_s: Annotated[int, Field(ge=1, le=30)] = 30


class Alb(Model):
    """The internal load balancer; its HTTPS listener exists only when a certificate is set."""

    http_port: Port
    https_port: Port
    certificate_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:acm:")] | None = None
    tls_server_name: str | None = None
    ssl_policy: str
    idle_timeout_s: Annotated[int, Field(ge=1, le=4000)]
    deletion_protection: bool


class Storage(Model):
    """The audit bucket. PCI DSS 10.5.1 keeps a year of audit history, hence the 365-day floors."""

    audit_glacier_days: PositiveInt
    audit_expiration_days: Annotated[int, Field(ge=365)] | None = None
    noncurrent_glacier_days: PositiveInt
    noncurrent_expiration_days: Annotated[int, Field(ge=365)] | None = None
    abort_incomplete_upload_days: PositiveInt
    force_destroy: bool
    access_log_glacier_days: PositiveInt
    access_log_expiration_days: Annotated[int, Field(ge=365)]
    # Appended to both bucket names (payment-audit-logs-<env>-<suffix>) when the design's names
    # are taken in S3's global namespace; the account id is a good choice.
    bucket_suffix: str | None = None

    @field_validator("bucket_suffix")
    @classmethod
    def _suffix(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", value):
            raise ValueError(f"expected lowercase letters, digits and inner hyphens, such as the account id "
                             f"'111122223333', got {value!r}")
        return value


class Backup(Model):
    """AWS Backup of the Aurora cluster, into a vault encrypted with its own key."""

    enabled: bool
    schedule: str
    retention_days: Annotated[int, Field(ge=1, le=36500)]
    force_destroy: bool

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not re.fullmatch(r"cron\((\S+ ){5}\S+\)", value):
            raise ValueError(f"expected a six-field AWS cron expression such as 'cron(0 6 * * ? *)', got {value!r}")
        return value


_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_[0-9]+$")
_ADDRESS = re.compile(r"^(data\.)?aws_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_-]*$")
_MIN_REASON = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Compliance(Model):
    """Checkov checks skipped inline, keyed by the block's address, then the check ID, with the reason.

    A null reason (or a null address) cancels a skip an earlier layer set.
    """

    skips: dict[str, dict[str, str | None] | None]

    @field_validator("skips")
    @classmethod
    def _skips(cls, value: dict[str, dict[str, str | None] | None]) -> dict[str, dict[str, str | None] | None]:
        for address, checks in value.items():
            if not _ADDRESS.match(address):
                raise ValueError(f"expected a block address such as 'aws_lambda_function.this' or "
                                 f"'data.aws_iam_policy_document.kms', got {address!r}")
            for check, reason in (checks or {}).items():
                if not _CHECK_ID.match(check):
                    raise ValueError(f"{address}: expected a checkov check ID such as 'CKV_AWS_116', got {check!r}")
                if reason is None:
                    continue
                if len(reason.strip()) < _MIN_REASON or len(reason.split()) < 6:
                    raise ValueError(f"{address}.{check}: expected a specific reason (at least {_MIN_REASON} "
                                     f"characters saying why the check does not apply here), got {reason!r}")
                if _CONTROL.search(reason):
                    raise ValueError(f"{address}.{check}: expected a reason on one line, got {reason!r}")
        return value

    def active(self) -> dict[str, dict[str, str]]:
        """The skips in force: cancelled ones left out, addresses and checks sorted."""
        return {address: dict(sorted((check, reason) for check, reason in checks.items() if reason is not None))
                for address, checks in sorted(self.skips.items())
                if checks and any(reason is not None for reason in checks.values())}


_SUBSCRIPTION_ENDPOINTS: dict[str, tuple[re.Pattern[str], str]] = {
    "email": (re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"), "an e-mail address such as 'oncall@example.com'"),
    "https": (re.compile(r"^https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?$"),
              "an https:// URL such as 'https://events.example.com/sns'"),
    "sqs": (re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$"),
            "an SQS queue ARN such as 'arn:aws:sqs:us-east-1:111122223333:alerts'"),
    "lambda": (re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"),
               "a Lambda function ARN such as 'arn:aws:lambda:us-east-1:111122223333:function:pager'"),
}


class Subscription(Model):
    """Who an SNS topic reaches: a protocol and its endpoint."""

    protocol: Literal["email", "https", "sqs", "lambda"]
    endpoint: Annotated[str, Field(min_length=1)]
    topic: Literal["system_errors", "failed_transactions"] = "system_errors"

    @property
    def key(self) -> str:
        """A stable ``for_each`` key: the same subscription keeps its key wherever it is listed."""
        return f"{self.topic} {self.protocol} {self.endpoint}"


class Monitoring(Model):
    api_latency_p99_ms: Annotated[float, Field(gt=0)]
    aurora_cpu_percent: Annotated[float, Field(gt=0, le=100)]
    dynamodb_throttled_requests: Annotated[float, Field(ge=0)]
    dynamodb_throttle_operations: Annotated[list[DynamoDbOperation], Field(min_length=1)]
    alarm_period_s: Literal[10, 30, 60, 300, 900, 3600]
    alarm_evaluation_periods: PositiveInt
    dashboard_period_s: Literal[10, 30, 60, 300, 900, 3600]
    subscriptions: list[Subscription] = []

    def subscription_map(self) -> dict[str, dict[str, str]]:
        """Each subscription by its key, as the template's ``for_each`` map."""
        return {sub.key: {"topic": sub.topic, "protocol": sub.protocol, "endpoint": sub.endpoint}
                for sub in self.subscriptions}

    @field_validator("dynamodb_throttle_operations")
    @classmethod
    def _operations(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected each operation once, got {value!r}")
        return value


class Environment(Model):
    """The whole configuration of one environment."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")]
    region: str
    # The account the environment belongs in: plan, apply and preflight refuse other credentials.
    aws_account_id: str | None = None
    tags: dict[str, str] = {}
    terraform: TerraformSettings
    provider: ProviderSettings = ProviderSettings()
    network: Network
    kms: Kms
    database: Database
    dynamodb: DynamoDb
    lambda_: Lambda = Field(alias="lambda")
    api: Api
    alb: Alb
    storage: Storage
    backup: Backup
    monitoring: Monitoring
    compliance: Compliance

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _AWS_REGION.match(value):
            raise ValueError(f"expected an AWS region such as 'us-east-1', got {value!r}")
        return value

    @field_validator("aws_account_id", mode="before")
    @classmethod
    def _account(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError("expected the 12-digit account id as a quoted string such as '111122223333' (unquoted, "
                             f"YAML reads a number, losing leading zeros or reading them as octal), got {value}")
        if isinstance(value, str) and not re.fullmatch(r"\d{12}", value):
            raise ValueError(f"expected a 12-digit AWS account id such as '111122223333', got {value!r}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _TAG_KEY.match(name) or name.lower().startswith("aws:"):
                raise ValueError(f"expected tag keys AWS accepts, got {name!r}")
        for name, text in value.items():
            if len(text) > 256:
                raise ValueError(f"expected tag values of at most 256 characters (AWS limit), got {len(text)} "
                                 f"for {name!r}")
        return value


Problem = tuple[tuple[str, ...], str]


def _network_problems(net: Network) -> list[Problem]:
    found: list[Problem] = []
    vpc = _ipv4_network(net.vpc_cidr)
    zones = len(net.availability_zones)
    if len(set(net.availability_zones)) != zones:
        found.append((("network", "availability_zones"),
                      f"expected distinct zones, got {net.availability_zones!r}"))
    if zones < 2:
        found.append((("network", "availability_zones"),
                      f"expected at least 2 zones (Aurora and the ALB need two), got {zones}"))
    seen: list[tuple[ipaddress.IPv4Network, tuple[str, ...]]] = []
    for tier in ("public_subnets", "private_subnets", "database_subnets"):
        cidrs: list[str] = getattr(net, tier)
        if len(cidrs) != zones:
            found.append((("network", tier), f"expected one subnet per availability zone "
                          f"({zones}), got {len(cidrs)}"))
        for index, cidr in enumerate(cidrs):
            path = ("network", tier, str(index))
            subnet = _ipv4_network(cidr)
            if not subnet.subnet_of(vpc):
                found.append((path, f"expected a subnet inside the VPC {net.vpc_cidr}, got {cidr!r}"))
            if subnet.prefixlen > 28:
                found.append((path, f"expected a prefix of /28 or larger (AWS minimum), got {cidr!r}"))
            for other, other_path in seen:
                if subnet.overlaps(other):
                    found.append((path, f"expected no overlap with {'.'.join(other_path)} "
                                  f"({other}), got {cidr!r}"))
            seen.append((subnet, path))
    return found


# Skips that hold only while the ALB serves plain HTTP to the VPC link: with a
# certificate the HTTP listener is not rendered and these checks pass.
_PLAIN_HTTP_SKIPS: dict[str, frozenset[str] | None] = {
    "aws_lb_listener.http": None,  # every check: the block is gone
    "aws_lb.this": frozenset({"CKV2_AWS_20"}),
    "aws_vpc_security_group_ingress_rule.alb_from_vpc_link": frozenset({"CKV_AWS_260"}),
}


def _plain_http_skip_problems(cfg: Environment) -> list[Problem]:
    if cfg.alb.certificate_arn is None:
        return []
    found: list[Problem] = []
    for address, checks in cfg.compliance.active().items():
        if address not in _PLAIN_HTTP_SKIPS:
            continue
        stale = _PLAIN_HTTP_SKIPS[address]
        for check in checks:
            if stale is None or check in stale:
                found.append((("compliance", "skips", address, check),
                              "expected no skip once alb.certificate_arn is set (the ALB then serves HTTPS "
                              "only, so the check passes): set it to null, got a skip"))
    return found


def _subscription_problems(monitoring: Monitoring) -> list[Problem]:
    found: list[Problem] = []
    seen: set[str] = set()
    for index, sub in enumerate(monitoring.subscriptions):
        path = ("monitoring", "subscriptions", str(index), "endpoint")
        pattern, expected = _SUBSCRIPTION_ENDPOINTS[sub.protocol]
        if not pattern.match(sub.endpoint):
            found.append((path, f"expected {expected} for protocol {sub.protocol}, got {sub.endpoint!r}"))
        if sub.key in seen:
            found.append((path, f"expected each subscription once, got {sub.endpoint!r} again for "
                          f"{sub.protocol} on {sub.topic}"))
        seen.add(sub.key)
    return found


def _currency_limit_problems(lam: Lambda) -> list[Problem]:
    found: list[Problem] = []
    missing = [code for code in lam.allowed_currencies if code not in lam.currency_limits]
    if missing:
        found.append((("lambda", "currency_limits"),
                      "expected limits for every allowed currency, in its own major units ({} takes the "
                      f"lambda-wide figures), got none for {', '.join(missing)}"))
    for code, own in sorted(lam.currency_limits.items()):
        low, high, _ = currency_limits(lam, code)
        if (own.min_amount is not None or own.max_amount is not None) and low > high:
            found.append((("lambda", "currency_limits", code, "min_amount"),
                          f"expected at most max_amount ({high}), got {low}"))
    return found


def release_step_problems(steps: list[int], max_step: int) -> list[str]:
    """What is wrong with release ``steps`` under ``traffic_max_step``: each rise before the last
    step (the promotion, which a green that served may take at once) is at most ``max_step``."""
    found = []
    if not steps or steps[-1] != 100 or any(b <= a for a, b in pairwise(steps)):
        found.append(f"expected rising percentages ending at 100 (the promotion), got {steps}")
    rises = [(a, b) for a, b in zip([0, *steps], steps[:-1], strict=False) if b - a > max_step]
    found += [f"expected rises of at most lambda.traffic_max_step ({max_step}) before the promotion, got "
              f"{a} -> {b}" for a, b in rises]
    return found


def cross_problems(cfg: Environment) -> list[Problem]:
    """Checks that span several fields; run once every field is valid on its own."""
    found = _network_problems(cfg.network)
    db = cfg.database
    if db.min_capacity > db.max_capacity:
        found.append((("database", "min_capacity"),
                      f"expected at most max_capacity ({db.max_capacity}), got {db.min_capacity}"))
    if db.min_capacity * 2 != int(db.min_capacity * 2):
        found.append((("database", "min_capacity"),
                      f"expected a multiple of 0.5 ACU, got {db.min_capacity}"))
    if db.max_capacity * 2 != int(db.max_capacity * 2):
        found.append((("database", "max_capacity"),
                      f"expected a multiple of 0.5 ACU, got {db.max_capacity}"))
    if cfg.lambda_.min_amount > cfg.lambda_.max_amount:
        found.append((("lambda", "min_amount"),
                      f"expected at most max_amount ({cfg.lambda_.max_amount}), got {cfg.lambda_.min_amount}"))
    found += _currency_limit_problems(cfg.lambda_)
    functions = cfg.lambda_.functions
    shorts: dict[str, str] = {}
    for key in type(functions).model_fields:
        fn: Function = getattr(functions, key)
        traffic = fn.traffic
        total = traffic.blue_weight + traffic.green_weight
        if total != 100:
            found.append((("lambda", "functions", key, "traffic"),
                          f"expected blue_weight + green_weight = 100, got {traffic.blue_weight} + "
                          f"{traffic.green_weight} = {total}"))
        if fn.short_name in shorts:
            found.append((("lambda", "functions", key, "short_name"),
                          f"expected a short name unique among functions, got {fn.short_name!r} "
                          f"(also {shorts[fn.short_name]})"))
        shorts[fn.short_name] = key
        if fn.timeout_s >= cfg.api.integration_timeout_s:
            found.append((("lambda", "functions", key, "timeout_s"),
                          f"expected less than api.integration_timeout_s ({cfg.api.integration_timeout_s} s: "
                          f"the API answers 504 then while the function runs on), got {fn.timeout_s}"))
    store = cfg.storage
    if store.audit_glacier_days >= (store.audit_expiration_days or 10**9):
        found.append((("storage", "audit_glacier_days"),
                      f"expected fewer days than audit_expiration_days, got {store.audit_glacier_days}"))
    if store.noncurrent_glacier_days >= (store.noncurrent_expiration_days or 10**9):
        found.append((("storage", "noncurrent_glacier_days"),
                      f"expected fewer days than noncurrent_expiration_days, got {store.noncurrent_glacier_days}"))
    if cfg.alb.certificate_arn is not None and cfg.alb.tls_server_name is None:
        found.append((("alb", "tls_server_name"), "expected the host name on the certificate (API Gateway "
                      "verifies it on the HTTPS listener), got nothing"))
    if cfg.alb.http_port == cfg.alb.https_port:
        found.append((("alb", "https_port"), f"expected a port other than http_port, got {cfg.alb.https_port}"))
    found += _plain_http_skip_problems(cfg)
    found += _subscription_problems(cfg.monitoring)
    if cfg.terraform.backend == "s3" and not cfg.terraform.state_bucket:
        found.append((("terraform", "state_bucket"), "expected a bucket name for the s3 backend, got ''"))
    return found
