"""A project's operations over many environments: memory stays flat in their number."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.stack import rendered
from tfgen import inputs
from tfgen.integrations.affected import affected
from tfgen.project import Project

# What one more environment may add to the peak of a run over all of them (runs of more than the
# eight parsed YAML files tfgen caches): its name and summary (about 100 bytes) and a share of the
# peak's noise (tens of KB whatever the count); far below one validated model (about 10 KB
# pickled, 60 KB as objects) or one environment's rendered files (about 110 KB).
PER_ENVIRONMENT = 2048
# The peak of a fresh render also holds one environment's garbage awaiting the collector, which
# varies from run to run (up to about 140 KB measured): the fresh-render test compares runs 64
# environments apart and allows that once, still far below 64 validated models (about 3.8 MB).
FRESH_NOISE = 256 * 1024


def many(root: Path, count: int) -> Project:
    """``count`` copies of the shipped dev environment, sharing the shipped templates and lambdas."""
    env_dir = root / f"envs{count}"
    env_dir.mkdir()
    shutil.copy(ROOT / "environments" / inputs.DEFAULTS_FILE, env_dir)
    dev = (ROOT / "environments" / "dev.yaml").read_text()
    for index in range(count):
        (env_dir / f"e{index:03d}.yaml").write_text(dev)
    return Project(env_dir=env_dir, template_dir=ROOT / "templates", out_dir=root / f"out{count}",
                   lambda_dir=ROOT / "lambdas")


def peak(work: Callable[[], object]) -> int:
    """The peak of memory traced while ``work`` runs, above what was allocated before it."""
    gc.collect()  # garbage of earlier work is no part of this run's peak
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def write_all(project: Project) -> None:
    """``tfgen render --all`` without the echo: each result looked at, then dropped."""
    for result in project.write(project.names((), True)):
        assert not result.removed


def test_what_render_writes_is_a_fresh_render_of_the_validated_model(tmp_path: Path) -> None:
    """The model each environment was validated into waits on disk, pickled, until it is rendered:
    what is written is what rendering the environment straight after loading it gives."""
    project = Project(env_dir=ROOT / "environments", template_dir=ROOT / "templates", out_dir=tmp_path,
                      lambda_dir=ROOT / "lambdas")
    [result] = project.write(["prod"])
    expected = rendered("prod").files
    assert sorted(result.written) == sorted(expected)
    assert {path: (tmp_path / "prod" / path).read_bytes() for path in expected} == expected


def test_rendering_keeps_nothing_per_environment(tmp_path: Path) -> None:
    few, more = many(tmp_path, 10), many(tmp_path, 74)
    write_all(many(tmp_path, 9))  # templates compiled, packages built, caches filled
    small = peak(lambda: write_all(few))
    grown = peak(lambda: write_all(more)) - small
    assert grown < FRESH_NOISE + PER_ENVIRONMENT * 64, f"{grown} bytes more for 64 more environments"



def test_an_unchanged_render_keeps_nothing_per_environment_but_its_summary(tmp_path: Path) -> None:
    few, more = many(tmp_path, 10), many(tmp_path, 42)
    for project in (few, more, few):  # the last run fills the caches of the unchanged path
        write_all(project)
    small = peak(lambda: write_all(few))
    grown = peak(lambda: write_all(more)) - small
    assert grown < PER_ENVIRONMENT * 32, f"{grown} bytes more for 32 more environments"



def test_an_unchanged_render_lists_the_output_root_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a write was interrupted beside each environment is read from one listing, not one per
    environment (which grows with the square of their number: 39 s of CPU for 10 000)."""
    project = many(tmp_path, 5)
    write_all(project)
    listed: list[Path] = []
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(Path(path)) or listdir(path))
    results = list(project.write(project.names((), True)))
    assert [len(result.written) for result in results] == [0] * 5
    assert listed.count(project.out_dir) == 1


def committed(root: Path, count: int) -> Project:
    """``count`` copies of dev in a git repository of their own, with a one-line defaults edit that
    every one of them inherits (so each is affected and listed)."""
    project = many(root, count)
    for name in ("templates", "lambdas"):
        shutil.copytree(ROOT / name, project.env_dir / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git = ["git", "-C", str(project.env_dir), "-c", "user.email=ci@example.com", "-c", "user.name=CI"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "inputs"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    defaults = project.env_dir / inputs.DEFAULTS_FILE
    defaults.write_text(defaults.read_text().replace("  CostCenter: payments\n", "  CostCenter: payments-eu\n", 1))
    return Project(env_dir=project.env_dir, template_dir=project.env_dir / "templates", out_dir=project.out_dir,
                   lambda_dir=project.env_dir / "lambdas")


def test_affected_keeps_nothing_per_environment_but_its_change(tmp_path: Path) -> None:
    """In this process (fewer environments than it forks workers for), with every one affected: not
    the revision's YAML of each (1.7 KB here), nor a list of file names per change."""
    few, more = committed(tmp_path, 10), committed(tmp_path, 58)
    assert len(affected(committed(tmp_path, 9), "HEAD").changes) == 9
    small = peak(lambda: affected(few, "HEAD"))
    grown = peak(lambda: affected(more, "HEAD")) - small
    assert grown < 1024 * 48, f"{grown} bytes more for 48 more environments"
