"""Shared fixtures: a private copy of the project's inputs, the CLI runner, golden-file updates."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tfgen import cli as tfgen_cli

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_ENVS = ("dev", "prod", "staging")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/golden/ from a fresh render instead of comparing.")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of environments/, templates/ and lambdas/ to change freely; output goes to build/."""
    for name in ("environments", "templates", "lambdas"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp_path / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tmp_path


@pytest.fixture
def run(project: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run tfgen in-process inside the project copy; returns click's Result with the exit code."""
    monkeypatch.chdir(project)

    def invoke(*args: str) -> Result:
        runner = CliRunner()
        with runner.isolation() as (out, err, _):
            code = tfgen_cli.main(list(args))
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        return Result(runner=runner, stdout_bytes=stdout.encode(), stderr_bytes=stderr.encode(),
                      output_bytes=(stdout + stderr).encode(), return_value=None, exit_code=code,
                      exception=None)

    return invoke


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and mtime, to prove nothing was touched."""
    if not directory.exists():
        return {}
    return {p.relative_to(directory).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def terraform_available() -> bool:
    return shutil.which("terraform") is not None or bool(os.environ.get("TFGEN_TERRAFORM"))


requires_terraform = pytest.mark.skipif(not terraform_available(),
                                        reason="terraform binary not on PATH")
