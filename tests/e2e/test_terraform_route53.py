"""Terraform's Route 53 resources beyond the main scenario's, against the session's
``andromede serve``, in one small configuration of their own (one provider run for both, the
main scenario being slow).

``aws_route53_record``'s ``geoproximity_routing_policy`` (decision 0339): two geoproximity
records (an AWS Region; the coordinates of an endpoint outside AWS with a bias) read back with
boto3 as written, untouched by the later change.

``aws_route53_traffic_policy`` and ``aws_route53_traffic_policy_instance`` (decisions 0330,
0340): a zone, a policy and an instance apply and plan with no change. The provider makes a
new document a new policy (its ``document`` forces a replacement, each policy one version):
the policy under a new name (a name is unique in an account, as on AWS) and
``create_before_destroy`` (the old version is in use until the instance moves) — the new
policy is made, the instance moves to it with another TTL in place, then the old policy's
versions are deleted; the zone's record sets follow; the plan is empty again; destroy takes
all three away.

``aws_route53_delegation_set`` (decision 0346): a reusable set and a zone made on it, whose
``DelegationSet`` is the set's, untouched by the later change, destroyed with the rest.

``aws_route53_cidr_collection`` and ``aws_route53_cidr_location`` (decision 0353): a collection
and a location read back with boto3, two IP-based records naming them (the location and the
``*`` default); the later change adds a block in place; destroy takes them away."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from e2e.iam_helpers import client_for
from e2e.terraform_kit import Terraform, aws_provider, server_endpoint
from support.server import REGION, ServerProcess
from support.traffic_policies import ONE_VALUE, WEIGHTED

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

ZONE = "tf-traffic.example"
CONFIGURATION = (
    aws_provider()
    + """
