"""Shell completion of environment names (click calls these; they import nothing heavy)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem

_DEFAULTS = "defaults.yaml"


def environment_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The environments of the project's environments directory (``--environments``, if given
    before the command) whose names start with ``incomplete``."""
    directory = ctx.find_root().params.get("environments") or Path("environments")
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    names = sorted(entry[:-5] for entry in entries if entry.endswith(".yaml") and entry != _DEFAULTS)
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
