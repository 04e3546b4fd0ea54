"""The CI files tfgen writes or documents, validated against the published (or transcribed)
schemas of GitHub Actions workflows and Atlantis repo configs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, SHIPPED_ENVS, Run

FIXTURES = ROOT / "tests" / "fixtures"
GITHUB_WORKFLOW = json.loads((FIXTURES / "schemas" / "github-workflow.json").read_text())
ATLANTIS = json.loads((FIXTURES / "schemas" / "atlantis-repo-config.json").read_text())
WORKFLOW_FILE = ROOT / "docs" / "ci" / "github-actions.yml"


def load_workflow() -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(WORKFLOW_FILE.read_text())
    # PyYAML reads the key `on` as the boolean true (YAML 1.1); GitHub reads YAML 1.2.
    workflow["on"] = workflow.pop(True)
    return workflow


def test_the_github_actions_workflow_is_valid() -> None:
    jsonschema.Draft7Validator.check_schema(GITHUB_WORKFLOW)
    jsonschema.Draft7Validator(GITHUB_WORKFLOW).validate(load_workflow())


def test_the_workflow_fans_out_one_plan_per_affected_environment_and_posts_the_review() -> None:
    jobs = load_workflow()["jobs"]
    affected = "\n".join(step.get("run", "") for step in jobs["affected"]["steps"])
    assert 'tfgen affected --since "origin/$BASE_REF" --format github-matrix' in affected
    plan = jobs["plan"]
    assert plan["needs"] == "affected"
    assert plan["strategy"]["matrix"] == "${{ fromJSON(needs.affected.outputs.matrix) }}"
    runs = [step.get("run", "") for step in plan["steps"]]
    assert 'tfgen plan "$ENV_NAME" --format markdown > plan-review.md' in runs
    poster = plan["steps"][-1]
    assert poster["uses"].startswith("actions/github-script@") and "plan-review.md" in poster["with"]["script"]
    assert plan["permissions"]["pull-requests"] == "write"


def test_the_release_workflow_is_valid_and_runs_the_release_once_per_environment() -> None:
    workflow: dict[Any, Any] = yaml.safe_load((ROOT / "docs" / "ci" / "release.yml").read_text())
    workflow["on"] = workflow.pop(True)
    jsonschema.Draft7Validator(GITHUB_WORKFLOW).validate(workflow)
    assert workflow["concurrency"] == {"group": "tfgen-release-${{ inputs.environment }}", "cancel-in-progress": False}
    [job] = workflow["jobs"].values()
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert 'tfgen release "$ENV_NAME" --yes --format markdown' in runs
    plan_uses = {step["uses"] for job in load_workflow()["jobs"].values() for step in job["steps"] if "uses" in step}
    release_uses = {step["uses"] for step in job["steps"] if "uses" in step}
    # the actions both use are pinned to the same commits; the release alone keeps an artifact
    assert {uses.split("@")[0] for uses in release_uses - plan_uses} == {"actions/upload-artifact"}


CI_WORKFLOWS = sorted((ROOT / "docs" / "ci").glob("*.yml"))


def zizmor(*paths: Path) -> list[dict[str, Any]]:
    """zizmor's findings (offline: no GitHub API) on ``paths``, as its JSON."""
    done = subprocess.run([str(Path(sys.executable).parent / "zizmor"), "--offline", "--no-progress", "--format",
                           "json", *map(str, paths)], cwd=ROOT, capture_output=True, text=True, check=False)
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    assert done.returncode == (0 if not findings else done.returncode), done.stderr
    return findings


def test_every_workflow_under_docs_ci_passes_zizmor_with_no_finding() -> None:
    """They hold AWS credentials for a PCI account: every action pinned by commit, no persisted
    checkout credentials, least-privilege permissions."""
    assert {p.name for p in CI_WORKFLOWS} >= {"github-actions.yml", "release.yml"}
    findings = zizmor(*CI_WORKFLOWS)
    assert [(f["ident"], f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"],
             f["locations"][0]["concrete"]["location"]["start_point"]["row"] + 1) for f in findings] == []


def test_zizmor_finds_a_tag_pinned_action_and_persisted_checkout_credentials(tmp_path: Path) -> None:
    """The lint above can fail: the same workflow with a tag for a commit and checkout's default."""
    text = WORKFLOW_FILE.read_text()
    text = re.sub(r"actions/checkout@[0-9a-f]{40}  # v[0-9.]+", "actions/checkout@v4", text)
    text = text.replace("persist-credentials: false", "clean: true")  # checkout's default: persisted
    (tmp_path / "workflow.yml").write_text(text)
    assert {f["ident"] for f in zizmor(tmp_path / "workflow.yml")} == {"unpinned-uses", "artipacked"}


