"""Whether a plan is exactly one release step, on hand-made plans (tfgen.deploy.review.step): the
traffic move it expects and nothing else; anything more, or anything it cannot read, is a problem."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.deploy.review.test_serving import FN, PV, RULE, UNKNOWN, alias, arn, judged, plan, rule, stack
from tfgen.deploy.review.step import Expected, Side, problems

# green runs version 2 at 10 %; the step takes it to 25 %
STEP = {PV: Expected(Side("1", "2", 90, 10), Side("1", "2", 75, 25))}
# the code changes and is published; no alias or weight moves
PUBLISH = {PV: Expected(Side("1", "2", 90, 10), Side("1", "2", 90, 10), publishes=True)}
TARGET_GROUP = f'aws_lb_target_group.this["{PV}-green"]'


def state() -> dict[str, dict[str, Any]]:
    return stack(blue=("1", 90), green=("2", 10), latest="2")


def step_plan(*extra: dict[str, Any], changes: dict[str, tuple[list[str], Any]] | None = None) -> dict[str, Any]:
    """The plan of the step 10 -> 25 % (or of ``changes``), with ``extra`` resource changes."""
    document = plan(state(), {RULE: (["update"], rule(75, 25))} if changes is None else changes)
    document["resource_changes"] += [copy.deepcopy(rc) for rc in extra]
    return document


def published(**over: Any) -> dict[str, Any]:
    """The plan of the publish step: the function's new code, with ``over`` on top."""
    after = {**state()[FN], "source_code_hash": "new", "version": UNKNOWN, "last_modified": UNKNOWN,
             "qualified_arn": UNKNOWN, "qualified_invoke_arn": UNKNOWN, **over}
    return plan(state(), {FN: (["update"], after)})


def problems_of(document: dict[str, Any], expected: dict[str, Expected] | None = None) -> list[str]:
    return problems(document, judged(document), STEP if expected is None else expected)


def problems_beside(*extra: dict[str, Any]) -> list[str]:
    """The step's problems when its plan also holds ``extra``, which the review (which needs
    terraform's own shapes) does not see: what the step judge makes of it on its own."""
    return problems(step_plan(*extra), judged(step_plan()), STEP)


def entry(address: str, actions: list[str], before: Any = None, after: Any = None, **more: Any) -> dict[str, Any]:
    kind = address.split(".")[1] if address.startswith("data.") else address.split(".")[0]
    return {"address": address, "mode": "managed", "type": kind, "name": "x",
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}}, **more}


def test_the_expected_move_and_nothing_else_is_a_step() -> None:
    assert problems_of(step_plan()) == []
    assert problems_of(published(), PUBLISH) == []


# --- imports, creations, deposed objects, data sources, actions no plan writes ---------------


@pytest.mark.parametrize(("address", "actions"), [("aws_iam_role_policy.extra", ["no-op"]),
                                                  ("aws_iam_role_policy.extra", ["update"]),
                                                  (alias("blue"), ["no-op"])])
def test_an_import_is_never_part_of_a_step(address: str, actions: list[str]) -> None:
    imported = entry(address, actions, {"role": "pv", "policy": "{}"}, {"role": "pv", "policy": "{}"})
    imported["change"]["importing"] = {"id": "pv:extra"}
    found = problems_of(step_plan(imported))
    assert f"import {address}: terraform would take it under management: not part of this step" in found


def test_a_target_group_created_beside_the_step_is_refused() -> None:
    created = entry(f'aws_lb_target_group.this["{PV}-canary"]', ["create"], None, {"name": "pv-canary"})
    assert f'create aws_lb_target_group.this["{PV}-canary"]: not part of this step' in problems_of(step_plan(created))


def test_a_target_group_the_rule_gains_at_weight_0_is_refused() -> None:
    after = rule(75, 25)
    after["action"][0]["forward"][0]["target_group"].append({"arn": arn("canary"), "weight": 0})
    found = problems_of(step_plan(changes={RULE: (["update"], after)}))
    assert f"update {RULE}: its action changes beyond the forward weights: not part of this step" in found


