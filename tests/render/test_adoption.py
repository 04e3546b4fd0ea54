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


INJECTED = ('aws_s3_bucket.this\n  id = "payment-audit-logs-dev"\n}\n\nresource "aws_iam_user" "x" {\n'
            '  name = "backdoor"\n}\nimport {\n  to = aws_s3_bucket.access_logs')


@pytest.mark.parametrize("key", [INJECTED, "aws_s3_bucket.this # x", 'aws_kms_key.this["s3"] ', "aws_s3_bucket",
                                 'aws_kms_key.this["a${b}"]', 'aws_kms_key.this["a"]["b"]', "module.x",
                                 "data.aws_iam_policy_document.x", 'aws_kms_key.this["a\\"b"]', "aws_kms_key.this[s3]"])
def test_a_record_key_that_is_not_a_resource_address_is_a_configuration_error(project: Path, key: str) -> None:
    where = project / "environments" / "adopt" / "dev.json"
    where.parent.mkdir()
    where.write_text(json.dumps({"imports": {key: "x", "aws_sns_topic.x": "arn"}, "credentials": "kept",
                                 "applied": False}, indent=2))
    with pytest.raises(ConfigError) as raised:
        adoption.read(project / "environments", "dev")
    assert raised.value.problems == [f"{where}: imports: {json.dumps(key)}: expected a resource address such as "
                                     'aws_kms_key.this["s3"] or module.net.aws_subnet.private[0]']


def test_addresses_of_resources_in_modules_and_instances_are_accepted(project: Path) -> None:
    imports = {"aws_s3_bucket.this": "b", 'aws_kms_key.this["s3"]': "k", "aws_eip.nat[0]": "e",
               'module.net["main"].aws_subnet.private["0"]': "s", "module.a.module.b.aws_vpc.this": "v",
               'aws_lambda_alias.this["payment_validation-blue"]': "a"}
    adoption.write(project / "environments", "dev", Adoption(imports))
    assert adoption.read(project / "environments", "dev") == Adoption(imports)


def test_an_injected_record_renders_nothing_and_exits_2(run: Run, project: Path) -> None:
    where = project / "environments" / "adopt" / "dev.json"
    where.parent.mkdir()
    where.write_text(json.dumps({"imports": {INJECTED: "payment-access-logs-dev"}, "credentials": "kept",
                                 "applied": False}))
    result = run("render", "dev")
    assert result.exit_code == 2
    assert result.stderr == (f"environments/adopt/dev.json: imports: {json.dumps(INJECTED)}: expected a resource "
                             'address such as aws_kms_key.this["s3"] or module.net.aws_subnet.private[0]\n')
    assert not (project / "build" / "dev").exists()
    with pytest.raises(ConfigError):  # and no caller can write it either
        adoption.imports_tf(Adoption({INJECTED: "payment-access-logs-dev"}))
