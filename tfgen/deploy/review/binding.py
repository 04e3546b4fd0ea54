"""Plan binding: whether the plan ``tfgen apply`` is about to apply is the plan that was reviewed.

``tfgen plan`` records a ``Binding`` where only the user can write (tfgen.deploy.records), and a
readable copy beside the review (``plan/meta.json``): the environment,
the ``--set`` settings, the AWS account of the credentials, the sha256 of the plan file, the
digest of its ``terraform show -json``, the digest of the rendered tree and the tfgen version.
At apply, tfgen.deploy.plans gathers the same facts again (from a private copy of the plan file)
and ``differences`` compares them, ``copy_differences`` the readable copy with the record: any
difference is a refusal. Nothing here reads files, runs
terraform or asks AWS.

An account that cannot be told (no boto3, no credentials) matches nothing, not even another
account that cannot be told: two unknowns are not evidence of one account.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FORMAT = 1
# Names of secrets: a ``--set`` key with one of them as a path component, or as the end of one after
# ``_`` or ``-`` (``database.master_password``), has its value not written down (its digest still binds it).
SENSITIVE = ("secret", "password", "token", "access_key", "secret_key", "private_key")
_SHORT = 12


@dataclass(frozen=True)
class Account:
    """The AWS account of the caller's credentials: ``id``, or why it cannot be told."""

    id: str | None
    unknown: str = ""


@dataclass(frozen=True)
class Binding:
    """What one saved plan is: for which environment, settings and account, and which bytes."""

    env: str
    overrides: tuple[str, ...]  # as shown: sensitive values redacted
    overrides_sha256: str  # of the settings as given
    account: Account
    plan_sha256: str
    plan_json_sha256: str
    rendered_digest: str
    tfgen_version: str

    @classmethod
    def of(cls, env: str, overrides: Sequence[str], account: Account, plan_sha256: str, plan_json_sha256: str,
           rendered_digest: str, tfgen_version: str) -> Binding:
        given = list(overrides)
        return cls(env=env, overrides=tuple(_redacted(pair) for pair in given),
                   overrides_sha256=hashlib.sha256(json.dumps(given).encode()).hexdigest(), account=account,
                   plan_sha256=plan_sha256, plan_json_sha256=plan_json_sha256, rendered_digest=rendered_digest,
                   tfgen_version=tfgen_version)

    def as_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "env": self.env, "overrides": list(self.overrides),
                "overrides_sha256": self.overrides_sha256, "account": self.account.id,
                "account_unknown": self.account.unknown, "plan_sha256": self.plan_sha256,
                "plan_json_sha256": self.plan_json_sha256, "rendered_digest": self.rendered_digest,
                "tfgen_version": self.tfgen_version}


def read(document: Any) -> Binding:
    """The binding recorded in ``document`` (``meta.json``); ValueError when a field is missing or
    malformed (a plan saved by an older tfgen has none)."""
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise ValueError("no plan binding of this tfgen's format")
    texts = ("env", "overrides_sha256", "account_unknown", "plan_sha256", "plan_json_sha256", "rendered_digest",
             "tfgen_version")
    bad = [key for key in texts if not isinstance(document.get(key), str)]
    overrides = document.get("overrides")
    pairs = tuple(overrides) if isinstance(overrides, list) else ()
    if not isinstance(overrides, list) or not all(isinstance(pair, str) for pair in pairs):
        bad.append("overrides")
    account = document.get("account")
    if account is not None and not isinstance(account, str):
        bad.append("account")
    if bad:
        raise ValueError(f"plan binding: missing or malformed {', '.join(bad)}")
    return Binding(env=document["env"], overrides=pairs, overrides_sha256=document["overrides_sha256"],
                   account=Account(account, document["account_unknown"]), plan_sha256=document["plan_sha256"],
                   plan_json_sha256=document["plan_json_sha256"], rendered_digest=document["rendered_digest"],
                   tfgen_version=document["tfgen_version"])


