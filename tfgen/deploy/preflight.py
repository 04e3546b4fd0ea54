"""Read-only checks of the target AWS account before an apply: what `terraform validate` cannot see.

Each ``judge_*`` function is pure: it takes what AWS answered as plain values and returns
one :class:`Check`. :func:`run` asks AWS (boto3, imported only here, only when the checks
run) and hands the answers to the judges. Nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from tfgen.config import names as naming
from tfgen.errors import UsageError

if TYPE_CHECKING:
    from tfgen.config.model import Environment

Status = Literal["ok", "problem", "could-not-check"]
Clients = Callable[[str], Any]

# EC2-VPC Elastic IPs per region: AWS documents a default of 5.
EIP_QUOTA = ("ec2", "L-0263D0A3")
DEFAULT_EIP_QUOTA = 5
# Lambda keeps this much of the account's concurrency unreserved; a reservation that would
# leave less is refused (PutFunctionConcurrency).
MIN_UNRESERVED = 100
# Terraform provider endpoint names of the boto3 services asked, where they differ.
_PROVIDER_ENDPOINT = {"service-quotas": "servicequotas"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Report:
    env: str
    account: str | None
    checks: list[Check]

    @property
    def problems(self) -> list[Check]:
        return [check for check in self.checks if check.status == "problem"]

    def text(self) -> str:
        return "\n".join(f"{check.status:<16} {check.name}: {check.detail}" for check in self.checks)

    def json(self) -> str:
        return json.dumps({"environment": self.env, "account": self.account,
                           "checks": [asdict(check) for check in self.checks],
                           "problems": len(self.problems)}, indent=2)


# --- judges: pure, tested on fixtures ------------------------------------------------------------


def judge_credentials(account: str | None, expected: str | None, error: str | None = None) -> Check:
    name = "credentials"
    if account is None:
        return Check(name, "problem", f"no usable AWS credentials ({error}): nothing can be applied")
    if expected is None:
        return Check(name, "ok", f"account {account} (aws_account_id is not set, so any account is accepted)")
    if account != expected:
        return Check(name, "problem", f"the credentials are for account {account}, but aws_account_id is "
                                      f"{expected}: plan and apply refuse them")
    return Check(name, "ok", f"account {account}, as aws_account_id says")


def judge_elastic_ips(needed: int, allocated_elsewhere: int, quota: float | None, quota_note: str = "") -> Check:
    """``needed``: this environment's NAT gateways; ``allocated_elsewhere``: EIPs the account holds
    that are not this environment's; ``quota`` None when Service Quotas did not answer."""
    name = "elastic IPs"
    limit = int(quota) if quota is not None else DEFAULT_EIP_QUOTA
    source = "quota" if quota is not None else f"AWS's default quota ({quota_note or 'Service Quotas did not answer'})"
    total = allocated_elsewhere + needed
    detail = (f"{needed} for this environment's NAT gateways + {allocated_elsewhere} already allocated = {total} "
              f"of {limit} ({source})")
    if total > limit:
        return Check(name, "problem", detail + ": the NAT gateways' EIPs would fail to allocate; release EIPs or "
                                               f"request more (Service Quotas {EIP_QUOTA[0]} {EIP_QUOTA[1]})")
    return Check(name, "ok", detail)


def judge_concurrency(wanted: int, limit: int, unreserved: int, own_reserved: int) -> Check:
    """``wanted``: what this environment reserves; ``limit`` and ``unreserved``: GetAccountSettings;
    ``own_reserved``: what this environment's functions already reserve (a stack being updated)."""
    name = "Lambda concurrency"
    others = limit - unreserved - own_reserved
    left = limit - others - wanted
    detail = (f"account limit {limit}, {others} reserved by other functions, {wanted} reserved here: "
              f"{left} left unreserved")
    if left < MIN_UNRESERVED:
        return Check(name, "problem", detail + f", Lambda keeps at least {MIN_UNRESERVED}: setting the reserved "
                                               "concurrency would fail; request a higher concurrency quota "
                                               "(Service Quotas lambda L-B99A9384) or reserve less")
    return Check(name, "ok", detail)


