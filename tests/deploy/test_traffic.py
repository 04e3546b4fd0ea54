"""``tfgen traffic``: the split table, each move, its guard rails, and editing YAML in place."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import ROOT, Run, snapshot
from tests.deploy.test_plans import HOLD_LOCK
from tfgen.cli import main as tfgen_cli
from tfgen.cli.traffic import traffic
from tfgen.deploy import terraform
from tfgen.deploy.traffic import set_values
from tfgen.errors import UsageError
from tfgen.render import lock
from tfgen.render.templates import MANIFEST

AT = "environments/dev.yaml: lambda.functions."
FLOW = '      traffic: {blue_version: "2", green_version: "3", blue_weight: 90, green_weight: 10}'
PROBE = Path(__file__).parent.parent / "fixtures" / "traffic" / "traffic_probe.tf.j2"

DEV = """\
# dev: a small environment for traffic tests.
tags:
  Owner: payments-dev

network:
  single_nat_gateway: true           # one NAT gateway shared by all zones

lambda:
  log_level: DEBUG

storage:
  force_destroy: true                # lets a dev stack be torn down
"""

COMMENTED = f"""\
# staging-like: comments, quoting and flow style must survive an edit.
tags:
  Owner: 'payments-platform'         # single quotes stay
  Team: "payments"

network:
  single_nat_gateway: true           # one shared NAT gateway
  gateway_endpoints: [s3, dynamodb]

lambda:
  allowed_currencies:
    - EUR                            # first
    - USD
  functions:
    payment_validation:
      # pinned by the last release
      traffic:
        blue_version: '2'            # current release
        green_version: "3"           # candidate
        blue_weight: 90
        green_weight: 10             # canary
    fraud_detection:
{FLOW}

# teardown settings
storage:
  force_destroy: true                # test stacks only
"""

KEYS = ("payment_validation", "fraud_detection", "transaction_processing")
HEADER = "FUNCTION                BLUE-VERSION  BLUE-WEIGHT  GREEN-VERSION  GREEN-WEIGHT  OUTPUT"


@pytest.fixture
def env_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``dev`` as DEV, a template that shows the splits, and ``traffic`` registered on the CLI."""
    shutil.copy(PROBE, project / "templates" / PROBE.name)
    path = project / "environments" / "dev.yaml"
    path.write_text(DEV, encoding="utf-8")
    monkeypatch.setitem(tfgen_cli.cli.commands, "traffic", traffic)
    return path


def written(project: Path) -> dict[str, tuple[bytes, int]]:
    """Every output file with its bytes and mtime; the environments' lock files (tfgen.render.lock),
    which a move takes and no command removes, are none of it."""
    return {name: found for name, found in snapshot(project / "build").items()
            if Path(name).name != lock.LOCK_FILE}


def changes(before: str, after: str) -> list[str]:
    """The hunks that turn ``before`` into ``after``, without context lines."""
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if not line.startswith(("---", "+++"))
    ]


def probe_diff(stdout: str) -> list[str]:
    """The diff lines of the probe file in a command's output."""
    lines = stdout.splitlines()
    start = lines.index("--- a/dev/traffic_probe.tf")
    end = next((i for i in range(start + 2, len(lines)) if lines[i].startswith("--- ")), len(lines))
    return lines[start:end]


def probe(project: Path, function: str) -> str:
    text = (project / "build/dev/traffic_probe.tf").read_text()
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(function))


def moved(run: Run, *args: str) -> Result:
    result = run("traffic", "dev", *args)
    assert result.exit_code == 0, result.output
    return result


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def test_table_shows_each_function_and_whether_the_output_is_current(
    run: Run, project: Path, env_file: Path
) -> None:
    result = run("traffic", "dev")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "\n".join(
            [
                HEADER,
                "payment_validation      latest        90           latest         10            missing",
                "fraud_detection         latest        90           latest         10            missing",
                "transaction_processing  latest        90           latest         10            missing",
            ]
        )
        + "\n"
    )
    assert run("render", "dev").exit_code == 0
    assert _output_column(run) == {"current"}
    env_file.write_text(DEV.replace("single_nat_gateway: true ", "single_nat_gateway: false"))
    assert _output_column(run) == {"stale"}
    network = project / "build/dev/network.tf"
    network.write_text(network.read_text() + "# tweak\n")
    assert _output_column(run) == {"edited"}


