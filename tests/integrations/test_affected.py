"""``tfgen affected``: change detection by rendered output, against a scratch git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT, Run, files, snapshot
from tfgen.integrations import affected as affected_module
from tfgen.integrations.affected import ADDED, CHANGED, REMOVED, Change, compare


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(project: Path) -> Path:
    """The project copy as a git repository with one commit of its inputs."""
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.email", "ci@example.com")
    git(project, "config", "user.name", "CI")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "inputs")
    return project


def affected(run: Run, *args: str) -> list[dict[str, object]]:
    result = run("affected", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["affected"]  # type: ignore[no-any-return]


def test_nothing_changed_affects_nothing(repo: Path, run: Run) -> None:
    assert affected(run) == []
    text = run("affected")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert text.stdout == f"0 of 3 environment(s) affected since HEAD ({head[:12]})\n"


def test_a_template_edit_that_changes_no_output_affects_none(repo: Path, run: Run) -> None:
    template = repo / "templates" / "kms.tf.j2"
    text = template.read_text()
    template.write_text("{# a note for template authors: renders to nothing #}\n" + text)
    assert files(repo / "templates") != {}
    assert affected(run) == []


def test_a_template_edit_that_changes_output_affects_every_environment(repo: Path, run: Run) -> None:
    template = repo / "templates" / "kms.tf.j2"
    template.write_text(template.read_text() + "\n# ---- end of the keys ----\n")
    assert affected(run) == [{"environment": env, "change": CHANGED, "files": ["kms.tf"], "note": ""}
                             for env in ("dev", "prod", "staging")]


def test_a_defaults_edit_affects_exactly_the_environments_that_inherit_the_value(repo: Path, run: Run) -> None:
    # dev sets lambda.log_level itself; prod and staging inherit it from the defaults.
    env_dir = repo / "environments"
    inherits = [e for e in ("dev", "prod", "staging") if "log_level:" not in (env_dir / f"{e}.yaml").read_text()]
    assert inherits == ["prod", "staging"]
    defaults = env_dir / "defaults.yaml"
    text = defaults.read_text()
    assert text.count("  log_level: INFO") == 1
    defaults.write_text(text.replace("  log_level: INFO", "  log_level: WARNING"))
    assert affected(run) == [{"environment": env, "change": CHANGED, "files": ["lambda.tf"], "note": ""}
                             for env in inherits]


def test_added_and_removed_environments(repo: Path, run: Run) -> None:
    env_dir = repo / "environments"
    (env_dir / "qa.yaml").write_text("tags:\n  Owner: payments-qa\n")
    (env_dir / "staging.yaml").unlink()
    assert affected(run) == [
        {"environment": "qa", "change": ADDED, "files": [], "note": ""},
        {"environment": "staging", "change": REMOVED, "files": [], "note": ""},
    ]
    matrix = run("affected", "--format", "github-matrix")
    assert matrix.stdout == '{"include":[{"environment":"qa","change":"added"}]}\n'


def test_since_an_older_revision_and_a_package_change(repo: Path, run: Run) -> None:
    handler = repo / "lambdas" / "fraud_detection" / "fraud_detection.py"
    handler.write_text(handler.read_text() + "\n# reviewed\n")
    git(repo, "commit", "-q", "-am", "handler comment")
    assert affected(run) == []
    changed = affected(run, "--since", "HEAD~1")
    assert [c["environment"] for c in changed] == ["dev", "prod", "staging"]
    assert all(c["files"] == ["lambda.tf", "packages/fraud_detection.zip"] for c in changed)


def test_the_work_tree_and_build_are_untouched(repo: Path, run: Run) -> None:
    assert run("render", "--all").exit_code == 0
    (repo / "environments" / "defaults.yaml").write_text(
        (repo / "environments" / "defaults.yaml").read_text().replace("  log_level: INFO", "  log_level: ERROR"))
    before = snapshot(repo), git(repo, "status", "--porcelain")
    assert [c["environment"] for c in affected(run, "--since", "main")] == ["prod", "staging"]
    assert (snapshot(repo), git(repo, "status", "--porcelain")) == before


def test_an_environment_invalid_at_the_revision_is_affected(repo: Path, run: Run) -> None:
    (repo / "environments" / "dev.yaml").write_text("kms:\n  deletion_window_days: 3\n")
    git(repo, "commit", "-q", "-am", "broken dev")
    git(repo, "checkout", "-q", "HEAD~1", "--", "environments/dev.yaml")
    [change] = affected(run)
    assert change["environment"] == "dev" and change["change"] == CHANGED
    assert change["note"] == ("invalid at HEAD: environments/dev.yaml:2:3: kms.deletion_window_days: "
                              "expected a number >= 7, got integer 3")


def test_an_invalid_environment_now_is_a_configuration_error(repo: Path, run: Run) -> None:
    (repo / "environments" / "dev.yaml").write_text("kms:\n  deletion_window_days: 3\n")
    result = run("affected")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "environments/dev.yaml:2:3: kms.deletion_window_days: expected a number >= 7, got integer 3"]


def test_an_unknown_revision_is_a_usage_error(repo: Path, run: Run) -> None:
    result = run("affected", "--since", "no-such-branch")
    assert result.exit_code == 2
    assert result.stderr.startswith("tfgen: git rev-parse --verify: ")


def test_outside_a_git_repository(project: Path, run: Run) -> None:
    result = run("affected")
    assert result.exit_code == 2
    assert "not a git repository" in result.stderr


def test_compare_is_pure() -> None:
    before = {"a": {"x.tf": "1"}, "b": {"x.tf": "1"}, "c": "invalid at main: …", "gone": {}}
    after = {"a": {"x.tf": "1"}, "b": {"x.tf": "2", "y.tf": "3"}, "c": {}, "new": {}}
    assert compare(before, after) == [
        Change("b", CHANGED, ("x.tf", "y.tf")), Change("c", CHANGED, (), "invalid at main: …"),
        Change("gone", REMOVED), Change("new", ADDED)]


def test_the_documents_match_their_published_schemas(repo: Path, run: Run) -> None:
    (repo / "environments" / "qa.yaml").write_text("")
    (repo / "environments" / "staging.yaml").unlink()
    docs = ROOT / "docs" / "json"
    for fmt, schema in (("json", "affected.schema.json"), ("github-matrix", "github-matrix.schema.json")):
        result = run("affected", "--format", fmt)
        assert result.exit_code == 0
        jsonschema.Draft202012Validator(json.loads((docs / schema).read_text())).validate(json.loads(result.stdout))


def test_forked_workers_give_the_same_answer(repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = repo / "environments" / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("  log_level: INFO", "  log_level: ERROR"))
    (repo / "environments" / "qa.yaml").write_text("lambda:\n  log_level: DEBUG\n")
    monkeypatch.setattr(affected_module, "_PARALLEL_FROM", 10**9)
    alone = affected(run)
    monkeypatch.setattr(affected_module, "_PARALLEL_FROM", 2)
    monkeypatch.setattr(affected_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert affected(run) == alone
    assert [c["environment"] for c in alone] == ["prod", "qa", "staging"]


def test_a_template_error_in_a_worker_is_reported(repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(affected_module, "_PARALLEL_FROM", 2)
    monkeypatch.setattr(affected_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    template = repo / "templates" / "kms.tf.j2"
    template.write_text(template.read_text() + "{{ cfg.kms.no_such_setting | hcl }}\n")
    result = run("affected")
    assert result.exit_code == 3
    assert result.stderr.startswith("tfgen: templates/kms.tf.j2:")
