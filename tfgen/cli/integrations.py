"""Commands that meet other tools: the editor schema, change detection for CI, Atlantis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _project(out: Path) -> Any:
    from tfgen.cli.main import project_from_context

    return project_from_context(out)


def _write(text: str, output: Path | None, what: str) -> None:
    """``text`` to stdout, or to ``output`` (replaced atomically) with a one-line note."""
    if output is None:
        click.echo(text, nl=False)
        return
    from tfgen.render.output import replace_text

    written = replace_text(output, text)
    click.echo(f"{output}: {what if written else 'unchanged'}", err=True)


@click.command()
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the schema here (e.g. environments/schema.json) instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of an environment file, generated from the configuration model.

    Editors read it through the first line of each environment file:
    `# yaml-language-server: $schema=schema.json`. `tfgen check` fails when
    environments/schema.json differs from what this prints.
    """
    from tfgen.config.json_schema import schema_text

    _write(schema_text(), output, "JSON Schema of an environment file written")


@click.command()
@click.option("--since", default="HEAD", show_default=True, metavar="REF",
              help="The git revision to compare with (a branch, tag or commit).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github-matrix"]), default="text",
              show_default=True, help="github-matrix: {\"include\": [{\"environment\": ...}]} on one line.")
def affected(since: str, fmt: str) -> None:
    """List the environments whose rendered output differs from REF's, and those added or removed.

    Every environment is rendered twice in memory, as the files are at REF (read
    from git, the work tree untouched) and as they are now; an environment is
    affected when its files or packages differ. A template edit that changes no
    output affects none.
    """
    from tfgen.integrations import affected as core

    result = core.affected(_project(Path("build")), since)
    if fmt == "text":
        for line in core.text_lines(result):
            click.echo(line)
        return
    click.echo({"json": core.json_text, "github-matrix": core.github_matrix}[fmt](result))


@click.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("build"),
              show_default=True, help="Output root the projects' directories are in (OUT/ENV).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=Path("atlantis.yaml"),
              show_default=True, help="Where to write the repo config; '-' for stdout.")
def atlantis(out: Path, output: Path) -> None:
    """Write an Atlantis repo config: one project per environment (dir OUT/ENV) and a
    workflow that runs `tfgen render` and `tfgen plan`. Run it from the repository root."""
    from tfgen.integrations.atlantis import repo_config

    project = _project(out)
    text = repo_config(project, project.names((), True))
    _write(text, None if str(output) == "-" else output, "Atlantis repo config written")
