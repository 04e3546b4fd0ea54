"""``tfgen affected``: which environments a change affects, judged by rendered output.

Path-based change detection (Terramate's, or a CI ``paths:`` filter) marks
every environment affected when ``defaults.yaml`` or a template changes. Here
every environment is rendered as the inputs were at a git revision and as they
are now, in memory, and compared file by file (packages included): a template
edit that changes no output affects none, and a defaults edit affects exactly
the environments that inherit the changed value.

The inputs at the revision are read from git objects (``git ls-tree`` and
one ``git cat-file --batch``): the environment files stay in memory, the
templates and Lambda sources go to a temporary directory; the work tree and the
output are never touched. When the templates and the Lambda sources are the
same at both revisions, an environment whose validated configuration is
unchanged renders the same bytes, so it is not rendered at all. With many
environments the comparison is spread over forked workers, one per CPU.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from tfgen import inputs
from tfgen.config import environment, layers
from tfgen.errors import ConfigError, UsageError
from tfgen.project import Project
from tfgen.render import output
from tfgen.render import templates as render

_PARALLEL_FROM = 64  # environments; fewer are compared in this process
CHANGED, ADDED, REMOVED = "changed", "added", "removed"
# What an environment at the revision or now comes to: its files' digests, or why there are none.
Digests = dict[str, str]


@dataclass(frozen=True)
class Change:
    """One affected environment: how, and (for ``changed``) which output files differ."""

    env: str
    kind: str
    files: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Affected:
    since: str
    commit: str
    compared: int
    changes: list[Change]


# ---------------------------------------------------------------------------
# Pure comparison
# ---------------------------------------------------------------------------

def compare(before: dict[str, Digests | str], after: dict[str, Digests]) -> list[Change]:
    """The environments whose output differs. ``before`` holds, per environment at the revision,
    its files' digests or the reason it could not be rendered there."""
    changes = []
    for env in sorted(set(before) | set(after)):
        if env not in before:
            changes.append(Change(env, ADDED))
        elif env not in after:
            changes.append(Change(env, REMOVED))
        else:
            old, new = before[env], after[env]
            if isinstance(old, str):
                changes.append(Change(env, CHANGED, note=old))
                continue
            files = tuple(sorted(path for path in set(old) | set(new) if old.get(path) != new.get(path)))
            if files:
                changes.append(Change(env, CHANGED, files))
    return changes


def text(result: Affected) -> str:
    lines = []
    for change in result.changes:
        detail = ", ".join(change.files) or change.note
        lines.append(f"{change.env}: {change.kind}" + (f" ({detail})" if detail else ""))
    lines.append(f"{len(result.changes)} of {result.compared} environment(s) affected since {result.since} "
                 f"({result.commit[:12]})")
    return "\n".join(lines)


def json_text(result: Affected) -> str:
    return json.dumps({
        "since": result.since,
        "commit": result.commit,
        "compared": result.compared,
        "affected": [{"environment": c.env, "change": c.kind, "files": list(c.files), "note": c.note}
                     for c in result.changes],
    }, indent=2, sort_keys=True)


def github_matrix(result: Affected) -> str:
    """A GitHub Actions matrix with one entry per environment to plan (removed ones have nothing
    to render; their destruction is a decision for a person)."""
    include = [{"environment": c.env, "change": c.kind} for c in result.changes if c.kind != REMOVED]
    return json.dumps({"include": include}, separators=(",", ":"))


# ---------------------------------------------------------------------------
# Reading a revision from git
# ---------------------------------------------------------------------------

def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("git not found on PATH: `tfgen affected` reads the revision from git") from None
    if proc.returncode:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"git {' '.join(args[:2])}: {message[-1] if message else 'failed'}")
    return proc.stdout


def toplevel(directory: Path) -> Path:
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such directory")
    return Path(_git(directory, "rev-parse", "--show-toplevel").decode().strip())


def resolve(repo: Path, ref: str) -> str:
    if ref.startswith("-"):
        raise UsageError(f"--since {ref}: expected a git revision")
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()


def _relative(repo: Path, directory: Path) -> str:
    try:
        return directory.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"{directory}: not inside the git repository {repo}") from None


def _tree_entries(repo: Path, commit: str, paths: list[str]) -> Iterator[tuple[str, str, str]]:
    """(mode, object id, path) of every file under ``paths`` at ``commit``."""
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths)
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        if kind == "blob":
            yield mode, oid, path.decode()


def _blobs(repo: Path, oids: list[str]) -> list[bytes]:
    """The contents of ``oids``, in order, through one ``git cat-file --batch``."""
    if not oids:
        return []
    data = _git(repo, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in oids).encode())
    blobs, offset = [], 0
    for _ in oids:
        header_end = data.index(b"\n", offset)
        size = int(data[offset:header_end].split()[2])
        start = header_end + 1
        blobs.append(data[start:start + size])
        offset = start + size + 1
    return blobs


def read_tree(repo: Path, commit: str, paths: list[str]) -> dict[str, tuple[str, bytes]]:
    """Every file under ``paths`` at ``commit``: its path, mode and bytes."""
    entries = list(_tree_entries(repo, commit, paths))
    blobs = _blobs(repo, [oid for _, oid, _ in entries])
    return {path: (mode, data) for (mode, _, path), data in zip(entries, blobs, strict=True)}


def extract(files: dict[str, tuple[str, bytes]], dest: Path) -> None:
    """Write ``files`` (from ``read_tree``) into ``dest``, keeping their relative layout."""
    for path, (mode, data) in files.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            os.symlink(data.decode(), target)
        else:
            target.write_bytes(data)
            if mode == "100755":
                target.chmod(0o755)