def _output_column(run: Run) -> set[str]:
    result = run("traffic", "dev")
    assert result.exit_code == 0, result.output
    return {line.split()[-1] for line in result.stdout.splitlines()[1:]}


def test_unknown_environment_is_a_usage_error(run: Run, env_file: Path) -> None:
    result = run("traffic", "nope", "rollback")
    assert result.exit_code == 2
    assert result.stderr.startswith("tfgen: environment 'nope': no file environments/nope.yaml")


def test_unknown_function_is_a_usage_error(run: Run, env_file: Path) -> None:
    result = run("traffic", "dev", "rollback", "--function", "payments")
    assert result.exit_code == 2
    assert "'payments' is not one of 'payment_validation', 'fraud_detection'" in result.stderr


# ---------------------------------------------------------------------------
# Moves
# ---------------------------------------------------------------------------


def test_shift_writes_inherited_values_into_the_environment_file_only(
    run: Run, project: Path, env_file: Path
) -> None:
    defaults = (project / "environments/defaults.yaml").read_bytes()
    assert run("render", "dev").exit_code == 0
    result = moved(run, "shift", "--green", "25", "--green-version", "3")
    assert result.stdout.splitlines()[:9] == [
        f"{AT}{key}.traffic.{line}"
        for key in KEYS
        for line in (
            "green_version: latest -> 3",
            "blue_weight: 90 -> 75",
            "green_weight: 10 -> 25",
        )
    ]
    assert re.search(
        r"^dev: \d+ written, \d+ unchanged, 0 removed -> build/dev$", result.stdout, re.MULTILINE
    )
    assert changes(DEV, env_file.read_text()) == [
        "@@ -9,0 +10,16 @@",
        "+  functions:",
        *(
            f"+{line}"
            for key in KEYS
            for line in (
                f"    {key}:",
                "      traffic:",
                '        green_version: "3"',
                "        blue_weight: 75",
                "        green_weight: 25",
            )
        ),
    ]
    assert (project / "environments/defaults.yaml").read_bytes() == defaults
    assert probe_diff(result.stdout) == [
        "--- a/dev/traffic_probe.tf",
        "+++ b/dev/traffic_probe.tf",
        "@@ -3,8 +3,8 @@",
        " ",
        " locals {",
        "   traffic = {",
        '-    fraud_detection = { blue = "latest", green = "latest", weights = [90, 10] }',
        '-    payment_validation = { blue = "latest", green = "latest", weights = [90, 10] }',
        '-    transaction_processing = { blue = "latest", green = "latest", weights = [90, 10] }',
        '+    fraud_detection = { blue = "latest", green = "3", weights = [75, 25] }',
        '+    payment_validation = { blue = "latest", green = "3", weights = [75, 25] }',
        '+    transaction_processing = { blue = "latest", green = "3", weights = [75, 25] }',
        "   }",
        " }",
    ]
    assert run("check", "dev").exit_code == 0


def test_shift_only_the_named_functions(run: Run, project: Path, env_file: Path) -> None:
    result = moved(
        run, "shift", "--green", "20", "--green-version", "4", "--function", "fraud_detection"
    )
    assert result.stdout.splitlines()[:3] == [
        f"{AT}fraud_detection.traffic.green_version: latest -> 4",
        f"{AT}fraud_detection.traffic.blue_weight: 90 -> 80",
        f"{AT}fraud_detection.traffic.green_weight: 10 -> 20",
    ]
    assert (
        probe(project, "fraud_detection")
        == 'fraud_detection = { blue = "latest", green = "4", weights = [80, 20] }'
    )
    assert (
        probe(project, "payment_validation")
        == 'payment_validation = { blue = "latest", green = "latest", weights = [90, 10] }'
    )


