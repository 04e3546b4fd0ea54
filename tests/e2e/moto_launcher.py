"""Run ``moto_server`` with fixes for emulator bugs that real AWS does not have.

Started by ``tests/e2e/emulator.py`` as ``python moto_launcher.py -H HOST -p PORT``;
the arguments are moto_server's own. Each fix below corrects moto to behave as
AWS documents, so that Terraform that is right for AWS also applies and tears
down here; none of them teaches the templates anything about the emulator.
A fix whose moto internals are missing is skipped with a note on stderr (the
e2e test then fails where the bug shows, naming it, instead of here).

Fixes:

lambda-alias-policies
    AWS keeps a separate resource-based policy per function, version and alias
    (AddPermission/GetPolicy/RemovePermission with ``Qualifier``). moto 5.x keeps
    one policy object per function: versions are shallow copies sharing it, an
    alias resolves to its version, and RemovePermission ignores ``Qualifier``.
    The blue and green aliases each get ``AllowExecutionFromALB`` (legal on AWS:
    different policies), so under moto the two statements collide: every plan
    wants to replace one permission, and ``terraform destroy`` deletes one
    statement, then waits five minutes for the other (same Sid) to disappear and
    fails with "waiting for Lambda Permission ... delete: found resource".
    The fix keeps an alias-qualified permission on the alias, as AWS does.

one-request-per-connection
    moto_server runs werkzeug's development server, which turns on HTTP/1.1
    keep-alive when it serves from threads. When it drops an idle kept-alive
    connection just as the provider reuses it, the AWS SDK resends the request,
    including ones the server already carried out: CI runs saw CreateFunction
    answered 201 then refused with "Function already exist", and DeleteListener
    refused with ListenerNotFound. Serving HTTP/1.0 (one request per
    connection), as werkzeug allows, leaves no idle connection to race on.

s3-lifecycle-minimum-object-size
    PutBucketLifecycleConfiguration takes TransitionDefaultMinimumObjectSize
    (header x-amz-transition-default-minimum-object-size) and
    GetBucketLifecycleConfiguration returns what was set. moto ignores the
    header and always answers all_storage_classes_128K, so the provider, which
    waits after creating a lifecycle configuration until it reads back what it
    wrote, times out on varies_by_storage_class. The fix keeps the value per
    bucket and answers it.

log-resent-requests
    Not a fix: a request the AWS SDK sends again (its ``amz-sdk-request``
    header counts attempts) is logged as such, so an apply error caused by a
    resent request shows in moto_server.log for what it is.

answer-resent-requests
    Even one request per connection, the provider now and then does not
    receive a response the server sent (moto logged 200; the SDK logged no
    response and sent attempt 2). The resend of a call that is not idempotent
    then fails against the state the first attempt already changed: a CI run
    saw RevokeSecurityGroupEgress refused with InvalidPermission.NotFound. On
    AWS a response is not lost on the way. The fix answers a resend (same
    ``amz-sdk-invocation-id``, attempt 2 or later) with the response the first
    attempt produced, waiting for it if it is still running, instead of
    carrying the call out twice. Server errors (5xx) are not kept: their
    resend runs again, as on AWS.

tls-listener
    Not a fix: AWS is reached over TLS, and a bucket policy may refuse anything else
    (``aws:SecureTransport``). When E2E_TLS_PORT, E2E_TLS_CERT and E2E_TLS_KEY are set
    (emulator.py sets them), the same application (same backends) is also served over TLS
    on that port, refusing TLS versions below E2E_TLS_MINIMUM; terraform keeps the plain
    HTTP port, the data-plane functions use the TLS one (trusting the certificate through
    AWS_CA_BUNDLE). moto_server's own ``-c CERT -k KEY`` would serve TLS only.

iam-unknown-resource
    With IAM enforcement on (the data-plane phase, see dataplane.py), moto compares each
    statement's Resource with the resource of the request, but it determines that resource
    only for S3, IAM roles, SQS and sts:AssumeRole; for every other service it passes "*",
    which no resource-scoped statement matches (``arn:...:table/x`` against ``*``), so every
    least-privilege policy would be refused everything. AWS evaluates the real resource. The
    fix makes a statement's Resource match when moto does not know the resource: the emulator
    then checks actions, and the data-plane call audit (iam_audit.py) checks the resource ARNs.

iam-transaction-actions
    moto authorises each request as the action named like its operation. AWS does so too,
    except for DynamoDB's transactions: TransactWriteItems is authorised as one PutItem,
    UpdateItem, DeleteItem or ConditionCheckItem per item, TransactGetItems as GetItem, and
    there is no IAM action "dynamodb:TransactWriteItems" to grant. The fix checks a
    transaction as those actions.

rotation-by-the-function
    AWS's RotateSecret labels a new version AWSPENDING (without a value) and invokes the
    rotation function, whose four steps create the value, set it in the database, test it
    and move AWSCURRENT. moto's RotateSecret runs the function in its own Lambda emulation
    (Docker, absent here), ignores the outcome and moves AWSCURRENT to the new version itself,
    which then has no value. The fix keeps RotateSecret to what AWS does before the function
    runs: the pending version is created, nothing is invoked and AWSCURRENT stays; the
    data-plane phase then runs the four steps with the deployed rotation package.

bucket-policy-conditions
    moto's S3 applies a bucket policy on every object request, but evaluates conditions only
    as StringEquals against values it supplies, and it supplies none for a bucket policy: a
    Deny statement's condition always counts as met. The audit bucket's TLS-only statements
    (Deny when ``aws:SecureTransport`` is false or ``s3:TlsVersion`` is below the minimum) thus
    refuse every request, over TLS or not. AWS applies them only when the condition holds.
    The fix leaves out of moto's evaluation the statements with a Condition; the data-plane
    call audit evaluates the whole bucket policy, conditions included, with the transport each
    call really used.

cloudwatch-percentiles
    GetMetricData and GetMetricStatistics answer a percentile statistic (``p99``, ``p99.9``)
    with the given percentile of the values put in each period. moto computes only Sum,
    Average, Minimum, Maximum and SampleCount, and answers a percentile with null values, so a
    release step could never judge ``TargetResponseTime`` p99 (tfgen.deploy.metrics). The fix
    computes it from the raw values (nearest rank); a period that holds a statistic set
    (StatisticValues) has no percentile, as on AWS, and is left out of the answer (moto would
    fail writing a null value: an error 500).
"""

