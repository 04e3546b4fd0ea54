"""``tfgen adopt``: bring an existing stack under tfgen through reviewed imports."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tfgen.cli.completion import environment_names
from tfgen.cli.plan import _out, _set
from tfgen.config.names import FUNCTION_KEYS


@click.command()
@click.argument("env", shell_complete=environment_names)
@click.option("--state", "state_file", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The existing stack's state: `terraform show -json` of it, or a state file.")
@click.option("--rotate-credentials", is_flag=True,
              help="Set a new master password on the cluster, and a new secret version holding it, with the "
                   "adoption (the rotation keeps its schedule).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--allow-data-loss", "allow_data_loss", multiple=True, metavar="ADDRESS",
              help="Adopt although the plan weakens this resource's data protection (repeatable); give it to "
                   "`tfgen apply` too.")
@click.option("--allow-detection-loss", "allow_detection_loss", multiple=True, metavar="ADDRESS",
              help="Adopt although the plan stops or weakens logging or alerting here (repeatable); give it to "
                   "`tfgen apply` too.")
@click.option("--allow-traffic-risk", "allow_traffic_risk", multiple=True, type=click.Choice(FUNCTION_KEYS),
              metavar="FUNCTION", help="Adopt although the plan is a traffic risk for this function (repeatable).")
@click.option("--allow-outage", "allow_outage", multiple=True, type=click.Choice(FUNCTION_KEYS),
              metavar="FUNCTION", help="Adopt although this function stops serving in the plan (repeatable).")
@_out
@_set
def adopt(env: str, state_file: Path, rotate_credentials: bool, fmt: str, allow_data_loss: tuple[str, ...],
          allow_detection_loss: tuple[str, ...],
          allow_traffic_risk: tuple[str, ...], allow_outage: tuple[str, ...], out: Path,
          overrides: tuple[str, ...]) -> None:
    """Adopt the stack whose state is FILE as ENV: match by identity, record imports, plan them.

    Matches every resource tfgen renders for ENV to an object of the state by
    the identity AWS knows it by (never by address), writes the matches to
    environments/adopt/ENV.json (rendered as import blocks in OUT/ENV/imports.tf)
    and saves the reviewed plan `tfgen apply ENV` applies. Prints the adoption
    report; exits 1 when the adoption is refused, changing no file (the
    --allow-* options are tfgen apply's, for the refusals they name).
    """
    from tfgen.cli.main import project_from_context
    from tfgen.deploy import adopt as core
    from tfgen.errors import Finding

    allowed = core.Allowed(allow_data_loss, allow_traffic_risk, allow_outage, allow_detection_loss)
    report = core.adopt(project_from_context(out), env, state_file, overrides, rotate_credentials, allowed)
    click.echo(json.dumps(report.as_json(), indent=2, sort_keys=True) if fmt == "json" else report.text(), nl=False)
    if fmt == "json":
        click.echo()
    if report.refusals:
        raise Finding(f"tfgen adopt {env}: refused: {len(report.refusals)} problem(s); nothing recorded")
