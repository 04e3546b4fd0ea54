"""The resource types the review knows, one entry each, and where the templates keep the pieces it
judges.

Every type is classified on purpose: it **holds data** (deleting or replacing it loses data, or
the means to read it: a key, a secret), it **protects data** held by another resource (versioning,
a lifecycle, a backup plan, default encryption, a secret's rotation: destroying it, or weakening
it, exposes the data), it **carries live traffic** (a request to a payment function passes through
it), it **grants access** (a policy document, a grant, a rule or a setting that opens something),
it **detects** (it logs or alerts on what happens: flow logs, access logs, an alarm, the
subscription alerts reach), or it is **none** of these and says what it is instead. A type can be
several: a KMS key holds the means to read data, is protected by its deletion window and its
rotation, and grants access through its key policy.

The attributes that matter are listed with the type: its protections (``Protection``: what must
stay on, which retention must not shrink, which elements must stay, which key must stay, which
rotation must not lengthen), what keeps it watched (``detection``, judged by the same rules), its
policy documents, the fields whose change grants access, the values that open it (``Opening``)
and the lists each element of which grants it (``Members``). tests/deploy/review/test_catalogue.py
fails on a type the templates render that is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DATA = "data"
PROTECTION = "protection"
TRAFFIC = "traffic"
ACCESS = "access"
DETECTION = "detection"

# Where the templates keep the pieces the traffic and credential checks read.
FUNCTION = "aws_lambda_function.this"
ALIAS = "aws_lambda_alias.this"
LISTENER_RULE = "aws_lb_listener_rule.this"
TARGET_GROUP = "aws_lb_target_group.this"
CLUSTER = "aws_rds_cluster.this"
SECRET_VERSION = "aws_secretsmanager_secret_version.db_credentials"

# Protection rules (tfgen.deploy.review.data judges them).
STAYS = "stays"  # the value must stay ``safe`` (or one of them, given as a tuple) once it is
RETENTION = "retention"  # a number (of days...) or a date that must not shrink; ``forever`` values keep for ever
KEPT = "kept"  # each element of a list (matched by ``key``) must stay
EXPIRATION = "expiration"  # S3 lifecycle rules: no expiration added, shortened, or widened
TTL = "ttl"  # DynamoDB time to live: not turned on, nor moved to another attribute
PERIOD = "period"  # an object lock's default retention, in days or years: must not shrink
FIXED = "fixed"  # any change may narrow what it protects (a backup selection's exclusions, tags, role)
NAMED = "named"  # a key, a destination, a function: once set, it must stay set and the same
LEAST = "least"  # must not fall below its place in ``order`` (weakest first); an unlisted value is weakest
INTERVAL = "interval"  # days between rotations (a number): must not lengthen; ``forever`` values mean never
# Detection rules (tfgen.deploy.review.detection judges them).
FILTER = "filter"  # a filter on what a subscription delivers (its scope at ``key``): none added, none changed
THRESHOLD = "threshold"  # an alarm's threshold: only moved towards alerting more, by its comparison (at ``key``)
ALLOWS = "allows"  # a policy letting a detector deliver: no Allow (of the principal ``key`` matches) removed or
#                   narrowed, no Deny added


@dataclass(frozen=True)
class Protection:
    """An attribute that protects data (or, in ``Entry.detection``, keeps it watched). ``path``
    runs into the resource's values; ``"*"`` stands for each element of a list, matched before and
    after by its ``key`` attribute (with ``only``: just the elements whose key is one of those, the
    parameters of a parameter group by name). A number given as text (a database parameter's
    value) is compared as a number."""

    path: tuple[str | int, ...]
    label: str
    rule: str
    safe: Any = True  # STAYS: the protecting value (a tuple: any of those values)
    default: Any = None  # the value an unset (null) attribute has
    forever: tuple[Any, ...] = (None,)  # RETENTION: "kept for ever"; INTERVAL: "never rotated"
    key: str = ""  # "" with "*": the element itself (a list of strings)
    order: tuple[Any, ...] = ()  # LEAST: the values, weakest first
    only: tuple[str, ...] = ()  # with "*" and ``key``: the elements judged, by key ("": all)


@dataclass(frozen=True)
class Opening:
    """An attribute value that opens access: an API route with ``authorization_type = "NONE"``,
    a public access block flag turned off. ``closed`` lists the values that keep it closed;
    any other value, an unknown one, or (with ``on_delete``) destroying the resource opens it."""

    path: tuple[str | int, ...]
    closed: tuple[Any, ...]
    label: str
    on_delete: bool = False


@dataclass(frozen=True)
class Members:
    """A list each element of which grants access: a grantee of a bucket ACL, a scope a route
    accepts in a token. An element added (or changed) opens access; an element removed does not,
    except that with ``empty_opens`` a list emptied requires nothing any more (a JWT route without
    scopes accepts any token its authorizer accepts)."""

    path: tuple[str | int, ...]
    label: str
    empty_opens: bool = False


@dataclass(frozen=True)
class Entry:
    kinds: frozenset[str]
    note: str = ""  # what a type of none of the kinds is (shown in the review's other changes)
    protection: tuple[Protection, ...] = ()
    on_delete: str = ""  # a protecting type: what destroying it removes ("" if nothing)
    target: str = ""  # a protecting type: the attribute naming what it protects (a bucket)
    documents: tuple[tuple[str, str], ...] = ()  # (attribute holding a policy JSON, its kind)
    grants: tuple[str, ...] = ()  # fields whose new value grants access
    openings: tuple[Opening, ...] = ()
    members: tuple[Members, ...] = ()
    holder: str = ""  # the attribute naming what its policy or grant is attached to (a role, a bucket)
    detection: tuple[Protection, ...] = ()  # what keeps it logging or alerting (DETECTION)
    unwatched: str = ""  # a detecting type: what destroying it stops ("" if nothing)


@dataclass(frozen=True)
class Delivery:
    """A resource of the rendered module that lets a detector deliver what it logs or alerts on: the
    role the flow logs are delivered as and its policy, the access log bucket's policy, the key
    policies letting CloudWatch use the keys of the log groups and alert topics. Destroying it stops
    the delivery (``unwatched``); its ``detection`` rules (``ALLOWS``) judge an update. Judged on top
    of its type's entry."""

    unwatched: str
    detection: tuple[Protection, ...]


