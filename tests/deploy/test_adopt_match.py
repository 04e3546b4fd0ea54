"""The adoption matcher on hand-made plans and states: identity, never address; one to one."""

from __future__ import annotations

from typing import Any

import pytest

from tfgen.deploy import adopt_match
from tfgen.deploy.adopt_match import match


def create(address: str, after: dict[str, Any], unknown: tuple[str, ...] = ()) -> dict[str, Any]:
    kind = address.split(".")[0]
    index = None
    if "[" in address:
        raw = address.split("[", 1)[1].rstrip("]")
        index = raw.strip('"') if raw.startswith('"') else int(raw)
    return {"address": address, "mode": "managed", "type": kind, "name": address.split(".")[1].split("[")[0],
            "index": index, "change": {"actions": ["create"], "after": after,
                                       "after_unknown": dict.fromkeys(unknown, True)}}


ACCOUNT, REGION = "123456789012", "us-east-1"


def plan(*changes: dict[str, Any], refs: dict[str, dict[str, list[str]]] | None = None,
         place: tuple[str, str, str] = ("aws", ACCOUNT, REGION)) -> dict[str, Any]:
    """tfgen's plan with an empty state: the creates, the references of their expressions, and
    where it runs (the provider's region, the caller's account and partition, read at plan)."""
    partition, account, region = place
    resources = [{"address": a, "expressions": {k: {"references": v} for k, v in e.items()}}
                 for a, e in (refs or {}).items()]
    read = [{"address": "data.aws_caller_identity.current", "mode": "data", "type": "aws_caller_identity",
             "name": "current", "values": {"account_id": account, "id": account}},
            {"address": "data.aws_partition.current", "mode": "data", "type": "aws_partition", "name": "current",
             "values": {"partition": partition, "id": partition}}]
    return {"format_version": "1.2", "resource_changes": list(changes),
            "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": read}}},
            "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {
                "region": {"constant_value": region}}}}, "root_module": {"resources": resources}}}


def state(*objects: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"format_version": "1.0", "values": {"root_module": {"resources": [
        {"address": a, "mode": "managed", "type": a.split(".")[0], "name": a.split(".")[1], "values": v}
        for a, v in objects]}}}


TABLE = create("aws_dynamodb_table.this", {"name": "transactions-dev"})
OLD_TABLE = ("aws_dynamodb_table.Storage_transactions_1A2B3C4D", {
    "id": "transactions-dev", "name": "transactions-dev",
    "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/transactions-dev"})


TOPIC = create("aws_sns_topic.failed", {"name": "failed-dev"}, unknown=("arn", "id"))
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:failed-dev"


def test_matches_by_name_never_by_address() -> None:
    result = match(plan(TABLE), state(OLD_TABLE, ("aws_dynamodb_table.this", {"name": "transactions-prod"})))
    assert [(m.address, m.existing, m.import_id) for m in result.matches] == [
        ("aws_dynamodb_table.this", "aws_dynamodb_table.Storage_transactions_1A2B3C4D", "transactions-dev")]
    assert result.unmanaged == ["aws_dynamodb_table.this"] and not result.errors


def test_two_objects_with_one_identity_are_an_error_naming_both() -> None:
    twin = ("aws_dynamodb_table.Other_transactions_9F9F9F9F", {"name": "transactions-dev"})
    result = match(plan(TABLE), state(OLD_TABLE, twin))
    assert result.errors == ["aws_dynamodb_table.this: ambiguous: both aws_dynamodb_table.Other_transactions_9F9F9F9F "
                             "and aws_dynamodb_table.Storage_transactions_1A2B3C4D have its identity "
                             "(name=transactions-dev)"]
    assert not result.matches


def test_one_object_matched_by_two_resources_is_an_error_naming_both() -> None:
    a = create("aws_iam_role_policy.a", {"name": "p", "role": "r"})
    b = create("aws_iam_role_policy.b", {"name": "p", "role": "r"})
    result = match(plan(a, b, TABLE), state(OLD_TABLE, ("aws_iam_role_policy.old", {"name": "p", "role": "r",
                                                                                   "id": "r:p"})))
    assert result.errors == ["aws_iam_role_policy.old: matched by both aws_iam_role_policy.a and aws_iam_role_policy.b"]


