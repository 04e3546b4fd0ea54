"""Blue/green traffic of the payment functions: reading the split, moving it, writing it back.

Each function behind the load balancer has two Lambda aliases, ``blue`` and
``green``, each pinned to a published version (or ``latest``), and a listener
rule that forwards ``blue_weight`` and ``green_weight`` percent of requests to
them. A release goes to green, takes traffic in steps (``shifted``), takes all
of it (``promoted``), and is then made the new blue (``finalized``): blue's
version becomes green's and blue gets 100 percent again, so the next release
can go to green. ``rolled_back`` sends everything back to blue at any point
before ``finalized``.

A move changes the environment's own YAML file in place (comments, key order,
quoting and layout kept; values inherited from the defaults are added to the
environment file), but only after the edited configuration has been validated
and rendered in memory. Then the file is replaced atomically and the output
directory rewritten; if anything fails first, nothing on disk changes.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from tfgen import config as layers
from tfgen import environment, output, render
from tfgen import names as naming
from tfgen.errors import ConfigError, OutputError, UsageError
from tfgen.project import Project

FUNCTIONS = naming.FUNCTION_KEYS
LATEST = "latest"


@dataclass(frozen=True)
class Split:
    """Where one function's traffic goes: the version behind each alias, and the weights."""

    blue_version: str
    green_version: str
    blue_weight: int
    green_weight: int

    @classmethod
    def of(cls, traffic: Any) -> Split:
        return cls(traffic.blue_version, traffic.green_version, traffic.blue_weight,
                   traffic.green_weight)


Move = Callable[[Split], Split]


# ---------------------------------------------------------------------------
# Moves: pure functions of one split, raising UsageError when a guard refuses.
# ---------------------------------------------------------------------------

def _require_distinct(split: Split, force: bool) -> None:
    """Traffic on green only means something when green runs another version than blue."""
    if force or split.blue_version != split.green_version:
        return
    if split.green_version == LATEST:
        raise UsageError("blue and green both run 'latest', so their traffic cannot be told apart: "
                         "publish a version and pass --green-version N (or --force)")
    raise UsageError(f"blue and green both run version {split.green_version}: set the new release "
                     "with --green-version N (or --force)")


def shifted(split: Split, green: int, green_version: str | None, max_step: int,
            force: bool) -> Split:
    """Green gets ``green`` percent and blue the rest; green goes up at most ``max_step``."""
    moved = dataclasses.replace(split, green_version=green_version or split.green_version,
                                blue_weight=100 - green, green_weight=green)
    step = green - split.green_weight
    if step > max_step and not force:
        raise UsageError(f"green {split.green_weight} -> {green} is a step of {step} points, "
                         f"more than --max-step {max_step}: shift in smaller steps (or --force)")
    if green:
        _require_distinct(moved, force)
    return moved


def promoted(split: Split, force: bool) -> Split:
    """Every request to green; refused for a green that has not taken any traffic yet."""
    if split.green_weight == 0 and not force:
        raise UsageError("green takes no traffic yet: shift some to it first (or --force)")
    _require_distinct(split, force)
    return dataclasses.replace(split, blue_weight=0, green_weight=100)


def finalized(split: Split) -> Split:
    """After a promotion: blue runs green's version and takes all traffic again."""
    if split.green_weight != 100:
        raise UsageError("expected green at 100 (run promote first), "
                         f"got green {split.green_weight}")
    return Split(split.green_version, split.green_version, 100, 0)


def rolled_back(split: Split) -> Split:
    """Every request back to blue at once; never refused."""
    return dataclasses.replace(split, blue_weight=100, green_weight=0)


# ---------------------------------------------------------------------------
# Reading the current state
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """An environment's splits and whether its output directory matches a fresh render."""

    env: str
    splits: dict[str, Split]
    output: str
    target: Path


def splits(model: Any) -> dict[str, Split]:
    return {key: Split.of(getattr(model.lambda_.functions, key).traffic) for key in FUNCTIONS}


def view(project: Project, env: str) -> View:
    [loaded] = project.load([env])
    target = project.target(env)
    status = output.status(_rendered(project, loaded), target)
    return View(env, splits(loaded.model), _state(status), target)


def _state(status: output.Status) -> str:
    for word, files in (("edited", status.edited), ("stale", status.stale + status.orphaned),
                        ("missing", status.missing)):
        if files:
            return word
    return "current"