def judge_bucket(bucket: str, status: int | None, error: str = "") -> Check:
    """``status``: the HTTP status of HeadBucket with the caller's account as expected owner."""
    name = f"bucket {bucket}"
    if status == 200:
        return Check(name, "ok", "exists and belongs to this account")
    if status == 404:
        return Check(name, "ok", "free")
    if status == 403:
        return Check(name, "problem", "taken by another account (HeadBucket answered 403); bucket names are "
                                      "global: set storage.bucket_suffix, for example to the account id")
    return Check(name, "could-not-check", f"HeadBucket failed: {error or status}")


def judge_state_bucket(bucket: str, status: int | None, versioning: str | None, error: str = "") -> Check:
    name = f"state bucket {bucket}"
    if status == 404:
        return Check(name, "problem", "does not exist: create it, with versioning, before `tfgen init`")
    if status == 403:
        return Check(name, "problem", "not readable with these credentials (HeadBucket answered 403)")
    if status != 200:
        return Check(name, "could-not-check", f"HeadBucket failed: {error or status}")
    if versioning != "Enabled":
        return Check(name, "problem", f"versioning is {versioning or 'off'}: turn it on, so an overwritten or "
                                      "deleted state can be recovered")
    return Check(name, "ok", "exists, versioning enabled")


# --- asking AWS ------------------------------------------------------------------------------------


