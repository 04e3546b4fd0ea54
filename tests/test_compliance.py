"""The compliance gate: checkov finds nothing in any shipped environment, and every skip is earned.

Checkov runs from its own virtual environment, ``.venv-checkov``, which ``make test`` and
``make compliance`` build; the tests that run it fail when it is absent. A skip is a
``#checkov:skip=<ID>:<reason>`` comment that templates/_checkov.j2 writes from
``compliance.skips`` in the environment files. Each configured skip must be rendered inside the
block it names, be reported by checkov as skipped with its reason, and hide a check that really
fails without it: rendering the same output with the skip comments removed must fail exactly the
skipped checks and nothing else.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SHIPPED_ENVS
from tests.stack import CERTIFICATE, loaded, rendered
from tfgen.render import hcl

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


# An environment, optionally with a YAML layer on top, as the tests of tests/stack.py take it.
Case = tuple[str, str]
CASES: dict[str, Case] = {env: (env, "") for env in SHIPPED_ENVS}
CASES["prod with an https listener"] = ("prod", CERTIFICATE)

Pair = tuple[str, str]  # (check ID, block address as checkov names it)

_SKIP_LINE = re.compile(r"^\s*#checkov:skip=")
_BLOCK = re.compile(r'^(resource|data) "([a-z0-9_]+)" "([A-Za-z0-9_-]+)" \{$')
_INSTANCE = re.compile(r"\[[^\]]*\]$")


def configured(case: Case) -> dict[str, dict[str, str]]:
    """The skips in force for a case: block address -> check ID -> reason."""
    return loaded(*case).model.compliance.active()  # type: ignore[no-any-return]


def checkov_address(address: str) -> str:
    """Checkov names a data block without its ``data.`` prefix."""
    return address.removeprefix("data.")


def write(case: Case, directory: Path, *, with_skips: bool) -> Path:
    """The case's rendered .tf files in ``directory``, with or without the skip comments."""
    directory.mkdir(parents=True)
    for path, data in rendered(*case).files.items():
        if path.endswith(".tf"):
            text = data.decode()
            if not with_skips:
                text = "".join(line for line in text.splitlines(keepends=True) if not _SKIP_LINE.match(line))
            (directory / path).write_text(text, encoding="utf-8")
    return directory


def start_checkov(directory: Path) -> subprocess.Popen[str]:
    """Checkov on one root module, running; ``checkov_results`` waits for it."""
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is absent: `make test` or `make compliance` builds it")
    return subprocess.Popen([str(CHECKOV), "--directory", str(directory), "--framework", "terraform",
                             "--output", "json", "--skip-download"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def checkov_results(run: subprocess.Popen[str]) -> dict[str, list[dict[str, Any]]]:
    """Checkov's results for one root module: its failed, passed and skipped checks."""
    stdout, stderr = run.communicate(timeout=600)
    assert run.returncode in (0, 1), f"checkov failed to run ({run.returncode}): {stderr[-2000:]}"
    report = json.loads(stdout)
    assert isinstance(report, dict), f"expected one terraform report, got {len(report)}"
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report["results"]  # type: ignore[no-any-return]


def pairs(checks: list[dict[str, Any]]) -> set[Pair]:
    """(check ID, block address) of each result, the instance key of a for_each block dropped."""
    return {(check["check_id"], _INSTANCE.sub("", check["resource"])) for check in checks}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], dict[str, list[dict[str, Any]]]]:
    """Checkov's results for each case, with and without the skip comments (the runs side by side)."""
    runs = {(name, with_skips): start_checkov(write(case, tmp_path_factory.mktemp("checkov") / "module",
                                                    with_skips=with_skips))
            for name, case in CASES.items() for with_skips in (True, False)}
    return {key: checkov_results(run) for key, run in runs.items()}


