"""The serving model on hand-made `terraform show -json` documents: per payment function, what
serves requests before and after the apply, judged (tfgen.deploy.review.serving).

``stack()`` is the state of a deployed function (its function, aliases, target groups,
attachments, load-balancer permissions and listener rule); ``plan()`` turns it and a few changes
into a plan, complete (every other resource a no-op) or partial (only the changes, the rest in
``prior_state``, as terraform writes a ``-target`` plan)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_review import load
from tfgen.deploy import review, review_format
from tfgen.deploy.review.changes import Resources

PV = "payment_validation"
FN = f'aws_lambda_function.this["{PV}"]'
RULE = f'aws_lb_listener_rule.this["{PV}"]'
LISTENER = "aws_lb_listener.http"
UNKNOWN = object()  # a value known only after apply
PUBLISHED = object()  # an alias on the version this apply publishes


def alias(colour: str) -> str:
    return f'aws_lambda_alias.this["{PV}-{colour}"]'


def arn(colour: str) -> str:
    return f"arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pv-{colour}/0123"


def rule(blue: Any, green: Any, priority: int = 100, path: str = "/validate") -> dict[str, Any]:
    return {"priority": priority, "listener_arn": "arn:listener",
            "action": [{"type": "forward", "forward": [{"target_group": [
                {"arn": arn("blue"), "weight": blue}, {"arn": arn("green"), "weight": green}]}]}],
            "condition": [{"path_pattern": [{"values": [path]}]}]}


def stack(blue: tuple[str, int] = ("1", 90), green: tuple[str, int] = ("1", 10), latest: str = "2") \
        -> dict[str, dict[str, Any]]:
    """The state of a deployed payment_validation: address -> values."""
    state: dict[str, dict[str, Any]] = {
        FN: {"function_name": "payment-validation-prod", "version": latest, "source_code_hash": "old",
             "reserved_concurrent_executions": 10},
        RULE: rule(blue[1], green[1]),
        LISTENER: {"arn": "arn:listener", "port": 80, "default_action": [{"type": "fixed-response"}]},
    }
    for colour, (version, _) in (("blue", blue), ("green", green)):
        state[alias(colour)] = {"name": colour, "function_name": "payment-validation-prod",
                                "function_version": version, "description": f"{colour} release"}
        state[f'aws_lb_target_group.this["{PV}-{colour}"]'] = {"arn": arn(colour), "name": f"pv-{colour}"}
        state[f'aws_lb_target_group_attachment.this["{PV}-{colour}"]'] = {"target_group_arn": arn(colour)}
        state[f'aws_lambda_permission.alb["{PV}-{colour}"]'] = {
            "function_name": "payment-validation-prod", "principal": "elasticloadbalancing.amazonaws.com",
            "qualifier": colour, "action": "lambda:InvokeFunction"}
    return state


def _after(value: Any) -> tuple[Any, Any]:
    """(after, after_unknown) of a value in which UNKNOWN marks what is known only after apply."""
    if value is UNKNOWN:
        return None, True
    if isinstance(value, dict):
        pairs = {k: _after(v) for k, v in value.items()}
        unknown = {k: u for k, (_, u) in pairs.items() if u not in (None, {}, [])}
        return {k: a for k, (a, _) in pairs.items() if a is not None or value[k] is None}, unknown
    if isinstance(value, list):
        pairs_list = [_after(v) for v in value]
        return [a for a, _ in pairs_list], [u if u is not None else {} for _, u in pairs_list]
    return value, None


def plan(state: dict[str, dict[str, Any]], changes: dict[str, tuple[list[str], Any]] | None = None,
         partial: bool = False) -> dict[str, Any]:
    """A plan of ``state`` with ``changes`` (address -> (actions, after; None for a delete)). A
    complete plan lists every other resource as a no-op; a partial one only the changes, with the
    state in ``prior_state``."""
    changes = changes or {}
    resource_changes = []
    for address in sorted(set(state) | set(changes)):
        if address not in changes and partial:
            continue
        before = state.get(address)
        actions, after = changes.get(address, (["no-op"], before))
        after, unknown = _after(after) if after is not None else (None, {})
        resource_changes.append({
            "address": address, "mode": "managed", "type": address.split(".")[0],
            "name": address.split(".")[1].split("[")[0],
            "change": {"actions": actions, "before": copy.deepcopy(before), "after": after,
                       "after_unknown": unknown if isinstance(unknown, dict) else {}}})
    document: dict[str, Any] = {"format_version": "1.2", "complete": not partial,
                                "resource_changes": resource_changes}
    if state:
        document["prior_state"] = {"values": {"root_module": {"resources": [
            {"address": address, "mode": "managed", "type": address.split(".")[0], "values": values}
            for address, values in state.items()]}}}
    return document


def judged(document: dict[str, Any], max_step: int = 25) -> review.Review:
    return review.review(document, env="prod", plan_file="tfplan", max_step=max_step)


def table(result: review.Review, function: str = PV) -> dict[str, review.Alias]:
    [serving] = [s for s in result.traffic if s.function == function]
    return {a.colour: a for a in serving.aliases}


def moved(state: dict[str, dict[str, Any]], address: str, **values: Any) -> tuple[list[str], dict[str, Any]]:
    return ["update"], {**state[address], **values}


def release(state: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """The function's code changes: it publishes a version known only after apply."""
    return ["update"], {**state[FN], "source_code_hash": "new", "version": UNKNOWN}


