"""Terraform's ``aws_route53_record`` ``geoproximity_routing_policy`` against the session's
``andromede serve`` (decision 0339), in a small configuration of its own rather than the main
scenario (which is slow): a public zone and two geoproximity records (an AWS Region; the
coordinates of an endpoint outside AWS with a bias); the configuration applies, plans with no
change, reads back with boto3 as written, and is destroyed."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from e2e.iam_helpers import client_for
from e2e.terraform_kit import Terraform, aws_provider, server_endpoint
from support.server import REGION, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

CONFIGURATION = (
    aws_provider()
    + """
resource "aws_route53_zone" "near" {
  name = "tf-near.example"
}
resource "aws_route53_record" "frankfurt" {
  zone_id        = aws_route53_zone.near.zone_id
  name           = "www.tf-near.example"
  type           = "A"
  ttl            = 30
  records        = ["192.0.2.51"]
  set_identifier = "frankfurt"
  geoproximity_routing_policy {
    aws_region = "eu-central-1"
  }
}
resource "aws_route53_record" "tokyo" {
  zone_id        = aws_route53_zone.near.zone_id
  name           = "www.tf-near.example"
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
"""
)


def test_geoproximity_records_through_terraform(
    server: ServerProcess, terraform: Terraform
) -> None:
    (terraform.work / "main.tf").write_text(
        CONFIGURATION
        % {
            "region": REGION,
            "credentials": server.credentials_file,
            "endpoints": server_endpoint(terraform.work, server.endpoint),
        }
    )
    route53: Any = client_for(server, "route53", *server.credentials())
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    plan: subprocess.CompletedProcess[str] = terraform(
        "plan", "-input=false", "-detailed-exitcode", check=False
    )
    assert plan.returncode == 0, plan.stdout[-3000:]
    (zone,) = [
        z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "tf-near.example."
    ]
    listed = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert {r["SetIdentifier"]: r["GeoProximityLocation"] for r in listed if r["Type"] == "A"} == {
        # The provider writes the bias it was not given as 0; AWS gives it back.
        "frankfurt": {"AWSRegion": "eu-central-1", "Bias": 0},
        "tokyo": {"Coordinates": {"Latitude": "35.68", "Longitude": "139.69"}, "Bias": 40},
    }
    terraform("destroy", "-auto-approve", "-input=false")
    names = [z["Name"] for z in route53.list_hosted_zones()["HostedZones"]]
    assert "tf-near.example." not in names
