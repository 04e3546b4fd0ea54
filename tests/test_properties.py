"""Properties of the HCL tfgen writes: any configuration string reads back as exactly that string.

Three oracles, each for what it can judge:

- ``hcl_quoted_value`` below, a reference decoder written from the HCL native syntax
  specification (hclsyntax/spec.md, "Template Expressions"): in a quoted template the escapes are
  ``\\n \\r \\t \\" \\\\ \\uNNNN \\UNNNNNNNN``, ``$${`` is a literal ``${`` and ``%%{`` a literal
  ``%{``; an unescaped ``${`` or ``%{`` starts an interpolation or directive. It refuses anything
  that is not one plain literal, so a value that breaks out of its quotes or interpolates fails.
- python-hcl2, which parses the whole rendered file. It deviates from the HCL grammar in two
  documented ways: its lexer takes ``$${…}`` / ``%%{…}`` as one opaque token running to the next
  ``}`` (``ESCAPED_INTERPOLATION: /\\$\\$\\{[^}]*\\}/``), so escapes inside are not decoded and an
  escape with no later ``}`` (``"$${"``) does not parse; and it returns a number written with an
  exponent (``1e+16``) as the expression text ``"${1e+16}"``. It judges strings without ``${`` /
  ``%{``; ``from_python_hcl2`` undoes the number wrapping.
- terraform itself (``terraform console`` on a scratch module, one run for a whole batch), which
  judges everything, template sequences included. Terraform normalises every string to Unicode
  NFC (cty.StringVal), so the value it holds is NFC of the configured one: no escaping can change
  that, and the batch compares against NFC.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, requires_terraform
from tfgen.config import environment
from tfgen.config import layers as config
from tfgen.deploy import terraform
from tfgen.render import hcl
from tfgen.render import templates as render
from tfgen.render.lint import parse

# Each example renders an environment (examples are the same on every run: tests/conftest.py).
RENDERING = settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
FREE_KEY = "Free"

# Pieces that matter to HCL, YAML or terminals, mixed with arbitrary text (every code point but
# surrogates: control characters, combining marks, astral planes).
FRAGMENTS = ["${", "%{", "$${", "%%{", "$$${", "$", "%", "{", "}", "~}", "${~", "\\", '"', "\\\"", "\n",
             "\r\n", "\t", "\x00", "\x1b[31m", "\x7f", "\x85", "\u2028", "\ufeff", "e\u0301", "\U0001f600",
             "${var.secret}", "%{ if true }x%{ endif }", "\\n", "\\u0041", "$${x}", "}}", "<<EOF", "#", "//"]
free_text = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(FRAGMENTS)), max_size=8).map("".join)
# Tag keys the schema accepts (a subset of its pattern, so schema changes do not invalidate them).
tag_keys = st.from_regex(r"[\w .:/=+\-@]{1,40}", fullmatch=True).filter(
    lambda k: not k.lower().startswith("aws:") and k not in {"Environment", "Project", "ManagedBy"})


# --- the reference decoder --------------------------------------------------------------------

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def hcl_quoted_value(src: str) -> str:
    """The value of the HCL quoted template ``src`` (quotes included) that must be one literal."""
    if len(src) < 2 or src[0] != '"' or src[-1] != '"':
        raise ValueError(f"not a quoted string: {src!r}")
    out, i, end = [], 1, len(src) - 1
    while i < end:
        char = src[i]
        if char == "\\":
            code = src[i + 1] if i + 1 < end else ""
            if code in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[code])
                i += 2
            elif code in ("u", "U"):
                width = 4 if code == "u" else 8
                digits = src[i + 2:i + 2 + width]
                if len(digits) != width or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                    raise ValueError(f"bad \\{code} escape at {i} in {src!r}")
                out.append(chr(int(digits, 16)))
                i += 2 + width
            else:
                raise ValueError(f"unknown escape at {i} in {src!r}")
        elif src.startswith(("$${", "%%{"), i):
            out.append(char + "{")
            i += 3
        elif src.startswith(("${", "%{"), i):
            raise ValueError(f"template interpolation or directive at {i} in {src!r}")
        elif char == '"' or char in "\r\n":
            raise ValueError(f"unescaped {char!r} at {i} in {src!r}")
        else:
            out.append(char)
            i += 1
    return "".join(out)


def test_the_reference_decoder_follows_the_hcl_spec() -> None:
    assert hcl_quoted_value(r'"a\"b\\c\n\u00e9\U0001F600"') == 'a"b\\c\né\U0001f600'
    assert hcl_quoted_value('"$$${x} %%{ if } $ % $$"') == "$${x} %{ if } $ % $$"
    for bad in ['"${x}"', '"%{ if }"', '"a"b"', '"a\nb"', r'"\q"', r'"\u12"', "'a'"]:
        with pytest.raises(ValueError):
            hcl_quoted_value(bad)


def from_python_hcl2(value: Any) -> Any:
    """Undo python-hcl2's wrapping of an exponent number literal as ``"${1e+16}"``."""
    if isinstance(value, str) and re.fullmatch(r"\$\{-?[0-9.]+e[+-]?[0-9]+\}", value):
        return float(value[2:-1])
    if isinstance(value, list):
        return [from_python_hcl2(item) for item in value]
    if isinstance(value, dict):
        return {k: from_python_hcl2(v) for k, v in value.items()}
    return value