def test_shift_to_the_current_split_changes_nothing(run: Run, env_file: Path) -> None:
    result = moved(run, "shift", "--green", "10")
    assert result.stdout.splitlines()[0] == "environments/dev.yaml: no change"
    assert env_file.read_text() == DEV


def test_promote_then_finalize_makes_green_the_new_blue(
    run: Run, project: Path, env_file: Path
) -> None:
    moved(run, "shift", "--green", "25", "--green-version", "7")
    moved(run, "promote")
    assert (
        probe(project, "payment_validation")
        == 'payment_validation = { blue = "latest", green = "7", weights = [0, 100] }'
    )
    result = moved(run, "finalize", "--function", "payment_validation")
    assert result.stdout.splitlines()[:3] == [
        f"{AT}payment_validation.traffic.blue_version: latest -> 7",
        f"{AT}payment_validation.traffic.blue_weight: 0 -> 100",
        f"{AT}payment_validation.traffic.green_weight: 100 -> 0",
    ]
    assert (
        probe(project, "payment_validation")
        == 'payment_validation = { blue = "7", green = "7", weights = [100, 0] }'
    )
    assert (
        probe(project, "fraud_detection")
        == 'fraud_detection = { blue = "latest", green = "7", weights = [0, 100] }'
    )


def test_rollback_returns_everything_to_blue_at_once(
    run: Run, project: Path, env_file: Path
) -> None:
    moved(run, "shift", "--green", "60", "--green-version", "5", "--force")
    result = moved(run, "rollback")
    assert [line.rsplit(".", 1)[-1] for line in result.stdout.splitlines()[:6]] == [
        "blue_weight: 40 -> 100",
        "green_weight: 60 -> 0",
    ] * 3
    assert (
        probe(project, "transaction_processing")
        == 'transaction_processing = { blue = "latest", green = "5", weights = [100, 0] }'
    )


def test_rollback_works_when_both_aliases_run_the_same_version(run: Run, env_file: Path) -> None:
    result = moved(run, "rollback")
    assert "green_weight: 10 -> 0" in result.stdout


# ---------------------------------------------------------------------------
# Guard rails
# ---------------------------------------------------------------------------


def test_a_step_above_max_step_is_refused_and_changes_nothing(
    run: Run, project: Path, env_file: Path
) -> None:
    moved(run, "shift", "--green", "25", "--green-version", "3")
    before = env_file.read_text(), written(project)
    result = run("traffic", "dev", "shift", "--green", "60", "--function", "payment_validation")
    assert result.exit_code == 2
    assert result.stderr == (
        "tfgen: dev: payment_validation: green 25 -> 60 is a step of 35 "
        "points, more than --max-step 25: shift in smaller steps "
        "(or --force)\n"
    )
    assert (env_file.read_text(), written(project)) == before


def test_max_step_and_force_allow_larger_steps(run: Run, project: Path, env_file: Path) -> None:
    moved(run, "shift", "--green", "50", "--green-version", "3", "--max-step", "40")
    assert run("traffic", "dev", "shift", "--green", "90").exit_code == 2
    moved(run, "shift", "--green", "90", "--force")
    assert probe(project, "fraud_detection").endswith("weights = [10, 90] }")


def test_the_step_limit_comes_from_the_environment(run: Run, project: Path, env_file: Path) -> None:
    defaults = project / "environments" / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("traffic_max_step: 25", "traffic_max_step: 5"))
    result = run("traffic", "dev", "shift", "--green", "20", "--green-version", "3")
    assert result.exit_code == 2
    assert "is a step of 10 points, more than --max-step 5" in result.stderr
    moved(run, "shift", "--green", "15", "--green-version", "3")


def test_lowering_green_is_never_limited_by_max_step(
    run: Run, project: Path, env_file: Path
) -> None:
    moved(run, "shift", "--green", "90", "--green-version", "3", "--force")
    moved(run, "shift", "--green", "5")
    assert probe(project, "fraud_detection").endswith("weights = [95, 5] }")