@pytest.mark.parametrize("workflow", CI_WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_version_in_a_comment(workflow: Path) -> None:
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", workflow.read_text(), re.MULTILINE)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"  # v\d+\.\d+\.\d+", comment), (action, comment)


def test_a_workflow_with_a_mistake_is_rejected() -> None:
    """The schema is strict enough to catch what a person would get wrong."""
    workflow = load_workflow()
    workflow["jobs"]["plan"]["strategy"]["fail_fast"] = False
    assert not jsonschema.Draft7Validator(GITHUB_WORKFLOW).is_valid(workflow)


# --- Atlantis ------------------------------------------------------------------------------------

def struct_tags(source: str, struct: str) -> set[str]:
    body = re.search(rf"type {struct} struct \{{(.*?)\n\}}", source, re.S)
    assert body, struct
    return set(re.findall(r'yaml:"([a-z_]+)', body.group(1)))


@pytest.mark.parametrize(("file", "struct", "pointer"), [
    ("repo_cfg.go", "RepoCfg", ()),
    ("project.go", "Project", ("definitions", "project")),
    ("autoplan.go", "Autoplan", ("definitions", "autoplan")),
    ("workflow.go", "Workflow", ("definitions", "workflow")),
    ("stage.go", "Stage", ("definitions", "stage")),
])
def test_the_transcribed_atlantis_schema_has_exactly_the_keys_of_atlantis_structs(
        file: str, struct: str, pointer: tuple[str, ...]) -> None:
    node = ATLANTIS
    for part in pointer:
        node = node[part]
    assert set(node["properties"]) == struct_tags((FIXTURES / "atlantis" / file).read_text(), struct)


@pytest.fixture
def atlantis_config(project: Path, run: Run) -> dict[str, Any]:
    result = run("atlantis")
    assert (result.exit_code, result.stderr) == (0, "atlantis.yaml: Atlantis repo config written\n")
    config: dict[str, Any] = yaml.safe_load((project / "atlantis.yaml").read_text())
    return config


def test_atlantis_yaml_is_valid(atlantis_config: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(ATLANTIS)
    jsonschema.Draft7Validator(ATLANTIS).validate(atlantis_config)


def test_the_atlantis_schema_rejects_what_atlantis_rejects(atlantis_config: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(ATLANTIS)
    for broken in ({"version": 1}, {"projects": [{"dir": "../build/dev"}]}, {"projects": [{"name": "dev"}]},
                   {"workflows": {"w": {"plan": {"steps": ["terraform"]}}}}):
        assert not validator.is_valid({**atlantis_config, **broken}), broken


def test_one_project_per_environment_planned_when_its_inputs_change(project: Path,
                                                                     atlantis_config: dict[str, Any]) -> None:
    projects = atlantis_config["projects"]
    assert [(p["name"], p["dir"], p["workflow"]) for p in projects] == [
        (env, f"build/{env}", "tfgen") for env in SHIPPED_ENVS]
    for entry in projects:
        directory = project / entry["dir"]
        directory.mkdir(parents=True, exist_ok=True)
        watched = {p.resolve().relative_to(project).as_posix()
                   for pattern in entry["autoplan"]["when_modified"] for p in directory.glob(pattern) if p.is_file()}
        env = entry["name"]
        assert {"templates/kms.tf.j2", "environments/defaults.yaml", f"environments/{env}.yaml",
                "lambdas/fraud_detection/fraud_detection.py"} <= watched
        others = {f"environments/{e}.yaml" for e in SHIPPED_ENVS if e != env}
        assert not watched & others


def test_the_workflow_renders_then_plans_from_the_project_directory(project: Path,
                                                                    atlantis_config: dict[str, Any]) -> None:
    steps = atlantis_config["workflows"]["tfgen"]["plan"]["steps"]
    from tfgen.deploy.plans import PLAN_FILE

    assert steps[1] == "init"
    assert steps[2]["run"].endswith('plan --out build --format markdown "$PROJECT_NAME" -- -input=false')
    assert steps[3]["run"] == f'cp {PLAN_FILE} "$PLANFILE"'
    [apply] = atlantis_config["workflows"]["tfgen"]["apply"]["steps"]
    assert apply["run"].endswith('apply --out build "$PROJECT_NAME" -- -input=false')
    render = steps[0]["run"]
    directory = project / "build" / "staging"
    directory.mkdir(parents=True)
    env = {**os.environ, "PROJECT_NAME": "staging", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", "-c", render], cwd=directory, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (directory / "kms.tf").is_file() and not (project / "build" / "dev").exists()


def test_atlantis_to_stdout_and_with_other_directories(project: Path, run: Run) -> None:
    (project / "environments").rename(project / "envs")
    result = run("--environments", "envs", "atlantis", "--out", "out", "-o", "-")
    assert result.exit_code == 0
    config = yaml.safe_load(result.stdout)
    jsonschema.Draft7Validator(ATLANTIS).validate(config)
    assert config["projects"][0]["dir"] == "out/dev"
    assert config["projects"][0]["autoplan"]["when_modified"][2] == "../../envs/dev.yaml"
    assert config["workflows"]["tfgen"]["plan"]["steps"][0]["run"] == (
        'cd ../.. && tfgen --environments envs render --out out "$PROJECT_NAME"')
    assert not (project / "atlantis.yaml").exists()


def test_atlantis_needs_an_output_directory_inside_the_repository(project: Path, run: Run) -> None:
    for out in (str(project / "build"), "../build"):
        result = run("atlantis", "--out", out)
        assert (result.exit_code, result.stderr) == (
            2, f"tfgen: --out {out}: expected a directory inside the repository, relative to its root\n")
    assert not (project / "atlantis.yaml").exists()


# --- drift ---------------------------------------------------------------------------------------

DRIFT_FILE = ROOT / "docs" / "ci" / "drift.yml"


def test_the_scheduled_drift_workflow_is_valid_and_uses_the_plan_workflows_actions() -> None:
    workflow: dict[Any, Any] = yaml.safe_load(DRIFT_FILE.read_text())
    workflow["on"] = workflow.pop(True)
    jsonschema.Draft7Validator(GITHUB_WORKFLOW).validate(workflow)
    assert workflow["on"]["schedule"] == [{"cron": "17 5 * * *"}]
    [job] = workflow["jobs"].values()
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert 'tfgen drift "$ENV_NAME" --format json > drift.json' in runs
    plan_uses = {step["uses"].split("@")[0]: step["uses"] for j in load_workflow()["jobs"].values()
                 for step in j["steps"] if "uses" in step}
    for step in job["steps"]:
        name = step.get("uses", "@").split("@")[0]
        if name in plan_uses:
            assert step["uses"] == plan_uses[name], f"{name}: pinned as in github-actions.yml"
