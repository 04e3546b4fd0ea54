"""Access gained, judged on plan fixtures: every policy-bearing attribute of the catalogue's access
types, compared statement by statement on content; grants and settings that open access; and a
policy known only at apply judged on its document against the same resource's policy before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.test_review import change
from tfgen.deploy import review
from tfgen.deploy.review import catalogue
from tfgen.deploy.review.access import LATER

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/transactions-prod"
READ = {"Sid": "Read", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": TABLE}
DENY = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def gains(*changes: dict[str, Any], **plan: Any) -> dict[str, tuple[str, tuple[Any, ...]]]:
    result = review.review({"resource_changes": list(changes), **plan})
    return {g.address: (g.kind, g.added) for g in result.access}


def policy_update(address: str, before: str, after: str, attribute: str = "policy") -> dict[str, Any]:
    return change(address, ["update"], {attribute: before}, {attribute: after})


# --- statements, on content -------------------------------------------------------------------

def test_a_removed_deny_is_access_gained() -> None:
    allow = {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::audit/*"}
    assert gains(policy_update("aws_s3_bucket_policy.this", policy(DENY, allow), policy(allow))) == {
        "aws_s3_bucket_policy.this": ("bucket policy", ({"Removed": DENY},))}


def test_a_narrowed_deny_is_access_gained_and_a_widened_one_is_not() -> None:
    narrowed = {**DENY, "Resource": "arn:aws:s3:::audit"}
    assert gains(policy_update("aws_s3_bucket_policy.this", policy(DENY), policy(narrowed))) == {
        "aws_s3_bucket_policy.this": ("bucket policy", ({"Removed": DENY},))}
    widened = {**DENY, "Resource": "*"}
    assert gains(policy_update("aws_s3_bucket_policy.this", policy(DENY), policy(widened))) == {}


def test_a_destroyed_policy_with_a_deny_is_access_gained() -> None:
    assert gains(change("aws_s3_bucket_policy.this", ["delete"], {"policy": policy(DENY)}, None)) == {
        "aws_s3_bucket_policy.this": ("bucket policy", ({"Removed": DENY},))}


def test_not_action_and_not_resource_are_shown_whole() -> None:
    not_action = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    not_resource = {"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": TABLE}
    assert gains(policy_update("aws_iam_role_policy.app", policy(READ), policy(READ, not_action, not_resource))) == {
        "aws_iam_role_policy.app": ("policy", (not_action, not_resource))}


def test_a_wider_resource_is_access_gained_including_a_wildcard() -> None:
    wider = {**READ, "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/*"}
    assert gains(policy_update("aws_iam_role_policy.app", policy(READ), policy(wider))) == {
        "aws_iam_role_policy.app": ("policy", (
            {"Sid": "Read", "Effect": "Allow", "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/*"]},))}


def test_a_narrower_statement_or_one_split_in_two_grants_nothing() -> None:
    wide = {**READ, "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/*"}
    split = [{**READ, "Sid": "Get", "Action": "dynamodb:GetItem"}, {**READ, "Sid": "Query", "Action": "dynamodb:Query"}]
    assert gains(policy_update("aws_iam_role_policy.app", policy(wide), policy(READ))) == {}
    assert gains(policy_update("aws_iam_role_policy.app", policy(READ), policy(*split))) == {}
    assert gains(policy_update("aws_iam_role_policy.app", policy(*split), policy(READ))) == {}


def test_a_dropped_condition_is_access_gained() -> None:
    conditioned = {**READ, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}
    assert gains(policy_update("aws_iam_role_policy.app", policy(conditioned), policy(READ))) == {
        "aws_iam_role_policy.app": ("policy", (READ,))}
    assert gains(policy_update("aws_iam_role_policy.app", policy(READ), policy(conditioned))) == {}


def test_a_new_principal_in_a_trust_policy_is_access_gained() -> None:
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    wider = {**trust, "Principal": {"Service": "lambda.amazonaws.com", "AWS": "arn:aws:iam::999999999999:root"}}
    assert gains(policy_update("aws_iam_role.app", policy(trust), policy(wider), "assume_role_policy")) == {
        "aws_iam_role.app": (
            "trust policy", ({"Effect": "Allow", "Principal": ["AWS:arn:aws:iam::999999999999:root"]},))}


@pytest.mark.parametrize(("address", "attribute", "kind"), [
    ("aws_sqs_queue_policy.q", "policy", "queue policy"),
    ("aws_sqs_queue.q", "policy", "queue policy"),
    ("aws_sns_topic_policy.t", "policy", "topic policy"),
    ("aws_secretsmanager_secret_policy.s", "policy", "secret policy"),
    ("aws_vpc_endpoint_policy.e", "policy", "endpoint policy"),
    ("aws_vpc_endpoint.e", "policy", "endpoint policy"),
    ("aws_ecr_repository_policy.r", "policy", "repository policy"),
    ("aws_kms_key_policy.k", "policy", "key policy"),
    ("aws_iam_policy.p", "policy", "policy"),
    ("aws_cloudwatch_log_resource_policy.l", "policy_document", "log resource policy"),
])
def test_every_policy_bearing_attribute_is_judged(address: str, attribute: str, kind: str) -> None:
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    assert gains(policy_update(address, policy(), policy(everyone), attribute)) == {address: (kind, (everyone,))}


# --- grants and openings ------------------------------------------------------------------------

def test_a_kms_grant_is_access_gained() -> None:
    grant = {"key_id": "k", "grantee_principal": "arn:aws:iam::999999999999:root", "operations": ["Decrypt"]}
    assert gains(change("aws_kms_grant.partner", ["create"], None, grant)) == {
        "aws_kms_grant.partner": ("kms grant", (grant,))}


@pytest.mark.parametrize("kind", ["aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment",
                                  "aws_iam_group_policy_attachment"])
def test_a_managed_policy_attachment_is_access_gained(kind: str) -> None:
    principal = kind.split("_")[2]
    after = {principal: "ops", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert gains(change(f"{kind}.admin", ["create"], None, after)) == {
        f"{kind}.admin": (kind.removeprefix("aws_").replace("_", " "), (after,))}


def test_an_api_route_without_authorization_is_access_gained() -> None:
    before = {"route_key": "POST /payments", "authorization_type": "AWS_IAM"}
    after = {"route_key": "POST /payments", "authorization_type": "NONE"}
    assert gains(change('aws_apigatewayv2_route.this["create_payment"]', ["update"], before, after)) == {
        'aws_apigatewayv2_route.this["create_payment"]': ("opened", ({"route authorization": "NONE"},))}
    assert gains(change("aws_apigatewayv2_route.open", ["create"], None, after)) == {
        "aws_apigatewayv2_route.open": ("opened", ({"route authorization": "NONE"},))}
    assert gains(change("aws_apigatewayv2_route.x", ["update"], after, before)) == {}
    assert gains(change("aws_apigatewayv2_route.x", ["update"], before, {}, {"authorization_type": True})) == {
        "aws_apigatewayv2_route.x": ("opened", ({"route authorization": "known after apply"},))}


ALL_USERS = {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers", "id": "",
             "permissions": ["READ"]}
OWNER = {"type": "CanonicalUser", "id": "abc123", "uri": "", "permissions": ["FULL_CONTROL"]}


def test_a_grantee_added_to_a_bucket_acl_is_access_gained_and_one_removed_is_not() -> None:
    assert gains(change("aws_s3_bucket.audit", ["update"], {"grant": [OWNER]}, {"grant": [ALL_USERS, OWNER]})) == {
        "aws_s3_bucket.audit": ("bucket ACL grant", (ALL_USERS,))}
    wider = {**ALL_USERS, "permissions": ["WRITE", "READ"]}
    assert gains(change("aws_s3_bucket.audit", ["update"], {"grant": [ALL_USERS]}, {"grant": [wider]})) == {
        "aws_s3_bucket.audit": ("bucket ACL grant", (wider,))}
    same = {**ALL_USERS, "permissions": ["READ"]}
    assert gains(change("aws_s3_bucket.audit", ["update"], {"grant": [OWNER, ALL_USERS]}, {"grant": [same, OWNER]})) \
        == {}
    assert gains(change("aws_s3_bucket.audit", ["update"], {"grant": [ALL_USERS, OWNER]}, {"grant": [OWNER]})) == {}
    assert gains(change("aws_s3_bucket.audit", ["update"], {"grant": [OWNER]}, {}, {"grant": True})) == {
        "aws_s3_bucket.audit": ("bucket ACL grant", (LATER,))}


def test_a_route_accepting_another_scope_or_none_at_all_is_access_gained() -> None:
    route = 'aws_apigatewayv2_route.this["create_payment"]'
    jwt = {"route_key": "POST /payments", "authorization_type": "JWT", "authorizer_id": "a1"}

    def scopes(before: Any, after: Any) -> dict[str, tuple[str, tuple[Any, ...]]]:
        return gains(change(route, ["update"], {**jwt, "authorization_scopes": before},
                            {**jwt, "authorization_scopes": after}))

    assert scopes(["payments:write"], None) == {route: ("accepted token scope", (
        'removed: authorization_scopes is empty, so any token the authorizer accepts is (was ["payments:write"])',))}
    assert scopes(["payments:write"], []) == scopes(["payments:write"], None)
    assert scopes(["payments:write"], ["payments:write", "payments:read"]) == {
        route: ("accepted token scope", ("payments:read",))}
    assert scopes(["payments:write", "payments:read"], ["payments:write"]) == {}
    assert scopes(None, ["payments:write"]) == {}  # a scope required where none was narrows


def test_a_function_url_without_authorization_is_access_gained() -> None:
    assert gains(change("aws_lambda_function_url.this", ["create"], None, {"authorization_type": "NONE"})) == {
        "aws_lambda_function_url.this": ("opened", ({"function URL authorization": "NONE"},))}


def test_a_loosened_or_destroyed_public_access_block_is_access_gained() -> None:
    flags = dict.fromkeys(("block_public_acls", "block_public_policy", "ignore_public_acls",
                           "restrict_public_buckets"), True)
    assert gains(change("aws_s3_bucket_public_access_block.this", ["update"], flags,
                        {**flags, "block_public_policy": False})) == {
        "aws_s3_bucket_public_access_block.this": ("opened", ({"public access block block_public_policy": False},))}
    [(kind, (opened,))] = gains(change("aws_s3_bucket_public_access_block.this", ["delete"], flags, None)).values()
    assert kind == "opened" and set(opened) == {f"public access block {flag}" for flag in flags}
    assert gains(change("aws_s3_bucket_public_access_block.this", ["create"], None, flags)) == {}


def test_an_unclassified_type_cannot_be_judged_and_says_so() -> None:
    assert gains(change("aws_opensearch_domain_policy.logs", ["create"], None, {"access_policies": "{}"})) == {
        "aws_opensearch_domain_policy.logs": ("unclassified type", (
            "aws_opensearch_domain_policy is not in the review's catalogue: the access it grants cannot be judged",))}


# --- policies read at apply ---------------------------------------------------------------------

def document(address: str, statements: list[dict[str, Any]], unknown: list[Any] | None = None,
             **after: Any) -> dict[str, Any]:
    name = address.split(".")[2].split("[")[0]
    rc = {"address": address, "mode": "data", "type": "aws_iam_policy_document", "name": name,
          "change": {"actions": ["read"], "before": None, "after": {"statement": statements, **after},
                     "after_unknown": {"json": True, "statement": unknown or [{} for _ in statements]}}}
    if "[" in address:
        rc["index"] = json.loads(address[address.index("[") + 1:-1])
    return rc


def block(sid: str, actions: list[str], resources: list[str] | None) -> dict[str, Any]:
    return {"sid": sid, "effect": "Allow", "actions": actions, "resources": resources, "principals": [],
            "not_principals": [], "condition": [], "not_actions": None, "not_resources": None}


def deferred(address: str, before: str) -> dict[str, Any]:
    rc = change(address, ["update"], {"policy": before}, {}, {"policy": True})
    if "[" in address:
        rc["index"] = json.loads(address[address.index("[") + 1:-1])
    return rc


def config(*resources: tuple[str, str, list[str]]) -> dict[str, Any]:
    """A plan's configuration section: (address, attribute, references) per resource."""
    return {"root_module": {"resources": [
        {"address": address, "mode": "data" if address.startswith("data.") else "managed",
         "type": address.split(".")[-2], "name": address.split(".")[-1],
         "expressions": {attribute: {"references": refs}}} for address, attribute, refs in resources]}}


