"""Deterministic, atomic writing of a rendered tree, and what is on disk compared with it.

An environment's output directory is replaced as a whole: the new tree is
built in a temporary directory beside it (identical files hard-linked, so
their mtime is kept; files tfgen does not own, such as ``.terraform/`` or a
local state file, linked across) and swapped in with one atomic exchange.
A failure at any point leaves the previous tree exactly as it was. Large
files identical across environments written in one run (the Lambda packages)
are hard links to one copy.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfgen import __version__
from tfgen.errors import OutputError
from tfgen.inputs import MANIFEST, stray_terraform_files
from tfgen.inputs import OLD_MARK as _OLD_MARK
from tfgen.inputs import TMP_MARK as _TMP_MARK

if TYPE_CHECKING:
    from tfgen.render.templates import Rendered

_RENAME_EXCHANGE = 2


@dataclass
class WriteResult:
    env: str
    path: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    resources: int = 0


@dataclass
class Status:
    """How the files on disk compare with a fresh render."""

    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)  # terraform would load them; tfgen did not write them

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.edited or self.orphaned or self.stray)

    def lines(self, target: Path) -> list[str]:
        out = [f"{target / p}: missing" for p in self.missing]
        out += [f"{target / p}: stale (run tfgen render)" for p in self.stale]
        out += [f"{target / p}: edited by hand since tfgen wrote it" for p in self.edited]
        out += [f"{target / p}: no longer produced by any template" for p in self.orphaned]
        out += [f"{target / p}: terraform would load this file, which tfgen did not write: remove it"
                for p in self.stray]
        return sorted(out)


def sha256(data: bytes) -> str:
    """Hex digest; memoised for large files, as one package's bytes are shared by every environment
    (a cache of the small ones would only hold on to the last few hundred rendered files)."""
    return _sha256_memo(data) if len(data) >= MEMO_FROM else hashlib.sha256(data).hexdigest()


MEMO_FROM = 16 * 1024  # bytes


@lru_cache(maxsize=16)
def _sha256_memo(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(rendered: Rendered, digests: dict[str, str] | None = None) -> bytes:
    """The manifest of ``rendered``; ``digests`` are the files' sha256 when already computed."""
    if digests is None:
        digests = {path: sha256(data) for path, data in rendered.files.items()}
    body = {
        "tfgen_version": __version__,
        "environment": rendered.env,
        "config_digest": rendered.config_digest,
        "files": dict(sorted(digests.items())),
    }
    if rendered.input_digest is not None:
        body["input_digest"] = rendered.input_digest
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def read_manifest(target: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise OutputError(f"{target / MANIFEST}: unreadable manifest: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise OutputError(f"{target / MANIFEST}: not a tfgen manifest")
    return data


def _owned(target: Path) -> dict[str, str]:
    """Files tfgen wrote into ``target`` earlier, with their sha256; refuses foreign directories."""
    manifest = read_manifest(target)
    if manifest is None:
        if target.exists() and any(target.iterdir()):
            raise OutputError(f"{target}: not empty and has no {MANIFEST}: refusing to write into a "
                              "directory tfgen did not create")
        return {}
    return {str(k): str(v) for k, v in manifest["files"].items()}


def status(rendered: Rendered, target: Path) -> Status:
    owned = _owned(target) if target.exists() else {}
    result = Status()
    for path, data in sorted(rendered.files.items()):
        current = target / path
        if not current.is_file():
            result.missing.append(path)
            continue
        on_disk = sha256(current.read_bytes())
        if path in owned and on_disk != owned[path]:
            result.edited.append(path)
        elif on_disk != sha256(data):
            result.stale.append(path)
    result.orphaned = sorted(p for p in owned if p not in rendered.files and (target / p).exists())
    result.stray = stray_terraform_files(target, set(owned) | set(rendered.files))
    if result.clean and not (target / MANIFEST).is_file():
        result.missing.append(MANIFEST)
    return result


def recover(target: Path) -> None:
    """Undo what an interrupted write left beside ``target``."""
    _recover(target.parent, target.name)


def recover_all(out_dir: Path) -> None:
    """Undo what interrupted writes left beside any environment directory in ``out_dir``."""
    _recover(out_dir, None)


def _recover(parent: Path, only: str | None) -> None:
    if not parent.is_dir():
        return
    with os.scandir(parent) as entries:
        leftovers = sorted(e.name for e in entries if _TMP_MARK in e.name or _OLD_MARK in e.name)
    for entry in leftovers:
        for mark in (_OLD_MARK, _TMP_MARK):
            name, sep, _ = entry[1:].partition(mark)
            if not sep or not entry.startswith(".") or (only is not None and name != only):
                continue
            target = parent / name
            if mark == _OLD_MARK and not target.exists():
                os.rename(parent / entry, target)
            else:
                shutil.rmtree(parent / entry, ignore_errors=True)


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, dest, follow_symlinks=False)


def _carry_over(target: Path, staging: Path, owned: dict[str, str], new: set[str]) -> None:
    """Link everything tfgen does not own (``.terraform/``, state, user files) into ``staging``."""
    for root, dirs, files in os.walk(target):
        rel_root = Path(root).relative_to(target)
        for d in list(dirs):
            source = Path(root) / d
            if source.is_symlink():  # terraform links cached providers into .terraform/
                os.symlink(os.readlink(source), staging / rel_root / d)
                dirs.remove(d)
            else:
                (staging / rel_root / d).mkdir(exist_ok=True)
        for f in files:
            rel = (rel_root / f).as_posix()
            if rel in owned or rel in new or rel == MANIFEST:
                continue
            _link_or_copy(Path(root) / f, staging / rel)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is None:
        return False
    at_fdcwd = -100
    if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SharedFiles:
    """Large files already written in this run, by content, so that identical bytes in another
    environment (the Lambda packages) are hard-linked rather than written again. Only files in
    tfgen's own output, which nothing but tfgen writes, are ever linked."""

    MIN_SIZE = 16 * 1024

    def __init__(self) -> None:
        self._paths: dict[str, str] = {}

    def link(self, digest: str, dest: str) -> bool:
        source = self._paths.get(digest)
        if source is None:
            return False
        try:
            os.link(source, dest, follow_symlinks=False)
        except OSError:  # moved away, another filesystem, too many links: write instead
            del self._paths[digest]
            return False
        return True

    def remember(self, digest: str, path: str, size: int) -> None:
        if size >= self.MIN_SIZE:
            self._paths.setdefault(digest, path)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _write_file(path: str, data: bytes) -> None:
    """A new file holding ``data``, mode 0644 whatever the umask, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.fchmod(fd, 0o644)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def write(rendered: Rendered, target: Path, recovered: bool = False,
          shared: SharedFiles | None = None) -> WriteResult:
    """Make ``target`` hold exactly ``rendered`` plus what tfgen does not own.

    ``recovered`` says the caller already cleaned up after interrupted writes in the parent;
    ``shared`` carries the large files written earlier in the same run, to link instead of copy.
    """
    if not recovered:
        recover(target)
    owned = _owned(target)
    digests = {path: sha256(data) for path, data in rendered.files.items()}
    files = dict(rendered.files)
    files[MANIFEST] = manifest_bytes(rendered, digests)
    result = WriteResult(env=rendered.env, path=target, resources=rendered.resource_count)
    root = os.fspath(target)
    exists = os.path.isdir(root)
    same = {path for path, data in files.items() if exists and _read(os.path.join(root, path)) == data}
    for path in sorted(rendered.files):
        (result.unchanged if path in same else result.written).append(path)
    result.removed = sorted(p for p in owned if p not in files and (target / p).exists())
    if not result.written and not result.removed and MANIFEST in same:
        _remember(shared, root, rendered.files, digests)
        return result
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_MARK}", dir=target.parent))
    stage = os.fspath(staging)
    try:
        if exists:
            _carry_over(target, staging, owned, set(files))
        made = {stage}
        for path, data in sorted(files.items()):
            dest = os.path.join(stage, path)
            parent = os.path.dirname(dest)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            if path in same:
                _link_or_copy(Path(root, path), Path(dest))
            elif not (shared is not None and path in digests and shared.link(digests[path], dest)):
                _write_file(dest, data)
        os.chmod(staging, 0o755)
        _fsync_dir(staging)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remember(shared, root, rendered.files, digests)
    return result


def _remember(shared: SharedFiles | None, root: str, files: dict[str, bytes], digests: dict[str, str]) -> None:
    if shared is not None:
        for path, data in files.items():
            shared.remember(digests[path], os.path.join(root, path), len(data))


def _swap(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        _fsync_dir(target.parent)
        return
    if _exchange(staging, target):
        _fsync_dir(target.parent)
        shutil.rmtree(staging)
        return
    old = target.parent / f".{target.name}{_OLD_MARK}{staging.name.rsplit('-', 1)[-1]}"
    os.rename(target, old)
    os.rename(staging, target)
    _fsync_dir(target.parent)
    shutil.rmtree(old)


def replace_text(path: Path, text: str) -> bool:
    """Write one generated file atomically (a temporary file beside it, then ``os.replace``);
    an identical file is left alone. True when the file was written."""
    data = text.encode()
    if _read(str(path)) == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=_TMP_MARK, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return True
