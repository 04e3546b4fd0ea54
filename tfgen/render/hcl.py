"""Turning Python values into safe HCL literals.

Every value that reaches a template from configuration passes through
:func:`literal`, so a string can never break out of its quotes or start a
Terraform template interpolation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_SPECIAL = re.compile(r'[\\"\n\r\t\x00-\x1f\x7f]|\$\{|%\{')


def _escape_match(match: re.Match[str]) -> str:
    text = match.group(0)
    if text == "${":
        return "$${"
    if text == "%{":
        return "%%{"
    if text in _ESCAPES:
        return _ESCAPES[text]
    return f"\\u{ord(text):04x}"


def string(value: str) -> str:
    """A quoted HCL string whose value is exactly ``value``."""
    if value.isprintable() and '"' not in value and "\\" not in value and "{" not in value:
        return '"' + value + '"'  # nothing to escape: the common case, without the regex
    return '"' + _SPECIAL.sub(_escape_match, value) + '"'


def key(name: str) -> str:
    """An object key: bare when it is an identifier, quoted otherwise.

    ``for`` is quoted too: an object constructor whose first key is a bare ``for`` is read as a
    ``for`` expression (``{ for = 1 }`` is a syntax error in Terraform).
    """
    return name if _IDENTIFIER.match(name) and name != "for" else string(name)


def literal(value: Any) -> str:
    """The HCL literal for a YAML-shaped Python value.

    Mappings become objects with sorted keys and sequences become tuples, both
    on one line; templates lay out multi-line blocks themselves.
    """
    if isinstance(value, str):
        return string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"HCL has no literal for {value!r}")
        return repr(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = sorted(value.items(), key=lambda item: str(item[0]))
        inner = ", ".join(f"{key(str(k))} = {literal(v)}" for k, v in items)
        return "{ " + inner + " }"
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    fail = getattr(value, "_fail_with_undefined_error", None)
    if fail is not None:  # a Jinja Undefined: raise Jinja's own error naming the missing value
        fail()
    raise TypeError(f"HCL has no literal for a {type(value).__name__}: {value!r}")


def attributes(value: Mapping[str, Any], indent: int) -> str:
    """Attribute lines ``key = literal``, sorted, with ``=`` aligned as ``terraform fmt`` does."""
    items = sorted(value.items(), key=lambda item: str(item[0]))
    keys = [key(str(k)) for k, _ in items]
    width = max((len(k) for k in keys), default=0)
    pad = " " * indent
    return "\n".join(f"{pad}{k.ljust(width)} = {literal(v)}" for k, (_, v) in zip(keys, items, strict=True))


def multiline(value: Mapping[str, Any], indent: int) -> str:
    """An object literal over several lines, its closing brace at ``indent``."""
    if not value:
        return "{}"
    return "{\n" + attributes(value, indent + 2) + "\n" + " " * indent + "}"
