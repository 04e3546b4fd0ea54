"""Which differences a re-plan right after apply may show: known emulator artefacts, nothing else.

A re-plan against real AWS right after apply must be empty. Against moto some
attributes read back differently from what was written; each such
(resource type, attribute) pair is listed below with the reason, observed
with moto 5.2.x and hashicorp/aws 5.100. Anything else in the plan fails the
e2e test, naming the resource address and the attribute.

Two kinds of entries:

- a direct artefact: the emulator returns a value that differs from what
  Terraform wrote, so the plan shows a known value changing;
- a knock-on (an entry with ``caused_by``): an attribute that only becomes
  "(known after apply)" because a direct artefact elsewhere in the same plan
  forces an update. It is allowed only as unknown, and only while its cause
  is in the plan, so it cannot hide a real change.

Resource creations and deletions are never allowed: they mean the emulator
lost something, or the configuration does not converge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Pair = tuple[str, str]


@dataclass(frozen=True)
class Allowed:
    resource_type: str
    attribute: str
    reason: str
    caused_by: Pair | None = None  # set for a knock-on: the direct artefact it follows

    @property
    def pair(self) -> Pair:
        return (self.resource_type, self.attribute)


_LAMBDA_LOGGING: Pair = ("aws_lambda_function", "logging_config")
_KMS_ROTATION_PERIOD: Pair = ("aws_kms_key", "rotation_period_in_days")

ALLOWLIST: tuple[Allowed, ...] = (
    # --- direct artefacts ----------------------------------------------------
    Allowed("aws_rds_cluster", "scaling_configuration",
            "moto's DescribeDBClusters returns an empty ScalingConfigurationInfo for an "
            "engine_mode=provisioned cluster; the provider reads it as one Serverless v1 "
            "scaling_configuration block and plans to fill in its defaults (real AWS omits it)"),
    Allowed("aws_vpc_security_group_ingress_rule", "description",
            "moto's DescribeSecurityGroupRules returns no Description for rules that reference "
            "a security group or a prefix list, so every such rule reads back without one"),
    Allowed("aws_vpc_security_group_egress_rule", "description",
            "as for ingress rules: moto's DescribeSecurityGroupRules drops the Description of "
            "rules that reference a security group or a prefix list"),
    Allowed("aws_kms_key", "rotation_period_in_days",
            "moto's EnableKeyRotation ignores RotationPeriodInDays and GetKeyRotationStatus "
            "does not return it, so the period reads back as 0 (rotation itself is enabled; "
            "verify.py checks KeyRotationEnabled)"),
    *(Allowed("aws_rds_cluster_instance", attribute,
              "moto's CreateDBInstance/DescribeDBInstances drop Performance Insights, so an instance "
              "reads back with it off and without its key and retention")
      for attribute in ("performance_insights_enabled", "performance_insights_kms_key_id",
                        "performance_insights_retention_period")),
    Allowed("aws_lambda_function", "logging_config",
            "moto's CreateFunction/GetFunction drop LoggingConfig, so the function reads back "
            "without its log format and log group"),
    # --- knock-ons of the direct artefacts above ------------------------------
    Allowed("aws_lambda_function", "version",
            "the logging_config update republishes the function (publish = true)", caused_by=_LAMBDA_LOGGING),
    Allowed("aws_lambda_function", "qualified_arn",
            "follows the republished version", caused_by=_LAMBDA_LOGGING),
    Allowed("aws_lambda_function", "qualified_invoke_arn",
            "follows the republished version", caused_by=_LAMBDA_LOGGING),
    Allowed("aws_lambda_alias", "function_version",
            "an alias that follows the latest published version follows the republished one",
            caused_by=_LAMBDA_LOGGING),
    Allowed("aws_iam_role_policy", "policy",
            "policy documents name the KMS key ARNs; the pending rotation_period_in_days update "
            "on the keys defers reading the aws_iam_policy_document data sources to apply time",
            caused_by=_KMS_ROTATION_PERIOD),
)


@dataclass(frozen=True)
class Difference:
    address: str
    resource_type: str
    attribute: str
    before: Any
    after: Any
    unknown: bool
    replaces: bool = False

    @property
    def pair(self) -> Pair:
        return (self.resource_type, self.attribute)

    def describe(self) -> str:
        after = "(known after apply)" if self.unknown else _short(self.after)
        replaces = " (forces replacement)" if self.replaces else ""
        return f"{self.address}: {self.attribute}: {_short(self.before)} -> {after}{replaces}"


@dataclass
class Verdict:
    problems: list[str]
    allowed: list[Difference]
    changed_resources: int

    def summary(self) -> str:
        """The allowlisted differences by (type, attribute), with counts."""
        counts = Counter(f"{d.resource_type}.{d.attribute}" for d in self.allowed)
        return ", ".join(f"{pair} x{count}" for pair, count in sorted(counts.items())) or "none"


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _any_unknown(marks: Any) -> bool:
    if marks is True:
        return True
    if isinstance(marks, Mapping):
        return any(_any_unknown(v) for v in marks.values())
    if isinstance(marks, list):
        return any(_any_unknown(v) for v in marks)
    return False


def differences(change: Mapping[str, Any]) -> list[Difference]:
    """The top-level attributes a planned update or replacement changes."""
    body = change["change"]
    before = body.get("before") or {}
    after = body.get("after") or {}
    unknown = body.get("after_unknown") or {}
    replaced = {path[0] for path in body.get("replace_paths") or [] if path}
    found = []
    for attribute in sorted(set(before) | set(after) | set(unknown)):
        is_unknown = _any_unknown(unknown.get(attribute))
        if is_unknown or before.get(attribute) != after.get(attribute):
            found.append(Difference(change["address"], change["type"], attribute,
                                    before.get(attribute), after.get(attribute), is_unknown,
                                    attribute in replaced))
    return found


def check(plan: Mapping[str, Any]) -> Verdict:
    """Judge ``terraform show -json`` of a re-plan: every change must be an allowlisted artefact."""
    entries = {entry.pair: entry for entry in ALLOWLIST}
    problems: list[str] = []
    pending: list[Difference] = []
    changed = 0
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if change.get("mode") == "data" or actions in (["no-op"], ["read"]):
            continue
        changed += 1
        address = change["address"]
        if actions == ["create"]:
            problems.append(f"{address}: would be created again (missing from the emulator or from state)")
            continue
        if actions == ["delete"]:
            problems.append(f"{address}: would be destroyed (no longer in the configuration)")
            continue
        found = differences(change)
        if not found:
            problems.append(f"{address}: planned {'/'.join(actions)} with no attribute difference "
                            f"({change.get('action_reason', 'no reason given')})")
        pending.extend(found)
    present = {d.pair for d in pending if d.pair in entries and entries[d.pair].caused_by is None}
    allowed: list[Difference] = []
    for difference in pending:
        entry = entries.get(difference.pair)
        if entry is None:
            problems.append(f"{difference.describe()} (not an allowlisted emulator artefact)")
        elif entry.caused_by is not None and not difference.unknown:
            problems.append(f"{difference.describe()} (allowlisted only as a knock-on that "
                            f"becomes known after apply, but a known value changes)")
        elif entry.caused_by is not None and entry.caused_by not in present:
            problems.append(f"{difference.describe()} (allowlisted only as a knock-on of "
                            f"{entry.caused_by[0]}.{entry.caused_by[1]}, which is not in this plan)")
        else:
            allowed.append(difference)
    for name, output in sorted((plan.get("output_changes") or {}).items()):
        if output.get("actions") not in (["no-op"], None):
            problems.append(f"output {name}: planned {'/'.join(output['actions'])}: "
                            f"{_short(output.get('before'))} -> {_short(output.get('after'))}")
    return Verdict(problems, allowed, changed)


def without_artefacts(plan: Mapping[str, Any]) -> dict[str, Any]:
    """``plan`` with exactly the allowlisted artefacts read as unchanged, by the rules of ``check``:
    a direct artefact's attribute keeps its prior value, a knock-on's too, but only while it is
    unknown and its cause is in the plan; a resource update left with no difference becomes a
    no-op. Everything else (creations, deletions, any other attribute) stays as planned.

    For the end-to-end release only: a release step's plan against the emulator carries these
    artefacts on every apply, and the step check (tfgen.deploy.review.step) refuses any change
    beyond the traffic move, as it must against AWS, where they do not occur."""
    import copy

    entries = {entry.pair: entry for entry in ALLOWLIST}
    cleaned = copy.deepcopy(dict(plan))
    updates = [rc for rc in cleaned.get("resource_changes") or ()
               if rc.get("mode", "managed") == "managed" and rc["change"]["actions"] == ["update"]]
    present = {d.pair for rc in updates for d in differences(rc)
               if d.pair in entries and entries[d.pair].caused_by is None}
    for rc in updates:
        body = rc["change"]
        for difference in differences(rc):
            entry = entries.get(difference.pair)
            if entry is None or (entry.caused_by is not None
                                 and (not difference.unknown or entry.caused_by not in present)):
                continue
            before = (body.get("before") or {}).get(difference.attribute)
            body.setdefault("after", {})[difference.attribute] = copy.deepcopy(before)
            (body.get("after_unknown") or {}).pop(difference.attribute, None)
            if "after_sensitive" in body and isinstance(body["after_sensitive"], dict) \
                    and isinstance(body.get("before_sensitive"), dict):
                body["after_sensitive"][difference.attribute] = body["before_sensitive"].get(difference.attribute,
                                                                                            False)
        if not differences(rc):
            body["actions"] = ["no-op"]
    return cleaned


# --- drift ---------------------------------------------------------------------------------------
# What `tfgen drift` reports on a stack just applied to the emulator, and only there: the emulator
# reads these back unlike what it was given. The product's own filter (tfgen.deploy.review.drift:
# null against empty, equivalent policies, tags_all, attributes other resources set) is for real
# provider noise; these are not filtered by it, on purpose (``0`` and ``false`` against null may be
# a real default changed), and are allowed here only with the values observed, under "other
# differences", never under a security class.

@dataclass(frozen=True)
class DriftArtefact:
    resource_type: str
    path_suffix: str  # the difference's path ends with it (``.period`` of ``metric_query[2].period``)
    reviewed: str  # "null", or "set" (any value but null)
    live: Any
    reason: str


DRIFT_ALLOWLIST: tuple[DriftArtefact, ...] = (
    DriftArtefact("aws_cloudwatch_metric_alarm", ".period", "null", 0,
                  "moto's DescribeAlarms returns Period 0 for each metric query of a metric-math alarm, which "
                  "terraform created without one"),
    DriftArtefact("aws_s3_bucket_server_side_encryption_configuration", "bucket_key_enabled", "null", False,
                  "moto's GetBucketEncryption returns BucketKeyEnabled false for an SSE-S3 rule created without it"),
    DriftArtefact("aws_vpc_security_group_ingress_rule", "description", "set", None,
                  "moto's DescribeSecurityGroupRules drops the Description of rules that reference a security "
                  "group or a prefix list (as for a re-plan, above)"),
    DriftArtefact("aws_vpc_security_group_egress_rule", "description", "set", None,
                  "as for ingress rules"),
)


def drift_problems(report: Mapping[str, Any]) -> list[str]:
    """The entries of a `tfgen drift --format json` report's "other differences" that are not a
    known emulator artefact, one line each."""
    problems = []
    for entry in report["classes"]["other differences"]:
        for difference in entry["differences"]:
            if not any(entry["type"] == a.resource_type and difference["path"].endswith(a.path_suffix)
                       and (difference["reviewed"] is None) == (a.reviewed == "null")
                       and difference["live"] == a.live and type(difference["live"]) is type(a.live)
                       for a in DRIFT_ALLOWLIST):
                problems.append(f"{entry['address']}: {difference['path']}: live {difference['live']!r}, "
                                f"reviewed {difference['reviewed']!r} (not an allowlisted emulator artefact)")
    return problems