def read_at_apply(found: dict[str, tuple[str, tuple[Any, ...]]]) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """``found`` with the line every policy read at apply starts with (cannot be judged) left out."""
    out = {}
    for address, (kind, added) in found.items():
        if kind.endswith("(read at apply)"):
            assert str(added[0]).startswith(f"document {LATER}: cannot be judged (the plan's configuration lists")
            added = added[1:]
        out[address] = (kind, added)
    return out


DOC = "data.aws_iam_policy_document"


def test_a_deferred_policy_is_compared_with_its_own_resource_not_by_sid_across_resources() -> None:
    """Role b's document adds to b what only role a had before, under the same Sid: a gain of b."""
    plan = {"configuration": config(
        ("aws_iam_role_policy.a", "policy", [f"{DOC}.a.json", f"{DOC}.a"]),
        ("aws_iam_role_policy.b", "policy", [f"{DOC}.b.json", f"{DOC}.b"]))}
    assert read_at_apply(gains(
        deferred("aws_iam_role_policy.a", policy(READ)),
        deferred("aws_iam_role_policy.b", policy({**READ, "Action": "dynamodb:Query"})),
        document(f"{DOC}.a", [block("Read", ["dynamodb:GetItem", "dynamodb:Query"], [TABLE])]),
        document(f"{DOC}.b", [block("Read", ["dynamodb:GetItem", "dynamodb:Query"], [TABLE])]),
        **plan)) == {"aws_iam_role_policy.a": ("policy (read at apply)", ()),
                     "aws_iam_role_policy.b": ("policy (read at apply)", (
            {"Sid": "Read", "Effect": "Allow", "Action": ["dynamodb:GetItem"]},))}


