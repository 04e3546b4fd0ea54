"""The Application Load Balancer Lambda event and response format.

An ALB invokes a Lambda target with ``httpMethod``, ``path``,
``queryStringParameters``, ``headers``, ``body`` and ``isBase64Encoded``; when
the target group has multi-value headers enabled it sends
``multiValueHeaders`` / ``multiValueQueryStringParameters`` instead and
expects ``multiValueHeaders`` back. The response is ``statusCode``,
``statusDescription`` (``"201 Created"``), headers, ``body`` and
``isBase64Encoded``.

Bodies are JSON, and the work of reading one is bounded before anything looks
at it: bodies over ``MAX_BODY_BYTES`` are refused (413); a number must be a
plain decimal (``12.50``, ``-3``, no exponent) of at most ``MAX_NUMBER_CHARS``
characters, so no number can expand into megabytes of digits, and is kept
exactly as sent (integers as ``int``, fractions as ``Decimal``, never float);
duplicate keys and NaN/Infinity are rejected; and a body nested deeper than
``MAX_JSON_DEPTH`` or holding more than ``MAX_JSON_VALUES`` values is refused.
Each of these is a 400 at parse time.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

MAX_BODY_BYTES = 64 * 1024
# A JSON number: at most this many characters, plain decimal notation only.
MAX_NUMBER_CHARS = 40
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
# Nesting levels (the body object is one) and values (objects, arrays and scalars) of a body.
MAX_JSON_DEPTH = 16
MAX_JSON_VALUES = 1024
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class HttpError(Exception):
    """An error answered to the client as ``{"error": code, "message": ..., ...}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": self.code, "message": self.message, **self.details}


@dataclass(frozen=True)
class Request:
    """A parsed ALB request; header names are lower case."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    multi_value: bool = False
    # Header names (lower case) the event holds more than one value of, whatever their case.
    repeated: frozenset[str] = frozenset()

    def header(self, name: str) -> str | None:
        """A header's value (the last one when repeated), or None."""
        return self.headers.get(name.lower())

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; HttpError 400/415 when it is not one."""
        content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if content_type and content_type != "application/json" and not content_type.endswith("+json"):
            raise HttpError(415, "unsupported_media_type", "the request body must be application/json")
        if not self.body.strip():
            raise HttpError(400, "malformed_request", "the request body is empty")
        try:
            parsed = json.loads(
                self.body.decode("utf-8"),
                parse_float=_decimal,
                parse_int=_integer,
                parse_constant=_reject_constant,
                object_pairs_hook=_unique_keys,
            )
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise HttpError(400, "malformed_request", f"the request body is not valid JSON: {_reason(exc)}") from None
        if not isinstance(parsed, dict):
            raise HttpError(400, "malformed_request", "the request body must be a JSON object")
        _check_size(parsed)
        return parsed


@dataclass(frozen=True)
class Response:
    """A handler's answer, rendered into the ALB format by ``render``."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


def _plain_number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"numbers must have at most {MAX_NUMBER_CHARS} characters")
    if not _PLAIN_NUMBER.fullmatch(text):
        raise ValueError("numbers must be plain decimals (no exponent)")
    return text


def _integer(text: str) -> int:
    return int(_plain_number(text))


def _decimal(text: str) -> Decimal:
    return Decimal(_plain_number(text))


