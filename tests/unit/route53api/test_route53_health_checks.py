"""Decision 0285's health check API through botocore's own rest-xml model: made with AWS's
defaults, idempotent by caller reference (a deleted check's reference refused), refused with
AWS's ``InvalidInput`` where the configuration is not valid, read, listed in pages, counted,
updated under ``HealthCheckVersion`` with ``ResetElements``, tagged (ListTagsForResources
too), deleted unless a CALCULATED check names it; ``TooManyHealthChecks``; IAM deciding on
``healthcheck/<id>``; tenants apart; ListHostedZonesByVPC."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.route53.health_memory import MemoryHealthCheckStore
from andromede.route53.health_service import HealthCheckService, HealthLimits
from support.route53app import World, route53_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in route53_world(tmp_path):
        made.app.health = HealthCheckService(
            MemoryHealthCheckStore(),
            HealthLimits(max_health_checks=4, allowed=(ipaddress.ip_network("127.0.0.0/8"),)),
        )
        yield made


HTTP = {"Type": "HTTP", "FullyQualifiedDomainName": "www.example.com", "ResourcePath": "/up"}


async def test_a_check_is_made_with_awss_defaults_and_is_idempotent(world: World) -> None:
    made = await world.client("CreateHealthCheck", CallerReference="r1", HealthCheckConfig=HTTP)
    check = made["HealthCheck"]
    assert made["Location"].endswith("/2013-04-01/healthcheck/" + check["Id"])
    assert check["CallerReference"] == "r1" and check["HealthCheckVersion"] == 1
    config = check["HealthCheckConfig"]
    assert config["Port"] == 80 and config["RequestInterval"] == 30
    assert config["FailureThreshold"] == 3 and config["EnableSNI"] is False
    assert config["Inverted"] is False and config["Disabled"] is False
    assert "Regions" not in config and config["ResourcePath"] == "/up"  # all, as AWS
    again = await world.client("CreateHealthCheck", CallerReference="r1", HealthCheckConfig=HTTP)
    assert again["HealthCheck"]["Id"] == check["Id"]
    other = dict(HTTP, Port=8080)
    failed = await world.fails(
        "CreateHealthCheck",
        "HealthCheckAlreadyExists",
        CallerReference="r1",
        HealthCheckConfig=other,
    )
    assert failed.status == 409
    https = await world.client(
        "CreateHealthCheck",
        CallerReference="r2",
        HealthCheckConfig={"Type": "HTTPS_STR_MATCH", "IPAddress": "81.2.69.10",
                           "SearchString": "ok", "RequestInterval": 10, "FailureThreshold": 1},
    )  # fmt: skip
    config = https["HealthCheck"]["HealthCheckConfig"]
    assert (config["Port"], config["EnableSNI"], config["RequestInterval"]) == (443, True, 10)
    got = await world.client("GetHealthCheck", HealthCheckId=https["HealthCheck"]["Id"])
    assert got["HealthCheck"] == https["HealthCheck"]
    await world.client("DeleteHealthCheck", HealthCheckId=check["Id"])
    await world.fails("GetHealthCheck", "NoSuchHealthCheck", HealthCheckId=check["Id"])
    # AWS: the reference of a deleted check makes no new one, whatever the settings.
    await world.fails(
        "CreateHealthCheck",
        "HealthCheckAlreadyExists",
        CallerReference="r1",
        HealthCheckConfig=HTTP,
    )


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"Type": "HTTP"}, "IP address or a fully qualified domain name"),
        ({"Type": "TCP", "IPAddress": "81.2.69.1"}, "must have a port"),
        ({"Type": "TCP", "IPAddress": "81.2.69.1", "Port": 22, "FullyQualifiedDomainName": "a.b"},
         "must not have a fully qualified domain name"),
        ({"Type": "HTTP_STR_MATCH", "IPAddress": "81.2.69.1"}, "must have a search string"),
        ({"Type": "HTTP", "IPAddress": "81.2.69.1", "SearchString": "x"}, "must not have a search"),
        ({"Type": "HTTP", "IPAddress": "10.1.2.3"}, "reserved or private range"),
        ({"Type": "HTTP", "IPAddress": "not-an-ip"}, "is not valid"),
        ({"Type": "HTTP", "IPAddress": "81.2.69.1", "RequestInterval": 20}, "10 or 30"),
        ({"Type": "HTTP", "IPAddress": "81.2.69.1",
          "Regions": ["us-east-1", "us-east-1", "eu-west-1"]}, "at least 3 regions"),
        ({"Type": "TCP", "IPAddress": "81.2.69.1", "Port": 22,
          "AlarmIdentifier": {"Region": "us-east-1", "Name": "a"}}, "metric region"),
        ({"Type": "HTTP", "IPAddress": "81.2.69.1", "EnableSNI": True}, "SNI"),
        ({"Type": "CLOUDWATCH_METRIC"}, "alarm identifier"),
        ({"Type": "CALCULATED", "IPAddress": "81.2.69.1"}, "must not have an endpoint"),
        ({"Type": "CALCULATED", "ChildHealthChecks": ["nothing"]}, "nothing"),
    ],
)  # fmt: skip
async def test_awss_refusals(world: World, config: dict[str, object], words: str) -> None:
    code = "NoSuchHealthCheck" if words == "nothing" else "InvalidInput"
    failed = await world.fails(
        "CreateHealthCheck", code, CallerReference="bad", HealthCheckConfig=config
    )
    assert words in failed.message
    assert (await world.client("GetHealthCheckCount"))["HealthCheckCount"] == 0


async def test_listed_counted_limited_and_tagged(world: World) -> None:
    ids = []
    for n in range(4):
        made = await world.client(
            "CreateHealthCheck",
            CallerReference=f"c{n}",
            HealthCheckConfig={"Type": "TCP", "IPAddress": f"81.2.69.{n + 1}", "Port": 22},
        )
        ids.append(made["HealthCheck"]["Id"])
    failed = await world.fails(
        "CreateHealthCheck",
        "TooManyHealthChecks",
        CallerReference="c9",
        HealthCheckConfig={"Type": "TCP", "IPAddress": "81.2.69.9", "Port": 22},
    )
    assert "4 health checks" in failed.message
    assert (await world.client("GetHealthCheckCount"))["HealthCheckCount"] == 4
    first = await world.client("ListHealthChecks", MaxItems="3")
    assert first["IsTruncated"] is True and len(first["HealthChecks"]) == 3
    rest = await world.client("ListHealthChecks", Marker=first["NextMarker"])
    assert rest["IsTruncated"] is False
    assert [c["Id"] for c in first["HealthChecks"] + rest["HealthChecks"]] == sorted(ids)
    await world.client(
        "ChangeTagsForResource",
        ResourceType="healthcheck",
        ResourceId=ids[0],
        AddTags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}],
    )
    await world.client(
        "ChangeTagsForResource",
        ResourceType="healthcheck",
        ResourceId=ids[0],
        RemoveTagKeys=["env"],
    )
    tags = await world.client("ListTagsForResource", ResourceType="healthcheck", ResourceId=ids[0])
    assert tags["ResourceTagSet"] == {
        "ResourceType": "healthcheck",
        "ResourceId": ids[0],
        "Tags": [{"Key": "team", "Value": "web"}],
    }
    both = await world.client(
        "ListTagsForResources", ResourceType="healthcheck", ResourceIds=[ids[0], ids[1]]
    )
    assert [s["Tags"] for s in both["ResourceTagSets"]] == [[{"Key": "team", "Value": "web"}], []]
    zone = (await world.zone()).split("/")[-1]
    await world.client(
        "ChangeTagsForResource",
        ResourceType="hostedzone",
        ResourceId=zone,
        AddTags=[{"Key": "k", "Value": "v"}],
    )
    zones = await world.client(
        "ListTagsForResources", ResourceType="hostedzone", ResourceIds=[zone]
    )
    assert zones["ResourceTagSets"][0]["Tags"] == [{"Key": "k", "Value": "v"}]
    await world.fails(
        "ListTagsForResources", "NoSuchHealthCheck", ResourceType="healthcheck", ResourceIds=["x"]
    )
    # Still the account's own: another tenant sees none of them.
    other = await world.other_tenant("other")
    await other.fails("GetHealthCheck", "NoSuchHealthCheck", HealthCheckId=ids[0])
    await other.fails(
        "ListTagsForResource", "NoSuchHealthCheck", ResourceType="healthcheck", ResourceId=ids[0]
    )
    assert (await other.client("ListHealthChecks"))["HealthChecks"] == []


async def test_updates_follow_the_version_and_reset_elements(world: World) -> None:
    made = await world.client("CreateHealthCheck", CallerReference="u", HealthCheckConfig=HTTP)
    check_id = made["HealthCheck"]["Id"]
    updated = await world.client(
        "UpdateHealthCheck",
        HealthCheckId=check_id,
        HealthCheckVersion=1,
        Port=8080,
        Inverted=True,
        FailureThreshold=5,
        Regions=["us-east-1", "us-west-1", "eu-west-1"],
    )
    check = updated["HealthCheck"]
    assert check["HealthCheckVersion"] == 2
    config = check["HealthCheckConfig"]
    assert (config["Port"], config["Inverted"], config["FailureThreshold"]) == (8080, True, 5)
    assert config["Regions"] == ["us-east-1", "us-west-1", "eu-west-1"]
    failed = await world.fails(
        "UpdateHealthCheck", "HealthCheckVersionMismatch", HealthCheckId=check_id,
        HealthCheckVersion=1, Port=81,
    )  # fmt: skip
    assert failed.status == 409
    reset = await world.client(
        "UpdateHealthCheck",
        HealthCheckId=check_id,
        IPAddress="81.2.69.7",
        ResetElements=["FullyQualifiedDomainName", "Regions", "ResourcePath"],
    )
    config = reset["HealthCheck"]["HealthCheckConfig"]
    assert "FullyQualifiedDomainName" not in config and "ResourcePath" not in config
    assert config["IPAddress"] == "81.2.69.7" and "Regions" not in config
    assert reset["HealthCheck"]["HealthCheckVersion"] == 3
    await world.fails(
        "UpdateHealthCheck", "InvalidInput", HealthCheckId=check_id,
        ResetElements=["IPAddress"], IPAddress="81.2.69.7",
    )  # fmt: skip
    await world.fails(
        "UpdateHealthCheck", "InvalidInput", HealthCheckId=check_id, IPAddress="172.16.0.1"
    )
    await world.fails("UpdateHealthCheck", "NoSuchHealthCheck", HealthCheckId="nope", Port=81)


async def test_a_child_of_a_calculated_check_is_in_use(world: World) -> None:
    child = await world.client(
        "CreateHealthCheck",
        CallerReference="child",
        HealthCheckConfig={"Type": "TCP", "IPAddress": "81.2.69.1", "Port": 443},
    )
    child_id = child["HealthCheck"]["Id"]
    parent = await world.client(
        "CreateHealthCheck",
        CallerReference="parent",
        HealthCheckConfig={"Type": "CALCULATED", "ChildHealthChecks": [child_id],
                           "HealthThreshold": 1},
    )  # fmt: skip
    config = parent["HealthCheck"]["HealthCheckConfig"]
    assert config["ChildHealthChecks"] == [child_id] and "Port" not in config
    failed = await world.fails("DeleteHealthCheck", "HealthCheckInUse", HealthCheckId=child_id)
    assert parent["HealthCheck"]["Id"] in failed.message
    await world.fails(
        "GetHealthCheckStatus", "InvalidInput", HealthCheckId=parent["HealthCheck"]["Id"]
    )
    await world.client("DeleteHealthCheck", HealthCheckId=parent["HealthCheck"]["Id"])
    await world.client("DeleteHealthCheck", HealthCheckId=child_id)
    await world.fails("DeleteHealthCheck", "NoSuchHealthCheck", HealthCheckId=child_id)
    unchecked = await world.client(
        "CreateHealthCheck",
        CallerReference="metric",
        HealthCheckConfig={"Type": "CLOUDWATCH_METRIC",
                           "AlarmIdentifier": {"Region": "eu-west-1", "Name": "cpu"}},
    )  # fmt: skip
    config = unchecked["HealthCheck"]["HealthCheckConfig"]
    assert config["AlarmIdentifier"] == {"Region": "eu-west-1", "Name": "cpu"}
    assert config["InsufficientDataHealthStatus"] == "LastKnownStatus"
    status = await world.client(
        "GetHealthCheckStatus", HealthCheckId=unchecked["HealthCheck"]["Id"]
    )
    assert status["HealthCheckObservations"] == []


async def test_iam_decides_on_the_health_check_and_calls_are_audited(world: World) -> None:
    made = await world.client("CreateHealthCheck", CallerReference="i", HealthCheckConfig=HTTP)
    check_id = made["HealthCheck"]["Id"]
    user = await world.iam_user("dev")
    denied = await user.fails("GetHealthCheck", "AccessDenied", HealthCheckId=check_id)
    assert f"arn:aws:route53:::healthcheck/{check_id}" in denied.message
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["route53:GetHealthCheck"],
                "Resource": f"arn:aws:route53:::healthcheck/{check_id}",
            }
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "dev", "r53", json.dumps(policy))
    assert (await user.client("GetHealthCheck", HealthCheckId=check_id))["HealthCheck"]
    await user.fails("DeleteHealthCheck", "AccessDenied", HealthCheckId=check_id)
    await user.fails("ListHealthChecks", "AccessDenied")
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    events = [e for _, e in listed if e.action == "route53:GetHealthCheck"]
    assert {e.outcome.value for e in events} == {"success", "failure"}
    assert events[-1].resource == f"arn:aws:route53:::healthcheck/{check_id}"


async def test_hosted_zones_by_vpc(world: World) -> None:
    world.vpcs.update(
        {(world.tenant_id, "eu-fr-1", "vpc-1"), (world.tenant_id, "eu-fr-1", "vpc-2")}
    )
    ids = []
    for name in ("b.internal", "a.internal", "c.internal"):
        made = await world.client(
            "CreateHostedZone",
            Name=name,
            CallerReference=name,
            VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
        )
        ids.append(made["HostedZone"]["Id"].split("/")[-1])
    await world.client(
        "CreateHostedZone",
        Name="d.internal",
        CallerReference="d",
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-2"},
    )
    await world.zone("public.example")
    first = await world.client(
        "ListHostedZonesByVPC", VPCId="vpc-1", VPCRegion="eu-fr-1", MaxItems="2"
    )
    summaries = first["HostedZoneSummaries"]
    assert [s["HostedZoneId"] for s in summaries] == sorted(ids)[:2]
    assert summaries[0]["Owner"] == {"OwningAccount": world.tenant_id}
    assert {s["Name"] for s in summaries} <= {"a.internal.", "b.internal.", "c.internal."}
    assert first["MaxItems"] == "2" and first["NextToken"] == sorted(ids)[2]
    rest = await world.client(
        "ListHostedZonesByVPC", VPCId="vpc-1", VPCRegion="eu-fr-1", NextToken=first["NextToken"]
    )
    assert [s["HostedZoneId"] for s in rest["HostedZoneSummaries"]] == sorted(ids)[2:]
    assert "NextToken" not in rest
    elsewhere = await world.client("ListHostedZonesByVPC", VPCId="vpc-1", VPCRegion="eu-west-1")
    assert elsewhere["HostedZoneSummaries"] == []
    await world.fails(
        "ListHostedZonesByVPC", "InvalidPaginationToken", VPCId="vpc-1", VPCRegion="eu-fr-1",
        NextToken="not a token",
    )  # fmt: skip
    other = await world.other_tenant("other")
    theirs = await other.client("ListHostedZonesByVPC", VPCId="vpc-1", VPCRegion="eu-fr-1")
    assert theirs["HostedZoneSummaries"] == []


async def test_health_checks_not_wired_are_refused_in_route53s_words(tmp_path: Path) -> None:
    async for bare in route53_world(tmp_path):
        failed = await bare.fails("ListHealthChecks", "InvalidInput")
        assert "Health checks" in failed.message