def test_a_resource_without_its_object_is_created_anew_and_listed() -> None:
    old_topic = ("aws_sns_topic.x", {"name": "alerts-dev", "arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts-dev"})
    result = match(plan(TABLE, TOPIC), state(OLD_TABLE, old_topic))
    assert [m.address for m in result.matches] == ["aws_dynamodb_table.this"]
    assert result.created == [("aws_sns_topic.failed", "no object of the old stack has its identity (name=failed-dev)")]
    assert result.unmanaged == ["aws_sns_topic.x"] and not result.errors


CARD_KEY = create("aws_kms_key.card", {}, unknown=("arn", "id", "key_id"))
CARD_ALIAS = create("aws_kms_alias.card", {"name": "alias/card-dev"}, unknown=("target_key_id",))
CARD_REFS = {"aws_kms_alias.card": {"target_key_id": ["aws_kms_key.card.key_id", "aws_kms_key.card"]}}


def test_a_kms_key_whose_alias_the_old_stack_does_not_have_is_created_anew() -> None:
    result = match(plan(CARD_KEY, CARD_ALIAS, TABLE, refs=CARD_REFS), state(OLD_TABLE))
    assert [address for address, _ in result.created] == ["aws_kms_key.card", "aws_kms_alias.card"]
    assert not result.errors


@pytest.mark.parametrize(("target", "said"), [
    ({"target_key_id": "k-9"}, "targets key k-9, which the old state does not hold"),
    ({"target_key_id": None}, "targets no key the old state names"),
])
def test_an_alias_of_tfgens_name_whose_key_is_not_in_the_old_state_refuses(target: dict[str, Any],
                                                                           said: str) -> None:
    # tfgen would create a new key and move the live alias to it: every value derived from the key changes
    alias = ("aws_kms_alias.Kms_card_0C0C0C0C", {"name": "alias/card-dev", "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:"
                                                 "alias/card-dev", **target})
    result = match(plan(CARD_KEY, CARD_ALIAS, TABLE, refs=CARD_REFS), state(OLD_TABLE, alias))
    assert result.errors == [f"aws_kms_key.card: the old stack's aws_kms_alias.Kms_card_0C0C0C0C (alias/card-dev) "
                             f"{said}: tfgen would create a new key and move the alias to it, changing what is "
                             "derived from the key; adopt with a state that holds the key"]


def test_a_subnet_is_matched_through_its_vpc_and_cidr() -> None:
    vpc = create("aws_vpc.this", {"cidr_block": "10.0.0.0/16", "tags": {"Name": "vpc-dev"}}, unknown=("id",))
    subnet = create("aws_subnet.private[\"0\"]", {"cidr_block": "10.0.10.0/24"}, unknown=("vpc_id", "id"))
    refs = {"aws_subnet.private": {"vpc_id": ["aws_vpc.this.id", "aws_vpc.this"]}}
    cidr = {"cidr_block": "10.0.0.0/16"}
    old = state(("aws_vpc.Network_vpc_AAAA0000", {"id": "vpc-1", **cidr, "tags": {"Name": "vpc-dev"},
                                                  "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1"}),
                ("aws_vpc.Other_vpc_BBBB0000", {"id": "vpc-2", **cidr, "tags": {"Name": "other"}}),
                ("aws_subnet.Other_private0_CCCC0000", {"id": "subnet-2", "vpc_id": "vpc-2",
                                                         "cidr_block": "10.0.10.0/24"}),
                ("aws_subnet.Network_private0_DDDD0000", {"id": "subnet-1", "vpc_id": "vpc-1",
                                                           "cidr_block": "10.0.10.0/24"}))
    result = match(plan(vpc, subnet, refs=refs), old)
    assert {m.address: m.import_id for m in result.matches} == {"aws_vpc.this": "vpc-1",
                                                                'aws_subnet.private["0"]': "subnet-1"}
    assert not result.errors