def _check_size(document: Any) -> None:
    """HttpError 400 when ``document`` is nested deeper than MAX_JSON_DEPTH or holds more than
    MAX_JSON_VALUES values (walked without recursion, so no depth can exhaust the stack)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    count = 0
    while pending:
        value, depth = pending.pop()
        count += 1
        if count > MAX_JSON_VALUES:
            raise HttpError(400, "malformed_request", f"the request body holds more than {MAX_JSON_VALUES} values")
        if depth > MAX_JSON_DEPTH:
            raise HttpError(400, "malformed_request", "the request body is not valid JSON: nested too deeply")
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def _single_values(event: Mapping[str, Any], single: str, multi: str) -> dict[str, str]:
    values: dict[str, str] = {}
    multi_values = event.get(multi)
    if isinstance(multi_values, Mapping):
        for key, items in multi_values.items():
            if isinstance(items, list) and items:
                values[str(key)] = str(items[-1])
    single_values = event.get(single)
    if isinstance(single_values, Mapping):
        for key, item in single_values.items():
            values[str(key)] = str(item)
    return values


def _repeated_headers(event: Mapping[str, Any]) -> frozenset[str]:
    """Lower-case names that occur more than once: several values, or several spellings of the name."""
    counts: dict[str, int] = {}
    multi_values = event.get("multiValueHeaders")
    if isinstance(multi_values, Mapping):
        for key, items in multi_values.items():
            count = len(items) if isinstance(items, list) else 1
            counts[str(key).lower()] = counts.get(str(key).lower(), 0) + count
    single_values = event.get("headers")
    if isinstance(single_values, Mapping):
        for key in single_values:
            counts[str(key).lower()] = counts.get(str(key).lower(), 0) + 1
    return frozenset(name for name, count in counts.items() if count > 1)


def parse_event(event: Any) -> Request:
    """A Request from an ALB event; HttpError 400/413 for an unreadable one."""
    if not isinstance(event, Mapping):
        raise HttpError(400, "malformed_request", "not an ALB request event")
    method = event.get("httpMethod")
    path = event.get("path")
    if not isinstance(method, str) or not isinstance(path, str):
        raise HttpError(400, "malformed_request", "not an ALB request event")
    headers = {key.lower(): value for key, value in _single_values(event, "headers", "multiValueHeaders").items()}
    query = {
        unquote_plus(key): unquote_plus(value)
        for key, value in _single_values(event, "queryStringParameters", "multiValueQueryStringParameters").items()
    }
    raw_body = event.get("body") or ""
    if not isinstance(raw_body, str):
        raise HttpError(400, "malformed_request", "the request body must be text")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "malformed_request", "the body is not valid base64") from None
    else:
        body = raw_body.encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, "payload_too_large", f"the request body exceeds {MAX_BODY_BYTES} bytes")
    return Request(
        method=method.upper(),
        path=path,
        headers=headers,
        query=query,
        body=body,
        multi_value="multiValueHeaders" in event,
        repeated=_repeated_headers(event),
    )


def match_route(request: Request, method: str, pattern: re.Pattern[str]) -> dict[str, str]:
    """The path parameters when ``request`` is ``method`` on ``pattern``.

    Raises HttpError 404 when the path does not match and 405 (with ``Allow``)
    when only the method differs.
    """
    match = pattern.fullmatch(request.path)
    if match is None:
        raise HttpError(404, "not_found", "no such resource")
    if request.method != method:
        raise HttpError(
            405,
            "method_not_allowed",
            f"use {method} for this resource",
            headers={"allow": method},
        )
    return {key: value for key, value in match.groupdict().items() if value is not None}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(payload: Any) -> str:
    """Compact JSON with Decimals written as plain-notation strings."""
    return json.dumps(payload, default=_json_default, separators=(",", ":"), sort_keys=True)


def render(response: Response, *, multi_value: bool, request_id: str) -> dict[str, Any]:
    """The ALB Lambda response for ``response``."""
    status = HTTPStatus(response.status)
    headers = {
        "content-type": JSON_CONTENT_TYPE,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-request-id": request_id,
        **{key.lower(): value for key, value in response.headers.items()},
    }
    rendered: dict[str, Any] = {
        "statusCode": status.value,
        "statusDescription": f"{status.value} {status.phrase}",
        "isBase64Encoded": False,
        "body": dumps(response.body),
    }
    if multi_value:
        rendered["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
    else:
        rendered["headers"] = headers
    return rendered
