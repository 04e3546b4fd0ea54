"""``tfgen traffic``: show and move the blue/green traffic split of the payment functions."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tfgen.cli.completion import environment_names
from tfgen.config.names import FUNCTION_KEYS

if TYPE_CHECKING:
    from tfgen.deploy.traffic import Move
    from tfgen.project import Project

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_OUT = Path("build")


def _common(func: F) -> F:
    """``--out`` and ``--plan``: on the group (before ENV) and on each subcommand."""
    plan = click.option("--plan", is_flag=True,
                        help="Run `terraform plan` in OUT/ENV afterwards, not the diff.")
    out = click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
                       help=f"Output root; ENV is rendered to OUT/ENV.  [default: {DEFAULT_OUT}]")
    return out(plan(func))


def _functions(func: F) -> F:
    return click.option("--function", "functions", multiple=True, type=click.Choice(FUNCTION_KEYS),
                        metavar="NAME", help="Only this function (repeatable); default: all of "
                        f"{', '.join(FUNCTION_KEYS)}.")(func)


def _force(func: F) -> F:
    return click.option("--force", is_flag=True,
                        help="Override the step and version guard rails.")(func)


def _project(out: Path) -> Project:
    """The project as the root command configured it (environments, templates, lambdas)."""
    from tfgen.cli.main import project_from_context as root_project

    project: Project = root_project(out)
    return project


@dataclass(frozen=True)
class _Group:
    """What the ``traffic`` group parsed, for its subcommands."""

    env: str
    out: Path | None
    plan: bool


def _target(out: Path | None, plan: bool) -> tuple[Project, str, bool]:
    """The project, environment and --plan of a command; the group's options fill the gaps."""
    group = click.get_current_context().find_object(_Group)
    if group is None:
        raise RuntimeError("traffic subcommand invoked outside the traffic group")
    return _project(out or group.out or DEFAULT_OUT), group.env, plan or group.plan


def _plan(directory: Path) -> None:
    from tfgen.deploy import terraform

    code = terraform.stream(["plan"], directory)
    if code:
        sys.exit(code)


def _each(functions: tuple[str, ...], move: Move) -> dict[str, Move]:
    """``move`` for each of ``functions`` (all payment functions when none is named)."""
    return dict.fromkeys(functions or FUNCTION_KEYS, move)


def _move(moves: Mapping[str, Move], out: Path | None, plan: bool) -> None:
    """Apply ``moves``, report each changed setting and the written output, then diff or plan."""
    from tfgen.deploy import traffic as core

    project, env, run_plan = _target(out, plan)
    applied = core.apply(project, env, moves)
    for change in applied.changes:
        click.echo(f"{applied.env_file}: {change}")
    if not applied.changes:
        click.echo(f"{applied.env_file}: no change")
    result = applied.result
    click.echo(f"{env}: {len(result.written)} written, {len(result.unchanged)} unchanged, "
               f"{len(result.removed)} removed -> {result.path}")
    if run_plan:
        _plan(result.path)
    else:
        click.echo(applied.diff, nl=False)


@click.group(invoke_without_command=True)
@click.argument("env", shell_complete=environment_names)
@_common
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Of the view (without a subcommand); json: its schema is docs/json/traffic.schema.json.")
@click.pass_context
def traffic(ctx: click.Context, env: str, out: Path | None, plan: bool, fmt: str) -> None:
    """Show or move the blue/green traffic split of ENV's payment functions.

    Without a subcommand: per function, the version behind the `blue` and
    `green` aliases, their weights, and whether OUT/ENV matches a fresh render
    (current, stale, missing or edited).

    \b
    Once:       pin                                   (aliases := deployed versions)
    A release:  shift --green 10 --green-version 7   (then 25, 50)
                promote                               (green 100)
                finalize                              (blue := green, blue 100)
    At any point before finalize: rollback            (blue 100)

    Each move edits environments/ENV.yaml in place, validates and renders
    the result before writing anything, rewrites OUT/ENV and prints the diff.
    """
    ctx.obj = _Group(env, out, plan)
    if ctx.invoked_subcommand is not None:
        return
    from tfgen.deploy import traffic as core

    project, env, run_plan = _target(None, False)
    current = core.view(project, env)
    if fmt == "json":
        from tfgen.cli.views import dump
        from tfgen.cli.views import traffic as traffic_view

        click.echo(dump(traffic_view(current)))
    else:
        click.echo(core.table(current))
    if run_plan:
        _plan(project.require_current(env))


@traffic.command()
@click.option("--green", type=click.IntRange(0, 100), required=True, metavar="N",
              help="Percent of requests for green; blue gets 100-N.")
@click.option("--green-version", metavar="VERSION",
              help="Also point the green alias at this published version (or 'latest').")
@click.option("--max-step", type=click.IntRange(1, 100), default=None,
              help="Refuse to raise green by more than this many points "
                   "[default: lambda.traffic_max_step of the environment].")
@_force
@_functions
@_common
def shift(green: int, green_version: str | None, max_step: int | None, force: bool,
          functions: tuple[str, ...], out: Path | None, plan: bool) -> None:
    """Give green N percent of the traffic and blue the rest.

    Refused, unless --force: raising green by more than --max-step points;
    sending traffic to green while it runs the same version as blue (two
    'latest' aliases cannot be told apart). Lowering green is never limited.
    """
    from tfgen.deploy import traffic as core

    if max_step is None:
        project, env, _ = _target(out, plan)
        max_step = project.load([env])[0].model.lambda_.traffic_max_step
    _move(_each(functions, partial(core.shifted, green=green, green_version=green_version, max_step=max_step,
                                   force=force)), out, plan)


@traffic.command()
@_force
@_functions
@_common
def promote(force: bool, functions: tuple[str, ...], out: Path | None, plan: bool) -> None:
    """Send all traffic to green (blue 0, green 100).

    Refused, unless --force, while green takes no traffic yet or runs the
    same version as blue. Not limited by --max-step: this is the cutover.
    """
    from tfgen.deploy import traffic as core

    _move(_each(functions, partial(core.promoted, force=force)), out, plan)


@traffic.command()
@_functions
@_common
def finalize(functions: tuple[str, ...], out: Path | None, plan: bool) -> None:
    """Make the promoted green the new blue: blue runs green's version, blue 100, green 0.

    Refused unless green takes 100 percent (run promote first). Afterwards both
    aliases run the new version and the next release goes to green; the old
    version is no longer referenced, so `rollback` cannot return to it.
    """
    from tfgen.deploy import traffic as core

    _move(_each(functions, core.finalized), out, plan)


@traffic.command()
@_functions
@_common
def rollback(functions: tuple[str, ...], out: Path | None, plan: bool) -> None:
    """Send all traffic back to blue at once (blue 100, green 0).

    No step or version guard applies: this is the way back at any point
    before finalize.
    """
    from tfgen.deploy import traffic as core

    _move(_each(functions, core.rolled_back), out, plan)


@traffic.command()
@_functions
@_common
def pin(functions: tuple[str, ...], out: Path | None, plan: bool) -> None:
    """Pin each alias to the version it runs now, read from the state.

    Reads `terraform show -json` of OUT/ENV's state and writes the published
    version behind every blue and green alias into environments/ENV.yaml, so
    that a later code deploy publishes a version no live alias runs until
    `shift --green N --green-version VERSION` moves green to it.
    """
    from tfgen.deploy import terraform
    from tfgen.deploy import traffic as core

    project, env, _ = _target(out, plan)
    state = terraform.show_json(project.target(env))
    _move(core.pin_moves(env, state, functions or core.FUNCTIONS), out, plan)