from __future__ import annotations

import sys
from typing import Any


def _patch_lambda_alias_policies() -> None:
    from moto.awslambda import models, responses
    from moto.awslambda.policy import Policy

    backend_cls = models.LambdaBackend
    response_cls = responses.LambdaResponse
    for owner, attribute in ((backend_cls, "add_permission"), (backend_cls, "get_policy"),
                             (backend_cls, "remove_permission"), (backend_cls, "get_alias"),
                             (backend_cls, "get_function"), (response_cls, "remove_permission")):
        if not callable(getattr(owner, attribute, None)):
            raise AttributeError(f"{owner.__name__}.{attribute}")

    def alias_policy(backend: Any, function_name: str, qualifier: str | None) -> Any | None:
        """The policy of alias ``qualifier`` of ``function_name``; None for no qualifier, $LATEST or a version."""
        if function_name.count(":") == 1:  # "name:qualifier"
            function_name, qualifier = function_name.split(":")
        if not qualifier or qualifier == "$LATEST" or qualifier.isdigit():
            return None
        alias = backend.get_alias(qualifier, function_name)  # raises ResourceNotFound like AWS
        policy = getattr(alias, "e2e_policy", None)
        if policy is None:
            # The unqualified function as parent: statements name "<function ARN>:<alias>".
            policy = Policy(backend.get_function(function_name))
            alias.e2e_policy = policy
        return policy

    original_add = backend_cls.add_permission
    original_get = backend_cls.get_policy
    original_remove = backend_cls.remove_permission

    def add_permission(self: Any, function_name: str, qualifier: str, raw: str) -> Any:
        policy = alias_policy(self, function_name, qualifier)
        if policy is None:
            return original_add(self, function_name, qualifier, raw)
        statement, _ = policy.add_statement(raw, qualifier)
        return statement

    def get_policy(self: Any, function_name: str, qualifier: str | None = None) -> str:
        policy = alias_policy(self, function_name, qualifier)
        if policy is None:
            return original_get(self, function_name, qualifier)
        return str(policy.wire_format())

    def remove_permission(self: Any, function_name: str, sid: str, revision: str = "",
                          qualifier: str | None = None) -> None:
        policy = alias_policy(self, function_name, qualifier)
        if policy is None:
            original_remove(self, function_name, sid, revision)
        else:
            policy.del_statement(sid, revision)

    original_response_remove = response_cls.remove_permission

    def response_remove_permission(self: Any) -> Any:
        qualifier = self.querystring.get("Qualifier", [None])[0]
        if not qualifier:
            return original_response_remove(self)
        from urllib.parse import unquote

        function_name = unquote(self.path.split("/")[-3])
        statement_id = self.path.split("/")[-1].split("?")[0]
        revision = self.querystring.get("RevisionId", [""])[0]
        self.backend.remove_permission(function_name, statement_id, revision, qualifier)
        return 204, {"status": 204}, "{}"

    setattr(backend_cls, "add_permission", add_permission)  # noqa: B010 - a deliberate monkeypatch
    setattr(backend_cls, "get_policy", get_policy)  # noqa: B010
    setattr(backend_cls, "remove_permission", remove_permission)  # noqa: B010
    setattr(response_cls, "remove_permission", response_remove_permission)  # noqa: B010


