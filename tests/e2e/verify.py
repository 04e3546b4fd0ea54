"""What boto3 must find in the emulator after ``terraform apply``.

Figures come from the environment's validated model (the same configuration
tfgen rendered), names from ``tfgen.config.names`` and routes from ``tfgen.render.templates``,
the way the templates get them. That the model and the rendered HCL hold the
SPEC's figures is asserted by the fast tests of the stack (tests/test_stack_*.py,
tests/test_network.py); here the question is whether what was applied is what
was rendered. Every check records a failure instead of stopping, so one run
reports everything that is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import boto3
from botocore.config import Config

from tfgen.config import names as naming
from tfgen.render import templates as render

# The SPEC's figures that the checks against the emulator use (shared/SPEC.md).
SPEC_MIN_RETENTION_DAYS = 365
SPEC_OUTPUTS = ("vpc_id", "aurora_endpoint", "api_endpoint", "alb_dns_name", "transactions_table",
                "audit_bucket")
TIERS = ("public", "private", "database")


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    passed: int = 0

    def check(self, condition: bool, message: str) -> bool:
        if condition:
            self.passed += 1
        else:
            self.failures.append(message)
        return condition

    def present(self, value: Any, message: str) -> TypeGuard[Any]:
        """Check that a looked-up value exists (and let the type checker know it does)."""
        return self.check(value is not None, message)

    def equal(self, actual: Any, expected: Any, what: str) -> bool:
        return self.check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """A group of checks; an exception inside (a missing resource, say) fails the group only."""
        try:
            yield
        except Exception as exc:
            self.failures.append(f"{name}: {type(exc).__name__}: {exc}")


def client(service: str, endpoint: str, region: str = "us-east-1", key: str = "test", secret: str = "test") -> Any:
    """A boto3 client of the emulator at ``endpoint`` (the keys terraform uses unless given), with
    bounded retries and waits and no proxy."""
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30, proxies={}))


class Verifier:
    """Checks one applied environment through boto3 against the emulator at ``endpoint``."""

    def __init__(self, env: str, cfg: Any, endpoint: str, outputs: Mapping[str, Any],
                 state_text: str) -> None:
        self.env = env
        self.cfg = cfg
        self.endpoint = endpoint
        self.outputs = {name: value.get("value") for name, value in outputs.items()}
        self.state_text = state_text
        self.names = naming.names(env, cfg)
        self.routes = render.routes(cfg)
        self.report = Report()
        self._clients: dict[str, Any] = {}
        self.found: dict[str, Any] = {}  # facts later sections use: ids, ARNs, endpoints

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint, self.cfg.region)
        return self._clients[service]

    def run(self) -> Report:
        sections: list[tuple[str, Callable[[], None]]] = [
            ("network", self.network), ("kms", self.kms), ("dynamodb", self.dynamodb),
            ("s3", self.s3), ("aurora", self.aurora), ("lambda", self.functions),
            ("alb", self.alb), ("api", self.api), ("sns", self.topics), ("alarms", self.alarms),
            ("secret", self.secret), ("ssm", self.parameters), ("logs", self.log_groups),
            ("outputs", self.outputs_match),
        ]
        for name, section in sections:
            with self.report.section(name):
                section()
        return self.report

    # --- network ------------------------------------------------------------

    def network(self) -> None:
        r, net, ec2 = self.report, self.cfg.network, self.client("ec2")
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [self.names["vpc"]]}])["Vpcs"]
        if not r.equal(len(vpcs), 1, f"VPCs named {self.names['vpc']}"):
            return
        vpc = vpcs[0]
        vpc_id = self.found["vpc_id"] = vpc["VpcId"]
        r.equal(vpc["CidrBlock"], net.vpc_cidr, "VPC CIDR")
        for attribute, key in (("enableDnsSupport", "EnableDnsSupport"),
                               ("enableDnsHostnames", "EnableDnsHostnames")):
            value = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"]
            r.equal(value, True, f"VPC {attribute}")
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        r.equal(len(subnets), 3 * len(net.availability_zones), "subnets in the VPC")
        by_name: dict[str, Any] = {str(_tag(s, "Name")): s for s in subnets}
        tier_ids: dict[str, list[str]] = {}
        for tier in TIERS:
            for index, (az, cidr) in enumerate(zip(net.availability_zones, getattr(net, f"{tier}_subnets"),
                                                   strict=True)):
                name = f"{tier}-subnet-{index}-{self.env}"
                subnet = by_name.get(name)
                if not r.present(subnet, f"subnet {name}: missing (have {sorted(by_name)})"):
                    continue
                r.equal((subnet["CidrBlock"], subnet["AvailabilityZone"]), (cidr, az), f"subnet {name} (CIDR, AZ)")
                tier_ids.setdefault(tier, []).append(subnet["SubnetId"])
        self.found["subnets"] = tier_ids
        nats = [n for n in ec2.describe_nat_gateways(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"] if n["State"] != "deleted"]
        expected = 1 if net.single_nat_gateway else len(net.availability_zones)
        r.equal(len(nats), expected, f"NAT gateways (single_nat_gateway={net.single_nat_gateway})")
        for nat in nats:
            r.check(nat["SubnetId"] in tier_ids.get("public", []),
                    f"NAT gateway {nat['NatGatewayId']}: not in a public subnet")
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
        for table in tables:
            associated = {a.get("SubnetId") for a in table.get("Associations", [])}
            if associated & set(tier_ids.get("database", [])):
                out = [route for route in table.get("Routes", [])
                       if route.get("GatewayId", "").startswith("igw-") or route.get("NatGatewayId")]
                r.equal(out, [], f"route table {table['RouteTableId']} of the database subnets: routes out")

    # --- kms ----------------------------------------------------------------

    def kms(self) -> None:
        r, kms = self.report, self.client("kms")
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in _pages(kms, "list_aliases", "Aliases")}
        keys: dict[str, str] = {}
        for domain in ("rds", "dynamodb"):
            alias = self.names["kms_aliases"][domain]
            if not r.check(aliases.get(alias) is not None, f"KMS alias {alias}: missing"):
                continue
            meta = kms.describe_key(KeyId=aliases[alias])["KeyMetadata"]
            keys[domain] = meta["Arn"]
            r.equal((meta["KeyState"], meta["KeyManager"]), ("Enabled", "CUSTOMER"),
                    f"KMS key {alias} (state, manager)")
            r.equal(kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"], True,
                    f"KMS key {alias} rotation")
        self.found["kms"] = keys

    # --- dynamodb -------------------------------------------------------------

    def dynamodb(self) -> None:
        r, ddb = self.report, self.client("dynamodb")
        name = self.names["table"]
        table = ddb.describe_table(TableName=name)["Table"]
        self.found["table"] = table["TableName"]
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        r.equal(_keys(table["KeySchema"]), {"HASH": "transaction_id", "RANGE": "timestamp"}, f"{name} key schema")
        r.equal((types.get("transaction_id"), types.get("timestamp")), ("S", "N"), f"{name} key types")
        indexes = {i["IndexName"]: _keys(i["KeySchema"]) for i in table.get("GlobalSecondaryIndexes", [])}
        r.equal(indexes, {"user-index": {"HASH": "user_id", "RANGE": "timestamp"},
                          "status-index": {"HASH": "status", "RANGE": "timestamp"},
                          "merchant-user-index": {"HASH": "merchant_user", "RANGE": "timestamp"},
                          "card-token-index": {"HASH": "card_token", "RANGE": "timestamp"}}, f"{name} GSIs")
        r.equal(table.get("BillingModeSummary", {}).get("BillingMode"), "PAY_PER_REQUEST", f"{name} billing mode")
        sse = table.get("SSEDescription", {})
        r.equal((sse.get("Status"), sse.get("SSEType")), ("ENABLED", "KMS"), f"{name} SSE")
        if "dynamodb" in self.found.get("kms", {}):
            r.equal(sse.get("KMSMasterKeyArn"), self.found["kms"]["dynamodb"], f"{name} SSE key")
        pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        r.equal(status, "ENABLED" if self.cfg.dynamodb.point_in_time_recovery else "DISABLED", f"{name} PITR")
        r.equal(table.get("DeletionProtectionEnabled", False), self.cfg.dynamodb.deletion_protection,
                f"{name} deletion protection")

    # --- s3 -----------------------------------------------------------------

    def s3(self) -> None:
        r, s3 = self.report, self.client("s3")
        bucket = self.names["audit_bucket"]
        self.found["bucket"] = bucket
        r.equal(s3.get_bucket_versioning(Bucket=bucket).get("Status"), "Enabled", f"{bucket} versioning")
        rules = [rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
                 if rule.get("Status") == "Enabled"]
        transitions = [(t.get("Days"), t.get("StorageClass")) for rule in rules for t in rule.get("Transitions", [])]
        r.check((self.cfg.storage.audit_glacier_days, "GLACIER") in transitions,
                f"{bucket} lifecycle: expected a transition to GLACIER after "
                f"{self.cfg.storage.audit_glacier_days} days, got {transitions}")
        for rule in rules:
            days = rule.get("Expiration", {}).get("Days")
            r.check(days is None or days >= SPEC_MIN_RETENTION_DAYS,
                    f"{bucket} lifecycle rule {rule.get('ID')}: expires after {days} days (< 365)")
        sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        default = sse[0].get("ApplyServerSideEncryptionByDefault", {}) if sse else {}
        r.equal(default.get("SSEAlgorithm"), "aws:kms", f"{bucket} default encryption")
        r.check(bool(default.get("KMSMasterKeyID")), f"{bucket} default encryption: no KMS key")
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        r.equal(sorted(k for k, v in block.items() if v is True),
                ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"],
                f"{bucket} public access block")
        policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        r.check("aws:SecureTransport" in policy, f"{bucket} policy: no aws:SecureTransport deny")

    # --- aurora ---------------------------------------------------------------

    def aurora(self) -> None:
        r, rds, db = self.report, self.client("rds"), self.cfg.database
        name = self.names["aurora_cluster"]
        cluster = rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]
        self.found["db_endpoint"] = cluster["Endpoint"]
        r.equal(cluster["Engine"], "aurora-postgresql", f"{name} engine")
        r.equal(cluster.get("EngineMode"), "provisioned", f"{name} engine mode")
        r.equal(cluster.get("EngineVersion"), db.engine_version, f"{name} engine version")
        scaling = cluster.get("ServerlessV2ScalingConfiguration", {})
        r.equal((scaling.get("MinCapacity"), scaling.get("MaxCapacity")), (db.min_capacity, db.max_capacity),
                f"{name} Serverless v2 capacity")
        r.equal(cluster.get("StorageEncrypted"), True, f"{name} storage encrypted")
        if "rds" in self.found.get("kms", {}):
            r.equal(cluster.get("KmsKeyId"), self.found["kms"]["rds"], f"{name} storage key")
        r.equal(cluster.get("BackupRetentionPeriod"), db.backup_retention_days, f"{name} backup retention")
        r.equal(cluster.get("Port"), db.port, f"{name} port")
        r.equal(cluster.get("DatabaseName"), db.database_name, f"{name} database name")
        r.equal(cluster.get("MasterUsername"), db.master_username, f"{name} master username")
        r.equal(sorted(cluster.get("EnabledCloudwatchLogsExports", [])), sorted(db.log_exports),
                f"{name} log exports")
        r.equal(cluster.get("DeletionProtection"), db.deletion_protection, f"{name} deletion protection")
        members = cluster.get("DBClusterMembers", [])
        r.equal(len(members), 1 + db.reader_count, f"{name} instances (1 writer + {db.reader_count} readers)")
        r.equal(sum(1 for m in members if m.get("IsClusterWriter")), 1, f"{name} writers")
        for member in members:
            instance = rds.describe_db_instances(DBInstanceIdentifier=member["DBInstanceIdentifier"])["DBInstances"][0]
            r.equal(instance["DBInstanceClass"], "db.serverless", f"{member['DBInstanceIdentifier']} class")
            r.equal(instance.get("PubliclyAccessible"), False, f"{member['DBInstanceIdentifier']} public")

    # --- lambda ---------------------------------------------------------------

    def functions(self) -> None:
        r, lam, cfg = self.report, self.client("lambda"), self.cfg.lambda_
        private = sorted(self.found.get("subnets", {}).get("private", []))
        arns: dict[str, str] = {}
        for key, name in self.names["functions"].items():
            if key == naming.ROTATION_KEY:
                memory, timeout = cfg.rotation.memory_mb, cfg.rotation.timeout_s
                reserved = cfg.rotation.reserved_concurrency
            else:
                fn = getattr(cfg.functions, key)
                memory, timeout, reserved = fn.memory_mb, fn.timeout_s, fn.reserved_concurrency
            got = lam.get_function(FunctionName=name)
            conf = got["Configuration"]
            arns[key] = conf["FunctionArn"]
            r.equal((conf["MemorySize"], conf["Timeout"]), (memory, timeout), f"{name} (memory, timeout)")
            r.equal(conf.get("Runtime"), cfg.runtime, f"{name} runtime")
            r.equal(conf.get("Architectures"), [cfg.architecture], f"{name} architectures")
            r.equal(got.get("Concurrency", {}).get("ReservedConcurrentExecutions"), reserved,
                    f"{name} reserved concurrency")
            if private:
                r.equal(sorted(conf.get("VpcConfig", {}).get("SubnetIds", [])), private, f"{name} subnets")
            if key == naming.ROTATION_KEY:
                continue
            traffic = getattr(cfg.functions, key).traffic
            versions = [int(v["Version"]) for v in _pages(lam, "list_versions_by_function", "Versions",
                                                           FunctionName=name) if v["Version"].isdigit()]
            aliases = {a["Name"]: a["FunctionVersion"] for a in lam.list_aliases(FunctionName=name)["Aliases"]}
            for color in naming.COLORS:
                pinned = getattr(traffic, f"{color}_version")
                expected = str(max(versions, default=0)) if pinned == "latest" else pinned
                r.equal(aliases.get(color), expected, f"{name} alias {color} version ({pinned})")
        self.found["functions"] = arns

    # --- alb ------------------------------------------------------------------

    def alb(self) -> None:
        r, elb = self.report, self.client("elbv2")
        name = self.names["alb"]
        lb = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
        self.found["alb_dns_name"] = lb["DNSName"]
        r.equal((lb["Scheme"], lb["Type"]), ("internal", "application"), f"{name} (scheme, type)")
        groups = {g["TargetGroupArn"]: g for g in _pages(elb, "describe_target_groups", "TargetGroups")}
        by_name: dict[str, Any] = {g["TargetGroupName"]: g for g in groups.values()}
        rules = []
        listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        self.found["listeners"] = [listener["ListenerArn"] for listener in listeners]
        for listener in listeners:
            rules += [rule for rule in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
                      if not rule.get("IsDefault")]
        for key, route in self.routes.items():
            wanted = self.names["target_groups"][key]
            for group_name in wanted.values():
                group = by_name.get(group_name)
                if r.present(group, f"target group {group_name}: missing"):
                    r.equal(group["TargetType"], "lambda", f"target group {group_name} type")
            matching = []
            for rule in rules:
                weights = {groups.get(t["TargetGroupArn"], {}).get("TargetGroupName"): t.get("Weight")
                           for action in rule.get("Actions", []) if action.get("Type") == "forward"
                           for t in action.get("ForwardConfig", {}).get("TargetGroups", [])}
                if set(weights) == set(wanted.values()):
                    matching.append((rule, weights))
            if not r.equal(len(matching), 1, f"listener rules forwarding to {sorted(wanted.values())}"):
                continue
            rule, weights = matching[0]
            r.equal(weights, {wanted[color]: weight for color, weight in route["weights"].items()},
                    f"{key} listener rule weights")
            conditions = {c["Field"]: sorted(c.get("Values") or _condition_values(c)) for c in rule["Conditions"]}
            r.equal(conditions.get("path-pattern"), [route["path_pattern"]], f"{key} listener rule path pattern")
            r.equal(conditions.get("http-request-method"), [route["method"]], f"{key} listener rule method")

    # --- api ------------------------------------------------------------------

    def api(self) -> None:
        r, gw = self.report, self.client("apigatewayv2")
        name = self.names["api"]
        apis = [a for a in gw.get_apis()["Items"] if a["Name"] == name]
        if not r.equal(len(apis), 1, f"HTTP APIs named {name}"):
            return
        api = apis[0]
        self.found["api_endpoint"] = api["ApiEndpoint"]
        r.equal(api["ProtocolType"], "HTTP", f"{name} protocol")
        links = [link for link in gw.get_vpc_links()["Items"] if link["Name"] == self.names["vpc_link"]]
        if r.equal(len(links), 1, f"VPC links named {self.names['vpc_link']}"):
            private = sorted(self.found.get("subnets", {}).get("private", []))
            if private:
                r.equal(sorted(links[0]["SubnetIds"]), private, "VPC link subnets")
        integrations = gw.get_integrations(ApiId=api["ApiId"])["Items"]
        for integration in integrations:
            r.equal((integration.get("IntegrationType"), integration.get("ConnectionType")),
                    ("HTTP_PROXY", "VPC_LINK"), f"{name} integration {integration['IntegrationId']} type")
            if links:
                r.equal(integration.get("ConnectionId"), links[0]["VpcLinkId"], f"{name} integration VPC link")
            r.check(integration.get("IntegrationUri") in self.found.get("listeners", []),
                    f"{name} integration URI {integration.get('IntegrationUri')!r} is not a listener of the ALB")
        r.check(bool(integrations), f"{name}: no integration")
        routes = sorted(route["RouteKey"] for route in gw.get_routes(ApiId=api["ApiId"])["Items"])
        r.equal(routes, sorted(route["route_key"] for route in self.routes.values()), f"{name} routes")
        stages: dict[str, Any] = {s["StageName"]: s for s in gw.get_stages(ApiId=api["ApiId"])["Items"]}
        stage = stages.get(self.cfg.api.stage_name)
        if r.present(stage, f"{name} stage {self.cfg.api.stage_name!r}: missing (have {sorted(stages)})"):
            r.equal(stage.get("AutoDeploy"), True, f"{name} stage auto-deploy")
            r.check(bool(stage.get("AccessLogSettings", {}).get("DestinationArn")), f"{name} stage: no access logs")

    # --- sns / alarms -----------------------------------------------------------

    def topics(self) -> None:
        r, sns = self.report, self.client("sns")
        arns = {arn.rsplit(":", 1)[-1]: arn for arn in
                (t["TopicArn"] for t in _pages(sns, "list_topics", "Topics"))}
        found = {}
        for key in ("topic_failed", "topic_errors"):
            name = self.names[key]
            if r.check(name in arns, f"SNS topic {name}: missing"):
                found[key] = arns[name]
                attributes = sns.get_topic_attributes(TopicArn=arns[name])["Attributes"]
                r.check(bool(attributes.get("KmsMasterKeyId")), f"SNS topic {name}: not encrypted")
        self.found["topics"] = found

    def alarms(self) -> None:
        r, cw, mon = self.report, self.client("cloudwatch"), self.cfg.monitoring
        thresholds = {"api_p99_latency": mon.api_latency_p99_ms, "aurora_cpu": mon.aurora_cpu_percent,
                      "dynamodb_throttles": mon.dynamodb_throttled_requests}
        names = self.names["alarms"]
        described = cw.describe_alarms(AlarmNames=list(names.values()))["MetricAlarms"]
        alarms: dict[str, Any] = {a["AlarmName"]: a for a in described}
        errors = self.found.get("topics", {}).get("topic_errors")
        for key, name in names.items():
            alarm = alarms.get(name)
            if not r.present(alarm, f"alarm {name}: missing (have {sorted(alarms)})"):
                continue
            r.equal((alarm["Threshold"], alarm["ComparisonOperator"]), (thresholds[key], "GreaterThanThreshold"),
                    f"alarm {name} (threshold, comparison)")
            if errors:
                r.equal(alarm.get("AlarmActions"), [errors], f"alarm {name} actions")
            else:
                r.check(bool(alarm.get("AlarmActions")), f"alarm {name}: no actions")

    # --- secrets / parameters / logs ---------------------------------------------

    def secret(self) -> None:
        r, sm, db = self.report, self.client("secretsmanager"), self.cfg.database
        name = self.names["secret"]
        described = sm.describe_secret(SecretId=name)
        r.equal(described.get("RotationEnabled"), True, f"secret {name} rotation enabled")
        r.equal(described.get("RotationRules", {}).get("AutomaticallyAfterDays"),
                self.cfg.lambda_.rotation.rotation_days, f"secret {name} rotation days")
        rotation_fn = self.found.get("functions", {}).get(naming.ROTATION_KEY)
        if rotation_fn:
            r.equal(described.get("RotationLambdaARN"), rotation_fn, f"secret {name} rotation function")
        r.check(bool(described.get("KmsKeyId")), f"secret {name}: no customer-managed KMS key")
        value = json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])
        r.check({"username", "password", "host", "port", "dbname"} <= set(value),
                f"secret {name}: expected username, password, host, port, dbname; got keys {sorted(value)}")
        r.equal((value.get("username"), value.get("dbname"), int(value.get("port", 0))),
                (db.master_username, db.database_name, db.port), f"secret {name} (username, dbname, port)")
        if "db_endpoint" in self.found:
            r.equal(value.get("host"), self.found["db_endpoint"], f"secret {name} host")
        password = value.get("password") or ""
        r.check(len(password) >= 16, f"secret {name}: password of {len(password)} characters")
        r.check(bool(password) and password not in self.state_text,
                f"secret {name}: the master password appears in terraform state")

    def parameters(self) -> None:
        r, ssm = self.report, self.client("ssm")
        expected = {"api-endpoint": self.outputs.get("api_endpoint"),
                    "db-endpoint": self.found.get("db_endpoint"), "table-name": self.found.get("table")}
        for key, name in self.names["parameters"].items():
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            r.equal(value, expected[key], f"SSM parameter {name}")

    def log_groups(self) -> None:
        r, logs = self.report, self.client("logs")
        groups = {g["logGroupName"]: g for g in _pages(logs, "describe_log_groups", "logGroups")}
        wanted = {name: self.cfg.lambda_.log_retention_days for name in self.names["log_groups"].values()}
        wanted[self.names["api_log_group"]] = self.cfg.api.log_retention_days
        for name, days in wanted.items():
            if r.check(name in groups, f"log group {name}: missing"):
                r.equal(groups[name].get("retentionInDays"), days, f"log group {name} retention")

    # --- outputs --------------------------------------------------------------

    def outputs_match(self) -> None:
        r = self.report
        r.equal(sorted(self.outputs), sorted(SPEC_OUTPUTS), "terraform outputs")
        expected = {
            "vpc_id": self.found.get("vpc_id"),
            "aurora_endpoint": self.found.get("db_endpoint"),
            "alb_dns_name": self.found.get("alb_dns_name"),
            "transactions_table": self.found.get("table"),
            "audit_bucket": self.found.get("bucket"),
        }
        for name, value in expected.items():
            r.equal(self.outputs.get(name), value, f"output {name}")
        api = self.outputs.get("api_endpoint")
        base = self.found.get("api_endpoint")
        r.check(isinstance(api, str) and base is not None and api.startswith(base),
                f"output api_endpoint: expected a URL under {base!r}, got {api!r}")


def _tag(resource: Mapping[str, Any], key: str) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), None)


def _keys(schema: list[Mapping[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


def _condition_values(condition: Mapping[str, Any]) -> list[str]:
    for config in ("PathPatternConfig", "HttpRequestMethodConfig"):
        if config in condition:
            return list(condition[config].get("Values", []))
    return []


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    return list(getattr(client, operation)(**kwargs).get(key, []))