def json_digest(document: Any) -> str:
    """The sha256 of a parsed JSON document, independent of key order and spacing."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def differences(recorded: Binding, now: Binding, saved_json_sha256: str | None) -> list[str]:
    """Every way ``now`` (the facts at apply) is not ``recorded`` (the facts at plan), one line each;
    ``saved_json_sha256``: the digest of ``plan/plan.json`` as it is now (None: missing)."""
    lines = []
    if recorded.env != now.env:
        lines.append(f"the plan was made for environment {recorded.env}, not {now.env}")
    if recorded.overrides_sha256 != now.overrides_sha256:
        lines.append(_other_settings(recorded.overrides, now.overrides))
    lines += _account(recorded.account, now.account)
    if recorded.plan_sha256 != now.plan_sha256:
        lines.append(f"plan/tfplan is not the file that was reviewed (sha256 {now.plan_sha256[:_SHORT]}, "
                     f"reviewed {recorded.plan_sha256[:_SHORT]}): it was replaced after the review")
    if recorded.plan_json_sha256 != now.plan_json_sha256:
        lines.append(f"terraform show -json of the plan file is not the plan that was reviewed (sha256 "
                     f"{now.plan_json_sha256[:_SHORT]}, reviewed {recorded.plan_json_sha256[:_SHORT]})")
    if saved_json_sha256 is None:
        lines.append("plan/plan.json, the reviewed plan, is missing")
    elif saved_json_sha256 != recorded.plan_json_sha256:
        lines.append(f"plan/plan.json was changed after the review (sha256 {saved_json_sha256[:_SHORT]}, "
                     f"reviewed {recorded.plan_json_sha256[:_SHORT]})")
    if recorded.rendered_digest != now.rendered_digest:
        lines.append(f"the rendered tree changed since the plan was made "
                     f"(plan of {recorded.rendered_digest[:_SHORT]}, now {now.rendered_digest[:_SHORT]})")
    if recorded.tfgen_version != now.tfgen_version:
        lines.append(f"the plan was reviewed by tfgen {recorded.tfgen_version}, and this is tfgen {now.tfgen_version}")
    return lines


def copy_differences(recorded: Binding, copy: Any) -> list[str]:
    """Whether ``copy`` (``plan/meta.json`` as it is now, parsed; None: missing or not JSON), the readable
    copy of the record, still says what ``recorded`` (the private record) says."""
    if copy is None:
        return ["plan/meta.json, the readable copy of the record of the review, is missing or not JSON"]
    if copy != recorded.as_json():
        return ["plan/meta.json is not the record tfgen keeps of the reviewed plan: it was changed after the review"]
    return []


def _account(recorded: Account, now: Account) -> list[str]:
    if recorded.id is None and now.id is None:
        return [f"the AWS account the plan was made in is unknown ({recorded.unknown}), and so is the account of "
                f"the credentials now ({now.unknown}): two unknown accounts are not known to be the same; "
                "plan again with credentials tfgen can read"]
    if recorded.id is None:
        return [f"the AWS account the plan was made in is unknown ({recorded.unknown}): tfgen cannot tell that "
                f"account {now.id} is the same; plan again with credentials tfgen can read"]
    if now.id is None:
        return [f"the plan was made in AWS account {recorded.id}, and the account of the credentials now is "
                f"unknown ({now.unknown})"]
    if recorded.id != now.id:
        return [f"the plan was made in AWS account {recorded.id}, and the credentials now are for account {now.id}"]
    return []


def _other_settings(recorded: tuple[str, ...], now: tuple[str, ...]) -> str:
    hidden = " (a value differs)" if recorded == now else ""
    return (f"the plan was made with {_settings(recorded)}, and apply was given {_settings(now)}{hidden}: "
            "apply with the same --set settings")


def _settings(pairs: tuple[str, ...]) -> str:
    return " ".join(f"--set {pair}" for pair in pairs) if pairs else "no --set"


def _redacted(pair: str) -> str:
    key, sep, _ = pair.partition("=")
    return f"{key}=<redacted>" if sep and sensitive(key) else pair


def sensitive(key: str) -> bool:
    """Whether the ``--set`` key path ``key`` names a secret (SENSITIVE)."""
    components = re.split(r"[.\[\]]+", key.lower())
    return any(component == word or component.endswith((f"_{word}", f"-{word}"))
               for component in components for word in SENSITIVE)
