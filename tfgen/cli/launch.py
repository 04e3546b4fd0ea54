"""The console entry point: ``tfgen --help`` from the help text kept beside this module, anything
else through the command line (tfgen.cli.main).

The root help is the one thing users run that needs no work at all, yet importing click alone
costs about as much as starting Python. ``help.txt`` is exactly what click prints for
``tfgen --help`` at its full width (78 columns, what click uses on a terminal of 80 or more and
off a terminal); tests/cli/test_launch.py fails when it differs (``pytest --update-golden`` writes
it anew). On a narrower terminal click wraps the text itself, so it is asked instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

HELP_FILE = os.path.join(os.path.dirname(__file__), "help.txt")
HELP_ARGS = (["--help"], ["-h"])
FULL_WIDTH = 80  # click's default max_content_width: from this many columns on, help is the same


def columns() -> int:
    """The terminal's width as click (shutil.get_terminal_size) finds it, without importing it."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else FULL_WIDTH
    except (AttributeError, ValueError, OSError):
        return FULL_WIDTH


def kept_help(args: Sequence[str]) -> str | None:
    """The kept root help when ``args`` ask for it and click would print that very text."""
    if list(args) not in HELP_ARGS or columns() < FULL_WIDTH:
        return None
    try:
        with open(HELP_FILE, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    text = kept_help(args)
    if text is not None:
        sys.stdout.write(text)
        return 0
    from tfgen.cli.main import main as run

    return run(args)