def _entry(*kinds: str, **fields: Any) -> Entry:
    return Entry(frozenset(kinds), **fields)


def _none(note: str) -> Entry:
    return Entry(frozenset(), note=note)


def _policy(label: str, *kinds: str, attribute: str = "policy", **fields: Any) -> Entry:
    return _entry(ACCESS, *kinds, documents=((attribute, label),), **fields)


_DELETION_PROTECTION = Protection(("deletion_protection",), "deletion protection", STAYS, default=False)
_FINAL_SNAPSHOT = Protection(("skip_final_snapshot",), "the final snapshot", STAYS, safe=False, default=False)
_AUTOMATED_BACKUPS = Protection(("delete_automated_backups",), "keeping automated backups after deletion", STAYS,
                                safe=False, default=True)
_BACKUP_RETENTION = Protection(("backup_retention_period",), "backup retention", RETENTION, forever=())
_KMS_KEY = (Protection(("is_enabled",), "the key", STAYS, default=True),
            Protection(("deletion_window_in_days",), "the key's deletion window", RETENTION, forever=(),
                       default=30))
_KEY_ROTATION = (Protection(("enable_key_rotation",), "automatic key rotation", STAYS, default=False),
                 Protection(("rotation_period_in_days",), "key rotation period", INTERVAL, forever=(None, 0)))


def _key(path: tuple[str | int, ...], what: str) -> Protection:
    """The customer managed key encrypting what a resource holds: removed or swapped, the data is
    encrypted with a key the review did not see, or with AWS's own."""
    return Protection(path, f"the key encrypting {what}", NAMED)


_SSE_DEFAULT = ("rule", 0, "apply_server_side_encryption_by_default", 0)
_SNAPSHOTS = (Protection(("snapshot_retention_limit",), "snapshot retention", RETENTION, forever=(), default=0),)
_PUBLIC_ACCESS_BLOCK = tuple(Opening((flag,), (True,), f"public access block {flag}", on_delete=True)
                             for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                          "restrict_public_buckets"))
_SG_RULE_FIELDS = ("ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "prefix_list_id",
                   "referenced_security_group_id")


# A database parameter group's ``parameter`` is a set of {name, value, apply_method}: each rule
# judges one parameter, found by name (how it is applied does not matter). A parameter removed
# from the group is reset to the engine's default, which may be off: a reduction too.
_ON = ("1", "on", "true")  # how PostgreSQL and MySQL spell a boolean parameter turned on


def _parameter(name: str, label: str, rule: str, **fields: Any) -> Protection:
    return Protection(("parameter", "*", "value"), label, rule, key="name", only=(name,), **fields)


def _parameters_kept(label: str, *names: str) -> Protection:
    return Protection(("parameter", "*"), label, KEPT, key="name", only=names)


_TLS = "rds.force_ssl"
_AUDIT = ("pgaudit.log", "pgaudit.log_catalog", "pgaudit.log_level", "pgaudit.log_parameter", "pgaudit.log_relation",
          "pgaudit.log_statement_once", "pgaudit.role", "shared_preload_libraries", "server_audit_events",
          "server_audit_excl_users", "server_audit_incl_users")
_LOGGING = ("log_connections", "log_disconnections", "log_statement", "log_min_duration_statement",
            "server_audit_logging", *_AUDIT)
# What the cluster logs (PCI DSS 10.2.1, 10.2.2): environments/defaults.yaml sets the first four for
# PostgreSQL; pgaudit and Aurora MySQL's server audit are judged too where an environment sets them.
# Another parameter group (the engine's default one, say) has other logging and TLS settings.
_CLUSTER_PARAMETERS = Protection(("db_cluster_parameter_group_name",), "the cluster's parameter group", NAMED)
_DATABASE_LOGGING = (
    _parameters_kept("database logging parameter", *_LOGGING),
    _parameter("log_connections", "connection logging", STAYS, safe=_ON),
    _parameter("log_disconnections", "disconnection logging", STAYS, safe=_ON),
    _parameter("log_statement", "statement logging", LEAST, order=("none", "ddl", "mod", "all")),
    _parameter("log_min_duration_statement", "slow statement logging threshold", INTERVAL, forever=("-1", -1)),
    _parameter("server_audit_logging", "database audit logging", STAYS, safe=_ON),
    *(_parameter(name, f"database audit setting {name}", FIXED) for name in _AUDIT),
)