# --- the red team's findings ------------------------------------------------------------------

def test_blue_moved_to_a_version_green_never_served_is_refused() -> None:
    """Blue from 1 to 2 at 90 % with green still on 1: version 2 never served."""
    state = stack(blue=("1", 90), green=("1", 10))
    result = judged(plan(state, {alias("blue"): moved(state, alias("blue"), function_version="2")}))
    assert result.refusals() == [
        "payment_validation: blue would move from version 1 to version 2: blue takes only the version green "
        "served before this apply (version 1), with `tfgen traffic prod finalize`; pin the live versions "
        "(`tfgen traffic prod pin`), or allow it with --allow-traffic-risk payment_validation"]
    blue = table(result)["blue"]
    assert (blue.version_before, blue.version_after, blue.served, blue.weight_after) == ("1", "2", False, 90)
    assert result.refusals(allow_traffic_risk=[PV]) == []


def test_replacing_a_live_function_is_an_outage_never_unchanged() -> None:
    """Replacing the function deletes its aliases with it, whatever the aliases' own changes say."""
    state = stack()
    replaced = {**state[FN], "version": UNKNOWN, "source_code_hash": "old"}
    result = judged(plan(state, {FN: (["delete", "create"], replaced)}))
    assert result.refusals() == [
        'payment_validation: stops serving: replace aws_lambda_function.this["payment_validation"]: the function '
        "is deleted, and its aliases with it; allow it with --allow-outage payment_validation"]
    text = review_format.render_text(result)
    assert '  payment_validation stops serving: replace aws_lambda_function.this["payment_validation"]: ' \
        "the function is deleted, and its aliases with it" in text.splitlines()
    assert "unchanged" not in text
    assert result.refusals(allow_outage=[PV]) == []


def test_a_partial_plan_that_puts_new_code_on_blue_is_refused() -> None:
    """-target of blue's alias: the rule is not in the plan; its weights come from prior_state."""
    state = stack(blue=("1", 90), green=("1", 10))
    document = plan(state, {FN: release(state), alias("blue"): moved(state, alias("blue"), function_version=UNKNOWN)},
                    partial=True)
    assert RULE not in {rc["address"] for rc in document["resource_changes"]}
    result = judged(document)
    assert result.partial
    blue = table(result)["blue"]
    assert (blue.publishes, blue.weight_before, blue.weight_after, blue.code_changes) == (True, 90, 90, True)
    assert result.refusals() == [
        "payment_validation: blue would move from version 1 to the version this apply publishes (new code): blue "
        "takes only the version green served before this apply (version 1), with `tfgen traffic prod finalize`; "
        "pin the live versions (`tfgen traffic prod pin`), or allow it with --allow-traffic-risk payment_validation"]


def test_a_weight_known_only_after_apply_is_not_counted_as_zero() -> None:
    state = stack(blue=("1", 100), green=("1", 0))
    after = rule(UNKNOWN, UNKNOWN)
    result = judged(plan(state, {alias("green"): moved(state, alias("green"), function_version="2"),
                                 RULE: (["update"], after)}))
    green = table(result)["green"]
    assert (green.weight_after, green.served) == (None, False)
    assert result.refusals() == [
        "payment_validation: green would run version 2, which has served no traffic, and the share of requests "
        "it takes after the apply is unknown (a weight or target group known only after apply): apply the target "
        "groups first, or allow it with --allow-traffic-risk payment_validation"]


def test_a_bootstrap_whose_rule_is_only_being_created_is_accepted() -> None:
    """The aliases exist (an earlier partial apply) and run new code; the rule routing to them
    is created by this apply: nothing served before, so nothing live moves."""
    state = stack()
    del state[RULE]
    document = plan(state, {FN: release(state), RULE: (["create"], rule(90, 10)),
                            alias("blue"): moved(state, alias("blue"), function_version=UNKNOWN),
                            alias("green"): moved(state, alias("green"), function_version=UNKNOWN)})
    result = judged(document)
    [serving] = result.traffic
    assert serving.first_deploy and (serving.risks, serving.outages) == ((), ())
    assert result.refusals() == []


# --- the canary rules -------------------------------------------------------------------------

def test_a_first_deploy_is_accepted() -> None:
    created = {address: (["create"], {**values, **({"function_version": UNKNOWN} if "alias" in address else {}),
                                      **({"arn": UNKNOWN} if "target_group." in address else {})})
               for address, values in stack().items()}
    created[RULE] = (["create"], rule(90, 10) | {"action": UNKNOWN})
    created[FN] = (["create"], {**stack()[FN], "version": UNKNOWN})
    result = judged(plan({}, created))
    [serving] = result.traffic
    assert serving.first_deploy and serving.changed
    assert [(a.colour, a.version_before, a.publishes, a.weight_after) for a in serving.aliases] == [
        ("blue", None, True, None), ("green", None, True, None)]
    assert result.refusals() == []