# --- rendering a configured string through the real pipeline ---------------------------------

_DEFAULTS = config.read_layer(ROOT / "environments" / "defaults.yaml")


def render_tags(tags: dict[str, str]) -> tuple[dict[str, str], str]:
    """Render the dev environment with ``tags`` written into its YAML file; returns the tags the
    provider should get and the text of providers.tf."""
    text = yaml.safe_dump({"tags": tags}, default_style='"', allow_unicode=True)
    layer = config.parse_yaml(text, "environments/dev.yaml")
    assert layer.data["tags"] == tags  # the YAML layer itself keeps every string
    cfg = config.merge("dev", [_DEFAULTS, layer], "environments/dev.yaml")
    model = environment.validate(cfg)
    rendered = render.render(environment.Loaded(config=cfg, model=model), ROOT / "templates", ROOT / "lambdas")
    expected = {"Environment": "dev", "Project": model.project, "ManagedBy": "tfgen", **model.tags}
    return expected, rendered.files["providers.tf"].decode("utf-8")


def tags_block(providers_tf: str) -> list[str]:
    """The lines of the ``tags = {`` … ``}`` object in default_tags, braces included."""
    lines = providers_tf.split("\n")
    start = lines.index("    tags = {")
    return lines[start:lines.index("    }", start) + 1]


def decode_tags_block(block: list[str]) -> dict[str, str]:
    """Each ``key = "value"`` line decoded with the reference decoder."""
    result = {}
    for line in block[1:-1]:
        match = re.fullmatch(r'      ("(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_-]*) *= (".*)', line)
        assert match, f"not one attribute: {line!r}"
        name, value = match.groups()
        result[hcl_quoted_value(name) if name.startswith('"') else name] = hcl_quoted_value(value)
    return result


@RENDERING
@given(value=free_text)
def test_any_tag_value_renders_to_hcl_that_reads_back_as_that_value(value: str) -> None:
    expected, text = render_tags({FREE_KEY: value})
    block = tags_block(text)
    assert len(block) == len(expected) + 2  # one line per tag: nothing broke out of its line
    assert decode_tags_block(block) == expected
    if "${" not in value and "%{" not in value:  # python-hcl2's documented limit, see above
        [provider] = parse(text)["provider"]
        assert provider["aws"]["default_tags"][0]["tags"] == expected


@RENDERING
@given(key=tag_keys, value=free_text)
def test_any_accepted_tag_key_renders_as_that_key(key: str, value: str) -> None:
    expected, text = render_tags({key: value})
    assert decode_tags_block(tags_block(text)) == expected
    if all("${" not in s and "%{" not in s for s in (key, value)):
        [provider] = parse(text)["provider"]
        assert provider["aws"]["default_tags"][0]["tags"] == expected


# --- hcl.literal on arbitrary nested values ---------------------------------------------------

plain_text = free_text.filter(lambda s: "${" not in s and "%{" not in s)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


def nested(strings: st.SearchStrategy[str], keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | finite_floats | strings
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(keys, inner, max_size=4), max_leaves=12)


