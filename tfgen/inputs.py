"""What an environment's output is made from, and telling that it is current without rendering it.

An environment's output is a function of its inputs: its YAML layers (the shared defaults and its
own file), the ``--set`` values, the templates, the Lambda sources and requirements, the
environment schema file when there is one, and tfgen itself. Every write records their digest in
the manifest. When a later run computes the same digest and every file the manifest lists still
has the hash it recorded, a fresh render would write exactly what is on disk, so ``render`` and
``check`` can say so without loading the configuration model or Jinja. Anything else -- a changed
input, a hand edit, a missing file, an interrupted write -- takes the full path.

This module is on the path of every unchanged render and check: it imports the standard library's
hashing and JSON and nothing else.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tfgen
from tfgen.errors import UsageError

MANIFEST = ".tfgen-manifest.json"
# Marks in the names of the directories an interrupted write leaves beside an environment's output.
TMP_MARK = ".tfgen-tmp-"
OLD_MARK = ".tfgen-old-"
DEFAULTS_FILE = "defaults.yaml"
SCHEMA_FILE = "schema.json"
ENV_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_FORMAT = b"tfgen-inputs/1"


def check_env_name(name: str) -> None:
    if not ENV_NAME.match(name):
        raise UsageError(
            f"environment name {name!r}: expected lowercase letters, digits and single hyphens, "
            "starting with a letter and not ending with a hyphen"
        )


def environment_names(env_dir: Path) -> list[str]:
    """Environments are the YAML files in ``env_dir`` other than the defaults, sorted."""
    if not env_dir.is_dir():
        raise UsageError(f"{env_dir}: no such environments directory")
    return sorted(p.stem for p in env_dir.glob("*.yaml") if p.name != DEFAULTS_FILE)


def count_resources(files: Mapping[str, bytes]) -> int:
    """The ``resource`` blocks in the ``.tf`` files of a rendered tree."""
    return sum(text.count(b'\nresource "') + text.startswith(b'resource "')
               for path, text in files.items() if path.endswith(".tf"))


# The files of a directory terraform loads as configuration or variable values (`terraform.tfvars`,
# `*.auto.tfvars`, overrides included); a plain `*.tfvars` only with -var-file, counted all the same.
TERRAFORM_SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json")


def stray_terraform_files(target: Path, listed: Mapping[str, object] | set[str]) -> list[str]:
    """The files in ``target`` that terraform would load and that ``listed`` (the manifest) does
    not name, sorted. Terraform ignores names starting with '.' or ending with '~', and
    directories; so does this."""
    try:
        entries = list(os.scandir(target))
    except OSError:
        return []
    return sorted(entry.name for entry in entries
                  if entry.name.endswith(TERRAFORM_SUFFIXES) and not entry.name.startswith(".")
                  and not entry.name.endswith("~") and entry.name not in listed
                  and not entry.is_dir(follow_symlinks=True))


def excluded(name: str) -> bool:
    """Files and directories no package is built from, and no input digest covers."""
    return name.startswith(".") or name == "__pycache__" or name.endswith((".pyc", ".pyo"))


def tree(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, file) for every file under ``root`` that is not excluded, sorted."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if not excluded(name))
        base = Path(directory)
        for filename in sorted(filenames):
            if not excluded(filename):
                yield (base / filename).relative_to(root).as_posix(), base / filename


class _Digest:
    """SHA-256 over length-prefixed fields, so that no two different inputs run together."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(_FORMAT)

    def field(self, value: bytes) -> None:
        self._hash.update(b"%d:" % len(value) + value)

    def file(self, label: str, path: Path) -> None:
        self.field(label.encode())
        try:
            data = path.read_bytes()
        except OSError:  # absent or unreadable: the full path reports it
            self.field(b"-")
            return
        self.field(b"+")
        self.field(data)

    def tree(self, label: str, root: Path) -> None:
        self.field(f"tree {label}".encode())
        for rel, path in tree(root):
            self.file(rel, path)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def tree_digest(root: Path) -> str:
    """The digest of the files under ``root`` that an input digest covers (paths and bytes)."""
    result = _Digest()
    result.tree("", root)
    return result.hexdigest()


# The libraries whose behaviour shapes the output (import name, distribution name).
_LIBRARIES = (("jinja2", "jinja2"), ("markupsafe", "markupsafe"), ("pydantic", "pydantic"),
              ("pydantic_core", "pydantic_core"), ("yaml", "pyyaml"))


