"""Structured JSON logging that never writes card data or secrets.

Every record is one JSON object on stdout (CloudWatch Logs keeps one event per
line) with ``timestamp``, ``level``, ``logger``, ``message``, ``request_id``,
``function``, ``environment`` and any ``extra=`` fields.

Redaction, applied to every record:

- an ``extra`` field (at any depth) whose name looks sensitive (card, pan,
  cvv/cvc, secret, password, token, authorization, cookie, api key,
  credential, expiry, pin, track) is replaced by ``[REDACTED]``; the names
  ``card_brand`` and ``card_last4`` are allowed;
- every string of the record (message, every field including the request
  context, path and trace id, exception text) is NFKC-normalised, cut to
  ``cards.MAX_SCAN_CHARS`` characters (the cut is noted; a number it cuts
  through goes with the rest), and every digit of a card number in it but the
  last four is replaced by ``*``: a Luhn-valid window of 13-19 digits of a run
  of digit groups joined by one to three characters that are neither letters
  nor digits, whatever they are, after percent-encoding and HTML numeric
  references are undone and digits of every script read as ASCII
  (``paycommon.cards.pan_spans``), so ``4111+1111+1111+1111``,
  ``4111%201111...`` and a number next to other digits
  (``4111111111111111 123``) are caught too;
- integers of 13-19 digits that pass the Luhn check are masked the same way
  (a card number sent as a JSON number);
- ``name=value`` / ``"name": "value"`` pairs whose name contains a sensitive
  word (``db_password``, ``client_secret``, ``x-api-token``...) have their
  value replaced up to the next quote, ``&``, ``;``, ``,``, ``}`` or line end,
  so ``password=correct horse battery`` loses all three words.

An unlucky identifier (about one random 13-digit string in ten passes the
Luhn check) is masked too: the scrubber errs on the side of hiding.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paycommon.cards import MAX_SCAN_CHARS, PAN_LENGTHS, luhn_valid, mask, mask_pans, normalize_text

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
_SENSITIVE_NAME = (
    r"(?:password|passwd|pwd|secret|cvv2?|cvc2?|card_?number|pan|token|authorization|api_?key|credentials?)"
)
_SENSITIVE_PAIR = re.compile(
    rf"(?i)((?<![A-Za-z0-9_-])(?:[A-Za-z0-9]+[_-])*{_SENSITIVE_NAME}(?:[_-][A-Za-z0-9]+)*"
    r"[\"']?\s*[:=]\s*)(\"[^\"]*\"?|'[^']*'?|[^\"'&;,}\r\n]*)"
)
# A cut never leaves the digits and separators of a number it cut through: they go with the rest.
_CUT_NUMBER_TAIL = re.compile(r"[\W_0-9]+$")
_CUT_NOTE_CHARS = 40
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


def _redact_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if not value.strip():
        return match.group(0)
    quote = value[0] if value[0] in "\"'" else ""
    return match.group(1) + quote + REDACTED + (quote if quote and value.endswith(quote) and len(value) > 1 else "")


def _bounded(text: str) -> str:
    """``text`` (NFKC) cut to what one card-number scan reads (``cards.MAX_SCAN_CHARS``), noting the cut."""
    text = normalize_text(text)
    if len(text) <= MAX_SCAN_CHARS:
        return text
    head = _CUT_NUMBER_TAIL.sub("", text[: MAX_SCAN_CHARS - _CUT_NOTE_CHARS])
    return f"{head} [{len(text) - len(head)} characters cut]"


def scrub_text(text: str) -> str:
    """``text`` with card-like numbers masked and sensitive ``name=value`` values removed; text longer
    than one scan reads is cut first, so nothing unscanned is ever written."""
    return _SENSITIVE_PAIR.sub(_redact_value, mask_pans(_bounded(text)))


def _scrub_int(value: int) -> int | str:
    digits = str(abs(value))
    if len(digits) in PAN_LENGTHS and luhn_valid(digits):
        return mask(digits)
    return value


def redact(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with sensitive keys and card-like strings removed."""
    if isinstance(value, Mapping):
        return {
            scrub_text(str(key)): REDACTED if is_sensitive_key(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return _scrub_int(value)
    if isinstance(value, float):
        return _scrub_int(int(value)) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, Decimal):
        return scrub_text(str(value))
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
            payload.update({key: redact(value) for key, value in context.items()})
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if function:
            payload["function"] = scrub_text(function)
        environment = os.environ.get("ENVIRONMENT")
        if environment:
            payload["environment"] = scrub_text(environment)
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                payload[scrub_text(key)] = REDACTED if is_sensitive_key(key) else redact(value)
        if record.exc_info:
            payload["exception"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, separators=(",", ":"))


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at emit time (Lambda and test capture alike)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


# Loggers of the libraries under the handlers: at DEBUG botocore writes request and response
# bodies (Secrets Manager answers, KMS plaintexts) and urllib3 the URLs it calls, none of it
# through this module's redaction. They stay at WARNING whatever LOG_LEVEL says.
THIRD_PARTY_LOGGERS = ("boto3", "botocore", "urllib3", "s3transfer")


def pin_third_party_loggers() -> None:
    """Set the third-party loggers (``THIRD_PARTY_LOGGERS``) to WARNING."""
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(level: str | None = None) -> logging.Logger:
    """Set up the ``payments`` logger once: JSON to stdout, level from LOG_LEVEL; the third-party
    loggers stay at WARNING."""
    pin_third_party_loggers()
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


def bind(**fields: str) -> None:
    """Adds ``fields`` to every record logged for the rest of the current request (inside
    ``request_context``); outside one it does nothing."""
    context = _request_context.get()
    if context is not None:
        _request_context.set({**context, **{key: value for key, value in fields.items() if value}})


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