def test_a_subnet_of_an_unmatched_vpc_is_not_matched() -> None:
    vpc = create("aws_vpc.this", {"cidr_block": "10.0.0.0/16", "tags": {"Name": "vpc-dev"}}, unknown=("id",))
    subnet = create("aws_subnet.a", {"cidr_block": "10.0.10.0/24"}, unknown=("vpc_id",))
    refs = {"aws_subnet.a": {"vpc_id": ["aws_vpc.this.id", "aws_vpc.this"]}}
    old = state(("aws_subnet.s", {"id": "subnet-1", "vpc_id": "vpc-9", "cidr_block": "10.0.10.0/24"}))
    result = match(plan(vpc, subnet, refs=refs), old)
    assert result.matches == [] and [a for a, _ in result.created] == ["aws_vpc.this", "aws_subnet.a"]


def test_lambda_permissions_of_two_aliases_are_told_apart_by_qualifier() -> None:
    blue = create("aws_lambda_permission.alb[\"blue\"]", {"function_name": "f", "statement_id": "AllowALB"},
                  unknown=("qualifier",))
    alias = create("aws_lambda_alias.this[\"blue\"]", {"function_name": "f", "name": "blue"}, unknown=("arn",))
    refs = {"aws_lambda_permission.alb": {"qualifier": ["aws_lambda_alias.this", "each.key"]}}
    old = state(("aws_lambda_alias.a", {"function_name": "f", "name": "blue", "arn": "arn:f:blue"}),
                ("aws_lambda_alias.b", {"function_name": "f", "name": "green", "arn": "arn:f:green"}),
                ("aws_lambda_permission.p1", {"function_name": "f", "statement_id": "AllowALB", "qualifier": "green"}),
                ("aws_lambda_permission.p2", {"function_name": "f", "statement_id": "AllowALB", "qualifier": "blue"}))
    result = match(plan(blue, alias, refs=refs), old)
    assert {m.address: (m.existing, m.import_id) for m in result.matches} == {
        'aws_lambda_alias.this["blue"]': ("aws_lambda_alias.a", "f/blue"),
        'aws_lambda_permission.alb["blue"]': ("aws_lambda_permission.p2", "f:blue/AllowALB")}


def test_target_group_attachments_are_listed_as_recreated() -> None:
    attachment = create("aws_lb_target_group_attachment.this[\"blue\"]", {}, unknown=("target_group_arn",))
    result = match(plan(attachment), state())
    assert [a for a, _ in result.recreated] == ['aws_lb_target_group_attachment.this["blue"]']
    assert "not interrupted" in result.recreated[0][1]


def test_raw_state_files_are_read_with_their_instance_keys() -> None:
    raw = {"version": 4, "resources": [{"mode": "managed", "type": "aws_dynamodb_table", "name": "t",
                                        "instances": [{"index_key": "a", "attributes": {"name": "transactions-dev"}}]},
                                       {"mode": "data", "type": "aws_caller_identity", "name": "c", "instances": []}]}
    result = match(plan(TABLE), raw)
    assert [(m.existing, m.import_id) for m in result.matches] == [('aws_dynamodb_table.t["a"]', "transactions-dev")]


LB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/alb-dev/1"
LB = create("aws_lb.this", {"name": "alb-dev"}, unknown=("arn", "id"))
LISTENER = create("aws_lb_listener.http", {"port": 80}, unknown=("arn", "id", "load_balancer_arn"))
RULE = create('aws_lb_listener_rule.this["pay"]', {"priority": 100}, unknown=("arn", "id", "listener_arn"))
# listener_arn = local.front_listener_arn: the plan's configuration does not say what a local holds
ALB_REFS = {"aws_lb_listener.http": {"load_balancer_arn": ["aws_lb.this.arn", "aws_lb.this"]},
            "aws_lb_listener_rule.this": {"listener_arn": ["local.front_listener_arn"],
                                          "priority": ["each.value.priority", "each.value"]}}


def old_alb(*rules: tuple[int, int]) -> list[tuple[str, dict[str, Any]]]:
    """The old load balancer, its listeners on :80 and :8080, and rules (port, priority)."""
    listener = {port: f"{LB_ARN.replace('loadbalancer', 'listener')}/{port}" for port in (80, 8080)}
    return [("aws_lb.Alb_0A0A0A0A", {"name": "alb-dev", "arn": LB_ARN}),
            *((f"aws_lb_listener.Alb_{port}_0B0B0B0B", {"port": port, "load_balancer_arn": LB_ARN,
                                                        "arn": arn, "id": arn}) for port, arn in listener.items()),
            *((f"aws_lb_listener_rule.Alb_{port}_{priority}", {
                "priority": priority, "listener_arn": listener[port], "arn": f"{listener[port]}/rule/{priority}"})
              for port, priority in rules)]


