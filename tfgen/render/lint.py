"""Reading rendered HCL back: every file parses, every reference names something declared.

python-hcl2 is slow to import, so only ``tfgen validate`` loads this module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_RESOURCE_REF = re.compile(r"(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")
_PREFIXED_REF = re.compile(r"(?<![\w.])(data|ephemeral)\.([a-z0-9_]+)\.([A-Za-z_][\w-]*)")
_SIMPLE_REF = re.compile(r"(?<![\w.])(local|var)\.([A-Za-z_][\w-]*)")
_ESCAPED_TEMPLATE = re.compile(r"\$\$\{|%%\{")


def parse(text: str) -> dict[str, Any]:
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False)
    return hcl2.loads(text, serialization_options=options)


def _declared(documents: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for doc in documents:
        for kind in ("resource", "data", "ephemeral"):
            for block in doc.get(kind, []):
                for rtype, instances in block.items():
                    for rname in instances:
                        prefix = "" if kind == "resource" else f"{kind}."
                        names.add(f"{prefix}{rtype}.{rname}")
        for block in doc.get("locals", []):
            names.update(f"local.{name}" for name in block)
        for block in doc.get("variable", []):
            names.update(f"var.{name}" for name in block)
    return names


def _expressions(value: Any) -> list[str]:
    """Every string of a parsed document that holds an expression or interpolation.

    python-hcl2 gives expressions as ``${...}`` and keeps template escapes (``$${``) as written,
    so a literal string, whatever it says, is never mistaken for code.
    """
    if isinstance(value, dict):
        return [text for item in value.values() for text in _expressions(item)]
    if isinstance(value, list):
        return [text for item in value for text in _expressions(item)]
    if isinstance(value, str):
        code = _ESCAPED_TEMPLATE.sub("", value)
        return [code] if "${" in code else []
    return []


def _references(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for code in _expressions(document):
        found |= {f"{m.group(1)}.{m.group(2)}.{m.group(3)}" for m in _PREFIXED_REF.finditer(code)}
        found |= {f"{m.group(1)}.{m.group(2)}" for m in _SIMPLE_REF.finditer(code)}
        found |= {f"{m.group(1)}.{m.group(2)}" for m in _RESOURCE_REF.finditer(_PREFIXED_REF.sub("", code))}
    return found


def check(module: Path) -> list[str]:
    """Parse every ``.tf`` file of ``module`` and report unresolved references."""
    problems: list[str] = []
    documents: dict[Path, dict[str, Any]] = {}
    for path in sorted(module.glob("*.tf")):
        try:
            documents[path] = parse(path.read_text(encoding="utf-8"))
        except Exception as exc:  # python-hcl2 raises lark's exceptions
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{path}: does not parse as HCL: {first}")
    declared = _declared(list(documents.values()))
    for path, document in documents.items():
        for ref in sorted(_references(document) - declared):
            problems.append(f"{path}: reference to undeclared {ref}")
    return problems
