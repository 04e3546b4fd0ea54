"""Object-level authorisation: which merchants the authenticated caller may act for.

API Gateway authenticates every request (SigV4, IAM authorisation) and its
integration writes the caller's ARN (``$context.identity.userArn``) into the
``x-payments-caller`` header with ``overwrite:``, so a value a client sends in
that header never reaches the load balancer. The load balancer is internal
and admits only the VPC link's security group, so nothing else can reach the
functions with a forged header.

The caller's ARN is reduced to the IAM identity it belongs to before it is
looked up: a role session
``arn:aws:sts::111122223333:assumed-role/payments-m1001/session-42`` is the
role ``arn:aws:iam::111122223333:role/payments-m1001`` (an assumed-role ARN
carries neither the role's path nor anything stable about the session), and
``arn:aws:iam::111122223333:user/ops/alice`` is
``arn:aws:iam::111122223333:user/alice`` (role and user names are unique in an
account whatever their path). Configured principals are reduced the same way.
An account root (``arn:aws:iam::111122223333:root``) is compared as it is.
A federated user (``arn:aws:sts::111122223333:federated-user/NAME``) is no
caller, and no grant may name one: ``sts:GetFederationToken`` lets an IAM user
choose NAME, so a grant keyed on it would go to whoever picks that name. Any
other value is no authenticated caller either, and so is a header sent more
than once (several values, or several spellings of its name): which one is
meant cannot be told.

Attribution: the caller's reduced principal and the ARN API Gateway named
(for a role, the session) are added to every log line of the request
(``caller``, ``caller_arn``) and recorded by each handler on the item it
changes; a card number in the ARN (a session name is the caller's choice) is
masked.

``MERCHANT_ACCESS`` (a JSON object, rendered from the environment file's
``lambda.merchant_access``) maps each principal to the merchant ids it may
act for. A principal missing from it may act for none, so a request is
refused unless the mapping names its caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from paycommon.alb import HttpError, Request
from paycommon.cards import mask_pans
from paycommon.config import ConfigError, env_str
from paycommon.logs import bind, get_logger

CALLER_HEADER = "x-payments-caller"
ACCESS_VARIABLE = "MERCHANT_ACCESS"

_ACCOUNT = r"arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):"
_ASSUMED_ROLE = re.compile(_ACCOUNT + r"assumed-role/(?P<name>[^/]+)/[^/]+")
_IAM_IDENTITY = re.compile(_ACCOUNT + r"(?P<kind>role|user)/(?:.*/)?(?P<name>[^/]+)")
_ROOT = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:root")
_MERCHANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")

logger = get_logger("access")


def principal(arn: str) -> str | None:
    """The IAM identity an ARN stands for (see the module docstring), or None when it is not an IAM ARN."""
    arn = arn.strip()
    match = _ASSUMED_ROLE.fullmatch(arn)
    if match and match["service"] == "sts":
        return f"arn:{match['partition']}:iam::{match['account']}:role/{match['name']}"
    match = _IAM_IDENTITY.fullmatch(arn)
    if match and match["service"] == "iam":
        return f"arn:{match['partition']}:iam::{match['account']}:{match['kind']}/{match['name']}"
    if _ROOT.fullmatch(arn):
        return arn
    return None


@dataclass(frozen=True)
class MerchantAccess:
    """Principal -> the merchant ids it may act for."""

    grants: Mapping[str, frozenset[str]]

    @classmethod
    def parse(cls, text: str) -> MerchantAccess:
        """The mapping from its JSON text; ConfigError when it is not a valid one."""
        try:
            raw = json.loads(text)
        except ValueError:
            raise ConfigError(f"environment variable {ACCESS_VARIABLE} must be a JSON object") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"environment variable {ACCESS_VARIABLE} must be a JSON object")
        grants: dict[str, set[str]] = {}
        for arn, merchants in raw.items():
            identity = principal(arn)
            if identity is None:
                raise ConfigError(f"{ACCESS_VARIABLE}: {arn!r} is not an IAM principal ARN")
            if not (
                isinstance(merchants, list)
                and all(isinstance(m, str) and _MERCHANT_ID.fullmatch(m) for m in merchants)
            ):
                raise ConfigError(f"{ACCESS_VARIABLE}: {arn!r} must map to a list of merchant ids")
            grants.setdefault(identity, set()).update(merchants)
        return cls({key: frozenset(value) for key, value in grants.items()})

    @classmethod
    def from_env(cls) -> MerchantAccess:
        """The mapping in ``MERCHANT_ACCESS`` (required)."""
        return cls.parse(env_str(ACCESS_VARIABLE))

    def caller(self, request: Request) -> Caller:
        """The authenticated caller of ``request``.

        Without a usable ``x-payments-caller`` header the request did not come
        through the API's integration: HttpError 403, and an error log line.
        """
        raw = (request.header(CALLER_HEADER) or "").strip()
        repeated = CALLER_HEADER in request.repeated
        identity = principal(raw) if raw and not repeated else None
        if identity is None:
            reason = "repeated" if repeated else "absent" if not raw else "not an IAM principal ARN"
            logger.error("request without an authenticated caller refused", extra={"caller_header": reason})
            raise HttpError(403, "forbidden", "the caller is not identified")
        caller = Caller(identity, self.grants.get(identity, frozenset()), mask_pans(raw))
        bind(caller=caller.principal, caller_arn=caller.arn)
        return caller


@dataclass(frozen=True)
class Caller:
    """An authenticated principal and the merchants it may act for."""

    principal: str
    merchants: frozenset[str]
    # The ARN API Gateway named (for a role, the session), card numbers masked.
    arn: str = ""

    def may_act_for(self, merchant_id: object) -> bool:
        """True when the caller may act for ``merchant_id``."""
        return isinstance(merchant_id, str) and merchant_id in self.merchants

    def attribution(self, step: str) -> dict[str, str]:
        """The item attributes recording that this caller took ``step`` (``created``,
        ``fraud_checked``, ``processed``)."""
        return {f"{step}_by": self.principal, f"{step}_by_arn": self.arn}
