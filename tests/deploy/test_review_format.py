"""Rendering a plan review: the documented JSON, plain or coloured text, a markdown comment."""

from __future__ import annotations

import json

from tests.deploy.test_review import change, of
from tfgen.deploy import review, review_format


def test_json_has_the_documented_schema() -> None:
    document = json.loads(review_format.render_json([of("data_loss")]))
    assert document["schema_version"] == 1
    [plan] = document["plans"]
    assert {"env", "plan_file", "rendered_digest", "counts", "data_loss", "traffic", "access", "credentials",
            "other", "refusals", "changes"} <= set(plan)
    assert plan["data_loss"][1] == {"address": "aws_dynamodb_table.archive", "type": "aws_dynamodb_table",
                                    "action": "delete", "reasons": ["removed from the configuration"],
                                    "protection": False}
    shift = of("shift").as_json()["traffic"][1]
    assert shift == {"function": "payment_validation", "colour": "green",
                     "address": 'aws_lambda_alias.this["payment_validation-green"]', "version_before": "4",
                     "version_after": "5", "publishes": False, "moves": True, "weight_before": 0,
                     "weight_after": 10, "code_changes": False, "risk": False}


def test_text_is_plain_unless_coloured() -> None:
    result = of("release")
    plain = review_format.render_text(result)
    assert "\x1b[" not in plain
    assert "  payment_validation blue: version 3 -> the version this apply publishes, weight 90 %; code changes" \
        "  <- new code on live traffic outside green" in plain.splitlines()
    assert "\x1b[31mtfgen apply refuses this plan:\x1b[0m" in review_format.render_text(result, color=True)


def test_markdown_is_a_pull_request_comment() -> None:
    text = review_format.render_markdown(of("shift"))
    assert text.startswith("### tfgen plan: `prod`\n")
    assert "| payment_validation | green | 4 → 5 | 0 % → 10 % | no |" in text
    assert "refuses" not in text
    assert "| replace | `aws_rds_cluster.this` |" in review_format.render_markdown(of("data_loss"))


def test_weakened_protection_and_capacity_read_as_what_they_are() -> None:
    result = of("protection")
    text = review_format.render_text(result).splitlines()
    assert "  update (protection) aws_dynamodb_table.this: point-in-time recovery turned off " \
        "(point_in_time_recovery[0].enabled: true -> false)" in text
    assert "  aws_rds_cluster_instance (database capacity: the cluster holds the data): 1 delete" in text
    markdown = review_format.render_markdown(result)
    assert "| update (protection) | `aws_rds_cluster.this` | backup retention shortened " \
        "(backup_retention_period: 7 -> 1) |" in markdown
    assert "| `aws_rds_cluster_instance` (database capacity: the cluster holds the data) | 1 delete |" in markdown


def test_a_removed_deny_reads_as_no_longer_denied() -> None:
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    result = review.review({"resource_changes": [change(
        "aws_s3_bucket_policy.this", ["update"], {"policy": json.dumps({"Statement": [deny]})},
        {"policy": json.dumps({"Statement": []})})]})
    assert '  update aws_s3_bucket_policy.this (bucket policy): no longer denies: ' \
        '{"Action": "s3:*", "Effect": "Deny", "Resource": "*"}' in review_format.render_text(result).splitlines()