def test_a_listener_rule_is_matched_on_the_listener_tfgens_listener_matched() -> None:
    result = match(plan(LB, LISTENER, RULE, refs=ALB_REFS), state(*old_alb((8080, 100), (80, 100))))
    assert {m.address: m.existing for m in result.matches}['aws_lb_listener_rule.this["pay"]'] == \
        "aws_lb_listener_rule.Alb_80_100"
    assert not result.errors


def test_a_rule_of_another_listener_with_the_same_priority_is_never_matched() -> None:
    # the back-office listener's rule at 100 is not tfgen's, whatever its priority
    result = match(plan(LB, LISTENER, RULE, refs=ALB_REFS), state(*old_alb((8080, 100), (80, 10))))
    assert 'aws_lb_listener_rule.this["pay"]' not in {m.address for m in result.matches}
    assert [a for a, _ in result.created] == ['aws_lb_listener_rule.this["pay"]']


@pytest.mark.parametrize("listeners", [(), ("http", "https")])
def test_a_local_the_plan_cannot_tie_to_one_listener_refuses(listeners: tuple[str, ...]) -> None:
    ours = [create(f"aws_lb_listener.{name}", {"port": 80}, unknown=("arn",)) for name in listeners]
    result = match(plan(LB, *ours, RULE, TABLE, refs=ALB_REFS), state(OLD_TABLE, *old_alb((80, 100))))
    assert result.errors == [f'aws_lb_listener_rule.this["pay"]: listener_arn is known only after apply, through a '
                             f"value the plan does not tie to one resource, and tfgen renders {len(listeners)} "
                             "aws_lb_listener, not one: the old object cannot be told"]
    assert 'aws_lb_listener_rule.this["pay"]' not in {a for a, _ in result.created}


def test_an_integration_is_matched_on_its_api_and_the_listener_tfgens_listener_matched() -> None:
    api = create("aws_apigatewayv2_api.this", {"name": "api-dev"}, unknown=("id",))
    integration = create("aws_apigatewayv2_integration.alb", {}, unknown=("id", "api_id", "integration_uri"))
    refs = {**ALB_REFS, "aws_apigatewayv2_integration.alb": {
        "api_id": ["aws_apigatewayv2_api.this.id", "aws_apigatewayv2_api.this"],
        "integration_uri": ["local.front_listener_arn"]}}
    alb = old_alb()
    listener = {v["port"]: v["arn"] for a, v in alb if a.startswith("aws_lb_listener.")}
    old = state(*alb, ("aws_apigatewayv2_api.Api_0C0C0C0C", {"name": "api-dev", "id": "api1"}),
                ("aws_apigatewayv2_integration.Api_backoffice", {"api_id": "api1", "id": "i-2",
                                                                  "integration_uri": listener[8080]}),
                ("aws_apigatewayv2_integration.Api_alb", {"api_id": "api1", "id": "i-1",
                                                           "integration_uri": listener[80]}))
    result = match(plan(LB, LISTENER, api, integration, refs=refs), old)
    assert {m.address: m.import_id for m in result.matches}["aws_apigatewayv2_integration.alb"] == "api1/i-1"
    assert not result.errors


def test_an_identity_field_known_only_after_apply_and_tied_to_nothing_refuses() -> None:
    subnet = create("aws_subnet.a", {"cidr_block": "10.0.10.0/24"}, unknown=("vpc_id", "id"))
    refs = {"aws_subnet.a": {"vpc_id": ["local.vpc_id"]}}
    old = state(OLD_TABLE, ("aws_subnet.s", {"id": "subnet-1", "vpc_id": "vpc-9", "cidr_block": "10.0.10.0/24"}))
    assert match(plan(subnet, TABLE, refs=refs), old).errors == [
        "aws_subnet.a: vpc_id is known only after apply, through a value the plan does not tie to one resource: "
        "the old object cannot be told"]


