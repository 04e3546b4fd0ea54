"""The no-op path: an unchanged environment is answered from its manifest; anything else falls
through to the full render, with exactly the full path's outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tfgen
from tests.conftest import SHIPPED_ENVS, Run
from tfgen import inputs
from tfgen.cli.main import LAZY_COMMANDS
from tfgen.errors import Finding
from tfgen.project import Project
from tfgen.render import package
from tfgen.render import templates as render

HEAVY = ("pydantic", "jinja2", "yaml", "tfgen.config.model", "tfgen.render.templates", "tfgen.config.layers",
         "tfgen.config.environment")


@pytest.fixture(autouse=True)
def fresh_process_caches() -> None:
    """Packages and templates are cached per process by a path relative to the project: tests
    here change lambdas and templates in their own copies, so no test may see another's."""
    render._packages.cache_clear()
    render.jinja_env.cache_clear()
    inputs._tool_sources.cache_clear()


def project_at(root: Path) -> Project:
    return Project(env_dir=root / "environments", template_dir=root / "templates", out_dir=root / "build",
                   lambda_dir=root / "lambdas")


def current(root: Path, env: str = "dev", overrides: list[str] | None = None) -> bool:
    return project_at(root).current([env], overrides) is not None


def manifest(root: Path, env: str = "dev") -> dict[str, object]:
    data: dict[str, object] = json.loads((root / "build" / env / inputs.MANIFEST).read_text())
    return data


