"""Decision 0305's query logging configurations through botocore's rest-xml model, over a real
CloudWatch Logs service (memory store, the real sealer): Create, Get, List (by zone, in
pages) and Delete with AWS's shapes; AWS's refusals (no zone, a private zone, an ARN that is
no log group's, a group of another account or Region or missing, no resource policy letting
``route53.amazonaws.com`` in or one denying it, a second configuration for a zone, an unknown
id); a configuration gone with its zone and with a closed tenant; Create authorised on the
zone its body names and audited. Then the lines: AWS's format, the bounded buffer (drops
counted, one WARNING a flush), the flush by stream, a writer's failure kept from the name
servers, and the Logs writer's policy check and metering."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from andromede.route53.query_log_lines import QueryLogBuffer, QueryLogTarget, log_line
from andromede.route53.query_logging import MemoryQueryLogStore, QueryLoggingService
from andromede.route53_query_logs import LogsQueryLogGroups, LogsQueryLogWriter
from support.kmskit import REGION
from support.logsapp import LogsWorld, logs_world
from support.route53app import World, route53_world

GROUP = "/aws/route53/example.com"
EDGE = REGION


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def aws_policy(account: str) -> str:
    """AWS's documented resource policy for query logging."""
    return policy(
        {
            "Sid": "Route53LogsToCloudWatchLogs",
            "Effect": "Allow",
            "Principal": {"Service": ["route53.amazonaws.com"]},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{account}:log-group:/aws/route53/*",
            "Condition": {
                "ArnLike": {"aws:SourceArn": "arn:aws:route53:::hostedzone/*"},
                "StringEquals": {"aws:SourceAccount": account},
            },
        }
    )


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "logs")


@pytest.fixture
async def r53(tmp_path: Path, logs: LogsWorld) -> AsyncIterator[World]:
    async for made in route53_world(tmp_path / "r53"):
        groups = LogsQueryLogGroups(lambda: logs.service, REGION, EDGE)
        service = QueryLoggingService(made.service, MemoryQueryLogStore(), groups, REGION)
        made.service.zone_deleted = service.zone_deleted
        made.app.query_logging = service
        await logs.service.create_group(made.tenant_id, GROUP, None, {})
        yield made


def group_arn(world: World, name: str = GROUP) -> str:
    return f"arn:aws:logs:{REGION}:{world.tenant_id}:log-group:{name}"


async def test_create_get_list_and_delete(r53: World, logs: LogsWorld) -> None:
    await logs.service.put_resource_policy(r53.tenant_id, "r53", aws_policy(r53.tenant_id))
    zone = await r53.zone()
    other = await r53.zone("example.org")
    await logs.service.create_group(r53.tenant_id, "/aws/route53/example.org", None, {})
    made = await r53.client(
        "CreateQueryLoggingConfig", HostedZoneId=zone, CloudWatchLogsLogGroupArn=group_arn(r53)
    )
    config = made["QueryLoggingConfig"]
    assert config["HostedZoneId"] == zone.rsplit("/", 1)[-1]
    assert config["CloudWatchLogsLogGroupArn"] == group_arn(r53)
    assert made["Location"] == f"/2013-04-01/queryloggingconfig/{config['Id']}"
    got = await r53.client("GetQueryLoggingConfig", Id=config["Id"])
    assert got == {"QueryLoggingConfig": config}
    second = await r53.client(
        "CreateQueryLoggingConfig", HostedZoneId=other,
        CloudWatchLogsLogGroupArn=group_arn(r53, "/aws/route53/example.org") + ":*",
    )  # fmt: skip
    listed = await r53.client("ListQueryLoggingConfigs")
    ids = sorted([config["Id"], second["QueryLoggingConfig"]["Id"]])
    assert [c["Id"] for c in listed["QueryLoggingConfigs"]] == ids
    first = await r53.client("ListQueryLoggingConfigs", MaxResults="1")
    assert [c["Id"] for c in first["QueryLoggingConfigs"]] == ids[:1]
    rest = await r53.client("ListQueryLoggingConfigs", MaxResults="1", NextToken=first["NextToken"])
    assert [c["Id"] for c in rest["QueryLoggingConfigs"]] == ids[1:]
    assert "NextToken" not in rest
    of_zone = await r53.client("ListQueryLoggingConfigs", HostedZoneId=zone)
    assert of_zone["QueryLoggingConfigs"] == [config]
    await r53.client("DeleteQueryLoggingConfig", Id=config["Id"])
    await r53.fails("GetQueryLoggingConfig", "NoSuchQueryLoggingConfig", Id=config["Id"])
    await r53.fails("DeleteQueryLoggingConfig", "NoSuchQueryLoggingConfig", Id=config["Id"])
    await r53.audit.flush()
    listed = await r53.audit_store.list_events(None, after_id=0, limit=500)
    actions = {e.action for _, e in listed}
    assert {"route53:CreateQueryLoggingConfig", "route53:DeleteQueryLoggingConfig"} <= actions


async def test_refused_in_route53s_words(r53: World, logs: LogsWorld) -> None:
    zone = await r53.zone()
    create = {"HostedZoneId": zone, "CloudWatchLogsLogGroupArn": group_arn(r53)}
    await r53.fails("CreateQueryLoggingConfig", "NoSuchHostedZone",
                    **create | {"HostedZoneId": "ZNOSUCHZONE"})  # fmt: skip
    r53.vpcs.add((r53.tenant_id, "eu-fr-1", "vpc-1"))
    private = await r53.zone("inside.test", VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"})
    refused = await r53.fails("CreateQueryLoggingConfig", "InvalidInput",
                              **create | {"HostedZoneId": private})  # fmt: skip
    assert "public hosted zones" in refused.message
    for arn in ("nonsense", f"arn:aws:logs:{REGION}:{r53.tenant_id}:destination:d"):
        await r53.fails("CreateQueryLoggingConfig", "InvalidInput",
                        **create | {"CloudWatchLogsLogGroupArn": arn})  # fmt: skip
    for arn in (
        group_arn(r53).replace(r53.tenant_id, "999999999999"),
        group_arn(r53).replace(REGION, "eu-fr-2"),
        group_arn(r53, "/aws/route53/missing"),
    ):
        await r53.fails("CreateQueryLoggingConfig", "NoSuchCloudWatchLogsLogGroup",
                        **create | {"CloudWatchLogsLogGroupArn": arn})  # fmt: skip
    # No policy, one for another service, one Route 53 is denied by.
    await r53.fails("CreateQueryLoggingConfig", "InsufficientCloudWatchLogsResourcePolicy",
                    **create)  # fmt: skip
    events_only = aws_policy(r53.tenant_id).replace("route53.amazonaws.com", "events.amazonaws.com")
    await logs.service.put_resource_policy(r53.tenant_id, "events", events_only)
    await r53.fails("CreateQueryLoggingConfig", "InsufficientCloudWatchLogsResourcePolicy",
                    **create)  # fmt: skip
    await logs.service.put_resource_policy(r53.tenant_id, "r53", aws_policy(r53.tenant_id))
    deny = policy({"Effect": "Deny", "Principal": {"Service": "route53.amazonaws.com"},
                   "Action": "logs:PutLogEvents", "Resource": "*"})  # fmt: skip
    await logs.service.put_resource_policy(r53.tenant_id, "deny", deny)
    await r53.fails("CreateQueryLoggingConfig", "InsufficientCloudWatchLogsResourcePolicy",
                    **create)  # fmt: skip
    await logs.service.delete_resource_policy(r53.tenant_id, "deny")
    await r53.client("CreateQueryLoggingConfig", **create)
    await r53.fails("CreateQueryLoggingConfig", "QueryLoggingConfigAlreadyExists", **create)
    await r53.fails("ListQueryLoggingConfigs", "InvalidInput", MaxResults="0")
    await r53.fails("ListQueryLoggingConfigs", "InvalidInput", MaxResults="101")
    await r53.fails("ListQueryLoggingConfigs", "InvalidPaginationToken", NextToken="!")
    await r53.fails("ListQueryLoggingConfigs", "NoSuchHostedZone", HostedZoneId="ZNOSUCHZONE")


async def test_gone_with_its_zone_and_with_the_tenant(r53: World, logs: LogsWorld) -> None:
    await logs.service.put_resource_policy(r53.tenant_id, "r53", aws_policy(r53.tenant_id))
    zone = await r53.zone()
    create = {"HostedZoneId": zone, "CloudWatchLogsLogGroupArn": group_arn(r53)}
    made = (await r53.client("CreateQueryLoggingConfig", **create))["QueryLoggingConfig"]
    await r53.client("DeleteHostedZone", Id=zone)
    await r53.fails("GetQueryLoggingConfig", "NoSuchQueryLoggingConfig", Id=made["Id"])
    zone = await r53.zone("example.net")
    await r53.client("CreateQueryLoggingConfig", **create | {"HostedZoneId": zone})
    service = r53.app.query_logging
    assert service is not None
    assert await service.store.forget_tenant(r53.tenant_id) == 1
    assert (await r53.client("ListQueryLoggingConfigs"))["QueryLoggingConfigs"] == []


async def test_create_is_authorised_on_the_zone_its_body_names(r53: World) -> None:
    zone = (await r53.zone()).rsplit("/", 1)[-1]
    user = await r53.iam_user("dns")

    def allow(resource: str) -> str:
        return policy({"Effect": "Allow", "Action": "route53:CreateQueryLoggingConfig",
                       "Resource": resource})  # fmt: skip

    await r53.identity.put_user_policy(r53.tenant_id, "dns", "p",
                                       allow("arn:aws:route53:::hostedzone/ZOTHER"))  # fmt: skip
    create = {"HostedZoneId": zone, "CloudWatchLogsLogGroupArn": group_arn(r53)}
    denied = await user.fails("CreateQueryLoggingConfig", "AccessDenied", **create)
    assert f"hostedzone/{zone}" in denied.message
    await r53.identity.put_user_policy(r53.tenant_id, "dns", "p",
                                       allow(f"arn:aws:route53:::hostedzone/{zone}"))  # fmt: skip
    # Let in: refused further on, for the Logs resource policy missing.
    await user.fails("CreateQueryLoggingConfig", "InsufficientCloudWatchLogsResourcePolicy",
                     **create)  # fmt: skip


def test_a_line_in_aws_format() -> None:
    at = 1_513_152_962_130  # 2017-12-13T08:16:02.130Z
    line = log_line(at, "Z123412341234", "example.com.", "A", "NOERROR", "UDP", "FRA6-C1",
                    "192.0.2.1", None)  # fmt: skip
    assert line == (
        "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6-C1 192.0.2.1 -"
    )
    odd = log_line(at + 5, "Z1", "a b.example.com.", "AAAA", "NXDOMAIN", "TCP", "e", "::1",
                   "203.0.113.0/24")  # fmt: skip
    assert odd.split(" ") == ["1.0", "2017-12-13T08:16:02.135Z", "Z1", "a_b.example.com",
                              "AAAA", "NXDOMAIN", "TCP", "e", "::1", "203.0.113.0/24"]  # fmt: skip


def _record(buffer: QueryLogBuffer, zone: str, name: str = "www.example.com.") -> None:
    buffer.record(zone, name, "A", "NOERROR", "UDP", "192.0.2.9", None)


async def test_the_buffer_is_bounded_and_flushed_by_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer = QueryLogBuffer(3, "edge-1", clock=lambda: 1_800_000_000.0)
    buffer.set_targets({"Z1": QueryLogTarget("a1", "/g1"), "Z2": QueryLogTarget("a2", "/g2")})
    _record(buffer, "Z9")  # a zone that does not log its queries
    assert buffer.held == 0 and not buffer.logs("Z9")
    with caplog.at_level(logging.WARNING, "andromede.route53.query_log_lines"):
        for zone in ("Z1", "Z2", "Z1", "Z1", "Z2"):
            _record(buffer, zone)
    assert (buffer.held, buffer.dropped) == (3, 2)
    assert len([r for r in caplog.records if "buffer holds 3" in r.message]) == 1
    written: list[tuple[str, str, str, Sequence[tuple[int, str]]]] = []

    async def write(tenant: str, group: str, stream: str, lines: Sequence[tuple[int, str]]) -> None:
        written.append((tenant, group, stream, lines))

    assert await buffer.flush(write) == 3
    assert [(t, g, s, len(x)) for t, g, s, x in written] == [
        ("a1", "/g1", "Z1/edge-1", 2), ("a2", "/g2", "Z2/edge-1", 1),
    ]  # fmt: skip
    assert written[0][3][0] == (1_800_000_000_000, written[0][3][0][1])
    assert buffer.held == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, "andromede.route53.query_log_lines"):
        for _ in range(4):
            _record(buffer, "Z1")
    assert buffer.dropped == 3  # counted on, warned once more after the flush
    assert len([r for r in caplog.records if "buffer holds" in r.message]) == 1


async def test_a_failing_writer_loses_its_lines_only(caplog: pytest.LogCaptureFixture) -> None:
    buffer = QueryLogBuffer(10, "edge-1")
    buffer.set_targets({"Z1": QueryLogTarget("a1", "/g1"), "Z2": QueryLogTarget("a2", "/g2")})
    _record(buffer, "Z1")
    _record(buffer, "Z2")
    kept: list[str] = []

    async def write(tenant: str, group: str, stream: str, lines: Sequence[tuple[int, str]]) -> None:
        if tenant == "a1":
            raise RuntimeError("Logs is down")
        kept.append(stream)

    with caplog.at_level(logging.ERROR):
        assert await buffer.flush(write) == 1
    assert kept == ["Z2/edge-1"]
    assert "1 lines not written" in caplog.text
    assert buffer.held == 0


async def test_the_writer_checks_the_policy_and_meters(logs: LogsWorld) -> None:
    account = "111111111111"
    logs.clock.now = int(time.time() * 1000)
    await logs.service.create_group(account, GROUP, None, {})
    groups = LogsQueryLogGroups(lambda: logs.service, REGION, EDGE)
    metered: list[tuple[str, int, str]] = []
    writer = LogsQueryLogWriter(groups, lambda: logs.service,
                                lambda t, n, m: metered.append((t, n, m)))  # fmt: skip
    line = (logs.clock.now, "1.0 x Z1 www.example.com A NOERROR UDP e 192.0.2.1 -")
    await writer(account, GROUP, f"Z1/{EDGE}", [line])  # no policy: nothing written
    streams, _ = await logs.service.describe_streams(account, GROUP, "", "LogStreamName", False,
                                                     None, None)  # fmt: skip
    assert streams == [] and metered == []
    await logs.service.put_resource_policy(account, "r53", aws_policy(account))
    await writer(account, GROUP, f"Z1/{EDGE}", [line, line])
    events, _, _ = await logs.service.get_events(
        account, GROUP, f"Z1/{EDGE}", start=None, end=None, start_from_head=True, limit=None,
        token=None,
    )  # fmt: skip
    assert [e.message for e in events] == [line[1], line[1]]
    assert metered == [(account, 2 * (len(line[1]) + 26), "logs.ingested")]
    await logs.service.delete_group(account, GROUP)
    await writer(account, GROUP, f"Z1/{EDGE}", [line])  # the group gone: dropped, no error
