"""Decision 0414: EventBridge's queue targets (``wiring.events.EventTargets``) over the queues
as ``serve`` wires them for two declared Regions (SQLite): a queue ARN of eu-de-1 is sent to
eu-de-1's queue, never to the default Region's namesake; an ARN of a Region not declared is
no resource."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.events.dispatcher import DeliveryRefused
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.settings import RegionSettings, Settings
from andromede.wiring.events import EventTargets
from andromede.wiring.queues import queue_service
from support.schema import migrated_sqlite

FR, DE = "eu-fr-1", "eu-de-1"
ACCOUNT = "000000000001"


def _events_may_send(queue_arn: str, rule_arn: str) -> dict[str, str]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }
    return {"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


async def test_a_queue_target_is_of_its_arns_region(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, region=FR, regions=(RegionSettings(name=FR), RegionSettings(name=DE))
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    try:
        queues = queue_service(settings, db, keys)
        de = queues.in_region(DE)
        assert de is not None
        rule = f"arn:aws:events:{DE}:{ACCOUNT}:rule/r"
        made = {}
        for region, service in ((FR, queues), (DE, de)):
            arn = f"arn:aws:sqs:{region}:{ACCOUNT}:orders"
            made[region] = await service.create_queue(
                ACCOUNT, "orders", _events_may_send(arn, rule)
            )
        targets = EventTargets(queues, None, None)  # type: ignore[arg-type]
        await targets.send(
            ACCOUNT, made[DE].arn, '{"n": 1}', rule_arn=rule, group_id=None, dedup_id="e1"
        )
        got = await de.receive(made[DE], max_messages=10, visibility=0, wait=0)
        assert [m.payload.body for m in got] == ['{"n": 1}']
        assert await queues.receive(made[FR], max_messages=10, visibility=0, wait=0) == []
        with pytest.raises(DeliveryRefused) as refused:
            await targets.send(
                ACCOUNT,
                f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders",
                "{}",
                rule_arn=rule,
                group_id=None,
                dedup_id="e2",
            )
        assert refused.value.code == "NO_RESOURCE"
    finally:
        keys.close()
        await db.close()
