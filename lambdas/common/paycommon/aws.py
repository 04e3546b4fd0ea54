"""boto3 clients, created once per container and reused across invocations.

Creating a client costs tens of milliseconds, so each (service, endpoint) pair
is built on first use and cached for the life of the execution environment.
Timeouts are short and retries use the standard mode, so a slow dependency
fails an invocation well inside the function timeout.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
    user_agent_extra="payments-platform",
)


@functools.cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """The cached boto3 client for ``service`` (region from AWS_REGION)."""
    return boto3.client(service, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests start each AWS mock with fresh clients)."""
    client.cache_clear()