def test_shifting_onto_a_green_that_runs_blues_version_is_refused(run: Run, env_file: Path) -> None:
    result = run("traffic", "dev", "shift", "--green", "20", "--function", "payment_validation")
    assert result.exit_code == 2
    assert result.stderr == (
        "tfgen: dev: payment_validation: blue and green both run 'latest', so their traffic cannot "
        "be told apart: publish a version and pass --green-version N (or --force)\n"
    )
    result = run(
        "traffic",
        "dev",
        "shift",
        "--green",
        "20",
        "--green-version",
        "latest",
        "--function",
        "fraud_detection",
    )
    assert result.exit_code == 2
    moved(run, "shift", "--green", "20", "--force")


def test_same_published_version_on_both_aliases_is_refused(run: Run, env_file: Path) -> None:
    moved(run, "shift", "--green", "20", "--green-version", "6")
    moved(run, "promote")
    moved(run, "finalize")
    result = run("traffic", "dev", "shift", "--green", "10", "--function", "fraud_detection")
    assert result.exit_code == 2
    assert result.stderr == (
        "tfgen: dev: fraud_detection: blue and green both run version 6: "
        "set the new release with --green-version N (or --force)\n"
    )
    moved(run, "shift", "--green", "0")


def test_promote_is_refused_while_green_takes_no_traffic(run: Run, env_file: Path) -> None:
    moved(run, "shift", "--green", "0", "--green-version", "2")
    result = run("traffic", "dev", "promote", "--function", "transaction_processing")
    assert result.exit_code == 2
    assert result.stderr == (
        "tfgen: dev: transaction_processing: green takes no traffic yet: "
        "shift some to it first (or --force)\n"
    )
    moved(run, "promote", "--force")


def test_finalize_is_refused_unless_green_takes_everything(run: Run, env_file: Path) -> None:
    result = run("traffic", "dev", "finalize")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"tfgen: dev: {key}: expected green at 100 (run promote first), got green 10"
        for key in KEYS
    ]
    assert env_file.read_text() == DEV


def test_hand_edited_output_is_refused_but_stale_output_is_rewritten(
    run: Run, project: Path, env_file: Path
) -> None:
    assert run("render", "dev").exit_code == 0
    env_file.write_text(DEV.replace("single_nat_gateway: true ", "single_nat_gateway: false"))
    moved(run, "rollback")
    assert run("check", "dev").exit_code == 0
    network = project / "build/dev/network.tf"
    network.write_text(network.read_text() + "# tweak\n")
    before = env_file.read_text(), written(project)
    result = run("traffic", "dev", "shift", "--green", "10", "--green-version", "3")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "tfgen: build/dev/network.tf: edited by hand since tfgen wrote it",
        "tfgen: build/dev: refusing to overwrite hand edits: revert them, or discard them with "
        "`tfgen render dev`",
    ]
    assert (env_file.read_text(), written(project)) == before


# ---------------------------------------------------------------------------
# Editing the YAML file
# ---------------------------------------------------------------------------


