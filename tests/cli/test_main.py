"""The command line, in-process: exit codes, exact error messages, untouched output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHIPPED_ENVS, Run, snapshot


def append(project: Path, env: str, text: str) -> None:
    with open(project / "environments" / f"{env}.yaml", "a", encoding="utf-8") as handle:
        handle.write(text)


def line_of(project: Path, env: str, needle: str) -> int:
    lines = (project / "environments" / f"{env}.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_render_all_writes_every_environment_and_reports_counts(run: Run, project: Path) -> None:
    result = run("render", "--all")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == list(SHIPPED_ENVS)
    assert all(" 0 unchanged, 0 removed, " in line for line in lines)
    for env in SHIPPED_ENVS:
        assert (project / "build" / env / "network.tf").is_file()
        assert (project / "build" / env / ".tfgen-manifest.json").is_file()


def test_second_render_changes_nothing_and_keeps_mtimes(run: Run, project: Path) -> None:
    assert run("render", "dev").exit_code == 0
    before = snapshot(project / "build")
    result = run("render", "dev")
    assert result.exit_code == 0
    assert " 0 written, " in result.stdout
    assert snapshot(project / "build") == before


def test_set_overrides_on_top_of_the_environment(run: Run, project: Path) -> None:
    assert run("render", "dev", "--set", "network.single_nat_gateway=false").exit_code == 0
    assert (project / "build/dev/network.tf").read_text().count('nat_zones = ["0", "1", "2"]') == 1


def test_check_passes_after_render_and_flags_hand_edits(run: Run, project: Path) -> None:
    assert run("render", "--all").exit_code == 0
    assert run("check").exit_code == 0
    target = project / "build/prod/network.tf"
    target.write_text(target.read_text() + "# tweak\n")
    result = run("check")
    assert result.exit_code == 1
    assert result.stderr == f"{Path('build/prod/network.tf')}: edited by hand since tfgen wrote it\n"


def test_check_reports_stale_output_when_configuration_changes(run: Run, project: Path) -> None:
    assert run("render", "dev").exit_code == 0
    append(project, "dev", "region: eu-west-1\n")
    result = run("check", "dev")
    assert result.exit_code == 1
    assert "build/dev/providers.tf: stale (run tfgen render)" in result.stderr


def test_diff_shows_a_unified_diff_and_exits_1(run: Run, project: Path) -> None:
    assert run("render", "dev").exit_code == 0
    append(project, "dev", "region: eu-west-1\n")
    result = run("diff", "dev")
    assert result.exit_code == 1
    assert '-  region = "us-east-1"\n+  region = "eu-west-1"\n' in result.stdout
    assert "--- a/dev/providers.tf\n+++ b/dev/providers.tf\n" in result.stdout


def test_diff_is_quiet_when_current(run: Run) -> None:
    assert run("render", "dev").exit_code == 0
    result = run("diff", "dev")
    assert (result.exit_code, result.stdout) == (0, "")


def test_refuses_to_write_into_a_foreign_directory(run: Run, project: Path) -> None:
    (project / "build/dev").mkdir(parents=True)
    (project / "build/dev/notes.txt").write_text("mine")
    result = run("render", "dev")
    assert result.exit_code == 2
    assert result.stderr == (f"tfgen: {Path('build/dev')}: not empty and has no .tfgen-manifest.json: "
                             "refusing to write into a directory tfgen did not create\n")
    assert (project / "build/dev/notes.txt").read_text() == "mine"


def test_envs_lists_key_settings(run: Run) -> None:
    result = run("envs")
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0][0] == "ENV"
    by_env = {row[0]: " ".join(row) for row in rows[1:]}
    assert "1 shared" in by_env["dev"] and "1 writer + 0 reader(s)" in by_env["dev"]
    assert "3 (per AZ)" in by_env["prod"] and "1 writer + 2 reader(s)" in by_env["prod"]


def test_show_provenance_names_file_line_set_and_default(run: Run, project: Path) -> None:
    result = run("show", "dev", "--provenance", "--set", "region=eu-west-1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "region: eu-west-1  # --set region=eu-west-1" in lines
    line = line_of(project, "dev", "single_nat_gateway")
    assert f"  single_nat_gateway: true  # environments/dev.yaml:{line}:3" in lines
    assert "  certificate_arn: null  # default" in lines


def test_show_prints_yaml_of_the_merged_configuration(run: Run) -> None:
    import yaml

    result = run("show", "prod")
    assert result.exit_code == 0
    data = yaml.safe_load(result.stdout)
    assert data["database"]["reader_count"] == 2 and data["network"]["single_nat_gateway"] is False


def test_help_and_version(run: Run) -> None:
    assert run("--help").exit_code == 0
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("tfgen, version ")


def test_unknown_command_is_a_usage_error(run: Run) -> None:
    assert run("frobnicate").exit_code == 2


def test_unexpected_errors_exit_3_with_traceback_only_under_debug(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from tfgen import project as project_module

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(project_module.Project, "write", boom)
    result = run("render", "dev")
    assert result.exit_code == 3
    assert result.stderr == ("tfgen: unexpected error: RuntimeError: kaboom\n"
                             "tfgen: run again with --debug for the traceback\n")
    result = run("--debug", "render", "dev")
    assert result.exit_code == 3 and "Traceback (most recent call last)" in result.stderr


def test_plan_refuses_stale_output(run: Run, project: Path) -> None:
    result = run("plan", "dev")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (f"{Path('build/dev')}: output is not current: "
                                              "run `tfgen render dev`")


# --- configuration errors: exact message, exit 2, nothing written -----------------------------

# Each case: environment, YAML appended to its file, the text whose position the message names
# (found in the appended lines), and the message after "file:line:col: ".
ERROR_CASES = {
    "yaml syntax error": (
        "dev", "network: [unclosed\n", None,
        "<yaml>: expected valid YAML, got did not find expected ',' or ']'",
    ),
    "unknown key": (
        "dev", "databse:\n  port: 5432\n", "databse",
        "databse: expected a known key (did you mean 'database'?), got unknown key 'databse'",
    ),
    "wrong type": (
        "dev", "kms:\n  deletion_window_days: thirty\n", "deletion_window_days",
        "kms.deletion_window_days: expected an integer, got string 'thirty'",
    ),
    "invalid cidr": (
        "prod", "network:\n  vpc_cidr: 10.0.0.0/33\n", "vpc_cidr",
        "network.vpc_cidr: expected an IPv4 CIDR such as 10.0.0.0/16, got '10.0.0.0/33'",
    ),
    "subnet outside the vpc": (
        "prod", "network:\n  private_subnets: [10.0.10.0/24, 10.0.11.0/24, 10.1.12.0/24]\n", "10.1.12.0/24",
        "network.private_subnets.2: expected a subnet inside the VPC 10.0.0.0/16, got '10.1.12.0/24'",
    ),
    "overlapping subnets": (
        "prod", "network:\n  database_subnets: [10.0.20.0/24, 10.0.21.0/24, 10.0.10.0/25]\n", "10.0.10.0/25",
        "network.database_subnets.2: expected no overlap with network.private_subnets.0 (10.0.10.0/24), "
        "got '10.0.10.0/25'",
    ),
    "weights not summing to 100": (
        "staging", "lambda:\n  functions:\n    fraud_detection:\n      traffic:\n        green_weight: 20\n",
        "traffic",
        "lambda.functions.fraud_detection.traffic: expected blue_weight + green_weight = 100, "
        "got 90 + 20 = 110",
    ),
}


def position(text: str, needle: str | None, start: int) -> str:
    """``line:col`` of ``needle`` in the appended ``text``; a syntax error is reported past its end."""
    lines = text.splitlines()
    if needle is None:
        return f"{start + len(lines) + 1}:1"
    row = next(i for i, line in enumerate(lines) if needle in line)
    return f"{start + row + 1}:{lines[row].index(needle) + 1}"


@pytest.mark.parametrize("case", ERROR_CASES)
def test_configuration_error(case: str, run: Run, project: Path) -> None:
    env, text, needle, message = ERROR_CASES[case]
    assert run("render", "--all").exit_code == 0
    before = snapshot(project / "build")
    start = len((project / "environments" / f"{env}.yaml").read_text().splitlines())
    append(project, env, text)
    result = run("render", "--all")
    assert result.exit_code == 2
    where = f"{Path('environments') / (env + '.yaml')}:{position(text, needle, start)}"
    assert result.stderr.splitlines() == [f"{where}: {message}"]
    assert snapshot(project / "build") == before


def test_all_problems_are_reported_at_once(run: Run, project: Path) -> None:
    append(project, "dev", "regoin: x\nkms:\n  deletion_window_days: 3\n")
    append(project, "prod", "network:\n  single_nat_gateway: maybe\n")
    result = run("render", "--all")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 3
    assert not (project / "build").exists()


def test_set_errors_name_the_override(run: Run, project: Path) -> None:
    result = run("render", "dev", "--set", "database.reader_count=twenty")
    assert result.exit_code == 2
    assert result.stderr == ("--set database.reader_count=twenty: database.reader_count: "
                             "expected an integer, got string 'twenty'\n")
    assert not (project / "build").exists()


@pytest.mark.parametrize(("name", "message"), [
    ("../x", "tfgen: environment name '../x': expected lowercase letters, digits and single hyphens, "
             "starting with a letter and not ending with a hyphen"),
    ("Prod", "tfgen: environment name 'Prod': expected lowercase letters, digits and single hyphens, "
             "starting with a letter and not ending with a hyphen"),
])
def test_bad_environment_names(name: str, message: str, run: Run, project: Path) -> None:
    result = run("render", name)
    assert result.exit_code == 2
    assert result.stderr == message + "\n"
    assert not (project / "build").exists()


def test_environment_name_too_long_for_aws_names(run: Run, project: Path) -> None:
    name = "a" * 45
    (project / "environments" / f"{name}.yaml").write_text("tags: {}\n")
    result = run("render", name)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    where = f"{Path('environments') / (name + '.yaml')}:1:1: environment '{name}': "
    assert lines[0] == where + (f"S3 bucket name 'payment-audit-logs-{name}' is 64 characters, "
                                "AWS allows at most 63")
    assert where + f"load balancer name 'payment-alb-{name}' is 57 characters, AWS allows at most 32" in lines
    assert not (project / "build").exists()