def test_a_well_formed_state_without_the_objects_tfgen_renders_is_nothing_to_adopt() -> None:
    for empty in (state(), {"version": 4, "resources": []}):
        result = match(plan(TABLE), empty)
        assert result.errors == ["the old state holds none of the objects tfgen renders: nothing to adopt "
                                 "(is it the state of the stack to adopt?)"]
        assert result.matches == []


def test_a_deposed_object_of_a_state_file_refuses_the_adoption() -> None:
    current = {"attributes": dict(OLD_TABLE[1])}
    deposed = {"attributes": {**OLD_TABLE[1], "name": "transactions-old"}, "deposed": "00000001"}
    raw = {"version": 4, "resources": [{"mode": "managed", "type": "aws_dynamodb_table", "name": "t",
                                        "instances": [current, deposed]}]}
    result = match(plan(TABLE), raw)
    assert result.errors == ["aws_dynamodb_table.t: the old state holds a deposed object of it (deposed 00000001), "
                             "left by a replacement its last apply did not finish: finish or clean up the old "
                             "stack's apply first"]
    assert [e.values["name"] for e in adopt_match.existing_objects(raw)] == ["transactions-dev"]


def test_a_deposed_object_of_terraform_show_json_refuses_the_adoption() -> None:
    shown = state(OLD_TABLE)
    shown["values"]["root_module"]["resources"].append(
        {"address": "aws_dynamodb_table.t", "mode": "managed", "type": "aws_dynamodb_table", "name": "t",
         "deposed_key": "00000002", "values": dict(OLD_TABLE[1])})
    result = match(plan(TABLE), shown)
    assert result.errors == ["aws_dynamodb_table.t: the old state holds a deposed object of it (deposed 00000002), "
                             "left by a replacement its last apply did not finish: finish or clean up the old "
                             "stack's apply first"]


def test_a_rule_to_a_gateway_endpoint_is_matched_through_the_endpoints_prefix_list() -> None:
    endpoint = create("aws_vpc_endpoint.s3", {"service_name": "com.amazonaws.us-east-1.s3"}, unknown=("vpc_id",))
    rule = create("aws_vpc_security_group_egress_rule.to_s3", {"ip_protocol": "tcp", "from_port": 443,
                                                              "to_port": 443}, unknown=("prefix_list_id",))
    vpc = create("aws_vpc.this", {"cidr_block": "10.0.0.0/16", "tags": {"Name": "vpc-dev"}}, unknown=("id",))
    refs = {"aws_vpc_security_group_egress_rule.to_s3": {"prefix_list_id": ["aws_vpc_endpoint.s3.prefix_list_id",
                                                                            "aws_vpc_endpoint.s3"]},
            "aws_vpc_endpoint.s3": {"vpc_id": ["aws_vpc.this.id", "aws_vpc.this"]}}
    old = state(("aws_vpc.v", {"id": "vpc-1", "cidr_block": "10.0.0.0/16", "tags": {"Name": "vpc-dev"}}),
                ("aws_vpc_endpoint.e", {"id": "vpce-1", "service_name": "com.amazonaws.us-east-1.s3",
                                        "prefix_list_id": "pl-1", "vpc_id": "vpc-1"}),
                ("aws_vpc_security_group_egress_rule.r", {"id": "sgr-1", "ip_protocol": "tcp", "from_port": 443,
                                                          "to_port": 443, "prefix_list_id": "pl-1"}))
    result = match(plan(vpc, endpoint, rule, refs=refs), old)
    assert [m.import_id for m in result.matches] == ["vpc-1", "vpce-1", "sgr-1"]


@pytest.mark.parametrize(("values", "said"), [({"name": "failed-dev"}, "missing"),
                                              ({"name": "failed-dev", "arn": None}, "null"),
                                              ({"name": "failed-dev", "arn": ""}, "empty")])
def test_an_import_id_from_a_missing_value_is_an_error_naming_the_object_and_attribute(values: dict[str, Any],
                                                                                      said: str) -> None:
    result = match(plan(TOPIC, TABLE), state(OLD_TABLE, ("aws_sns_topic.Alarms_failed_0A0A0A0A", values)))
    assert result.errors == [f"aws_sns_topic.Alarms_failed_0A0A0A0A: arn is {said} in the old state: the import id "
                             "of aws_sns_topic.failed cannot be made"]
    assert [m.address for m in result.matches] == ["aws_dynamodb_table.this"]