def test_edits_keep_comments_quoting_and_flow_style(run: Run, env_file: Path) -> None:
    env_file.write_text(COMMENTED)
    moved(
        run,
        "shift",
        "--green",
        "25",
        "--green-version",
        "4",
        "--function",
        "payment_validation",
        "--function",
        "fraud_detection",
    )
    shifted = env_file.read_text()
    assert changes(COMMENTED, shifted) == [
        "@@ -19,3 +19,3 @@",
        '-        green_version: "3"           # candidate',
        "-        blue_weight: 90",
        "-        green_weight: 10             # canary",
        '+        green_version: "4"           # candidate',
        "+        blue_weight: 75",
        "+        green_weight: 25             # canary",
        "@@ -23 +23 @@",
        f"-{FLOW}",
        f"+{FLOW.replace('3', '4').replace('90', '75').replace('10', '25')}",
    ]
    moved(run, "promote", "--function", "payment_validation")
    promoted = env_file.read_text()
    assert changes(shifted, promoted) == [
        "@@ -20,2 +20,2 @@",
        "-        blue_weight: 75",
        "-        green_weight: 25             # canary",
        "+        blue_weight: 0",
        "+        green_weight: 100            # canary",
    ]
    moved(run, "finalize", "--function", "payment_validation")
    assert changes(promoted, env_file.read_text()) == [
        "@@ -18 +18 @@",
        "-        blue_version: '2'            # current release",
        "+        blue_version: '4'            # current release",
        "@@ -20,2 +20,2 @@",
        "-        blue_weight: 0",
        "-        green_weight: 100            # canary",
        "+        blue_weight: 100",
        "+        green_weight: 0              # canary",
    ]


def test_a_new_section_is_added_in_block_style_after_a_blank_line(
    run: Run, project: Path, env_file: Path
) -> None:
    prod = project / "environments/prod.yaml"
    prod.write_text("# prod: defaults only.\ntags:\n  Owner: payments-platform\n")
    result = run("traffic", "prod", "shift", "--green", "0", "--function", "payment_validation")
    assert result.exit_code == 0, result.output
    assert prod.read_text() == (
        "# prod: defaults only.\ntags:\n  Owner: payments-platform\n\n"
        "lambda:\n  functions:\n    payment_validation:\n      traffic:\n"
        "        blue_weight: 100\n        green_weight: 0\n"
    )


def test_an_edit_through_a_shared_anchor_is_refused(run: Run, env_file: Path) -> None:
    text = DEV.replace(
        "  log_level: DEBUG\n",
        (
            "  log_level: DEBUG\n  functions:\n"
            "    payment_validation:\n"
            '      traffic: &split {blue_version: "2", green_version: "3", blue_weight: 90, '
            "green_weight: 10}\n"
            "    fraud_detection:\n      traffic: *split\n"
        ),
    )
    env_file.write_text(text)
    result = run("traffic", "dev", "shift", "--green", "20", "--function", "payment_validation")
    assert result.exit_code == 2
    assert result.stderr == (
        "tfgen: environments/dev.yaml: left unchanged: editing the traffic split in place would "
        "change other settings too (a YAML anchor or alias?); edit it by hand\n"
    )
    assert env_file.read_text() == text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "# only a comment\n", "# only a comment\n\na:\n  b:\n    c: 1\n", id="comments-only"
        ),
        pytest.param("", "a:\n  b:\n    c: 1\n", id="empty"),
        pytest.param(
            "a:\n    x: [1, 2]\n    l:\n      - 1    # one\n\n# next\nz: 0\n",
            "a:\n    x: [1, 2]\n    l:\n      - 1    # one\n    b:\n        c: 1\n\n# next\nz: 0\n",
            id="four-space-indent-and-sequence",
        ),
        pytest.param("a:\n  b: {d: 2}\n", "a:\n  b: {d: 2, c: 1}\n", id="flow-mapping"),
        pytest.param("---\na:\n  b:\n    c: 0\n", "---\na:\n  b:\n    c: 1\n", id="document-start"),
        pytest.param("a:\r\n  b:\r\n    c: 0\r\n", "a:\r\n  b:\r\n    c: 1\r\n", id="crlf"),
    ],
)
def test_set_values_keeps_the_layout(before: str, after: str) -> None:
    assert set_values(before, {("a", "b", "c"): 1}) == after


def test_set_values_refuses_to_rewrite_other_lines() -> None:
    with pytest.raises(UsageError) as caught:
        set_values(
            "# lost by the round trip\n---\na:\n  b:\n    c: 0\n", {("a", "b", "c"): 1}, "x.yaml"
        )
    assert str(caught.value) == (
        "x.yaml: cannot edit in place without rewriting line(s) 1, 2; set by hand: a.b.c=1"
    )


