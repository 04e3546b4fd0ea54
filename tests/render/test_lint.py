"""The reference check of ``tfgen validate``: every reference in the output names something declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHIPPED_ENVS
from tests.stack import rendered
from tfgen.render import lint


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_reference_names_something_declared(env: str, tmp_path: Path) -> None:
    for path, data in rendered(env).files.items():
        if path.endswith(".tf"):
            (tmp_path / path).write_bytes(data)
    assert len(list(tmp_path.glob("*.tf"))) > 10
    assert lint.check(tmp_path) == []


def test_lint_finds_undeclared_references(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_vpc" "this" {\n  cidr_block = local.cidr\n}\n'
        'output "x" {\n  value = aws_subnet.missing.id\n  description = "aws_fake.not_a_ref"\n}\n')
    assert lint.check(tmp_path) == [
        f"{tmp_path / 'main.tf'}: reference to undeclared aws_subnet.missing",
        f"{tmp_path / 'main.tf'}: reference to undeclared local.cidr",
    ]


def test_lint_reads_interpolations_but_not_escaped_templates(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_vpc" "this" {\n  cidr_block = "10.0.0.0/16"\n'
        '  tags = {\n    Name = "vpc-${local.env}"\n    Note = "$${var.not_a_ref}"\n  }\n}\n')
    assert lint.check(tmp_path) == [f"{tmp_path / 'main.tf'}: reference to undeclared local.env"]