# What an alarm watches and when it fires. Whether another metric, dimension, comparison, statistic
# or period fires as often as the reviewed one cannot be told from the plan, so any change is a
# reduction; a threshold only when it moves away from alerting (raised for "greater than", lowered
# for "less than", any change otherwise: shown, and allowed with --allow-detection-loss); missing
# data treated as less alarming is one too (breaching > missing > ignore > notBreaching).
_ALARM_WATCHES = (
    Protection(("threshold",), "the alarm's threshold", THRESHOLD, key="comparison_operator"),
    *(Protection((name,), label, FIXED) for name, label in (
        ("namespace", "the alarm's metric namespace"), ("metric_name", "the alarm's metric"),
        ("dimensions", "the alarm's metric dimensions"), ("statistic", "the alarm's statistic"),
        ("extended_statistic", "the alarm's statistic"), ("unit", "the alarm's metric unit"),
        ("threshold_metric_id", "the alarm's threshold"),
        ("comparison_operator", "the alarm's comparison"), ("period", "the alarm's period"),
        ("evaluation_periods", "the alarm's evaluation periods"),
        ("datapoints_to_alarm", "the datapoints that raise the alarm"),
        ("evaluate_low_sample_count_percentiles", "the alarm's evaluation of few samples"))),
    Protection(("treat_missing_data",), "the alarm's treatment of missing data", LEAST, default="missing",
               order=("notBreaching", "ignore", "missing", "breaching")),
    # Metric math, query by query (by id): a query removed, or what it computes, returns or reads.
    Protection(("metric_query", "*"), "the alarm's metric query", KEPT, key="id"),
    *(Protection(("metric_query", "*", name), label, FIXED, key="id") for name, label in (
        ("expression", "the alarm's metric query"), ("metric", "the alarm's queried metric"),
        ("return_data", "the alarm's metric query result"), ("period", "the alarm's metric query period"),
        ("account_id", "the account of the alarm's metric query"))),
)

_DATABASE_PARAMETERS = Entry(frozenset({PROTECTION, DETECTION}), protection=(
    _parameters_kept("TLS enforcement parameter", _TLS),
    _parameter(_TLS, "TLS required for every connection", STAYS, safe=_ON)), detection=_DATABASE_LOGGING)

