"""The command line: convert options, call one core function, report, return an exit code.

Importing this module imports click and nothing of tfgen's work: each command imports what it
needs inside its function, and command groups kept in sibling modules (cli_*.py) are listed in
``LAZY_COMMANDS`` and imported only when invoked, so that ``tfgen --help`` and shell completion
stay fast. A new command follows the same pattern.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any, TypeVar

import click

from tfgen import __version__
from tfgen.cli.completion import environment_names

F = TypeVar("F", bound=Callable[..., Any])

# Commands defined in sibling modules: name -> ("module:attribute", the first line of its help).
# The help is shown by ``tfgen --help`` and completion without importing the module; a test checks
# it matches the command's own.
LAZY_COMMANDS = {
    "adopt": ("tfgen.cli.adopt:adopt",
              "Adopt the stack whose state is FILE as ENV: match by identity, record imports, plan them."),
    "affected": ("tfgen.cli.integrations:affected",
                 "List the environments whose rendered output differs from REF's, and those added or removed."),
    "atlantis": ("tfgen.cli.integrations:atlantis",
                 "Write an Atlantis repo config: one project per environment (dir OUT/ENV) and a workflow that "
                 "runs `tfgen render` and `tfgen plan`. Run it from the repository root."),
    "drift": ("tfgen.cli.drift:drift", "Report what differs in AWS from ENV's reviewed state, by class."),
    "apply": ("tfgen.cli.plan:apply", "Apply the plan `tfgen plan ENV` saved, and nothing else."),
    "plan": ("tfgen.cli.plan:plan", "Plan each ENV into OUT/ENV/plan/ and print its review."),
    "preflight": ("tfgen.cli.preflight:preflight",
                  "Check ENV's AWS account before an apply (credentials, state bucket, bucket names, Elastic IP "
                  "quota, Lambda concurrency); exit 1 on any problem. Reads only; uses the caller's credentials."),
    "release": ("tfgen.cli.release:release",
                "Release new code of ENV's payment functions through green, judging each step."),
    "schema": ("tfgen.cli.integrations:schema",
               "Print the JSON Schema of an environment file, generated from the configuration model."),
    "traffic": ("tfgen.cli.traffic:traffic",
                "Show or move the blue/green traffic split of ENV's payment functions."),
}


class _Root(click.Group):
    """The root group: lists LAZY_COMMANDS by name and help, imports one only when it is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, _, attribute = LAZY_COMMANDS[cmd_name][0].partition(":")
            self.add_command(getattr(import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def _listed(self, ctx: click.Context, incomplete: str = "") -> list[tuple[str, Callable[[int], str]]]:
        """Visible commands starting with ``incomplete``, each with its short help by width."""
        listed: list[tuple[str, Callable[[int], str]]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if not name.startswith(incomplete) or (command is not None and command.hidden):
                continue
            if command is None:  # a stand-in carrying the help, to shorten it exactly as click does
                command = click.Command(name, help=LAZY_COMMANDS[name][1])
            listed.append((name, command.get_short_help_str))
        return listed

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = self._listed(ctx)
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)
            with formatter.section("Commands"):
                formatter.write_dl([(name, short_help(limit)) for name, short_help in listed])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        items = [CompletionItem(name, help=short_help(45)) for name, short_help in self._listed(ctx, incomplete)]
        return [*items, *click.Command.shell_complete(self, ctx, incomplete)]


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


def format_option(func: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                        help="json: one document on stdout, its schema in docs/json/.")(func)


def echo_json(document: dict[str, Any]) -> None:
    from tfgen.cli.views import dump

    click.echo(dump(document))


def set_option(func: F) -> F:
    return click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
                        help="Override a setting on top of the environment file (value parsed as YAML).")(func)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.argument("envs", nargs=-1, shell_complete=environment_names)
@click.option("--all", "all_envs", is_flag=True, help="Render every environment.")
@out_option
@set_option
def render(envs: tuple[str, ...], all_envs: bool, out: Path, overrides: tuple[str, ...]) -> None:
    """Render environments into OUT/ENV (all of them when none is named)."""
    project = project_from_context(out)
    for result in project.write(project.names(envs, all_envs), list(overrides)):
        click.echo(f"{result.env}: {len(result.written)} written, {len(result.unchanged)} unchanged, "
                   f"{len(result.removed)} removed, {result.resources} resources -> {result.path}")


@cli.command()
@format_option
def envs(fmt: str) -> None:
    """List environments with their key settings."""
    from tfgen.cli import views
    from tfgen.config.report import environments_table

    project = project_from_context(Path("build"))
    loaded = project.load(project.names((), True))
    if fmt == "json":
        echo_json(views.environments(loaded))
    else:
        click.echo(environments_table(loaded))


@cli.command()
@click.argument("env", shell_complete=environment_names)
@click.option("--provenance", is_flag=True, help="Annotate each value with where it was set.")
@set_option
def show(env: str, provenance: bool, overrides: tuple[str, ...]) -> None:
    """Print the merged configuration of ENV as YAML."""
    from tfgen.config.report import show_config

    [loaded] = project_from_context(Path("build")).load([env], list(overrides))
    click.echo(show_config(loaded, provenance), nl=False)


@cli.command()
@click.argument("envs", nargs=-1, shell_complete=environment_names)
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
@click.argument("envs", nargs=-1, shell_complete=environment_names)
@out_option
@format_option
def check(envs: tuple[str, ...], out: Path, fmt: str) -> None:
    """Exit 1, listing every output file that is stale, missing or edited by hand, and a
    checked-in environments/schema.json that differs from the configuration model."""
    from tfgen.cli import views
    from tfgen.config.json_schema import schema_drift
    from tfgen.errors import Finding

    project = project_from_context(out)
    results = project.status(project.names(envs, False))
    schema_problems = schema_drift(project.env_dir)
    problems = [line for _, lines in results for line in lines] + schema_problems
    if fmt == "json":
        echo_json(views.check(results, schema_problems))
        if problems:
            sys.exit(1)
        return
    if problems:
        raise Finding("\n".join(problems))
    click.echo(f"{len(results)} environment(s) up to date")


@cli.command()
@click.argument("envs", nargs=-1, shell_complete=environment_names)
@out_option
@format_option
def validate(envs: tuple[str, ...], out: Path, fmt: str) -> None:
    """Parse rendered output, check references, then run terraform fmt and validate when installed."""
    from tfgen.cli import views
    from tfgen.deploy.validation import validate_each, validate_envs
    from tfgen.errors import Finding

    project = project_from_context(out)
    if fmt == "json":
        results, has_terraform = validate_each(project, project.names(envs, False))
        echo_json(views.validate(results, has_terraform))
        if any(result.problems for result in results):
            sys.exit(1)
        return
    problems, notes = validate_envs(project, project.names(envs, False))
    for note in notes:
        click.echo(note)
    if problems:
        raise Finding("\n".join(problems))


def _terraform_command(action: str) -> Callable[..., None]:
    @click.argument("env", shell_complete=environment_names)
    @click.argument("terraform_args", nargs=-1, type=click.UNPROCESSED)
    @out_option
    def command(env: str, terraform_args: tuple[str, ...], out: Path) -> None:
        from tfgen.deploy import terraform

        directory = project_from_context(out).require_current(env)
        code = terraform.stream([action, *terraform_args], directory)
        if code:
            sys.exit(code)

    command.__doc__ = (f"Run `terraform {action}` for ENV (after `--`, extra terraform arguments); "
                       "refuses when the rendered output is not current.")
    return command


for _action in ("init", "destroy"):
    cli.command(name=_action, context_settings={"ignore_unknown_options": True})(_terraform_command(_action))


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
            import traceback

            click.echo(traceback.format_exc().rstrip(), err=True)
        else:
            click.echo("tfgen: run again with --debug for the traceback", err=True)
        return 3
    return 0
