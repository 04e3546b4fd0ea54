"""The README documents every configuration key and keeps the two-command quick start."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ROOT
from tfgen.config.model import Environment


def key_paths(model: Any, prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            paths.extend(key_paths(annotation, key + "."))
        else:
            paths.append(key)
    return paths


def reference() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- config-reference:")
    return text[start : text.index("<!-- config-reference-end -->")]


def test_every_configuration_key_is_in_the_reference() -> None:
    documented = reference()
    generic = re.compile(r"^lambda\.functions\.[a-z_]+\.")
    missing = [path for path in key_paths(Environment)
               if f"`{generic.sub('lambda.functions.<name>.', path)}`" not in documented]
    assert missing == []


def test_quick_start_is_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text[
        text.index("## Quick start") : text.index("\n## ", text.index("## Quick start") + 5)
    ]
    block = re.search(r"```sh\n(.*?)```", quick, re.DOTALL)
    assert block is not None and block.group(1).split("\n")[:-1] == ["make render", "make test"]
