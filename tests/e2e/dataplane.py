"""The data plane of an applied environment: the deployed functions serving payments through the
deployed routing, each with its own role, against the same emulator as the apply.

What is deployed is read back from the emulator, nothing from the tests' settings: each
function's configuration (``GetFunctionConfiguration`` of each alias: handler, runtime,
environment, role, ``CodeSha256``), the zip in ``build/<env>/packages/`` with that hash, the
role's inline policies, the listener rules and target groups (``router.py``). Each alias runs in
a worker process of its own (``lambda_worker.py``) from its zip, with only the Lambda runtime's
modules besides it (boto3 and its dependencies), the deployed environment variables, the
emulator as ``AWS_ENDPOINT_URL`` (a deployed variable naming an AWS endpoint, such as the
rotation function's ``SECRETS_MANAGER_ENDPOINT``, is pointed at the emulator too, as the VPC
endpoint's private DNS would resolve it) and credentials from ``sts:AssumeRole`` of its role.

IAM in the emulator (moto 5.2, ``moto/core/authorization.py``, ``moto/iam/access_control.py``):

- A request is checked when the count of unchecked requests served so far has reached
  ``INITIAL_NO_AUTH_ACTION_COUNT`` (from the environment; default infinity: never); each
  unchecked request adds one. ``POST /moto-api/reset-auth`` with a number as the plain-text
  body sets it at run time and resets the count, so ``enforced_iam`` sends 0 for this phase
  and the previous value (``inf``) after it; terraform's apply, re-plan and destroy and the
  traffic moves' applies run without enforcement.
- Enforced, every request must be signed (SigV4 recomputed and compared) by a known IAM
  user's access key or an assumed role's temporary credentials (with its session token);
  the ``test`` keys terraform uses are refused (``InvalidClientTokenId``), so the harness
  itself uses an IAM user it creates with an allow-all policy before switching enforcement on.
- Allowed = some statement of the caller's identity policies (inline and attached) allows
  the action and none denies it; sts:GetCallerIdentity is always allowed. Actions are matched
  with wildcards; the action is the operation's name (the launcher fix
  ``iam-transaction-actions`` checks DynamoDB transactions as their items' actions, as AWS
  does). Resources are compared only where moto determines the resource: S3
  (``arn:aws:s3:::bucket/key``), IAM roles, SQS and sts:AssumeRole; for every other service
  (DynamoDB, KMS, SNS, Secrets Manager, ...) moto checks against ``"*"``, which no
  resource-scoped statement matches, so the launcher fix ``iam-unknown-resource``
  (moto_launcher.py) makes such a check action-only.
- Conditions are evaluated only for StringEquals against values moto supplies, which it does
  only for trust policies; every other condition in an identity policy counts as met. S3
  bucket policies are evaluated by S3 itself on every object request, enforced or not (see the
  launcher fix ``bucket-policy-conditions`` for what moto does with their conditions).
- Not evaluated at all: KMS key policies, resource policies other than S3's, SCPs,
  permission boundaries, session policies, and the trust policy of the roles (moto would
  compare its principal ``lambda.amazonaws.com`` with the IAM caller; Lambda assumes the role
  on AWS, so the harness assumes each role before enforcement starts).

So the emulator proves every action each function uses is in its role, and the call audit
(``iam_audit.py``) proves the rest: each recorded call's action *and resource ARN and
condition keys*, against the role's policies and the bucket and key policies, by a maintained
IAM policy evaluator. The negative control removes one action from one role and expects both
the emulator (AccessDenied) and the audit (the missing permission, by function and call) to
refuse the same flow.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tfgen.config import names as naming
from tfgen.render import templates as render

from . import iam_audit
from .emulator import TLS_MINIMUM, die_with_parent
from .router import Router, binomial_bounds, header_mappings
from .verify import Report, client

WORKER = Path(__file__).with_name("lambda_worker.py")
# What the Lambda Python runtime provides besides the standard library: boto3 and what it needs.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
HARNESS_USER = "e2e-dataplane-harness"
WEIGHTED_REQUESTS = 2000
# Test card numbers, one per flow: the fraud rules count a card's payments across users and merchants.
VISA = "4111111111111111"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
CARDS = (VISA, MASTERCARD, AMEX)
CVV = "737"


# --- callers ---------------------------------------------------------------------------------

MERCHANTS = ("m-e2e-1", "m-e2e-2")


def emulator_account(endpoint: str) -> str:
    """The account id the emulator answers for (sts:GetCallerIdentity)."""
    return str(client("sts", endpoint).get_caller_identity()["Account"])


def merchant_access(account: str) -> dict[str, list[str]]:
    """The ``lambda.merchant_access`` the run configures: one IAM role per merchant."""
    return {f"arn:aws:iam::{account}:role/e2e-{merchant}": [merchant] for merchant in MERCHANTS}


def merchant_callers(account: str) -> dict[str, dict[str, str]]:
    """Per merchant, the API context of a request signed by a session of that merchant's role."""
    return {merchant: {"$context.identity.userArn": f"arn:aws:sts::{account}:assumed-role/e2e-{merchant}/e2e"}
            for merchant in MERCHANTS}


