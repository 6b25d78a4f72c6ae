"""Certificate Manager's daily expiry check (decision 0230): each certificate checked once a day
whatever the number of gateways looking; its days to expiry written as the account's
``AWS/CertificateManager`` ``DaysToExpiry``; within the account's ``DaysBeforeExpiry`` (45 by
default, or as put) an "ACM Certificate Approaching Expiration" event in AWS's shape routed
into the account's default bus, where a rule on ``aws.acm`` takes it; none once expired."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from andromede.acm.expiry import check_expiry
from andromede.acm.memory import MemoryCertificateStore
from andromede.acm.service import AcmService
from andromede.events.dispatcher import Deliveries
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsService
from andromede.wiring.acm import ExpiryReports
from andromede.wiring.queues import KeySealer
from support.acmapp import REGION, issue
from support.firehoseapp import RecordingSink
from support.keys import key_service_in

ACCOUNT = "123456789012"


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        self.sent.append((arn, message))


async def test_each_certificate_checked_once_a_day_and_its_event_when_due(
    tmp_path: Path,
) -> None:
    acm = AcmService(MemoryCertificateStore(), KeySealer(key_service_in(tmp_path)), REGION)
    soon = await acm.import_certificate(ACCOUNT, *_pem("soon.example.test", 10))
    later = await acm.import_certificate(ACCOUNT, *_pem("later.example.test", 80))
    other = await acm.import_certificate("210987654321", *_pem("other.example.test", 30))
    await acm.put_days_before_expiry("210987654321", 20)
    sent = Sink()
    deliveries = Deliveries(sent)
    events = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    queues = {}
    for account in (ACCOUNT, "210987654321"):
        pattern = {"source": ["aws.acm"], "detail-type": ["ACM Certificate Approaching Expiration"]}
        await events.put_rule(account, "expiry", "default", event_pattern=json.dumps(pattern))
        queues[account] = f"arn:aws:sqs:{REGION}:{account}:expiry"
        await events.put_targets(
            account, "expiry", "default", [{"Id": "q", "Arn": queues[account]}]
        )
    metrics = RecordingSink()
    reports = ExpiryReports(events, metrics)
    now = datetime.now(UTC)
    # Two gateways at once: each certificate is checked by one of them.
    assert await check_expiry(acm, now, reports) + await check_expiry(acm, now, reports) == 3
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    same_day = max(now, midnight + timedelta(hours=23, minutes=59))
    assert await check_expiry(acm, same_day, reports) == 0
    await deliveries.drain()
    [(queue, message)] = sent.sent
    event = json.loads(message)
    assert queue == queues[ACCOUNT]
    assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
        "aws.acm", "ACM Certificate Approaching Expiration", ACCOUNT, REGION,
    )  # fmt: skip
    assert event["resources"] == [soon.arn]
    assert event["detail"] == {"DaysToExpiry": 8, "CommonName": "soon.example.test"}
    days = {p[3][0][1]: p[4] for p in metrics.points}
    assert days == {soon.arn: 8.0, later.arn: 78.0, other.arn: 28.0}
    assert {(p[0], p[1], p[2]) for p in metrics.points} == {
        (ACCOUNT, "AWS/CertificateManager", "DaysToExpiry"),
        ("210987654321", "AWS/CertificateManager", "DaysToExpiry"),
    }
    # The next day, again; nine days on, the first expired (neither its metric nor its
    # event) and the other account's within its 20 days.
    assert await check_expiry(acm, now + timedelta(days=1), reports) == 3
    metrics.points.clear()
    assert await check_expiry(acm, now + timedelta(days=9), reports) == 2
    await deliveries.drain()
    reminders = [
        (arn, json.loads(m)["resources"][0], json.loads(m)["detail"]["DaysToExpiry"])
        for arn, m in sent.sent
    ]
    assert reminders == [
        (queues[ACCOUNT], soon.arn, 8),
        (queues[ACCOUNT], soon.arn, 7),
        (queues["210987654321"], other.arn, 19),
    ]
    assert {p[3][0][1]: p[4] for p in metrics.points} == {later.arn: 69.0, other.arn: 19.0}


def _pem(name: str, days: int) -> tuple[str, str, str]:
    # Valid since two days: ``days`` from then.
    issued = issue(name, kind="ec256", days=days, starts=timedelta(days=-2))
    return issued.body, issued.key, issued.chain
