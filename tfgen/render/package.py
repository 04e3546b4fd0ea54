"""Reproducible Lambda deployment packages, cached by content.

``build_package`` zips a function's source directories (and, optionally, its
vendored requirements) so that the same inputs give the same bytes on every
run and every machine, which keeps Terraform's ``source_code_hash`` stable:

- entries are files only, sorted by their path in the zip, with the fixed
  timestamp 1980-01-01 00:00:00, mode 0644, Unix "made by", deflate level 9;
- ``__pycache__`` directories, ``*.pyc`` / ``*.pyo`` files and anything whose
  name starts with a dot are left out; paths are relative to their source
  directory (never absolute); a path present in two sources is an error;
- symbolic links to files are followed; links to directories are skipped;
- data files (``DataFile``: a CA bundle) are added at their own zip path, and a
  missing one, or one whose SHA-256 differs from its pin, is an error naming it.

Requirements are vendored with pip (``sys.executable -m pip install
--only-binary=:all: --platform manylinux2014_<arch> --python-version 3.X
--implementation cp --no-deps --no-compile --target ...``), so the
requirements file must pin every transitive dependency (hashes recommended).
From the installed tree, ``bin/`` (console scripts embed the absolute path of
the building interpreter), caches and the per-install ``*.dist-info`` files
``RECORD``, ``INSTALLER``, ``REQUESTED`` and ``direct_url.json`` are dropped;
``METADATA``, ``WHEEL`` and license files stay, as an inventory of what was
shipped.

Byte identity across machines assumes the same deflate implementation
(zlib); a platform whose Python links zlib-ng may produce other bytes.

Cache: ``cache_dir/<name>-<key>.zip`` where ``key`` is a SHA-256 over a
format version, the runtime, the architecture, every source file's path and
bytes, and the requirements file's bytes. A package whose inputs did not
change is read back instead of rebuilt (pip is not run). Cache files are
written to a temporary file in the cache directory and renamed into place,
so a reader never sees a partial zip.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tfgen.errors import TfgenError
from tfgen.inputs import tree

FORMAT_VERSION = 1
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
COMPRESS_LEVEL = 9
PIP_TIMEOUT_SECONDS = 900

_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_RUNTIME = re.compile(r"python(3\.[0-9]+)")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_UNIX_SYSTEM = 3
_DROPPED_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_PIP_FAILURES = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
)


class PackagingError(TfgenError):
    """A deployment package cannot be built; the message says which input is at fault."""


@dataclass(frozen=True)
class DataFile:
    """A file shipped at ``path`` in the zip (e.g. a CA bundle), checked against ``sha256`` when pinned."""

    path: str
    source: Path
    sha256: str | None = None
    hint: str = ""  # how to obtain the file, said when it is missing


@dataclass(frozen=True)
class PackageSpec:
    """What goes into one function's deployment package."""

    name: str
    sources: tuple[Path, ...]
    requirements: Path | None
    runtime: str
    architecture: str
    data_files: tuple[DataFile, ...] = ()


@dataclass(frozen=True)
class BuiltPackage:
    """A built zip and the hash Terraform compares (``filebase64sha256``)."""

    name: str
    data: bytes
    source_code_hash: str


def source_code_hash(data: bytes) -> str:
    """base64 of the SHA-256 of ``data``, as Terraform's ``filebase64sha256`` gives."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def build_package(spec: PackageSpec, cache_dir: Path) -> BuiltPackage:
    """The deployment package for ``spec``, from ``cache_dir`` when its inputs are unchanged."""
    if not _NAME.fullmatch(spec.name):
        raise PackagingError(f"package name {spec.name!r} is not a safe file name")
    python_version = _python_version(spec.runtime)
    platform = _platform(spec.architecture)
    files = _collect_sources(spec)
    requirements = _read_requirements(spec)
    key = cache_key(spec, files, requirements)
    cached = cache_dir / f"{spec.name}-{key}.zip"

    data = _read_cached(cached)
    if data is None:
        if spec.requirements is not None:
            for path, content in _vendor(spec.requirements, python_version, platform):
                if path in files:
                    raise PackagingError(
                        f"package {spec.name}: {path} is both in the sources and in the "
                        f"requirements from {spec.requirements}"
                    )
                files[path] = content
        data = _zip(files)
        _write_atomic(cached, data)
    return BuiltPackage(name=spec.name, data=data, source_code_hash=source_code_hash(data))


def cache_key(spec: PackageSpec, files: dict[str, bytes], requirements: bytes | None) -> str:
    """The content hash naming a package in the cache."""
    digest = hashlib.sha256()

    def field(value: bytes) -> None:
        digest.update(str(len(value)).encode("ascii") + b":" + value)

    field(f"tfgen-package/{FORMAT_VERSION}".encode())
    field(spec.runtime.encode())
    field(spec.architecture.encode())
    for path in sorted(files):
        field(path.encode("utf-8"))
        field(files[path])
    field(b"requirements" if requirements is not None else b"no-requirements")
    if requirements is not None:
        field(requirements)
    return digest.hexdigest()


def _python_version(runtime: str) -> str:
    match = _RUNTIME.fullmatch(runtime)
    if match is None:
        raise PackagingError(f"runtime {runtime!r} is not a Python Lambda runtime (python3.X)")
    return match.group(1)


def _platform(architecture: str) -> str:
    try:
        return _PLATFORMS[architecture]
    except KeyError:
        choices = ", ".join(sorted(_PLATFORMS))
        raise PackagingError(f"architecture {architecture!r} is not supported (use {choices})") from None


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(zip path, file) for every file under ``root`` that belongs in a package: the files the
    input digest covers (tfgen.inputs.tree), less what is not a file (a dangling link)."""
    return ((rel, path) for rel, path in tree(root) if path.is_file())


