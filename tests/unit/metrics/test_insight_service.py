"""Decision 0272's service: every enabled rule covering a group sees each event (JSON and CLF
rules side by side), a rule put through another gateway applies here once the cached rules
expire, each gateway's minutes are merged in a report, and a failed write keeps the tally
for the next flush."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.metrics.insight_service import InsightLimits, InsightRuleService
from andromede.metrics.insight_store import MemoryInsightRuleStore, StoredMinute
from andromede.wiring.insight_rules import AccountRingSealer
from andromede.wiring.logs import LogKeySealer
from support.insight_rules import definition

T0 = 1_800_000_000_000  # ms, a whole minute
START = datetime.fromtimestamp(T0 / 1000, UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def sealer(tmp_path: Path) -> AccountRingSealer:
    return AccountRingSealer(LogKeySealer(KeyService(LocalKeyFileProvider(tmp_path)), None))


def report_params(name: str) -> dict[str, Any]:
    return {"RuleName": name, "StartTime": START, "EndTime": START + timedelta(minutes=1),
            "Period": 60}  # fmt: skip


async def contributors(service: InsightRuleService, name: str) -> list[tuple[Any, float]]:
    _, found = await service.report("t1", report_params(name))
    return [(keys, total) for keys, total, _ in found.contributors]


async def test_every_rule_covering_the_group_sees_each_event(sealer: AccountRingSealer) -> None:
    service = InsightRuleService(MemoryInsightRuleStore(), sealer, "r")
    await service.put("t1", "by-ip", None, definition(), None, None)
    await service.put("t1", "by-user", None, definition(Contribution={"Keys": ["$.user"]}),
                      None, None)  # fmt: skip
    clf = definition(LogFormat="CLF", Fields={"2": "verb"}, Contribution={"Keys": ["verb"]},
                     LogGroupNames=["web"])  # fmt: skip
    await service.put("t1", "by-verb", None, clf, None, None)
    event = json.dumps({"ip": "1.1.1.1", "user": "ana"})
    await service.observe("t1", "web", [(T0, event), (T0 + 1, "1.1.1.1 GET /"), (T0 + 2, event)])
    assert await contributors(service, "by-ip") == [(("1.1.1.1",), 2.0)]
    assert await contributors(service, "by-user") == [(("ana",), 2.0)]
    # A JSON event is a CLF line too: {"ip": "1.1.1.1", … has "1.1.1.1" (unquoted) second.
    assert await contributors(service, "by-verb") == [(("1.1.1.1",), 2.0), (("GET",), 1.0)]


async def test_gateways_share_rules_through_the_store_within_the_cache(
    sealer: AccountRingSealer,
) -> None:
    store = MemoryInsightRuleStore()
    clock = Clock()
    here = InsightRuleService(store, sealer, "r", InsightLimits(cache_ms=5_000), clock)
    there = InsightRuleService(store, sealer, "r", InsightLimits(cache_ms=5_000), clock)
    event = json.dumps({"ip": "1.1.1.1"})
    await here.observe("t1", "web", [(T0, event)])  # no rule yet: cached as none
    await there.put("t1", "rule", None, definition(), None, None)
    await here.observe("t1", "web", [(T0, event)])
    assert await contributors(there, "rule") == []
    clock.now += 5_000
    await here.observe("t1", "web", [(T0, event)])
    await there.observe("t1", "web", [(T0, event), (T0, event)])
    # Each gateway writes its own part of the minute; a report merges them.
    await here.flush()
    assert await contributors(there, "rule") == [(("1.1.1.1",), 3.0)]
    assert len(await store.minutes("t1", "rule", 0, 2**40)) == 2


class FailingStore(MemoryInsightRuleStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    async def add_minutes(self, parts: Any) -> None:
        if self.fail:
            raise OSError("the database is gone")
        await super().add_minutes(parts)


async def test_a_failed_write_keeps_the_tally(sealer: AccountRingSealer) -> None:
    store = FailingStore()
    matched: list[tuple[str, int]] = []
    service = InsightRuleService(store, sealer, "r")
    service.matched = lambda tenant, count: matched.append((tenant, count))
    await service.put("t1", "rule", None, definition(), None, None)
    await service.observe("t1", "web", [(T0, json.dumps({"ip": "a"}))])
    with pytest.raises(OSError):
        await service.flush()
    assert matched == []
    store.fail = False
    await service.observe("t1", "web", [(T0, json.dumps({"ip": "a"}))])
    assert await service.flush() == 1
    assert matched == [("t1", 2)]
    [part] = await store.minutes("t1", "rule", 0, 2**40)
    assert isinstance(part, StoredMinute) and b'"a"' not in part.sealed
    assert await contributors(service, "rule") == [(("a",), 2.0)]
