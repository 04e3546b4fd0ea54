"""End-to-end: a rendered environment applies, converges and tears down against moto_server.

``make e2e`` (``pytest -m e2e``) runs it; plain ``make test`` runs it too.

- ``emulator.py``: start and stop ``moto_server`` on a free loopback port.
- ``moto_launcher.py``: moto_server with fixes for emulator bugs real AWS lacks.
- ``allowlist.py``: the plan drift that is a known emulator artefact, and the check.
- ``provider.py``: the ``--set`` overrides that point the provider at the emulator, and the
  check that every API the module calls has an emulator endpoint.
- ``verify.py``: what boto3 must find in the emulator after apply.
- ``harness.py``: terraform's environment, timed phases running terraform, progress lines.
- ``dataplane.py``: the deployed functions serving payments through the deployed routing, each
  with its own role, IAM enforced by the emulator; ``lambda_worker.py`` runs one function from
  its zip, ``router.py`` stands in for the API and ALB, ``iam_audit.py`` checks every AWS call
  against the deployed policies (``iam_simulate.mjs``, ``package.json``).
- ``test_apply.py``: render -> init -> apply -> verify -> data plane -> traffic shift/rollback
  -> re-plan -> destroy -> empty state.
- ``test_day2.py``: day-2 changes through ``tfgen plan`` and ``tfgen apply``, each reviewed, and
  the changes apply must refuse with the emulator left as it was; then ``tfgen drift`` on
  changes made behind terraform's back.
- ``test_adopt.py``: a foreign CDK for Terraform stack (tests/fixtures/adopt/cdk.tf.json) applied
  with plain terraform, data written into it, then ``tfgen adopt``, plan and apply keep the data.
- ``test_harness.py``, ``test_dataplane.py``: the harness's own parts, without terraform.
"""
