"""Shared fixtures: a private copy of the project's inputs, the CLI runner, golden-file updates;
and the one hypothesis profile every property test runs under."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from tfgen.cli import main as tfgen_cli
from tfgen.deploy import terraform

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_ENVS = ("dev", "prod", "staging")
INPUTS = ("environments", "templates", "lambdas")

Run = Callable[..., Result]

# Deterministic for CI: the same examples on every run, no example database, no deadline.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.load_profile("deterministic")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/golden/ from a fresh render instead of comparing.")


# The end-to-end modules that deploy a stack on an emulator of their own, longest first.
DEPLOYING = ("tests/e2e/test_day2.py", "tests/e2e/test_release.py", "tests/e2e/test_adopt.py",
             "tests/e2e/test_apply.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that deploy a stack first, longest first, then the other end-to-end modules,
    then the rest: under pytest-xdist (--dist loadfile, one module per worker in collection
    order) each deploying module starts at once on a worker of its own."""
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        return DEPLOYING.index(path) if path in DEPLOYING else len(DEPLOYING) + (not path.startswith("tests/e2e/"))

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tfgen's state directory (the private records of saved plans), never the real home's."""
    path = tmp_path_factory.mktemp("tfgen-state") / "state"
    monkeypatch.setenv("TFGEN_STATE_DIR", str(path))
    return path


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def copy_inputs(dest: Path) -> Path:
    """A copy of the project's environments/, templates/ and lambdas/ in ``dest``."""
    for name in INPUTS:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of environments/, templates/ and lambdas/ to change freely; output goes to build/."""
    return copy_inputs(tmp_path)


@pytest.fixture
def run(project: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
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


def _files(directory: Path) -> list[tuple[str, Path]]:
    return [(p.relative_to(directory).as_posix(), p) for p in sorted(directory.rglob("*")) if p.is_file()]


def files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, with its bytes."""
    return {name: path.read_bytes() for name, path in _files(directory)}


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and mtime, to prove nothing was touched."""
    if not directory.exists():
        return {}
    return {name: (path.read_bytes(), path.stat().st_mtime_ns) for name, path in _files(directory)}


requires_terraform = pytest.mark.skipif(terraform.binary() is None, reason="terraform binary not on PATH")