@pytest.mark.parametrize("actions", [["create"], ["delete", "create"], ["create", "delete"], ["delete"]])
def test_an_alias_or_rule_is_only_updated_in_a_step(actions: list[str]) -> None:
    before = state()[alias("blue")]
    found = problems_of(step_plan(changes={RULE: (["update"], rule(75, 25)),
                                           alias("blue"): (actions, None if actions == ["delete"] else before)}))
    word = {"create": "create", "delete": "delete"}.get(actions[0]) if len(actions) == 1 else "replace"
    assert f"{word} {alias('blue')}: a release step only updates it: not part of this step" in found


def test_the_delete_of_a_deposed_object_is_refused_even_of_an_alias() -> None:
    deposed = entry(alias("blue"), ["delete"], state()[alias("blue")], None, deposed="00ab12")
    assert f"delete {alias('blue')} (deposed object 00ab12): a leftover of an earlier replacement: not part of " \
           "this step" in problems_of(step_plan(deposed))


@pytest.mark.parametrize("actions", [["read"], ["no-op"]])
def test_a_data_source_read_is_harmless(actions: list[str]) -> None:
    read = {**entry("data.aws_iam_policy_document.x", actions, None, {"json": "{}"}), "mode": "data"}
    assert problems_of(step_plan(read)) == []


@pytest.mark.parametrize("actions", [["update"], ["create"], ["delete"], ["create", "delete"], ["forget"]])
def test_a_data_source_with_any_other_action_is_refused(actions: list[str]) -> None:
    odd = {**entry("data.aws_iam_policy_document.x", actions, {"json": "{}"}, {"json": "{\"a\": 1}"}), "mode": "data"}
    assert any(line.startswith("data.aws_iam_policy_document.x: data source with actions")
               for line in problems_of(step_plan(odd)))


@pytest.mark.parametrize("mode", ["", "ephemeral", None, 3])
def test_a_resource_change_of_an_unknown_mode_is_refused(mode: Any) -> None:
    odd = {**entry("aws_iam_role_policy.x", ["no-op"], {}, {}), "mode": mode}
    assert f"aws_iam_role_policy.x: a resource change of mode {mode!r}: not part of this step" in \
        problems_beside(odd)


@pytest.mark.parametrize("actions", [["update", "update"], ["read"], [], "update", None, ["Update"], [1]])
def test_actions_no_plan_writes_are_refused(actions: Any) -> None:
    odd = entry("aws_iam_role_policy.x", actions, {"policy": "{}"}, {"policy": "{\"a\": 1}"})
    assert f"aws_iam_role_policy.x: actions {actions!r}, which terraform does not write: not part of this step" \
        in problems_beside(odd)


def test_an_entry_without_a_change_is_refused() -> None:
    found = problems_beside({"address": "aws_iam_role_policy.x", "mode": "managed"})
    assert "aws_iam_role_policy.x: actions None, which terraform does not write: not part of this step" in found


def test_a_moved_resource_is_refused_even_as_a_no_op() -> None:
    moved = {**entry(alias("blue"), ["no-op"], state()[alias("blue")], state()[alias("blue")]),
             "previous_address": 'aws_lambda_alias.old["blue"]'}
    assert f"{alias('blue')}: moved from aws_lambda_alias.old[\"blue\"]: not part of this step" in \
        problems_of(step_plan(moved))


# --- what changes of the aliases and the listener rule --------------------------------------


@pytest.mark.parametrize(("attribute", "value"), [("tags", {"team": "x"}), ("priority", 1)])
def test_a_rule_attribute_beside_its_weights_is_refused(attribute: str, value: Any) -> None:
    after = {**rule(75, 25), attribute: value}
    found = problems_of(step_plan(changes={RULE: (["update"], after)}))
    assert f"update {RULE}: its {attribute} changes beyond the forward weights: not part of this step" in found


def test_forward_stickiness_is_refused() -> None:
    after = rule(75, 25)
    after["action"][0]["forward"][0]["stickiness"] = [{"enabled": True, "duration": 604800}]
    found = problems_of(step_plan(changes={RULE: (["update"], after)}))
    assert f"update {RULE}: its action changes beyond the forward weights: not part of this step" in found


def test_the_rule_s_target_groups_in_another_order_are_the_same_move() -> None:
    after = rule(75, 25)
    after["action"][0]["forward"][0]["target_group"].reverse()  # a set: terraform orders it as it likes
    assert problems_of(step_plan(changes={RULE: (["update"], after)})) == []


