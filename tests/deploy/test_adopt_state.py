"""Reading the old stack's state: `terraform show -json` of it or a version 4 state file, and
nothing else (never an empty state by default)."""

from __future__ import annotations

from typing import Any

import pytest

from tfgen.deploy.adopt_state import MatchError, existing_objects

TABLE = {"name": "transactions-dev", "arn": "arn:aws:dynamodb:us-east-1:123456789012:table/transactions-dev"}
SHOWN = {"format_version": "1.0", "values": {"root_module": {"resources": [
    {"address": "aws_dynamodb_table.t", "mode": "managed", "type": "aws_dynamodb_table", "name": "t",
     "values": TABLE}]}}}


def test_terraform_show_json_and_a_state_file_are_read_alike() -> None:
    raw = {"version": 4, "resources": [
        {"mode": "managed", "type": "aws_dynamodb_table", "name": "t", "instances": [{"attributes": TABLE}]},
        {"mode": "data", "type": "aws_caller_identity", "name": "c", "instances": [{"attributes": {}}]}]}
    assert existing_objects(SHOWN) == existing_objects(raw)
    assert [e.address for e in existing_objects(raw)] == ["aws_dynamodb_table.t"]


def test_a_module_and_instance_keys_are_part_of_the_address() -> None:
    raw = {"version": 4, "resources": [{"module": "module.store", "mode": "managed", "type": "aws_s3_bucket",
                                        "name": "b", "instances": [{"index_key": "audit", "attributes": {}},
                                                                   {"index_key": 0, "attributes": {}}]}]}
    assert [e.address for e in existing_objects(raw)] == ['module.store.aws_s3_bucket.b["audit"]',
                                                          "module.store.aws_s3_bucket.b[0]"]


def test_deposed_objects_are_left_out_of_the_current_ones() -> None:
    raw = {"version": 4, "resources": [{"mode": "managed", "type": "aws_dynamodb_table", "name": "t", "instances": [
        {"attributes": TABLE}, {"attributes": TABLE, "deposed": "00000001"}]}]}
    assert [(e.address, e.deposed) for e in existing_objects(raw)] == [("aws_dynamodb_table.t", "")]


EXPECTED = ("expected `terraform show -json` of a state (format_version 1.x with values.root_module) "
            "or a state file (version 4 with resources)")


@pytest.mark.parametrize(("document", "found"), [
    ({"format_version": "1.2", "planned_values": {"root_module": {}}, "resource_changes": [],
      "prior_state": SHOWN}, "a plan's `terraform show -json` (planned_values, prior_state, "
                                        "resource_changes)"),
    ({"format_version": "1.0"}, "`terraform show -json` with no values (what it prints where there is no state)"),
    ({"format_version": "1.0", "values": {}}, "`terraform show -json` with no values.root_module"),
    ({"format_version": "1.0", "values": None}, "`terraform show -json` with no values (what it prints where there "
                                                "is no state)"),
    ({"format_version": "2.0", "values": {"root_module": {}}}, "`terraform show -json` of format_version '2.0'"),
    ({"version": 3, "serial": 1, "resources": []}, "a state file of version 3"),
    ({"version": 99, "resources": []}, "a state file of version 99"),
    ({"version": 4}, "a state file with no resources list"),
    ({"version": 4, "resources": "nope"}, "a state file with no resources list"),
    ({}, "neither format_version nor version"),
    ({"resources": []}, "neither format_version nor version"),
    ({"values": {"root_module": {}}}, "neither format_version nor version"),
])
def test_what_is_not_a_state_is_refused_saying_what_was_expected_and_found(document: dict[str, Any],
                                                                           found: str) -> None:
    with pytest.raises(MatchError) as refused:
        existing_objects(document)
    assert str(refused.value) == f"found {found}; {EXPECTED}"


@pytest.mark.parametrize(("document", "found"), [
    ({"format_version": "1.0", "values": {"root_module": {"resources": [{"type": "aws_s3_bucket"}]}}},
     "a resource without address, mode or type in `terraform show -json`: {'type': 'aws_s3_bucket'}"),
    ({"format_version": "1.0", "values": {"root_module": {"resources": [
        {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket"}]}}},
     "aws_s3_bucket.b without values in `terraform show -json`"),
    ({"version": 4, "resources": [{"mode": "managed", "type": "aws_s3_bucket", "name": "b",
                                   "instances": [{"attributes_flat": {"bucket": "x"}}]}]},
     "aws_s3_bucket.b without attributes in the state file"),
    ({"version": 4, "resources": [{"mode": "managed", "type": "aws_s3_bucket", "instances": []}]},
     "a resource without mode, type or name in the state file: "
     "{'mode': 'managed', 'type': 'aws_s3_bucket', 'instances': []}"),
    ({"version": 4, "resources": [{"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [
        {"attributes": {"bucket": "x"}}, {"attributes": {"bucket": "y"}}]}]},
     "aws_s3_bucket.b twice"),
])
def test_an_entry_the_matcher_cannot_read_refuses_the_state(document: dict[str, Any], found: str) -> None:
    with pytest.raises(MatchError) as refused:
        existing_objects(document)
    assert str(refused.value) == f"found {found}; {EXPECTED}"


