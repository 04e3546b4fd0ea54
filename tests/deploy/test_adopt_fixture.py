"""The foreign stack of the adoption end-to-end test: CDK for Terraform's synthesized form."""

from __future__ import annotations

import json

from tests.fixtures.adopt import cdktf_stack


def test_logical_ids_follow_cdktf() -> None:
    # makeUniqueId: one component keeps its id; more are joined by "_" with the md5 of "a/b".
    assert cdktf_stack.logical_id(["transactions"]) == "transactions"
    assert cdktf_stack.logical_id(["Storage", "s3_bucket_this"]) == "Storage_s3_bucket_this_12F4FD00"
    assert cdktf_stack.logical_id(["A", "b.c"]) == "A_bc_055FA03F"  # hashed before "." is dropped


def test_every_resource_of_the_fixture_has_a_cdktf_logical_id() -> None:
    stack = json.loads(cdktf_stack.FIXTURE.read_text(encoding="utf-8"))
    names = [(kind, name) for kind, named in stack["resource"].items() for name in named]
    assert len(names) > 80 and ("aws_dynamodb_table", "transactions") in names
    for kind, name in names:
        if name == "transactions":
            continue
        construct, rest = name.rsplit("_", 1)[0].split("_", 1)
        assert cdktf_stack.logical_id([construct, rest]) == name, (kind, name)
    assert "backend" not in stack.get("terraform", {})
