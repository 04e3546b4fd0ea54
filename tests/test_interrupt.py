"""Atomicity under interruption: a render killed at any point leaves every environment directory
holding the complete old tree or the complete new tree, never a mix; the next run cleans up.

``tfgen render --all`` runs as a real subprocess in a private copy of the project and is sent
SIGKILL, SIGTERM or SIGINT. The kill points are spread over the run as measured first: a few
while Python is still starting and loading configuration, the rest at graded delays after the
first staging directory appears, which is when the output is being written.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.conftest import ROOT, SHIPPED_ENVS, copy_inputs
from tests.conftest import files as all_files
from tfgen.render.lock import LOCK_FILE
from tfgen.render.templates import cache_dir

ITERATIONS = 15
EARLY = 3  # iterations killed before anything is written
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
_LEFTOVER = re.compile(rf"^\.({'|'.join(SHIPPED_ENVS)})\.tfgen-(tmp|old)-")


def files(directory: Path) -> dict[str, Any]:
    """The tree's files, without the environment's lock file (a render holds it while it replaces a
    tree, and it is no output)."""
    return {name: data for name, data in all_files(directory).items() if name != LOCK_FILE}


def render_command(out: Path) -> list[str]:
    return [sys.executable, "-m", "tfgen", "render", "--all", "--out", str(out)]


def environ(project: Path) -> dict[str, str]:
    """The subprocess environment: this checkout's tfgen, and a package cache of the project's own."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "TFGEN_CACHE_DIR": str(project / "cache")}


