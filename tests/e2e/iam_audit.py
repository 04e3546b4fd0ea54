"""Every AWS call a deployed function made, checked against its role's deployed policies.

moto enforces IAM for the data-plane phase, but for most services it does not know which
resource a call touches (see ``dataplane.py``: it checks actions only, and conditions never),
so the calls each function's worker records (``lambda_worker.py``) are judged here as AWS
would judge them: each call becomes the IAM requests AWS authorises for it (action, resource
ARN, condition keys), and each request is evaluated against the role's policy documents as
read back from the emulator, with the resource's own policy where it has one (the audit
bucket's bucket policy, the KMS key policies), by @cloud-copilot/iam-simulate, a maintained
IAM policy evaluator (Node; ``iam_simulate.mjs``, installed by ``make`` from
``package.json``). Nothing here evaluates a policy itself.

``requests_for`` knows the operations the handlers call; an operation it does not know is
reported as a problem, so a new call cannot go unchecked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIMULATOR = HERE / "iam_simulate.mjs"
NODE_MODULES = HERE / "node_modules" / "@cloud-copilot" / "iam-simulate"


class AuditError(RuntimeError):
    """The evaluator cannot run."""


@dataclass(frozen=True)
class Request:
    """One IAM authorisation request: what AWS checks for (part of) one API call."""

    action: str
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Caller:
    """A function's role as the evaluator sees it."""

    function: str
    role_arn: str
    policies: Mapping[str, Any]  # inline policy name -> document


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _table_arn(name: str, region: str, account: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", region, account, f"table/{name}")


def _key_arn(key: str, region: str, account: str) -> str:
    if key.startswith("arn:"):
        return key
    return _arn("kms", region, account, key if key.startswith("alias/") else f"key/{key}")


_DYNAMODB_ITEM = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                  "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def requests_for(call: Mapping[str, Any], region: str, account: str,
                 tls_version: str | None) -> list[Request] | None:
    """The IAM requests AWS authorises for one recorded call (``tls_version``: the TLS version of its
    connection, None for plain HTTP); None for an operation not known here."""
    service, operation, params = call["service"], call["operation"], call["params"]
    transport = {"aws:SecureTransport": "false" if tls_version is None else "true"}
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return [Request(f"dynamodb:{_DYNAMODB_ITEM[kind]}", _table_arn(body["TableName"], region, account),
                            transport)
                    for item in params.get("TransactItems", []) for kind, body in item.items()]
        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"):
            table = _table_arn(params["TableName"], region, account)
            index = params.get("IndexName")
            return [Request(f"dynamodb:{operation}", f"{table}/index/{index}" if index else table, transport)]
        return None
    if service == "kms":
        if operation in ("GenerateMac", "VerifyMac"):
            return [Request(f"kms:{operation}", _key_arn(params["KeyId"], region, account),
                            {**transport, "kms:MacAlgorithm": params["MacAlgorithm"]})]
        if operation in ("Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"):
            return [Request(f"kms:{operation}", _key_arn(params["KeyId"], region, account), transport)]
        return None
    if service == "sns" and operation == "Publish":
        return [Request("sns:Publish", params["TopicArn"], transport)]
    if service == "s3" and operation == "PutObject":
        context: dict[str, str | list[str]] = {**transport}
        if tls_version is not None:
            context["s3:TlsVersion"] = tls_version
        if params.get("ServerSideEncryption"):
            context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
        if params.get("SSEKMSKeyId"):
            context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = params["SSEKMSKeyId"]
        return [Request("s3:PutObject", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", context)]
    if service == "secretsmanager" and operation in ("DescribeSecret", "GetSecretValue", "PutSecretValue",
                                                     "UpdateSecretVersionStage"):
        secret = params["SecretId"]
        if not secret.startswith("arn:"):
            return None  # the handlers are given the secret's ARN; a bare name would need a lookup
        return [Request(f"secretsmanager:{operation}", secret, transport)]
    if service == "sts" and operation == "GetCallerIdentity":
        return []  # needs no permission
    return None


def simulation(caller: Caller, request: Request, account: str,
               resource_policy: Mapping[str, Any] | None) -> dict[str, Any]:
    """The evaluator's input for one request by ``caller``."""
    simulated: dict[str, Any] = {
        "identityPolicies": [{"name": name, "policy": document} for name, document in sorted(caller.policies.items())],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "request": {"action": request.action, "principal": caller.role_arn,
                    "resource": {"accountId": account, "resource": request.resource},
                    "contextVariables": dict(request.context)},
    }
    if resource_policy is not None:
        simulated["resourcePolicy"] = resource_policy
    return simulated


def evaluate(simulations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the evaluator on ``simulations``; one answer each (``result``: Allowed, ImplicitlyDenied,
    ExplicitlyDenied or Error)."""
    if not simulations:
        return []
    node = shutil.which("node")
    if node is None or not NODE_MODULES.is_dir():
        raise AuditError(f"the IAM policy evaluator is not installed (needs node and `npm ci` in {HERE}; "
                         f"make test and make e2e run it)")
    completed = subprocess.run([node, str(SIMULATOR)], input=json.dumps(simulations), capture_output=True,
                               text=True, cwd=HERE, timeout=120, check=False)
    if completed.returncode != 0:
        raise AuditError(f"{SIMULATOR.name} exited with {completed.returncode}: {completed.stderr[-2000:]}")
    answers: list[dict[str, Any]] = json.loads(completed.stdout)
    return answers


@dataclass
class Verdict:
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def audit(calls: Iterable[tuple[Caller, Mapping[str, Any]]], region: str, account: str,
          resource_policies: Mapping[str, Any], tls_version: str = "1.2") -> Verdict:
    """Check each (caller, recorded call); ``resource_policies`` maps a resource ARN prefix (a bucket
    ARN, a key ARN) to the policy of that resource; a call over https used ``tls_version`` (the
    lowest the emulator's TLS listener accepts)."""
    verdict = Verdict()
    pending: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for caller, call in calls:
        secure = str(call.get("url") or "").startswith("https://")
        requests = requests_for(call, region, account, tls_version if secure else None)
        what = f"{caller.function}: {call['service']}:{call['operation']}"
        if requests is None:
            verdict.problems.append(f"{what}: no IAM mapping for this operation in iam_audit.requests_for; "
                                    f"add it so the call is checked")
            continue
        for request in requests:
            key = json.dumps([caller.function, request.action, request.resource, sorted(request.context.items())])
            if key in seen:
                continue
            seen.add(key)
            policy = next((document for prefix, document in resource_policies.items()
                           if request.resource == prefix or request.resource.startswith(prefix + "/")), None)
            pending.append((caller.function, request, simulation(caller, request, account, policy)))
    for (function, request, simulated), answer in zip(pending, evaluate([s for _, _, s in pending]), strict=True):
        verdict.checked += 1
        what = f"{function}: {request.action} on {request.resource}"
        if answer["result"] == "Allowed":
            continue
        if answer["result"] == "Error":
            verdict.problems.append(f"{what}: the evaluator rejected the request: {json.dumps(answer['errors'])[:400]}")
        elif answer["result"] == "ExplicitlyDenied":
            deny = ", ".join(answer["decisive"]) or "a Deny statement"
            verdict.problems.append(f"{what}: explicitly denied ({deny})")
        else:
            roles = ", ".join(p["name"] for p in simulated["identityPolicies"])
            verdict.problems.append(f"{what}: not allowed by the role's policies ({roles}): "
                                    f"missing permission {request.action}")
    return verdict