def test_a_kms_key_without_its_key_id_is_an_error_not_the_id_none() -> None:
    key = create("aws_kms_key.card", {}, unknown=("arn", "id", "key_id"))
    alias = create("aws_kms_alias.card", {"name": "alias/card-dev"}, unknown=("target_key_id",))
    refs = {"aws_kms_alias.card": {"target_key_id": ["aws_kms_key.card.key_id", "aws_kms_key.card"]}}
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1"
    old = state(("aws_kms_key.k", {"arn": key_arn, "key_id": None}),
                ("aws_kms_alias.a", {"name": "alias/card-dev", "target_key_id": key_arn,
                                      "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/card-dev"}))
    result = match(plan(key, alias, refs=refs), old)
    assert result.errors == ["aws_kms_key.k: key_id is null in the old state: the import id of aws_kms_key.card "
                             "cannot be made"]


def names(address: str, attribute: str) -> str | None:
    """adopt.setting's answer for the names these tests use."""
    return {("aws_dynamodb_table.this", "name"): "the name tfgen derives (names.table)",
            ("aws_rds_cluster.this", "cluster_identifier"): "the name tfgen derives (names.aurora_cluster)"
            }.get((address, attribute))


@pytest.mark.parametrize(("ours", "theirs", "tfgens_name"), [
    (TABLE, ("aws_dynamodb_table.Storage_ledger_0D0D0D0D", {
        "name": "payments-ledger", "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/payments-ledger"}),
     " (tfgen's: the name tfgen derives (names.table))"),
    (create("aws_s3_bucket.this", {"bucket": "payment-audit-logs-dev"}),
     ("aws_s3_bucket.Storage_audit_0E0E0E0E", {"bucket": "audit-dev", "arn": "arn:aws:s3:::audit-dev"}), ""),
    (create("aws_rds_cluster.this", {"cluster_identifier": "aurora-cluster-dev"}),
     ("aws_rds_cluster.Database_0F0F0F0F", {"cluster_identifier": "ledger-db",
                                           "arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:ledger-db"}),
     " (tfgen's: the name tfgen derives (names.aurora_cluster))"),
])
def test_a_store_created_anew_beside_an_unmatched_old_one_of_its_type_refuses_naming_both(
        ours: dict[str, Any], theirs: tuple[str, dict[str, Any]], tfgens_name: str) -> None:
    # the functions would be pointed at a new, empty store while the data stays in the old one
    topic = ("aws_sns_topic.Alarms_failed_0A0A0A0A", {"name": "failed-dev", "arn": TOPIC_ARN})
    result = match(plan(ours, TOPIC), state(theirs, topic), setting=names)
    [field] = adopt_match.RULES[ours["type"]].fields
    assert result.errors == [
        f"{ours['address']} ({field}={ours['change']['after'][field]}) would be created anew, while the old stack's "
        f"{theirs[0]} ({field}={theirs[1][field]}), of the same type and holding data, matches nothing: if it is the "
        f"same, the names must agree{tfgens_name}; if not, drop it from the state given to adopt"]


def test_a_key_created_anew_beside_an_unmatched_old_key_refuses_naming_both() -> None:
    old_key = ("aws_kms_key.Kms_other_1A1A1A1A", {"key_id": "k-7", "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-7"})
    result = match(plan(CARD_KEY, CARD_ALIAS, TABLE, refs=CARD_REFS), state(OLD_TABLE, old_key), setting=names)
    assert result.errors == [
        "aws_kms_key.card (the key an alias of it targets) would be created anew, while the old stack's "
        "aws_kms_key.Kms_other_1A1A1A1A (key_id=k-7), of the same type and holding data, matches nothing: if it is "
        "the same, tfgen's alias must target it (alias/card-dev); if not, drop it from the state given to adopt"]


def test_a_resource_whose_plan_gives_no_identity_refuses_rather_than_match_a_nameless_object() -> None:
    nameless = create("aws_dynamodb_table.this", {"name": None})
    result = match(plan(nameless), state(("aws_dynamodb_table.x", {"arn": OLD_TABLE[1]["arn"]})))
    assert result.errors == ["aws_dynamodb_table.this: tfgen's plan gives it no identity (name is null)"]