def test_a_new_version_may_reach_green_by_at_most_the_step() -> None:
    state = stack(blue=("1", 100), green=("1", 0))
    changes = {alias("green"): moved(state, alias("green"), function_version="2"), RULE: (["update"], rule(75, 25))}
    assert judged(plan(state, changes)).refusals() == []
    assert judged(plan(state, changes), max_step=20).refusals() == [
        "payment_validation: version 2, which has served no traffic, would take 25 % of live traffic through green "
        "in one apply, more than lambda.traffic_max_step (20 points): shift it in steps "
        "(`tfgen traffic prod shift --green 20`), or allow it with --allow-traffic-risk payment_validation"]


def test_a_version_green_served_may_take_more_in_one_apply() -> None:
    """Widening and promoting a canary that already served are not limited by the step."""
    state = stack(blue=("1", 90), green=("2", 10))
    result = judged(plan(state, {RULE: (["update"], rule(0, 100))}))
    assert table(result)["green"].served and result.refusals() == []


def test_finalize_moves_blue_to_the_version_green_served() -> None:
    state = stack(blue=("1", 0), green=("2", 100))
    result = judged(plan(state, {alias("blue"): moved(state, alias("blue"), function_version="2"),
                                 RULE: (["update"], rule(100, 0))}))
    blue = table(result)["blue"]
    assert (blue.moves, blue.served) == (True, True)
    assert result.refusals() == []


def test_a_rollback_to_blue_is_never_refused() -> None:
    """After a promote blue takes no traffic, but its version is the one that served before."""
    state = stack(blue=("1", 0), green=("2", 100))
    result = judged(plan(state, {RULE: (["update"], rule(100, 0))}))
    assert table(result)["blue"].served and result.refusals() == []


def test_blue_may_not_move_to_a_version_only_published() -> None:
    """Green points at version 3 but takes no traffic: finalizing onto it skips the canary."""
    state = stack(blue=("2", 100), green=("3", 0))
    result = judged(plan(state, {alias("blue"): moved(state, alias("blue"), function_version="3")}))
    assert result.refusals() == [
        "payment_validation: blue would move from version 2 to version 3: blue takes only the version green "
        "served before this apply (none: green took no traffic), with `tfgen traffic prod finalize`; pin the live "
        "versions (`tfgen traffic prod pin`), or allow it with --allow-traffic-risk payment_validation"]


def test_blue_moving_at_no_weight_is_refused_too() -> None:
    """Blue at 0 % on a published version: the next rollback would send everything to it."""
    plan_ = load("release")
    for rc in plan_["resource_changes"]:
        if rc["address"] == RULE:
            for side in ("before", "after"):
                for group in rc["change"][side]["action"][0]["forward"][0]["target_group"]:
                    group["weight"] = 100 if "green" in group["arn"] else 0
    refusals = judged(plan_).refusals()
    assert [line.split(":")[1].strip() for line in refusals] == [
        "blue would move from version 3 to the version this apply publishes (new code)",
        "the version this apply publishes (new code), which has served no traffic, would take 100 % of live "
        "traffic through green in one apply, more than lambda.traffic_max_step (25 points)"]


def test_a_release_to_unpinned_aliases_refuses_blue_and_lets_green_take_its_share() -> None:
    result = judged(load("release"))
    pv = table(result)
    assert (pv["blue"].version_before, pv["blue"].publishes, pv["blue"].weight_after) == ("3", True, 90)
    assert (pv["green"].publishes, pv["green"].weight_after, pv["green"].served) == (True, 10, False)
    assert result.risky_functions() == [PV]
    [refusal] = result.refusals()
    assert refusal.startswith("payment_validation: blue would move from version 3 to the version this apply "
                              "publishes (new code)")


def test_new_settings_published_to_blue_are_refused_too() -> None:
    """A settings-only change publishes a version too, which an alias on `latest` runs at once."""
    plan_ = load("release")
    for rc in plan_["resource_changes"]:
        if rc["address"] == FN:
            rc["change"]["after"]["source_code_hash"] = rc["change"]["before"]["source_code_hash"]
    blue = table(judged(plan_))["blue"]
    assert not blue.code_changes and blue.publishes and blue.novelty == "new settings"
    assert "the version this apply publishes (new settings)" in judged(plan_).refusals()[0]


def test_pinned_aliases_do_not_move_when_the_code_changes() -> None:
    fd = table(judged(load("release")), "fraud_detection")
    assert [(a.colour, a.version_before, a.version_after, a.moves) for a in fd.values()] == [
        ("blue", "4", "4", False), ("green", "4", "4", False)]
    assert all(a.code_changes and not a.publishes for a in fd.values())


def test_a_shift_moves_green_and_the_weights_only() -> None:
    result = judged(load("shift"))
    assert [(a.colour, a.version_before, a.version_after, a.weight_before, a.weight_after, a.served)
            for a in table(result).values()] == [("blue", "4", "4", 100, 90, True), ("green", "4", "5", 0, 10, False)]
    assert result.refusals() == [] and result.other == {}