def _collect_sources(spec: PackageSpec) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    origin: dict[str, Path] = {}
    if not spec.sources:
        raise PackagingError(f"package {spec.name} has no source directories")
    for source in spec.sources:
        if not source.is_dir():
            raise PackagingError(f"package {spec.name}: source directory {source} does not exist")
        for path, file in _walk(source):
            if path in files:
                raise PackagingError(f"package {spec.name}: {path} is in both {origin[path]} and {source}")
            try:
                files[path] = file.read_bytes()
            except OSError as exc:
                raise PackagingError(f"package {spec.name}: cannot read {file}: {exc}") from None
            origin[path] = source
    for data in spec.data_files:
        if data.path in files:
            raise PackagingError(f"package {spec.name}: {data.path} is in both {origin[data.path]} and {data.source}")
        files[data.path] = _read_data_file(spec.name, data)
    return files


def _read_data_file(package: str, data: DataFile) -> bytes:
    try:
        content = data.source.read_bytes()
    except FileNotFoundError:
        hint = f"; {data.hint}" if data.hint else ""
        raise PackagingError(f"package {package}: {data.source} does not exist{hint}") from None
    except OSError as exc:
        raise PackagingError(f"package {package}: cannot read {data.source}: {exc}") from None
    if data.sha256 is not None:
        digest = hashlib.sha256(content).hexdigest()
        if digest != data.sha256:
            raise PackagingError(
                f"package {package}: {data.source} has SHA-256 {digest}, not the pinned {data.sha256}"
            )
    return content


def _read_requirements(spec: PackageSpec) -> bytes | None:
    if spec.requirements is None:
        return None
    try:
        return spec.requirements.read_bytes()
    except OSError as exc:
        raise PackagingError(f"package {spec.name}: cannot read requirements {spec.requirements}: {exc}") from None


def _read_cached(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if zipfile.is_zipfile(io.BytesIO(data)) else None


def _explain_pip_failure(output: str, requirements: Path, platform: str, python: str) -> str:
    for pattern in _PIP_FAILURES:
        match = pattern.search(output)
        if match:
            return (
                f"cannot fetch requirement {match.group(1)} from {requirements} "
                f"as a wheel for {platform} / CPython {python}"
            )
    if "DO NOT MATCH THE HASHES" in output:
        return f"a requirement from {requirements} does not match its pinned hash:\n" + _tail(output)
    return f"pip could not install the requirements from {requirements}:\n" + _tail(output)


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def _vendor(requirements: Path, python: str, platform: str) -> list[tuple[str, bytes]]:
    """The files pip installs for ``requirements``, as (zip path, bytes), sorted."""
    with tempfile.TemporaryDirectory(prefix="tfgen-vendor-") as target:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--only-binary=:all:",
            "--platform",
            platform,
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--target",
            target,
            "--no-deps",
            "--no-compile",
            "--no-input",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
        ]
        environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            completed = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_SECONDS,
                env=environment,
                check=False,
            )
        except FileNotFoundError:
            raise PackagingError(f"cannot run pip with {sys.executable}") from None
        except subprocess.TimeoutExpired:
            raise PackagingError(
                f"pip did not finish installing {requirements} within {PIP_TIMEOUT_SECONDS}s"
            ) from None
        if completed.returncode != 0:
            raise PackagingError(
                _explain_pip_failure(
                    (completed.stdout or "") + "\n" + (completed.stderr or ""),
                    requirements,
                    platform,
                    python,
                )
            )
        root = Path(target)
        vendored: list[tuple[str, bytes]] = []
        for path, file in _walk(root):
            parts = path.split("/")
            if parts[0] == "bin":
                continue
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _DROPPED_DIST_INFO:
                continue
            vendored.append((path, file.read_bytes()))
    return vendored


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _UNIX_SYSTEM
            info.external_attr = (0o100000 | FILE_MODE) << 16
            archive.writestr(info, files[path], compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise PackagingError(f"cannot write to the package cache {path.parent}: {exc}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise PackagingError(f"cannot write the package cache file {path}: {exc}") from None
