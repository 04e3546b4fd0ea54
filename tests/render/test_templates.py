"""Rendering: golden files byte for byte, determinism, and the HCL-literal rule for templates."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, SHIPPED_ENVS, files
from tfgen.config import environment
from tfgen.errors import RenderError
from tfgen.render import templates as render

GOLDEN = ROOT / "tests" / "golden"
TEMPLATES = ROOT / "templates"


def fresh(env: str, env_dir: Path = ROOT / "environments", templates: Path = TEMPLATES) -> render.Rendered:
    return render.render(environment.load(env_dir, env), templates, ROOT / "lambdas")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_golden(env: str, update_golden: bool) -> None:
    rendered = {path: data for path, data in fresh(env).files.items() if path.endswith(".tf")}
    golden_dir = GOLDEN / env
    if update_golden:
        shutil.rmtree(golden_dir, ignore_errors=True)
        golden_dir.mkdir(parents=True)
        for path, data in rendered.items():
            (golden_dir / path).write_bytes(data)
    golden = {p.name: p.read_bytes() for p in sorted(golden_dir.glob("*.tf"))}
    assert sorted(golden) == sorted(rendered), "run pytest --update-golden and review the diff"
    for path, data in rendered.items():
        assert data == golden[path], f"{env}/{path} differs from tests/golden (pytest --update-golden)"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_render_is_deterministic(env: str) -> None:
    assert fresh(env).files == fresh(env).files


def test_separate_processes_with_different_hash_seeds_write_identical_trees(tmp_path: Path) -> None:
    """Set and dict ordering must never leak into the output: each run has its own hash seed."""
    trees = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "TFGEN_CACHE_DIR": str(tmp_path / f"cache{seed}")}
        subprocess.run([sys.executable, "-m", "tfgen", "render", "--all", "--out", str(out)], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        trees.append(files(out))
    assert len(trees[0]) > 3 * len(SHIPPED_ENVS)
    assert trees[0] == trees[1]


def test_output_is_lf_with_one_trailing_newline_and_no_trailing_blanks() -> None:
    for env in SHIPPED_ENVS:
        for path, data in fresh(env).files.items():
            if not path.endswith(".tf"):
                continue
            text = data.decode()
            assert "\r" not in text and text.endswith("\n") and not text.endswith("\n\n"), path
            assert not re.search(r"[ \t]+$", text, re.MULTILINE), path


def _normalised_by_definition(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


_PLAIN = st.lists(st.sampled_from(["\n", " ", "a", "{", "}"]), max_size=40).map("".join)
_BLANKS = st.sampled_from(["\n", "\r\n", " ", "\t", "\r", "\v", "\x1f", "\u00a0", "\u3000", "\u2028", "\x85", "a"])
_LAYOUT = st.one_of(_PLAIN, st.lists(st.one_of(_BLANKS, st.text(max_size=4)), max_size=40).map("".join))


@settings(max_examples=500)
@given(_LAYOUT)
def test_normalise_matches_its_definition_on_any_text(text: str) -> None:
    assert render._normalise(text) == _normalised_by_definition(text)


def test_normalise_strips_what_the_fast_path_must_not_miss() -> None:
    for text in ["a \nb\n", "a\t\nb", "a\r\n\r\n\r\n\r\nb", "a\u00a0\nb", "a\x1c\n", "a\n\n\n\nb  ", "x\v"]:
        assert render._normalise(text) == _normalised_by_definition(text) != text


_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_FILTERED = re.compile(r"\|\s*(hcl|hcl_key|hcl_object\([^)]*\)|hcl_attributes\([^)]*\))\s*$")


def test_every_template_value_goes_through_an_hcl_filter() -> None:
    offenders = []
    for template in sorted(TEMPLATES.glob("*.j2")):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            for match in _EXPRESSION.finditer(line):
                if not _FILTERED.search(match.group(1)):
                    offenders.append(f"{template.name}:{number}: {{{{{match.group(1)}}}}}")
    assert offenders == []


def test_the_filter_scan_catches_an_unfiltered_value() -> None:
    assert not _FILTERED.search(" cfg.region ")
    assert not _FILTERED.search(" cfg.region | lower ")
    assert _FILTERED.search(" cfg.region | hcl ")


def test_strict_undefined_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "broken.tf.j2").write_text("x = {{ cfg.no_such_setting | hcl }}\n")
    with pytest.raises(RenderError, match=r"templates/broken.tf.j2: UndefinedError: .*no_such_setting"):
        fresh("dev", templates=tmp_path)


def test_partials_are_not_rendered_as_files(tmp_path: Path) -> None:
    (tmp_path / "_macros.j2").write_text("{% macro x() %}{% endmacro %}")
    (tmp_path / "a.tf.j2").write_text('{% import "_macros.j2" as m %}\nlocals {}\n')
    assert {p for p in fresh("dev", templates=tmp_path).files if not p.startswith("packages/")} == {"a.tf"}


def test_free_text_cannot_break_out_of_its_string(tmp_path: Path) -> None:
    env_dir = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", env_dir)
    dev = env_dir / "dev.yaml"
    evil = '  Evil: "x\\" }\\nresource \\"aws_iam_user\\" \\"y\\" { name = \\"${var.z}%{if 1}"'
    dev.write_text(dev.read_text().replace("  Owner: payments-dev", "  Owner: payments-dev\n" + evil))
    rendered = fresh("dev", env_dir=env_dir).files["providers.tf"].decode()
    expected = 'Evil               = "x\\" }\\nresource \\"aws_iam_user\\" \\"y\\" { name = \\"$${var.z}%%{if 1}"'
    assert expected in rendered
    from tfgen.render.lint import parse

    assert "aws_iam_user" not in str(parse(rendered).get("resource", []))


# Plain data with attribute access, in a fresh interpreter: the configuration model must not be imported.
PLAIN_SETTINGS = r'''
import json, sys
from tfgen.render import templates
class Attrs(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
def plain(value):
    if isinstance(value, dict):
        return Attrs({("lambda_" if key == "lambda" else key): plain(item) for key, item in value.items()})
    return value
settings = templates.function_settings("dev", plain(json.loads(sys.stdin.read())))
heavy = sorted(name for name in sys.modules if name.startswith("pydantic") or name == "tfgen.config.model")
print(json.dumps({"settings": settings, "heavy": heavy}))
'''


def test_the_function_settings_need_no_configuration_model() -> None:
    """What the templates compute reads plain attributes: the bench's bare loop renders with them
    without importing pydantic, and gets the same settings."""
    model = environment.load(ROOT / "environments", "dev").model
    done = subprocess.run([sys.executable, "-c", PLAIN_SETTINGS], input=model.model_dump_json(by_alias=True),
                          capture_output=True, text=True, check=True, cwd=ROOT)
    answer = json.loads(done.stdout)
    assert answer["heavy"] == []
    assert answer["settings"] == render.function_settings("dev", model)
