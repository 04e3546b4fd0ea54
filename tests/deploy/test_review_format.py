"""Rendering a plan review: the documented JSON, plain or coloured text, a markdown comment."""

from __future__ import annotations

import json

from tests.deploy.review.test_serving import FN, RULE, UNKNOWN, judged, plan, rule, stack
from tests.deploy.test_review import change, load, of
from tfgen.deploy import review, review_format


def test_json_has_the_documented_schema() -> None:
    document = json.loads(review_format.render_json([of("data_loss")]))
    assert document["schema_version"] == 2
    [plan] = document["plans"]
    assert {"env", "plan_file", "rendered_digest", "counts", "data_loss", "detection_loss", "traffic", "access",
            "credentials", "other", "refusals", "changes", "partial", "shared_traffic"} <= set(plan)
    assert plan["data_loss"][1] == {"address": "aws_dynamodb_table.archive", "type": "aws_dynamodb_table",
                                    "action": "delete", "reasons": ["removed from the configuration"],
                                    "protection": False}
    [shift] = of("shift").as_json()["traffic"]
    assert shift["aliases"][1] == {"colour": "green", "address": 'aws_lambda_alias.this["payment_validation-green"]',
                                   "version_before": "4", "version_after": "5", "publishes": False,
                                   "exists_after": True, "moves": True, "weight_before": 0, "weight_after": 10,
                                   "served": False, "code_changes": False}
    assert {k: v for k, v in shift.items() if k != "aliases"} == {
        "function": "payment_validation", "first_deploy": False, "risks": [], "outages": [], "changes": []}


def test_text_is_plain_unless_coloured() -> None:
    result = of("release")
    plain = review_format.render_text(result)
    assert "\x1b[" not in plain
    assert "  payment_validation blue: version 3 -> the version this apply publishes, weight 90 %; code changes" \
        in plain.splitlines()
    assert "  payment_validation: blue would move from version 3 to the version this apply publishes (new code): " \
        "blue takes only the version green served before this apply (version 3), with `tfgen traffic prod " \
        "finalize`; pin the live versions (`tfgen traffic prod pin`), or allow it with --allow-traffic-risk " \
        "payment_validation" in plain.splitlines()
    assert "\x1b[31mtfgen apply refuses this plan:\x1b[0m" in review_format.render_text(result, color=True)


def test_markdown_is_a_pull_request_comment() -> None:
    text = review_format.render_markdown(of("shift"))
    assert text.startswith("### tfgen plan: `prod`\n")
    assert "| payment_validation | green | 4 → 5 (not served yet) | 0 % → 10 % | no |" in text
    assert "refuses" not in text
    assert "| replace | `aws_rds_cluster.this` |" in review_format.render_markdown(of("data_loss"))


def test_the_traffic_section_says_what_stops_serving_and_what_is_unknown() -> None:
    state = stack()
    document = plan(state, {FN: (["delete", "create"], {**state[FN], "version": UNKNOWN}),
                            RULE: (["update"], rule(UNKNOWN, 10, priority=5))}, partial=True)
    result = judged(document)
    lines = review_format.render_text(result).splitlines()
    assert lines[1:4] == ["changes:", "  0 to create, 1 to update, 1 to replace, 0 to delete, 0 to forget",
                          "  partial plan (-target): what it leaves out is judged as the state holds it"]
    assert lines[4:9] == [
        "live traffic:",
        "  payment_validation blue: version 1 -> (deleted), weight 90 % -> known after apply; code changes",
        "  payment_validation green: version 1 -> (deleted), weight 10 %; code changes",
        '  payment_validation stops serving: replace aws_lambda_function.this["payment_validation"]: the function '
        "is deleted, and its aliases with it",
        '  payment_validation: update aws_lb_listener_rule.this["payment_validation"]: priority changes']
    markdown = review_format.render_markdown(result)
    assert "| create | update | replace | delete | forget |" in markdown
    assert "_partial plan (-target): what it leaves out is judged as the state holds it_" in markdown
    assert "| payment_validation | blue :warning: | 1 → (deleted) | 90 % → known after apply | yes |" in markdown
    assert '- :no_entry: payment_validation stops serving: replace aws_lambda_function.this["payment_validation"]: ' \
        "the function is deleted, and its aliases with it" in markdown


def test_a_first_deploy_is_named_and_a_steady_function_is_unchanged() -> None:
    text = review_format.render_text(of("release")).splitlines()
    assert "  unchanged: fraud_detection" not in text  # its code changes, though its aliases are pinned
    document = load("release")
    for rc in document["resource_changes"]:
        if rc["address"] == 'aws_lambda_function.this["fraud_detection"]':
            rc["change"] = {"actions": ["no-op"], "before": rc["change"]["before"], "after": rc["change"]["before"],
                            "after_unknown": {}}
    assert "  unchanged: fraud_detection" in review_format.render_text(judged(document)).splitlines()
    state = stack()
    del state[RULE]
    result = judged(plan(state, {RULE: (["create"], rule(90, 10))}))
    assert "  payment_validation: first deploy (nothing served before this apply)" in \
        review_format.render_text(result).splitlines()
    assert "| payment_validation (first deploy) | blue | 1 | 0 % → 90 % | no |" in review_format.render_markdown(result)


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


def test_json_written_one_review_at_a_time_is_the_whole_document_json_dumps_writes() -> None:
    for results in ([], [of("data_loss")], [of("data_loss"), of("shift"), of("release")]):
        whole = {"schema_version": review.SCHEMA_VERSION, "plans": [result.as_json() for result in results]}
        assert review_format.render_json(results) == json.dumps(whole, indent=2, sort_keys=True) + "\n"


def test_detection_reduced_reads_in_text_markdown_and_json() -> None:
    result = of("detection")
    text = review_format.render_text(result).splitlines()
    section = text.index("detection reduced:")
    assert text[section + 1:section + 5] == [
        '  update aws_cloudwatch_metric_alarm.api_p99_latency: alarm action removed: '
        'alarm_actions["arn:aws:sns:us-east-1:123456789012:system-errors-dev"]',
        "  update aws_cloudwatch_metric_alarm.aurora_cpu: the alarm's threshold raised (threshold: 80.0 -> 90.0)",
        "  delete aws_flow_log.this: the VPC's traffic is no longer logged",
        '  update aws_rds_cluster.this: exported database log removed: enabled_cloudwatch_logs_exports["postgresql"]']
    assert "\x1b[31mdetection reduced:\x1b[0m" in review_format.render_text(result, color=True)
    markdown = review_format.render_markdown(result)
    assert "#### :warning: Detection reduced\n\n| action | address | why |\n|---|---|---|\n" in markdown
    assert "| delete | `aws_flow_log.this` | the VPC's traffic is no longer logged |" in markdown
    document = result.as_json()
    assert document["detection_loss"][2] == {"address": "aws_flow_log.this", "type": "aws_flow_log",
                                             "action": "delete", "reasons": ["the VPC's traffic is no longer logged"]}
    assert len(document["refusals"]) == 4
    assert "detection reduced" not in review_format.render_text(of("release"))
    assert "Detection reduced" not in review_format.render_markdown(of("release"))
    assert of("release").as_json()["detection_loss"] == []
