"""Decision 0280's wiring: Route 53's calls routed by their credential scope (service
``route53``, signed for ``us-east-1``), the app over the database with the settings' bounds
and name servers, no VPC without the compute service, and a closed tenant's zones
forgotten."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import pytest

from andromede.api_routing import api_service
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db.database import open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.route53.errors import (
    InvalidChangeBatch,
    InvalidVPCId,
    NoSuchCloudWatchLogsLogGroup,
    TooManyHostedZones,
)
from andromede.route53.model import AliasTarget, Change, RecordSet, normalise_name
from andromede.route53.query_log_store_sql import SqlQueryLogStore
from andromede.route53.query_logging import QueryLoggingConfig
from andromede.route53.store_sql import SqlZoneStore
from andromede.route53api.app import Route53App
from andromede.settings import Settings
from andromede.wiring.route53 import bill_hosted_zones, load_balancer_aliases, route53_api
from support.apiclient import REGION
from support.elbapp import elb_world
from support.schema import migrated_sqlite


def test_route53_calls_are_routed_by_their_credential_scope() -> None:
    signed = {
        "type": "http", "path": "/2013-04-01/hostedzone", "query_string": b"",
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20261206/us-east-1/"
                     b"route53/aws4_request, SignedHeaders=host, Signature=00")],
    }  # fmt: skip
    assert api_service(signed) == "route53"


async def test_serve_wires_route53_over_the_database(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region="eu-fr-1",
        route53_name_servers=("a.ns.example",),
        route53_max_hosted_zones=1,
        route53_max_changes=2,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    apis: dict[str, Any] = {}
    forget = route53_api(apis, settings, db, identity, audit, None, None)
    try:
        app = apis["route53"]
        assert isinstance(app, Route53App) and isinstance(app.service.store, SqlZoneStore)
        zone, _ = await app.service.create_zone("111111111111", "a.example", "r", "", False, None)
        ns = next(r for r in zone.records if r.type == "NS")
        assert ns.values == ("a.ns.example.",)
        with pytest.raises(TooManyHostedZones):
            await app.service.create_zone("111111111111", "b.example", "s", "", False, None)
        with pytest.raises(InvalidVPCId):
            await app.service.create_zone(
                "222222222222", "c.example", "t", "", True, ("eu-fr-1", "vpc-1")
            )
        record = RecordSet("w.a.example.", "A", 60, ("192.0.2.1",))
        with pytest.raises(InvalidChangeBatch, match="limit of 2 exceeded"):
            await app.service.change_records(
                "111111111111", zone.zone_id, [Change("UPSERT", record)] * 3
            )
        # Query logging (decision 0305): kept in the database, no log group without Logs.
        logging = app.query_logging
        assert logging is not None and isinstance(logging.store, SqlQueryLogStore)
        arn = "arn:aws:logs:eu-fr-1:111111111111:log-group:/aws/route53/a.example"
        with pytest.raises(NoSuchCloudWatchLogsLogGroup):
            await logging.create("111111111111", zone.zone_id, arn)
        await logging.store.create(QueryLoggingConfig("c-1", "111111111111", zone.zone_id, arn, 1))
        assert await forget("111111111111") == 1
        assert await app.service.store.zones("111111111111") == []
        assert await logging.store.every() == []
    finally:
        await audit.close()
        await db.close()


async def test_hosted_zones_are_billed_a_zone_month_each_month(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(data_dir=tmp_path / "data", region="eu-fr-1")
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    billing = BillingService(MemoryBillingStore(), region="eu-fr-1", instance_types=[])
    apis: dict[str, Any] = {}
    route53_api(apis, settings, db, identity, audit, None, None)
    try:
        app = apis["route53"]
        for name in ("a.example", "b.example"):
            await app.service.create_zone("111111111111", name, name, "", False, None)
        store = app.service.store
        december, january = 1_796_083_200.0, 1_798_761_600.0  # 2026-12-01, 2027-01-01 UTC
        assert await bill_hosted_zones(store, billing, "eu-fr-1", december) == 2
        assert await bill_hosted_zones(store, billing, "eu-fr-1", december + 86400) == 0
        assert await bill_hosted_zones(store, billing, "eu-fr-1", january) == 2
        await billing.flush()
        month = parse_month(time.strftime("%Y-%m", time.gmtime()))
        report = await billing.usage_report("111111111111", month)
        billed = sum(line.quantity for line in report.lines if line.meter == "route53.hosted-zones")
        assert billed == 4  # counted in the hour of the sweep
    finally:
        await billing.close()
        await audit.close()
        await db.close()


async def test_an_alias_to_a_load_balancer_is_its_node_addresses(tmp_path: Path) -> None:
    """Decision 0284: the DNS name and CanonicalHostedZoneId DescribeLoadBalancers gives name
    the account's load balancer, standing for its nodes' addresses; anything else is no
    target (another account's, another zone id, a name that is no balancer's)."""
    async with elb_world(tmp_path) as world:
        made = await world.load_balancer("web-front")
        settings = Settings(data_dir=tmp_path, region=REGION, elb_dns_domain="example.test")
        targets = load_balancer_aliases(world.service, settings)
        dns_name = normalise_name(made["DNSName"])
        nodes = tuple(
            a["LoadBalancerAddresses"][0]["PrivateIPv4Address"] for a in made["AvailabilityZones"]
        )
        zone_id = made["CanonicalHostedZoneId"]
        assert (
            nodes
            and await targets(world.tenant_id, AliasTarget(zone_id, dns_name, False), "A") == nodes
        )
        dualstack = AliasTarget(zone_id, "dualstack." + dns_name, True)
        assert await targets(world.tenant_id, dualstack, "A") == nodes
        assert await targets(world.tenant_id, dualstack, "AAAA") == ()
        assert await targets(world.tenant_id, dualstack, "TXT") is None
        assert await targets("000000000999", dualstack, "A") is None
        assert await targets(world.tenant_id, AliasTarget("ZOTHER", dns_name, False), "A") is None
        wrong = dns_name.replace("web-front-", "web-back-")
        assert await targets(world.tenant_id, AliasTarget(zone_id, wrong, False), "A") is None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
    return port


async def test_serve_answers_public_zones_on_the_listen_setting(tmp_path: Path) -> None:
    """Decision 0289: with ``route53_dns_listen`` serve's public name servers answer the
    public zones (a change at the next query) and count each query for the zone's account
    in ``route53.dns-queries``; without it, nothing listens."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    port = _free_port()
    settings = Settings(
        data_dir=tmp_path / "data", region="eu-fr-1", route53_dns_listen=(f"127.0.0.1:{port}",)
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    billing = BillingService(MemoryBillingStore(), region="eu-fr-1", instance_types=[])
    apis: dict[str, Any] = {}
    background: list[asyncio.Task[None]] = []
    route53_api(apis, settings, db, identity, audit, None, None, billing, background)
    try:
        service = apis["route53"].service
        zone, _ = await service.create_zone("111111111111", "a.example", "r", "", False, None)
        www = RecordSet("www.a.example.", "A", 60, ("192.0.2.1",))
        await service.change_records("111111111111", zone.zone_id, [Change("CREATE", www)])
        query = dns.message.make_query("www.a.example", "A")
        for _ in range(50):  # the task binds as soon as serve's loop runs it
            await asyncio.sleep(0.02)
            with contextlib.suppress(dns.exception.Timeout, ConnectionRefusedError):
                answer = await dns.asyncquery.udp(query, "127.0.0.1", timeout=0.2, port=port)
                break
        assert [d.to_text() for d in answer.answer[0]] == ["192.0.2.1"]
        assert answer.flags & dns.flags.AA
        await service.change_records(
            "111111111111", zone.zone_id,
            [Change("UPSERT", RecordSet("www.a.example.", "A", 60, ("192.0.2.2",)))],
        )  # fmt: skip
        answer = await dns.asyncquery.tcp(query, "127.0.0.1", timeout=2, port=port)
        assert [d.to_text() for d in answer.answer[0]] == ["192.0.2.2"]
        assert "route53-query-logs" in {t.get_name() for t in background}  # decision 0305
        await billing.flush()
        month = parse_month(time.strftime("%Y-%m", time.gmtime()))
        report = await billing.usage_report("111111111111", month)
        assert sum(line.quantity for line in report.lines
                   if line.meter == "route53.dns-queries") == 2  # fmt: skip
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await billing.close()
        await audit.close()
        await db.close()


@pytest.mark.parametrize("listen", ["5353", "127.0.0.1:", "127.0.0.1:70000", ":53"])
def test_the_dns_listen_setting_wants_host_and_port(listen: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a host:port"):
        Settings(data_dir=tmp_path, route53_dns_listen=(listen,))
