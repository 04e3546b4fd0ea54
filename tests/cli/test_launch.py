"""The console entry point: ``tfgen --help`` answered from the kept help text, which must be what
click prints; everything else, and a narrow terminal, through click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tfgen.cli import launch

KEPT = Path(launch.HELP_FILE)


def python(code: str, columns: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True, stdin=subprocess.DEVNULL)


def clicks_help(columns: str) -> str:
    return python("from tfgen.cli.main import main\nmain(['--help'])", columns).stdout


def test_the_kept_help_is_what_click_prints_at_full_width(update_golden: bool) -> None:
    printed = clicks_help(str(launch.FULL_WIDTH))
    if update_golden:
        KEPT.write_text(printed, encoding="utf-8")
    assert KEPT.read_text(encoding="utf-8") == printed, "tfgen/cli/help.txt is stale: run pytest --update-golden"
    assert clicks_help("200") == printed  # click's width stops growing at 80 columns


@pytest.mark.parametrize("args", [["--help"], ["-h"]])
def test_help_is_answered_without_importing_click(args: list[str]) -> None:
    code = (f"import sys\nfrom tfgen.cli.launch import main\nmain({args!r})\n"
            "print('click' in sys.modules, file=sys.stderr)")
    done = python(code, None)  # not a terminal: click too would print the full width
    assert (done.stdout, done.stderr) == (KEPT.read_text(encoding="utf-8"), "False\n")


def test_a_narrow_terminal_gets_clicks_own_wrapping() -> None:
    code = ("import sys\nfrom tfgen.cli.launch import main\nmain(['--help'])\n"
            "print('click' in sys.modules, file=sys.stderr)")
    done = python(code, "60")
    assert done.stderr == "True\n"
    assert done.stdout == clicks_help("60") != KEPT.read_text(encoding="utf-8")


def test_other_arguments_go_through_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("tfgen, version ")
    assert launch.main(["no-such-command"]) == 2


def test_without_the_kept_text_click_answers(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(launch, "HELP_FILE", str(KEPT.with_name("missing.txt")))
    monkeypatch.setenv("COLUMNS", "120")
    assert launch.main(["--help"]) == 0
    assert capsys.readouterr().out == KEPT.read_text(encoding="utf-8")


def test_the_installed_entry_point_is_the_launcher() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'tfgen = "tfgen.cli.launch:main"' in text and '"tfgen.cli" = ["help.txt"]' in text
