from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfgen.config import layers as config
from tfgen.errors import ConfigError, UsageError


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_deep_merge_merges_maps_and_replaces_lists_and_scalars(tmp_path: Path) -> None:
    write(tmp_path, {
        "defaults.yaml": "a: {x: 1, y: [1, 2], z: {k: v}}\nb: 1\n",
        "dev.yaml": "a:\n  y: [3]\n  z: {j: w}\nb: 2\n",
    })
    loaded = config.load(tmp_path, "dev")
    assert loaded.data == {"a": {"x": 1, "y": [3], "z": {"k": "v", "j": "w"}}, "b": 2}


def test_origins_name_the_layer_and_position_that_set_each_value(tmp_path: Path) -> None:
    write(tmp_path, {"defaults.yaml": "a:\n  x: 1\n  y: [1, 2]\n", "dev.yaml": "a:\n  y: [3]\n"})
    loaded = config.load(tmp_path, "dev", ["a.x=5", "b.c=true"])
    assert str(loaded.origin(("a", "x"))) == "--set a.x=5"
    assert str(loaded.origin(("a", "y"))) == f"{tmp_path / 'dev.yaml'}:2:3"
    assert str(loaded.origin(("a", "y", "0"))) == f"{tmp_path / 'dev.yaml'}:2:7"
    assert ("a", "y", "1") not in loaded.origins  # the defaults' longer list was replaced
    assert loaded.data["a"]["x"] == 5 and loaded.data["b"] == {"c": True}


def _paths(data: object, path: config.KeyPath = ()) -> set[config.KeyPath]:
    found = {path}
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for name, value in items:
        found |= _paths(value, (*path, str(name)))
    return found


_KEYS = st.sampled_from(["a", "b", "c"])
_VALUES = st.recursive(st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["x", "y"])),
                       lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
                       max_leaves=12)
_DOCUMENTS = st.dictionaries(_KEYS, _VALUES, max_size=3)


@settings(max_examples=400)
@given(_DOCUMENTS, _DOCUMENTS)
def test_after_a_merge_every_value_and_only_those_has_the_origin_of_the_layer_that_set_it(
        base: dict[str, object], over: dict[str, object]) -> None:
    origins = {path: config.Origin("base", len(path) + 1) for path in _paths(base)}
    over_origins = {path: config.Origin("over", len(path) + 1) for path in _paths(over)}
    merged = config.deep_merge(base, over, origins, over_origins)
    assert set(origins) == _paths(merged)
    for path, origin in origins.items():
        assert origin.source == ("over" if path in over_origins and path != () else "base"), path


@pytest.mark.parametrize(("raw", "value"), [
    ("3", 3), ("0.5", 0.5), ("true", True), ("null", None), ("text", "text"), ("'7'", "7"),
    ("", ""), ("[a, b]", "[a, b]"), ("a=b", "a=b"),
])
def test_overrides_are_yaml_scalars(raw: str, value: object) -> None:
    assert config.parse_overrides([f"k={raw}"]).data == {"k": value}


@pytest.mark.parametrize("pair", ["novalue", "=1", "a..b=1"])
def test_malformed_override_is_a_usage_error(pair: str) -> None:
    with pytest.raises(UsageError, match=r"expected KEY\.PATH=VALUE"):
        config.parse_overrides([pair])


def test_yaml_syntax_error_keeps_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, {"dev.yaml": "a:\n  b: [1, 2\nc: 3\n"})
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path, "dev")
    assert info.value.problems == [
        f"{tmp_path / 'dev.yaml'}:3:2: <yaml>: expected valid YAML, got did not find expected ',' or ']'"
    ]


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    write(tmp_path, {"dev.yaml": "a: 1\nb: 2\na: 3\n"})
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path, "dev")
    assert info.value.problems == [
        f"{tmp_path / 'dev.yaml'}:3:1: a: expected each key once, got a duplicate (first at line 1)"
    ]


def test_alias_expansion_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]"
              for i in range(1, 9)]
    write(tmp_path, {"dev.yaml": "\n".join(lines) + "\n"})
    with pytest.raises(ConfigError, match="expected at most 100000 values, got more"):
        config.load(tmp_path, "dev")


def test_non_mapping_document_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"dev.yaml": "- a\n- b\n"})
    with pytest.raises(ConfigError, match="<root>: expected a mapping of settings, got list"):
        config.load(tmp_path, "dev")


def test_empty_environment_file_inherits_everything(tmp_path: Path) -> None:
    write(tmp_path, {"defaults.yaml": "a: 1\n", "dev.yaml": ""})
    assert config.load(tmp_path, "dev").data == {"a": 1}


@pytest.mark.parametrize("name", ["../x", "Prod", "a_b", "-dev", "dev-", "a--b", "", "a/b"])
def test_unsafe_environment_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="expected lowercase letters, digits and single hyphens"):
        config.load(tmp_path, name)


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path, {"defaults.yaml": "", "dev.yaml": "", "prod.yaml": ""})
    with pytest.raises(UsageError) as info:
        config.load(tmp_path, "qa")
    assert str(info.value) == f"environment 'qa': no file {tmp_path / 'qa.yaml'} (known: dev, prod)"
