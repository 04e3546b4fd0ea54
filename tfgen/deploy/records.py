"""The private record of each saved plan: what ``tfgen plan`` reviewed, kept where only the user can write.

``plan/meta.json`` sits in ``OUT/ENV``, which whoever can write the rendered tree can write too: it is
a copy for people. The record ``tfgen apply`` trusts is kept in tfgen's state directory
(``TFGEN_STATE_DIR``, else ``$XDG_STATE_HOME/tfgen``, else ``~/.local/state/tfgen``), in ``plans/``,
one file per environment directory, named by the sha256 of that directory's resolved absolute path.
The directories are made 0700 and a record is written 0600; a state directory another user owns or
can write is refused. A plan made by another user or on another machine has no record here.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from tfgen.errors import Finding

STATE_VAR = "TFGEN_STATE_DIR"


class Unsafe(Finding):
    """tfgen's state directory is not the user's alone; nothing was recorded or trusted."""


def state_root() -> Path:
    """tfgen's state directory: TFGEN_STATE_DIR, else tfgen under the user's state directory."""
    root = os.environ.get(STATE_VAR) or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "tfgen")
    return Path(root).absolute()


def path_of(directory: Path) -> Path:
    """Where the record of the plan saved in ``directory`` is kept."""
    name = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()
    return state_root() / "plans" / f"{name}.json"


def _private_dir() -> Path:
    """``plans/`` in the state directory, made 0700 when missing; Unsafe when either is not the user's alone."""
    root = state_root()
    plans = root / "plans"
    for path, others in ((root, 0o022), (plans, 0o077)):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = os.lstat(path)
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
            raise Unsafe(f"{path}: tfgen's state directory is not a directory of this user: set {STATE_VAR} "
                         "to a directory only you can write")
        if found.st_mode & others:
            raise Unsafe(f"{path}: tfgen's state directory is writable by others (mode "
                         f"{stat.S_IMODE(found.st_mode):o}): chmod 700 it, or set {STATE_VAR}")
    return plans


def write(directory: Path, document: Any) -> None:
    """Record ``document`` for the plan saved in ``directory`` (0600, replaced atomically)."""
    target = path_of(directory)
    fd, temporary = tempfile.mkstemp(dir=_private_dir(), prefix=".record-")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read(directory: Path) -> Any | None:
    """The record of the plan saved in ``directory``, parsed; None when there is none. ValueError when
    it cannot be read or is not JSON."""
    path = path_of(directory)
    _private_dir()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        return json.loads(handle.read())


def remove(directory: Path) -> None:
    """Forget the plan saved in ``directory`` (applied, or replaced by a new plan)."""
    path_of(directory).unlink(missing_ok=True)
