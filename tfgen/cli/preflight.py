"""``tfgen preflight``: read-only checks of the target AWS account before an apply."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("env")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="One line per check, or a JSON document.")
def preflight(env: str, fmt: str) -> None:
    """Check ENV's AWS account before an apply (credentials, state bucket, bucket names, Elastic IP
    quota, Lambda concurrency); exit 1 on any problem. Reads only; uses the caller's credentials."""
    from tfgen.cli.main import project_from_context
    from tfgen.deploy import preflight as core
    from tfgen.errors import Finding

    [loaded] = project_from_context(Path("build")).load([env])
    report = core.run(loaded.name, loaded.model)
    click.echo(report.json() if fmt == "json" else report.text())
    if report.problems:
        raise Finding(f"{env}: {len(report.problems)} problem(s) to fix before an apply")