def _one_request_per_connection() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    # werkzeug enables HTTP/1.1 for threaded serving only when the handler class moto_server
    # passes to run_simple does not set protocol_version itself.
    MotoRequestHandler.protocol_version = "HTTP/1.0"


def _s3_lifecycle_minimum_object_size() -> None:
    from moto.s3.responses import S3Response

    header = "x-amz-transition-default-minimum-object-size"
    kept: dict[str, str] = {}  # bucket name -> the value last put
    put, get = S3Response._bucket_response_put, S3Response.get_bucket_lifecycle

    def bucket_response_put(self: Any, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        result = put(self, request, bucket_name, querystring)
        if "lifecycle" in querystring:
            kept[bucket_name] = request.headers.get(header) or "all_storage_classes_128K"
        return result

    def get_bucket_lifecycle(self: Any) -> Any:
        status, headers, body = get(self)
        if self.bucket_name in kept:
            headers = {**headers, header: kept[self.bucket_name]}
        return status, headers, body

    setattr(S3Response, "_bucket_response_put", bucket_response_put)  # noqa: B010 - a deliberate monkeypatch
    setattr(S3Response, "get_bucket_lifecycle", get_bucket_lifecycle)  # noqa: B010 - a deliberate monkeypatch


def _log_resent_requests() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    logged = MotoRequestHandler.log_request

    def log_request(self: Any, code: int | str = "-", size: int | str = "-") -> None:
        # The AWS SDKs number each attempt of one operation (amz-sdk-request: attempt=N; max=M).
        attempt = self.headers.get("amz-sdk-request", "")
        if attempt and not attempt.startswith("attempt=1;"):
            self.log("info", 'resent by the SDK: "%s" %s (invocation %s)', self.requestline, attempt,
                     self.headers.get("amz-sdk-invocation-id", "?"))
        logged(self, code, size)

    setattr(MotoRequestHandler, "log_request", log_request)  # noqa: B010 - a deliberate monkeypatch


class _AnswerResends:
    """WSGI middleware: the response to each SDK invocation kept, for a resend of it."""

    KEEP = 4096

    def __init__(self, app: Any) -> None:
        import threading
        from collections import OrderedDict

        self.app = app
        self.lock = threading.Lock()
        self.running: dict[str, Any] = {}  # invocation id -> threading.Event set when answered
        self.answers: OrderedDict[str, tuple[str, list[tuple[str, str]], bytes]] = OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        import threading

        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        if not invocation:
            return self.app(environ, start_response)
        resent = not environ.get("HTTP_AMZ_SDK_REQUEST", "attempt=1;").startswith("attempt=1;")
        with self.lock:
            answer = self.answers.get(invocation)
            first = self.running.get(invocation)
            if answer is None and first is None:
                self.running[invocation] = threading.Event()
        if resent and answer is None and first is not None:
            first.wait(timeout=300)  # the first attempt is still being carried out
            with self.lock:
                answer = self.answers.get(invocation)
        if resent and answer is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length:  # read the request as the first attempt did, no further: the client waits
                environ["wsgi.input"].read(length)
            print(f"moto_launcher: resent invocation {invocation} answered with its first response",
                  file=sys.stderr, flush=True)
            status, headers, body = answer
            start_response(status, headers)
            return [body]
        if answer is not None or first is not None:  # not a resend, or one whose first attempt failed
            return self.app(environ, start_response)
        return self._first(invocation, environ, start_response)

    def _first(self, invocation: str, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen: list[Any] = []

        def keep_status(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, list(headers)]
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, keep_status)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if seen and not seen[0].startswith("5"):
                with self.lock:
                    self.answers[invocation] = (seen[0], seen[1], body)
                    while len(self.answers) > self.KEEP:
                        self.answers.popitem(last=False)
            return [body]
        finally:
            with self.lock:
                done = self.running.pop(invocation)
            done.set()


def _answer_resent_requests() -> None:
    import moto.server
    from werkzeug.serving import run_simple as serve

    def run_simple(hostname: str, port: int, application: Any, *args: Any, **kwargs: Any) -> None:
        serve(hostname, port, _AnswerResends(application), *args, **kwargs)

    setattr(moto.server, "run_simple", run_simple)  # noqa: B010 - a deliberate monkeypatch


def _tls_listener() -> None:
    import os

    if not os.environ.get("E2E_TLS_PORT"):
        return
    import ssl
    import threading

    import moto.server
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    port, cert, key = int(os.environ["E2E_TLS_PORT"]), os.environ["E2E_TLS_CERT"], os.environ["E2E_TLS_KEY"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[
        os.environ.get("E2E_TLS_MINIMUM", "1.2")]
    context.load_cert_chain(cert, key)
    serve = moto.server.run_simple

    def run_simple(hostname: str, plain_port: int, application: Any, *args: Any, **kwargs: Any) -> None:
        server = make_server(hostname, port, application, threaded=True, request_handler=MotoRequestHandler,
                             ssl_context=context)
        threading.Thread(target=server.serve_forever, name="tls-listener", daemon=True).start()
        serve(hostname, plain_port, application, *args, **kwargs)

    setattr(moto.server, "run_simple", run_simple)  # noqa: B010


def _iam_unknown_resource() -> None:
    from moto.iam.access_control import IAMPolicyStatement

    matches = IAMPolicyStatement._check_element_matches

    def check_element_matches(self: Any, statement_element: Any, value: str) -> bool:
        if statement_element == "Resource" and value == "*":  # moto did not determine the resource
            return True
        return bool(matches(self, statement_element, value))

    setattr(IAMPolicyStatement, "_check_element_matches", check_element_matches)  # noqa: B010


_TRANSACTION_ITEM_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
                             "Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem",
                             "Get": "dynamodb:GetItem"}


def _iam_transaction_actions() -> None:
    import json

    from moto.iam.access_control import IAMRequestBase

    check = IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        if self._action not in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
            return check(self, resource)
        body = self._body.decode() if isinstance(self._body, bytes) else (self._body or "{}")
        items = json.loads(body or "{}").get("TransactItems", [])
        transaction = self._action
        try:
            for action in sorted({_TRANSACTION_ITEM_ACTIONS[kind] for item in items for kind in item}):
                self._action = action  # also what an AccessDenied message names
                check(self, resource)
        finally:
            self._action = transaction
        return None

    setattr(IAMRequestBase, "check_action_permitted", check_action_permitted)  # noqa: B010


def _rotation_by_the_function() -> None:
    import threading

    import moto.awslambda.utils as lambda_utils
    from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend

    for owner, attribute in ((lambda_utils, "get_backend"), (FakeSecret, "set_default_version_id"),
                             (SecretsManagerBackend, "rotate_secret")):
        if not callable(getattr(owner, attribute, None)):
            raise AttributeError(f"{getattr(owner, '__name__', owner)}.{attribute}")
    rotate = SecretsManagerBackend.rotate_secret
    lock = threading.Lock()

    class NotInvoked:
        def __init__(self, backend: Any) -> None:
            self.backend = backend

        def get_function(self, *args: Any, **kwargs: Any) -> Any:  # RotateSecret checks the function exists
            return self.backend.get_function(*args, **kwargs)

        def invoke(self, *args: Any, **kwargs: Any) -> None:
            return None

    def rotate_secret(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            get_backend, set_default = lambda_utils.get_backend, FakeSecret.set_default_version_id
            lambda_utils.get_backend = lambda *a, **k: NotInvoked(get_backend(*a, **k))
            FakeSecret.set_default_version_id = lambda secret, version_id: None  # type: ignore[method-assign]
            try:
                return rotate(self, *args, **kwargs)
            finally:
                lambda_utils.get_backend = get_backend
                FakeSecret.set_default_version_id = set_default  # type: ignore[method-assign]

    setattr(SecretsManagerBackend, "rotate_secret", rotate_secret)  # noqa: B010


def _bucket_policy_conditions() -> None:
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    if not callable(getattr(FakeBucket, "get_permission", None)):
        raise AttributeError("FakeBucket.get_permission")

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        unconditional = [statement for statement in statements if "Condition" not in statement]
        return IAMPolicy(json.dumps({**document, "Statement": unconditional})).is_action_permitted(action, resource)

    setattr(FakeBucket, "get_permission", get_permission)  # noqa: B010


_PERCENTILE = __import__("re").compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


def percentile(values: list[float], stat: str) -> float | None:
    """The ``stat`` percentile (``p99``) of ``values`` by nearest rank; None when there are none."""
    import math

    match = _PERCENTILE.match(stat)
    if match is None or not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(float(match[1]) / 100 * len(ordered)))
    return ordered[rank - 1]


def _cloudwatch_percentiles() -> None:
    from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, Statistics

    computed = Statistics.get_statistics_for_type

    def get_statistics_for_type(self: Any, stat: str) -> Any:
        if not _PERCENTILE.match(stat):
            return computed(self, stat)
        if any(isinstance(datum, MetricAggregatedDatum) for datum in self.metric_data or ()):
            return None
        return percentile(list(self.metric_single_values_list), stat)

    get_metric_data = CloudWatchBackend.get_metric_data

    def metric_data(self: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """A period with no value of the statistic is left out (moto would fail to write it)."""
        results = get_metric_data(self, *args, **kwargs)
        for result in results:
            kept = [(v, t) for v, t in zip(result["values"], result["timestamps"], strict=True) if v is not None]
            result["values"], result["timestamps"] = [v for v, _ in kept], [t for _, t in kept]
        return results

    setattr(Statistics, "get_statistics_for_type", get_statistics_for_type)  # noqa: B010
    setattr(CloudWatchBackend, "get_metric_data", metric_data)  # noqa: B010


FIXES = {"lambda-alias-policies": _patch_lambda_alias_policies,
         "one-request-per-connection": _one_request_per_connection,
         "s3-lifecycle-minimum-object-size": _s3_lifecycle_minimum_object_size,
         "log-resent-requests": _log_resent_requests,
         "answer-resent-requests": _answer_resent_requests,
         "tls-listener": _tls_listener,
         "iam-unknown-resource": _iam_unknown_resource,
         "iam-transaction-actions": _iam_transaction_actions,
         "rotation-by-the-function": _rotation_by_the_function,
         "bucket-policy-conditions": _bucket_policy_conditions,
         "cloudwatch-percentiles": _cloudwatch_percentiles}


def main(argv: list[str]) -> None:
    for name, apply in FIXES.items():
        try:
            apply()
        except (ImportError, AttributeError) as exc:
            print(f"moto_launcher: fix {name} not applied (moto internals changed: {exc})",
                  file=sys.stderr, flush=True)
        else:
            print(f"moto_launcher: fix {name} applied", file=sys.stderr, flush=True)
    from moto.server import main as serve

    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