def test_an_alias_created_next_to_live_traffic_runs_a_new_version_and_is_refused() -> None:
    """The rule sends 90 % to blue's target group; a blue alias created now runs a version that
    has served nothing."""
    plan_ = load("release")
    for rc in plan_["resource_changes"]:
        if rc["address"] == alias("blue"):
            rc["change"]["actions"], rc["change"]["before"] = ["create"], None
    result = judged(plan_)
    blue = table(result)["blue"]
    assert blue.created and blue.weight_after == 90
    assert result.refusals()[0].startswith("payment_validation: blue would move from no alias to the version")


# --- outages ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "actions", "says"), [
    (alias("green"), ["delete"], 'delete aws_lambda_alias.this["payment_validation-green"]: the green alias '
                                 "(10 % of its requests) is deleted"),
    (f'aws_lb_target_group.this["{PV}-blue"]', ["create", "delete"],
     'replace aws_lb_target_group.this["payment_validation-blue"]: the blue target group (90 % of its requests) '
     "is deleted"),
    (f'aws_lb_target_group_attachment.this["{PV}-blue"]', ["delete"],
     'delete aws_lb_target_group_attachment.this["payment_validation-blue"]: the blue alias (90 % of its '
     "requests) is detached from its target group"),
    (f'aws_lambda_permission.alb["{PV}-blue"]', ["delete", "create"],
     'replace aws_lambda_permission.alb["payment_validation-blue"]: the load balancer may no longer invoke the '
     "function"),
    (RULE, ["delete"], 'delete aws_lb_listener_rule.this["payment_validation"]: the listener rule routing its '
                       "requests is deleted"),
    (LISTENER, ["delete", "create"], "replace aws_lb_listener.http: every request to the load balancer fails "
                                     "until it is back"),
])
def test_replacing_or_deleting_what_a_request_passes_through_is_an_outage(address: str, actions: list[str],
                                                                          says: str) -> None:
    state = stack()
    after = None if actions == ["delete"] else state[address]
    result = judged(plan(state, {address: (actions, after)}))
    [serving] = result.traffic
    assert says in serving.outages
    assert result.refusals()[-1].endswith("; allow it with --allow-outage payment_validation")
    assert result.refusals(allow_outage=[PV]) == []


def test_reserved_concurrency_zero_is_an_outage() -> None:
    state = stack()
    result = judged(plan(state, {FN: moved(state, FN, reserved_concurrent_executions=0)}))
    assert result.refusals() == [
        'payment_validation: stops serving: update aws_lambda_function.this["payment_validation"]: reserved '
        "concurrency 0 throttles every request; allow it with --allow-outage payment_validation"]


def test_reserved_concurrency_lowered_is_a_change_to_read_not_an_outage() -> None:
    state = stack()
    result = judged(plan(state, {FN: moved(state, FN, reserved_concurrent_executions=2)}))
    [serving] = result.traffic
    assert f"update {FN}: reserved concurrency lowered from 10 to 2: requests beyond 2 at a time are throttled" \
        in serving.changes
    assert serving.outages == () and result.refusals() == []
    result = judged(plan(state, {FN: moved(state, FN, reserved_concurrent_executions=-1)}))
    assert not any("reserved concurrency" in line for line in result.traffic[0].changes)


def test_weights_of_zero_for_every_colour_are_an_outage() -> None:
    state = stack()
    result = judged(plan(state, {RULE: (["update"], rule(0, 0))}))
    [serving] = result.traffic
    assert serving.outages == ('update aws_lb_listener_rule.this["payment_validation"]: after the apply no alias '
                               "takes its requests",)


def test_a_function_that_never_served_has_no_outage() -> None:
    state = stack(blue=("1", 0), green=("1", 0))
    result = judged(plan(state, {FN: (["delete", "create"], {**state[FN], "version": UNKNOWN})}))
    assert result.refusals() == []


# --- what else changes on the way to a function --------------------------------------------------

def test_rule_and_alias_changes_other_than_version_or_weight_are_shown() -> None:
    state = stack()
    result = judged(plan(state, {
        RULE: (["update"], rule(80, 20, priority=7, path="/v2/validate")),
        alias("green"): moved(state, alias("green"), routing_config=[{"additional_version_weights": {"3": 0.5}}]),
        LISTENER: moved(state, LISTENER, default_action=[{"type": "forward"}]),
    }))
    [serving] = result.traffic
    assert serving.changes == ('update aws_lambda_alias.this["payment_validation-green"]: routing_config changes',
                               'update aws_lb_listener_rule.this["payment_validation"]: condition, priority change')
    assert result.shared_traffic == ["update aws_lb_listener.http: default_action changes"]
    text = review_format.render_text(result).splitlines()
    assert '  payment_validation: update aws_lb_listener_rule.this["payment_validation"]: condition, priority ' \
           "change" in text
    assert "  every function: update aws_lb_listener.http: default_action changes" in text
    assert result.refusals() == [REACH]


REACH = ('payment_validation: aws_lb_listener_rule.this["payment_validation"]: its condition, priority change: '
         "which requests the rule takes, its own function's or another function's, is not judged: keep the "
         "rule's condition and priority, or allow it with --allow-traffic-risk payment_validation")