# ---------------------------------------------------------------------------
# Rendering both sides
# ---------------------------------------------------------------------------

def _digests(rendered: render.Rendered) -> Digests:
    return {path: output.sha256(data) for path, data in rendered.files.items()}


def _load(project: Project, name: str) -> environment.Loaded | list[str]:
    try:
        return environment.load(project.env_dir, name)
    except ConfigError as exc:
        return exc.problems


class _Revision:
    """The environment files at a revision, held in memory and loaded the way ``config.load``
    loads them from disk (the shared defaults parsed once)."""

    def __init__(self, env_dir: str, files: dict[str, tuple[str, bytes]]) -> None:
        prefix = f"{env_dir}/" if env_dir else ""
        self.env_dir = env_dir
        self.texts = {path[len(prefix):]: data for path, (_, data) in files.items()
                      if path.startswith(prefix) and "/" not in path[len(prefix):] and path.endswith(".yaml")}
        self.names = {name[:-5] for name in self.texts if name != layers.DEFAULTS_FILE}
        self._defaults: list[layers.Layer] | None = None
        self._defaults_problems: list[str] = []

    def _layer(self, name: str) -> layers.Layer:
        label = f"{self.env_dir}/{name}" if self.env_dir else name
        try:
            text = self.texts[name].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError([f"{label}: <yaml>: expected UTF-8 text, got {exc.reason}"]) from None
        return layers.parse_yaml(text, label)

    def _shared(self) -> list[layers.Layer]:
        if self._defaults is None:
            self._defaults = []
            try:
                if layers.DEFAULTS_FILE in self.texts:
                    self._defaults = [self._layer(layers.DEFAULTS_FILE)]
            except ConfigError as exc:
                self._defaults_problems = exc.problems
        if self._defaults_problems:
            raise ConfigError(self._defaults_problems)
        return self._defaults

    def load(self, name: str) -> environment.Loaded | list[str]:
        try:
            shared = self._shared()
            own = self._layer(f"{name}.yaml")
            config = layers.merge(name, [*shared, own], own.label)
            return environment.Loaded(config=config, model=environment.validate(config))
        except ConfigError as exc:
            return exc.problems


@dataclass(frozen=True)
class _Job:
    """What comparing one environment needs: both sides' inputs."""

    now: Project
    then: Project
    revision: _Revision
    now_names: frozenset[str]
    same_code: bool
    since: str


def _compare_one(job: _Job, name: str) -> Change | list[str] | None:
    """How ``name`` changed (None: not at all), or the problems of its configuration now."""
    current = _load(job.now, name) if name in job.now_names else None
    if isinstance(current, list):
        return current
    old = job.revision.load(name) if name in job.revision.names else None
    before: dict[str, Digests | str] = {}
    after: dict[str, Digests] = {}
    if isinstance(old, list):
        before[name] = f"invalid at {job.since}: {old[0]}"
    elif job.same_code and old is not None and current is not None and old.model == current.model:
        return None  # the same configuration and code render the same bytes
    elif old is not None:
        before[name] = _digests(job.then.render_loaded(old))
    if current is not None:
        after[name] = _digests(job.now.render_loaded(current))
    changes = compare(before, after)
    return changes[0] if changes else None


_JOB: _Job | None = None  # the job of a forked worker, inherited from the parent


def _compare_chunk(names: list[str]) -> list[Change | list[str] | None]:
    assert _JOB is not None
    return [_compare_one(_JOB, name) for name in names]


def _compare_all(job: _Job, names: list[str]) -> list[Change | list[str] | None]:
    """Every environment compared; spread over the CPUs (forked workers) when there are many."""
    global _JOB
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    if workers < 2 or len(names) < _PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return [_compare_one(job, name) for name in names]
    size = -(-len(names) // workers)
    chunks = [names[start:start + size] for start in range(0, len(names), size)]
    _JOB = job
    try:
        with ProcessPoolExecutor(len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
            return [result for chunk in pool.map(_compare_chunk, chunks) for result in chunk]
    finally:
        _JOB = None


def affected(project: Project, since: str) -> Affected:
    """Compare every environment's output at ``since`` with its output now; nothing but the
    comparison of each is kept."""
    repo = toplevel(project.env_dir)
    commit = resolve(repo, since)
    # Absolute paths: packages are built once per process per directory.
    project = replace(project, template_dir=project.template_dir.resolve(), lambda_dir=project.lambda_dir.resolve())
    relative = {key: _relative(repo, getattr(project, key)) for key in ("env_dir", "template_dir", "lambda_dir")}
    now_names = frozenset(layers.environment_names(project.env_dir))
    files = read_tree(repo, commit, sorted(set(relative.values())))
    revision = _Revision(relative["env_dir"], files)
    with tempfile.TemporaryDirectory(prefix="tfgen-affected-") as scratch:
        root = Path(scratch)
        code = [relative["template_dir"], relative["lambda_dir"]]
        extract({path: entry for path, entry in files.items()
                 if any(path.startswith(f"{d}/") or not d for d in code)}, root)
        then = replace(project, template_dir=root / relative["template_dir"], lambda_dir=root / relative["lambda_dir"])
        same_code = all(inputs.tree_digest(old) == inputs.tree_digest(new) for old, new in
                        ((then.template_dir, project.template_dir), (then.lambda_dir, project.lambda_dir)))
        names = sorted(now_names | revision.names)
        results = _compare_all(_Job(project, then, revision, now_names, same_code, since), names)
    problems = [problem for result in results if isinstance(result, list) for problem in result]
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return Affected(since, commit, len(names), [r for r in results if isinstance(r, Change)])
