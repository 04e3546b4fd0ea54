"""The deployed copy of the project on an emulator, and the commands that act on it: what the
end-to-end modules that share one deployed stack across their scenarios have in common."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tfgen.cli import main as cli
from tfgen.config.names import FUNCTION_KEYS, dashed
from tfgen.deploy import terraform
from tfgen.render import templates as render

from .harness import Run, emulated, terraform_environment
from .provider import overrides
from .router import Rule, rule_of
from .verify import client

ENV = "dev"


@dataclass
class Stack:
    """The deployed copy of the project, the emulator and the commands that act on them."""

    root: Path
    endpoint: str
    sets: list[str]
    say: Callable[[str], None]
    durations: dict[str, float] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.root / "build"

    def tfgen(self, *args: str, expect: int | None = 0) -> tuple[int, str, str]:
        """Run tfgen in-process on the copy; returns (exit code, stdout, stderr)."""
        argv = ["--environments", str(self.root / "environments"), "--templates", str(self.root / "templates"),
                "--lambdas", str(self.root / "lambdas"), *args]
        # A command in a process of its own reads templates and builds packages afresh.
        render.jinja_env.cache_clear()
        render._packages.cache_clear()
        with CliRunner().isolation() as (out, err, _):
            code = cli.main(argv)
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        if expect is not None:
            assert code == expect, f"tfgen {' '.join(args)} exited with {code}, not {expect}:\n{stderr}{stdout[-3000:]}"
        return code, stdout, stderr

    def with_sets(self, extra: tuple[str, ...] = ()) -> list[str]:
        return [arg for setting in (*self.sets, *extra) for arg in ("--set", setting)]

    def render(self, env: str = ENV, *extra: str) -> None:
        self.tfgen("render", env, "--out", str(self.out), *self.with_sets(extra))

    def plan(self, env: str = ENV, *extra: str, refresh: bool = False,
             terraform_args: tuple[str, ...] = ()) -> dict[str, Any]:
        """`tfgen plan --format json` of ``env``: its one review."""
        start = time.monotonic()
        _, stdout, _ = self.tfgen("plan", env, "--out", str(self.out), "--format", "json", *self.with_sets(extra),
                                  "--", *([] if refresh else ["-refresh=false"]), *terraform_args)
        self.durations[f"plan {env}"] = self.durations.get(f"plan {env}", 0) + time.monotonic() - start
        [review] = json.loads(stdout)["plans"]
        assert isinstance(review, dict)
        return review

    def apply(self, *options: str, env: str = ENV, extra: tuple[str, ...] = (), expect: int = 0) -> str:
        start = time.monotonic()
        _, _, stderr = self.tfgen("apply", env, "--out", str(self.out), *options, *self.with_sets(extra),
                                  "--", "-no-color", expect=expect)
        self.durations[f"apply {env}"] = self.durations.get(f"apply {env}", 0) + time.monotonic() - start
        return stderr

    def refused(self, *options: str, extra: tuple[str, ...] = ()) -> str:
        """`tfgen apply` of the saved plan, which must refuse: a non-zero exit and "refused" said.
        Returns what it printed."""
        start = time.monotonic()
        code, stdout, stderr = self.tfgen("apply", ENV, "--out", str(self.out), *options, *self.with_sets(extra),
                                          "--", "-no-color", expect=None)
        self.durations["refused apply"] = self.durations.get("refused apply", 0) + time.monotonic() - start
        said = stderr + stdout
        assert code != 0 and "refused" in said.lower(), f"tfgen apply exited with {code}, not refused:\n{said[-3000:]}"
        return said

    def terraform(self, *args: str) -> None:
        """Run the terraform binary itself in the rendered module (logs/<subcommand>.log); it must succeed."""
        with terraform.environment() as base:
            run = Run(self.out / ENV, self.root / "logs", terraform_environment(base), self.say)
            run.require(args[0], run.terraform(*args))

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint)
        return self._clients[service]

    def aliases(self, function: str) -> dict[str, str]:
        answer = self.client("lambda").list_aliases(FunctionName=function)
        return {alias["Name"]: alias["FunctionVersion"] for alias in answer["Aliases"]}

    def live(self) -> tuple[dict[str, dict[str, str]], list[Rule]]:
        """What serves requests: each payment function's aliases (name -> version), and the
        listener's forwarding rules with their target groups' weights."""
        aliases = {key: self.aliases(f"{dashed(key)}-{ENV}") for key in FUNCTION_KEYS}
        described = self.client("elbv2").describe_rules(ListenerArn=listener_arn(self))["Rules"]
        return aliases, sorted((rule for rule in map(rule_of, described) if rule is not None),
                               key=lambda rule: rule.priority)

    def versions(self, function: str) -> list[str]:
        """The versions of ``function`` published so far."""
        answer = self.client("lambda").list_versions_by_function(FunctionName=function)["Versions"]
        return sorted((v["Version"] for v in answer if v["Version"] != "$LATEST"), key=int)

    def cluster(self) -> dict[str, Any]:
        [cluster] = self.client("rds").describe_db_clusters(DBClusterIdentifier=f"aurora-cluster-{ENV}")["DBClusters"]
        assert isinstance(cluster, dict)
        return cluster


def listener_arn(stack: Stack) -> str:
    elb = stack.client("elbv2")
    [balancer] = elb.describe_load_balancers(Names=[f"payment-alb-{ENV}"])["LoadBalancers"]
    [listener] = elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    return str(listener["ListenerArn"])


@contextmanager
def initialised(root: Path, say: Callable[[str], None]) -> Iterator[Stack]:
    """dev rendered from ROOT (a copy of the project) for a fresh emulator, and initialised; the
    stack's durations are said however the block ends."""
    start = time.monotonic()
    with emulated(root, say) as endpoint:
        stack = Stack(root, endpoint, overrides(endpoint), say)
        try:
            stack.render()
            stack.terraform("init", "-input=false", "-no-color")
            stack.durations["setup"] = time.monotonic() - start
            yield stack
        finally:
            say("durations: " + ", ".join(f"{k} {v:.1f} s" for k, v in stack.durations.items()))
