"""Shell completion through click: environment names from the project, function names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.shell_completion import ShellComplete

from tests.conftest import ROOT
from tfgen.cli.main import cli


def complete(args: list[str], incomplete: str) -> list[str]:
    return [item.value for item in ShellComplete(cli, {}, "tfgen", "_TFGEN_COMPLETE")
            .get_completions(args, incomplete)]


def test_environment_names_complete_for_every_command_taking_one(project: Path, run: object) -> None:
    for command in (["render"], ["render", "dev"], ["show"], ["diff"], ["check"], ["validate"], ["init"],
                    ["plan"], ["apply"], ["destroy"], ["traffic"]):
        assert complete(command, "") == ["dev", "prod", "staging"], command
    assert complete(["plan"], "st") == ["staging"]
    assert complete(["show"], "x") == []


def test_names_come_from_the_environments_directory_given(project: Path, run: object) -> None:
    other = project / "elsewhere"
    other.mkdir()
    (other / "defaults.yaml").write_text("")
    (other / "qa.yaml").write_text("")
    (other / "notes.txt").write_text("")
    assert complete(["--environments", str(other), "render"], "") == ["qa"]
    assert complete(["--environments", str(project / "missing"), "render"], "") == []


def test_function_names_complete(project: Path, run: object) -> None:
    assert complete(["traffic", "dev", "shift", "--function"], "") == [
        "payment_validation", "fraud_detection", "transaction_processing"]
    assert complete(["traffic", "dev", "rollback", "--function"], "fr") == ["fraud_detection"]


def _shell(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tfgen"], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, check=False)


def test_the_shell_protocol_end_to_end() -> None:
    done = _shell({"_TFGEN_COMPLETE": "bash_complete", "COMP_WORDS": "tfgen plan pr", "COMP_CWORD": "2"})
    assert (done.returncode, done.stdout) == (0, "plain,prod\n")
    for shell in ("bash", "zsh", "fish"):
        script = _shell({"_TFGEN_COMPLETE": f"{shell}_source"})
        assert script.returncode == 0 and "_TFGEN_COMPLETE" in script.stdout, shell


def test_completion_imports_nothing_heavy() -> None:
    code = ("import os, sys\n"
            "os.environ.update(_TFGEN_COMPLETE='bash_complete', COMP_WORDS='tfgen render ', COMP_CWORD='2')\n"
            "from tfgen.cli.main import main\n"
            "main([])\n"
            "heavy = {'jinja2', 'pydantic', 'yaml', 'jsonschema', 'ruamel', 'subprocess'}\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