def render(project: Path, out: Path) -> None:
    result = subprocess.run(render_command(out), cwd=project, env=environ(project), capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr


def make_new(project: Path) -> None:
    """Change configuration and a function's source so the new tree differs in .tf files, the
    manifest and the packages of every environment."""
    defaults = project / "environments" / "defaults.yaml"
    text, count = re.subn(r"(?m)^(  deletion_window_days:) \d+", r"\1 29", defaults.read_text())
    assert count == 1, "defaults.yaml: expected one kms deletion_window_days line"
    defaults.write_text(text)
    source = sorted((project / "lambdas" / "common").rglob("*.py"))[0]
    source.write_text(source.read_text() + "\n# changed by tests/test_interrupt.py\n")


def wait_for_staging(process: subprocess.Popen[Any], out: Path, limit: float) -> float | None:
    """Seconds until the first staging directory appears in ``out`` (None if the run ends first)."""
    start = time.monotonic()
    while process.poll() is None and time.monotonic() - start < limit:
        if out.is_dir() and any(".tfgen-tmp-" in name for name in os.listdir(out)):
            return time.monotonic() - start
        time.sleep(0.0005)
    return None


def measure(project: Path, out: Path, old: Path) -> tuple[float, float]:
    """Seconds from start to the first staging directory, and to the last environment written
    (the CLI prints a line as each one is done), of a render over the old tree."""
    samples = []
    for _ in range(2):  # the first run also warms the file cache
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(old, out, symlinks=True)
        start = time.monotonic()
        process = subprocess.Popen(render_command(out), cwd=project, env=environ(project),
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        first = wait_for_staging(process, out, 60)
        assert process.stdout is not None
        done = [time.monotonic() - start for _ in process.stdout]
        assert process.wait(timeout=120) == 0 and len(done) == len(SHIPPED_ENVS)
        assert first is not None, "no staging directory seen: nothing to interrupt"
        samples.append((first, done[-1]))
    return samples[-1]


class Renders(NamedTuple):
    """A project copy in its new state, the output root of a complete old render, and each
    environment's files in the complete old and new renders."""

    project: Path
    old: Path
    old_files: dict[str, dict[str, bytes]]
    new_files: dict[str, dict[str, bytes]]


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Renders:
    project = copy_inputs(tmp_path_factory.mktemp("interrupt"))
    # Killed runs must not touch the user's package cache; packages with vendored requirements
    # are seeded from it so that pip does not run (the others are zipped again, which is quick).
    (project / "cache" / "packages").mkdir(parents=True)
    for cached in cache_dir().glob("*.zip"):
        if (project / "lambdas" / cached.name.rpartition("-")[0] / "requirements.txt").is_file():
            shutil.copy2(cached, project / "cache" / "packages" / cached.name)
    render(project, project / "old")
    make_new(project)
    render(project, project / "new")
    old_files = {env: files(project / "old" / env) for env in SHIPPED_ENVS}
    new_files = {env: files(project / "new" / env) for env in SHIPPED_ENVS}
    for env in SHIPPED_ENVS:
        old, new = old_files[env], new_files[env]
        changed = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
        assert {"kms.tf", ".tfgen-manifest.json"} <= changed and any(p.endswith(".zip") for p in changed)
    return Renders(project, project / "old", old_files, new_files)


def state_after_kill(out: Path, renders: Renders, had_old: bool) -> tuple[dict[str, str], list[str]]:
    """Per environment, "old", "new" or "absent" (only where there was no old tree); and the leftovers.

    A directory holding anything else fails the test here."""
    entries = sorted(os.listdir(out)) if out.is_dir() else []
    leftovers = [e for e in entries if e not in SHIPPED_ENVS]
    assert all(_LEFTOVER.match(e) for e in leftovers), f"unexpected entries in the output: {leftovers}"
    states = {}
    for env in SHIPPED_ENVS:
        target = out / env
        if not target.exists():
            # Where renameat2 cannot exchange, the old tree is moved aside before the new one
            # moves in; killed between the two renames, the old tree waits to be put back.
            aside = [e for e in leftovers if e.startswith(f".{env}.tfgen-old-")]
            assert not had_old or (len(aside) == 1 and files(out / aside[0]) == renders.old_files[env]), (
                f"{env}: missing, and no complete old tree set aside: {leftovers}")
            states[env] = "absent"
            continue
        found = files(target)
        if found == renders.new_files[env]:
            states[env] = "new"
        elif had_old and found == renders.old_files[env]:
            states[env] = "old"
        else:
            expected = {"new": renders.new_files[env], **({"old": renders.old_files[env]} if had_old else {})}
            diffs = {name: sorted(p for p in found.keys() | tree.keys() if found.get(p) != tree.get(p))
                     for name, tree in expected.items()}
            raise AssertionError(f"{env}: neither the complete old nor the complete new tree: "
                                 f"files differing from each: {diffs}")
    return states, leftovers


def test_a_killed_render_leaves_old_or_new_trees_and_the_next_run_cleans_up(
        renders: Renders) -> None:
    project, old = renders.project, renders.old
    out = project / "out"
    first_write, last_write = measure(project, out, old)
    rng = random.Random(7)
    intermediate = 0
    for index in range(ITERATIONS):
        had_old = index % 5 != 4  # every fifth run is a first render into an empty output root
        shutil.rmtree(out, ignore_errors=True)
        if had_old:
            shutil.copytree(old, out, symlinks=True)
        sig = SIGNALS[index % len(SIGNALS)]
        process = subprocess.Popen(render_command(out), cwd=project, env=environ(project),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if index < EARLY:  # while starting, loading and rendering
            time.sleep(first_write * (index + rng.random()) / EARLY)
        else:  # graded over the writing phase, from the first staging directory to a little past the last
            seen = wait_for_staging(process, out, 60)
            if seen is not None:
                fraction = (index - EARLY + rng.random()) / (ITERATIONS - EARLY)
                time.sleep((last_write - first_write) * 1.15 * fraction)
        process.send_signal(sig)
        process.wait(timeout=60)
        states, leftovers = state_after_kill(out, renders, had_old)
        intermediate += bool(leftovers) or len(set(states.values())) > 1

        render(project, out)
        assert sorted(os.listdir(out)) == sorted(SHIPPED_ENVS), f"run {index}: leftovers after a normal run"
        for env in SHIPPED_ENVS:
            assert files(out / env) == renders.new_files[env], f"run {index} ({sig.name}): {env} is not the new tree"
    assert intermediate, "no kill landed while output was being written: the timing needs a look"
