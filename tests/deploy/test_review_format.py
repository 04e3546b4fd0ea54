"""Rendering a plan review: the documented JSON, plain or coloured text, a markdown comment."""

from __future__ import annotations

import json

from tests.deploy.test_review import of
from tfgen.deploy import review_format


def test_json_has_the_documented_schema() -> None:
    document = json.loads(review_format.render_json([of("data_loss")]))
    assert document["schema_version"] == 1
    [plan] = document["plans"]
    assert {"env", "plan_file", "rendered_digest", "counts", "data_loss", "traffic", "access", "credentials",
            "other", "refusals", "changes"} <= set(plan)
    assert plan["data_loss"][1] == {"address": "aws_dynamodb_table.archive", "type": "aws_dynamodb_table",
                                    "action": "delete", "reasons": ["removed from the configuration"],
                                    "follows": None}
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


def test_json_written_one_review_at_a_time_is_the_whole_document_json_dumps_writes() -> None:
    for results in ([], [of("data_loss")], [of("data_loss"), of("shift"), of("release")]):
        whole = {"schema_version": 1, "plans": [result.as_json() for result in results]}
        assert review_format.render_json(results) == json.dumps(whole, indent=2, sort_keys=True) + "\n"