def test_an_alias_attribute_beside_its_version_is_refused() -> None:
    after = {**state()[alias("green")], "routing_config": [{"additional_version_weights": {"1": 0.0}}]}
    found = problems_of(step_plan(changes={RULE: (["update"], rule(75, 25)), alias("green"): (["update"], after)}))
    assert f"update {alias('green')}: its routing_config changes beyond the function version: not part of this " \
           "step" in found


# --- the publish step: the function's code and nothing else --------------------------------


@pytest.mark.parametrize(("attribute", "value"), [
    ("reserved_concurrent_executions", 1), ("reserved_concurrent_executions", -1),
    ("reserved_concurrent_executions", UNKNOWN), ("role", "arn:aws:iam::111122223333:role/admin"),
    ("memory_size", 4096), ("handler", "other.handler"), ("environment", [{"variables": {"DEBUG": "1"}}]),
    ("filename", "packages/other.zip"), ("layers", ["arn:aws:lambda:eu-west-1:111122223333:layer:x:1"]),
    ("tags", {"team": "x"})])
def test_the_publish_step_refuses_any_other_change_of_the_function(attribute: str, value: Any) -> None:
    found = problems_of(published(**{attribute: value}), PUBLISH)
    assert f"update {FN}: its {attribute} changes: a publish changes only the function's code " \
           "(source_code_hash) and what follows from it: not part of this step" in found, found


@pytest.mark.parametrize("attribute", ["version", "qualified_arn", "last_modified"])
def test_the_publish_step_refuses_a_known_value_where_a_publish_leaves_one_unknown(attribute: str) -> None:
    found = problems_of(published(**{attribute: "9"}), PUBLISH)
    assert f"update {FN}: its {attribute} changes: a publish changes only the function's code " \
           "(source_code_hash) and what follows from it: not part of this step" in found, found


def test_the_publish_step_refuses_replacing_the_function() -> None:
    after = {**state()[FN], "source_code_hash": "new", "version": UNKNOWN}
    found = problems_of(plan(state(), {FN: (["delete", "create"], after)}), PUBLISH)
    assert f"replace {FN}: a release step only updates it: not part of this step" in found


def test_the_function_may_not_change_in_a_traffic_step() -> None:
    after = {**state()[FN], "reserved_concurrent_executions": 1}
    found = problems_of(step_plan(changes={RULE: (["update"], rule(75, 25)), FN: (["update"], after)}))
    assert f"update {FN}: not part of this step" in found


# --- outputs ---------------------------------------------------------------------------------


def output(actions: Any, before: Any = "internal-a.elb", after: Any = "internal-a.elb") -> dict[str, Any]:
    return {"actions": actions, "before": before, "after": after, "after_unknown": False, "before_sensitive": False,
            "after_sensitive": False}


def test_outputs_that_do_not_change_are_no_problem() -> None:
    document = step_plan()
    document["output_changes"] = {"alb_dns_name": output(["no-op"])}
    assert problems_of(document) == []


@pytest.mark.parametrize(("actions", "word"), [(["update"], "update"), (["create"], "create"),
                                               (["delete"], "delete"), (["delete", "create"], "replace")])
def test_an_output_that_changes_is_not_part_of_a_step(actions: list[str], word: str) -> None:
    document = step_plan()
    document["output_changes"] = {"alb_dns_name": output(["no-op"]),
                                  "db_master_password": output(actions, None, "hunter2")}
    found = problems_of(document)
    assert found == [f"{word} output db_master_password: not part of this step"], found
    assert "hunter2" not in "".join(found)  # the value is never shown: it may be a secret


@pytest.mark.parametrize("odd", [{"actions": None}, {"actions": "update"}, {"actions": ["Update"]}, {}, "update", None])
def test_an_output_change_that_cannot_be_read_is_a_problem(odd: Any) -> None:
    document = step_plan()
    document["output_changes"] = {"alb_dns_name": odd}
    found = problems_of(document)
    assert len(found) == 1 and found[0].startswith("output alb_dns_name: actions "), found
    assert found[0].endswith("which terraform does not write: not part of this step")


def test_output_changes_that_are_no_mapping_are_a_problem() -> None:
    document = step_plan()
    document["output_changes"] = ["alb_dns_name"]
    assert problems_of(document) == ["the plan's output changes cannot be read: not part of this step"]
