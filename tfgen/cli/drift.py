"""``tfgen drift``: what changed in AWS outside terraform, judged."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tfgen.cli.completion import environment_names


@click.command()
@click.argument("env", shell_complete=environment_names)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="text (coloured on a terminal), json (documented schema), markdown.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("build"),
              show_default=True, help="Output root; each environment is in OUT/ENV.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="The --set settings OUT/ENV was rendered with.")
def drift(env: str, fmt: str, out: Path, overrides: tuple[str, ...]) -> None:
    """Report what differs in AWS from ENV's reviewed state, by class.

    Runs `terraform plan -refresh-only` into OUT/ENV/drift/ (changing nothing)
    and judges it: access gained, traffic moved, data protection reduced,
    detection reduced, other differences, each with the live and the reviewed
    value; provider-default noise is filtered and listed. Exit 0 without drift,
    4 with other differences only, 5 with drift in a security class or drift
    that cannot be judged; 1-3 on a failure.
    """
    from tfgen.cli.main import project_from_context
    from tfgen.deploy import drift_format
    from tfgen.deploy.drift import detect, exit_code

    report = detect(project_from_context(out), env, overrides)
    if fmt == "json":
        click.echo(drift_format.render_json(report), nl=False)
    elif fmt == "markdown":
        click.echo(drift_format.render_markdown(report), nl=False)
    else:
        color = sys.stdout.isatty()
        click.echo(drift_format.render_text(report, color), nl=False, color=color)
    code = exit_code(report)
    if code:
        sys.exit(code)
