"""Reading configuration layers with line marks, deep merge and provenance.

A layer is one YAML document (the shared defaults, an environment file, or
the ``--set`` overrides). Each value keeps the place it was written, so an
error can point at ``file:line:col`` and ``tfgen show --provenance`` can say
where every value came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from tfgen.errors import ConfigError, UsageError
from tfgen.inputs import DEFAULTS_FILE as DEFAULTS_FILE
from tfgen.inputs import check_env_name as check_env_name
from tfgen.inputs import environment_names as environment_names

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

KeyPath = tuple[str, ...]
MAX_NODES = 100_000
MAX_DEPTH = 32
_YAML_TAG = "tag:yaml.org,2002:"
# The tags a plain configuration value may carry (explicitly or as resolved); any other
# (!!python/..., !!set, !!omap, a local !tag) is refused rather than ignored or constructed.
_SCALAR_TAGS = frozenset(f"{_YAML_TAG}{name}" for name in ("str", "int", "float", "bool", "null",
                                                          "timestamp", "binary"))


class Origin(NamedTuple):
    """Where a value was set: a file position, or a ``--set`` override. (A tuple: one is made for
    every key of every layer.)"""

    source: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.source}:{self.line}:{self.column}"
        return self.source


@dataclass
class Layer:
    """One parsed configuration document and the origin of every key path in it."""

    data: dict[str, Any]
    origins: dict[KeyPath, Origin]
    label: str


@dataclass
class Config:
    """The merged configuration of one environment, with provenance."""

    name: str
    data: dict[str, Any]
    origins: dict[KeyPath, Origin] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)

    def origin(self, path: KeyPath) -> Origin:
        """The origin of ``path``, or of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return self.layers[-1].origins[()] if self.layers else Origin("<config>")


def format_path(path: KeyPath) -> str:
    return ".".join(path) if path else "<root>"


def _origin(label: str, node: yaml.Node) -> Origin:
    mark = node.start_mark
    return Origin(label, mark.line + 1, mark.column + 1)


def _shown_tag(tag: str) -> str:
    return f"!!{tag[len(_YAML_TAG):]}" if tag.startswith(_YAML_TAG) else tag


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return "a list" if isinstance(node, yaml.SequenceNode) else "a value"


