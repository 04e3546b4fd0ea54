"""``tfgen release``: a canary through green, judged step by step, rolled back on failure."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from tfgen.cli.completion import environment_names
from tfgen.config.names import FUNCTION_KEYS

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        match = _DURATION.match(str(value).strip())
        if not match or float(match[1]) <= 0:
            self.fail(f"expected a duration such as 300, 90s, 5m or 1h, got {value!r}", param, ctx)
        return float(match[1]) * _SECONDS[match[2]]


class Steps(click.ParamType):  # type: ignore[type-arg]
    name = "N,N,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in str(value).split(","))
        except ValueError:
            self.fail(f"expected percentages such as 10,25,50,100, got {value!r}", param, ctx)


@contextlib.contextmanager
def _terraform_to_stderr() -> Iterator[None]:
    """terraform's own output (the applies stream it) goes to stderr; stdout keeps the report."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("env", shell_complete=environment_names)
@click.argument("terraform_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--function", "functions", multiple=True, type=click.Choice(FUNCTION_KEYS), metavar="NAME",
              help=f"Only this function (repeatable); default: all of {', '.join(FUNCTION_KEYS)}.")
@click.option("--version", metavar="N", help="Release this published version; default: publish the current code.")
@click.option("--steps", type=Steps(), default=None,
              help="Green's weight at each step [default: lambda.release.steps].")
@click.option("--bake", type=Duration(), default=None,
              help="Watch each step this long [default: lambda.release.bake_s].")
@click.option("--yes", is_flag=True, help="Run without asking (required when stdin is not a terminal).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="Of the final report; progress lines go to stderr.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("build"), show_default=True,
              help="Output root; ENV is in OUT/ENV.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="The --set settings OUT/ENV is rendered with.")
def release(env: str, terraform_args: tuple[str, ...], functions: tuple[str, ...], version: str | None,
            steps: tuple[int, ...] | None, bake: float | None, yes: bool, fmt: str, out: Path,
            overrides: tuple[str, ...]) -> None:
    """Release new code of ENV's payment functions through green, judging each step.

    Publishes the current code as a version no live alias runs (unless
    --version), then per step moves green to it, renders, plans, stops unless
    the plan is exactly that move, applies, bakes and judges green against
    blue on CloudWatch metrics and the environment's alarms. A failed step is
    rolled back (exit 1); a step still too thin to judge after the longest
    bake stops the release where it is (exit 4). The last step promotes and
    finalizes. Interrupted, it resumes with the same command. Terraform
    arguments for each plan go after `--`.
    """
    from tfgen.cli.main import project_from_context
    from tfgen.deploy import release as core
    from tfgen.deploy import release_format
    from tfgen.errors import UsageError

    if not yes and not (sys.stdin.isatty() and click.confirm(f"Release {env} now?", err=True)):
        raise UsageError("release: not confirmed: pass --yes to run without asking")
    options = core.Options(functions, version, steps, bake, overrides, terraform_args)
    with _terraform_to_stderr():
        report = core.release(project_from_context(out), env, options, say=lambda line: click.echo(line, err=True))
    render = {"json": release_format.render_json, "markdown": release_format.render_markdown}
    click.echo(render.get(fmt, release_format.render_text)(report), nl=False)
    if report.exit_code:
        sys.exit(report.exit_code)