@lru_cache(maxsize=1)
def _tool_sources() -> str:
    """The digest of tfgen itself: its modules (the version string alone does not change with
    them), the Python version, and the installed versions of the libraries that shape its output,
    read from their metadata directories' names without importing them."""
    digest = _Digest()
    digest.tree("tfgen", Path(tfgen.__file__).parent)
    digest.field(sys.version.encode())
    for module, distribution in _LIBRARIES:
        digest.field(_installed(module, distribution).encode())
    return digest.hexdigest()


def _installed(module: str, distribution: str) -> str:
    """``name-version.dist-info`` beside the module, or where the module is when there is none."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return f"{module}: not installed"
    location = Path(spec.origin).parent
    if spec.submodule_search_locations is not None:  # a package: its directory is beside the metadata
        location = location.parent
    prefix = f"{distribution}-"
    found = sorted(name for name in _listing(location) if name.lower().startswith(prefix)
                   and name.endswith(".dist-info"))
    return " ".join(found) or spec.origin


@lru_cache(maxsize=8)
def _listing(directory: Path) -> tuple[str, ...]:
    try:
        return tuple(os.listdir(directory))
    except OSError:
        return ()


def cache_root() -> Path:
    """tfgen's cache directory: TFGEN_CACHE_DIR, else tfgen under the user's cache directory."""
    root = os.environ.get("TFGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tfgen")
    return Path(root)


def tool_digest() -> str:
    """The digest of this tfgen, as in every input digest (see _tool_sources)."""
    return _tool_sources()


def shared_digest(template_dir: Path, lambda_dir: Path) -> str:
    """The digest of the inputs every environment shares: tfgen, the templates, the Lambda sources.
    Taken once per command, not once per environment."""
    result = _Digest()
    result.field(tfgen.__version__.encode())
    result.field(_tool_sources().encode())
    result.tree("templates", template_dir)
    result.tree("lambdas", lambda_dir)
    return result.hexdigest()


def digest(env_dir: Path, name: str, overrides: list[str], shared: str) -> str:
    """The digest of everything ``name``'s output is rendered from; ``shared`` from shared_digest."""
    result = _Digest()
    result.field(shared.encode())
    result.field(name.encode())
    result.file("defaults", env_dir / DEFAULTS_FILE)
    result.file("environment", env_dir / f"{name}.yaml")
    result.file("schema", env_dir / SCHEMA_FILE)
    result.file("adoption", env_dir / "adopt" / f"{name}.json")  # tfgen.render.adoption
    result.field(b"set %d" % len(overrides))
    for pair in overrides:
        result.field(pair.encode())
    return result.hexdigest()


@dataclass(frozen=True)
class Current:
    """An environment whose output on disk is what a fresh render would write."""

    env: str
    path: Path
    files: list[str]
    resources: int


def current(env: str, target: Path, inputs_digest: str, beside: Beside | None = None) -> Current | None:
    """``target`` as it is, when its manifest records ``inputs_digest`` and every file it lists
    still has the hash recorded; None when anything differs or cannot be read. ``beside`` is what
    ``Beside.of(target.parent)`` gives, when the caller asks about many environments."""
    try:
        manifest = json.loads((target / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if beside is None:
        beside = Beside.of(target.parent)
    if (not isinstance(manifest, dict) or manifest.get("input_digest") != inputs_digest
            or manifest.get("environment") != env or not isinstance(manifest.get("files"), dict)
            or beside.interrupted(target.name) or stray_terraform_files(target, manifest["files"])):
        return None
    tf_files = {}
    for path, expected in manifest["files"].items():
        data = _read(target / path)
        if data is None or _sha256(data) != expected:
            return None
        if path.endswith(".tf"):
            tf_files[path] = data
    return Current(env=env, path=target, files=sorted(manifest["files"]), resources=count_resources(tf_files))


@dataclass(frozen=True)
class Beside:
    """The output directories an interrupted write left a temporary or displaced directory beside,
    from one listing of the output root (not one per environment: that grows with the square of
    their number)."""

    names: frozenset[str]
    readable: bool = True

    @classmethod
    def of(cls, root: Path) -> Beside:
        try:
            entries = os.listdir(root)
        except OSError:
            return cls(frozenset(), readable=False)
        marked = (entry[1:].partition(mark)[0] for entry in entries if entry.startswith(".")
                  for mark in (TMP_MARK, OLD_MARK) if mark in entry)
        return cls(frozenset(marked))

    def interrupted(self, name: str) -> bool:
        return not self.readable or name in self.names


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _sha256(data: bytes) -> str:
    """Memoised for large files only: the packages are the same bytes in every environment, and a
    cache of small files would hold on to hundreds of them for nothing."""
    return _sha256_memo(data) if len(data) >= MEMO_FROM else hashlib.sha256(data).hexdigest()


MEMO_FROM = 16 * 1024  # bytes


@lru_cache(maxsize=16)
def _sha256_memo(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
