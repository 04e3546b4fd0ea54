"""``tfgen plan`` and ``tfgen apply``: a reviewed, saved plan, and applying exactly that plan."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import click

from tfgen.cli.completion import environment_names
from tfgen.config.names import FUNCTION_KEYS

# --detailed-exitcode: 0 no changes; these when there are changes (1-3 keep their meaning).
EXIT_CHANGES = 4
EXIT_REFUSED = 5


def _split(words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Environment names, then terraform arguments (every word starting with '-')."""
    envs = [w for w in words if not w.startswith("-")]
    return envs, [w for w in words if w.startswith("-")]


def _out(func: click.decorators.FC) -> click.decorators.FC:
    return click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("build"),
                        show_default=True, help="Output root; each environment is in OUT/ENV.")(func)


def _set(func: click.decorators.FC) -> click.decorators.FC:
    return click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
                        help="The --set settings OUT/ENV was rendered with.")(func)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="ENV [ENV...] [-- TF_ARGS]",
                shell_complete=environment_names)
@click.option("--all", "all_envs", is_flag=True, help="Plan every environment.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Plan up to this many environments side by side.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="text (coloured on a terminal), json (documented schema), markdown.")
@click.option("--detailed-exitcode", is_flag=True,
              help=f"Exit 0 without changes, {EXIT_CHANGES} with changes `tfgen apply` accepts, "
                   f"{EXIT_REFUSED} with changes it refuses without an override.")
@_out
@_set
def plan(words: tuple[str, ...], all_envs: bool, jobs: int, fmt: str, detailed_exitcode: bool, out: Path,
         overrides: tuple[str, ...]) -> None:
    """Plan each ENV into OUT/ENV/plan/ and print its review.

    Refuses output that is not current. Runs `terraform plan -out`, keeps the
    plan file, its `terraform show -json` and the digest of the rendered tree,
    then reviews the plan: counts, data loss, detection reduced, live traffic,
    access gained, credentials, the rest. Terraform arguments (after `--`) start with '-':
    write `-var=name=value`, `-target=ADDRESS`. With several environments, one
    that fails is reported (on stderr, under its name) and the others go on;
    the exit code is the highest of any.
    """
    from tfgen.cli.main import project_from_context
    from tfgen.deploy import fanout, plans, review_format
    from tfgen.deploy.review import Review
    from tfgen.errors import UsageError

    envs, terraform_args = _split(words)
    project = project_from_context(out)
    if all_envs:
        envs = project.names((), True)
    if not envs:
        raise UsageError("plan: name at least one environment, or --all")
    outcomes: list[fanout.Outcome] = []
    changed = refused = False

    def reviews() -> Iterator[Review]:  # each printed as it comes; only its outcome is kept
        nonlocal changed, refused
        for planned in plans.plan_many(project, envs, overrides, terraform_args, jobs):
            outcomes.append(planned.outcome)
            for note in planned.notes:
                click.echo(f"tfgen: {note}", err=True)
            if planned.review is not None:
                changed, refused = changed or planned.review.changes, refused or bool(planned.review.refusals())
                yield planned.review

    color = sys.stdout.isatty() if fmt == "text" else None
    if fmt == "json":
        chunks = review_format.json_chunks(reviews())
    else:
        render = review_format.render_markdown if fmt == "markdown" else partial(review_format.render_text,
                                                                                 color=bool(color))
        chunks = (("\n" if index else "") + render(result) for index, result in enumerate(reviews()))
    for chunk in chunks:
        click.echo(chunk, nl=False, color=color)
    failed = [outcome for outcome in outcomes if outcome.exit_code]
    if len(envs) == 1 and failed:
        click.echo(failed[0].output, err=True)
    elif failed:
        click.echo("".join(fanout.group(outcome) for outcome in failed), nl=False, err=True)
        click.echo(fanout.summary(outcomes), err=True)
    if failed:
        sys.exit(fanout.exit_code(failed))
    if detailed_exitcode and changed:
        sys.exit(EXIT_REFUSED if refused else EXIT_CHANGES)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("env", shell_complete=environment_names)
@click.argument("terraform_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--allow-data-loss", "allow_data_loss", multiple=True, metavar="ADDRESS",
              help="Apply this one delete or replace of a data-bearing resource (repeatable).")
@click.option("--allow-detection-loss", "allow_detection_loss", multiple=True, metavar="ADDRESS",
              help="Apply this one change that stops or weakens logging or alerting: a flow log or alarm "
                   "deleted, an alarm's actions removed (repeatable).")
@click.option("--allow-traffic-risk", "allow_traffic_risk", multiple=True, type=click.Choice(FUNCTION_KEYS),
              metavar="FUNCTION", help="Let a version of this function that has served no traffic skip the "
                                       "canary (blue, or green beyond lambda.traffic_max_step), and accept its "
                                       "weights or versions the plan does not know (repeatable).")
@click.option("--allow-outage", "allow_outage", multiple=True, type=click.Choice(FUNCTION_KEYS),
              metavar="FUNCTION", help="Let the plan replace or delete what this function's requests pass "
                                       "through, or throttle it to 0 (repeatable).")
@_out
@_set
def apply(env: str, terraform_args: tuple[str, ...], allow_data_loss: tuple[str, ...],
          allow_detection_loss: tuple[str, ...], allow_traffic_risk: tuple[str, ...], allow_outage: tuple[str, ...],
          out: Path, overrides: tuple[str, ...]) -> None:
    """Apply the plan `tfgen plan ENV` saved, and nothing else.

    Refuses, changing nothing: without a saved plan; when OUT/ENV changed since
    the plan was made; when the plan deletes or replaces data not allowed by
    --allow-data-loss, stops or weakens logging or alerting not allowed by
    --allow-detection-loss, sends a version that has not served to live traffic
    other than through a green step (--allow-traffic-risk), stops a function
    serving (--allow-outage), or would leave the database password and its
    secret different. Terraform checks the plan file against the state last.
    Terraform arguments (after `--`): -parallelism=N, -lock-timeout=DURATION,
    -compact-warnings and -no-color only; TF_CLI_ARGS, TF_CLI_ARGS_show and
    TF_CLI_ARGS_apply are not passed to terraform.
    """
    from tfgen.cli.main import project_from_context
    from tfgen.deploy import plans

    code = plans.apply_environment(project_from_context(out), env, overrides, allow_data_loss,
                                   allow_traffic_risk, terraform_args, allow_outage,
                                   say=lambda line: click.echo(line, err=True),
                                   allow_detection_loss=allow_detection_loss)
    if code:
        sys.exit(code)
