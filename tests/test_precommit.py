"""The pre-commit hooks, run by pre-commit itself in scratch repositories: the published hooks
through ``pre-commit try-repo`` against a consumer repository, and this repository's own
configuration in a scratch clone of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_inputs, requires_terraform

BIN = Path(sys.executable).parent


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=ci@example.com", "-c", "user.name=CI", *args],
                   check=True, capture_output=True)


def commit_all(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "snapshot")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("precommit")


@pytest.fixture(scope="module")
def clone(scratch: Path) -> Path:
    """A scratch clone of this repository as it is now, uncommitted changes included."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout.decode().split("\0")
    dest = scratch / "tfgen"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git(dest, "init", "-q")
    commit_all(dest)
    return dest


def pre_commit(cwd: Path, scratch: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(scratch / "pre-commit-home"), "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "pre-commit"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)


@pytest.fixture
def consumer(scratch: Path, tmp_path: Path) -> Path:
    """A repository that uses tfgen: its inputs and the rendered build/ committed together."""
    repo = copy_inputs(tmp_path / "consumer")
    subprocess.run([str(BIN / "tfgen"), "render", "--all"], cwd=repo, check=True, capture_output=True)
    git(repo, "init", "-q")
    commit_all(repo)
    return repo


def test_tfgen_check_passes_on_current_output_and_fails_on_a_hand_edit(clone: Path, scratch: Path,
                                                                      consumer: Path) -> None:
    done = pre_commit(consumer, scratch, "try-repo", str(clone), "tfgen-check", "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tfgen check" in done.stdout and "Passed" in done.stdout
    (consumer / "build" / "prod" / "kms.tf").write_text("# edited\n")
    done = pre_commit(consumer, scratch, "try-repo", str(clone), "tfgen-check", "--all-files")
    assert done.returncode == 1
    assert "build/prod/kms.tf: edited by hand since tfgen wrote it" in done.stdout


def test_tfgen_render_rewrites_build_then_check_passes(clone: Path, scratch: Path, consumer: Path) -> None:
    defaults = consumer / "environments" / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("  CostCenter: payments\n", "  CostCenter: payments-eu\n"))
    git(consumer, "add", "environments/defaults.yaml")
    assert pre_commit(consumer, scratch, "try-repo", str(clone), "tfgen-check", "--all-files").returncode == 1
    done = pre_commit(consumer, scratch, "try-repo", str(clone), "tfgen-render", "--all-files")
    assert done.returncode == 1 and "files were modified by this hook" in done.stdout
    assert "payments-eu" in (consumer / "build" / "dev" / "providers.tf").read_text()
    done = pre_commit(consumer, scratch, "try-repo", str(clone), "tfgen-check", "--all-files")
    assert done.returncode == 0, done.stdout


@requires_terraform
def test_this_repositorys_hooks_pass_on_a_clean_clone_and_catch_a_schema_left_behind(clone: Path,
                                                                                    scratch: Path) -> None:
    subprocess.run([str(BIN / "tfgen"), "render", "--all"], cwd=clone, check=True, capture_output=True)
    done = pre_commit(clone, scratch, "run", "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    for hook in ("ruff", "mypy --strict", "tfgen check", "terraform fmt on the rendered output"):
        assert f"\n{hook}" in f"\n{done.stdout}", hook
    schema = clone / "environments" / "schema.json"
    original = schema.read_text()
    try:
        schema.write_text(original.replace('"maximum": 10240', '"maximum": 9999'))
        done = pre_commit(clone, scratch, "run", "tfgen-check", "--all-files")
        assert done.returncode == 1
        assert "environments/schema.json: differs from the configuration model" in done.stdout
    finally:
        schema.write_text(original)