def same_value(read: Any, expected: Any) -> bool:
    """Equal as HCL values, containers item by item. HCL has one arbitrary-precision number type:
    an integer must read back exactly, a float as the decimal its shortest repr spells (terraform
    holds 1.5e+300 as that exact decimal, which is not the binary float's exact value)."""
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return type(read) is type(expected) and read == expected
    if isinstance(expected, int | float):
        if isinstance(read, bool) or not isinstance(read, int | float):
            return False
        return float(read) == expected if isinstance(expected, float) else read == expected
    if isinstance(expected, list):
        return isinstance(read, list) and len(read) == len(expected) and all(
            same_value(r, e) for r, e in zip(read, expected, strict=True))
    return isinstance(read, dict) and read.keys() == expected.keys() and all(
        same_value(read[k], v) for k, v in expected.items())


@RENDERING
@given(value=nested(plain_text, plain_text))
def test_literal_round_trips_nested_values_through_python_hcl2(value: Any) -> None:
    read = from_python_hcl2(parse(f"x = {hcl.literal(value)}\n")["x"])
    assert same_value(read, value), (read, value)


# --- terraform as the oracle: one console run for a whole batch -------------------------------

# Object keys terraform reads specially when bare; "for" is left to its own test below.
KEYWORDS = ["if", "in", "else", "endif", "endfor", "null", "true", "false", "var", "local", "each", "self"]
HAND_PICKED = ["", "$", "$$", "${", "$${", "$$${", "$$$${x}", "%{", "%%{", "%%%{", "${a}${b}", "%{ for x in y }",
               "\\${x}", "\\", "\\\\", '"', '\\"', "\n", "\r\n", "\x00", "\x1f", "\x7f", "\x85", "\u2028",
               "\ufeff", "e\u0301", "\u1100\u1161", "\U0001f600", "\U0010fffd", "~}", "${~", "a$", "a%", "}}{{",
               "<<EOF\nx\nEOF", "# not a comment", "/* not */ a comment"]


def collect(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` examples of ``strategy``, the same on every run."""
    found: list[Any] = []

    @settings(max_examples=count, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def gather(example: Any) -> None:
        found.append(example)

    gather()
    return found


def nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [nfc(item) for item in value]
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    return value


def terraform_values(tmp_path: Path, expressions: list[str]) -> list[Any]:
    """Evaluate HCL expressions with ``terraform console`` in a scratch module without providers."""
    body = "".join(f"  v{index} = {expr}\n" for index, expr in enumerate(expressions))
    (tmp_path / "main.tf").write_text(f"locals {{\n{body}}}\n", encoding="utf-8")
    (tmp_path / "terraform.rc").write_text("")
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(tmp_path / "terraform.rc"), "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1"}
    query = "base64encode(jsonencode([" + ", ".join(f"local.v{i}" for i in range(len(expressions))) + "]))\n"
    result = subprocess.run([terraform.require_binary(), "console"], input=query, cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    encoded = result.stdout.strip().splitlines()[-1].strip('"')
    return list(json.loads(base64.b64decode(encoded)))


@pytest.mark.terraform
@requires_terraform
def test_terraform_reads_every_rendered_value_as_configured(tmp_path: Path) -> None:
    tag_cases = [{FREE_KEY: s} for s in HAND_PICKED]
    tag_cases += [{k: v} for k, v in collect(st.tuples(tag_keys, free_text), 100)]
    literal_keys = free_text | st.sampled_from(KEYWORDS)
    literals = [{k: k for k in KEYWORDS}, {"a": HAND_PICKED}, [1e16, -2.5e-300, 10**40, -0.0, 0.1]]
    literals += collect(nested(free_text, literal_keys), 100)
    expressions: list[str] = []
    expected: list[Any] = []
    for tags in tag_cases:
        want, text = render_tags(tags)
        expressions.append("\n".join(tags_block(text)).removeprefix("    tags = "))
        expected.append(want)
    for value in literals:
        expressions.append(hcl.literal(value))
        expected.append(value)
    read = terraform_values(tmp_path, expressions)
    wrong = [(expr, got, want) for expr, got, want in zip(expressions, read, expected, strict=True)
             if not same_value(got, nfc(want))]
    assert not wrong, "terraform read other values:\n" + "\n".join(map(repr, wrong[:5]))


@pytest.mark.terraform
@requires_terraform
def test_terraform_reads_an_object_whose_first_key_is_for(tmp_path: Path) -> None:
    values = [{"for": 1}, {"for": {"for": "x"}, "z": [{"for": None}]}]
    assert terraform_values(tmp_path, [hcl.literal(v) for v in values]) == values
