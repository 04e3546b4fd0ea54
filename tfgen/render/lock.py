"""One tfgen command at a time on an environment's output: a render, a plan or an apply.

``held`` takes an exclusive ``flock`` on ``OUT/ENV/.tfgen-plan.lock`` (outside ``plan/``, which
``tfgen plan`` removes and makes again) for as long as the command runs. A second command on the
same environment is refused at once, naming the one that holds it; nothing waits. The kernel
drops the lock when the process ends, however it ends, so a killed run leaves no stale lock; the
file itself stays (removing it would let two processes lock two different files).

The lock is re-entrant within one thread: ``tfgen release`` holds it for the whole release and
plans and applies each step through the same ``tfgen plan`` / ``tfgen apply`` code, which takes it
again; any other command, in this process or another, is refused.

The file is none of tfgen's output (the manifest does not list it, terraform does not load it):
a re-render carries it over as a hard link, so the lock holds across a render. ``tfgen render``
holds it while it replaces the tree, so a render cannot land while a plan or an apply runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from tfgen.errors import Finding

LOCK_FILE = ".tfgen-plan.lock"


_HELD: dict[Path, int] = {}  # directory -> the thread that holds its lock in this process
_GUARD = threading.Lock()


class Busy(Finding):
    """Another tfgen command holds the environment's lock; nothing was done there."""

    def __init__(self, directory: Path, holder: str, verb: str) -> None:
        super().__init__(f"{directory}: busy: {holder} is running on this environment; {verb} refused, nothing "
                         "changed: try again when it ends")
        self.directory, self.holder = directory, holder

    def stopped(self, written: Sequence[str], left: Sequence[str]) -> Finding:
        """This refusal, as where a render of several environments stopped: after writing ``written``,
        before ``left`` (this environment first)."""
        return Finding(f"{self.directory}: busy: {self.holder} is running on this environment; render stopped "
                       f"there: {_names(written)} written, {_names(left)} not: render {' '.join(left)} again "
                       "when it ends")


def _names(envs: Sequence[str]) -> str:
    return ", ".join(envs) + (" was" if len(envs) == 1 else " were")


@contextlib.contextmanager
def held(directory: Path, command: str) -> Iterator[None]:
    """Hold the lock of the environment in ``directory`` while the block runs; ``command`` (such as
    ``tfgen plan dev``) names this holder to anyone refused meanwhile."""
    key = directory.resolve()
    with _GUARD:
        mine = _HELD.get(key) == threading.get_ident()
    if mine:
        yield
        return
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another tfgen command"
            verb = command.split()[1] if len(command.split()) > 1 else command
            raise Busy(directory, holder, verb) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{command} (pid {os.getpid()})\n".encode(), 0)
        with _GUARD:
            _HELD[key] = threading.get_ident()
        try:
            yield
        finally:
            with _GUARD:
                del _HELD[key]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the only descriptor releases the lock
