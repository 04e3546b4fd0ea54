"""One deployed Lambda function, run from its deployment package in a process of its own.

Started by ``dataplane.Worker`` as ``python lambda_worker.py PACKAGE HANDLER FUNCTION_ARN`` with
the function's deployed environment (plus the emulator endpoint and the role's credentials).
It unpacks the zip into a fresh directory, puts that first on ``sys.path`` as Lambda does,
imports the handler once (one execution environment, reused as Lambda reuses a warm one), then
answers one invocation per line:

    stdin:  {"event": ..., "request_id": "..."}
    fd $E2E_ANSWER_FD: {"result": ..., "error": null | "Type: message", "calls": [call, ...]}

The handlers write their log lines to stdout, which goes to the worker's log file; the answers
use a descriptor of their own. Every AWS call the handler makes through botocore is recorded
with botocore's event hooks (``before-parameter-build`` for the operation and its parameters,
``before-send`` for the URL actually used, ``after-call`` for the outcome), so the harness can
check each one against the role's deployed policies.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
import traceback
import zipfile
from typing import Any

ANSWER_FD_VARIABLE = "E2E_ANSWER_FD"
NETWORK_VARIABLE = "E2E_NETWORK_MAP"  # {"host:port": "host:port"}: see route_addresses


class Context:
    """The Lambda context object the handlers may read."""

    def __init__(self, function_arn: str, request_id: str, deadline: float) -> None:
        parts = function_arn.split(":")
        self.function_name = parts[6]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = "e2e"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Recorder:
    """The AWS calls of the current invocation, from botocore's event hooks."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def install(self) -> None:
        import boto3

        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION._session.get_component("event_emitter")  # type: ignore[union-attr]
        events.register("before-parameter-build", self.parameters)
        events.register("before-send", self.sent)
        events.register("after-call", self.answered)

    def parameters(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model
        call = {"service": service.signing_name or service.endpoint_prefix, "operation": model.name,
                "params": _plain(params), "url": None, "status": None, "error": None}
        context["e2e_call"] = call
        self.calls.append(call)

    def sent(self, request: Any, **_: Any) -> None:
        call = request.context.get("e2e_call")
        if call is not None:
            call["url"] = request.url.split("?")[0]

    def answered(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get("e2e_call")
        if call is None:
            return
        call["status"] = http_response.status_code
        if http_response.status_code >= 300:
            error = parsed.get("Error", {})
            code = error.get("Code", "")
            message = error.get("Message", "")
            text = http_response.text if hasattr(http_response, "text") else ""
            if "<Code>AccessDenied</Code>" in text and "AccessDenied" not in code:
                # moto answers a JSON-protocol call with an XML error, which botocore cannot parse
                code = "AccessDenied"
                message = text.partition("<Message>")[2].partition("</Message>")[0]
            call["error"] = f"{code}: {message}".strip()


def _plain(value: Any) -> Any:
    """Parameters as JSON: bytes become their length, so no payload (or card data) is kept."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if hasattr(value, "read"):
        return "<stream>"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def route_addresses(mapping: dict[str, str]) -> None:
    """Resolve each "host:port" key of ``mapping`` to its "host:port" value, as the VPC's DNS and
    routing would take the function to the deployed endpoint (the harness's stand-in for it)."""
    import socket

    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        target = mapping.get(f"{host}:{port}")
        if target is not None:
            host, _, port = target.rpartition(":")
            port = int(port)
        return resolve(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def main(argv: list[str]) -> None:
    package, handler_name, function_arn = argv
    answers = os.fdopen(int(os.environ.pop(ANSWER_FD_VARIABLE)), "w", buffering=1)
    sys.path.pop(0)  # this script's directory (the test suite) is not in a Lambda task
    route_addresses(json.loads(os.environ.pop(NETWORK_VARIABLE, "{}")))
    sys.stdout = sys.stderr  # the handlers' log lines go to the worker's log, not to the answers
    root = tempfile.mkdtemp(prefix="lambda-task-")
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root)
    sys.path.insert(0, root)
    os.chdir(root)
    recorder = Recorder()
    recorder.install()
    module_name, _, function_name = handler_name.rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "30"))
    for line in sys.stdin:
        request = json.loads(line)
        recorder.calls = []
        context = Context(function_arn, request["request_id"], time.monotonic() + timeout)
        result: Any = None
        error = None
        try:
            result = handler(request["event"], context)
        except Exception as exc:  # the invocation fails as a Lambda invocation would; the worker goes on
            error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        answers.write(json.dumps({"result": result, "error": error, "calls": recorder.calls}, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
