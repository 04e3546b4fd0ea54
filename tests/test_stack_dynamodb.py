"""The DynamoDB section of SPEC.md: the transactions table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import ref, resource


def table(env: str) -> dict[str, Any]:
    return resource(env, "dynamodb.tf", "aws_dynamodb_table", "this")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_table_transactions_env_keyed_by_transaction_id_and_timestamp(env: str) -> None:
    body = table(env)
    assert body["name"] == f"transactions-{env}"
    assert (body["hash_key"], body["range_key"]) == ("transaction_id", "timestamp")
    assert body["attribute"] == [{"name": "transaction_id", "type": "S"}, {"name": "timestamp", "type": "N"},
                                 {"name": "user_id", "type": "S"}, {"name": "status", "type": "S"},
                                 {"name": "card_token", "type": "S"}, {"name": "merchant_user", "type": "S"}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_user_index_and_status_index_by_timestamp(env: str) -> None:
    indexes = {gsi["name"]: (gsi["hash_key"], gsi["range_key"], gsi["projection_type"],
                             gsi.get("non_key_attributes"))
               for gsi in table(env)["global_secondary_index"]}
    # Beyond the spec's two: fraud-detection reads a user's history with one merchant by that pair
    # (merchant_user) and needs only the status; the card-token index only counts a card's uses.
    assert indexes == {"user-index": ("user_id", "timestamp", "ALL", None),
                       "status-index": ("status", "timestamp", "ALL", None),
                       "merchant-user-index": ("merchant_user", "timestamp", "INCLUDE", ["status"]),
                       "card-token-index": ("card_token", "timestamp", "KEYS_ONLY", None)}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_pay_per_request(env: str) -> None:
    assert table(env)["billing_mode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_point_in_time_recovery(env: str) -> None:
    assert table(env)["point_in_time_recovery"] == [{"enabled": True}]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_server_side_encryption_with_the_dynamodb_key(env: str) -> None:
    assert table(env)["server_side_encryption"] == [
        {"enabled": True, "kms_key_arn": ref('aws_kms_key.this["dynamodb"].arn')}]


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_deletion_protection_in_prod(env: str, protected: bool) -> None:
    assert table(env)["deletion_protection_enabled"] is protected


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_idempotency_markers_expire_through_ttl_on_expires_at(env: str) -> None:
    assert table(env)["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