def set_in_environment(env_file: Path, path: tuple[str, ...], value: Any) -> None:
    """Set one key of an environment file (a copy the run renders from), keeping the rest."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # no re-wrapped lines: `tfgen traffic` must still be able to edit the file in place
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(env_file.read_text()) or {}
    target = data
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    with env_file.open("w") as stream:
        yaml.dump(data, stream)


def grant_merchants(env_file: Path, access: Mapping[str, list[str]]) -> None:
    """Write ``lambda.merchant_access`` into an environment file (a copy the run renders from)."""
    set_in_environment(env_file, ("lambda", "merchant_access"),
                       {principal: list(ids) for principal, ids in access.items()})


# --- deployed artefacts ---------------------------------------------------------------------


def code_sha256(package: Path) -> str:
    """Lambda's CodeSha256 of a zip: the base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()


def package_for(packages: Path, sha256: str) -> Path | None:
    """The zip under ``packages`` whose CodeSha256 is ``sha256``."""
    return next((zip_ for zip_ in sorted(packages.glob("*.zip")) if code_sha256(zip_) == sha256), None)


def runtime_path(directory: Path) -> Path:
    """A directory holding only the Lambda runtime's modules (links into this interpreter's site-packages)."""
    import importlib.util

    directory.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = directory / source.name
        if not link.exists():
            link.symlink_to(source)
    return directory


def runtime_interpreter(runtime: str) -> tuple[str, str | None]:
    """The Python for a deployed ``runtime`` ("python3.12"): that version if this machine has it (on
    PATH, or installed by pyenv), else this interpreter, with a note saying so."""
    import glob
    import shutil

    if runtime.startswith("python3"):
        candidates = [shutil.which(runtime) or "",
                      *sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "*" / "bin" / runtime)))]
        for candidate in filter(None, candidates):
            completed = subprocess.run([candidate, "-c", "import sys; print(sys.executable)"], capture_output=True,
                                       text=True, timeout=60, check=False)  # a shim answers only if it can run it
            if completed.returncode == 0 and completed.stdout.strip():
                return completed.stdout.strip(), None
    return sys.executable, (f"no {runtime} on this machine: the functions run under Python "
                            f"{sys.version_info.major}.{sys.version_info.minor}")


def worker_environment(deployed: Mapping[str, str], endpoint: str, region: str, credentials: Mapping[str, str],
                       function: Mapping[str, Any], python_path: Path, ca_file: Path | None = None) -> dict[str, str]:
    """The environment of a function's worker: the deployed variables, the emulator, the role's credentials."""
    env = {key: (endpoint if _is_aws_endpoint(value) else value) for key, value in deployed.items()}
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"],
        "AWS_LAMBDA_FUNCTION_VERSION": function.get("Version", "$LATEST"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.get("MemorySize", 128)),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.get("Timeout", 30)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function['FunctionName']}",
        "LAMBDA_TASK_ROOT": "/var/task",
        "PYTHONPATH": str(python_path),
        "PYTHONUNBUFFERED": "1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    if ca_file is not None:
        env["AWS_CA_BUNDLE"] = str(ca_file)
    return env


def _is_aws_endpoint(value: str) -> bool:
    return value.startswith("https://") and value.rstrip("/").endswith(".amazonaws.com")


class Worker:
    """One deployed function (alias) in a process of its own; ``invoke`` is one Lambda invocation."""

    def __init__(self, name: str, package: Path, handler: str, function_arn: str, env: dict[str, str],
                 log: Path, python: str = sys.executable) -> None:
        self.name = name
        read_end, write_end = os.pipe()
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [python, "-S", str(WORKER), str(package), handler, function_arn],
            stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, pass_fds=(write_end,),
            env={**env, "E2E_ANSWER_FD": str(write_end)},
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)
        os.close(write_end)
        self._answers: IO[str] = os.fdopen(read_end, "r")
        self.log = log

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"event": event, "request_id": str(uuid.uuid4())}) + "\n").encode())
        self.process.stdin.flush()
        line = self._answers.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the worker exited ({self.process.poll()}); see {self.log}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._answers.close()
        self._log.close()


