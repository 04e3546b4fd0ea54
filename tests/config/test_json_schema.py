"""The JSON Schema of an environment file: generated from the model, checked in, checked by
``tfgen check``, accepting the shipped files and rejecting the hostile corpus's type and
unknown-key cases at the key tfgen reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, Run
from tests.test_hostile import CASES, CORPUS
from tfgen.config.json_schema import MODELINE, environment_schema, schema_text

SCHEMA = json.loads((ROOT / "environments" / "schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SHIPPED_FILES = sorted(p.name for p in (ROOT / "environments").glob("*.yaml"))
REJECTED = sorted(name for name in CASES if name.startswith(("type_", "unknown_")) or name == "defaults_unknown_key")


def test_the_checked_in_schema_is_what_the_model_generates() -> None:
    assert (ROOT / "environments" / "schema.json").read_text(encoding="utf-8") == schema_text()
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_a_layer_requires_no_key_and_refuses_unknown_ones() -> None:
    schema = environment_schema()
    assert "required" not in json.dumps(schema)
    assert VALIDATOR.is_valid({})
    assert schema["additionalProperties"] is False
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values() if "properties" in d)


@pytest.mark.parametrize("name", SHIPPED_FILES)
def test_every_shipped_file_is_valid_and_points_at_the_schema(name: str) -> None:
    text = (ROOT / "environments" / name).read_text(encoding="utf-8")
    assert MODELINE.match(text.splitlines()[0]).group(1) == "schema.json"  # type: ignore[union-attr]
    assert list(VALIDATOR.iter_errors(yaml.safe_load(text))) == []


def _reported_paths(case: dict[str, Any]) -> list[str]:
    """The key paths tfgen's messages name: ``FILE:LINE:COL: PATH: …``."""
    return [line.split(": ")[1] for line in case["expect"]]


def _case_document(name: str) -> Any:
    case = CASES[name]
    if name == "defaults_unknown_key":
        text = (ROOT / "environments" / "defaults.yaml").read_text(encoding="utf-8") + case["defaults"][0]["append"]
    else:
        text = (CORPUS / case.get("file", f"{name}.yaml")).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@pytest.mark.parametrize("name", REJECTED)
def test_the_hostile_type_and_unknown_key_cases_are_rejected_where_tfgen_reports_them(name: str) -> None:
    errors = list(VALIDATOR.iter_errors(_case_document(name)))
    assert errors, f"{name}: accepted"
    found = set()
    for error in errors:
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = error.message.split("'")[1]
            found.add(f"{path}.{unknown}" if path else unknown)
        else:
            found.add(path)
    assert set(_reported_paths(CASES[name])) <= found, (name, found)


def test_the_rejected_cases_cover_both_kinds() -> None:
    assert len([n for n in REJECTED if n.startswith("type_")]) >= 10
    assert len([n for n in REJECTED if n.startswith("unknown_")]) >= 5


def test_check_fails_when_the_checked_in_schema_differs_from_the_model(project: Path, run: Run) -> None:
    assert run("render", "--all").exit_code == 0
    assert run("check").exit_code == 0
    schema_file = project / "environments" / "schema.json"
    schema_file.write_text(schema_file.read_text().replace('"maximum": 10240', '"maximum": 9999'))
    result = run("check")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "environments/schema.json: differs from the configuration model: "
        "run `tfgen schema --output environments/schema.json`"]
    written = run("schema", "--output", "environments/schema.json")
    assert (written.exit_code, written.stderr) == (0, "environments/schema.json: JSON Schema of an environment "
                                                     "file written\n")
    assert run("check").exit_code == 0


def test_a_verified_schema_is_remembered_for_this_tfgen_only(project: Path, run: Run, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An unchanged check need not build the model to know the schema matches it; another tfgen
    (its sources or libraries changed) checks again."""
    from tfgen import inputs
    from tfgen.config import json_schema as schema_export

    monkeypatch.setenv("TFGEN_CACHE_DIR", str(tmp_path / "cache"))
    assert run("render", "--all").exit_code == 0
    assert run("check").exit_code == 0
    monkeypatch.setattr(schema_export, "schema_text", lambda: "{}\n")  # what another model would generate
    assert run("check").exit_code == 0
    monkeypatch.setattr(inputs, "tool_digest", lambda: "another tfgen")
    result = run("check")
    assert result.exit_code == 1 and "differs from the configuration model" in result.stderr


def test_check_fails_when_a_file_names_a_schema_that_is_missing(project: Path, run: Run) -> None:
    assert run("render", "--all").exit_code == 0
    (project / "environments" / "schema.json").unlink()
    result = run("check")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "environments/schema.json: missing, named by the first line of defaults.yaml, dev.yaml, prod.yaml, "
        "staging.yaml: run `tfgen schema --output environments/schema.json`"]


def test_a_project_without_a_schema_or_a_modeline_passes_check(project: Path, run: Run) -> None:
    (project / "environments" / "schema.json").unlink()
    for path in (project / "environments").glob("*.yaml"):
        path.write_text("".join(path.read_text().splitlines(keepends=True)[1:]))
    assert run("render", "--all").exit_code == 0
    assert run("check").exit_code == 0


def test_schema_prints_to_stdout(run: Run) -> None:
    result = run("schema")
    assert (result.exit_code, result.stdout) == (0, schema_text())
