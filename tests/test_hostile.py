"""Hostile configuration: every case refused with exit code 2, an exact message, build/ untouched;
and no credential ever written into the output.

The corpus lives in tests/hostile/: one file per case (the content an environment file is
replaced with) and tests/hostile/cases.yaml, which says how to run each case and what it must
print. The shipped environments are rendered first, then the configuration is broken, then the
real CLI runs in-process and the output directory must be exactly as it was.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from tests.conftest import SHIPPED_ENVS, Run, copy_inputs, snapshot
from tfgen.cli import main as tfgen_cli

CORPUS = Path(__file__).resolve().parent / "hostile"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
_PLACE = re.compile(r"\{@([^:}]+):([^}]*)\}")
_TOP_LEVEL = re.compile(r"^[^\s#]")


@pytest.fixture(scope="module")
def shipped_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped environments rendered once; each case starts from a copy of this build/."""
    work = copy_inputs(tmp_path_factory.mktemp("shipped"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        assert tfgen_cli.main(["render", "--all"]) == 0
    return work / "build"


@pytest.fixture
def rendered(project: Path, shipped_build: Path) -> Path:
    """The project copy with the shipped environments' output already in build/."""
    shutil.copytree(shipped_build, project / "build", symlinks=True)
    return project


def edit_defaults(path: Path, edits: list[dict[str, str]]) -> None:
    """Apply the case's edits to defaults.yaml by key and pattern, never by line number."""
    text = path.read_text(encoding="utf-8")
    for edit in edits:
        [(op, arg)] = edit.items()
        if op == "append":
            text += arg
        elif op == "replace":
            text = arg
        elif op == "drop_line":
            lines = text.splitlines(keepends=True)
            hits = [i for i, line in enumerate(lines) if re.search(arg, line)]
            assert len(hits) == 1, f"{arg!r} matches {len(hits)} lines of defaults.yaml, expected 1"
            text = "".join(lines[: hits[0]] + lines[hits[0] + 1:])
        elif op == "drop_section":
            kept, dropping = [], False
            for line in text.splitlines(keepends=True):
                if _TOP_LEVEL.match(line):
                    dropping = line.startswith(f"{arg}:")
                if not dropping:
                    kept.append(line)
            assert len(kept) < len(text.splitlines()), f"defaults.yaml has no section {arg!r}"
            text = "".join(kept)
        else:
            raise AssertionError(f"unknown defaults edit {op!r}")
    path.write_text(text, encoding="utf-8")


def expand(line: str, project: Path, env: str) -> str:
    def place(match: re.Match[str]) -> str:
        name, pattern = match.groups()
        text = (project / "environments" / name).read_text(encoding="utf-8")
        found = re.search(pattern, text, re.MULTILINE)
        assert found, f"{pattern!r} not in {name}"
        line_no = text.count("\n", 0, found.start()) + 1
        column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
        return f"{Path('environments') / name}:{line_no}:{column}"

    line = _PLACE.sub(place, line)
    return line.replace("{env}", str(Path("environments") / f"{env}.yaml")).replace("{name}", env)


def break_and_run(name: str, project: Path, run: Run) -> tuple[Result, list[str]]:
    case = CASES[name]
    env = case.get("env", "dev")
    file = case.get("file", f"{name}.yaml")
    if "defaults" in case:
        edit_defaults(project / "environments" / "defaults.yaml", case["defaults"])
    if file is not None:
        (project / "environments" / f"{env}.yaml").write_bytes((CORPUS / file).read_bytes())
    result = run(*case.get("args", ["render", "--all"]))
    return result, result.stderr.splitlines()


@pytest.mark.parametrize("name", CASES)
def test_hostile_configuration_is_refused_and_nothing_is_written(name: str, rendered: Path, run: Run) -> None:
    project = rendered
    before, entries = snapshot(project / "build"), sorted(os.listdir(project))
    assert set(os.listdir(project / "build")) >= set(SHIPPED_ENVS)
    result, lines = break_and_run(name, project, run)
    case = CASES[name]
    env = case.get("env", "dev")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    if "expect_some" in case:
        prefix = expand("{env}:1:1: environment '{name}': ", project, env)
        assert all(line.startswith(prefix) for line in lines), lines
        missing = [w for w in (expand(x, project, env) for x in case["expect_some"]) if w not in lines]
        assert not missing, f"not reported: {missing}\nreported: {lines}"
    else:
        assert lines == [expand(x, project, env) for x in case["expect"]]
    assert snapshot(project / "build") == before
    assert sorted(os.listdir(project)) == entries  # nothing written beside build/ (../x and the like)


def test_every_corpus_file_belongs_to_a_case() -> None:
    files = {p.name for p in CORPUS.iterdir()} - {"cases.yaml"}
    used = {case.get("file", f"{name}.yaml") for name, case in CASES.items()} - {None}
    assert files == used
    assert len(CASES) >= 40
    allowed = {"file", "env", "args", "defaults", "expect", "expect_some"}
    for name, case in CASES.items():
        assert set(case) <= allowed and ("expect" in case) != ("expect_some" in case), name


# --- very large files, generated here rather than kept in the corpus --------------------------

FIVE_MB = 5 * 1024 * 1024


def test_a_5_mb_environment_file_is_read_and_its_error_located(rendered: Path, run: Run) -> None:
    padding = "# " + "padding " * 12 + "\n"
    count = FIVE_MB // len(padding) + 1
    text = padding * count + "tags:\n  Owner: payments-dev\nkms:\n  deletion_window_days: 3\n"
    assert len(text) > FIVE_MB
    (rendered / "environments" / "dev.yaml").write_text(text, encoding="utf-8")
    before = snapshot(rendered / "build")
    result = run("render", "--all")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{Path('environments/dev.yaml')}:{count + 4}:3: kms.deletion_window_days: expected a number >= 7, "
        "got integer 3"]
    assert snapshot(rendered / "build") == before


def test_a_5_mb_list_is_refused_by_the_value_budget(rendered: Path, run: Run) -> None:
    text = "network:\n  availability_zones: [" + "us-east-1a, " * (FIVE_MB // 12) + "us-east-1b]\n"
    (rendered / "environments" / "dev.yaml").write_text(text, encoding="utf-8")
    before = snapshot(rendered / "build")
    result = run("render", "--all")
    assert result.exit_code == 2
    item = 100_000 - 3  # the budget counts the root, network and the list before the first item
    column = len("  availability_zones: [") + item * len("us-east-1a, ") + 1
    assert result.stderr.splitlines() == [
        f"{Path('environments/dev.yaml')}:2:{column}: network.availability_zones.{item}: expected at most "
        "100000 values, got more (alias expansion?)"]
    assert snapshot(rendered / "build") == before


def test_a_5_mb_tag_value_is_refused(rendered: Path, run: Run) -> None:
    (rendered / "environments" / "dev.yaml").write_text("tags:\n  Owner: " + "x" * FIVE_MB + "\n")
    before = snapshot(rendered / "build")
    result = run("render", "--all")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{Path('environments/dev.yaml')}:1:1: tags: expected tag values of at most 256 characters "
        f"(AWS limit), got {FIVE_MB} for 'Owner'"]
    assert snapshot(rendered / "build") == before


# --- no secret is ever written ----------------------------------------------------------------

# Each detector: a name and a pattern over the text of an output file (or of a file inside a zip).
DETECTORS = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "secret-key-shaped value under a secret name": re.compile(
        r"(?i)(?:secret|private|passw|token|credential|api_?key|access_?key)[\w.-]*[\"']?\s*[:=]\s*[\"']?"
        r"[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),
    "password literal": re.compile(r"""(?i)(?:password|passwd|pwd)["']?\s*[:=]\s*(?:"(?!\$\{)[^"\n]+"|'[^'\n]+')"""),
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "master_password attribute": re.compile(r"(?m)^\s*master_password\s*="),
    "master_password_wo not from an ephemeral resource": re.compile(
        r"(?m)^\s*master_password_wo\s*=\s*(?!\s|ephemeral\.)"),
    "provider credentials literal": re.compile(r'(?m)^\s*(?:access_key|secret_key|token)\s*=\s*"'),
}
# Documentation examples in vendored third-party metadata, not credentials of this platform:
# pg8000's README connects with password="cpsnow"; scramp's shows the RFC 5802 test vector.
VENDORED_EXAMPLES = {
    ("pg8000-*.dist-info/METADATA", 'password="cpsnow"'),
    ("scramp-*.dist-info/METADATA", "PASSWORD = 'pencil'"),
}


def findings(name: str, text: str) -> list[str]:
    member = name.rpartition("!")[2]
    return [f"{name}: {kind}: {match.group(0)[:80]!r}"
            for kind, pattern in DETECTORS.items() for match in pattern.finditer(text)
            if not any(fnmatch.fnmatch(member, where) and match.group(0) == what
                       for where, what in VENDORED_EXAMPLES)]


def scan(directory: Path) -> list[str]:
    """Findings in every file under ``directory``, zip members unpacked and scanned one by one."""
    found = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    found += findings(f"{rel}!{member}", archive.read(member).decode("utf-8", "replace"))
        else:
            found += findings(rel, path.read_bytes().decode("utf-8", "replace"))
    return found


def test_no_output_file_or_packaged_file_holds_a_credential(shipped_build: Path) -> None:
    zips = list(shipped_build.rglob("*.zip"))
    assert {p.parent.parent.name for p in zips} == set(SHIPPED_ENVS)  # packages were built
    assert scan(shipped_build) == []
    for env in SHIPPED_ENVS:  # the database password reaches the cluster write-only
        assert re.search(r"(?m)^\s*master_password_wo\s*=\s*ephemeral\.",
                         (shipped_build / env / "database.tf").read_text())


PLANTED = {
    "AWS access key id": 'access_key_id = "' + "AKIA" + 'IOSFODNN7EXAMPLE"',
    "secret-key-shaped value under a secret name": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/"
                                                   + "bPxRfiCYEXAMPLEKEY",
    "password literal": 'DB_PASSWORD = "hunter2-but-longer"',
    "private key": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE\n",
    "master_password attribute": '  master_password = "from-a-variable"',
    "master_password_wo not from an ephemeral resource": "  master_password_wo = var.db_password",
    "provider credentials literal": '  secret_key = "test"',
}
HARMLESS = [  # shapes the rendered stack really has
    'PASSWORD_LENGTH          = "32"',
    "  master_password_wo         = ephemeral.aws_secretsmanager_random_password.master.random_password",
    "  master_password_wo_version = 1",
    "    password            = ephemeral.aws_secretsmanager_random_password.master.random_password",
    'secret_string_wo = jsonencode({ password = "${ephemeral.random_password.this.result}" })',
    "# the master password is generated by Secrets Manager",
    "password = secret['password']",
]


@pytest.mark.parametrize("kind", PLANTED)
def test_each_detector_fires_on_a_planted_example(kind: str, shipped_build: Path, tmp_path: Path) -> None:
    assert [f for f in findings("x.tf", PLANTED[kind]) if f": {kind}: " in f]
    shutil.copytree(shipped_build / "dev", tmp_path / "dev")  # planted in a real tree: a file and a zip member
    with zipfile.ZipFile(tmp_path / "dev" / "packages" / "payment_validation.zip", "a") as archive:
        archive.writestr("planted/config.py", PLANTED[kind] + "\n")
    (tmp_path / "dev" / "planted.tf").write_text(PLANTED[kind] + "\n")
    found = scan(tmp_path)
    for where in ("dev/packages/payment_validation.zip!planted/config.py", "dev/planted.tf"):
        assert any(f.startswith(f"{where}: {kind}: ") for f in found), found


def test_detectors_leave_harmless_shapes_and_vendored_examples_alone() -> None:
    assert [f for text in HARMLESS for f in findings("x.tf", text)] == []
    assert findings("p.zip!pg8000-1.31.6.dist-info/METADATA", 'Connection("u", password="cpsnow")') == []
    assert findings("p.zip!pg8000/core.py", 'password="cpsnow"')  # only in the vendored docs