def rendered(run: Run, *args: str) -> str:
    result = run("render", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_unchanged_environment_is_current_and_reported_as_the_full_path_reports_it(
        run: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run, "--all")
    assert project_at(project).current(list(SHIPPED_ENVS)) is not None
    no_op = rendered(run, "--all")
    assert run("check").stdout == "3 environment(s) up to date\n"
    monkeypatch.setattr(Project, "current", lambda *args: None)
    full = rendered(run, "--all")
    assert no_op == full and " 0 written, 23 unchanged, 0 removed, " in full
    assert run("check").stdout == "3 environment(s) up to date\n"


def test_the_manifest_records_the_digest_of_the_inputs(run: Run, project: Path) -> None:
    rendered(run, "dev")
    assert manifest(project)["input_digest"] == project_at(project).input_digests(["dev"])["dev"]


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


@pytest.mark.parametrize("path, text, written", [
    ("environments/dev.yaml", "\n# a comment changes the bytes, not the configuration\n", 0),
    ("environments/defaults.yaml", "\n# shared\n", 0),
    ("templates/network.tf.j2", "\n{# a template comment #}\n", 0),
    ("templates/_checkov.j2", "{# a partial #}", 0),
    ("lambdas/payment_validation/card_tokens.py", "\n# handler source\n", 2),
    ("lambdas/common/paycommon/__init__.py", "\n# shared source\n", 4),
])
def test_a_changed_input_falls_through(path: str, text: str, written: int, run: Run, project: Path) -> None:
    rendered(run, "dev")
    assert current(project)
    append(project / path, text)
    assert not current(project)
    render._packages.cache_clear()  # built once per process, as the command line builds them
    render.jinja_env.cache_clear()
    assert f"dev: {written} written, {23 - written} unchanged, " in rendered(run, "dev")  # the full path
    assert current(project)  # and the manifest now records the new inputs


def test_changed_requirements_fall_through(run: Run, project: Path) -> None:
    rendered(run, "dev")
    append(project / "lambdas/db_secret_rotation/requirements.txt", "\n")  # (rebuilding it needs pip)
    assert not current(project)


def test_a_changed_setting_falls_through_and_is_reported_stale(run: Run, project: Path) -> None:
    rendered(run, "dev")
    append(project / "environments/dev.yaml", "region: eu-west-1\n")
    assert not current(project)
    result = run("check", "dev")
    assert result.exit_code == 1 and "stale (run tfgen render)" in result.stderr


def test_a_new_or_changed_environment_schema_falls_through(run: Run, project: Path) -> None:
    rendered(run, "dev")
    schema = project / "environments" / inputs.SCHEMA_FILE
    schema.write_text('{"type": "object"}\n')
    assert not current(project)
    rendered(run, "dev")
    assert current(project)
    schema.write_text('{"type": "object", "title": "Environment"}\n')
    assert not current(project)


def test_a_hand_edit_falls_through_and_is_reported(run: Run, project: Path) -> None:
    rendered(run, "--all")
    edited = project / "build/prod/network.tf"
    edited.write_text(edited.read_text() + "# tweak\n")
    assert not current(project, "prod") and current(project, "dev")
    result = run("check")
    assert result.exit_code == 1
    assert result.stderr == f"{Path('build/prod/network.tf')}: edited by hand since tfgen wrote it\n"


def test_an_edited_package_falls_through(run: Run, project: Path) -> None:
    rendered(run, "dev")
    zipped = project / "build/dev/packages/fraud_detection.zip"
    data = zipped.read_bytes()
    zipped.unlink()  # packages may be hard links shared with other environments
    zipped.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert not current(project)
    assert "edited by hand" in run("check", "dev").stderr


def test_a_missing_file_falls_through_and_is_restored(run: Run, project: Path) -> None:
    rendered(run, "dev")
    (project / "build/dev/kms.tf").unlink()
    assert not current(project)
    assert run("check", "dev").stderr == f"{Path('build/dev/kms.tf')}: missing\n"
    assert "dev: 1 written, 22 unchanged, " in rendered(run, "dev")
    assert current(project)


def test_a_missing_or_foreign_manifest_falls_through(run: Run, project: Path) -> None:
    rendered(run, "--all")
    (project / "build/dev" / inputs.MANIFEST).write_bytes((project / "build/prod" / inputs.MANIFEST).read_bytes())
    assert not current(project, "dev")
    (project / "build/staging" / inputs.MANIFEST).write_text("{not json")
    assert not current(project, "staging")
    (project / "build/prod" / inputs.MANIFEST).unlink()
    assert not current(project, "prod")


def test_a_manifest_without_an_input_digest_falls_through(run: Run, project: Path) -> None:
    """As written by an earlier tfgen, or by `tfgen traffic`, which renders a model it changed."""
    rendered(run, "dev")
    data = manifest(project)
    del data["input_digest"]
    (project / "build/dev" / inputs.MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    assert not current(project)
    assert "dev: 0 written, 23 unchanged, " in rendered(run, "dev")
    assert current(project)


def test_changed_set_values_fall_through(run: Run, project: Path) -> None:
    first, second = "network.single_nat_gateway=false", "network.single_nat_gateway=true"
    rendered(run, "dev", "--set", first)
    assert current(project, overrides=[first])
    assert not current(project, overrides=[second]) and not current(project)
    assert "dev: 0 written, " not in rendered(run, "dev", "--set", second)
    assert run("check", "dev").exit_code == 0  # dev.yaml itself has single_nat_gateway: true


def test_output_rendered_without_set_values_is_not_current_for_a_run_with_them(run: Run, project: Path) -> None:
    rendered(run, "dev")
    changed = "network.single_nat_gateway=false"  # dev.yaml has true
    assert project_at(project).status(["dev"]) == [("dev", [])]
    [(env, lines)] = project_at(project).status(["dev"], [changed])
    assert env == "dev" and lines
    with pytest.raises(Finding, match="output is not current"):
        project_at(project).require_current("dev", [changed])


def test_another_tfgen_version_falls_through(run: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run, "dev")
    monkeypatch.setattr(tfgen, "__version__", "99.0.0")
    assert not current(project)


def test_another_version_of_a_library_that_shapes_the_output_falls_through(
        run: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered(run, "dev")
    assert "jinja2-" in inputs._installed("jinja2", "jinja2")
    monkeypatch.setattr(inputs, "_installed", lambda module, distribution: f"{distribution}-0.0.dist-info")
    inputs._tool_sources.cache_clear()
    assert not current(project)


def test_changed_tfgen_sources_change_the_digest(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = project_at(project).input_digests(["dev"])["dev"]
    monkeypatch.setattr(inputs, "_tool_sources", lambda: "another build of tfgen")
    assert project_at(project).input_digests(["dev"])["dev"] != before


def test_an_interrupted_write_beside_the_output_falls_through_and_is_cleaned_up(run: Run, project: Path) -> None:
    rendered(run, "dev")
    leftover = project / "build" / f".dev{inputs.TMP_MARK}x1"
    leftover.mkdir()
    assert not current(project)
    rendered(run, "dev")
    assert not leftover.exists() and current(project)


def test_the_digest_ignores_what_no_package_or_template_is_built_from(run: Run, project: Path) -> None:
    rendered(run, "dev")
    (project / "lambdas/fraud_detection/__pycache__").mkdir()
    (project / "lambdas/fraud_detection/__pycache__/fraud_rules.cpython-311.pyc").write_bytes(b"\0")
    (project / "templates/.network.tf.j2.swp").write_bytes(b"\0")
    (project / "environments/notes.txt").write_text("not a layer of dev\n")
    assert current(project)


def test_the_digest_and_the_packages_share_one_exclusion_rule(tmp_path: Path) -> None:
    assert package.tree is inputs.tree
    for name in ("a.py", ".hidden", "x.pyc", "x.pyo", "requirements.txt", "__pycache__/m.pyc", ".git/HEAD",
                 "sub/b.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x\n")
    (tmp_path / "linked").symlink_to(tmp_path / "sub", target_is_directory=True)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    assert [rel for rel, _ in package._walk(tmp_path)] == ["a.py", "requirements.txt", "sub/b.py"]
    assert [rel for rel, _ in inputs.tree(tmp_path)] == ["a.py", "dangling", "requirements.txt", "sub/b.py"]
    assert [name for name in ("a.py", ".hidden", "__pycache__", "x.pyc", "x.pyo", "requirements.txt", ".git")
            if inputs.excluded(name)] == [".hidden", "__pycache__", "x.pyc", "x.pyo", ".git"]


# --- what each path imports: checked in a fresh interpreter -------------------------------------

def python(code: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """What a fresh interpreter running ``code`` prints, line by line; the last line is the list
    of heavy modules it holds by then."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def imported_by(code: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code`` (which may call main)."""
    result: list[str] = json.loads(python(code, cwd, env)[-1])
    return result


MAIN = "from tfgen.cli.main import main\ncode = main({args!r})\nassert code == {code}, code"


def test_importing_the_cli_imports_no_model_template_or_yaml_library(tmp_path: Path) -> None:
    assert imported_by("import tfgen.cli.main", tmp_path) == []
    assert imported_by(MAIN.format(args=["--help"], code=0), tmp_path) == []
    assert imported_by(MAIN.format(args=["render", "--help"], code=0), tmp_path) == []


def test_completion_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    env = {"_TFGEN_COMPLETE": "bash_complete", "COMP_WORDS": "tfgen tr", "COMP_CWORD": "1"}
    code = "from tfgen.cli.main import main\nmain([])\nassert 'tfgen.cli.traffic' not in sys.modules"
    assert python(code, tmp_path, env) == ["plain,traffic", "[]"]


def test_an_unchanged_render_and_check_import_neither_model_nor_jinja(run: Run, project: Path) -> None:
    rendered(run, "--all")
    assert imported_by(MAIN.format(args=["render", "--all"], code=0), project) == []
    assert imported_by(MAIN.format(args=["check"], code=0), project) == []
    append(project / "environments/dev.yaml", "\n# changed\n")
    assert imported_by(MAIN.format(args=["check"], code=0), project) == sorted(HEAVY)


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_a_lazy_command_is_listed_with_its_own_help(name: str) -> None:
    from click import Command

    from tfgen.cli.main import cli

    target, text = LAZY_COMMANDS[name]
    module, _, attribute = target.partition(":")
    command = getattr(__import__(module, fromlist=[attribute]), attribute)
    assert isinstance(command, Command) and command.help is not None
    assert " ".join(command.help.split("\n\n")[0].split()) == text
    assert cli.get_command(None, name) is command  # type: ignore[arg-type]


def test_help_lists_every_command_with_the_help_click_would_show(run: Run) -> None:
    from tfgen.cli.main import cli

    listed = run("--help").stdout.split("Commands:\n")[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(cli.list_commands(None))  # type: ignore[arg-type]
    traffic_line = next(line for line in listed if line.split()[0] == "traffic")
    assert traffic_line.split(None, 1)[1].startswith("Show or move the blue/green traffic split")