@pytest.mark.parametrize("changed", [{"priority": 1}, {"path": "/*"}, {"priority": 1, "path": "/*"}])
def test_a_rule_that_may_take_other_requests_is_a_risk(changed: dict[str, Any]) -> None:
    """A listener rule's condition widened (``/*``) or its priority raised may take another
    function's requests: which it takes is not judged, so it is refused until allowed."""
    state = stack()
    result = judged(plan(state, {RULE: (["update"], rule(90, 10, **changed))}))
    [serving] = result.traffic
    assert len(serving.risks) == 1 and "is not judged" in serving.risks[0]
    assert result.refusals(allow_traffic_risk=[PV]) == []
    unknown = judged(plan(state, {RULE: (["update"], {**rule(90, 10), "priority": UNKNOWN})}))
    assert any("priority change" in risk for risk in unknown.traffic[0].risks)


def test_a_weight_move_alone_is_no_other_change() -> None:
    state = stack()
    [serving] = judged(plan(state, {RULE: (["update"], rule(80, 20))})).traffic
    assert serving.changes == () and serving.changed


# --- partial plans and forget -------------------------------------------------------------------

def test_prior_state_is_read_in_child_modules_too() -> None:
    document = {"complete": False, "resource_changes": [], "prior_state": {"values": {"root_module": {
        "resources": [{"address": "aws_vpc.this", "mode": "managed", "type": "aws_vpc", "values": {"id": "v"}}],
        "child_modules": [{"address": "module.a", "resources": [
            {"address": "module.a.aws_s3_bucket.x", "mode": "managed", "type": "aws_s3_bucket", "values": {"b": 1}},
            {"address": "module.a.data.aws_region.r", "mode": "data", "type": "aws_region", "values": {}}],
            "child_modules": [{"address": "module.a.module.b", "resources": [
                {"address": "module.a.module.b.aws_sqs_queue.q", "mode": "managed", "type": "aws_sqs_queue",
                 "values": {"name": "q"}}]}]}]}}}}
    resources = Resources(document)
    assert resources.partial and sorted(resources.prior) == [
        "aws_vpc.this", "module.a.aws_s3_bucket.x", "module.a.module.b.aws_sqs_queue.q"]
    rc = resources.get("module.a.module.b.aws_sqs_queue.q")
    assert rc is not None and rc["change"]["actions"] == ["no-op"] and rc["change"]["after"] == {"name": "q"}


def test_a_partial_plan_without_prior_state_cannot_be_judged_and_is_refused() -> None:
    state = stack()
    document = plan(state, {alias("green"): moved(state, alias("green"), function_version="2")}, partial=True)
    del document["prior_state"]
    [refusal] = judged(document).refusals()
    assert refusal.startswith("payment_validation: the plan is partial (-target) and has no prior_state, so what "
                              'aws_lb_listener_rule.this["payment_validation"], ')
    assert refusal.endswith("plan without -target, or allow it with --allow-traffic-risk payment_validation")


def test_a_weight_before_to_a_target_group_the_plan_does_not_name_is_unknown() -> None:
    state = stack()
    del state[f'aws_lb_target_group.this["{PV}-green"]']
    result = judged(plan(state, {RULE: (["update"], rule(80, 20))}))
    assert result.refusals() == [
        "payment_validation: the weight green took before this apply is unknown (the listener rule forwards to a "
        "target group the plan does not name): plan without -target, or allow it with --allow-traffic-risk "
        "payment_validation"]


def test_what_the_plan_does_not_touch_needs_no_judgement() -> None:
    """Unknowns refuse only a function whose serving the plan changes."""
    state = stack()
    document = plan(state, {FN: (["no-op"], state[FN]), "aws_sqs_queue.jobs": (["create"], {"name": "jobs"})},
                    partial=True)
    del document["prior_state"]
    assert judged(document).refusals() == []
    state = stack()
    del state[f'aws_lb_target_group.this["{PV}-green"]']
    assert judged(plan(state, {"aws_sqs_queue.jobs": (["create"], {"name": "jobs"})})).refusals() == []


def test_an_alias_on_latest_runs_what_the_apply_publishes() -> None:
    state = stack(blue=("$LATEST", 90), green=("1", 10))
    result = judged(plan(state, {FN: release(state)}))
    blue = table(result)["blue"]
    assert blue.publishes and not blue.served
    assert result.refusals()[0].startswith("payment_validation: blue would move from version $LATEST to the version "
                                           "this apply publishes (new code)")


def test_a_partial_plan_judges_the_secret_it_leaves_out_as_it_is() -> None:
    """-target of the cluster with a new password: the secret keeps the old one."""
    cluster = {"cluster_identifier": "aurora-cluster-prod", "port": 5432, "master_password_wo_version": 1}
    state = {"aws_rds_cluster.this": cluster,
             "aws_secretsmanager_secret_version.db_credentials": {"secret_string_wo_version": 1}}
    document = plan(state, {"aws_rds_cluster.this": (["update"], {**cluster, "master_password_wo_version": 2})},
                    partial=True)
    [problem] = judged(document).credentials
    assert problem.startswith("aws_rds_cluster.this: receives a newly generated password that "
                              "aws_secretsmanager_secret_version.db_credentials does not store")