@dataclass
class Function:
    key: str
    name: str
    qualifier: str | None
    configuration: dict[str, Any]
    package: Path
    role_arn: str
    policies: dict[str, Any]
    worker: Worker | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name}:{self.qualifier}" if self.qualifier else self.name

    def caller(self) -> iam_audit.Caller:
        return iam_audit.Caller(self.label, self.role_arn, self.policies)

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        assert self.worker is not None
        answer = self.worker.invoke(event)
        self.calls += answer["calls"]
        return answer


# --- the emulator's IAM ------------------------------------------------------------------------


def set_initial_no_auth_action_count(endpoint: str, count: str) -> str:
    """Set moto_server's INITIAL_NO_AUTH_ACTION_COUNT (and reset its request count); the previous value."""
    # Not form-encoded: moto reads the raw body, which Flask empties for a form content type.
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return str(json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@contextlib.contextmanager
def enforced_iam(endpoint: str) -> Iterator[None]:
    """IAM enforced by the emulator inside the block only."""
    previous = set_initial_no_auth_action_count(endpoint, "0")
    try:
        yield
    finally:
        set_initial_no_auth_action_count(endpoint, previous)


# --- the phase --------------------------------------------------------------------------------


class DataPlane:
    """The data-plane checks of one applied environment (see the module docstring)."""

    def __init__(self, env: str, cfg: Any, endpoint: str, module: Path, logs: Path,
                 say: Callable[[str], None], tls: tuple[str, Path] | None = None,
                 callers: Mapping[str, Mapping[str, str]] | None = None,
                 database_ca: tuple[Path, Path] | None = None) -> None:
        self.env = env
        self.cfg = cfg
        self.endpoint = endpoint  # the harness's own calls
        # The functions reach the emulator over TLS when it serves it, as they reach AWS.
        self.function_endpoint, self.ca_file = tls if tls is not None else (endpoint, None)
        self.module = module
        self.logs = logs / "dataplane"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.say = say
        self.names = naming.names(env, cfg)
        self.routes = render.routes(cfg)
        self.report = Report()
        self.functions: dict[str, Function] = {}  # alias or function ARN -> function
        self.callers = dict(callers or {})  # merchant -> the API context of a caller allowed it
        # The CA the run ships as the rotation package's CA bundle (lambda.rotation.ca_bundle): it
        # signs the certificate of the database standing in for the cluster.
        self.database_ca = database_ca
        self._keys = ("test", "test")
        self.notes: list[str] = []
        self.account = ""

    def client(self, service: str) -> Any:
        return client(service, self.endpoint, self.cfg.region, *self._keys)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        failures = len(self.report.failures)
        with self.report.section(f"dataplane {name}"):
            yield
        outcome = "ok" if len(self.report.failures) == failures else "failed"
        self.say(f"  dataplane {name}: {outcome} in {time.monotonic() - start:.1f} s")

    def run(self) -> Report:
        """Every check of the phase; the workers stay up for ``routing`` until ``close``."""
        with self.step("read the deployment"):
            self._harness_user()
            self._read_functions()
            self.router = Router.read(self.client("elbv2"), self.client("apigatewayv2"), self.names["alb"],
                                      self.names["api"])
            self._alert_queue()
        with self.step("access log format"):  # read without IAM enforcement, as the router is
            self._access_log_format()
        if not self.functions:
            return self.report
        with self.step("start the functions"):
            self._start_workers()
        with enforced_iam(self.endpoint):
            with self.step("payment life cycle"):
                self.life_cycle()
            with self.step("weighted routing"):
                self.weighted_routing(self.routes)
            with self.step("secret rotation"):
                self.rotation()
            with self.step("least privilege (call audit)"):
                self.call_audit()
            with self.step("negative control"):
                self.negative_control()
        with self.step("parameters"):
            self.parameters()
        return self.report

    def routing(self, cfg: Any) -> Report:
        """After a traffic move and its apply: the listener rules read again, the split checked against
        ``cfg``'s weights (a report of its own)."""
        self.report = Report()
        with self.step("weighted routing"):
            self.router = Router.read(self.client("elbv2"), self.client("apigatewayv2"), self.names["alb"],
                                      self.names["api"])
            self.weighted_routing(render.routes(cfg))
        return self.report

    def close(self) -> None:
        for function in self.functions.values():
            if function.worker is not None:
                function.worker.stop()
                function.worker = None

    # --- set-up -----------------------------------------------------------------------------

    def _harness_user(self) -> None:
        iam = self.client("iam")
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_user(UserName=HARNESS_USER)
        iam.put_user_policy(UserName=HARNESS_USER, PolicyName="everything", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        for old in iam.list_access_keys(UserName=HARNESS_USER)["AccessKeyMetadata"]:  # a run before this one's
            iam.delete_access_key(UserName=HARNESS_USER, AccessKeyId=old["AccessKeyId"])
        key = iam.create_access_key(UserName=HARNESS_USER)["AccessKey"]
        self.account = self.client("sts").get_caller_identity()["Account"]
        self._keys = (key["AccessKeyId"], key["SecretAccessKey"])

    def _read_functions(self) -> None:
        lam, iam, sts = self.client("lambda"), self.client("iam"), self.client("sts")
        packages = self.module / "packages"
        targets: list[tuple[str, str | None]] = []
        for key in naming.FUNCTION_KEYS:
            targets += [(key, alias) for alias in ("blue", "green")]
        targets.append((naming.ROTATION_KEY, None))
        for key, qualifier in targets:
            name = self.names["functions"][key]
            request = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
            configuration = lam.get_function_configuration(**request)
            package = package_for(packages, configuration["CodeSha256"])
            if not self.report.present(package, f"{name}: no zip in {packages} has the deployed CodeSha256 "
                                                f"{configuration['CodeSha256']}"):
                continue
            role_arn = configuration["Role"]
            role_name = role_arn.rsplit("/", 1)[-1]
            policies = {policy: _document(iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"])
                        for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]}
            unqualified = ":".join(configuration["FunctionArn"].split(":")[:7])
            arn = f"{unqualified}:{qualifier}" if qualifier else unqualified  # as the ALB targets name it
            function = Function(key, name, qualifier, configuration, package, role_arn, policies)
            function.configuration["e2e_credentials"] = sts.assume_role(
                RoleArn=role_arn, RoleSessionName=f"{name}-{qualifier or 'latest'}"[:64])["Credentials"]
            self.functions[arn] = function

    def _alert_queue(self) -> None:
        sqs, sns = self.client("sqs"), self.client("sns")
        topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"]
                     if t["TopicArn"].rsplit(":", 1)[-1] == self.names["topic_failed"])
        self.queue_url = sqs.create_queue(QueueName=f"e2e-alerts-{self.env}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        queue_arn = attributes["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def _start_workers(self) -> None:
        python_path = runtime_path(self.logs / "runtime")
        for arn, function in self.functions.items():
            if function.key != naming.ROTATION_KEY:  # started by the rotation step, with its database
                function.worker = self._worker(function, arn, python_path)

    def _worker(self, function: Function, arn: str, python_path: Path, network: Mapping[str, str] | None = None
                ) -> Worker:
        config = function.configuration
        env = worker_environment(config.get("Environment", {}).get("Variables", {}), self.function_endpoint,
                                 self.cfg.region, config["e2e_credentials"], config, python_path, self.ca_file)
        if network:
            env["E2E_NETWORK_MAP"] = json.dumps(network)
        python, note = runtime_interpreter(config["Runtime"])
        if note and note not in self.notes:
            self.notes.append(note)
            self.say(f"  note: {note}")
        return Worker(function.label, function.package, config["Handler"], arn, env,
                      self.logs / f"{function.label.replace(':', '-')}.log", python)

    # --- requests -----------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None,
                caller: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
        """Send ``method path`` through the router to the chosen alias; (status, body, target group)."""
        text = "" if body is None else json.dumps(body)
        routed = self.router.route(method, path, text, headers, caller)
        if routed is None:
            return 404, {"error": "no listener rule matches"}, ""
        function = self.functions.get(routed.alias_arn)
        if function is None:
            raise AssertionError(f"{method} {path}: target group {routed.target_group} forwards to "
                                 f"{routed.alias_arn!r}, which is not a deployed alias")
        answer = function.invoke(routed.event)
        if answer["error"]:
            denied = [f"{c['service']}:{c['operation']} ({c['error']})" for c in answer["calls"] if c.get("error")]
            return 502, {"error": answer["error"], "failed_calls": denied}, routed.target_group
        result = answer["result"]
        payload = result.get("body") or "{}"
        if result.get("isBase64Encoded"):
            payload = base64.b64decode(payload).decode()
        return int(result["statusCode"]), json.loads(payload), routed.target_group

    def payment(self, merchant: str, amount: str, card: str = VISA) -> dict[str, Any]:
        body = {"merchant_id": merchant, "user_id": f"user-{secrets.token_hex(4)}", "amount": amount,
                "currency": "EUR", "reference": "e2e",
                "card": {"number": card, "expiry_month": 12, "expiry_year": time.gmtime().tm_year + 2,
                         "cvv": "7373" if card == AMEX else CVV}}
        return {"body": body, "headers": {"Idempotency-Key": str(uuid.uuid4())}}

    # --- checks -----------------------------------------------------------------------------

    def merchant(self) -> tuple[str, Mapping[str, str] | None]:
        """A merchant, and the API context of a caller allowed to act for it (None when the run
        configures no callers)."""
        if self.callers:
            merchant = sorted(self.callers)[0]
            return merchant, self.callers[merchant]
        return f"merchant-{secrets.token_hex(3)}", None

    def life_cycle(self) -> None:
        r = self.report
        merchant, caller = self.merchant()
        request = self.payment(merchant, "42.50")
        status, created, _ = self.request("POST", "/payments", request["body"], request["headers"], caller)
        if not r.equal(status, 201, f"POST /payments: status (answer {created})"):
            return
        tid = created["transaction_id"]
        status, replay, _ = self.request("POST", "/payments", request["body"], request["headers"], caller)
        r.check(status in (200, 201) and replay.get("transaction_id") == tid,
                f"POST /payments replayed with the same Idempotency-Key: expected {tid}, got {status} {replay}")
        self._other_merchant(merchant, tid)
        status, checked, _ = self.request("POST", f"/payments/{tid}/fraud-check", None, None, caller)
        r.equal((status, checked.get("status")), (200, "APPROVED"), f"fraud-check of {tid} (answer {checked})")
        status, processed, _ = self.request("POST", f"/payments/{tid}/process", None, None, caller)
        r.equal((status, processed.get("status")), (200, "PROCESSED"), f"process of {tid} (answer {processed})")
        status, again, _ = self.request("POST", f"/payments/{tid}/process", None, None, caller)
        r.check(status in (200, 409), f"process of {tid} again: expected 200 (replay) or 409, got {status} {again}")
        items = self.client("dynamodb").query(
            TableName=self.names["table"], KeyConditionExpression="transaction_id = :t",
            ExpressionAttributeValues={":t": {"S": tid}})["Items"]
        records = [i for i in items if "status" in i]
        if r.equal(len(records), 1, f"DynamoDB items of transaction {tid}"):
            item = records[0]
            r.equal(item["status"]["S"], "PROCESSED", f"DynamoDB item {tid} status")
            stored = json.dumps(item)
            r.check(not any(card in stored for card in CARDS) and "cvv" not in stored.lower(),
                    f"DynamoDB item {tid} holds card data")
            self._attributed(f"DynamoDB item {tid}", {k: v.get("S") for k, v in item.items()}, caller)
        self._audit_record(tid, caller)
        self._flagged(merchant, caller)

    def _attributed(self, what: str, record: Mapping[str, Any], caller: Mapping[str, str] | None) -> None:
        """``record`` names ``caller`` as who created, fraud-checked and processed it: the ARN the API
        passed (a role session) and the role it reduces to."""
        if caller is None:
            return
        arn = caller["$context.identity.userArn"]
        partition_account, role = arn.split(":assumed-role/")
        role_arn = partition_account.replace(":sts:", ":iam:") + ":role/" + role.split("/")[0]
        for step in ("created", "fraud_checked", "processed"):
            self.report.equal((record.get(f"{step}_by"), record.get(f"{step}_by_arn")), (role_arn, arn),
                              f"{what}: who {step.replace('_', '-')} it")

    def _access_log_format(self) -> None:
        """The deployed stage's access log names the caller with the identity the integration passes to
        the functions (PCI DSS 10.2.2)."""
        r, api = self.report, self.client("apigatewayv2")
        [api_id] = [a["ApiId"] for a in api.get_apis()["Items"] if a["Name"] == self.names["api"]]
        stages = api.get_stages(ApiId=api_id)["Items"]
        formats = [s.get("AccessLogSettings", {}).get("Format", "") for s in stages]
        if not r.check(len(formats) == 1, f"stages of {self.names['api']}: {len(formats)}"):
            return
        fields = json.loads(formats[0])
        [integration] = api.get_integrations(ApiId=api_id)["Items"]
        header = header_mappings(integration).get("x-payments-caller")
        r.equal((fields.get("callerArn"), fields.get("callerId"), fields.get("callerAccountId")),
                (header, "$context.identity.caller", "$context.identity.accountId"),
                f"access log format of {self.names['api']} names the caller")

    def _audit_record(self, tid: str, caller: Mapping[str, str] | None) -> None:
        r, s3 = self.report, self.client("s3")
        bucket = self.names["audit_bucket"]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="audit/").get("Contents", [])
                if o["Key"].endswith(f"/{tid}.json")]
        if not r.equal(len(keys), 1, f"audit records of {tid} in {bucket}"):
            return
        head = s3.head_object(Bucket=bucket, Key=keys[0])
        s3_key = self.client("kms").describe_key(KeyId=self.names["kms_aliases"]["s3"])["KeyMetadata"]["Arn"]
        r.equal(head.get("ServerSideEncryption"), "aws:kms", f"audit record {keys[0]} encryption")
        r.equal(head.get("SSEKMSKeyId"), s3_key, f"audit record {keys[0]} KMS key")
        text = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
        r.check(not any(card in text for card in CARDS) and "cvv" not in text.lower(),
                f"audit record {keys[0]} holds card data")
        self._attributed(f"audit record {keys[0]}", json.loads(text), caller)

    def _flagged(self, merchant: str, caller: Mapping[str, str] | None) -> None:
        """More payments by one user than the deployed velocity limit: the last one is flagged. (The
        amount rule cannot be used where its threshold is the largest amount validation accepts.)"""
        r = self.report
        fraud = next(f for f in self.functions.values() if f.key == "fraud_detection")
        limit = int(fraud.configuration["Environment"]["Variables"]["FRAUD_VELOCITY_MAX_TRANSACTIONS"])
        user = f"user-{secrets.token_hex(4)}"
        tid = ""
        for _ in range(limit + 1):
            request = self.payment(merchant, "12.00", AMEX)
            request["body"]["user_id"] = user
            status, created, _ = self.request("POST", "/payments", request["body"], request["headers"], caller)
            if not r.equal(status, 201, f"POST /payments by {user}: status (answer {created})"):
                return
            tid = created["transaction_id"]
        status, checked, _ = self.request("POST", f"/payments/{tid}/fraud-check", None, None, caller)
        r.equal((status, checked.get("status")), (200, "FLAGGED"),
                f"fraud-check of payment {limit + 1} of {user} within the velocity window (answer {checked})")
        messages = self.client("sqs").receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                      WaitTimeSeconds=2).get("Messages", [])
        bodies = [m["Body"] for m in messages]
        r.check(any(tid in body for body in bodies),
                f"no alert for flagged transaction {tid} on the queue subscribed to {self.names['topic_failed']} "
                f"({len(bodies)} messages)")
        r.check(not any(card in body for card in CARDS for body in bodies), "an alert holds a card number")

    def _other_merchant(self, merchant: str, tid: str) -> None:
        """The same requests by a caller allowed another merchant are refused; without a caller, too."""
        r = self.report
        others = [m for m in self.callers if m != merchant]
        if not others:
            return
        other = self.callers[others[0]]
        who = other["$context.identity.userArn"]
        request = self.payment(merchant, "5.00")
        status, answer, _ = self.request("POST", "/payments", request["body"], request["headers"], other)
        r.equal(status, 403, f"POST /payments for {merchant} as {who} (answer {answer})")
        for step in ("fraud-check", "process"):
            status, answer, _ = self.request("POST", f"/payments/{tid}/{step}", None, None, other)
            r.equal(status, 404, f"{step} of {merchant}'s {tid} as {who} (answer {answer})")
        status, answer, _ = self.request("POST", "/payments", request["body"], request["headers"], None)
        r.equal(status, 403, f"POST /payments without a caller (not through the API) (answer {answer})")

    def weighted_routing(self, routes: Mapping[str, Any]) -> None:
        r = self.report
        key = naming.FUNCTION_KEYS[0]
        route = routes[key]
        groups = self.names["target_groups"][key]
        counts = {color: 0 for color in route["weights"]}
        merchant, caller = self.merchant()
        malformed = {"merchant_id": merchant, "amount": "x"}  # refused by validation: no AWS call, nothing stored
        for _ in range(WEIGHTED_REQUESTS):
            routed = self.router.route(route["method"], "/payments", json.dumps(malformed), None, caller)
            if routed is None:
                r.check(False, f"{route['method']} /payments: no listener rule matches")
                return
            color = next((c for c, name in groups.items() if routed.target_group.split("/")[1] == name), None)
            if color is None:
                r.check(False, f"/payments routed to an unknown target group {routed.target_group}")
                return
            counts[color] += 1
            function = self.functions[routed.alias_arn]
            if function.qualifier != color:
                r.equal(function.qualifier, color, f"alias behind target group {routed.target_group}")
                return
            answer = function.invoke(routed.event)
            if answer["error"] or answer["result"]["statusCode"] != 400:
                r.check(False, f"{function.label}: malformed payment answered {answer}")
                return
        total = sum(route["weights"].values())
        for color, weight in route["weights"].items():
            low, high = binomial_bounds(WEIGHTED_REQUESTS, weight / total)
            r.check(low <= counts[color] <= high,
                    f"{key} {color}: {counts[color]} of {WEIGHTED_REQUESTS} requests, expected {low}..{high} "
                    f"for weight {weight}/{total} (binomial 99.9 %)")
        self.say(f"  weighted routing: {counts} of {WEIGHTED_REQUESTS} for weights {route['weights']}")

    def call_audit(self, functions: list[Function] | None = None) -> iam_audit.Verdict:
        chosen = functions if functions is not None else list(self.functions.values())
        resource_policies: dict[str, Any] = {}
        s3 = self.client("s3")
        bucket = self.names["audit_bucket"]
        resource_policies[f"arn:aws:s3:::{bucket}"] = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        kms = self.client("kms")
        for alias in self.names["kms_aliases"].values():  # KMS honours IAM policies only as its key policy says
            key = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
            resource_policies[key] = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
        calls = [(f.caller(), call) for f in chosen for call in f.calls if call.get("status") is not None]
        verdict = iam_audit.audit(calls, self.cfg.region, self.account, resource_policies, TLS_MINIMUM)
        if functions is None:
            self.report.failures += [f"call audit: {p}" for p in verdict.problems]
            self.report.check(verdict.checked > 0, "call audit: no AWS call was recorded")
            denied = [f"{f.label}: {c['service']}:{c['operation']}: {c['error']}" for f in chosen for c in f.calls
                      if c.get("error") and "AccessDenied" in c["error"]]
            self.report.failures += [f"emulator IAM: {d}" for d in denied]
            self.say(f"  call audit: {verdict.checked} distinct (function, action, resource) requests evaluated, "
                     f"{len(verdict.problems)} problems")
        return verdict

    def negative_control(self) -> None:
        """Remove dynamodb:UpdateItem from transaction processing's role: the flow must fail, in the
        emulator (AccessDenied) and in the audit (missing permission, naming function and call)."""
        r, iam = self.report, self.client("iam")
        processing = [f for f in self.functions.values() if f.key == "transaction_processing"]
        role = processing[0].role_arn.rsplit("/", 1)[-1]
        [(policy_name, original)] = processing[0].policies.items()
        reduced = _without_action(original, "dynamodb:UpdateItem")
        iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(reduced))
        for function in processing:
            function.policies = {policy_name: reduced}
            function.calls = []
        try:
            merchant, caller = self.merchant()
            request = self.payment(merchant, "10.00", MASTERCARD)
            status, created, _ = self.request("POST", "/payments", request["body"], request["headers"], caller)
            tid = created.get("transaction_id")
            self.request("POST", f"/payments/{tid}/fraud-check", None, None, caller)
            status, answer, _ = self.request("POST", f"/payments/{tid}/process", None, None, caller)
            r.check(status >= 500, f"negative control: process without dynamodb:UpdateItem answered {status} {answer}")
            calls = [c for f in processing for c in f.calls]
            outcomes = [(c["operation"], c["error"]) for c in calls]
            r.check(any(op == "UpdateItem" and "AccessDenied" in (error or "") for op, error in outcomes),
                    f"negative control: the emulator did not refuse UpdateItem: {outcomes}")
            verdict = self.call_audit(processing)
            wanted = "missing permission dynamodb:UpdateItem"
            r.check(any(wanted in p and "transaction-processing" in p for p in verdict.problems),
                    f"negative control: the audit did not name the missing permission: {verdict.problems}")
            self.say("  negative control: " + (verdict.problems[0] if verdict.problems else "no problem found"))
        finally:
            iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(original))
            for function in processing:
                function.policies = {policy_name: original}

    def rotation(self) -> None:
        """Secrets Manager's part played by the harness: RotateSecret (which, as on AWS, only labels a
        new version AWSPENDING; see moto_launcher's rotation-by-the-function), then the four steps
        invoked on the deployed rotation package, against a real PostgreSQL standing in for the
        cluster: the worker reaches the secret's host and port at that server (lambda_worker's
        route_addresses), whose certificate names that host and is signed by the CA the package
        ships, so the function's verify-full TLS holds as against the cluster. Afterwards
        AWSCURRENT logs in and the old password does not."""
        import ssl

        import pg8000.native

        from tests.postgres_server import PostgresUnavailable, postgres_server

        r, sm = self.report, self.client("secretsmanager")
        [(arn, function)] = [(a, f) for a, f in self.functions.items() if f.key == naming.ROTATION_KEY]
        described = sm.describe_secret(SecretId=self.names["secret"])
        secret_arn = described["ARN"]
        old = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
        with contextlib.ExitStack() as stack:
            try:
                database = stack.enter_context(postgres_server(self.database_ca, [str(old["host"])]))
            except PostgresUnavailable as exc:
                r.check(False, f"secret rotation: {exc}")
                return
            admin = database.admin()
            user = pg8000.native.identifier(old["username"])
            admin.run(f"CREATE ROLE {user} LOGIN PASSWORD {pg8000.native.literal(old['password'])}")
            admin.run(f"CREATE DATABASE {pg8000.native.identifier(old.get('dbname', 'postgres'))} OWNER {user}")
            admin.close()
            network = {f"{old['host']}:{old.get('port', 5432)}": f"{database.host}:{database.port}"}
            function.worker = self._worker(function, arn, runtime_path(self.logs / "runtime"), network)
            token = str(uuid.uuid4())
            # The configured function, named again: moto forgets it when RotateSecret omits it (AWS keeps it).
            sm.rotate_secret(SecretId=secret_arn, ClientRequestToken=token,
                             RotationLambdaARN=described["RotationLambdaARN"])
            for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                answer = function.invoke({"SecretId": secret_arn, "ClientRequestToken": token, "Step": step})
                calls = [(c["operation"], c["error"]) for c in answer["calls"]]
                if not r.check(answer["error"] is None, f"rotation {step} by {function.label}: {answer['error']}; "
                                                         f"calls {calls}"):
                    return
            described = sm.describe_secret(SecretId=secret_arn)["VersionIdsToStages"]
            r.check("AWSCURRENT" in described.get(token, []), f"after rotation, version {token} is not AWSCURRENT: "
                                                               f"{described}")
            new = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
            r.check(new["password"] != old["password"], "rotation left the password unchanged")

            def logs_in(password: str) -> bool:
                try:
                    pg8000.native.Connection(user=old["username"], password=password, host=database.host,
                                             port=database.port, database=old.get("dbname", "postgres"),
                                             ssl_context=ssl.create_default_context(cafile=str(database.ca_file)),
                                             timeout=10).close()
                except pg8000.native.DatabaseError:
                    return False
                return True

            r.check(logs_in(new["password"]), "after rotation, the AWSCURRENT password does not log in")
            r.check(not logs_in(old["password"]), "after rotation, the old password still logs in")

    def parameters(self) -> None:
        r, ssm = self.report, self.client("ssm")
        values = {key: ssm.get_parameter(Name=name)["Parameter"]["Value"]
                  for key, name in self.names["parameters"].items()}
        for function in self.functions.values():
            variables = function.configuration.get("Environment", {}).get("Variables", {})
            if "TRANSACTIONS_TABLE" in variables:
                r.equal(variables["TRANSACTIONS_TABLE"], values.get("table-name"),
                        f"{function.label} TRANSACTIONS_TABLE and the table-name parameter")


def _document(value: Any) -> Any:
    if isinstance(value, str):
        from urllib.parse import unquote

        return json.loads(unquote(value))
    return value


def _without_action(document: Mapping[str, Any], action: str) -> dict[str, Any]:
    """A copy of a policy document without ``action`` in any statement."""
    statements = []
    for statement in document["Statement"]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        if action in actions:
            actions.remove(action)
            if not actions:
                continue
            statement = {**statement, "Action": actions}
        statements.append(statement)
    return {**document, "Statement": statements}
