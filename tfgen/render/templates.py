"""The Jinja environment, and rendering one environment to ``{path: bytes}``.

Templates hold loops and conditionals; the values they need are computed
here. Every value from configuration reaches HCL through the ``hcl`` filter.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from tfgen import __version__, inputs
from tfgen.config import names as naming
from tfgen.config.currency import currency_limits
from tfgen.config.environment import Loaded
from tfgen.errors import RenderError, UsageError
from tfgen.inputs import MANIFEST as MANIFEST
from tfgen.inputs import count_resources
from tfgen.render import adoption, hcl
from tfgen.render.adoption import Adoption

if TYPE_CHECKING:
    from tfgen.config.model import Environment
    from tfgen.render.package import BuiltPackage, DataFile

TEMPLATE_SUFFIX = ".tf.j2"


@dataclass(frozen=True)
class Rendered:
    """One environment's rendered root module, not yet written anywhere."""

    env: str
    files: dict[str, bytes]
    config_digest: str
    input_digest: str | None = None  # of what it was rendered from (tfgen.inputs), when known

    @property
    def resource_count(self) -> int:
        return count_resources(self.files)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates, keyed by Jinja on each template's source checksum."""
    directory = cache_dir().parent / "jinja"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(directory))


@cache
def jinja_env(template_dir: Path) -> jinja2.Environment:
    """The one Jinja environment for ``template_dir``, built once per process."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["hcl"] = hcl.literal
    env.filters["hcl_key"] = hcl.key
    env.filters["hcl_object"] = hcl.multiline
    env.filters["hcl_attributes"] = hcl.attributes
    return env


def template_names(template_dir: Path) -> list[str]:
    """The templates that produce files: ``<name>.tf.j2``, not partials starting with ``_``."""
    return sorted(name for name in os.listdir(template_dir)
                  if name.endswith(TEMPLATE_SUFFIX) and not name.startswith((".", "_")))


def config_digest(loaded: Loaded) -> str:
    payload = json.dumps(loaded.model.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(f"{loaded.name}\n{payload}".encode()).hexdigest()


def context(loaded: Loaded) -> dict[str, Any]:
    """What the templates see: the model, derived names, per-zone and per-function facts."""
    cfg = loaded.model
    net = cfg.network
    zones = [
        {"key": str(index), "index": index, "az": az,
         "public": net.public_subnets[index], "private": net.private_subnets[index],
         "database": net.database_subnets[index]}
        for index, az in enumerate(net.availability_zones)
    ]
    tags = {"Environment": loaded.name, "Project": cfg.project, "ManagedBy": "tfgen", **cfg.tags}
    names = naming.names(loaded.name, cfg)
    return {
        "env": loaded.name,
        "cfg": cfg,
        "names": names,
        "zones": zones,
        "nat_keys": [zones[0]["key"]] if net.single_nat_gateway else [z["key"] for z in zones],
        "default_tags": tags,
        "tfgen_version": __version__,
        "hosts": service_hosts(cfg.region),
        "nat_services": nat_services(cfg),
        "functions": functions(cfg, names),
        "settings": function_settings(loaded.name, cfg),
        "routes": routes(cfg),
        "aliases": aliases(cfg, names),
        "aurora_readers": {key: name for key, name in names["aurora_instances"].items() if key != "writer"},
        "engine_family": naming.engine_family(cfg.database.engine_version),
        "throttle_metrics": throttle_metrics(cfg.monitoring.dynamodb_throttle_operations),
        "throttle_expression": throttle_expression(cfg.monitoring.dynamodb_throttle_operations),
        # templates/_checkov.j2 writes these inside the block each address names.
        "checkov_skips": cfg.compliance.active(),
    }


def service_hosts(region: str) -> dict[str, str]:
    """The regional host name of each AWS service the stack names in policies and settings."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return {service: f"{service}.{region}.{suffix}"
            for service in ("backup", "dynamodb", "kms", "lambda", "logs", "rds", "s3", "secretsmanager",
                            "sns")}


# The AWS APIs the functions behind each security group call from inside the VPC.
_CALLED_APIS = {"lambda": ("dynamodb", "kms", "s3", "sns"), "rotation_lambda": ("secretsmanager",)}


def nat_services(cfg: Environment) -> dict[str, list[str]]:
    """Per Lambda security group, the AWS APIs it must reach through a NAT gateway (no VPC endpoint)."""
    endpoints = {*cfg.network.gateway_endpoints, *cfg.network.interface_endpoints}
    return {group: [api for api in apis if api not in endpoints] for group, apis in _CALLED_APIS.items()}