@pytest.mark.parametrize("actions", [["forget"], ["create", "forget"]])
def test_a_forget_is_a_change_counted_and_shown(actions: list[str]) -> None:
    state = stack()
    after = state[alias("green")] if "create" in actions else None
    result = judged(plan(state, {alias("green"): (actions, after), "aws_sqs_queue.jobs": (actions, after)}))
    assert result.counts["forget"] == 2 and result.changes
    assert result.other == {"aws_sqs_queue": {"forget": 1}}
    [serving] = result.traffic
    assert serving.changes == ('forget aws_lambda_alias.this["payment_validation-green"]: terraform stops managing '
                               "it (a `removed` block); it keeps serving as it is",)
    green = table(result)["green"]
    assert (green.exists_after, green.version_after, green.served) == (True, "1", True)
    assert result.refusals() == []
    assert "2 to forget" in review_format.render_text(result)


def test_the_default_step_is_the_one_environments_default_to() -> None:
    defaults = yaml.safe_load((Path(__file__).parents[3] / "environments" / "defaults.yaml").read_text())
    assert defaults["lambda"]["traffic_max_step"] == review.DEFAULT_MAX_STEP


def test_the_review_json_holds_the_serving_table() -> None:
    state = stack(blue=("1", 100), green=("1", 0))
    result = judged(plan(state, {alias("green"): moved(state, alias("green"), function_version="2"),
                                 RULE: (["update"], rule(90, 10))}))
    [entry] = json.loads(review_format.render_json([result]))["plans"][0]["traffic"]
    assert entry["function"] == PV and entry["first_deploy"] is False
    assert entry["aliases"][1] == {
        "colour": "green", "address": alias("green"), "version_before": "1", "version_after": "2",
        "publishes": False, "exists_after": True, "moves": True, "weight_before": 0, "weight_after": 10,
        "served": False, "code_changes": False}
    assert (entry["risks"], entry["outages"], entry["changes"]) == ([], [], [])


# --- everything on a request's way is an outage when replaced or deleted ---------------------------

SHARED_PATH = {
    "aws_apigatewayv2_api.this": {"name": "payments-api"},
    "aws_apigatewayv2_stage.this": {"name": "v1"},
    "aws_apigatewayv2_integration.alb": {"integration_uri": "arn:listener"},
    "aws_apigatewayv2_vpc_link.this": {"name": "payments"},
    "aws_security_group.lambda": {"name": "payments-lambda"},
    "aws_lb.this": {"name": "payments-alb"},
}
OWN_PATH = {
    f'aws_apigatewayv2_route.this["{PV}"]': {"route_key": "POST /validate"},
    f'aws_iam_role.lambda["{PV}"]': {"name": "pv"},
    f'aws_iam_role_policy.lambda["{PV}"]': {"name": "pv", "policy": "{}"},
}


@pytest.mark.parametrize("address", [*SHARED_PATH, *OWN_PATH])
@pytest.mark.parametrize("actions", [["delete", "create"], ["create", "delete"], ["delete"]])
def test_replacing_or_deleting_any_piece_a_request_passes_through_is_an_outage(address: str,
                                                                                actions: list[str]) -> None:
    state = {**stack(), **SHARED_PATH, **OWN_PATH}
    state[f'aws_lambda_function.this["{"fraud_detection"}"]'] = {"function_name": "fd"}
    result = judged(plan(state, {address: (actions, None if actions == ["delete"] else state[address])}))
    [serving] = result.traffic
    assert any(line.startswith(f"{'delete' if actions == ['delete'] else 'replace'} {address}: ")
               for line in serving.outages), serving.outages
    left = result.refusals(allow_outage=[PV], allow_data_loss=[address])
    # The stage and the load balancer log every request: destroyed, their access logs stop too.
    logs = address in ("aws_apigatewayv2_stage.this", "aws_lb.this")
    assert [line.rsplit("; allow it with ", 1)[1] for line in left] == \
        ([f"--allow-detection-loss {address}"] if logs else [])
    assert result.refusals(allow_outage=[PV], allow_data_loss=[address], allow_detection_loss=[address]) == []


def test_a_piece_of_another_function_is_no_outage_of_this_one() -> None:
    state = {**stack(), 'aws_iam_role.lambda["db_secret_rotation"]': {"name": "rotation"},
             'aws_lambda_function.this["db_secret_rotation"]': {"function_name": "rotation"}}
    result = judged(plan(state, {'aws_iam_role.lambda["db_secret_rotation"]': (["delete", "create"],
                                                                               {"name": "rotation"})}))
    [serving] = result.traffic
    assert serving.outages == ()


# --- a partial plan judged only on what it shows --------------------------------------------------

@pytest.mark.parametrize("prior", [{}, {"values": None}, {"values": {"root_module": {}}}, [], "x",
                                   {"values": {"root_module": {"resources": "x"}}}])
def test_a_partial_plan_whose_prior_state_is_of_another_shape_cannot_be_judged(prior: Any) -> None:
    state = stack()
    document = plan(state, {alias("green"): moved(state, alias("green"), function_version="9")}, partial=True)
    document["prior_state"] = prior
    [refusal] = judged(document).refusals()
    assert refusal.startswith("payment_validation: the plan is partial (-target) and has no prior_state")


def test_a_plan_that_does_not_say_it_is_complete_is_partial() -> None:
    state = stack()
    document = plan(state, {alias("green"): moved(state, alias("green"), function_version="9")}, partial=True)
    del document["prior_state"], document["complete"]
    [refusal] = judged(document).refusals()
    assert refusal.startswith("payment_validation: the plan is partial (-target) and has no prior_state")