@cache
def skip_lines(case: Case) -> dict[str, dict[str, str]]:
    """Every skip comment in the case's output: block address -> check ID -> the rendered reason."""
    found: dict[str, dict[str, str]] = {}
    for path, data in rendered(*case).files.items():
        if not path.endswith(".tf"):
            continue
        block, first_lines = None, False  # first_lines: only the header and skips so far
        for line in data.decode().splitlines():
            header = _BLOCK.match(line)
            if header:
                kind, rtype, name = header.groups()
                block, first_lines = f"{'data.' if kind == 'data' else ''}{rtype}.{name}", True
            elif _SKIP_LINE.match(line):
                assert block is not None, f"{path}: a skip comment outside any block: {line}"
                assert first_lines, f"{path}: a skip comment after the first lines of {block}: {line}"
                check, _, reason = line.strip().removeprefix("#checkov:skip=").partition(":")
                found.setdefault(block, {})[check] = reason
            else:
                first_lines = False
                if line == "}":
                    block = None
    return found


@pytest.mark.compliance
@pytest.mark.parametrize("name", CASES)
def test_checkov_finds_nothing(name: str, results: dict[tuple[str, bool], Any]) -> None:
    failed = results[(name, True)]["failed_checks"]
    assert [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in failed] == []


@pytest.mark.parametrize("name", CASES)
def test_every_configured_skip_is_rendered_first_thing_in_the_block_it_names(name: str) -> None:
    expected = {address: {check: hcl.string(reason) for check, reason in checks.items()}
                for address, checks in configured(CASES[name]).items()}
    assert skip_lines(CASES[name]) == expected


@pytest.mark.compliance
@pytest.mark.parametrize("name", CASES)
def test_checkov_reports_exactly_the_configured_skips_with_their_reasons(
        name: str, results: dict[tuple[str, bool], Any]) -> None:
    skipped = results[(name, True)].get("skipped_checks", [])
    wanted = {(check, checkov_address(address)): hcl.string(reason)
              for address, checks in configured(CASES[name]).items() for check, reason in checks.items()}
    assert pairs(skipped) == set(wanted)
    for check in skipped:
        pair = (check["check_id"], _INSTANCE.sub("", check["resource"]))
        assert check["check_result"]["suppress_comment"] == wanted[pair], pair


@pytest.mark.compliance
@pytest.mark.parametrize("name", CASES)
def test_every_skip_hides_a_check_that_fails_without_it(name: str, results: dict[tuple[str, bool], Any]) -> None:
    """No stale skip: without the comments exactly the skipped checks fail, so each one is needed."""
    failed_without = pairs(results[(name, False)]["failed_checks"])
    wanted = {(check, checkov_address(address))
              for address, checks in configured(CASES[name]).items() for check in checks}
    assert failed_without == wanted


@pytest.mark.compliance
def test_the_gate_fails_on_a_finding(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "open" {\n  bucket = "x"\n}\n')
    found = pairs(checkov_results(start_checkov(tmp_path))["failed_checks"])
    assert ("CKV2_AWS_6", "aws_s3_bucket.open") in found


def skip_rows() -> set[str]:
    """The rows docs/COMPLIANCE.md must list: every skip of a shipped environment, where it applies."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for env in SHIPPED_ENVS:
        for address, checks in configured((env, "")).items():
            for check, reason in checks.items():
                found.setdefault((address, check, reason), []).append(env)
    return {f"| `{address}` | `{check}` | {'all' if len(envs) == len(SHIPPED_ENVS) else ', '.join(envs)} "
            f"| {reason} |" for (address, check, reason), envs in found.items()}


def test_docs_compliance_lists_every_skip_with_its_reason() -> None:
    text = (ROOT / "docs" / "COMPLIANCE.md").read_text(encoding="utf-8")
    table = text[text.index("<!-- skips -->"): text.index("<!-- skips-end -->")]
    assert {line for line in table.splitlines() if line.startswith("| `")} == skip_rows()


def test_docs_compliance_names_every_block_that_can_carry_skips() -> None:
    text = (ROOT / "docs" / "COMPLIANCE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z0-9_.]+)`", text[text.index("<!-- skippable -->"):
                                                       text.index("<!-- skippable-end -->")]))
    included = {match for template in (ROOT / "templates").glob("*.tf.j2")
                for match in re.findall(r'\{% with address = "([^"]+)" %\}\{% include "_checkov.j2" %\}',
                                        template.read_text(encoding="utf-8"))}
    assert listed == included