resource "aws_route53_zone" "flow" {
  name          = "%(zone)s"
  force_destroy = true
}
resource "aws_route53_delegation_set" "shared" {
  reference_name = "tf-shared"
}
resource "aws_route53_zone" "on_set" {
  name              = "tf-on-set.example"
  delegation_set_id = aws_route53_delegation_set.shared.id
}
resource "aws_route53_record" "frankfurt" {
  zone_id        = aws_route53_zone.flow.zone_id
  name           = "near.%(zone)s"
  type           = "A"
  ttl            = 30
  records        = ["192.0.2.51"]
  set_identifier = "frankfurt"
  geoproximity_routing_policy {
    aws_region = "eu-central-1"
  }
}
resource "aws_route53_record" "tokyo" {
  zone_id        = aws_route53_zone.flow.zone_id
  name           = "near.%(zone)s"
  type           = "A"
  ttl            = 30
  records        = ["192.0.2.52"]
  set_identifier = "tokyo"
  geoproximity_routing_policy {
    bias = 40
    coordinates {
      latitude  = "35.68"
      longitude = "139.69"
    }
  }
}
resource "aws_route53_cidr_collection" "networks" {
  name = "tf-networks"
}
resource "aws_route53_cidr_location" "office" {
  cidr_collection_id = aws_route53_cidr_collection.networks.id
  name               = "office"
  cidr_blocks        = %(blocks)s
}
resource "aws_route53_record" "office" {
  zone_id        = aws_route53_zone.flow.zone_id
  name           = "ip.%(zone)s"
  type           = "A"
  ttl            = 30
  records        = ["192.0.2.71"]
  set_identifier = "office"
  cidr_routing_policy {
    collection_id = aws_route53_cidr_collection.networks.id
    location_name = aws_route53_cidr_location.office.name
  }
}
resource "aws_route53_record" "elsewhere" {
  zone_id        = aws_route53_zone.flow.zone_id
  name           = "ip.%(zone)s"
  type           = "A"
  ttl            = 30
  records        = ["192.0.2.79"]
  set_identifier = "elsewhere"
  cidr_routing_policy {
    collection_id = aws_route53_cidr_collection.networks.id
    location_name = "*"
  }
}
resource "aws_route53_traffic_policy" "flow" {
  name     = "%(name)s"
  comment  = "%(comment)s"
  lifecycle {
    create_before_destroy = true
  }
  document = <<EOT
%(document)s
EOT
}
resource "aws_route53_traffic_policy_instance" "www" {
  hosted_zone_id         = aws_route53_zone.flow.zone_id
  name                   = "www.%(zone)s"
  traffic_policy_id      = aws_route53_traffic_policy.flow.id
  traffic_policy_version = aws_route53_traffic_policy.flow.version
  ttl                    = %(ttl)d
}
"""
)


def _write(terraform: Terraform, server: ServerProcess, **changed: object) -> None:
    values: dict[str, object] = {
        "region": REGION,
        "credentials": server.credentials_file,
        "endpoints": server_endpoint(terraform.work, server.endpoint),
        "zone": ZONE,
        "name": "tf-flow-1",
        "comment": "first",
        "document": json.dumps(ONE_VALUE, indent=2),
        "ttl": 60,
        "blocks": json.dumps(["198.51.100.0/24"]),
    }
    (terraform.work / "main.tf").write_text(CONFIGURATION % (values | changed))


def _converged(terraform: Terraform) -> None:
    plan: subprocess.CompletedProcess[str] = terraform(
        "plan", "-input=false", "-detailed-exitcode", check=False
    )
    assert plan.returncode == 0, plan.stdout[-3000:]


def _policy_sets(route53: Any, zone_id: str) -> list[dict[str, Any]]:
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [s for s in listed if s.get("TrafficPolicyInstanceId")]


def _geoproximity(route53: Any, zone_id: str) -> dict[str, dict[str, Any]]:
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {
        s["SetIdentifier"]: s["GeoProximityLocation"] for s in listed if "GeoProximityLocation" in s
    }


_GEOPROXIMITY = {
    # The provider writes the bias it was not given as 0; AWS gives it back.
    "frankfurt": {"AWSRegion": "eu-central-1", "Bias": 0},
    "tokyo": {"Coordinates": {"Latitude": "35.68", "Longitude": "139.69"}, "Bias": 40},
}


def _cidr_blocks(route53: Any, collection_id: str) -> list[tuple[str, str]]:
    listed = route53.list_cidr_blocks(CollectionId=collection_id)["CidrBlocks"]
    return [(b["LocationName"], b["CidrBlock"]) for b in listed]


def _cidr_routing(route53: Any, zone_id: str) -> dict[str, str]:
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {
        s["SetIdentifier"]: s["CidrRoutingConfig"]["LocationName"]
        for s in listed
        if "CidrRoutingConfig" in s
    }


def _policies_named(route53: Any, prefix: str) -> list[str]:
    """The ids of the account's policies named ``prefix…`` (the session's server is shared)."""
    listed = route53.list_traffic_policies()["TrafficPolicySummaries"]
    return [s["Id"] for s in listed if s["Name"].startswith(prefix)]


def test_geoproximity_records_and_traffic_policies_through_terraform(
    server: ServerProcess, terraform: Terraform
) -> None:
    route53: Any = client_for(server, "route53", *server.credentials())
    _write(terraform, server)
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    state = json.loads(terraform("show", "-json").stdout)
    made = state["values"]["root_module"]["resources"]
    resources = {r["type"]: r["values"] for r in made}
    zones = {r["name"]: r["values"] for r in made if r["type"] == "aws_route53_zone"}
    policy_id = resources["aws_route53_traffic_policy"]["id"]
    instance_id = resources["aws_route53_traffic_policy_instance"]["id"]
    zone_id = zones["flow"]["zone_id"]
    assert resources["aws_route53_traffic_policy"]["version"] == 1
    instance = route53.get_traffic_policy_instance(Id=instance_id)["TrafficPolicyInstance"]
    assert (instance["TrafficPolicyVersion"], instance["TTL"]) == (1, 60)
    (only,) = _policy_sets(route53, zone_id)
    assert only["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    assert _geoproximity(route53, zone_id) == _GEOPROXIMITY
    shared = resources["aws_route53_delegation_set"]
    on_set = route53.get_hosted_zone(Id=zones["on_set"]["zone_id"])
    found = route53.get_reusable_delegation_set(Id=shared["id"])["DelegationSet"]
    assert on_set["DelegationSet"]["Id"].endswith(shared["id"])
    assert on_set["DelegationSet"]["NameServers"] == found["NameServers"]
    assert shared["name_servers"] == found["NameServers"]
    networks = resources["aws_route53_cidr_collection"]
    collection_id = networks["id"]
    assert networks["arn"] == f"arn:aws:route53:::cidrcollection/{collection_id}"
    assert _cidr_blocks(route53, collection_id) == [("office", "198.51.100.0/24")]
    assert _cidr_routing(route53, zone_id) == {"office": "office", "elsewhere": "*"}
    _converged(terraform)

    second = json.dumps(WEIGHTED, indent=2)
    blocks = json.dumps(["198.51.100.0/24", "203.0.113.0/24"])
    _write(terraform, server, name="tf-flow-2", comment="second", document=second, ttl=120,
           blocks=blocks)  # fmt: skip
    terraform("apply", "-auto-approve", "-input=false")
    state = json.loads(terraform("show", "-json").stdout)
    resources = {r["type"]: r["values"] for r in state["values"]["root_module"]["resources"]}
    replaced = resources["aws_route53_traffic_policy"]
    assert replaced["id"] != policy_id and replaced["version"] == 1
    assert _policies_named(route53, "tf-flow-") == [replaced["id"]]  # the old one's deleted
    latest = route53.get_traffic_policy(Id=replaced["id"], Version=1)["TrafficPolicy"]
    assert json.loads(latest["Document"]) == WEIGHTED and latest["Comment"] == "second"
    instance = route53.get_traffic_policy_instance(Id=instance_id)["TrafficPolicyInstance"]
    assert resources["aws_route53_traffic_policy_instance"]["id"] == instance_id  # in place
    assert (instance["TrafficPolicyId"], instance["TTL"]) == (replaced["id"], 120)
    weighted = _policy_sets(route53, zone_id)
    assert sorted(s["Weight"] for s in weighted) == [30, 70]
    assert {s["TTL"] for s in weighted} == {120}
    assert _geoproximity(route53, zone_id) == _GEOPROXIMITY
    assert _cidr_blocks(route53, collection_id) == [
        ("office", "198.51.100.0/24"),
        ("office", "203.0.113.0/24"),
    ]
    _converged(terraform)

    terraform("destroy", "-auto-approve", "-input=false")
    assert _policies_named(route53, "tf-flow-") == []
    with pytest.raises(route53.exceptions.NoSuchTrafficPolicyInstance):
        route53.get_traffic_policy_instance(Id=instance_id)
    with pytest.raises(route53.exceptions.NoSuchHostedZone):
        route53.get_hosted_zone(Id=zone_id)
    with pytest.raises(route53.exceptions.NoSuchDelegationSet):
        route53.get_reusable_delegation_set(Id=shared["id"])
    with pytest.raises(route53.exceptions.NoSuchCidrCollectionException):
        route53.list_cidr_locations(CollectionId=collection_id)
