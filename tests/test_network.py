"""The network section of SPEC.md, asserted on the parsed HCL of every shipped environment."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROOT, SHIPPED_ENVS
from tests.stack import hcl, local, ref, resource
from tfgen.config import environment
from tfgen.render import templates as render
from tfgen.render.lint import parse


def zones(env: str) -> dict[str, dict[str, str]]:
    return local(env, "network.tf", "zones")  # type: ignore[no-any-return]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_vpc_10_0_0_0_16_with_dns_support_and_hostnames(env: str) -> None:
    vpc = resource(env, "network.tf", "aws_vpc", "this")
    assert vpc["cidr_block"] == "10.0.0.0/16"
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True
    assert vpc["tags"] == {"Name": f"vpc-{env}"}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_three_zones_with_the_spec_subnet_cidrs(env: str) -> None:
    assert zones(env) == {
        "0": {"az": "us-east-1a", "public": "10.0.0.0/24", "private": "10.0.10.0/24", "database": "10.0.20.0/24"},
        "1": {"az": "us-east-1b", "public": "10.0.1.0/24", "private": "10.0.11.0/24", "database": "10.0.21.0/24"},
        "2": {"az": "us-east-1c", "public": "10.0.2.0/24", "private": "10.0.12.0/24", "database": "10.0.22.0/24"},
    }


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("tier", ["public", "private", "database"])
def test_subnet_names_follow_type_subnet_index_env(env: str, tier: str) -> None:
    subnet = resource(env, "network.tf", "aws_subnet", tier)
    assert subnet["for_each"] == "${local.zones}"
    assert subnet["cidr_block"] == f"${{each.value.{tier}}}"
    assert subnet["tags"]["Name"] == f"{tier}-subnet-${{each.key}}-${{local.environment}}"
    assert hcl(env, "network.tf")["locals"][0]["environment"] == env


@pytest.mark.parametrize(("env", "nat_zones"), [("dev", ["0"]), ("staging", ["0", "1", "2"]),
                                                ("prod", ["0", "1", "2"])])
def test_nat_gateways_one_per_zone_or_one_shared(env: str, nat_zones: list[str]) -> None:
    assert hcl(env, "network.tf")["locals"][0]["nat_zones"] == nat_zones
    assert resource(env, "network.tf", "aws_nat_gateway", "this")["for_each"] == "${toset(local.nat_zones)}"
    assert resource(env, "network.tf", "aws_eip", "nat")["for_each"] == "${toset(local.nat_zones)}"
    route = resource(env, "network.tf", "aws_route", "private_nat")
    expected = "local.nat_zones[0]" if len(nat_zones) == 1 else "each.key"
    assert route["nat_gateway_id"] == f"${{aws_nat_gateway.this[{expected}].id}}"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_route_isolation_database_tier_has_no_route_out(env: str) -> None:
    routes = {name: body for block in hcl(env, "network.tf")["resource"] if "aws_route" in block
              for name, body in block["aws_route"].items()}
    assert set(routes) == {"public_internet", "private_nat"}
    assert routes["public_internet"]["route_table_id"] == "${aws_route_table.public.id}"
    assert routes["public_internet"]["gateway_id"] == "${aws_internet_gateway.this.id}"
    assert routes["private_nat"]["route_table_id"] == "${aws_route_table.private[each.key].id}"
    database = resource(env, "network.tf", "aws_route_table", "database")
    assert "route" not in database
    assoc = resource(env, "network.tf", "aws_route_table_association", "database")
    assert assoc["route_table_id"] == "${aws_route_table.database.id}"
    assert assoc["subnet_id"] == "${aws_subnet.database[each.key].id}"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
@pytest.mark.parametrize("service", ["s3", "dynamodb"])
def test_gateway_endpoints_on_the_private_route_tables(env: str, service: str) -> None:
    endpoint = resource(env, "network.tf", "aws_vpc_endpoint", service)
    assert endpoint["vpc_endpoint_type"] == "Gateway"
    assert endpoint["service_name"] == f"com.amazonaws.us-east-1.{service}"
    assert endpoint["route_table_ids"] == "${[for table in aws_route_table.private : table.id]}"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_default_security_group_has_no_rules(env: str) -> None:
    group = resource(env, "network.tf", "aws_default_security_group", "this")
    assert "ingress" not in group and "egress" not in group


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_s3_backend_encrypted_with_lockfile_and_a_key_per_environment(env: str) -> None:
    backend = hcl(env, "backend.tf")["terraform"][0]["backend"][0]["s3"]
    assert backend == {"bucket": "iac-rlhf-tf-states", "key": f"payment/{env}/terraform.tfstate",
                       "region": "us-east-1", "encrypt": True, "use_lockfile": True}


def test_local_backend_can_be_selected(tmp_path: Any) -> None:
    loaded = environment.load(ROOT / "environments", "dev", ["terraform.backend=local"])
    text = render.render(loaded, ROOT / "templates", ROOT / "lambdas").files["backend.tf"].decode()
    assert parse(text)["terraform"][0]["backend"][0] == {"local": {"path": "terraform.tfstate"}}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_required_version_and_pinned_provider(env: str) -> None:
    terraform = hcl(env, "versions.tf")["terraform"][0]
    assert terraform["required_version"] == ">= 1.11"
    assert terraform["required_providers"][0]["aws"] == {"source": "hashicorp/aws", "version": "~> 5.100"}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_default_tags_environment_project_managed_by_and_configured(env: str) -> None:
    provider = hcl(env, "providers.tf")["provider"][0]["aws"]
    assert provider["region"] == "us-east-1"
    tags = provider["default_tags"][0]["tags"]
    assert tags["Environment"] == env and tags["Project"] == "payment" and tags["ManagedBy"] == "tfgen"
    assert tags["CostCenter"] == "payments" and tags["DataClassification"] == "pci"


def test_emulator_settings_come_only_from_configuration() -> None:
    loaded = environment.load(ROOT / "environments", "dev", [
        "provider.endpoints.s3=http://127.0.0.1:5000", "provider.endpoints.sts=http://127.0.0.1:5000",
        "provider.access_key=test", "provider.secret_key=test", "provider.skip_credentials_validation=true",
        "provider.s3_use_path_style=true"])
    text = render.render(loaded, ROOT / "templates", ROOT / "lambdas").files["providers.tf"].decode()
    provider = parse(text)["provider"][0]["aws"]
    assert provider["endpoints"] == [{"s3": "http://127.0.0.1:5000", "sts": "http://127.0.0.1:5000"}]
    assert provider["access_key"] == "test" and provider["skip_credentials_validation"] is True
    assert provider["s3_use_path_style"] is True
    for env in SHIPPED_ENVS:
        assert "endpoints" not in hcl(env, "providers.tf")["provider"][0]["aws"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_flow_logs_of_all_traffic_to_an_encrypted_log_group_kept_a_year(env: str) -> None:
    flow = resource(env, "network.tf", "aws_flow_log", "this")
    assert flow["vpc_id"] == ref("aws_vpc.this.id") and flow["traffic_type"] == "ALL"
    assert flow["log_destination_type"] == "cloud-watch-logs"
    assert flow["log_destination"] == ref("aws_cloudwatch_log_group.flow_logs.arn")
    assert flow["iam_role_arn"] == ref("aws_iam_role.flow_logs.arn")
    group = resource(env, "network.tf", "aws_cloudwatch_log_group", "flow_logs")
    assert group["name"] == f"/aws/vpc/flow-logs/vpc-{env}" and group["retention_in_days"] == 365
    assert group["kms_key_id"] == ref('aws_kms_key.this["logs"].arn')
    assert resource(env, "network.tf", "aws_iam_role", "flow_logs")["name"] == f"vpc-flow-logs-{env}"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_interface_endpoints_for_kms_secrets_manager_and_sns_in_the_private_subnets(env: str) -> None:
    endpoint = resource(env, "endpoints.tf", "aws_vpc_endpoint", "interface")
    assert endpoint["for_each"] == ref('toset(["kms", "secretsmanager", "sns"])')
    assert endpoint["service_name"] == "com.amazonaws." + ref("local.region") + "." + ref("each.key")
    assert endpoint["vpc_endpoint_type"] == "Interface" and endpoint["private_dns_enabled"] is True
    assert endpoint["subnet_ids"] == ref("[for subnet in aws_subnet.private : subnet.id]")
    assert endpoint["security_group_ids"] == [ref("aws_security_group.endpoints.id")]
    assert local(env, "kms.tf", "region") == "us-east-1"


def test_no_interface_endpoints_when_none_are_configured() -> None:
    assert "resource" not in hcl("prod", "endpoints.tf", "network:\n  interface_endpoints: []\n")
