"""The resource types the review reads, and where the templates keep the pieces it judges."""

from __future__ import annotations

# Resources whose delete or replace loses data (or the means to read it: a key, a secret).
DATA_TYPES = frozenset({
    "aws_rds_cluster", "aws_rds_cluster_instance", "aws_db_instance", "aws_dynamodb_table",
    "aws_s3_bucket", "aws_kms_key", "aws_secretsmanager_secret", "aws_backup_vault",
    "aws_cloudwatch_log_group",
})

# Where the templates keep the pieces the traffic and credential checks read.
FUNCTION = "aws_lambda_function.this"
ALIAS = "aws_lambda_alias.this"
LISTENER_RULE = "aws_lb_listener_rule.this"
TARGET_GROUP = "aws_lb_target_group.this"
CLUSTER = "aws_rds_cluster.this"
SECRET_VERSION = "aws_secretsmanager_secret_version.db_credentials"

# Documents that grant access, by resource type: the attribute holding the JSON and its kind.
DOCUMENTS = {
    "aws_iam_role": (("assume_role_policy", "trust policy"),),
    "aws_iam_role_policy": (("policy", "policy"),),
    "aws_iam_policy": (("policy", "policy"),),
    "aws_iam_user_policy": (("policy", "policy"),),
    "aws_iam_group_policy": (("policy", "policy"),),
    "aws_kms_key": (("policy", "key policy"),),
    "aws_kms_key_policy": (("policy", "key policy"),),
    "aws_s3_bucket_policy": (("policy", "bucket policy"),),
    "aws_sns_topic_policy": (("policy", "topic policy"),),
    "aws_secretsmanager_secret_policy": (("policy", "secret policy"),),
}
SG_RULE_TYPES = ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
SG_RULE_FIELDS = ("ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "prefix_list_id",
                  "referenced_security_group_id")
GRANTS = {
    "aws_lambda_permission": ("action", "principal", "source_arn", "qualifier"),
    "aws_iam_role_policy_attachment": ("policy_arn",),
    "aws_security_group_rule": ("type", "protocol", "from_port", "to_port", "cidr_blocks",
                                "ipv6_cidr_blocks", "source_security_group_id", "prefix_list_ids"),
}


def traffic_address(address: str) -> bool:
    return address.startswith((ALIAS + "[", LISTENER_RULE + "["))

