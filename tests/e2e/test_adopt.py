"""Adopting a foreign deployment: a CDK for Terraform stack applied with plain terraform on
moto_server, brought under tfgen by ``tfgen adopt dev --state …``, then ``tfgen plan`` and
``tfgen apply``.

The foreign stack is tests/fixtures/adopt/cdk.tf.json (CDKTF's logical ids and hash suffixes;
tests/fixtures/adopt/cdktf_stack.py says how it was made), applied in a directory of its own with
the emulator's provider settings in an override file. Items are written to its transactions
table, objects to its audit bucket and a value to its database secret. Then, in file order:

    (a) a different database name (``--set database.database_name=ledger``): the adoption is
        refused, the replacement reported with the setting that avoids it, and no file changed;
    (b) the adoption with the settings that match the foreign stack (``storage.force_destroy``:
        importing a bucket leaves force_destroy null, and false keeps it); the first plan imports, deletes and
        replaces nothing that holds data and moves no traffic; the apply keeps the items, the
        objects and the secret's value; the re-plan is clean.

One emulator, one foreign apply and one tfgen apply: the plans after the foreign apply skip
terraform's refresh where nothing changed behind terraform's back.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_inputs, requires_terraform
from tests.fixtures.adopt import cdktf_stack
from tfgen.config.names import FUNCTION_KEYS, dashed
from tfgen.deploy import plans, terraform

from . import allowlist
from .harness import Run, emulated, progress, terraform_environment
from .provider import overrides
from .test_day2 import Stack

pytestmark = [pytest.mark.e2e, requires_terraform]

ENV = "dev"
TABLE = f"transactions-{ENV}"
BUCKET = f"payment-audit-logs-{ENV}"
SECRET = f"payment-db-credentials-{ENV}"
# What the foreign stack runs that tfgen's dev does not say: importing a bucket leaves force_destroy
# null (provider 5.100 does not read it; it is not an AWS setting), false keeps the bucket as it is,
# and dev's default is true.
MATCHING = ("storage.force_destroy=false",)
ITEMS = [{"transaction_id": {"S": f"txn-adopt-{n}"}, "timestamp": {"N": str(1700000000 + n)},
          "amount": {"N": str(10 * n)}} for n in range(3)]
OBJECTS = {f"audit/2025/01/0{n}/record.json": json.dumps({"n": n}).encode() for n in range(3)}
SECRET_VALUE = json.dumps({"username": "payments_admin", "password": "kept-across-the-adoption"})


class Foreign:
    """The foreign stack's directory and its terraform."""

    def __init__(self, directory: Path, run: Run) -> None:
        self.directory, self.run = directory, run

    def terraform(self, *args: str) -> None:
        self.run.require(args[0], self.run.terraform(*args, log_name=f"foreign-{args[0]}"), f"foreign-{args[0]}")

    def state(self, path: Path) -> Path:
        self.run.require("show", self.run.terraform("show", "-json", stdout_to=path, log_name="foreign-show"),
                         "foreign-show")
        return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The foreign stack applied on a fresh emulator, with data in it; tfgen's dev initialised with
    an empty state of its own."""
    root = copy_inputs(tmp_path_factory.mktemp("adopt"))
    say = progress(request, "e2e adopt")
    start = time.monotonic()
    with emulated(root, say) as endpoint:
        result = Stack(root, endpoint, [*overrides(endpoint), *MATCHING], say)
        try:
            result.render()
            result.terraform("init", "-input=false", "-no-color")
            _foreign(result, root / "logs")
            result.durations["setup"] = time.monotonic() - start
            yield result
        finally:
            say("durations: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.durations.items()))


def _foreign(stack: Stack, logs: Path) -> None:
    """Apply cdk.tf.json with plain terraform, write data into it, save its state."""
    directory = stack.root / "cdktf.out" / "stacks" / "payments"
    directory.mkdir(parents=True)
    shutil.copy(cdktf_stack.FIXTURE, directory / "cdk.tf.json")
    shutil.copytree(stack.out / ENV / "packages", directory / "packages")
    # The emulator's provider settings, as tfgen's render for the emulator writes them.
    provider = stack.root / "provider"
    provider.mkdir()
    shutil.copy(stack.out / ENV / "providers.tf", provider)
    settings = {"provider": cdktf_stack.synthesize(provider)["provider"]}
    (directory / "emulator_override.tf.json").write_text(json.dumps(settings, indent=2))
    start = time.monotonic()
    with terraform.environment() as base:
        foreign = Foreign(directory, Run(directory, logs, terraform_environment(base), stack.say))
        foreign.terraform("init", "-input=false", "-no-color")
        foreign.terraform("apply", "-auto-approve", "-input=false", "-no-color")
        for item in ITEMS:
            stack.client("dynamodb").put_item(TableName=TABLE, Item=item)
        for key, body in OBJECTS.items():
            stack.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
        stack.client("secretsmanager").put_secret_value(SecretId=SECRET, SecretString=SECRET_VALUE)
        foreign.state(stack.root / "foreign-state.json")
    stack.durations["foreign apply"] = time.monotonic() - start


def _adopt(stack: Stack, *extra: str, expect: int) -> dict[str, Any]:
    start = time.monotonic()
    _, stdout, _ = stack.tfgen("adopt", ENV, "--state", str(stack.root / "foreign-state.json"), "--out",
                               str(stack.out), "--format", "json", *stack.with_sets(extra), expect=expect)
    stack.durations["adopt"] = stack.durations.get("adopt", 0) + time.monotonic() - start
    report = json.loads(stdout)
    assert isinstance(report, dict)
    (stack.root / "logs" / f"adopt-{len(stack.durations)}.json").write_text(stdout)
    return report


def _data(stack: Stack) -> tuple[list[dict[str, Any]], dict[str, bytes], str]:
    dynamodb, s3 = stack.client("dynamodb"), stack.client("s3")
    items = [dynamodb.get_item(TableName=TABLE, Key={k: item[k] for k in ("transaction_id", "timestamp")},
                               ConsistentRead=True).get("Item") for item in ITEMS]
    objects = {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in OBJECTS}
    secret = stack.client("secretsmanager").get_secret_value(SecretId=SECRET)["SecretString"]
    return items, objects, str(secret)


def test_a_a_different_database_name_is_reported_with_its_setting_and_refused(stack: Stack) -> None:
    env_file = stack.root / "environments" / f"{ENV}.yaml"
    before = env_file.read_bytes()
    report = _adopt(stack, "database.database_name=ledger", expect=1)
    assert not report["adopted"]
    [cluster] = [r for r in report["replaces"] if r["address"] == "aws_rds_cluster.this"]
    assert cluster["settings"] == ["database_name 'payments' -> 'ledger': set database.database_name: "
                                   "'payments' to keep it"]
    assert any(line.startswith("aws_rds_cluster.this") for line in report["refusals"]), report["refusals"]
    # The aliases would be pinned to what the foreign stack serves (each function's first version);
    # refused, the adoption leaves the environment file and the record as they were.
    assert sorted(report["pinned"]) == sorted(f"lambda.functions.{key}.traffic.{colour}_version: latest -> 1"
                                              for key in FUNCTION_KEYS for colour in ("blue", "green"))
    assert env_file.read_bytes() == before
    assert not (stack.root / "environments" / "adopt" / f"{ENV}.json").exists()
    assert _data(stack) == (ITEMS, OBJECTS, SECRET_VALUE)


def test_b_the_adoption_keeps_the_data_the_secret_and_the_traffic(stack: Stack) -> None:
    live = stack.live()
    report = _adopt(stack, expect=0)
    assert report["adopted"] and report["refusals"] == [] and report["replaces"] == []
    assert len(report["imports"]) > 80
    assert report["credentials"] == "kept"
    # The old side: every adopted object and every old attachment tfgen registers again leaves the
    # old state; no removed block keeps an instance key.
    old_state = report["old_state"]
    assert len(old_state["state_rm"]) == len(report["imports"]) + len(old_state["superseded"])
    assert len(old_state["superseded"]) == len(report["recreated"])
    assert old_state["removed_blocks"] and not [b for b in old_state["removed_blocks"] if "[" in b]
    # Every update on import says what differs (a value known only at apply is said so).
    for update in report["updates_in_place"]:
        stack.say(f"updated in place: {update['address']}: {'; '.join(update['attributes'])}")
    assert not [u for u in report["updates_in_place"] if any(a.startswith("no attribute differs")
                                                             for a in u["attributes"])], report["updates_in_place"]

    # The first plan, as the person runs it after the adoption: imports, and nothing that holds data goes.
    stack.render()
    review = stack.plan()
    assert (review["refusals"], review["data_loss"], review["credentials"], review["credential_changes"]) == (
        [], [], [], [])
    assert len(review["imports"]) == len(report["imports"])
    shown = json.loads((stack.out / ENV / plans.SHOW_FILE).read_text())
    deleted = [rc["address"] for rc in shown["resource_changes"] if "delete" in rc["change"]["actions"]]
    assert deleted == [], deleted
    assert not [a for table in review["traffic"] for a in table["aliases"]
                if a["moves"] or a["weight_before"] != a["weight_after"]]
    stack.apply()

    assert _data(stack) == (ITEMS, OBJECTS, SECRET_VALUE)
    assert stack.live() == live
    for key in FUNCTION_KEYS:
        assert set(stack.aliases(f"{dashed(key)}-{ENV}")) == {"blue", "green"}

    # The import blocks leave the tree with the next render; the re-plan is clean.
    stack.render()
    assert not (stack.out / ENV / "imports.tf").exists()
    review = stack.plan()
    verdict = allowlist.check(json.loads((stack.out / ENV / plans.SHOW_FILE).read_text()))
    assert verdict.problems == [], verdict.problems
    assert review["refusals"] == []