class _Builder:
    """Builds the value of a composed YAML document, recording the position of each key (or list
    item) in ``origins`` and every problem in ``problems``; one scalar constructor for the whole
    document."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.origins: dict[KeyPath, Origin] = {}
        self.problems: list[str] = []
        self.budget = MAX_NODES
        self.loader = _Loader("")

    def close(self) -> None:
        self.loader.dispose()

    def build(self, node: yaml.Node, path: KeyPath, enclosing: dict[int, KeyPath]) -> Any:
        """The value of ``node``. ``enclosing`` maps the nodes being built around this one to
        their paths: an alias to one of them would make the value contain itself."""
        label = self.label
        self.budget -= 1
        if self.budget < 0:
            raise ConfigError([f"{_origin(label, node)}: {format_path(path)}: expected at most "
                               f"{MAX_NODES} values, got more (alias expansion?)"])
        if id(node) in enclosing:
            raise ConfigError([f"{_origin(label, node)}: {format_path(path)}: expected a value, got an alias "
                               f"to the enclosing {format_path(enclosing[id(node)])} (a value containing itself)"])
        if len(path) > MAX_DEPTH:
            raise ConfigError([f"{_origin(label, node)}: {format_path(path[:2])}: expected at most {MAX_DEPTH} "
                               "levels of nesting, got more"])
        if path not in self.origins:  # a mapping value has its key's position already
            self.origins[path] = _origin(label, node)
        if isinstance(node, yaml.MappingNode):
            tag_ok = node.tag == f"{_YAML_TAG}map"
        elif isinstance(node, yaml.SequenceNode):
            tag_ok = node.tag == f"{_YAML_TAG}seq"
        else:
            tag_ok = node.tag in _SCALAR_TAGS
        if not tag_ok:
            self.problems.append(f"{_origin(label, node)}: {format_path(path)}: expected plain YAML, "
                                 f"got the tag {_shown_tag(node.tag)!r} on {_node_kind(node)}")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, {**enclosing, id(node): path})
        if isinstance(node, yaml.SequenceNode):
            inner = {**enclosing, id(node): path}
            return [self.build(item, (*path, str(index)), inner) for index, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError):  # e.g. !!int on "thirty"
            self.problems.append(f"{_origin(label, node)}: {format_path(path)}: expected a value its tag "
                                 f"{_shown_tag(node.tag)!r} accepts, got {node.value!r}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath, inner: dict[int, KeyPath]) -> dict[str, Any]:
        label, origins = self.label, self.origins
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(f"{_origin(label, key_node)}: {format_path(path)}: "
                                     "expected plain keys, got a '<<' merge key")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = repr(key_node.value) if isinstance(key_node, yaml.ScalarNode) else _node_kind(key_node)
                self.problems.append(f"{_origin(label, key_node)}: {format_path(path)}: "
                                     f"expected a string key, got {shown}")
                continue
            name = key_node.value
            if name in result:
                first = origins[(*path, name)]
                self.problems.append(f"{_origin(label, key_node)}: {format_path((*path, name))}: "
                                     f"expected each key once, got a duplicate (first at line {first.line})")
                continue
            origins[(*path, name)] = _origin(label, key_node)
            result[name] = self.build(value_node, (*path, name), inner)
        return result


def _line_column(text: str) -> str:
    """``line:col`` just past ``text``, the part of a document before some position."""
    return f"{text.count(chr(10)) + 1}:{len(text) - text.rfind(chr(10))}"


def parse_yaml(text: str, label: str) -> Layer:
    """Parse one YAML document into a layer; syntax errors keep their position."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; libyaml counts UTF-8 bytes
        before = (text.encode()[: exc.position].decode(errors="ignore") if _Loader.__name__.startswith("C")
                  else text[: exc.position])
        raise ConfigError([f"{label}:{_line_column(before)}: <yaml>: expected valid YAML, "
                           f"got {str(exc).splitlines()[0]}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
        raise ConfigError([f"{where}: <yaml>: expected valid YAML, got {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{label}: <yaml>: expected valid YAML, got {exc}"]) from None
    if node is None:
        return Layer({}, {(): Origin(label, 1, 1)}, label)
    builder = _Builder(label)
    try:
        data = builder.build(node, (), {})
    finally:
        builder.close()
    if builder.problems:
        raise ConfigError(builder.problems)
    if not isinstance(data, dict):
        raise ConfigError([f"{builder.origins[()]}: <root>: expected a mapping of settings, "
                           f"got {type(data).__name__} {data!r}"])
    return Layer(data, builder.origins, label)


def read_layer(path: Path, label: str | None = None) -> Layer:
    """Parse a YAML file into a layer; a file read before and unchanged since is not parsed again."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    return _read_layer(path, label, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _read_layer(path: Path, label: str | None, mtime_ns: int, size: int) -> Layer:
    """Parsed once per (file, version): the shared defaults are read for every environment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        where = _line_column(exc.object[: exc.start].decode("utf-8", errors="replace"))
        raise ConfigError([f"{label or path}:{where}: <yaml>: expected UTF-8 text, got {exc.reason}"]) from None
    return parse_yaml(text, label or str(path))


def parse_overrides(pairs: list[str]) -> Layer:
    """``--set a.b=value`` overrides as one layer; values are parsed as YAML scalars."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {(): Origin("--set")}
    for pair in pairs:
        dotted, sep, raw = pair.partition("=")
        path = tuple(dotted.strip().split("."))
        if not sep or not all(path):
            raise UsageError(f"--set {pair}: expected KEY.PATH=VALUE")
        try:
            value = yaml.load(raw, Loader=_Loader) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, dict | list):
            value = raw
        target = data
        for depth, part in enumerate(path[:-1]):
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--set {pair}: {format_path(path[: depth + 1])} is already set to a value")
            target = child
            origins.setdefault(path[: depth + 1], Origin(f"--set {pair}"))
        target[path[-1]] = value
        origins[path] = Origin(f"--set {pair}")
    return Layer(data, origins, "--set")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in over.items():
        current = merged.get(name)
        merged[name] = _merge(current, value) if isinstance(value, dict) and isinstance(current, dict) else value
    return merged


def _replaced(base: dict[str, Any], over: dict[str, Any], path: KeyPath = ()) -> Iterator[KeyPath]:
    """Where ``over`` replaces a whole mapping or list of ``base`` instead of merging into it."""
    for name, value in over.items():
        current = base.get(name)
        if isinstance(value, dict) and isinstance(current, dict):
            yield from _replaced(current, value, (*path, name))
        elif isinstance(current, dict | list):
            yield (*path, name)


def deep_merge(base: dict[str, Any], over: dict[str, Any], base_origins: dict[KeyPath, Origin],
               over_origins: dict[KeyPath, Origin]) -> dict[str, Any]:
    """Maps merge key by key; lists and scalars replace. ``base_origins`` is updated in place so
    every path of the result names the layer that set it."""
    merged = _merge(base, over)
    replaced = set(_replaced(base, over))
    if replaced:  # what was under a replaced mapping or list is gone unless ``over`` set it again
        depths = {len(path) for path in replaced}
        for path in [p for p in base_origins if p not in over_origins
                     and any(p[:depth] in replaced for depth in depths if depth < len(p))]:
            del base_origins[path]
    root = base_origins.get(())
    base_origins.update(over_origins)
    if root is not None:
        base_origins[()] = root
    return merged


def load(env_dir: Path, name: str, overrides: list[str] | None = None) -> Config:
    """Read defaults, the environment file and overrides, and merge them."""
    check_env_name(name)
    env_file = env_dir / f"{name}.yaml"
    if env_file.name == DEFAULTS_FILE or not env_file.is_file():
        known = ", ".join(environment_names(env_dir)) or "none"
        problem = "holds the shared defaults" if env_file.name == DEFAULTS_FILE else "no file"
        raise UsageError(f"environment {name!r}: {problem} {env_file} (known: {known})")
    layers = []
    defaults = env_dir / DEFAULTS_FILE
    if defaults.is_file():
        layers.append(read_layer(defaults))
    layers.append(read_layer(env_file))
    if overrides:
        layers.append(parse_overrides(overrides))
    return merge(name, layers, str(env_file))


def merge(name: str, layers: list[Layer], env_file: str) -> Config:
    """Merge parsed layers in order (defaults, environment file, overrides) with provenance."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {(): layers[-1].origins[()]}
    for layer in layers:
        data = deep_merge(data, layer.data, origins, layer.origins)
    origins[()] = Origin(env_file, 1, 1)
    return Config(name=name, data=data, origins=origins, layers=layers)
