"""The wrapper every payment handler runs in.

``alb_handler`` turns ``def route(request: Request) -> Response`` into a
Lambda handler that parses the ALB event, binds the request id (the Lambda
request id, plus the ALB trace id) to every log record, maps HttpError to its
status, answers 500 without details for anything unexpected (the traceback
is logged, redacted) and logs one summary line per request.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from paycommon.alb import HttpError, Request, Response, parse_event, render
from paycommon.config import ConfigError
from paycommon.logs import cut_request_text, request_context

Route = Callable[[Request], Response]
LambdaHandler = Callable[[Any, Any], dict[str, Any]]


def _trace_id(event: Any) -> str:
    """The ALB trace id, from ``headers`` or (multi-value headers on) ``multiValueHeaders``, cut to
    what is logged (``logs.cut_request_text``)."""
    if not isinstance(event, Mapping):
        return ""
    for name in ("headers", "multiValueHeaders"):
        headers = event.get(name)
        if not isinstance(headers, Mapping):
            continue
        for key, value in headers.items():
            if str(key).lower() != "x-amzn-trace-id":
                continue
            if isinstance(value, list):
                value = value[-1] if value else ""
            return cut_request_text(str(value))
    return ""


def alb_handler(logger: logging.Logger) -> Callable[[Route], LambdaHandler]:
    """Decorator making an ALB Lambda handler out of a route function."""

    def decorate(route: Route) -> LambdaHandler:
        @functools.wraps(route)
        def handler(event: Any, context: Any) -> dict[str, Any]:
            request_id = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
            multi_value = isinstance(event, Mapping) and "multiValueHeaders" in event
            started = time.monotonic()
            with request_context(request_id, trace_id=_trace_id(event)):
                method = path = ""
                try:
                    request = parse_event(event)
                    method, path = request.method[:16], cut_request_text(request.path)
                    response = route(request)
                except HttpError as exc:
                    response = Response(exc.status, exc.body(), exc.headers)
                except ConfigError as exc:
                    logger.error("configuration error: %s", exc)
                    response = Response(
                        500,
                        {"error": "internal_error", "message": "the service is misconfigured"},
                    )
                except Exception:
                    logger.exception("unhandled error")
                    response = Response(500, {"error": "internal_error", "message": "internal error"})
                logger.info(
                    "request completed",
                    extra={
                        "http_method": method,
                        "path": path,
                        "status": response.status,
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    },
                )
                return render(response, multi_value=multi_value, request_id=request_id)

        return handler

    return decorate
