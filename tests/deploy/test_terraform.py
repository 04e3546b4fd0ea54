"""The real terraform binary and AWS provider judge the rendered output; the CLI configuration
that points terraform at the provider mirror."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHIPPED_ENVS, requires_terraform
from tfgen.deploy import terraform
from tfgen.project import Project


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project(ROOT / "environments", ROOT / "templates", tmp_path_factory.mktemp("build"), ROOT / "lambdas")
    list(project.write(list(SHIPPED_ENVS)))
    return project


@pytest.mark.terraform
@requires_terraform
def test_the_provider_comes_from_a_configured_mirror() -> None:
    assert os.environ.get(terraform.PLUGIN_DIR_VAR), (
        "set TFGEN_PLUGIN_DIR to the local provider mirror (make test finds it) so terraform init "
        "does not try the registry")


@pytest.mark.terraform
@requires_terraform
@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_terraform_fmt_and_validate_accept_the_output(env: str, rendered: Project) -> None:
    assert terraform.validate(rendered.target(env)) == []


@pytest.mark.terraform
@requires_terraform
def test_validate_reports_what_terraform_rejects(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_vpc" "this" {\n  cidr_block = 42\n  no_such_argument = true\n}\n')
    problems = terraform.validate(tmp_path)
    assert len(problems) == 2
    assert "terraform fmt -check: not canonical" in problems[0]
    assert 'An argument named "no_such_argument" is not expected here' in problems[1]


def test_cli_config_installs_only_from_the_mirror() -> None:
    text = terraform.cli_config('/m"irror', "/cache")
    assert 'path = "/m\\"irror"' in text and 'plugin_cache_dir = "/cache"' in text
    assert "direct" not in text