CATALOGUE: dict[str, Entry] = {
    # --- data, and what protects it ----------------------------------------------------------
    "aws_rds_cluster": _entry(DATA, DETECTION, protection=(
        _BACKUP_RETENTION, _DELETION_PROTECTION, _FINAL_SNAPSHOT, _AUTOMATED_BACKUPS,
        Protection(("backtrack_window",), "backtrack window", RETENTION, forever=(), default=0),
        _CLUSTER_PARAMETERS), detection=(
        Protection(("enabled_cloudwatch_logs_exports", "*"), "exported database log", KEPT), _CLUSTER_PARAMETERS)),
    # TLS turned off lets the data travel in the clear: data protection, refused with --allow-data-loss.
    "aws_rds_cluster_parameter_group": _DATABASE_PARAMETERS,
    "aws_db_parameter_group": _DATABASE_PARAMETERS,
    "aws_db_instance": _entry(DATA, ACCESS, protection=(
        _BACKUP_RETENTION, _DELETION_PROTECTION, _FINAL_SNAPSHOT, _AUTOMATED_BACKUPS),
        openings=(Opening(("publicly_accessible",), (False, None), "publicly accessible"),)),
    "aws_rds_global_cluster": _entry(DATA, protection=(_DELETION_PROTECTION,)),
    "aws_db_snapshot": _entry(DATA),
    "aws_db_cluster_snapshot": _entry(DATA),
    "aws_dynamodb_table": _entry(DATA, protection=(
        Protection(("server_side_encryption", 0, "enabled"), "encryption with a KMS key", STAYS, default=False),
        _key(("server_side_encryption", 0, "kms_key_arn"), "the table"),
        Protection(("point_in_time_recovery", 0, "enabled"), "point-in-time recovery", STAYS, default=False),
        Protection(("point_in_time_recovery", 0, "recovery_period_in_days"), "point-in-time recovery period",
                   RETENTION, forever=(), default=35),
        Protection(("deletion_protection_enabled",), "deletion protection", STAYS, default=False),
        Protection(("replica", "*"), "replica", KEPT, key="region_name"),
        Protection(("ttl", 0), "item expiry (TTL)", TTL),
    )),
    "aws_dynamodb_table_item": _entry(DATA),
    "aws_dynamodb_table_replica": _entry(DATA, protection=(
        Protection(("deletion_protection_enabled",), "deletion protection", STAYS, default=False),
        Protection(("point_in_time_recovery",), "point-in-time recovery", STAYS, default=False))),
    "aws_dynamodb_resource_policy": _policy("table policy", holder="resource_arn"),
    "aws_s3_bucket": _policy("bucket policy", DATA, protection=(
        Protection(("force_destroy",), "keeping objects when the bucket is destroyed", STAYS, safe=False,
                   default=False),), members=(Members(("grant",), "bucket ACL grant"),)),
    "aws_s3_object": _entry(DATA),
    "aws_s3_bucket_object": _entry(DATA),
    "aws_s3_bucket_versioning": _entry(PROTECTION, target="bucket", protection=(
        Protection(("versioning_configuration", 0, "status"), "versioning", STAYS, safe="Enabled"),),
        on_delete="versioning suspended (destroying the resource suspends it)"),
    "aws_s3_bucket_lifecycle_configuration": _entry(PROTECTION, target="bucket", protection=(
        Protection(("rule", "*"), "lifecycle expiration", EXPIRATION, key="id"),)),
    "aws_s3_bucket_object_lock_configuration": _entry(PROTECTION, target="bucket", protection=(
        Protection(("rule", 0, "default_retention", 0, "mode"), "object lock mode", STAYS, safe="COMPLIANCE"),
        Protection(("rule", 0, "default_retention", 0), "object lock retention", PERIOD)),
        on_delete="object lock default retention removed"),
    "aws_s3_bucket_server_side_encryption_configuration": _entry(PROTECTION, target="bucket", protection=(
        Protection((*_SSE_DEFAULT, "sse_algorithm"), "default encryption", LEAST,
                   order=("AES256", "aws:kms", "aws:kms:dsse")),
        _key((*_SSE_DEFAULT, "kms_master_key_id"), "new objects")),
        on_delete="default encryption removed: new objects are encrypted with S3's own key (SSE-S3)"),
    "aws_s3_bucket_replication_configuration": _entry(PROTECTION, target="bucket", protection=(
        Protection(("rule", "*"), "replication rule", KEPT, key="id"),),
        on_delete="replication to the replica bucket stopped"),
    "aws_kms_key": _policy("key policy", DATA, protection=_KMS_KEY + _KEY_ROTATION),
    "aws_kms_replica_key": _policy("key policy", DATA, protection=_KMS_KEY),
    "aws_kms_external_key": _policy("key policy", DATA, protection=_KMS_KEY),
    "aws_kms_replica_external_key": _policy("key policy", DATA, protection=_KMS_KEY),
    "aws_secretsmanager_secret": _policy("secret policy", DATA, protection=(
        Protection(("recovery_window_in_days",), "the secret's recovery window", RETENTION, forever=(),
                   default=30), _key(("kms_key_id",), "the secret"))),
    "aws_secretsmanager_secret_rotation": _entry(PROTECTION, target="secret_id", protection=(
        Protection(("rotation_rules", 0, "automatically_after_days"), "secret rotation period", INTERVAL,
                   forever=(None, 0)),
        Protection(("rotation_rules", 0, "schedule_expression"), "the secret's rotation schedule", FIXED),
        Protection(("rotation_lambda_arn",), "the function rotating the secret", NAMED)),
        on_delete="the secret is no longer rotated"),
    "aws_backup_vault": _entry(DATA, protection=(
        Protection(("force_destroy",), "keeping recovery points when the vault is destroyed", STAYS, safe=False,
                   default=False),)),
    "aws_backup_plan": _entry(PROTECTION, protection=(
        Protection(("rule", "*"), "backup plan rule", KEPT, key="rule_name"),
        Protection(("rule", "*", "lifecycle", 0, "delete_after"), "backup retention", RETENTION, key="rule_name"),
        Protection(("rule", "*", "copy_action", 0, "lifecycle", 0, "delete_after"), "backup copy retention",
                   RETENTION, key="rule_name")),
        on_delete="backup plan removed: no new recovery points"),
    "aws_backup_selection": _entry(PROTECTION, on_delete="its resources are no longer backed up", protection=(
        Protection(("resources", "*"), "backed-up resource", KEPT),
        Protection(("not_resources",), "resources excluded from backup", FIXED),
        Protection(("selection_tag",), "the tags selecting resources for backup", FIXED),
        Protection(("condition",), "the conditions selecting resources for backup", FIXED),
        Protection(("iam_role_arn",), "the role the backups run as", FIXED))),
    "aws_backup_vault_lock_configuration": _entry(PROTECTION, target="backup_vault_name", protection=(
        Protection(("min_retention_days",), "vault lock minimum retention", RETENTION, forever=()),),
        on_delete="vault lock removed"),
    "aws_backup_vault_policy": _policy("backup vault policy", holder="backup_vault_name"),
    "aws_cloudwatch_log_group": _entry(DATA, protection=(
        _key(("kms_key_id",), "the log group"),
        Protection(("retention_in_days",), "log retention", RETENTION, forever=(None, 0)),
        Protection(("skip_destroy",), "keeping the log group when it is destroyed", STAYS, default=False))),
    "aws_sqs_queue": _policy("queue policy", DATA, protection=(
        Protection(("message_retention_seconds",), "message retention", RETENTION, forever=(), default=345600),
        _key(("kms_master_key_id",), "the messages"))),
    "aws_sqs_queue_policy": _policy("queue policy", holder="queue_url"),
    "aws_efs_file_system": _entry(DATA),
    "aws_efs_backup_policy": _entry(PROTECTION, target="file_system_id", protection=(
        Protection(("backup_policy", 0, "status"), "EFS automatic backups", STAYS, safe="ENABLED"),),
        on_delete="EFS automatic backups turned off"),
    "aws_efs_replication_configuration": _entry(PROTECTION, target="source_file_system_id",
                                                on_delete="replication to the replica file system stopped"),
    "aws_efs_mount_target": _none("network access to a file system"),
    "aws_efs_access_point": _entry(ACCESS, grants=("posix_user", "root_directory")),
    "aws_elasticache_replication_group": _entry(DATA, protection=_SNAPSHOTS),
    "aws_elasticache_cluster": _entry(DATA, protection=_SNAPSHOTS),
    "aws_elasticache_serverless_cache": _entry(DATA, protection=_SNAPSHOTS),
    "aws_elasticache_global_replication_group": _entry(DATA),
    "aws_elasticache_snapshot": _entry(DATA),
    "aws_elasticache_subnet_group": _none("cache network placement"),
    "aws_elasticache_parameter_group": _none("cache engine parameters"),
    "aws_elasticache_user": _entry(ACCESS, grants=("access_string", "authentication_mode", "passwords")),
    "aws_elasticache_user_group": _entry(ACCESS, grants=("user_ids",)),
    "aws_elasticache_user_group_association": _entry(ACCESS, grants=("user_group_id", "user_id")),
    "aws_efs_file_system_policy": _policy("file system policy", holder="file_system_id"),
    "aws_ebs_volume": _entry(DATA),
    "aws_ebs_snapshot": _entry(DATA),
    "aws_ecr_repository": _entry(DATA, protection=(
        Protection(("force_delete",), "keeping images when the repository is destroyed", STAYS, safe=False,
                   default=False),)),
    "aws_ecr_lifecycle_policy": _entry(PROTECTION, target="repository", protection=(
        Protection(("policy",), "the image expiry rules", FIXED),)),
    "aws_ecr_repository_policy": _policy("repository policy", holder="repository"),
    "aws_kinesis_stream": _entry(DATA, protection=(
        Protection(("retention_period",), "stream retention", RETENTION, forever=(), default=24),)),
    "aws_glacier_vault": _policy("vault access policy", DATA, attribute="access_policy"),
    # --- what logs and alerts ------------------------------------------------------------------
    "aws_flow_log": _entry(DETECTION, unwatched="the VPC's traffic is no longer logged", detection=(
        Protection(("traffic_type",), "flow log traffic type", STAYS, safe="ALL"),
        Protection(("log_destination",), "the flow logs' destination", NAMED),
        Protection(("iam_role_arn",), "the role delivering the flow logs", NAMED))),
    "aws_s3_bucket_logging": _entry(DETECTION, unwatched="the bucket's access logging stops", detection=(
        Protection(("target_bucket",), "the access log bucket", NAMED),
        Protection(("target_prefix",), "the access log prefix", NAMED))),
    "aws_cloudwatch_metric_alarm": _entry(DETECTION, unwatched="the alarm no longer watches its metric", detection=(
        Protection(("actions_enabled",), "alarm actions", STAYS, default=True),
        Protection(("alarm_actions", "*"), "alarm action", KEPT),
        Protection(("ok_actions", "*"), "OK action", KEPT), *_ALARM_WATCHES)),
    "aws_cloudwatch_composite_alarm": _entry(DETECTION, unwatched="the composite alarm no longer watches its alarms",
                                             detection=(
        Protection(("actions_enabled",), "alarm actions", STAYS, default=True),
        Protection(("alarm_actions", "*"), "alarm action", KEPT),
        Protection(("ok_actions", "*"), "OK action", KEPT),
        Protection(("alarm_rule",), "the alarms the composite alarm watches", FIXED))),
    "aws_cloudwatch_log_metric_filter": _entry(DETECTION, unwatched="the metric it feeds (an alarm's) is no longer "
                                               "published", detection=(
        Protection(("pattern",), "the log events counted", FIXED),
        Protection(("metric_transformation",), "the metric published", FIXED),
        Protection(("log_group_name",), "the log group filtered", NAMED))),
    "aws_cloudwatch_log_subscription_filter": _entry(DETECTION, unwatched="the log group's events are no longer "
                                                     "forwarded", detection=(
        Protection(("filter_pattern",), "the log events forwarded", FIXED),
        Protection(("destination_arn",), "where the log events are forwarded", NAMED))),
    # Not rendered by the templates (the account's own, README: outside this stack), judged where a
    # module adds them: what records API activity, detects threats, records configuration, checks it.
    "aws_cloudtrail": _entry(DETECTION, unwatched="the trail no longer logs API activity", detection=(
        Protection(("enable_logging",), "the trail's logging", STAYS, default=True),
        Protection(("is_multi_region_trail",), "logging every region", STAYS, default=False),
        Protection(("include_global_service_events",), "logging global services (IAM, STS)", STAYS, default=True),
        Protection(("is_organization_trail",), "logging every account of the organization", STAYS, default=False),
        Protection(("enable_log_file_validation",), "log file validation", STAYS, default=False),
        Protection(("s3_bucket_name",), "the trail's bucket", NAMED),
        Protection(("s3_key_prefix",), "the trail's key prefix", FIXED),
        Protection(("cloud_watch_logs_group_arn",), "the trail's log group", NAMED),
        Protection(("cloud_watch_logs_role_arn",), "the role delivering the trail to its log group", NAMED),
        Protection(("sns_topic_name",), "the trail's notification topic", NAMED),
        Protection(("event_selector",), "the events the trail logs", FIXED),
        Protection(("advanced_event_selector",), "the events the trail logs", FIXED),
        Protection(("insight_selector",), "the trail's insights", FIXED))),
    "aws_guardduty_detector": _entry(DETECTION, unwatched="GuardDuty no longer detects threats in the account",
                                     detection=(
        Protection(("enable",), "GuardDuty", STAYS, default=True),
        Protection(("finding_publishing_frequency",), "how often GuardDuty publishes findings", LEAST,
                   order=("SIX_HOURS", "ONE_HOUR", "FIFTEEN_MINUTES"), default="SIX_HOURS"),
        Protection(("datasources",), "the data sources GuardDuty reads", FIXED))),
    "aws_guardduty_detector_feature": _entry(DETECTION, unwatched="a GuardDuty protection is turned off", detection=(
        Protection(("status",), "the GuardDuty protection", STAYS, safe="ENABLED"),
        Protection(("additional_configuration",), "the GuardDuty protection's configuration", FIXED))),
    "aws_config_configuration_recorder": _entry(DETECTION, unwatched="AWS Config no longer records configuration "
                                                "changes", detection=(
        Protection(("recording_group",), "the resources AWS Config records", FIXED),
        Protection(("recording_mode",), "how often AWS Config records", FIXED),
        Protection(("role_arn",), "the role AWS Config records as", NAMED))),
    "aws_config_configuration_recorder_status": _entry(DETECTION, unwatched="AWS Config stops recording", detection=(
        Protection(("is_enabled",), "AWS Config recording", STAYS),)),
    "aws_config_delivery_channel": _entry(DETECTION, unwatched="AWS Config no longer delivers what it records",
                                          detection=(
        Protection(("s3_bucket_name",), "AWS Config's bucket", NAMED),
        Protection(("s3_key_prefix",), "AWS Config's key prefix", FIXED),
        Protection(("sns_topic_arn",), "AWS Config's notification topic", NAMED),
        Protection(("snapshot_delivery_properties",), "how often AWS Config delivers", FIXED))),
    "aws_config_config_rule": _entry(DETECTION, unwatched="the Config rule no longer checks its resources", detection=(
        Protection(("source",), "what the Config rule checks", FIXED),
        Protection(("scope",), "the resources the Config rule checks", FIXED))),
    "aws_securityhub_account": _entry(DETECTION, unwatched="Security Hub is turned off in the account", detection=(
        Protection(("auto_enable_controls",), "new Security Hub controls turned on", STAYS, default=True),)),
    "aws_securityhub_standards_subscription": _entry(DETECTION, unwatched="a Security Hub standard is no longer "
                                                     "checked"),
    "aws_securityhub_standards_control": _entry(DETECTION, detection=(
        Protection(("control_status",), "the Security Hub control", STAYS, safe="ENABLED"),)),
    # --- live traffic ------------------------------------------------------------------------
    "aws_lambda_function": _entry(TRAFFIC, protection=(_key(("kms_key_arn",), "its environment variables"),)),
    "aws_lambda_alias": _entry(TRAFFIC),
    "aws_lambda_provisioned_concurrency_config": _entry(TRAFFIC),
    "aws_lambda_permission": _entry(TRAFFIC, ACCESS, holder="function_name", grants=(
        "action", "principal", "source_arn", "source_account", "qualifier", "function_url_auth_type")),
    "aws_lambda_function_url": _entry(TRAFFIC, ACCESS, grants=("cors",), openings=(
        Opening(("authorization_type",), ("AWS_IAM",), "function URL authorization"),)),
    "aws_lb": _entry(TRAFFIC, ACCESS, DETECTION, openings=(Opening(("internal",), (True,), "internal load balancer"),),
                     unwatched="the load balancer's access logs stop", detection=(
                         Protection(("access_logs", 0, "enabled"), "load balancer access logs", STAYS, default=False),
                         Protection(("access_logs", 0, "bucket"), "the load balancer's access log bucket", NAMED))),
    "aws_lb_listener": _entry(TRAFFIC),
    "aws_lb_listener_rule": _entry(TRAFFIC),
    "aws_lb_target_group": _entry(TRAFFIC),
    "aws_lb_target_group_attachment": _entry(TRAFFIC),
    "aws_apigatewayv2_api": _entry(TRAFFIC),
    "aws_apigatewayv2_integration": _entry(TRAFFIC),
    "aws_apigatewayv2_route": _entry(TRAFFIC, ACCESS, grants=("authorizer_id",), openings=(
        Opening(("authorization_type",), ("AWS_IAM", "JWT", "CUSTOM"), "route authorization"),), members=(
        Members(("authorization_scopes",), "accepted token scope", empty_opens=True),)),
    "aws_apigatewayv2_stage": _entry(TRAFFIC, DETECTION, unwatched="the API's access logs stop", detection=(
        Protection(("access_log_settings", 0, "destination_arn"), "the API access log destination", NAMED),
        Protection(("access_log_settings", 0, "format"), "the API access log format", FIXED))),
    "aws_apigatewayv2_vpc_link": _entry(TRAFFIC),
    "aws_api_gateway_method": _entry(TRAFFIC, ACCESS, grants=("authorizer_id",), openings=(
        Opening(("authorization",), ("AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM"), "method authorization"),)),
    "aws_api_gateway_rest_api_policy": _policy("API policy", holder="rest_api_id"),
    # --- access --------------------------------------------------------------------------------
    "aws_iam_role": _policy("trust policy", attribute="assume_role_policy",
                            grants=("inline_policy", "managed_policy_arns", "permissions_boundary")),
    "aws_iam_role_policy": _policy("policy", holder="role"),
    "aws_iam_policy": _policy("policy"),
    "aws_iam_user_policy": _policy("policy", holder="user"),
    "aws_iam_group_policy": _policy("policy", holder="group"),
    "aws_iam_role_policy_attachment": _entry(ACCESS, grants=("role", "policy_arn")),
    "aws_iam_user_policy_attachment": _entry(ACCESS, grants=("user", "policy_arn")),
    "aws_iam_group_policy_attachment": _entry(ACCESS, grants=("group", "policy_arn")),
    "aws_iam_policy_attachment": _entry(ACCESS, grants=("policy_arn", "roles", "users", "groups")),
    "aws_iam_user_group_membership": _entry(ACCESS, grants=("user", "groups")),
    "aws_iam_group_membership": _entry(ACCESS, grants=("group", "users")),
    "aws_iam_instance_profile": _entry(ACCESS, grants=("role",)),
    "aws_iam_access_key": _entry(ACCESS, grants=("user", "status")),
    "aws_iam_user_login_profile": _entry(ACCESS, grants=("user",)),
    "aws_kms_key_policy": _policy("key policy", holder="key_id"),
    "aws_kms_grant": _entry(ACCESS, grants=(
        "key_id", "grantee_principal", "operations", "retiring_principal", "constraints")),
    "aws_s3_bucket_policy": _policy("bucket policy", holder="bucket"),
    "aws_s3_bucket_public_access_block": _entry(ACCESS, openings=_PUBLIC_ACCESS_BLOCK),
    "aws_s3_account_public_access_block": _entry(ACCESS, openings=_PUBLIC_ACCESS_BLOCK),
    "aws_s3_bucket_ownership_controls": _entry(ACCESS, openings=(
        Opening(("rule", 0, "object_ownership"), ("BucketOwnerEnforced",), "object ownership (ACLs)",
                on_delete=True),)),
    "aws_s3_bucket_acl": _entry(ACCESS, grants=("acl", "access_control_policy")),
    "aws_s3_access_point": _policy("access point policy", holder="bucket"),
    # The topics alarms and functions publish alerts to (templates/monitoring.tf.j2).
    "aws_sns_topic": _policy("topic policy", DETECTION, protection=(_key(("kms_master_key_id",), "the messages"),),
                             unwatched="alerts published to the topic reach no one: its subscriptions go with it",
                             detection=(Protection(("policy",), "the topic policy", ALLOWS),)),
    "aws_sns_topic_policy": _policy("topic policy", holder="arn"),
    "aws_sns_topic_subscription": _entry(ACCESS, DETECTION, grants=("protocol", "endpoint"),
                                         unwatched="alerts published to the topic no longer reach its endpoint",
                                         detection=(Protection(("filter_policy",), "the subscription's filter policy",
                                                               FILTER, key="filter_policy_scope",
                                                               default="MessageAttributes"),)),
    "aws_secretsmanager_secret_policy": _policy("secret policy", holder="secret_arn"),
    "aws_vpc_endpoint": _policy("endpoint policy"),
    "aws_vpc_endpoint_policy": _policy("endpoint policy", holder="vpc_endpoint_id"),
    "aws_cloudwatch_log_resource_policy": _policy("log resource policy", attribute="policy_document"),
    "aws_organizations_policy": _policy("organization policy", attribute="content"),
    "aws_security_group": _entry(ACCESS),
    "aws_default_security_group": _entry(ACCESS),
    "aws_vpc_security_group_ingress_rule": _entry(ACCESS, grants=_SG_RULE_FIELDS),
    "aws_vpc_security_group_egress_rule": _entry(ACCESS, grants=_SG_RULE_FIELDS),
    "aws_security_group_rule": _entry(ACCESS, grants=(
        "type", "protocol", "from_port", "to_port", "cidr_blocks", "ipv6_cidr_blocks", "source_security_group_id",
        "prefix_list_ids", "self")),
    "aws_network_acl_rule": _entry(ACCESS, grants=(
        "egress", "rule_action", "protocol", "from_port", "to_port", "cidr_block", "ipv6_cidr_block")),
    "aws_rds_cluster_instance": _entry(ACCESS, note="database capacity: the cluster holds the data", openings=(
        Opening(("publicly_accessible",), (False, None), "publicly accessible"),)),
    "aws_iam_policy_document": _entry(ACCESS, note="a policy document, judged with the policy it becomes"),
    # --- none of these, on purpose --------------------------------------------------------------
    "aws_secretsmanager_secret_version": _none("the database credentials: the credentials check judges it"),
    "aws_secretsmanager_random_password": _none("an ephemeral password, never stored"),
    "aws_ssm_parameter": _none("a plain String parameter rendered from the environment file"),
    "aws_db_subnet_group": _none("database network placement"),
    "aws_kms_alias": _none("a name for a key"),
    "aws_cloudwatch_dashboard": _none("monitoring"),
    "aws_vpc": _none("network"),
    "aws_subnet": _none("network"),
    "aws_route": _none("network"),
    "aws_route_table": _none("network"),
    "aws_route_table_association": _none("network"),
    "aws_internet_gateway": _none("network"),
    "aws_nat_gateway": _none("network"),
    "aws_eip": _none("network"),
    "aws_caller_identity": _none("the account terraform runs in"),
    "aws_partition": _none("the AWS partition"),
    "aws_elb_service_account": _none("the ELB log delivery account"),
}