def test_a_deferred_document_for_each_is_matched_by_the_resources_key() -> None:
    plan = {"configuration": config(("aws_kms_key.this", "policy", [f"{DOC}.kms", "each.key"]))}
    key = 'aws_kms_key.this["logs"]'
    everyone = block("Everyone", ["kms:Decrypt"], ["*"])
    assert read_at_apply(gains(
        deferred(key, policy()),
        document(f'{DOC}.kms["logs"]', [everyone]),
        document(f'{DOC}.kms["rds"]', []), **plan)) == {key: ("key policy (read at apply)", (
            {"Sid": "Everyone", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["*"]},))}


def test_a_deferred_document_built_from_a_source_document_includes_its_statements() -> None:
    plan = {"configuration": config(
        ("aws_iam_role_policy.a", "policy", [f"{DOC}.a.json", f"{DOC}.a"]),
        (f"{DOC}.a", "source_policy_documents", [f'{DOC}.base["a"].json', f'{DOC}.base["a"]', f"{DOC}.base"]))}
    source = document(f'{DOC}.base["a"]', [block("Logs", ["logs:PutLogEvents"], ["*"])])
    own = document(f"{DOC}.a", [block("Read", ["dynamodb:GetItem", "dynamodb:Query"], [TABLE])],
                   source_policy_documents=[None])
    own["change"]["after_unknown"]["source_policy_documents"] = [True]
    assert read_at_apply(gains(deferred("aws_iam_role_policy.a", policy(READ)), own, source, **plan)) == {
        "aws_iam_role_policy.a": ("policy (read at apply)", (
            {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": ["*"]},))}


def lambda_documents(function: str, own: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents of one function as templates/iam.tf.j2 renders them, read at apply:
    ``lambda[function]`` (its own statements, dynamic blocks guarded by the key) built on
    ``lambda_base[function]``."""
    base = document(f'{DOC}.lambda_base["{function}"]', [block("OwnLogGroup", ["logs:PutLogEvents"], ["log-group:*"])])
    lambda_ = document(f'{DOC}.lambda["{function}"]', own, source_policy_documents=[None])
    lambda_["change"]["after_unknown"]["source_policy_documents"] = [True]
    return [base, lambda_]


LAMBDA_CONFIG = {"configuration": config(
    ("aws_iam_role_policy.lambda", "policy", [f"{DOC}.lambda", "each.key"]),
    (f"{DOC}.lambda", "source_policy_documents", [f"{DOC}.lambda_base", "each.key"]))}


def test_a_deferred_lambda_role_policy_is_judged_on_its_functions_document_and_base() -> None:
    """The role policy and its document are keyed by function (``each.key``) and the document's
    source (``lambda_base[each.key]``) too: the action payment_validation gains shows, and the
    other function's unchanged document shows nothing."""
    address = 'aws_iam_role_policy.lambda["payment_validation"]'
    logs = {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "log-group:*"}
    table = {"Sid": "TransactionsTable", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
             "Resource": TABLE}
    gained = block("TransactionsTable", ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"], [TABLE])
    assert gains(
        deferred(address, policy(logs, table)),
        deferred('aws_iam_role_policy.lambda["fraud_detection"]', policy(logs, READ)),
        *lambda_documents("payment_validation", [gained]),
        *lambda_documents("fraud_detection", [block("Read", ["dynamodb:GetItem", "dynamodb:Query"], [TABLE])]),
        **LAMBDA_CONFIG) == {
            address: ("policy (read at apply)", (unjudged("payment_validation"),
                                                 {"Sid": "TransactionsTable", "Effect": "Allow",
                                                  "Action": ["dynamodb:DeleteItem"]})),
            'aws_iam_role_policy.lambda["fraud_detection"]': ("policy (read at apply)",
                                                              (unjudged("fraud_detection"),))}


def unjudged(function: str) -> str:
    """The line a policy read at apply opens with: the plan cannot show it is exactly its document."""
    document = f'data.aws_iam_policy_document.lambda["{function}"]'
    return ("document known after apply: cannot be judged (the plan's configuration lists the same references "
            f"whether policy is {document}.json or an expression rewriting it, such as replace() or concat(); "
            f"what {document} grants beyond the policy before follows)")


def test_a_deferred_document_named_both_by_key_and_by_each_key_is_reported_not_passed() -> None:
    """``each.key == "x" ? lambda["fraud_detection"].json : lambda[each.key].json``: the references
    do not tell which instance the policy is built from, so it is reported, not judged on one."""
    address = 'aws_iam_role_policy.lambda["payment_validation"]'
    plan = {"configuration": config(
        ("aws_iam_role_policy.lambda", "policy", [f'{DOC}.lambda["fraud_detection"].json',
                                                  f'{DOC}.lambda["fraud_detection"]', f"{DOC}.lambda", "each.key"]),
        (f"{DOC}.lambda", "source_policy_documents", [f"{DOC}.lambda_base", "each.key"]))}
    assert gains(deferred(address, policy()), *lambda_documents("payment_validation", []),
                 *lambda_documents("fraud_detection", [block("Read", ["dynamodb:GetItem"], [TABLE])]), **plan) == {
        address: ("policy", ("document known after apply: cannot be judged (its policy names documents both by "
                             "key and by each.key: which instance each is cannot be told)",))}


def test_a_deferred_document_that_cannot_be_mapped_is_reported_not_passed() -> None:
    plan = {"configuration": config(("aws_iam_role_policy.lambda", "policy", ["local.lambda_policies", "each.key"]))}
    address = 'aws_iam_role_policy.lambda["payment_validation"]'
    assert gains(deferred(address, policy(READ)),
                 document(f"{DOC}.payment_validation", [block("Read", ["dynamodb:GetItem"], [TABLE])]),
                 **plan) == {address: ("policy", (
                     "document known after apply: cannot be judged (its policy is built from "
                     "local.lambda_policies, each.key, not from one policy document)",))}


def test_a_deferred_statement_with_unknown_parts_is_shown_with_them() -> None:
    plan = {"configuration": config(("aws_iam_role_policy.a", "policy", [f"{DOC}.a.json", f"{DOC}.a"]))}
    unknown = [{"resources": True}]
    assert read_at_apply(gains(deferred("aws_iam_role_policy.a", policy(READ)),
                 document(f"{DOC}.a", [block("Read", ["dynamodb:GetItem"], None)], unknown), **plan)) == {
        "aws_iam_role_policy.a": ("policy (read at apply)", (
            {"Sid": "Read", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "known after apply"},))}


def test_a_deferred_document_keeps_the_resources_deny_or_reports_it_removed() -> None:
    plan = {"configuration": config(("aws_s3_bucket_policy.this", "policy", [f"{DOC}.b.json", f"{DOC}.b"]))}
    deny = {"sid": "DenyInsecureTransport", "effect": "Deny", "actions": ["s3:*"],
            "resources": ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
            "principals": [{"type": "*", "identifiers": ["*"]}], "not_principals": [], "not_actions": None,
            "not_resources": None,
            "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]}
    kept = read_at_apply(gains(deferred("aws_s3_bucket_policy.this", policy(DENY)), document(f"{DOC}.b", [deny]),
                               **plan))
    assert kept == {"aws_s3_bucket_policy.this": ("bucket policy (read at apply)", ())}
    dropped = read_at_apply(gains(deferred("aws_s3_bucket_policy.this", policy(DENY)), document(f"{DOC}.b", []),
                                  **plan))
    assert dropped == {"aws_s3_bucket_policy.this": ("bucket policy (read at apply)", ({"Removed": DENY},))}


def test_a_deferred_document_of_a_shape_terraform_never_writes_cannot_be_judged() -> None:
    plan = {"configuration": config(("aws_iam_role_policy.a", "policy", [f"{DOC}.a.json", f"{DOC}.a"]))}
    hostile = document(f"{DOC}.a", [{"sid": "x", "principals": [True]}])
    [(kind, (why,))] = gains(deferred("aws_iam_role_policy.a", policy(READ)), hostile, **plan).values()
    assert kind == "policy" and why.startswith(f"document known after apply: cannot be judged ({DOC}.a cannot be read")


def test_a_deferred_document_whose_statements_are_unknown_cannot_be_judged() -> None:
    plan = {"configuration": config(("aws_iam_role_policy.a", "policy", [f"{DOC}.a.json", f"{DOC}.a"]))}
    unknown = document(f"{DOC}.a", [])
    unknown["change"]["after_unknown"]["statement"] = True
    assert gains(deferred("aws_iam_role_policy.a", policy(READ)), unknown, **plan) == {
        "aws_iam_role_policy.a": ("policy", (
            f"document known after apply: cannot be judged (the statements of {DOC}.a are known after apply)",))}


@pytest.mark.parametrize("actions", [["create", "delete"], ["delete", "create"]])
def test_a_replaced_public_access_block_is_off_for_a_while_or_for_good(actions: list[str]) -> None:
    flags = dict.fromkeys(("block_public_acls", "block_public_policy", "ignore_public_acls",
                           "restrict_public_buckets"), True)
    [(kind, (opened,))] = gains(change("aws_s3_bucket_public_access_block.this", actions, flags, flags)).values()
    assert kind == "opened" and set(opened) == {f"public access block {flag}" for flag in flags}


def test_a_deferred_policy_whose_document_adds_nothing_is_still_not_passed() -> None:
    """``policy = replace(data.x.json, ...)`` lists the same references as ``policy = data.x.json``
    in the plan's configuration: the document granting nothing new does not say the policy does."""
    plan = {"configuration": config(("aws_iam_role_policy.a", "policy", [f"{DOC}.a.json", f"{DOC}.a"]))}
    same = gains(deferred("aws_iam_role_policy.a", policy(READ)),
                 document(f"{DOC}.a", [block("Read", ["dynamodb:GetItem", "dynamodb:Query"], [TABLE])]), **plan)
    [(kind, (why,))] = same.values()
    assert kind == "policy (read at apply)" and why.startswith(f"document {LATER}: cannot be judged")
    assert "replace(" in why and f"{DOC}.a" in why


ROLE_A, ROLE_B = "payments-a", "payments-b"


@pytest.mark.parametrize("actions", [["update"], ["create", "delete"]])
def test_a_policy_attached_to_another_role_with_the_same_document_is_access_gained(actions: list[str]) -> None:
    result = review.review({"resource_changes": [change(
        "aws_iam_role_policy.app", actions, {"role": ROLE_A, "policy": policy(READ)},
        {"role": ROLE_B, "policy": policy(READ)})]})
    assert [(g.kind, g.added) for g in result.access] == [
        ("attached to another role", ({"role": ROLE_B, "before": ROLE_A},)), ("policy", (READ,))]


@pytest.mark.parametrize(("address", "holder"), [
    ("aws_s3_bucket_policy.this", "bucket"), ("aws_sqs_queue_policy.this", "queue_url"),
    ("aws_sns_topic_policy.this", "arn"), ("aws_secretsmanager_secret_policy.this", "secret_arn"),
    ("aws_iam_user_policy.this", "user"), ("aws_iam_group_policy.this", "group")])
def test_a_resource_policy_moved_to_another_holder_shows_the_move_and_all_it_grants(address: str,
                                                                                    holder: str) -> None:
    result = review.review({"resource_changes": [change(address, ["update"], {holder: "old", "policy": policy(READ)},
                                                        {holder: "new", "policy": policy(READ)})]})
    assert [(g.kind, g.added) for g in result.access] == [
        (f"attached to another {holder}", ({holder: "new", "before": "old"},)),
        (catalogue.documents(address.split(".")[0])[0][1], (READ,))]


def test_a_load_balancer_permission_moved_to_another_function_is_access_gained() -> None:
    values = {"function_name": "pv", "action": "lambda:InvokeFunction",
              "principal": "elasticloadbalancing.amazonaws.com",
              "source_arn": "arn:tg", "source_account": None, "qualifier": "blue", "function_url_auth_type": None}
    result = review.review({"resource_changes": [change(
        "aws_lambda_permission.alb", ["update"], values, {**values, "function_name": "refunds"})]})
    assert [g.kind for g in result.access] == ["attached to another function_name", "lambda permission"]


def test_a_removed_permissions_boundary_is_shown_removed() -> None:
    boundary = "arn:aws:iam::123456789012:policy/boundary"
    result = review.review({"resource_changes": [change(
        "aws_iam_role.app", ["update"], {"permissions_boundary": boundary, "managed_policy_arns": []},
        {"permissions_boundary": None, "managed_policy_arns": []})]})
    [gain] = result.access
    assert gain.added == ({"managed_policy_arns": [], "permissions_boundary": f"removed (was \"{boundary}\")"},)


def test_brackets_in_a_resource_are_no_wildcard() -> None:
    """IAM wildcards are ``*`` and ``?`` only: ``[ab]`` in a policy is two brackets, not a set."""
    before = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::audit/[ab]"}
    after = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::audit/a"}
    assert gains(policy_update("aws_iam_role_policy.app", policy(before), policy(after))) == {
        "aws_iam_role_policy.app": ("policy", ({"Effect": "Allow", "Resource": ["arn:aws:s3:::audit/a"]},))}
    wide = {**before, "Resource": "arn:aws:s3:::audit/?"}
    assert gains(policy_update("aws_iam_role_policy.app", policy(wide), policy(after))) == {}
