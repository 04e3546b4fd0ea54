"""``--format json``: every document validates against its published schema in docs/json/, and
the exit status says the same as ``ok``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT, SHIPPED_ENVS, Run
from tfgen.deploy import terraform

SCHEMAS = ROOT / "docs" / "json"


def document(result: Any, schema: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator(json.loads((SCHEMAS / schema).read_text())).validate(doc)
    return doc


def test_every_published_schema_is_a_valid_schema() -> None:
    names = sorted(p.name for p in SCHEMAS.glob("*.schema.json"))
    assert names == ["affected.schema.json", "check.schema.json", "drift.schema.json", "envs.schema.json",
                     "github-matrix.schema.json", "traffic.schema.json", "validate.schema.json"]
    for name in names:
        jsonschema.Draft202012Validator.check_schema(json.loads((SCHEMAS / name).read_text()))


def test_envs(run: Run) -> None:
    result = run("envs", "--format", "json")
    assert result.exit_code == 0
    doc = document(result, "envs.schema.json")
    assert [env["name"] for env in doc["environments"]] == list(SHIPPED_ENVS)
    dev = doc["environments"][0]
    assert (dev["nat_gateways"], dev["aurora_readers"], dev["deletion_protection"]) == (1, 0, False)
    assert {env["name"]: env["nat_gateways"] for env in doc["environments"]} == {"dev": 1, "prod": 3, "staging": 3}
    assert run("envs").stdout.startswith("ENV ")  # text stays the default


def test_check_current_and_stale(project: Path, run: Run) -> None:
    assert run("render", "--all").exit_code == 0
    result = run("check", "--format", "json")
    assert result.exit_code == 0
    assert document(result, "check.schema.json")["ok"] is True
    (project / "build" / "dev" / "kms.tf").write_text("# edited\n")
    result = run("check", "--format", "json")
    assert (result.exit_code, result.stderr) == (1, "")
    doc = document(result, "check.schema.json")
    assert doc["ok"] is False
    assert doc["environments"][0] == {"name": "dev", "current": False,
                                      "problems": ["build/dev/kms.tf: edited by hand since tfgen wrote it"]}
    assert [env["current"] for env in doc["environments"][1:]] == [True, True]


def test_check_reports_schema_drift(project: Path, run: Run) -> None:
    assert run("render", "--all").exit_code == 0
    (project / "environments" / "schema.json").write_text("{}\n")
    result = run("check", "--format", "json")
    assert result.exit_code == 1
    doc = document(result, "check.schema.json")
    assert doc["ok"] is False and all(env["current"] for env in doc["environments"])
    assert doc["schema_problems"] == ["environments/schema.json: differs from the configuration model: "
                                      "run `tfgen schema --output environments/schema.json`"]


def test_validate_without_output(run: Run) -> None:
    result = run("validate", "--format", "json", "dev")
    assert result.exit_code == 1
    assert document(result, "validate.schema.json")["environments"] == [
        {"name": "dev", "ok": False, "checks": [], "problems": ["build/dev: nothing rendered: run `tfgen render dev`"]}]


def test_validate_parse_and_references_only(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terraform, "binary", lambda: None)
    assert run("render", "dev").exit_code == 0
    result = run("validate", "--format", "json", "dev")
    assert result.exit_code == 0
    assert document(result, "validate.schema.json") == {
        "ok": True, "terraform": False,
        "environments": [{"name": "dev", "ok": True, "checks": ["parse", "references"], "problems": []}]}


def test_traffic_view(run: Run) -> None:
    result = run("traffic", "--format", "json", "prod")
    assert result.exit_code == 0
    doc = document(result, "traffic.schema.json")
    assert (doc["environment"], doc["output"], doc["target"]) == ("prod", "missing", "build/prod")
    assert sorted(doc["functions"]) == ["fraud_detection", "payment_validation", "transaction_processing"]
    assert run("render", "prod").exit_code == 0
    assert document(run("traffic", "--format", "json", "prod"), "traffic.schema.json")["output"] == "current"
