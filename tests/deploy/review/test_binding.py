"""The plan binding: what a saved plan was made for, recorded at plan time, against what apply finds."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tfgen.deploy.review import binding
from tfgen.deploy.review.binding import Account, Binding

ACCOUNT = "123456789012"
OTHER = "111122223333"


def made(**changes: Any) -> Binding:
    base = Binding.of(env="dev", overrides=["backup.enabled=false"], account=Account(ACCOUNT),
                      plan_sha256="a" * 64, plan_json_sha256="b" * 64, rendered_digest="c" * 64,
                      tfgen_version="1.0.0")
    return dataclasses.replace(base, **changes)


def test_the_same_facts_are_no_difference() -> None:
    assert binding.differences(made(), made(), saved_json_sha256="b" * 64) == []


def test_a_recorded_binding_reads_back_as_it_was_written() -> None:
    assert binding.read(made().as_json()) == made()


def test_another_plan_file_is_refused() -> None:
    assert binding.differences(made(), made(plan_sha256="d" * 64), "b" * 64) == [
        f"plan/tfplan is not the file that was reviewed (sha256 {'d' * 12}, reviewed {'a' * 12}): "
        "it was replaced after the review"]


def test_a_different_show_of_the_plan_file_is_refused() -> None:
    assert binding.differences(made(), made(plan_json_sha256="e" * 64), "b" * 64) == [
        f"terraform show -json of the plan file is not the plan that was reviewed (sha256 {'e' * 12}, "
        f"reviewed {'b' * 12})"]


@pytest.mark.parametrize(("saved", "line"), [
    (None, "plan/plan.json, the reviewed plan, is missing"),
    ("f" * 64, f"plan/plan.json was changed after the review (sha256 {'f' * 12}, reviewed {'b' * 12})"),
])
def test_an_edited_or_missing_plan_json_is_refused(saved: str | None, line: str) -> None:
    assert binding.differences(made(), made(), saved) == [line]


def test_a_plan_of_another_environment_is_refused() -> None:
    assert binding.differences(made(), made(env="prod"), "b" * 64) == [
        "the plan was made for environment dev, not prod"]


def test_other_set_values_are_refused_and_secrets_are_not_shown() -> None:
    recorded = made(**_overrides(["provider.secret_key=hunter2", "backup.enabled=false"]))
    now = made(**_overrides(["provider.secret_key=other", "backup.enabled=false"]))
    assert recorded.as_json()["overrides"] == ["provider.secret_key=<redacted>", "backup.enabled=false"]
    assert "hunter2" not in str(recorded.as_json())
    assert binding.differences(recorded, now, "b" * 64) == [
        "the plan was made with --set provider.secret_key=<redacted> --set backup.enabled=false, and apply "
        "was given --set provider.secret_key=<redacted> --set backup.enabled=false (a value differs): "
        "apply with the same --set settings"]


def test_set_values_in_another_order_are_other_set_values() -> None:
    recorded = made(**_overrides(["a=1", "a=2"]))
    assert binding.differences(recorded, made(**_overrides(["a=2", "a=1"])), "b" * 64) == [
        "the plan was made with --set a=1 --set a=2, and apply was given --set a=2 --set a=1: "
        "apply with the same --set settings"]
    assert binding.differences(made(**_overrides([])), made(), "b" * 64) == [
        "the plan was made with no --set, and apply was given --set backup.enabled=false: "
        "apply with the same --set settings"]


def _overrides(pairs: list[str]) -> dict[str, Any]:
    sample = Binding.of("dev", pairs, Account(ACCOUNT), "a" * 64, "b" * 64, "c" * 64, "1.0.0")
    return {"overrides": sample.overrides, "overrides_sha256": sample.overrides_sha256}


def test_a_plan_of_another_account_is_refused() -> None:
    assert binding.differences(made(), made(account=Account(OTHER)), "b" * 64) == [
        f"the plan was made in AWS account {ACCOUNT}, and the credentials now are for account {OTHER}"]


@pytest.mark.parametrize(("recorded", "now", "line"), [
    (Account(None, "boto3 is not installed"), Account(ACCOUNT),
     "the AWS account the plan was made in is unknown (boto3 is not installed): tfgen cannot tell that "
     f"account {ACCOUNT} is the same; plan again with credentials tfgen can read"),
    (Account(ACCOUNT), Account(None, "NoCredentialsError: Unable to locate credentials"),
     f"the plan was made in AWS account {ACCOUNT}, and the account of the credentials now is unknown "
     "(NoCredentialsError: Unable to locate credentials)"),
    (Account(None, "boto3 is not installed"), Account(None, "boto3 is not installed"),
     "the AWS account the plan was made in is unknown (boto3 is not installed), and so is the account of "
     "the credentials now (boto3 is not installed): two unknown accounts are not known to be the same; "
     "plan again with credentials tfgen can read"),
])
def test_an_account_that_cannot_be_told_never_matches(recorded: Account, now: Account, line: str) -> None:
    assert binding.differences(made(account=recorded), made(account=now), "b" * 64) == [line]


def test_another_rendered_tree_and_another_tfgen_are_refused() -> None:
    assert binding.differences(made(), made(rendered_digest="9" * 64, tfgen_version="1.1.0"), "b" * 64) == [
        f"the rendered tree changed since the plan was made (plan of {'c' * 12}, now {'9' * 12})",
        "the plan was reviewed by tfgen 1.0.0, and this is tfgen 1.1.0"]


def test_every_difference_is_listed_at_once() -> None:
    assert len(binding.differences(made(), made(env="prod", plan_sha256="d" * 64, account=Account(OTHER)),
                                   None)) == 4


@pytest.mark.parametrize("document", [
    {},
    {"env": "dev", "rendered_digest": "c" * 64, "tfgen_version": "1.0.0"},  # a plan of an older tfgen
    {**made().as_json(), "format": 0},
    {**made().as_json(), "plan_sha256": None},
    {**made().as_json(), "overrides": "backup.enabled=false"},
    {**made().as_json(), "account": 123456789012},
    [],
])
def test_a_record_that_is_missing_a_field_or_malformed_is_unreadable(document: Any) -> None:
    with pytest.raises(ValueError, match="binding"):
        binding.read(document)


def test_the_plan_json_digest_does_not_depend_on_key_order_or_spacing() -> None:
    assert binding.json_digest({"a": 1, "b": [1, 2]}) == binding.json_digest({"b": [1, 2], "a": 1})
    assert binding.json_digest({"a": 1}) != binding.json_digest({"a": 2})


def test_the_readable_copy_of_the_record_matching_it_is_no_difference() -> None:
    assert binding.copy_differences(made(), made().as_json()) == []


@pytest.mark.parametrize(("copy", "line"), [
    (None, "plan/meta.json, the readable copy of the record of the review, is missing or not JSON"),
    ({**made().as_json(), "plan_sha256": "d" * 64},
     "plan/meta.json is not the record tfgen keeps of the reviewed plan: it was changed after the review"),
])
def test_a_readable_copy_that_differs_from_the_private_record_is_refused(copy: Any, line: str) -> None:
    assert binding.copy_differences(made(), copy) == [line]


@pytest.mark.parametrize("key", ["database.master_password", "password", "provider.secret_key", "api.token",
                                 "provider.aws_access_key", "tls.private_key", "x.client-secret", "db.SECRET",
                                 "providers[0].secret_key"])
def test_keys_naming_a_secret_are_redacted(key: str) -> None:
    assert made(**_overrides([f"{key}=hunter2"])).as_json()["overrides"] == [f"{key}=<redacted>"]


@pytest.mark.parametrize("key", ["network.private_subnets", "network.private", "lambda.token_ttl",
                                 "secrets.rotation_days", "database.password_rotation", "secretsmanager.enabled",
                                 "api.max_tokens"])
def test_keys_that_only_contain_a_secrets_name_are_shown(key: str) -> None:
    assert made(**_overrides([f"{key}=10.0.0.0/24"])).as_json()["overrides"] == [f"{key}=10.0.0.0/24"]