def clients_for(cfg: Environment) -> Clients:
    """boto3 clients in the environment's region with the caller's credentials (or the provider
    settings' endpoints and keys, when the environment targets an emulator)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UsageError("tfgen preflight needs boto3: pip install 'payments-tfgen[aws]'") from None
    provider = cfg.provider
    session = boto3.session.Session(aws_access_key_id=provider.access_key,
                                    aws_secret_access_key=provider.secret_key, region_name=cfg.region)
    config = Config(retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": "path" if provider.s3_use_path_style else "auto"})
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            endpoint = provider.endpoints.get(_PROVIDER_ENDPOINT.get(service, service))
            made[service] = session.client(service, endpoint_url=endpoint, config=config)
        return made[service]

    return client


def _error(exc: Exception) -> tuple[int | None, str]:
    """The HTTP status and a one-line description of a botocore error."""
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    text = f"{code}: {response['Error'].get('Message', '')}".rstrip(": ") if code else f"{type(exc).__name__}: {exc}"
    return status, text


def caller_account(clients: Clients) -> tuple[str | None, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return clients("sts").get_caller_identity()["Account"], ""
    except (BotoCoreError, ClientError) as exc:
        return None, _error(exc)[1]


def account_of(model: Environment, clients: Clients | None = None) -> tuple[str | None, str]:
    """The account of the caller's credentials, or None and why it cannot be told (boto3 missing
    included: it is optional, so this never fails for want of it)."""
    if clients is None:
        try:
            clients = clients_for(model)
        except UsageError:
            return None, "boto3 is not installed: pip install 'payments-tfgen[aws]'"
    return caller_account(clients)


def require_account(model: Environment, clients: Clients | None = None) -> None:
    """Refuse (UsageError) when ``aws_account_id`` is set and the caller's credentials are for
    another account, or their account cannot be told."""
    if model.aws_account_id is not None:
        check_account(model.aws_account_id, *caller_account(clients or clients_for(model)))


def check_account(expected: str | None, account: str | None, error: str) -> None:
    """Refuse (UsageError) ``account`` (None: it cannot be told, for ``error``) when ``expected``
    (``aws_account_id``) is set and ``account`` is not it."""
    if expected is None:
        return
    if account is None:
        raise UsageError(f"aws_account_id is {expected}, but the account of the AWS credentials cannot be "
                         f"told ({error}): refusing to run terraform")
    if account != expected:
        raise UsageError(f"the AWS credentials are for account {account}, but aws_account_id is {expected}: "
                         f"refusing to run terraform in the wrong account")


def _check_buckets(env: str, cfg: Environment, clients: Clients, account: str | None) -> list[Check]:
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = clients("s3")
    found = []
    n = naming.names(env, cfg)
    for bucket in (n["audit_bucket"], n["access_log_bucket"]):
        owner = {"ExpectedBucketOwner": account} if account else {}
        try:
            s3.head_bucket(Bucket=bucket, **owner)
            found.append(judge_bucket(bucket, 200))
        except (BotoCoreError, ClientError) as exc:
            found.append(judge_bucket(bucket, *_error(exc)))
    return found


def _check_state_bucket(cfg: Environment, clients: Clients) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = cfg.terraform.state_bucket
    if cfg.terraform.backend != "s3":
        return Check("state bucket", "ok", "local backend: no state bucket to check")
    s3 = clients("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        status, text = _error(exc)
        return judge_state_bucket(bucket, status, None, text)
    try:
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except (BotoCoreError, ClientError) as exc:
        return Check(f"state bucket {bucket}", "could-not-check", f"GetBucketVersioning failed: {_error(exc)[1]}")
    return judge_state_bucket(bucket, 200, versioning)


def _owned_by(tags: list[dict[str, str]], env: str, cfg: Environment) -> bool:
    """Whether an EIP carries this environment's default tags (its own NAT gateways' EIPs)."""
    found = {tag["Key"]: tag["Value"] for tag in tags}
    return found.get("Environment") == env and found.get("Project") == cfg.project and found.get("ManagedBy") == "tfgen"


def _check_elastic_ips(env: str, cfg: Environment, clients: Clients) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    needed = cfg.network.nat_gateways
    try:
        addresses = clients("ec2").describe_addresses()["Addresses"]
    except (BotoCoreError, ClientError) as exc:
        return Check("elastic IPs", "could-not-check", f"DescribeAddresses failed: {_error(exc)[1]}")
    elsewhere = sum(1 for address in addresses if not _owned_by(address.get("Tags", []), env, cfg))
    try:
        quota = clients("service-quotas").get_service_quota(ServiceCode=EIP_QUOTA[0], QuotaCode=EIP_QUOTA[1])
        return judge_elastic_ips(needed, elsewhere, quota["Quota"]["Value"])
    except (BotoCoreError, ClientError) as exc:
        return judge_elastic_ips(needed, elsewhere, None, _error(exc)[1])


def _check_concurrency(env: str, cfg: Environment, clients: Clients) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    lam = clients("lambda")
    functions = cfg.lambda_.functions
    wanted = {key: getattr(functions, key).reserved_concurrency for key in naming.FUNCTION_KEYS}
    wanted[naming.ROTATION_KEY] = cfg.lambda_.rotation.reserved_concurrency
    try:
        limits = lam.get_account_settings()["AccountLimit"]
        own = 0
        for name in naming.names(env, cfg)["functions"].values():
            try:
                own += lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0
            except ClientError as exc:
                if _error(exc)[0] != 404:
                    raise
    except (BotoCoreError, ClientError) as exc:
        return Check("Lambda concurrency", "could-not-check", _error(exc)[1])
    reserved = sum(value for value in wanted.values() if value and value > 0)
    return judge_concurrency(reserved, limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"], own)


def run(env: str, cfg: Environment, clients: Clients | None = None) -> Report:
    """Every check, in order; each one that AWS does not answer is could-not-check, not a failure."""
    clients = clients or clients_for(cfg)
    account, error = caller_account(clients)
    checks = [judge_credentials(account, cfg.aws_account_id, error)]
    if account is None:
        n = naming.names(env, cfg)
        rest = ("state bucket", f"bucket {n['audit_bucket']}", f"bucket {n['access_log_bucket']}", "elastic IPs",
                "Lambda concurrency")
        return Report(env, None, [*checks, *(Check(name, "could-not-check", "no credentials") for name in rest)])
    checks.append(_check_state_bucket(cfg, clients))
    checks += _check_buckets(env, cfg, clients, account)
    checks.append(_check_elastic_ips(env, cfg, clients))
    checks.append(_check_concurrency(env, cfg, clients))
    return Report(env, account, checks)
