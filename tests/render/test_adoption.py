"""The adoption record renders: import blocks until applied, credentials kept unless rotated."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest

from tests.conftest import Run
from tfgen.errors import ConfigError
from tfgen.render import adoption
from tfgen.render.adoption import Adoption

IMPORTS = {"aws_dynamodb_table.this": "transactions-dev", 'aws_kms_key.this["s3"]': "k-1"}


def _render(run: Run, project: Path, record: Adoption | None) -> Path:
    adoption.write(project / "environments", "dev", record)
    result = run("render", "dev")
    assert result.exit_code == 0, result.output
    return project / "build" / "dev"


def test_imports_are_rendered_until_applied_and_listed_in_the_manifest(run: Run, project: Path) -> None:
    out = _render(run, project, Adoption(IMPORTS))
    blocks = hcl2.loads((out / "imports.tf").read_text())["import"]
    assert [(b["to"], b["id"]) for b in blocks] == [("${aws_dynamodb_table.this}", '"transactions-dev"'),
                                                    ('${aws_kms_key.this["s3"]}', '"k-1"')]
    assert "imports.tf" in json.loads((out / ".tfgen-manifest.json").read_text())["files"]
    out = _render(run, project, Adoption(IMPORTS, applied=True))
    assert not (out / "imports.tf").exists()
    assert "ignore_changes = [rotate_immediately]" in (out / "secrets.tf").read_text()


def test_kept_credentials_leave_the_password_secret_and_rotation_alone(run: Run, project: Path) -> None:
    out = _render(run, project, None)
    assert "ignore_changes" not in (out / "secrets.tf").read_text() + (out / "database.tf").read_text()
    out = _render(run, project, Adoption(IMPORTS))
    secrets, database = (out / "secrets.tf").read_text(), (out / "database.tf").read_text()
    assert "ignore_changes = [secret_string, secret_string_wo_version]" in secrets
    assert "ignore_changes = [rotate_immediately]" in secrets
    assert "ignore_changes = [master_password_wo_version]" in database
    out = _render(run, project, Adoption(IMPORTS, credentials=adoption.ROTATED))
    assert "ignore_changes" not in (out / "secrets.tf").read_text() + (out / "database.tf").read_text()
    assert (out / "imports.tf").is_file()


def test_a_changed_record_makes_the_output_stale(run: Run, project: Path) -> None:
    _render(run, project, Adoption(IMPORTS))
    adoption.write(project / "environments", "dev", Adoption(IMPORTS, applied=True))
    result = run("check", "dev")
    assert result.exit_code != 0 and "imports.tf" in result.output


@pytest.mark.parametrize("text", ["[]", '{"imports": {}, "credentials": "maybe", "applied": false}',
                                  '{"imports": {"a": 1}, "credentials": "kept", "applied": false}', "{"])
def test_a_malformed_record_is_refused(project: Path, text: str) -> None:
    (project / "environments" / "adopt").mkdir()
    (project / "environments" / "adopt" / "dev.json").write_text(text)
    with pytest.raises(ConfigError, match=r"adopt/dev\.json"):
        adoption.read(project / "environments", "dev")
