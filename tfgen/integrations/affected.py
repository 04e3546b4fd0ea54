"""``tfgen affected``: which environments a change affects, judged by rendered output.

Path-based change detection (Terramate's, or a CI ``paths:`` filter) marks
every environment affected when ``defaults.yaml`` or a template changes. Here
every environment is rendered as the inputs were at a git revision and as they
are now, in memory, and compared file by file (packages included): a template
edit that changes no output affects none, and a defaults edit affects exactly
the environments that inherit the changed value.

The inputs at the revision are read from git objects (``git ls-tree`` and
one ``git cat-file --batch``) into a temporary directory, one file at a time;
the work tree and the output are never touched. When the templates and the Lambda sources are the
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


@dataclass(frozen=True, slots=True)
class Change:
    """One affected environment: how, and (for ``changed``) which output files differ (slots: there
    is one per affected environment, kept for the summary)."""

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


def text_lines(result: Affected) -> Iterator[str]:
    """The text report, one line at a time (one per affected environment, then a summary), so that
    it can be printed without being held whole."""
    for change in result.changes:
        detail = ", ".join(change.files) or change.note
        yield f"{change.env}: {change.kind}" + (f" ({detail})" if detail else "")
    yield (f"{len(result.changes)} of {result.compared} environment(s) affected since {result.since} "
           f"({result.commit[:12]})")


def text(result: Affected) -> str:
    return "\n".join(text_lines(result))


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


def extract_tree(repo: Path, commit: str, paths: list[str], dest: Path) -> set[str]:
    """Write every file under ``paths`` at ``commit`` into ``dest``, keeping their relative layout
    and modes; the paths written. The contents come through one ``git cat-file --batch`` and go
    to disk one at a time: memory holds one file, however many there are."""
    entries = list(_tree_entries(repo, commit, paths))
    with tempfile.TemporaryFile() as request:
        request.write("".join(f"{oid}\n" for _, oid, _ in entries).encode())
        request.seek(0)
        try:
            proc = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"], stdin=request,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise UsageError("git not found on PATH: `tfgen affected` reads the revision from git") from None
        assert proc.stdout is not None and proc.stderr is not None
        with proc:
            for mode, _, path in entries:
                size = int(proc.stdout.readline().split()[2])
                _extract_one(dest / path, mode, proc.stdout.read(size))
                proc.stdout.read(1)
            message = proc.stderr.read().decode(errors="replace").strip().splitlines()
        if proc.returncode:
            raise UsageError(f"git cat-file --batch: {message[-1] if message else 'failed'}")
    return {path for _, _, path in entries}


def _extract_one(target: Path, mode: str, data: bytes) -> None:
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
    """The environment files at a revision, extracted under ``root``, loaded the way
    ``config.load`` loads them (the shared defaults parsed once) but named by their path in the
    repository."""

    def __init__(self, root: Path, env_dir: str, paths: set[str]) -> None:
        prefix = f"{env_dir}/" if env_dir else ""
        self.root = root / env_dir
        self.env_dir = env_dir
        self.names = {path[len(prefix):-5] for path in paths if path.startswith(prefix) and path.endswith(".yaml")
                      and "/" not in path[len(prefix):] and path[len(prefix):] != layers.DEFAULTS_FILE}
        self.has_defaults = f"{prefix}{layers.DEFAULTS_FILE}" in paths
        self._defaults: list[layers.Layer] | None = None
        self._defaults_problems: list[str] = []

    def _layer(self, name: str) -> layers.Layer:
        label = f"{self.env_dir}/{name}" if self.env_dir else name
        try:
            text = (self.root / name).read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError([f"{label}: <yaml>: expected UTF-8 text, got {exc.reason}"]) from None
        return layers.parse_yaml(text, label)

    def _shared(self) -> list[layers.Layer]:
        if self._defaults is None:
            self._defaults = []
            try:
                if self.has_defaults:
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
    if not changes:
        return None
    return replace(changes[0], files=_FILE_LISTS.setdefault(changes[0].files, changes[0].files))


# Environments rendered from the same templates list the same files when every file changed (a
# defaults edit they all inherit): one tuple of them is kept, not one per environment.
_FILE_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {}


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
    with tempfile.TemporaryDirectory(prefix="tfgen-affected-") as scratch:
        root = Path(scratch)
        paths = extract_tree(repo, commit, sorted(set(relative.values())), root)
        revision = _Revision(root, relative["env_dir"], paths)
        then = replace(project, template_dir=root / relative["template_dir"], lambda_dir=root / relative["lambda_dir"])
        same_code = all(inputs.tree_digest(old) == inputs.tree_digest(new) for old, new in
                        ((then.template_dir, project.template_dir), (then.lambda_dir, project.lambda_dir)))
        names = sorted(now_names | revision.names)
        results = _compare_all(_Job(project, then, revision, now_names, same_code, since), names)
    problems = [problem for result in results if isinstance(result, list) for problem in result]
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return Affected(since, commit, len(names), [r for r in results if isinstance(r, Change)])
