"""A local stand-in for the deployed API and load balancer, built only from what the emulator returns.

``Router.read`` asks the emulator for the listener rules of the ALB (``DescribeRules``: path
patterns, methods, forward actions with their target groups and weights), each target
group's Lambda target (``DescribeTargetHealth``: the alias ARN) and its multi-value-headers
attribute, and the HTTP API integration's request parameter mappings (``GetIntegrations``).
``Router.route`` then does what the ALB does with a request: the first rule by priority whose
conditions match, one of its target groups drawn by weight, and the event the ALB sends a
Lambda target (the documented single- or multi-value format, with the chosen group's ARN in
``requestContext.elb.targetGroupArn``). Headers the integration sets (``overwrite:header.X``
mapped from the caller's identity, ``$context.authorizer...``/``$context.identity...``) are set
from the caller given, so a request carries the identity as the API would pass it.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rule:
    priority: int
    path_patterns: tuple[str, ...]
    methods: tuple[str, ...]
    targets: tuple[tuple[str, int], ...]  # (target group ARN, weight)

    def matches(self, method: str, path: str) -> bool:
        # ALB path patterns: case-sensitive, "*" matches any characters (including "/"), "?" one.
        path_ok = not self.path_patterns or any(fnmatch.fnmatchcase(path, p) for p in self.path_patterns)
        return path_ok and (not self.methods or method in self.methods)


@dataclass(frozen=True)
class Routed:
    rule: Rule
    target_group: str
    alias_arn: str
    event: dict[str, Any]


def _values(condition: Mapping[str, Any], config: str) -> tuple[str, ...]:
    return tuple(condition.get("Values") or condition.get(config, {}).get("Values", []))


def rule_of(described: Mapping[str, Any]) -> Rule | None:
    """A forwarding rule from one ``DescribeRules`` entry; None for the default rule or another action."""
    if described.get("IsDefault"):
        return None
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    for condition in described.get("Conditions", []):
        if condition["Field"] == "path-pattern":
            paths = _values(condition, "PathPatternConfig")
        elif condition["Field"] == "http-request-method":
            methods = _values(condition, "HttpRequestMethodConfig")
    targets: list[tuple[str, int]] = []
    for action in described.get("Actions", []):
        if action.get("Type") != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups")
        if groups:
            targets += [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups]
        elif action.get("TargetGroupArn"):
            targets.append((action["TargetGroupArn"], 1))
    if not targets:
        return None
    return Rule(int(described["Priority"]), paths, methods, tuple(targets))


def header_mappings(integration: Mapping[str, Any]) -> dict[str, str]:
    """Header name -> source of each ``overwrite:header.*``/``append:header.*`` request parameter."""
    found = {}
    for key, source in (integration.get("RequestParameters") or {}).items():
        operation, _, target = key.partition(":")
        if operation in ("overwrite", "append") and target.startswith("header."):
            found[target.removeprefix("header.").lower()] = source
    return found


@dataclass
class Router:
    rules: list[Rule]
    aliases: dict[str, str]  # target group ARN -> Lambda alias ARN
    multi_value: dict[str, bool] = field(default_factory=dict)  # target group ARN -> multi-value headers
    headers_from_caller: dict[str, str] = field(default_factory=dict)  # header -> integration source
    rng: random.Random = field(default_factory=lambda: random.Random(13))

    @classmethod
    def read(cls, elbv2: Any, apigatewayv2: Any, load_balancer: str, api_name: str) -> Router:
        lb = elbv2.describe_load_balancers(Names=[load_balancer])["LoadBalancers"][0]
        rules: list[Rule] = []
        for listener in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            for described in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                rule = rule_of(described)
                if rule is not None:
                    rules.append(rule)
        rules.sort(key=lambda r: r.priority)
        aliases: dict[str, str] = {}
        multi_value: dict[str, bool] = {}
        for group in {arn for rule in rules for arn, _ in rule.targets}:
            health = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
            targets = [h["Target"]["Id"] for h in health]
            if len(targets) == 1:
                aliases[group] = targets[0]
            attributes = elbv2.describe_target_group_attributes(TargetGroupArn=group)["Attributes"]
            multi_value[group] = any(a["Key"] == "lambda.multi_value_headers.enabled" and a["Value"] == "true"
                                     for a in attributes)
        headers: dict[str, str] = {}
        for api in apigatewayv2.get_apis()["Items"]:
            if api["Name"] == api_name:
                for integration in apigatewayv2.get_integrations(ApiId=api["ApiId"])["Items"]:
                    headers.update(header_mappings(integration))
        return cls(rules, aliases, multi_value, headers)

    def route(self, method: str, path: str, body: str = "", headers: Mapping[str, str] | None = None,
              caller: Mapping[str, str] | None = None) -> Routed | None:
        """Where the ALB sends ``method path``, with the event it sends; None when no rule matches.

        ``caller``: the API's context variables of the request (``$context.identity.userArn``: the
        ARN that signed it); None for a request that did not come through the API."""
        rule = next((r for r in self.rules if r.matches(method, path)), None)
        if rule is None:
            return None
        groups = [arn for arn, _ in rule.targets]
        weights = [weight for _, weight in rule.targets]
        group = self.rng.choices(groups, weights=weights)[0] if sum(weights) else groups[0]
        all_headers = {"content-type": "application/json", "x-forwarded-proto": "https",
                       **{k.lower(): v for k, v in (headers or {}).items()}}
        for header, source in self.headers_from_caller.items():
            all_headers.pop(header, None)  # an overwrite mapping replaces what the client sent
            if caller is not None:
                if source not in caller:
                    raise KeyError(f"the integration maps {source} to {header}; the caller has no such value")
                all_headers[header] = caller[source]
        event: dict[str, Any] = {"requestContext": {"elb": {"targetGroupArn": group}}, "httpMethod": method,
                                 "path": path, "body": body, "isBase64Encoded": False}
        if self.multi_value.get(group):
            event["multiValueHeaders"] = {k: [v] for k, v in all_headers.items()}
            event["multiValueQueryStringParameters"] = {}
        else:
            event["headers"] = all_headers
            event["queryStringParameters"] = {}
        return Routed(rule, group, self.aliases.get(group, ""), event)


def binomial_bounds(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """The central ``confidence`` interval of Binomial(n, p): counts outside it have probability
    at most (1 - confidence) together (exact, from the distribution)."""
    if p <= 0.0:
        return (0, 0)
    if p >= 1.0:
        return (n, n)
    import math

    tail = (1.0 - confidence) / 2
    log_pmf = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
               + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    pmf = [math.exp(value) for value in log_pmf]
    low, total = 0, 0.0
    while total + pmf[low] <= tail:
        total += pmf[low]
        low += 1
    high, total = n, 0.0
    while total + pmf[high] <= tail:
        total += pmf[high]
        high -= 1
    return (low, high)
