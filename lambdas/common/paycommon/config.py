"""Typed access to configuration, which comes only from environment variables.

Values are read on every call (reading the environment costs microseconds),
so a handler always sees the configuration of its current container and tests
can change it with ``monkeypatch.setenv``.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal, InvalidOperation


class ConfigError(RuntimeError):
    """A required environment variable is missing or has an invalid value."""


def env_str(name: str, default: str | None = None) -> str:
    """The variable's value stripped of whitespace; ``default`` when unset or empty.

    Raises ConfigError when the variable is unset or empty and there is no default.
    """
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigError(f"environment variable {name} is required")
    return default


def env_optional(name: str) -> str | None:
    """The variable's value stripped of whitespace, or None when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer variable within optional inclusive bounds."""
    raw = env_optional(name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"environment variable {name} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"environment variable {name} must be <= {maximum}")
    return value


def env_decimal(name: str, default: str, *, minimum: Decimal | None = None) -> Decimal:
    """A finite decimal variable (plain notation such as ``5000`` or ``0.01``)."""
    raw = env_optional(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"environment variable {name} must be a decimal number") from None
    if not value.is_finite():
        raise ConfigError(f"environment variable {name} must be a finite number")
    if minimum is not None and value < minimum:
        raise ConfigError(f"environment variable {name} must be >= {minimum}")
    return value


def env_csv(name: str, default: str | None = None) -> tuple[str, ...]:
    """A comma-separated list; items are stripped and empty items dropped.

    Raises ConfigError when the list ends up empty and there is no default.
    """
    raw = env_optional(name)
    if raw is None:
        if default is None:
            raise ConfigError(f"environment variable {name} is required")
        raw = default
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not items:
        raise ConfigError(f"environment variable {name} must list at least one value")
    return items


def env_json(name: str) -> object:
    """A required variable holding JSON (numbers parsed as Decimal)."""
    raw = env_str(name)
    try:
        return json.loads(raw, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be JSON") from None


def decimal_value(value: object, what: str) -> Decimal:
    """A finite, non-negative decimal from a JSON string or number; ConfigError naming ``what`` otherwise."""
    try:
        result = Decimal(str(value)) if isinstance(value, str | int | Decimal) and not isinstance(value, bool) else None
    except InvalidOperation:
        result = None
    if result is None or not result.is_finite() or result < 0:
        raise ConfigError(f"{what} must be a non-negative decimal number")
    return result
