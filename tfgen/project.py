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
from typing import TYPE_CHECKING

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
        return render.render(loaded, self.template_dir, self.lambda_dir)

    def render(self, names: list[str], overrides: list[str] | None = None,
               digests: dict[str, str] | None = None) -> list[Rendered]:
        """Each environment rendered in memory, with the digest of the inputs it was rendered from
        (``digests`` when already taken; taken before the inputs are read: an input changed meanwhile
        makes the next run take the full path)."""
        if digests is None:
            digests = self.input_digests(names, overrides)
        return [dataclasses.replace(self.render_loaded(env), input_digest=digests[env.name])
                for env in self.load(names, overrides)]

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
        found = []
        for name in names:
            current = inputs.current(name, self.target(name), digests[name])
            if current is None:
                return None
            found.append(current)
        return found

    def write(self, names: list[str], overrides: list[str] | None = None) -> Iterator[output.WriteResult]:
        """Validate every environment first (nothing is written if any is invalid), then render
        and write them one at a time, each atomically. When every one is current, nothing is
        loaded, rendered or written."""
        from tfgen.render import output

        digests = self.input_digests(names, overrides)
        unchanged = self.current(names, overrides, digests)
        if unchanged is not None:
            for current in unchanged:
                yield output.WriteResult(env=current.env, path=current.path, unchanged=current.files,
                                         resources=current.resources)
            return
        from tfgen.config import environment
        from tfgen.render import templates as render

        if not self.template_dir.is_dir():
            raise UsageError(f"{self.template_dir}: no such templates directory")
        packed = [environment.Packed.of(env) for env in self._each_valid(names, overrides)]
        output.recover_all(self.out_dir)
        shared = output.SharedFiles()
        for env in packed:
            rendered = dataclasses.replace(render.render(env.unpack(), self.template_dir, self.lambda_dir),
                                           input_digest=digests[env.name])
            yield self._write_locked(rendered, shared)

    def _write_locked(self, rendered: Rendered, shared: output.SharedFiles) -> output.WriteResult:
        """Write ``rendered`` holding its environment's lock (tfgen.render.lock), so that no plan or
        apply is running on the tree it replaces; refused (lock.Busy) when one is."""
        from tfgen.render import lock, output

        target = self.target(rendered.env)
        if not target.is_dir():  # never rendered: nothing can be planned there yet
            return output.write(rendered, target, recovered=True, shared=shared)
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