def test_a_prior_state_without_an_object_the_plan_changes_cannot_be_judged() -> None:
    state = stack()
    document = plan(state, {alias("green"): moved(state, alias("green"), function_version="9")}, partial=True)
    resources = document["prior_state"]["values"]["root_module"]["resources"]
    resources[:] = [r for r in resources if r["address"] != alias("green")]
    assert judged(document).refusals()[0].startswith("payment_validation: the plan is partial (-target)")


def test_a_prior_state_without_the_listener_rule_of_live_aliases_cannot_be_judged() -> None:
    state = stack()
    document = plan(state, {alias("green"): moved(state, alias("green"), function_version="9")}, partial=True)
    resources = document["prior_state"]["values"]["root_module"]["resources"]
    resources[:] = [r for r in resources if r["address"] != RULE]
    [serving] = judged(document).traffic
    assert not serving.first_deploy
    assert serving.risks and "is unknown" in serving.risks[0]


# --- every target group a rule forwards to is weighed ---------------------------------------------

def forward(*groups: tuple[str, Any]) -> dict[str, Any]:
    return {**rule(0, 0), "action": [{"type": "forward", "forward": [{"target_group": [
        {"arn": target, "weight": weight} for target, weight in groups]}]}]}


def test_a_target_group_that_is_no_alias_s_taking_traffic_is_a_risk() -> None:
    state = stack()
    result = judged(plan(state, {RULE: (["update"], forward((arn("blue"), 9), (arn("green"), 1),
                                                            ("arn:tg/evil", 90)))}))
    [risk] = result.refusals()
    assert "arn:tg/evil" in risk and "90 %" in risk and risk.endswith("--allow-traffic-risk payment_validation")


def test_a_new_colour_target_group_without_an_alias_taking_traffic_is_a_risk() -> None:
    state = stack()
    canary = f'aws_lb_target_group.this["{PV}-canary"]'
    result = judged(plan(state, {
        canary: (["create"], {"arn": "arn:tg/canary", "name": "pv-canary"}),
        RULE: (["update"], forward((arn("blue"), 10), (arn("green"), 10), ("arn:tg/canary", 80)))}))
    [risk] = result.refusals()
    assert canary in risk and "80 %" in risk


def test_shares_count_every_target_group() -> None:
    """Green's 30 of 100 points is 30 % of the requests (not 30 of the aliases' 40)."""
    state = {**stack(), "aws_lb_target_group.other": {"arn": "arn:tg/other"}}
    document = plan(state, {
        RULE: (["update"], forward((arn("blue"), 10), (arn("green"), 30), ("arn:tg/other", 60))),
        alias("green"): moved(state, alias("green"), function_version="2")})
    refusals = judged(document).refusals()
    assert any("would take 30 % of live traffic through green" in line for line in refusals), refusals
    assert any("arn:tg/other" in line for line in refusals)


def test_a_rule_that_served_another_target_group_before_is_no_first_deploy() -> None:
    state = stack(blue=("1", 0), green=("1", 0))
    old = f'aws_lb_target_group.this["{PV}-old"]'
    state[old] = {"arn": "arn:tg/old"}
    state[RULE] = forward(("arn:tg/old", 100))
    result = judged(plan(state, {RULE: (["update"], forward((arn("blue"), 0), (arn("green"), 100))),
                                 alias("green"): moved(state, alias("green"), function_version="2")}))
    [serving] = result.traffic
    assert not serving.first_deploy
    assert any(f"target group {old} 100 % -> 0 %" in line for line in serving.risks), serving.risks
    assert any("would take 100 % of live traffic through green" in line for line in serving.risks)


def test_a_target_group_listed_twice_cannot_be_judged() -> None:
    state = stack()
    result = judged(plan(state, {RULE: (["update"], forward((arn("blue"), 90), (arn("green"), 10),
                                                            (arn("green"), 0)))}))
    [risk] = result.refusals()
    assert "more than once" in risk


# --- what an alias runs beyond its version -------------------------------------------------------

def test_latest_runs_changed_code_even_without_a_new_version() -> None:
    state = stack(blue=("$LATEST", 90), green=("$LATEST", 10))
    result = judged(plan(state, {FN: moved(state, FN, source_code_hash="new")}))
    assert not table(result)["blue"].served
    assert any(line.startswith("payment_validation: blue would move from version $LATEST")
               for line in result.refusals())


def test_reserved_concurrency_known_only_after_apply_may_be_zero() -> None:
    state = stack()
    result = judged(plan(state, {FN: moved(state, FN, reserved_concurrent_executions=UNKNOWN)}))
    [serving] = result.traffic
    assert any("reserved concurrency known only after apply" in line for line in serving.outages)


def routed(state: dict[str, dict[str, Any]], colour: str, weights: Any) -> tuple[list[str], dict[str, Any]]:
    return moved(state, alias(colour), routing_config=[{"additional_version_weights": weights}])


def test_an_additional_version_on_blue_that_never_served_is_a_risk() -> None:
    state = stack(blue=("4", 90), green=("4", 10))
    result = judged(plan(state, {alias("blue"): routed(state, "blue", {"7": 0.5})}))
    assert any("version 7" in line and "45 %" in line and "through blue" in line for line in result.refusals())