PLACE = "the environment's (partition aws, account 123456789012, region us-east-1)"


@pytest.mark.parametrize("arn", ["arn:aws:dynamodb:us-east-1:999988887777:table/transactions-dev",
                                 "arn:aws:dynamodb:eu-west-1:123456789012:table/transactions-dev",
                                 "arn:aws-us-gov:dynamodb:us-east-1:123456789012:table/transactions-dev",
                                 "arn:table/transactions-dev"])
def test_a_state_of_another_account_region_or_partition_refuses_naming_one_arn(arn: str) -> None:
    topic = ("aws_sns_topic.Alarms_failed_0A0A0A0A", {"name": "failed-dev", "arn": TOPIC_ARN})
    result = match(plan(TABLE, TOPIC), state((OLD_TABLE[0], {**OLD_TABLE[1], "arn": arn}), topic))
    assert result.errors == [f"the old state is not of {PLACE}: {OLD_TABLE[0]} is {arn}"]


def test_the_count_of_other_objects_elsewhere_is_said() -> None:
    topic = ("aws_sns_topic.Alarms_failed_0A0A0A0A", {"name": "failed-dev",
                                                      "arn": TOPIC_ARN.replace(ACCOUNT, "999988887777")})
    table = (OLD_TABLE[0], {**OLD_TABLE[1], "arn": OLD_TABLE[1]["arn"].replace(ACCOUNT, "999988887777")})
    result = match(plan(TABLE, TOPIC), state(table, topic))
    assert result.errors == [f"the old state is not of {PLACE}: aws_dynamodb_table.Storage_transactions_1A2B3C4D is "
                             f"{table[1]['arn']} (and 1 other object)"]


def test_a_state_whose_matched_objects_name_no_account_or_region_cannot_be_told_to_be_the_environments() -> None:
    bucket = create("aws_s3_bucket.this", {"bucket": "audit-dev"})
    result = match(plan(bucket), state(("aws_s3_bucket.b", {"bucket": "audit-dev", "arn": "arn:aws:s3:::audit-dev"})))
    assert result.errors == [f"no ARN of the objects matched names an account or a region: the old state cannot be "
                             f"told to be of {PLACE}"]


@pytest.mark.parametrize(("drop", "said"), [("prior_state", "account (data.aws_caller_identity), partition "
                                                            "(data.aws_partition)"),
                                            ("configuration", "region (the aws provider's region)")])
def test_a_plan_that_does_not_say_where_the_environment_runs_refuses(drop: str, said: str) -> None:
    ours = plan(TABLE)
    if drop == "configuration":
        del ours["configuration"]["provider_config"]
    else:
        del ours[drop]
    assert match(ours, state(OLD_TABLE)).errors == [
        f"tfgen's plan does not say the environment's {said}: the old state cannot be checked against it"]


ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Payment-Validation-Dev"


@pytest.mark.parametrize(("ours", "theirs", "identity"), [
    (create('aws_iam_role.lambda["pv"]', {"name": "payment-validation-dev"}),
     ("aws_iam_role.Iam_pv_2B2B2B2B", {"name": "Payment-Validation-Dev", "arn": ROLE_ARN}),
     ("name=payment-validation-dev", "name=Payment-Validation-Dev")),
    (create("aws_iam_role_policy.pv", {"role": "payment-validation-dev", "name": "table-access"}),
     ("aws_iam_role_policy.Iam_pv_3C3C3C3C", {"role": "Payment-Validation-Dev", "name": "Table-Access",
                                              "id": "Payment-Validation-Dev:Table-Access"}),
     ("role=payment-validation-dev, name=table-access", "role=Payment-Validation-Dev, name=Table-Access")),
])
def test_an_iam_name_differing_only_in_case_refuses_naming_both(
        ours: dict[str, Any], theirs: tuple[str, dict[str, Any]], identity: tuple[str, str]) -> None:
    # IAM names ignore case: tfgen's could not be created beside the old one
    result = match(plan(ours, TABLE), state(OLD_TABLE, theirs))
    assert result.errors == [f"{ours['address']} ({identity[0]}): the old stack's {theirs[0]} ({identity[1]}) differs "
                             "only in case, and IAM names ignore case: tfgen's could not be created beside it; give "
                             "both the same name"]