# What lets the detectors of the rendered module deliver, by address (templates/network.tf.j2,
# storage.tf.j2, kms.tf.j2): a role or policy of any other address grants no detector anything.
DELIVERY: dict[str, Delivery] = {
    "aws_iam_role.flow_logs": Delivery(
        "the flow logs can no longer be delivered: the role they are delivered as is gone",
        (Protection(("assume_role_policy",), "the flow logs' delivery role trust", ALLOWS),)),
    "aws_iam_role_policy.flow_logs": Delivery(
        "the flow logs can no longer be delivered: their role's permissions are gone",
        (Protection(("policy",), "the flow logs' delivery permissions", ALLOWS),)),
    "aws_s3_bucket_policy.access_logs": Delivery(
        "the access logs of the audit bucket and the load balancer can no longer be delivered to their bucket",
        (Protection(("policy",), "the access log bucket's delivery permissions", ALLOWS),)),
    'aws_kms_key.this["logs"]': Delivery(
        "the log groups' key is gone: CloudWatch Logs can no longer write the flow logs and access logs",
        (Protection(("policy",), "the key policy letting CloudWatch Logs write the encrypted log groups", ALLOWS,
                    key="Service:logs.*"),)),
    'aws_kms_key.this["sns"]': Delivery(
        "the alert topics' key is gone: CloudWatch alarms can no longer publish to them",
        (Protection(("policy",), "the key policy letting CloudWatch alarms publish to the encrypted alert topics",
                    ALLOWS, key="Service:cloudwatch.amazonaws.com"),)),
}

