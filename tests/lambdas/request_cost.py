"""The worst-case cost of one payment-validation request: CPU time of the handler for the most
expensive requests a caller can send, on moto's in-process AWS.

Run from the repository root (the figure lambdas/README.md states comes from this)::

    .venv/bin/python tests/lambdas/request_cost.py

Each request is sent ``--repeat`` times (default 20) and its worst CPU time (``time.process_time``,
so other processes on the machine do not count) is reported. The accepted payment includes moto's
own CPU for the KMS and DynamoDB calls, so it overstates what Lambda spends. A Lambda function
with 512 MB gets about 0.3 vCPU: multiply by about 3.4 for its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _path in (ROOT, HERE, ROOT / "lambdas" / "common", ROOT / "lambdas" / "payment_validation"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from lambda_testkit import (  # noqa: E402
    AMOUNT_LIMITS,
    CALLER,
    MERCHANT_ACCESS,
    REGION,
    TABLE,
    Context,
    alb_event,
    create_table,
    payment,
)

STRANGER = "arn:aws:sts::123456789012:assumed-role/payments-nobody/session-1"
BODY_LIMIT = 64 * 1024


def _fill(prefix: str, unit: str, suffix: str, limit: int = BODY_LIMIT) -> str:
    """``prefix + unit * n + suffix`` as long as fits in ``limit`` bytes."""
    room = limit - len((prefix + suffix).encode())
    return prefix + unit * (room // len(unit.encode())) + suffix


def _scan_heavy(unit: str) -> str:
    """A body of payment fields plus notes of at most 256 characters (what the scan reads of one
    value), up to the 4096 characters the scan reads of a body, each made of ``unit``."""
    value = (unit * (256 // len(unit) + 1))[:256]
    notes = {f"n{index}": value for index in range(14)}
    return json.dumps({**payment(), **notes})


def hostile_requests() -> dict[str, tuple[str, str, dict[str, str]]]:
    """name -> (caller, body text, extra headers)."""
    body = json.dumps(payment())
    digits_everywhere = "4111+1111+1111+1113 "
    return {
        "exponent number, caller without merchants": (STRANGER, '{"a":1e2000000}', {}),
        "exponent number": (CALLER, body.replace('"125.50"', "1e2000000"), {}),
        "64 KB number": (CALLER, _fill('{"a":', "9", "}"), {}),
        "64 KB string": (CALLER, _fill('{"merchant_id":"m-1001","a":"', "4", '"}'), {}),
        "64 KB of nesting": (CALLER, '{"a":' + "[" * 32000 + "]" * 32000 + "}", {}),
        "1024 values": (CALLER, json.dumps({**payment(), "a": [0] * 1100}), {}),
        "64 KB of keys": (CALLER, '{"merchant_id":"m-1001",' + ",".join(f'"k{i}":0' for i in range(6500)) + "}", {}),
        "scan budget of digit groups": (CALLER, _scan_heavy(digits_everywhere), {}),
        "scan budget of full-width digits": (CALLER, _scan_heavy("\uff14\uff11\uff11\uff11\u3000"), {}),
        "scan budget of percent-encoded digits": (CALLER, _scan_heavy("%EF%BC%94%31%31%31+"), {}),
        "scan budget of HTML references": (CALLER, _scan_heavy("&#52;&#49;&#49;&#49;&#32;"), {}),
        "long idempotency key": (CALLER, body, {"Idempotency-Key": ("4111+1111+" * 26)[:255]}),
        "accepted payment (moto's CPU included)": (CALLER, body, {"Idempotency-Key": ""}),
    }


def _environment() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
        TRANSACTIONS_TABLE=TABLE, ALLOWED_CURRENCIES="EUR,USD,JPY,BHD", MERCHANT_ACCESS=json.dumps(MERCHANT_ACCESS),
        AMOUNT_LIMITS=json.dumps(AMOUNT_LIMITS), LOG_LEVEL="INFO", ENVIRONMENT="cost",
    )


def measure(
    repeat: int, handler: Callable[[Any, Any], dict[str, Any]] | None = None
) -> Iterator[tuple[str, int, float]]:
    """(name, status, worst CPU seconds) for each hostile request; AWS is moto's (started here when
    ``handler`` is not given, else the caller's)."""
    handle = handler or _handler()
    handle(alb_event("POST", "/payments", json.dumps(payment())), Context())  # warm: imports, first log line
    for name, (caller, body, headers) in hostile_requests().items():
        worst, status = 0.0, 0
        for _ in range(repeat):
            sent = {key: value or str(uuid.uuid4()) for key, value in headers.items()}
            event = alb_event("POST", "/payments", body, headers=sent, caller=caller)
            started = time.process_time()
            answer = handle(event, Context())
            worst = max(worst, time.process_time() - started)
            status = answer["statusCode"]
        yield name, status, worst


def _handler() -> Callable[[Any, Any], dict[str, Any]]:
    import payment_validation

    return payment_validation.handler  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    _environment()
    import boto3
    from moto import mock_aws

    with mock_aws():
        create_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        key = boto3.client("kms", region_name=REGION).create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
        os.environ["CARD_TOKEN_KMS_KEY_ID"] = key["KeyMetadata"]["KeyId"]
        devnull = open(os.devnull, "w")  # noqa: SIM115 - the handlers' log lines, for the whole run
        stdout, sys.stdout = sys.stdout, devnull
        try:
            results = list(measure(args.repeat))
        finally:
            sys.stdout = stdout
            devnull.close()
    width = max(len(name) for name, _, _ in results)
    for name, status, worst in results:
        print(f"{name:<{width}}  {status}  {worst * 1000:7.1f} ms CPU")
    print(f"worst request: {max(worst for _, _, worst in results) * 1000:.1f} ms CPU (worst of {args.repeat} "
          f"each, python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
