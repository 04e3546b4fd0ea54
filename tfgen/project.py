"""The operations behind the commands: load, render, write, compare. Nothing here prints.

When every environment a command names is current (tfgen.inputs), ``write``, ``status`` and
``require_current`` answer from the manifests alone (``require_current(full=True)``, before
terraform runs, never does); the configuration model, YAML and Jinja are
imported only on the full path, inside the methods that take it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tfgen import inputs
from tfgen.errors import ConfigError, Finding, UsageError

if TYPE_CHECKING:
    from tfgen.config import environment
    from tfgen.render import output
    from tfgen.render.templates import Rendered


@dataclass(frozen=True)
class Project:
    """Where a project's inputs and outputs live."""

    env_dir: Path
    template_dir: Path
    out_dir: Path
    lambda_dir: Path

    def target(self, env: str) -> Path:
        return self.out_dir / env

    def names(self, requested: tuple[str, ...] | list[str], all_envs: bool) -> list[str]:
        known = inputs.environment_names(self.env_dir)
        if all_envs or not requested:
            if not known:
                raise UsageError(f"{self.env_dir}: no environment files")
            return known
        for name in requested:
            inputs.check_env_name(name)
        return list(dict.fromkeys(requested))

    def load(self, names: list[str], overrides: list[str] | None = None) -> list[environment.Loaded]:
        """Every environment validated; all problems of all environments reported together (a
        problem in the shared defaults once)."""
        return list(self._each_valid(names, overrides))

    def _each_valid(self, names: list[str], overrides: list[str] | None) -> Iterator[environment.Loaded]:
        """Each valid environment in turn; at the end, a ConfigError with every problem found."""
        from tfgen.config import environment

        problems = []
        for name in names:
            try:
                env = environment.load(self.env_dir, name, overrides)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            yield env
        if problems:
            raise ConfigError(list(dict.fromkeys(problems)))

    def render_loaded(self, loaded: environment.Loaded) -> Rendered:
        from tfgen.render import templates as render

        if not self.template_dir.is_dir():
            raise UsageError(f"{self.template_dir}: no such templates directory")
        from tfgen.render import adoption

        return render.render(loaded, self.template_dir, self.lambda_dir, adoption.read(self.env_dir, loaded.name))

    def render(self, names: list[str], overrides: list[str] | None = None,
               digests: dict[str, str] | None = None) -> Iterator[Rendered]:
        """Each environment rendered in memory in turn, with the digest of the inputs it was rendered
        from (``digests`` when already taken; taken before the inputs are read: an input changed
        meanwhile makes the next run take the full path). The problems of every invalid environment
        are raised together at the end, after the valid ones."""
        if digests is None:
            digests = self.input_digests(names, overrides)
        for env in self._each_valid(names, overrides):
            yield dataclasses.replace(self.render_loaded(env), input_digest=digests[env.name])

    def input_digests(self, names: list[str], overrides: list[str] | None = None) -> dict[str, str]:
        shared = inputs.shared_digest(self.template_dir, self.lambda_dir)
        return {name: inputs.digest(self.env_dir, name, list(overrides or []), shared) for name in names}

    def current(self, names: list[str], overrides: list[str] | None = None,
                digests: dict[str, str] | None = None) -> list[inputs.Current] | None:
        """Every named environment's output when each is what a fresh render would write, judged
        from input digests (``digests`` when already taken) and manifests alone; None when any
        one needs the full path."""
        if digests is None:
            digests = self.input_digests(names, overrides)
        beside = inputs.Beside.of(self.out_dir)
        found = []
        for name in names:
            current = inputs.current(name, self.target(name), digests[name], beside)
            if current is None:
                return None
            found.append(current)
        return found

    def _unchanged(self, names: list[str], overrides: list[str]) -> list[tuple[tuple[str, ...], int]] | None:
        """Per named environment, its files and resource count when every one is current (as
        ``current``); None at the first that is not. Environments rendered from the same templates
        list the same files: one tuple of them is kept, not one per environment."""
        shared = inputs.shared_digest(self.template_dir, self.lambda_dir)
        beside = inputs.Beside.of(self.out_dir)
        lists: dict[tuple[str, ...], tuple[str, ...]] = {}
        found = []
        for name in names:
            current = inputs.current(name, self.target(name), inputs.digest(self.env_dir, name, overrides, shared),
                                     beside)
            if current is None:
                return None
            files = tuple(current.files)
            found.append((lists.setdefault(files, files), current.resources))
        return found

    def write(self, names: list[str], overrides: list[str] | None = None) -> Iterator[output.WriteResult]:
        """Validate every environment first (nothing is written if any is invalid), then render
        and write them one at a time, each atomically. When every one is current, nothing is
        loaded, rendered or written. An environment whose lock another command holds stops the
        render there (lock.Busy; after earlier ones were written, a Finding that names them).

        Memory stays flat in the number of environments: between validating and rendering, each
        validated model waits pickled in an unnamed temporary file (about 10 KB each), not in
        memory, and nothing of an environment is kept once its result is yielded."""
        from tfgen.render import output

        unchanged = self._unchanged(names, list(overrides or []))
        if unchanged is not None:
            for name, (files, resources) in zip(names, unchanged, strict=True):
                yield output.WriteResult(env=name, path=self.target(name), unchanged=list(files),
                                         resources=resources)
            return
        if not self.template_dir.is_dir():
            raise UsageError(f"{self.template_dir}: no such templates directory")
        import pickle
        import tempfile

        from tfgen.render import lock

        with tempfile.TemporaryFile(prefix="tfgen-validated-") as spill:
            self._validate_into(spill, names, overrides)
            output.recover_all(self.out_dir)
            shared = output.SharedFiles()
            spill.seek(0)
            for index, name in enumerate(names):
                digest, model = pickle.load(spill)
                try:
                    yield self._write_one(name, digest, model, shared)
                except lock.Busy as busy:
                    if not index:
                        raise
                    raise busy.stopped(names[:index], names[index:]) from None

    def _validate_into(self, spill: BinaryIO, names: list[str], overrides: list[str] | None) -> None:
        """Each environment's input digest (taken before its inputs are read) and validated model,
        pickled into ``spill`` in the order of ``names``; at the end, a ConfigError with every
        problem found."""
        import pickle

        from tfgen.config import environment

        shared = inputs.shared_digest(self.template_dir, self.lambda_dir)
        problems = []
        for name in names:
            digest = inputs.digest(self.env_dir, name, list(overrides or []), shared)
            try:
                env = environment.load(self.env_dir, name, overrides)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            pickle.dump((digest, env.model), spill, protocol=pickle.HIGHEST_PROTOCOL)
        if problems:
            raise ConfigError(list(dict.fromkeys(problems)))

    def _write_one(self, name: str, digest: str, model: Any, shared: output.SharedFiles) -> output.WriteResult:
        from tfgen.config import environment, layers
        from tfgen.render import adoption
        from tfgen.render import templates as render

        loaded = environment.Loaded(config=layers.Config(name=name, data={}), model=model)
        adopted = adoption.read(self.env_dir, name)
        rendered = dataclasses.replace(render.render(loaded, self.template_dir, self.lambda_dir, adopted),
                                       input_digest=digest)
        return self._write_locked(rendered, shared)

    def _write_locked(self, rendered: Rendered, shared: output.SharedFiles) -> output.WriteResult:
        """Write ``rendered`` holding its environment's lock (tfgen.render.lock), so that no plan or
        apply is running on the tree it replaces; refused (lock.Busy) when one is."""
        from tfgen.render import lock, output

        target = self.target(rendered.env)
        if not (target / inputs.MANIFEST).is_file():  # never rendered: nothing can be planned there yet, and
            return output.write(rendered, target, recovered=True, shared=shared)  # no lock file is left there
        with lock.held(target, f"tfgen render {rendered.env}"):
            return output.write(rendered, target, recovered=True, shared=shared)

    def status(self, names: list[str], overrides: list[str] | None = None,
               full: bool = False) -> list[tuple[str, list[str]]]:
        """Per environment, one line per output file that is missing, stale or edited. ``full``: from a
        render in memory compared with the files on disk, never from the manifests alone (which
        whoever can write the output can write too)."""
        from tfgen.render import output

        digests = self.input_digests(names, overrides)
        if not full and self.current(names, overrides, digests) is not None:
            return [(name, []) for name in names]
        return [(r.env, output.status(r, self.target(r.env)).lines(self.target(r.env)))
                for r in self.render(names, overrides, digests)]

    def diff(self, names: list[str]) -> str:
        return "".join(self.diff_rendered(rendered) for rendered in self.render(names))

    def diff_rendered(self, rendered: Rendered, include_manifest: bool = True) -> str:
        """What writing ``rendered`` would change on disk, as a unified diff."""
        from tfgen.render import output
        from tfgen.render import templates as render

        target = self.target(rendered.env)
        files = dict(rendered.files)
        if include_manifest:
            files[render.MANIFEST] = output.manifest_bytes(rendered)
        manifest = output.read_manifest(target) if target.is_dir() else None
        owned = set(manifest["files"]) if manifest else set()
        # In the whole tree's diff, files terraform would load that tfgen did not write: shown removed,
        # as the tree is current only without them (render leaves them in place).
        stray = set(inputs.stray_terraform_files(target, owned | set(files))) if include_manifest else set()
        chunks = []
        for path in sorted(set(files) | {p for p in owned | stray if (target / p).is_file()}):
            old = (target / path).read_bytes() if (target / path).is_file() else b""
            new = files.get(path, b"")
            if old != new:
                name = f"{rendered.env}/{path}"
                chunks.append(_unified(old, new, f"a/{name}", f"b/{name}"))
        return "".join(chunks)

    def require_current(self, env: str, overrides: list[str] | None = None, full: bool = False) -> Path:
        """The environment's output directory, if it matches a fresh render (with ``overrides``, the
        ``--set`` settings it was rendered with); a Finding if not. ``full``: rendered and compared
        file by file even when the manifest says the output is current (before terraform runs)."""
        [(name, lines)] = self.status([env], overrides, full)
        if lines:
            advice = f"{self.target(name)}: output is not current: run `tfgen render {name}`"
            raise Finding("\n".join([*lines, advice]))
        return self.target(env)


def _unified(old: bytes, new: bytes, a: str, b: str) -> str:
    import difflib

    try:
        old_text, new_text = old.decode(), new.decode()
    except UnicodeDecodeError:
        return f"Binary files {a} and {b} differ\n"
    lines = difflib.unified_diff(old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                                 a if old else "/dev/null", b if new else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