SG_RULE_TYPES = ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
SECURITY_GROUP_TYPES = ("aws_security_group", "aws_default_security_group")
POLICY_DOCUMENT = "aws_iam_policy_document"

# Resources whose delete or replace loses data (or the means to read it: a key, a secret).
DATA_TYPES = frozenset(kind for kind, entry in CATALOGUE.items() if DATA in entry.kinds)


def kind_of(kind: str) -> frozenset[str] | None:
    """The kinds of a resource type (``DATA``, ``PROTECTION``, ``TRAFFIC``, ``ACCESS``, ``DETECTION``): empty for a
    type that is none of them, None for a type the catalogue does not know."""
    entry = CATALOGUE.get(kind)
    return None if entry is None else entry.kinds


def classified(kind: str) -> bool:
    return kind in CATALOGUE


def holds_data(kind: str) -> bool:
    return DATA in _entry_of(kind).kinds


def protects_data(kind: str) -> bool:
    return PROTECTION in _entry_of(kind).kinds


def carries_traffic(kind: str) -> bool:
    return TRAFFIC in _entry_of(kind).kinds


def grants_access(kind: str) -> bool:
    return ACCESS in _entry_of(kind).kinds


def protection(kind: str) -> tuple[Protection, ...]:
    return _entry_of(kind).protection