def functions(cfg: Environment, names: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each Lambda function's settings, keyed by function key (the payment functions, then rotation)."""
    sizes: dict[str, tuple[int, int, int | None]] = {
        key: (fn.memory_mb, fn.timeout_s, fn.reserved_concurrency)
        for key in naming.FUNCTION_KEYS for fn in [getattr(cfg.lambda_.functions, key)]
    }
    rotation = cfg.lambda_.rotation
    sizes[naming.ROTATION_KEY] = (rotation.memory_mb, rotation.timeout_s, rotation.reserved_concurrency)
    return {
        key: {"function_name": names["functions"][key], "handler": f"{key}.handler",
              "log_group": names["log_groups"][key], "memory_size": memory, "timeout": timeout,
              "reserved_concurrent_executions": reserved}
        for key, (memory, timeout, reserved) in sizes.items()
    }


def _number(value: float | int) -> str:
    """A number as an environment variable, in plain decimal: ``10000.0`` as ``10000``, ``1e-05`` as ``0.00001``."""
    return format(Decimal(repr(value)).normalize(), "f")


def function_settings(env: str, cfg: Environment) -> dict[str, dict[str, str]]:
    """The environment variables of each function that come from configuration.

    lambdas/README.md lists what each handler reads; the names of the resources a
    function uses (table, topic, bucket, keys) are added in templates/lambda.tf.j2.
    """
    lam = cfg.lambda_
    common = {"ENVIRONMENT": env, "LOG_LEVEL": lam.log_level, "MERCHANT_ACCESS": merchant_access(cfg)}
    limits = {code: currency_limits(lam, code) for code in sorted(lam.allowed_currencies)}
    return {
        "payment_validation": {
            **common,
            "ALLOWED_CURRENCIES": ",".join(lam.allowed_currencies),
            "AMOUNT_LIMITS": _json({code: {"min": _number(low), "max": _number(high)}
                                    for code, (low, high, _) in limits.items()}),
            "IDEMPOTENCY_TTL_HOURS": _number(lam.idempotency_ttl_hours),
        },
        "fraud_detection": {
            **common,
            "FRAUD_AMOUNT_THRESHOLDS": _json({code: _number(threshold)
                                              for code, (_, _, threshold) in limits.items()}),
            "FRAUD_VELOCITY_WINDOW_SECONDS": _number(lam.fraud_velocity_window_s),
            "FRAUD_VELOCITY_MAX_TRANSACTIONS": _number(lam.fraud_velocity_max),
            "FRAUD_FAILURE_WINDOW_SECONDS": _number(lam.fraud_failure_window_s),
            "FRAUD_FAILURE_MAX": _number(lam.fraud_failure_max),
            "FRAUD_CARD_VELOCITY_WINDOW_SECONDS": _number(lam.fraud_card_velocity_window_s),
            "FRAUD_CARD_VELOCITY_MAX_TRANSACTIONS": _number(lam.fraud_card_velocity_max),
        },
        "transaction_processing": common,
        naming.ROTATION_KEY: {
            "LOG_LEVEL": lam.log_level,
            "SECRETS_MANAGER_ENDPOINT": f"https://{service_hosts(cfg.region)['secretsmanager']}",
            "PASSWORD_LENGTH": _number(cfg.database.master_password_length),
        },
    }


def _json(value: Any) -> str:
    """Compact JSON with sorted keys, as the handlers read structured settings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def merchant_access(cfg: Environment) -> str:
    """``lambda.merchant_access`` as the handlers read it: compact JSON, principal -> sorted merchant ids."""
    grants = {arn: sorted({ids} if isinstance(ids, str) else set(ids))
              for arn, ids in cfg.lambda_.merchant_access.items()}
    return _json(grants)


def alb_path(route: str) -> str:
    """The load balancer path pattern of an API route: ``/payments/{id}/process`` gives ``/payments/*/process``."""
    return re.sub(r"\{[a-z_]+\}", "*", route)


def routes(cfg: Environment) -> dict[str, dict[str, Any]]:
    """How each payment function is reached through the API and the load balancer, and its traffic split."""
    result = {}
    for index, key in enumerate(naming.FUNCTION_KEYS, 1):
        fn = getattr(cfg.lambda_.functions, key)
        result[key] = {"route_key": f"{fn.method} {fn.route}", "method": fn.method,
                       "path_pattern": alb_path(fn.route), "priority": 100 * index,
                       "weights": {"blue": fn.traffic.blue_weight, "green": fn.traffic.green_weight}}
    return result


def aliases(cfg: Environment, names: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One entry per payment function and colour, keyed ``<function>-<colour>``.

    ``function_version`` is null for ``latest`` (the version this apply publishes) or the
    pinned version number.
    """
    result = {}
    for key in naming.FUNCTION_KEYS:
        traffic = getattr(cfg.lambda_.functions, key).traffic
        for color in naming.COLORS:
            version = getattr(traffic, f"{color}_version")
            result[f"{key}-{color}"] = {"function": key, "alias": color,
                                        "function_version": None if version == "latest" else version,
                                        "target_group": names["target_groups"][key][color]}
    return result


def throttle_metrics(operations: list[str]) -> dict[str, str]:
    """The metric-math id of each DynamoDB operation's ThrottledRequests series."""
    return {f"m_{operation.lower()}": operation for operation in operations}


def throttle_expression(operations: list[str]) -> str:
    """Metric math summing the throttled-request series, a missing one counting as 0."""
    return "SUM([" + ", ".join(f"FILL({metric}, 0)" for metric in throttle_metrics(operations)) + "])"


def package_refs(built: dict[str, BuiltPackage]) -> dict[str, dict[str, str]]:
    """What templates see of each function's package: its path in the output directory and the
    base64 SHA-256 of its bytes (what Terraform's filebase64sha256 gives)."""
    return {key: {"filename": f"packages/{key}.zip", "source_code_hash": package.source_code_hash}
            for key, package in built.items()}


def packages(loaded: Loaded, lambda_dir: Path) -> dict[str, BuiltPackage]:
    """Each function's deployment package, built reproducibly (or read from the cache)."""
    if not lambda_dir.is_dir():
        raise UsageError(f"{lambda_dir}: no such lambdas directory (the functions' source)")
    cfg = loaded.model.lambda_
    return _packages(lambda_dir, cfg.runtime, cfg.architecture, cfg.rotation.ca_bundle)


# The Amazon RDS CA bundle in the repository (lambdas/README.md, "TLS to the database"), the file
# pinning its SHA-256, and where the rotation function finds the bundle it is given in its zip.
RDS_CA_BUNDLE = "certs/rds-global-bundle.pem"
CA_BUNDLE_ZIP_PATH = "rds-ca-bundle.pem"


def ca_bundle(lambda_dir: Path, configured: str | None) -> DataFile:
    """The CA bundle shipped with the rotation function: ``lambda.rotation.ca_bundle`` (relative to
    the repository root) or the pinned RDS bundle under ``lambda_dir``."""
    from tfgen.render.package import DataFile

    if configured is not None:
        path = Path(configured)
        return DataFile(CA_BUNDLE_ZIP_PATH, path if path.is_absolute() else lambda_dir.parent / path,
                        hint="lambda.rotation.ca_bundle names it")
    bundle = lambda_dir / RDS_CA_BUNDLE
    pin_file = bundle.with_name(bundle.name + ".sha256")
    try:
        pin = pin_file.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        raise UsageError(f"{pin_file}: cannot read the pinned SHA-256 of the RDS CA bundle") from None
    return DataFile(CA_BUNDLE_ZIP_PATH, bundle, sha256=pin,
                    hint="run `make rds-ca-bundle`, or name a bundle in lambda.rotation.ca_bundle")


@lru_cache(maxsize=8)
def _packages(lambda_dir: Path, runtime: str, architecture: str, bundle: str | None) -> dict[str, BuiltPackage]:
    """Packages depend only on the sources, runtime, architecture and CA bundle: built once per process."""
    from tfgen.render.package import PackageSpec, build_package

    built = {}
    for key in (*naming.FUNCTION_KEYS, naming.ROTATION_KEY):
        source = lambda_dir / key
        requirements = source / "requirements.txt"
        rotation = key == naming.ROTATION_KEY
        sources = (source,) if rotation else (source, lambda_dir / "common")
        spec = PackageSpec(name=key, sources=sources,
                           requirements=requirements if requirements.is_file() else None,
                           runtime=runtime, architecture=architecture,
                           data_files=(ca_bundle(lambda_dir, bundle),) if rotation else ())
        built[key] = build_package(spec, cache_dir())
    return built


def cache_dir() -> Path:
    return inputs.cache_root() / "packages"


def render(loaded: Loaded, template_dir: Path, lambda_dir: Path, adopted: Adoption | None = None) -> Rendered:
    """Render every template (and build every package) for one environment, in memory; ``adopted``
    is its adoption record (tfgen.render.adoption), if it has one."""
    env = jinja_env(template_dir.resolve())
    ctx = context(loaded)
    ctx["keep_credentials"] = adopted is not None and adopted.keep_credentials
    built = packages(loaded, lambda_dir)
    ctx["packages"] = package_refs(built)
    files: dict[str, bytes] = {f"packages/{key}.zip": pkg.data for key, pkg in built.items()}
    for name in template_names(template_dir):
        try:
            text = env.get_template(name).render(ctx)
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            where = f"{name}:{line}" if line else name
            raise RenderError(f"templates/{where}: {type(exc).__name__}: {exc}") from None
        files[name[: -len(".j2")]] = _normalise(text).encode()
    if adopted is not None and adopted.imports and not adopted.applied:
        files[adoption.IMPORTS_FILE] = adoption.imports_tf(adopted).encode()
    return Rendered(env=loaded.name, files=files, config_digest=config_digest(loaded))


_BLANK_RUNS = re.compile(r"\n{3,}")
# The ASCII whitespace other than space and newline. A text holding none of these, no " \n" and
# no non-ASCII character has no trailing blanks to strip, which cheap substring tests establish.
_RARE_BLANKS = ("\t", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x1f")


def _normalise(text: str) -> str:
    """LF endings, no trailing blanks, runs of blank lines folded, one final newline."""
    if (not text.isascii() or " \n" in text or text.endswith(" ")
            or any(blank in text for blank in _RARE_BLANKS)):
        text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n") + "\n"
