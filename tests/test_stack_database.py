"""The Database section of SPEC.md: Aurora PostgreSQL Serverless v2."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROOT, SHIPPED_ENVS
from tests.stack import blocks, loaded, local, ref, resource, text
from tfgen.errors import ConfigError


def cluster(env: str, extra: str = "") -> dict[str, Any]:
    return resource(env, "database.tf", "aws_rds_cluster", "this", extra)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_aurora_postgresql_cluster_named_aurora_cluster_env_in_provisioned_mode(env: str) -> None:
    body = cluster(env)
    assert body["cluster_identifier"] == f"aurora-cluster-{env}"
    assert body["engine"] == "aurora-postgresql" and body["engine_mode"] == "provisioned"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_aurora_serverless_v2_scaling_0_5_to_1_acu(env: str) -> None:
    assert cluster(env)["serverlessv2_scaling_configuration"] == [{"min_capacity": 0.5, "max_capacity": 1.0}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_engine_version_defaults_to_the_supported_15_lts_minor(env: str) -> None:
    assert cluster(env)["engine_version"] == "15.10"
    writer = resource(env, "database.tf", "aws_rds_cluster_instance", "writer")
    assert writer["auto_minor_version_upgrade"] is False  # keeps the pinned version


def test_engine_version_is_configurable_within_postgresql_15() -> None:
    assert cluster("prod", 'database:\n  engine_version: "15.12"\n')["engine_version"] == "15.12"
    with pytest.raises(ConfigError, match=r"expected an Aurora PostgreSQL 15 minor version such as '15.10'"):
        loaded("prod", 'database:\n  engine_version: "15.4.1"\n')


@pytest.mark.parametrize(("env", "readers"), [("dev", []), ("staging", ["reader-1"]),
                                              ("prod", ["reader-1", "reader-2"])])
def test_one_serverless_writer_plus_the_environment_s_readers(env: str, readers: list[str]) -> None:
    instances = {name: body for name, body in blocks(env, "database.tf", "resource").items()
                 if name.startswith("aws_rds_cluster_instance.")}
    assert set(instances) == {"aws_rds_cluster_instance.writer", "aws_rds_cluster_instance.reader"}
    for body in instances.values():
        assert body["instance_class"] == "db.serverless"
        assert body["cluster_identifier"] == ref("aws_rds_cluster.this.id")
        assert body["publicly_accessible"] is False
    writer = instances["aws_rds_cluster_instance.writer"]
    assert writer["identifier"] == f"aurora-cluster-{env}-writer" and writer["promotion_tier"] == 0
    assert local(env, "database.tf", "aurora_readers") == {
        key: f"aurora-cluster-{env}-{key}" for key in readers}
    reader = instances["aws_rds_cluster_instance.reader"]
    assert reader["for_each"] == ref("local.aurora_readers") and reader["identifier"] == ref("each.value")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_readers_wait_for_the_writer(env: str) -> None:
    reader = resource(env, "database.tf", "aws_rds_cluster_instance", "reader")
    assert reader["depends_on"] == [ref("aws_rds_cluster_instance.writer")]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_storage_encrypted_with_the_rds_key(env: str) -> None:
    body = cluster(env)
    assert body["storage_encrypted"] is True
    assert body["kms_key_id"] == ref('aws_kms_key.this["rds"].arn')


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_backups_kept_7_days_in_the_configured_windows(env: str) -> None:
    body = cluster(env)
    assert body["backup_retention_period"] == 7
    assert body["preferred_backup_window"] == "03:00-04:00"
    assert body["preferred_maintenance_window"] == "sun:04:30-sun:05:30"
    assert body["copy_tags_to_snapshot"] is True


@pytest.mark.parametrize(("env", "retention"), [("dev", 30), ("staging", 365), ("prod", 365)])
def test_postgresql_logs_exported_to_an_encrypted_log_group_with_retention(env: str, retention: int) -> None:
    body = cluster(env)
    assert body["enabled_cloudwatch_logs_exports"] == ["postgresql"]
    group = resource(env, "database.tf", "aws_cloudwatch_log_group", "aurora")
    assert group["name"] == f"/aws/rds/cluster/aurora-cluster-{env}/postgresql"
    assert group["retention_in_days"] == retention
    assert group["kms_key_id"] == ref('aws_kms_key.this["logs"].arn')
    assert body["depends_on"] == [ref("aws_cloudwatch_log_group.aurora")]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_database_subnet_group_holds_the_database_subnets(env: str) -> None:
    group = resource(env, "database.tf", "aws_db_subnet_group", "this")
    assert group["name"] == f"aurora-subnets-{env}"
    assert group["subnet_ids"] == ref("[for subnet in aws_subnet.database : subnet.id]")
    assert cluster(env)["db_subnet_group_name"] == ref("aws_db_subnet_group.this.name")
    assert cluster(env)["vpc_security_group_ids"] == [ref("aws_security_group.database.id")]


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_deletion_protection_and_final_snapshot_only_in_prod(env: str, protected: bool) -> None:
    body = cluster(env)
    assert body["deletion_protection"] is protected
    assert body["skip_final_snapshot"] is not protected
    assert body["final_snapshot_identifier"] == (f"aurora-cluster-{env}-final" if protected else None)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_master_password_only_through_write_only_arguments(env: str) -> None:
    body = cluster(env)
    assert "master_password" not in body and "manage_master_user_password" not in body
    assert body["master_username"] == "payments_admin"
    assert body["master_password_wo"] == ref("ephemeral.aws_secretsmanager_random_password.master.random_password")
    assert body["master_password_wo_version"] == 1
    password = blocks(env, "database.tf", "ephemeral")["aws_secretsmanager_random_password.master"]
    assert password["password_length"] == 32 and password["exclude_punctuation"] is True


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_connection_must_use_tls(env: str) -> None:
    group = resource(env, "database.tf", "aws_rds_cluster_parameter_group", "this")
    assert group["family"] == "aurora-postgresql15"
    assert group["name"] == f"aurora-cluster-{env}-aurora-postgresql15"
    assert {p["name"]: p["value"] for p in group["parameter"]}["rds.force_ssl"] == "1"
    assert cluster(env)["db_cluster_parameter_group_name"] == ref("aws_rds_cluster_parameter_group.this.name")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_database_name_and_port(env: str) -> None:
    body = cluster(env)
    assert (body["database_name"], body["port"]) == ("payments", 5432)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_cluster_parameters_force_tls_and_log_connections_schema_changes_and_slow_statements(env: str) -> None:
    group = resource(env, "database.tf", "aws_rds_cluster_parameter_group", "this")
    assert {p["name"]: p["value"] for p in group["parameter"]} == {
        "rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1",
        "log_statement": "ddl", "log_min_duration_statement": "1000"}
    assert cluster(env)["db_cluster_parameter_group_name"] == ref("aws_rds_cluster_parameter_group.this.name")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("instance", ["writer", "reader"])
def test_every_instance_has_encrypted_performance_insights_and_enhanced_monitoring(env: str, instance: str) -> None:
    body = resource(env, "database.tf", "aws_rds_cluster_instance", instance)
    assert body["performance_insights_enabled"] is True
    assert body["performance_insights_kms_key_id"] == ref('aws_kms_key.this["rds"].arn')
    assert body["performance_insights_retention_period"] == 7
    assert body["monitoring_interval"] == 60
    assert body["monitoring_role_arn"] == ref("aws_iam_role.rds_monitoring.arn")


def test_insights_and_monitoring_can_be_turned_off() -> None:
    extra = "database:\n  performance_insights: false\n  monitoring_interval_s: 0\n"
    writer = resource("prod", "database.tf", "aws_rds_cluster_instance", "writer", extra)
    assert not {"performance_insights_enabled", "monitoring_interval", "monitoring_role_arn"} & set(writer)
    assert "aws_iam_role.rds_monitoring" not in blocks("prod", "database.tf", "resource", extra)


def test_performance_insights_retention_is_one_aws_accepts() -> None:
    with pytest.raises(ConfigError, match=r"database\.performance_insights_retention_days: expected 7, a multiple "
                                          r"of 31 up to 713 \(months\), or 731 days, got 30"):
        loaded("prod", "database:\n  performance_insights_retention_days: 30\n")


# --- AWS Backup ---------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "force_destroy"), [("dev", True), ("staging", True), ("prod", False)])
def test_aws_backup_plan_for_the_cluster_in_a_kms_encrypted_vault(env: str, force_destroy: bool) -> None:
    vault = resource(env, "backup.tf", "aws_backup_vault", "this")
    assert vault["name"] == f"payment-backups-{env}"
    assert vault["kms_key_arn"] == ref('aws_kms_key.this["backup"].arn')
    assert vault["force_destroy"] is force_destroy
    plan = resource(env, "backup.tf", "aws_backup_plan", "this")
    assert plan["name"] == f"aurora-cluster-{env}"
    assert plan["rule"] == [{"rule_name": "scheduled", "target_vault_name": ref("aws_backup_vault.this.name"),
                             "schedule": "cron(0 6 * * ? *)", "lifecycle": [{"delete_after": 35}]}]
    selection = resource(env, "backup.tf", "aws_backup_selection", "this")
    assert selection["plan_id"] == ref("aws_backup_plan.this.id")
    assert selection["iam_role_arn"] == ref("aws_iam_role.backup.arn")
    assert selection["resources"] == [ref("aws_rds_cluster.this.arn")]


def test_docs_say_aurora_recovery_points_keep_the_clusters_key_not_the_vaults() -> None:
    # AWS Backup does not fully manage Aurora: its recovery points are cluster snapshots
    # encrypted with the cluster's key, whatever key the vault has.
    comment = text("prod", "backup.tf").split('resource "aws_backup_vault"')[0]
    assert "encrypted with the backup key" not in comment
    assert "stay encrypted with the\n# cluster's own key (rds)" in comment
    [row] = [line for line in (ROOT / "docs" / "COMPLIANCE.md").read_text().splitlines()
             if "`aws_backup_vault.this` → `kms_key_arn`" in line]
    assert "keep the cluster's `rds` key" in row and "`aws_rds_cluster.this` → `kms_key_id`" in row


def test_without_aws_backup_nothing_is_rendered_for_it() -> None:
    assert blocks("prod", "backup.tf", "resource", "backup:\n  enabled: false\n") == {}
    with pytest.raises(ConfigError, match=r"backup\.schedule: expected a six-field AWS cron expression"):
        loaded("prod", "backup:\n  schedule: daily\n")