def table(current: View) -> str:
    rows = [["FUNCTION", "BLUE-VERSION", "BLUE-WEIGHT", "GREEN-VERSION", "GREEN-WEIGHT", "OUTPUT"]]
    rows += [[key, s.blue_version, str(s.blue_weight), s.green_version, str(s.green_weight),
              current.output] for key, s in current.splits.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


# ---------------------------------------------------------------------------
# Applying a move
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    function: str
    field: str
    old: str | int
    new: str | int

    @property
    def path(self) -> layers.KeyPath:
        return ("lambda", "functions", self.function, "traffic", self.field)

    def __str__(self) -> str:
        return f"{layers.format_path(self.path)}: {self.old} -> {self.new}"


@dataclass(frozen=True)
class Applied:
    """What a move did: the settings changed, the output written, and its diff."""

    env_file: Path
    changes: list[Change]
    result: output.WriteResult
    diff: str


def apply(project: Project, env: str, move: Move, functions: Sequence[str] = FUNCTIONS) -> Applied:
    """Move the traffic of ``functions`` in ``env``; validate and render before writing anything."""
    [loaded] = project.load([env])
    before = splits(loaded.model)
    after = {**before, **_moved(env, before, move, functions)}
    changes = [Change(key, name, getattr(before[key], name), getattr(after[key], name))
               for key in FUNCTIONS for name in _FIELDS
               if getattr(before[key], name) != getattr(after[key], name)]
    env_file = project.env_dir / f"{env}.yaml"
    text = env_file.read_text(encoding="utf-8")
    edited = set_values(text, {c.path: c.new for c in changes}) if changes else text
    rendered = _checked_render(project, loaded, edited, after)
    target = project.target(env)
    _refuse_hand_edits(rendered, target)
    diff = _diff(rendered, target)
    if edited != text:
        _replace(env_file, edited)
    return Applied(env_file, changes, output.write(rendered, target), diff)


_FIELDS = tuple(f.name for f in dataclasses.fields(Split))


def _moved(env: str, before: dict[str, Split], move: Move,
           functions: Sequence[str]) -> dict[str, Split]:
    """``move`` applied to each function; every refusal reported at once."""
    moved, refusals = {}, []
    for key in dict.fromkeys(functions):
        if key not in before:
            raise UsageError(f"function {key!r}: expected one of {', '.join(FUNCTIONS)}")
        try:
            moved[key] = move(before[key])
        except UsageError as exc:
            refusals.append(f"{env}: {key}: {exc}")
    if refusals:
        raise UsageError("\n".join(refusals))
    return moved


def _merge(name: str, stack: list[layers.Layer]) -> layers.Config:
    """The same merge as ``config.load``, over layers already parsed."""
    data: dict[str, Any] = {}
    origins: dict[layers.KeyPath, layers.Origin] = {(): stack[-1].origins[()]}
    for layer in stack:
        data = layers.deep_merge(data, layer.data, origins, layer.origins)
    origins[()] = layers.Origin(stack[-1].label, 1, 1)
    return layers.Config(name=name, data=data, origins=origins, layers=stack)


def _checked_render(project: Project, loaded: environment.Loaded, text: str,
                    after: dict[str, Split]) -> render.Rendered:
    """Validate ``text`` as the environment file with the model used by render, then render it."""
    label = loaded.config.layers[-1].label
    try:
        merged = _merge(loaded.name, [*loaded.config.layers[:-1], layers.parse_yaml(text, label)])
        model = environment.validate(merged)
    except ConfigError as exc:
        raise ConfigError([*exc.problems, f"{label}: left unchanged: the traffic change would make "
                           "the configuration invalid"]) from None
    expected = copy.deepcopy(loaded.config.data)
    for key, split in after.items():
        expected["lambda"]["functions"][key]["traffic"] = dataclasses.asdict(split)
    if merged.data != expected:
        raise UsageError(f"{label}: left unchanged: editing the traffic split in place would "
                         "change other settings too (a YAML anchor or alias?); edit it by hand")
    return _rendered(project, environment.Loaded(config=merged, model=model))


def _rendered(project: Project, loaded: environment.Loaded) -> render.Rendered:
    if not project.template_dir.is_dir():
        raise UsageError(f"{project.template_dir}: no such templates directory")
    return render.render(loaded, project.template_dir)


def _refuse_hand_edits(rendered: render.Rendered, target: Path) -> None:
    edited = output.status(rendered, target).edited
    if edited:
        lines = [f"{target / path}: edited by hand since tfgen wrote it" for path in edited]
        advice = (f"{target}: refusing to overwrite hand edits: revert them, or discard them "
                  f"with `tfgen render {rendered.env}`")
        raise OutputError("\n".join([*lines, advice]))


def _diff(rendered: render.Rendered, target: Path) -> str:
    """What writing ``rendered`` changes in ``target``, as a unified diff of the HCL files."""
    manifest = output.read_manifest(target) if target.is_dir() else None
    paths = (set(rendered.files) | set(manifest["files"] if manifest else ())) - {render.MANIFEST}
    chunks = []
    for path in sorted(paths):
        old = (target / path).read_bytes() if (target / path).is_file() else b""
        new = rendered.files.get(path, b"")
        if old != new:
            name = f"{rendered.env}/{path}"
            chunks.append(_unified(old, new, f"a/{name}", f"b/{name}"))
    return "".join(chunks)


def _unified(old: bytes, new: bytes, a: str, b: str) -> str:
    try:
        old_text, new_text = old.decode(), new.decode()
    except UnicodeDecodeError:
        return f"Binary files {a} and {b} differ\n"
    return "".join(difflib.unified_diff(old_text.splitlines(keepends=True),
                                        new_text.splitlines(keepends=True),
                                        a if old else "/dev/null", b if new else "/dev/null"))


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then ``os.replace``."""
    path = path.resolve()
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------
# Editing YAML in place
# ---------------------------------------------------------------------------

def set_values(text: str, values: dict[layers.KeyPath, str | int]) -> str:
    """``text`` with each key path set to its value, everything else kept as written.

    Missing mappings on a path are added in block style at the end of their
    parent; comments and blank lines that followed the parent's last entry
    stay after the new entry, so they keep their place in the file.
    """
    yaml = _round_trip()
    try:
        root = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError([f"<yaml>: cannot edit in place: {exc}"]) from None
    document = root if isinstance(root, CommentedMap) else CommentedMap()
    _guess_indent(yaml, document)
    grouped: dict[layers.KeyPath, dict[str, str | int]] = {}
    for path, value in values.items():
        grouped.setdefault(path[:-1], {})[path[-1]] = value
    for parent, fields in grouped.items():
        _set_under(document, parent, fields)
    stream = io.StringIO()
    yaml.dump(document, stream)
    if root is not None:
        return stream.getvalue()
    kept = text if not text or text.endswith("\n") else text + "\n"
    return kept + ("\n" if kept.strip() else "") + stream.getvalue()


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _guess_indent(yaml: YAML, document: CommentedMap) -> None:
    """Indent as the file does: its first nested mapping and sequence show how."""
    nested = list(_children(document))
    mapping = next((col - key for key, col, node in nested if isinstance(node, CommentedMap)), 2)
    dash, item = next(((node.lc.col - key, node.lc.item(0)[1] - key)
                       for key, _, node in nested if isinstance(node, CommentedSeq)), (0, 2))
    yaml.indent(mapping=max(mapping, 1), sequence=max(item, dash + 2), offset=max(dash, 0))


def _children(node: CommentedMap) -> Iterator[tuple[int, int, Any]]:
    """Each block collection under a mapping key: the key's column, the collection's, the node."""
    for key, value in node.items():
        if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
            yield node.lc.key(key)[1], value.lc.col, value
            if isinstance(value, CommentedMap):
                yield from _children(value)


def _set_under(node: CommentedMap, path: layers.KeyPath, fields: dict[str, str | int]) -> None:
    for depth, key in enumerate(path):
        if key not in node:
            _append(node, key, _nested(path[depth + 1:], fields), top=depth == 0)
            return
        child = node[key]
        if not isinstance(child, CommentedMap):
            raise UsageError(f"{layers.format_path(path[: depth + 1])}: expected a mapping to edit")
        node = child
    for name, value in fields.items():
        if name in node:
            node[name] = _styled(value, node[name])
        else:
            _append(node, name, _styled(value), top=False)


def _nested(path: layers.KeyPath, fields: dict[str, str | int]) -> CommentedMap:
    leaf = CommentedMap((name, _styled(value)) for name, value in fields.items())
    for key in reversed(path):
        leaf = CommentedMap([(key, leaf)])
    return leaf


def _styled(value: str | int, old: Any = None) -> Any:
    """``value`` quoted as the value it replaces was; a new version number in double quotes."""
    if not isinstance(value, str):
        return value
    if isinstance(old, ScalarString):
        return type(old)(value)
    return DoubleQuotedScalarString(value) if value.isdigit() else value


def _append(parent: CommentedMap, key: str, value: Any, top: bool) -> None:
    """Add ``key`` after the last entry of ``parent``, moving what trailed that entry after it."""
    before = _tail(parent)
    parent[key] = value
    if before is None:
        return
    rest = _take_trailer(*before)
    if top:
        _put_trailer(*before, _trailer(*before) + "\n\n")
    after = _tail(parent)
    if rest and after is not None:
        _put_trailer(*after, "\n" + rest)


def _tail(node: Any) -> tuple[Any, Any] | None:
    """The container and key of the last block entry under ``node``, however deep."""
    if not isinstance(node, CommentedMap | CommentedSeq) or not node or node.fa.flow_style():
        return None
    last = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
    return _tail(node[last]) or (node, last)


def _slot(container: Any) -> int:
    return 0 if isinstance(container, CommentedSeq) else 2


def _trailer(container: Any, key: Any) -> str:
    """The comment on the entry's own line, without the lines after it."""
    entry = container.ca.items.get(key)
    token = entry[_slot(container)] if entry else None
    return str(token.value).partition("\n")[0] if token is not None else ""


def _take_trailer(container: Any, key: Any) -> str:
    """Remove and return the blank and comment lines that follow the entry's own line."""
    entry = container.ca.items.get(key)
    token = entry[_slot(container)] if entry else None
    if token is None:
        return ""
    head, _, rest = str(token.value).partition("\n")
    _put_trailer(container, key, head + "\n" if head.strip() else "")
    return rest


def _put_trailer(container: Any, key: Any, value: str) -> None:
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    old = entry[_slot(container)]
    column = old.column if old is not None else None
    entry[_slot(container)] = CommentToken(value, CommentMark(column or 0), None) if value else None