# ---------------------------------------------------------------------------
# Nothing is written unless the edited configuration validates and renders
# ---------------------------------------------------------------------------


def test_an_invalid_result_leaves_yaml_and_output_unchanged(
    run: Run, project: Path, env_file: Path
) -> None:
    assert run("render", "dev").exit_code == 0
    before = env_file.read_text(), written(project)
    result = run(
        "traffic",
        "dev",
        "shift",
        "--green",
        "20",
        "--green-version",
        "v3",
        "--function",
        "payment_validation",
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "environments/dev.yaml:13:9: lambda.functions.payment_validation.traffic.green_version: "
        "expected 'latest' or a published version number such as '3', got 'v3'",
        "environments/dev.yaml: left unchanged: the traffic change would make the configuration "
        "invalid",
    ]
    assert (env_file.read_text(), written(project)) == before


def test_a_failing_render_leaves_yaml_and_output_unchanged(
    run: Run, project: Path, env_file: Path
) -> None:
    (project / "templates/zz_fails.tf.j2").write_text(
        "{% if cfg.lambda_.functions.payment_validation.traffic.green_weight == 30 %}"
        "{{ no_such_value }}{% endif %}\n"
    )
    assert run("render", "dev").exit_code == 0
    before = env_file.read_text(), written(project)
    result = run("traffic", "dev", "shift", "--green", "30", "--green-version", "3")
    assert result.exit_code == 3
    assert result.stderr == (
        "tfgen: templates/zz_fails.tf.j2: UndefinedError: 'no_such_value' is undefined\n"
    )
    assert (env_file.read_text(), written(project)) == before


# ---------------------------------------------------------------------------
# --plan
# ---------------------------------------------------------------------------


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], Path, bool]]:
    """Each ``terraform.stream`` call: arguments, directory, and whether it held a rendered tree."""
    calls: list[tuple[list[str], Path, bool]] = []

    def stream(args: list[str], cwd: Path) -> int:
        calls.append((list(args), Path(cwd).resolve(), (Path(cwd) / MANIFEST).is_file()))
        return 0

    monkeypatch.setattr(terraform, "stream", stream)
    return calls


def test_plan_runs_terraform_in_the_rendered_directory_instead_of_the_diff(
    run: Run, project: Path, env_file: Path, plans: list[tuple[list[str], Path, bool]]
) -> None:
    result = moved(run, "shift", "--green", "20", "--green-version", "3", "--plan")
    assert plans == [(["plan"], project / "build/dev", True)]
    assert "--- " not in result.stdout
    assert run("traffic", "--plan", "dev", "rollback").exit_code == 0
    result = run("traffic", "--out", "elsewhere", "dev", "promote", "--force", "--plan")
    assert result.exit_code == 0, result.output
    assert [directory for _, directory, _ in plans] == [
        project / "build/dev",
        project / "build/dev",
        project / "elsewhere/dev",
    ]


def test_plan_after_the_table_needs_current_output(
    run: Run, project: Path, env_file: Path, plans: list[tuple[list[str], Path, bool]]
) -> None:
    result = run("traffic", "--plan", "dev")
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[-1] == "build/dev: output is not current: run `tfgen render dev`"
    )
    assert plans == []
    assert run("render", "dev").exit_code == 0
    assert run("traffic", "--plan", "dev").exit_code == 0
    assert plans == [(["plan"], project / "build/dev", True)]


def test_a_failing_plan_sets_the_exit_code(
    run: Run, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terraform, "stream", lambda args, cwd: 1)
    assert run("traffic", "dev", "rollback", "--plan").exit_code == 1


# ---------------------------------------------------------------------------
# pin
# ---------------------------------------------------------------------------


