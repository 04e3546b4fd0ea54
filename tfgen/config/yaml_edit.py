"""Editing YAML in place: set values by key path, keep every other line as written.

ruamel.yaml's round-trip mode keeps comments, key order and quoting; the
checks here refuse any edit that would rewrite a line other than the ones
being set, so a human-maintained environment file never changes shape.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from tfgen.config import layers
from tfgen.errors import UsageError


def set_values(text: str, values: dict[layers.KeyPath, str | int], label: str = "<yaml>") -> str:
    """``text`` with each key path set to its value, every other line kept as written.

    Missing mappings on a path are added in block style at the end of their
    parent; comments and blank lines that followed the parent's last entry
    stay after the new entry, so they keep their place in the file. Where the
    round trip would rewrite any other line, a UsageError says what to set by
    hand instead.
    """
    yaml = _round_trip(text)
    try:
        root = yaml.load(text)
    except YAMLError as exc:
        raise UsageError(f"{label}: cannot edit in place: {exc}") from None
    document = root if isinstance(root, CommentedMap) else CommentedMap()
    _guess_indent(yaml, document)
    grouped: dict[layers.KeyPath, dict[str, str | int]] = {}
    for path, value in values.items():
        grouped.setdefault(path[:-1], {})[path[-1]] = value
    for parent, fields in grouped.items():
        _set_under(document, parent, fields)
    stream = io.StringIO()
    yaml.dump(document, stream)
    edited = _joined(text, stream.getvalue()) if root is None else stream.getvalue()
    if "\r\n" in text:
        edited = edited.replace("\r\n", "\n").replace("\n", "\r\n")
    _require_only_touched(text, edited, values, label)
    return edited


def _joined(text: str, added: str) -> str:
    """A document that held no mapping (empty, or only comments) with ``added`` after it."""
    kept = text if not text or text.endswith("\n") else text + "\n"
    return kept + ("\n" if kept.strip() else "") + added


def _require_only_touched(before: str, after: str, values: dict[layers.KeyPath, str | int],
                          label: str) -> None:
    """Refuse an edit that changes or drops a line other than those of the keys being set
    (or of their parent, which holds them when it is a flow mapping)."""
    old = before.splitlines()
    keys = {f"{name}:" for path in values for name in path[-2:]}
    matcher = difflib.SequenceMatcher(a=old, b=after.splitlines(), autojunk=False)
    rewritten = [str(index + 1) for tag, start, end, _, _ in matcher.get_opcodes()
                 if tag in ("replace", "delete") for index in range(start, end)
                 if not any(key in old[index] for key in keys)]
    if rewritten:
        wanted = ", ".join(f"{layers.format_path(path)}={value}" for path, value in values.items())
        raise UsageError(f"{label}: cannot edit in place without rewriting line(s) "
                         f"{', '.join(rewritten)}; set by hand: {wanted}")


def _round_trip(text: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    first = next((line for line in text.splitlines() if line.strip()), "")
    yaml.explicit_start = first.startswith("---")
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