def test_an_additional_version_on_green_counts_its_share_against_the_step() -> None:
    state = stack(blue=("4", 50), green=("4", 50))
    assert any("version 7" in line and "40 %" in line for line in judged(plan(state, {
        alias("green"): routed(state, "green", {"7": 0.8})})).refusals())
    assert judged(plan(state, {alias("green"): routed(state, "green", {"7": 0.2})})).refusals() == []


def test_additional_version_weights_known_only_after_apply_are_a_risk() -> None:
    state = stack(blue=("4", 90), green=("4", 10))
    result = judged(plan(state, {alias("green"): routed(state, "green", UNKNOWN)}))
    assert any("routing configuration" in line and "unknown" in line for line in result.refusals())


# --- traffic reaching a function by another way ---------------------------------------------------

def test_another_listener_rule_forwarding_to_a_function_s_target_group_is_a_risk() -> None:
    state = stack()
    hotfix = "aws_lb_listener_rule.hotfix"
    result = judged(plan(state, {
        alias("green"): moved(state, alias("green"), function_version="6"),
        hotfix: (["create"], {**forward((arn("green"), 100)), "priority": 1})}))
    assert any(hotfix in line and line.startswith("payment_validation: ") for line in result.refusals())


def test_a_rule_moved_to_another_address_is_no_first_deploy() -> None:
    state = stack(blue=("4", 90), green=("4", 10))
    moved_to = f'aws_lb_listener_rule.routes["{PV}"]'
    document = plan({k: v for k, v in state.items() if k != RULE}, {
        moved_to: (["update"], forward((arn("blue"), 0), (arn("green"), 100))),
        alias("green"): moved(state, alias("green"), function_version="6")})
    [rc] = [rc for rc in document["resource_changes"] if rc["address"] == moved_to]
    rc["previous_address"] = RULE
    rc["change"]["before"] = state[RULE]
    [serving] = judged(document).traffic
    assert not serving.first_deploy and serving.risks


def test_a_listener_default_action_forwarding_to_a_function_is_a_risk() -> None:
    state = stack()
    result = judged(plan(state, {LISTENER: (["update"], {**state[LISTENER], "default_action": [
        {"type": "forward", "target_group_arn": arn("green")}]})}))
    assert any(LISTENER in line and line.startswith("payment_validation: ") for line in result.refusals())


def test_a_target_group_known_only_after_apply_taking_traffic_is_a_risk() -> None:
    state = stack()
    result = judged(plan(state, {RULE: (["update"], forward((arn("blue"), 10), (arn("green"), 10),
                                                            (UNKNOWN, 80)))}))
    assert any("known only after apply" in line and "80 %" in line for line in result.refusals())


# --- a rule missing while aliases exist; an attachment moved ------------------------------------

def test_a_partial_plan_with_aliases_but_no_listener_rule_names_the_missing_rule() -> None:
    """A partial plan whose prior state holds the aliases but no listener rule cannot say what
    they served: the refusal names the missing rule."""
    state = stack()
    del state[RULE]
    changes = {alias("blue"): (["update"], {**state[alias("blue")], "function_version": "2"})}
    result = judged(plan(state, changes, partial=True))
    [serving] = result.traffic
    assert not serving.first_deploy
    assert any(f"listener rule {RULE} is missing from the plan and its prior state" in risk for risk in serving.risks)
    assert result.refusals()


def test_an_attachment_moved_to_the_bare_function_is_a_traffic_risk() -> None:
    state = stack()
    attachment = f'aws_lb_target_group_attachment.this["{PV}-green"]'
    state[attachment]["target_id"] = "arn:aws:lambda:eu-west-1:111122223333:function:payment-validation-prod:green"
    bare = "arn:aws:lambda:eu-west-1:111122223333:function:payment-validation-prod"
    result = judged(plan(state, {attachment: (["update"], {**state[attachment], "target_id": bare})}))
    [serving] = result.traffic
    assert any(risk.startswith(f"{PV}: {attachment} now sends the green target group's requests to {bare}")
               for risk in serving.risks)


# --- a listener rule whose actions are of no shape terraform writes ----------------------------------------

MALFORMED_ACTIONS = [1.5, [True], [{"type": "forward", "forward": ["x"]}], [{"type": "forward", "forward": 7}],
                     [{"type": "forward", "forward": [{"target_group": 5}]}],
                     [{"type": "forward", "forward": [{"target_group": ["tg"]}]}]]


@pytest.mark.parametrize("action", MALFORMED_ACTIONS)
def test_a_listener_rule_action_that_cannot_be_read_is_a_traffic_risk_not_a_crash(action: Any) -> None:
    state = stack()
    result = judged(plan(state, {RULE: (["update"], {**state[RULE], "action": action})}))
    [serving] = result.traffic
    assert f"{PV}: {RULE}: its action cannot be read, so what it routes is not judged: fix the plan, " \
        f"or allow it with --allow-traffic-risk {PV}" in serving.risks, serving.risks
    assert any(line.endswith(f"--allow-traffic-risk {PV}") for line in result.refusals())