def alias_state(versions: dict[str, tuple[str, str]]) -> dict[str, object]:
    """`terraform show -json` of a state holding the aliases (function: (blue, green) versions)."""
    resources: list[dict[str, object]] = [
        {"address": f'aws_lambda_alias.this["{key}-{colour}"]', "mode": "managed", "type": "aws_lambda_alias",
         "name": "this", "index": f"{key}-{colour}", "values": {"name": colour, "function_version": version}}
        for key, pair in versions.items() for colour, version in zip(("blue", "green"), pair, strict=True)]
    resources.append({"address": "aws_lambda_function.this[\"payment_validation\"]", "mode": "managed",
                      "type": "aws_lambda_function", "name": "this", "index": "payment_validation",
                      "values": {"version": "9"}})
    return {"format_version": "1.0", "values": {"root_module": {"resources": resources}}}


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """What `terraform show -json` answers in the output directory."""
    shown: dict[str, object] = {}
    monkeypatch.setattr(terraform, "show_json", lambda directory, *args: shown)
    return shown


def test_pin_writes_the_deployed_versions_into_the_environment_file(
    run: Run, project: Path, env_file: Path, state: dict[str, object]
) -> None:
    state.update(alias_state({"payment_validation": ("4", "4"), "fraud_detection": ("2", "3"),
                              "transaction_processing": ("1", "1")}))
    result = moved(run, "pin")
    assert f"{AT}payment_validation.traffic.blue_version: latest -> 4" in result.stdout.splitlines()[0]
    text = env_file.read_text()
    assert 'blue_version: "4"' in text and 'green_version: "3"' in text
    rows = {line.split()[0]: line.split()[1:5] for line in moved(run).stdout.splitlines()[1:]}
    assert rows == {"payment_validation": ["4", "90", "4", "10"], "fraud_detection": ["2", "90", "3", "10"],
                    "transaction_processing": ["1", "90", "1", "10"]}
    assert moved(run, "pin").stdout.splitlines()[0] == f"{env_file.relative_to(project)}: no change"


def test_pin_only_the_named_function(run: Run, env_file: Path, state: dict[str, object]) -> None:
    state.update(alias_state({"payment_validation": ("4", "5")}))
    moved(run, "pin", "--function", "payment_validation")
    text = env_file.read_text()
    assert "fraud_detection" not in text and 'green_version: "5"' in text


def test_pin_before_the_first_apply_is_refused_and_changes_nothing(
    run: Run, project: Path, env_file: Path, state: dict[str, object]
) -> None:
    state.update(alias_state({"payment_validation": ("4", "5")}))
    before = env_file.read_text()
    result = run("traffic", "dev", "pin")
    assert result.exit_code == 2
    assert result.stderr == ("tfgen: dev: the state has no deployed blue and green alias of fraud_detection, "
                             "transaction_processing: apply the environment first (`tfgen plan dev`, "
                             "`tfgen apply dev`)\n")
    assert env_file.read_text() == before


# ---------------------------------------------------------------------------
# The environment's lock
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("move", [["rollback"], ["shift", "--green", "20", "--green-version", "3"], ["promote"]])
def test_a_move_while_a_release_holds_the_environment_is_refused_and_writes_nothing(
    run: Run, project: Path, env_file: Path, move: list[str]
) -> None:
    env_file.write_text(COMMENTED, encoding="utf-8")
    assert run("render", "dev").exit_code == 0
    target = project / "build" / "dev"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK.replace("tfgen plan dev", "tfgen release dev"),
                               str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = (env_file.read_text(), written(project))
        result = run("traffic", "dev", *move, "--function", "payment_validation")
        assert result.exit_code == 1, result.output
        assert result.stderr == (f"{Path('build/dev')}: busy: tfgen release dev (pid {holder.pid}) is running on "
                                 "this environment; traffic refused, nothing changed: try again when it ends\n")
        assert (env_file.read_text(), written(project)) == before
    finally:
        holder.communicate("")
    assert run("traffic", "dev", *move, "--function", "payment_validation").exit_code == 0


def test_a_move_into_an_environment_never_rendered_needs_no_lock(run: Run, project: Path, env_file: Path) -> None:
    moved(run, "rollback")
    assert not (project / "build" / "dev" / ".tfgen-plan.lock").exists()
