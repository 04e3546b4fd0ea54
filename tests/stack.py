"""Shared helpers for the tests of the rendered stack.

Each environment is rendered once per test session (packages built from
lambdas/, read from the package cache after the first build) and each file is
parsed with python-hcl2 once. ``extra`` is a YAML layer merged on top of the
environment file, the way ``--set`` is, for tests of settings no shipped
environment uses.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from tests.conftest import ROOT
from tfgen.config import environment, layers
from tfgen.config.names import ROTATION_KEY
from tfgen.render import templates as render
from tfgen.render.lint import parse

ENV_DIR = ROOT / "environments"
TEMPLATES = ROOT / "templates"
LAMBDAS = ROOT / "lambdas"

# An HTTPS listener instead of the plain HTTP one (CERTIFICATE), with the skips that
# only the HTTP listener needs cancelled, as the configuration check requires.
CERTIFICATE_ARN = "alb:\n  certificate_arn: arn:aws:acm:us-east-1:111122223333:certificate/abc\n"
SERVER_NAME = "  tls_server_name: payments.internal.example.com\n"
CANCEL_HTTP_SKIPS = ("compliance:\n  skips:\n    aws_lb.this: {CKV2_AWS_20: null}\n    aws_lb_listener.http: null\n"
                     "    aws_vpc_security_group_ingress_rule.alb_from_vpc_link: null\n")
CERTIFICATE = CERTIFICATE_ARN + SERVER_NAME + CANCEL_HTTP_SKIPS


@cache
def loaded(env: str, extra: str = "") -> environment.Loaded:
    if not extra:
        return environment.load(ENV_DIR, env)
    env_file = ENV_DIR / f"{env}.yaml"
    stack = [layers.read_layer(ENV_DIR / layers.DEFAULTS_FILE), layers.read_layer(env_file),
             layers.parse_yaml(extra, "<test>")]
    config = layers.merge(env, stack, str(env_file))
    return environment.Loaded(config=config, model=environment.validate(config))


@cache
def rendered(env: str, extra: str = "") -> render.Rendered:
    return render.render(loaded(env, extra), TEMPLATES, LAMBDAS)


@cache
def hcl(env: str, file: str, extra: str = "") -> dict[str, Any]:
    return parse(text(env, file, extra))


def text(env: str, file: str, extra: str = "") -> str:
    return rendered(env, extra).files[file].decode()


def tf_files(env: str, extra: str = "") -> list[str]:
    return sorted(path for path in rendered(env, extra).files if path.endswith(".tf"))


def blocks(env: str, file: str, kind: str, extra: str = "") -> dict[str, dict[str, Any]]:
    """Every ``resource``/``data``/``ephemeral`` block of a file, keyed ``type.name``."""
    found: dict[str, dict[str, Any]] = {}
    for block in hcl(env, file, extra).get(kind, []):
        for rtype, instances in block.items():
            for name, body in instances.items():
                found[f"{rtype}.{name}"] = body
    return found


def all_blocks(env: str, kind: str, extra: str = "") -> dict[str, dict[str, Any]]:
    """Every block of one kind across all rendered files."""
    found: dict[str, dict[str, Any]] = {}
    for file in tf_files(env, extra):
        found.update(blocks(env, file, kind, extra))
    return found


def resource(env: str, file: str, rtype: str, name: str, extra: str = "") -> dict[str, Any]:
    found = blocks(env, file, "resource", extra)
    assert f"{rtype}.{name}" in found, f"{env}: {file} has no resource {rtype}.{name}"
    return found[f"{rtype}.{name}"]


def data(env: str, file: str, dtype: str, name: str, extra: str = "") -> dict[str, Any]:
    found = blocks(env, file, "data", extra)
    assert f"{dtype}.{name}" in found, f"{env}: {file} has no data {dtype}.{name}"
    return found[f"{dtype}.{name}"]


def local(env: str, file: str, name: str, extra: str = "") -> Any:
    for block in hcl(env, file, extra).get("locals", []):
        if name in block:
            return block[name]
    raise AssertionError(f"{env}: {file} has no local {name}")


def resources_of(env: str, rtype: str, extra: str = "") -> dict[str, dict[str, Any]]:
    """Every resource of one type across all files, keyed by its name."""
    prefix = f"{rtype}."
    return {key[len(prefix):]: body for key, body in all_blocks(env, "resource", extra).items()
            if key.startswith(prefix)}


def ref(expression: str) -> str:
    """How python-hcl2 renders an HCL expression: ``${...}``."""
    return "${" + expression + "}"


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The static ``statement`` blocks of an ``aws_iam_policy_document``."""
    return list(document.get("statement", []))


# --- lambdas/README.md: the contract between the handlers and the templates ------------------

README = ROOT / "lambdas" / "README.md"
_ACTION = re.compile(r"`([a-z0-9-]+:[A-Za-z*]+)`")
_VARIABLE = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(yes|no)\s*\|")


def _section(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end != -1 else len(text)]


def _subsections(section: str) -> tuple[str, dict[str, str]]:
    """The text before the first ``###``, and each ``### function-name`` body keyed by function key."""
    head, *parts = section.split("\n### ")
    bodies = {}
    for part in parts:
        title, _, body = part.partition("\n")
        bodies[title.strip().replace("-", "_")] = body
    return head, bodies


def _table_actions(text: str) -> set[str]:
    """The IAM actions in the first column of every table row of ``text``."""
    return {action for line in text.splitlines() if line.startswith("|")
            for action in _ACTION.findall(line.split("|")[1])}


def readme_actions() -> dict[str, set[str]]:
    """Per function key, every IAM action lambdas/README.md grants its role."""
    head, bodies = _subsections(_section("IAM, per function role"))
    every, _, payment = head.partition("The three payment functions")
    common, for_payment = _table_actions(every), _table_actions(payment)
    return {key: _table_actions(body) | common | (for_payment if key != ROTATION_KEY else set())
            for key, body in bodies.items()}


def readme_variables() -> dict[str, dict[str, bool]]:
    """Per function key, each environment variable lambdas/README.md documents and whether it is required."""
    _, bodies = _subsections(_section("Environment variables"))
    return {key: {m.group(1): m.group(2) == "yes" for line in body.splitlines()
                  for m in [_VARIABLE.match(line)] if m}
            for key, body in bodies.items()}