def unwatched(kind: str, address: str = "") -> str:
    """What destroying a resource of ``kind`` (at ``address``: what lets a detector deliver) stops."""
    delivery = DELIVERY.get(address)
    return _entry_of(kind).unwatched or (delivery.unwatched if delivery else "")


def watching(kind: str, address: str = "") -> tuple[Protection, ...]:
    """What keeps a resource of ``kind`` (at ``address``) logging, alerting or delivering."""
    delivery = DELIVERY.get(address)
    return _entry_of(kind).detection + (delivery.detection if delivery else ())


def documents(kind: str) -> tuple[tuple[str, str], ...]:
    return _entry_of(kind).documents


def grants(kind: str) -> tuple[str, ...]:
    return _entry_of(kind).grants


def openings(kind: str) -> tuple[Opening, ...]:
    return _entry_of(kind).openings


def members(kind: str) -> tuple[Members, ...]:
    return _entry_of(kind).members


def holder(kind: str) -> str:
    return _entry_of(kind).holder


def note(kind: str) -> str:
    return _entry_of(kind).note


def _entry_of(kind: str) -> Entry:
    return CATALOGUE.get(kind) or _UNKNOWN


_UNKNOWN = Entry(frozenset())


def traffic_address(address: str) -> bool:
    return address.startswith((ALIAS + "[", LISTENER_RULE + "["))
