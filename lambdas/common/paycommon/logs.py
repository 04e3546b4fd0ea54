"""Structured JSON logging that never writes card data or secrets.

Every record is one JSON object on stdout (CloudWatch Logs keeps one event per
line) with ``timestamp``, ``level``, ``logger``, ``message``, ``request_id``,
``function``, ``environment`` and any ``extra=`` fields.

Redaction, applied to every record:

- an ``extra`` field (at any depth) whose name looks sensitive (card, pan,
  cvv/cvc, secret, password, token, authorization, cookie, api key,
  credential, expiry, pin, track) is replaced by ``[REDACTED]``; the names
  ``card_brand`` and ``card_last4`` are allowed;
- in every string (message, string fields, exception text) any 13-19 digit
  run (spaces or dashes allowed between digits) that passes the Luhn check is
  masked down to its last four digits, and ``name=value`` / ``"name": "value"``
  pairs with a sensitive name have their value replaced.

Numbers are not scanned (epoch-millisecond timestamps would look card-like);
card numbers are strings everywhere in this code base.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paycommon.cards import luhn_valid, mask

REDACTED = "[REDACTED]"
ROOT_LOGGER = "payments"

_SENSITIVE_WORDS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "card",
        "cardnumber",
        "cc",
        "cid",
        "cookie",
        "credential",
        "credentials",
        "cvc",
        "cvc2",
        "cvv",
        "cvv2",
        "expiry",
        "expiration",
        "pan",
        "passwd",
        "password",
        "pin",
        "pwd",
        "secret",
        "token",
        "track",
    }
)
_ALLOWED_KEYS = frozenset({"card_brand", "card_last4"})
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_PAN_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_SENSITIVE_PAIR = re.compile(
    r"(?i)(\b(?:password|passwd|pwd|secret|cvv2?|cvc2?|card_?number|pan|token|authorization)"
    r"\b[\"']?\s*[:=]\s*[\"']?)([^\"'\s,;}&]+)"
)
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"})

_request_context: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "payments_request_context", default=None
)


def is_sensitive_key(key: str) -> bool:
    """True when a field name looks like it holds card data or a secret."""
    if key.lower() in _ALLOWED_KEYS:
        return False
    words = [word.lower() for word in _WORD_SPLIT.split(key) if word]
    compact = "".join(words)
    if any(word in _SENSITIVE_WORDS for word in words):
        return True
    return any(marker in compact for marker in ("password", "secret", "cardnumber", "apikey"))


def _mask_pan(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return mask(digits)
    return match.group(0)


def scrub_text(text: str) -> str:
    """``text`` with card-like numbers masked and sensitive ``name=value`` values removed."""
    text = _PAN_CANDIDATE.sub(_mask_pan, text)
    return _SENSITIVE_PAIR.sub(lambda m: m.group(1) + REDACTED, text)


def redact(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with sensitive keys and card-like strings removed."""
    if isinstance(value, Mapping):
        return {str(key): REDACTED if is_sensitive_key(str(key)) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    return scrub_text(str(value))


class JsonFormatter(logging.Formatter):
    """Formats a record as one redacted JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        context = _request_context.get()
        if context:
            payload.update(context)
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if function:
            payload["function"] = function
        environment = os.environ.get("ENVIRONMENT")
        if environment:
            payload["environment"] = environment
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                payload[key] = REDACTED if is_sensitive_key(key) else redact(value)
        if record.exc_info:
            payload["exception"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, separators=(",", ":"))


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at emit time (Lambda and test capture alike)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure(level: str | None = None) -> logging.Logger:
    """Set up the ``payments`` logger once: JSON to stdout, level from LOG_LEVEL."""
    root = logging.getLogger(ROOT_LOGGER)
    if not any(isinstance(handler, _StdoutHandler) for handler in root.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.propagate = False
    name = (level or os.environ.get("LOG_LEVEL") or "INFO").strip().upper()
    resolved = logging.getLevelName(name)
    root.setLevel(resolved if isinstance(resolved, int) else logging.INFO)
    return root


def get_logger(name: str) -> logging.Logger:
    """A logger under ``payments``, configured on first use."""
    configure()
    return logging.getLogger(f"{ROOT_LOGGER}.{name}")


@contextlib.contextmanager
def request_context(request_id: str, **fields: str) -> Iterator[None]:
    """Adds ``request_id`` (and ``fields``) to every record logged inside the block."""
    context = {"request_id": request_id}
    context.update({key: value for key, value in fields.items() if value})
    token = _request_context.set(context)
    try:
        yield
    finally:
        _request_context.reset(token)
