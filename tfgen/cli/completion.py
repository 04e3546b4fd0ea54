"""Shell completion of environment names (click calls these; they import nothing heavy)."""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem


def environment_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The environments of the project's environments directory (``--environments``, if given
    before the command) whose names start with ``incomplete``."""
    from tfgen import inputs
    from tfgen.errors import UsageError

    directory = ctx.find_root().params.get("environments") or Path("environments")
    try:
        names = inputs.environment_names(Path(directory))
    except (UsageError, OSError):
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
