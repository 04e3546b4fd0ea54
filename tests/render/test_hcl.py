from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfgen.render import hcl
from tfgen.render.lint import parse


@pytest.mark.parametrize(("value", "expected"), [
    (None, "null"),
    (True, "true"),
    (False, "false"),
    (0, "0"),
    (-12, "-12"),
    (0.5, "0.5"),
    ("plain", '"plain"'),
    ('a "quoted" \\ path', '"a \\"quoted\\" \\\\ path"'),
    ("line\nbreak\ttab\r", '"line\\nbreak\\ttab\\r"'),
    ("${var.secret}", '"$${var.secret}"'),
    ("%{ if true }x%{ endif }", '"%%{ if true }x%%{ endif }"'),
    ("$${already}", '"$$${already}"'),
    ("bell\x07", '"bell\\u0007"'),
    ([], "[]"),
    (["a", 1, None], '["a", 1, null]'),
    ({}, "{}"),
    ({"b": 1, "a": "x"}, '{ a = "x", b = 1 }'),
    ({"with space": True, "aws:tag": 1}, '{ "aws:tag" = 1, "with space" = true }'),
    ({"n": {"z": [1], "y": {}}}, "{ n = { y = {}, z = [1] } }"),
])
def test_literal(value: object, expected: str) -> None:
    assert hcl.literal(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), b"bytes"])
def test_literal_refuses_values_hcl_cannot_hold(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        hcl.literal(value)


@pytest.mark.parametrize("text", [
    'say "hi"', "back\\slash", "${jsonencode(x)}", "%{for x in y}", "multi\nline", "ünïcödé ✓",
    "$", "%", "$$", "{}", "trailing $", "tab\there",
])
def test_string_round_trips_through_an_hcl_parser(text: str) -> None:
    parsed = parse(f"x = {hcl.literal(text)}\n")["x"]
    # python-hcl2 decodes escapes but keeps template escapes ($${, %%{) as written
    assert parsed == text.replace("${", "$${").replace("%{", "%%{")


def test_attributes_align_equals_signs_like_terraform_fmt() -> None:
    text = hcl.attributes({"Name": "x", "Environment": "dev"}, indent=4)
    assert text == '    Environment = "dev"\n    Name        = "x"'


def test_multiline_object_closes_at_its_indent() -> None:
    assert hcl.multiline({"a": 1}, indent=2) == "{\n    a = 1\n  }"
    assert hcl.multiline({}, indent=2) == "{}"


@settings(max_examples=500)
@given(st.text(alphabet=st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from('\\"{$%\x00\x7f\x85'))))
def test_strings_without_anything_to_escape_take_the_short_path_to_the_same_literal(value: str) -> None:
    assert hcl.string(value) == '"' + hcl._SPECIAL.sub(hcl._escape_match, value) + '"'
