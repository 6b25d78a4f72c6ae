"""Decision 0285's wiring: health checks served by Route 53's app over the database, the
settings' limit and allow-list applied, the checkers' rounds started into ``background``,
and a closed tenant's checks forgotten."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.route53.errors import InvalidInput
from andromede.route53.health_errors import TooManyHealthChecks
from andromede.route53.health_lookup import HealthStatuses
from andromede.route53.health_model import HealthCheckConfig
from andromede.route53.health_store_sql import SqlHealthCheckStore
from andromede.route53api.app import Route53App
from andromede.settings import Settings
from andromede.wiring.route53 import route53_api
from andromede.wiring.route53_health import route53_health
from support.schema import migrated_sqlite


async def test_serve_wires_health_checks_over_the_database(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region="eu-fr-1",
        route53_max_health_checks=1,
        route53_health_check_allow_cidrs=("127.0.0.0/8",),
        route53_health_check_round=0.05,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    apis: dict[str, Any] = {}
    background: list[asyncio.Task[None]] = []
    route53_api(apis, settings, db, identity, audit, None, None)
    forget = route53_health(apis, settings, db, None, None, background)
    try:
        app = apis["route53"]
        assert isinstance(app, Route53App) and app.health is not None
        assert isinstance(app.health.store, SqlHealthCheckStore)
        assert [t.get_name() for t in background] == ["route53-health-checks"]
        with socket.socket() as held:  # a port nothing listens on once closed
            held.bind(("127.0.0.1", 0))
            port = held.getsockname()[1]
        tcp = HealthCheckConfig(type="TCP", ip_address="127.0.0.1", port=port)
        made = await app.health.create("111111111111", "a", tcp)
        with pytest.raises(TooManyHealthChecks):
            await app.health.create("111111111111", "b", tcp)
        with pytest.raises(InvalidInput, match="reserved or private"):
            await app.health.create("222222222222", "c", HealthCheckConfig(
                type="TCP", ip_address="10.0.0.1", port=9))  # fmt: skip
        for _ in range(100):  # the gateway's rounds run it: the port refuses it
            await asyncio.sleep(0.05)
            if not await app.health.healthy(made.health_check_id):
                break
        assert await app.health.healthy(made.health_check_id) is False
        assert await forget("111111111111") == 1
        assert await app.health.store.checks("111111111111") == []
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await audit.close()
        await db.close()


async def test_the_record_sets_read_the_checks_statuses(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(data_dir=tmp_path / "data", region="eu-fr-1")
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    try:
        apis: dict[str, Any] = {}
        route53_api(apis, settings, db, identity, audit, None, None)
        zones = apis["route53"].service
        assert not isinstance(zones.health, HealthStatuses)  # every check healthy, until wired
        route53_health(apis, settings, db, None, None, None)
        assert isinstance(zones.health, HealthStatuses)
        assert apis["route53"].health.flipped == zones.health_changed
    finally:
        await audit.close()
        await db.close()
