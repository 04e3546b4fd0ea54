"""Loading one environment: layered YAML in, a validated model out, or every problem at once."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfgen.config import layers
from tfgen.config import names as naming
from tfgen.errors import ConfigError

_EXPECTED = {
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "missing": "expected a value for this required key",
}


@dataclass(frozen=True)
class Loaded:
    """A validated environment: its name, merged data with provenance, and typed model."""

    config: layers.Config
    model: Any  # tfgen.config.model.Environment; imported lazily to keep --help fast

    @property
    def name(self) -> str:
        return self.config.name


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(value), "value")
    return f"{kind} {value!r}"


def _message(error: dict[str, Any], config: layers.Config, model_type: Any) -> str:
    path = tuple("lambda" if p == "lambda_" else str(p) for p in error["loc"])
    kind = error["type"]
    value = error.get("input")
    origin = config.origin(path)
    if kind == "extra_forbidden":
        parent = _model_at(model_type, path[:-1])
        fields = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        close = difflib.get_close_matches(path[-1], fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{origin}: {layers.format_path(path)}: expected a known key{hint}, got unknown key {path[-1]!r}"
    if kind == "value_error":
        text = str(error.get("ctx", {}).get("error", error["msg"]))
        return f"{origin}: {layers.format_path(path)}: {text}"
    if kind in _EXPECTED:
        expected = _EXPECTED[kind]
    elif kind == "literal_error":
        expected = f"expected {error['ctx']['expected']}"
    elif kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
              "less_than": "<"}[kind]
        bound = next(iter(error["ctx"].values()))
        expected = f"expected a number {op} {bound}"
    elif kind == "string_pattern_mismatch":
        expected = f"expected a string matching {error['ctx']['pattern']}"
    else:
        expected = f"expected {error['msg'][0].lower()}{error['msg'][1:]}"
    if kind == "missing":
        return f"{origin}: {layers.format_path(path)}: {expected}, got nothing"
    return f"{origin}: {layers.format_path(path)}: {expected}, got {_got(value)}"


def _model_at(model_type: Any, path: tuple[str, ...]) -> Any:
    current = model_type
    for part in path:
        fields = {(f.alias or n): f for n, f in current.model_fields.items()}
        field = fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not isinstance(annotation, type) or not hasattr(annotation, "model_fields"):
            return None
        current = annotation
    return current


def validate(config: layers.Config) -> Any:
    """The typed model of ``config``, or a ConfigError listing every problem."""
    from pydantic import ValidationError

    from tfgen.config.model import Environment, cross_problems

    try:
        model = Environment.model_validate(config.data)
    except ValidationError as exc:
        raise ConfigError([_message(e, config, Environment)  # type: ignore[arg-type]
                           for e in exc.errors(include_url=False)]) from None
    problems = [f"{config.origin(path)}: {layers.format_path(path)}: {text}"
                for path, text in cross_problems(model)]
    problems += [f"{config.origin(())}: environment {config.name!r}: {text}"
                 for text in naming.problems(config.name, model)]
    if problems:
        raise ConfigError(problems)
    return model


def load(env_dir: Path, name: str, overrides: list[str] | None = None) -> Loaded:
    config = layers.load(env_dir, name, overrides)
    return Loaded(config=config, model=validate(config))
