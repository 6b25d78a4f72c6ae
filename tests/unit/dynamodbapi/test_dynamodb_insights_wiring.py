"""Decision 0278's wiring over SQLite: ``serve``'s DynamoDB app and home service get the
Contributor Insights of CloudWatch's insight rule service; a table's rules are stored as
managed rules of the account (its resource recorded), the keys of a client's item call
counted into them and written sealed (no key in the clear in the table), an import's or the
platform's own item writes not counted; the table deleted, its rules go; without
CloudWatch's rules nothing is set."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db import tables
from andromede.db.database import open_database
from andromede.dynamodb import capacity
from andromede.dynamodb.contributor_insights import ACCESSED_AND_THROTTLED
from andromede.dynamodb.model import BillingMode, KeyElement
from andromede.dynamodbapi.app import DynamoApp
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.metrics.service import MetricsService
from andromede.metrics.store import MemoryMetricStore
from andromede.settings import Settings
from andromede.wiring.dynamodb import dynamodb_api
from andromede.wiring.dynamodb_insights import dynamodb_insights
from andromede.wiring.insight_rules import insight_rule_service
from support.keys import key_service_in
from support.schema import migrated_sqlite

TENANT = "111111111111"


async def test_serve_wires_the_tables_keys_into_sealed_managed_rules(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(data_dir=tmp_path / "data", region="eu-fr-1")
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    keys = key_service_in(tmp_path / "keys")
    apis: dict[str, Any] = {}
    metrics = MetricsService(MemoryMetricStore())
    try:
        task, _ = dynamodb_api(apis, settings, db, keys, identity, audit, None, None)
        assert dynamodb_insights(apis, metrics, settings) is None  # CloudWatch's rules absent
        rules = insight_rule_service(settings, db, keys)
        metrics.insights = rules
        insights = dynamodb_insights(apis, metrics, settings)
        app = apis["dynamodb"]
        assert isinstance(app, DynamoApp) and insights is not None
        assert app.contributor_insights is insights and app.service.insights is insights
        dynamodb = app.service
        table = await dynamodb.create_table(TENANT, "secrets", KeyElement("pk", "S"), None,
            [KeyElement("pk", "S")], BillingMode.PAY_PER_REQUEST, 0, 0, [], False)  # fmt: skip
        await insights.enable(table, None, ACCESSED_AND_THROTTLED)
        (rule, _) = sorted(r.name for r in await rules.managed(TENANT))
        assert rule.startswith("DynamoDBContributorInsights-PKC-secrets-")
        await dynamodb.put_item(table, {"pk": {"S": "platform-own"}}, None)  # not a client's
        with capacity.measuring():
            await dynamodb.put_item(table, {"pk": {"S": "alice-ssn-123"}}, None)
        assert await rules.flush() == 1
        with db.engine.connect() as conn:
            stored = conn.execute(sa.select(tables.insight_rule_minutes.c.sealed)).scalars().all()
            managed = conn.execute(sa.select(tables.insight_rules.c.managed_by)).scalars().all()
        assert len(stored) == 1 and b"alice" not in stored[0]
        assert set(managed) == {f"arn:aws:dynamodb:eu-fr-1:{TENANT}:table/secrets"}
        minutes = await rules.store.minutes(TENANT, rule, 0, 2**40)
        opened = await rules._sealer.open(TENANT, [(m.sealed, m.context()) for m in minutes])
        assert b"alice-ssn-123" in opened[0] and b"platform-own" not in opened[0]
        await dynamodb.delete_table(TENANT, "secrets")
        assert await rules.managed(TENANT) == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await audit.close()
        await db.close()
