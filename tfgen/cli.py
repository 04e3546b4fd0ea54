"""The command line: convert options, call one core function, report, return an exit code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from tfgen import __version__
from tfgen.cli_plan import apply, plan
from tfgen.cli_traffic import traffic

F = TypeVar("F", bound=Callable[..., Any])


def project_from_context(out: Path) -> Any:
    """The Project the root command's options describe, writing under ``out``."""
    from tfgen.project import Project

    ctx = click.get_current_context().find_root()
    lambdas: Path = ctx.params["lambdas"]
    return Project(env_dir=ctx.params["environments"], template_dir=ctx.params["templates"], out_dir=out,
                   lambda_dir=lambdas)


def out_option(func: F) -> F:
    return click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("build"),
                        show_default=True, help="Output root; each environment goes to OUT/ENV.")(func)


def set_option(func: F) -> F:
    return click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
                        help="Override a setting on top of the environment file (value parsed as YAML).")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfgen")
@click.option("--environments", type=click.Path(path_type=Path, file_okay=False), default=Path("environments"),
              show_default=True, help="Directory of defaults.yaml and one YAML file per environment.")
@click.option("--templates", type=click.Path(path_type=Path, file_okay=False), default=Path("templates"),
              show_default=True, help="Directory of <name>.tf.j2 templates.")
@click.option("--lambdas", type=click.Path(path_type=Path, file_okay=False), default=Path("lambdas"),
              show_default=True, help="Directory of the Lambda functions' source, packaged into OUT/ENV/packages.")
@click.option("--debug", is_flag=True, help="Show a traceback for unexpected errors.")
def cli(environments: Path, templates: Path, lambdas: Path, debug: bool) -> None:
    """Render plain Terraform for the payment platform from templates and per-environment YAML."""


@cli.command()
@click.argument("envs", nargs=-1)
@click.option("--all", "all_envs", is_flag=True, help="Render every environment.")
@out_option
@set_option
def render(envs: tuple[str, ...], all_envs: bool, out: Path, overrides: tuple[str, ...]) -> None:
    """Render environments into OUT/ENV (all of them when none is named)."""
    project = project_from_context(out)
    for rendered, result in project.write(project.names(envs, all_envs), list(overrides)):
        click.echo(f"{rendered.env}: {len(result.written)} written, {len(result.unchanged)} unchanged, "
                   f"{len(result.removed)} removed, {rendered.resource_count} resources -> {result.path}")


@cli.command()
def envs() -> None:
    """List environments with their key settings."""
    from tfgen.report import environments_table

    project = project_from_context(Path("build"))
    click.echo(environments_table(project.load(project.names((), True))))


@cli.command()
@click.argument("env")
@click.option("--provenance", is_flag=True, help="Annotate each value with where it was set.")
@set_option
def show(env: str, provenance: bool, overrides: tuple[str, ...]) -> None:
    """Print the merged configuration of ENV as YAML."""
    from tfgen.report import show_config

    [loaded] = project_from_context(Path("build")).load([env], list(overrides))
    click.echo(show_config(loaded, provenance), nl=False)


@cli.command()
@click.argument("envs", nargs=-1)
@out_option
def diff(envs: tuple[str, ...], out: Path) -> None:
    """Show what a fresh render would change on disk; exit 1 if anything differs."""
    from tfgen.errors import Finding

    project = project_from_context(out)
    text = project.diff(project.names(envs, False))
    if text:
        click.echo(text, nl=False)
        raise Finding("output differs from a fresh render")


@cli.command()
@click.argument("envs", nargs=-1)
@out_option
def check(envs: tuple[str, ...], out: Path) -> None:
    """Exit 1, listing every output file that is stale, missing or edited by hand."""
    from tfgen.errors import Finding

    project = project_from_context(out)
    results = project.status(project.names(envs, False))
    problems = [line for _, lines in results for line in lines]
    if problems:
        raise Finding("\n".join(problems))
    click.echo(f"{len(results)} environment(s) up to date")


@cli.command()
@click.argument("envs", nargs=-1)
@out_option
def validate(envs: tuple[str, ...], out: Path) -> None:
    """Parse rendered output, check references, then run terraform fmt and validate when installed."""
    from tfgen.errors import Finding
    from tfgen.validation import validate_envs

    project = project_from_context(out)
    problems, notes = validate_envs(project, project.names(envs, False))
    for note in notes:
        click.echo(note)
    if problems:
        raise Finding("\n".join(problems))


def _terraform_command(action: str) -> Callable[..., None]:
    @click.argument("env")
    @click.argument("terraform_args", nargs=-1, type=click.UNPROCESSED)
    @out_option
    def command(env: str, terraform_args: tuple[str, ...], out: Path) -> None:
        from tfgen import terraform

        directory = project_from_context(out).require_current(env)
        code = terraform.stream([action, *terraform_args], directory)
        if code:
            sys.exit(code)

    command.__doc__ = (f"Run `terraform {action}` for ENV (after `--`, extra terraform arguments); "
                       "refuses when the rendered output is not current.")
    return command


for _action in ("init", "destroy"):
    cli.command(name=_action, context_settings={"ignore_unknown_options": True})(_terraform_command(_action))

cli.add_command(plan)
cli.add_command(apply)
cli.add_command(traffic)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; the one place errors become messages and exit codes."""
    from tfgen.errors import TfgenError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="tfgen", standalone_mode=False)
    except TfgenError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("tfgen: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # the last line of defence: anything else is a bug
        click.echo(f"tfgen: unexpected error: {type(exc).__name__}: {exc}", err=True)
        if "--debug" in args:
            click.echo(traceback.format_exc().rstrip(), err=True)
        else:
            click.echo("tfgen: run again with --debug for the traceback", err=True)
        return 3
    return 0
