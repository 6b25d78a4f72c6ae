"""Decision 0191's load balancing store over every implementation (memory, SQLite,
PostgreSQL): a resource inserted once per name and kind, within its limit (per parent for
listeners); read by id and by name, listed per account or for all; replaced and deleted only
at the revision read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.loadbalancing.store import LbStore, MemoryLbStore
from andromede.loadbalancing.store_sql import SqlLbStore
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LbStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryLbStore() if db is None else SqlLbStore(db)


async def test_insert_once_per_name_within_the_limit(store: LbStore) -> None:
    doc = {"vpc_id": "vpc-1", "nodes": [["subnet-1", "z", "10.0.0.5", "eni-1"]], "é": "✓"}
    assert await store.insert("t1", "loadbalancer", "a1", "web", "", doc, limit=2) == "ok"
    assert await store.insert("t1", "loadbalancer", "a2", "web", "", doc, limit=2) == "duplicate"
    # Another kind or account may take the name.
    assert await store.insert("t1", "targetgroup", "g1", "web", "", {}, limit=2) == "ok"
    assert await store.insert("t2", "loadbalancer", "b1", "web", "", doc, limit=2) == "ok"
    assert await store.insert("t1", "loadbalancer", "a3", "api", "", doc, limit=2) == "ok"
    assert await store.insert("t1", "loadbalancer", "a4", "db", "", doc, limit=2) == "limit"
    # A listener's limit counts its load balancer's only.
    for index in range(2):
        made = await store.insert("t1", "listener", f"l{index}", f"a1/{index}", "a1", {}, limit=2)
        assert made == "ok"
    assert await store.insert("t1", "listener", "l9", "a1/9", "a1", {}, limit=2) == "limit"
    assert await store.insert("t1", "listener", "m1", "a3/1", "a3", {}, limit=2) == "ok"
    held = await store.get("t1", "loadbalancer", "a1")
    assert held is not None and held.document == doc and held.revision == 0
    assert (await store.by_name("t1", "loadbalancer", "api")) is not None
    assert await store.by_name("t1", "loadbalancer", "nope") is None
    assert [s.name for s in await store.list("t1", "loadbalancer")] == ["api", "web"]
    assert [(s.tenant_id, s.name) for s in await store.list(None, "loadbalancer")] == [
        ("t1", "api"),
        ("t1", "web"),
        ("t2", "web"),
    ]


async def test_replace_and_delete_at_the_revision_read(store: LbStore) -> None:
    assert await store.insert("t1", "targetgroup", "g1", "web", "", {"n": 0}, limit=9) == "ok"
    read = await store.get("t1", "targetgroup", "g1")
    assert read is not None
    assert await store.replace(read, {"n": 1})
    assert not await store.replace(read, {"n": 2})  # another writer got there first
    now = await store.get("t1", "targetgroup", "g1")
    assert now is not None and now.document == {"n": 1} and now.revision == 1
    assert not await store.delete(read)
    assert await store.delete(now)
    assert await store.get("t1", "targetgroup", "g1") is None
    assert await store.insert("t1", "targetgroup", "g2", "web", "", {}, limit=9) == "ok"


async def test_rename_at_the_revision_read_unless_the_name_is_taken(store: LbStore) -> None:
    """Decision 0210: a listener moved to another port is its row renamed."""
    for resource_id, name in (("l1", "lb1/80"), ("l2", "lb1/443")):
        assert await store.insert("t1", "listener", resource_id, name, "lb1", {}, limit=9) == "ok"
    assert await store.insert("t2", "listener", "l3", "lb1/8443", "lb1", {}, limit=9) == "ok"
    read = await store.get("t1", "listener", "l1")
    assert read is not None
    assert await store.rename(read, "lb1/443", {"port": 443}) == "duplicate"
    assert await store.rename(read, "lb1/8443", {"port": 8443}) == "ok"  # t2's name is t2's
    assert await store.rename(read, "lb1/81", {"port": 81}) == "changed"  # read is stale
    now = await store.by_name("t1", "listener", "lb1/8443")
    assert now is not None and now.resource_id == "l1" and now.document == {"port": 8443}
    assert now.revision == 1 and now.parent == "lb1"
    assert await store.by_name("t1", "listener", "lb1/80") is None
    assert await store.insert("t1", "listener", "l4", "lb1/80", "lb1", {}, limit=9) == "ok"


async def test_rules_priorities_through_every_store(store: LbStore, tmp_path: Path) -> None:
    """Decision 0216: a rule is a ``rule`` row named LISTENER/PRIORITY, so PriorityInUse,
    TooManyRules and the priorities' swap come from the store's own name and limit."""
    from andromede.loadbalancing.core import LbLimits
    from support.elbapp import elb_world, refused

    async with elb_world(tmp_path, store=store, limits=LbLimits(max_rules=2)) as world:
        group = await world.ec2.root.call(
            "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
        )
        lb = await world.load_balancer(
            "shop", Type="application", Subnets=world.subnets[:1],
            SecurityGroups=[group["GroupId"]],
        )  # fmt: skip
        tg = (await world.target_group("api", Protocol="HTTP", Port=80))["TargetGroupArn"]
        listener = (
            await world.client.call(
                "CreateListener",
                LoadBalancerArn=lb["LoadBalancerArn"],
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
            )
        )["Listeners"][0]["ListenerArn"]

        def rule(priority: int) -> dict[str, object]:
            return {
                "ListenerArn": listener, "Priority": priority,
                "Conditions": [{"Field": "path-pattern", "Values": [f"/{priority}"]}],
                "Actions": [{"Type": "forward", "TargetGroupArn": tg}],
            }  # fmt: skip

        one = (await world.client.call("CreateRule", **rule(1)))["Rules"][0]["RuleArn"]
        await refused(world.client, "CreateRule", "PriorityInUse", **rule(1))
        two = (await world.client.call("CreateRule", **rule(2)))["Rules"][0]["RuleArn"]
        await refused(world.client, "CreateRule", "TooManyRules", **rule(3))
        await world.client.call(
            "SetRulePriorities",
            RulePriorities=[{"RuleArn": one, "Priority": 2}, {"RuleArn": two, "Priority": 1}],
        )
        listed = (await world.client.call("DescribeRules", ListenerArn=listener))["Rules"]
        assert [(r["RuleArn"], r["Priority"]) for r in listed] == [
            (two, "1"), (one, "2"), (listed[2]["RuleArn"], "default"),
        ]  # fmt: skip
        await world.client.call("DeleteListener", ListenerArn=listener)
        assert await store.list(world.tenant_id, "rule") == []


async def test_trust_stores_through_every_store(store: LbStore) -> None:
    """Decision 0256: a trust store is a ``truststore`` row (its bundle in its document), each
    revocation list a ``revocation`` row under it: made, counted, listed, removed with it, and
    the name unique per account (DuplicateTrustStoreName) and the count bounded
    (TooManyTrustStores) by the store's own name and limit."""
    from andromede.loadbalancing.core import LbLimits
    from andromede.loadbalancing.errors import Duplicate, NotFound, TooMany
    from andromede.loadbalancing.service import LoadBalancingService
    from andromede.loadbalancing.trust_store_service import ObjectPlace
    from support.client_pki import ClientCa

    class Objects:
        def __init__(self) -> None:
            self.held: dict[str, bytes] = {}

        async def read(
            self, caller: object, bucket: str, key: str, version: str | None, limit: int
        ) -> bytes | None:
            return self.held.get(key)

    ca = ClientCa()
    objects = Objects()
    objects.held = {"ca.pem": ca.pem.encode(), "ca.crl": ca.crl(7, 9)}
    service = LoadBalancingService(
        store,
        None,
        "eu-fr-1",
        LbLimits(max_trust_stores=1),  # type: ignore[arg-type]
    )
    service.objects = objects
    made = await service.create_trust_store("t1", "me", "clients", ObjectPlace("b", "ca.pem"))
    with pytest.raises(Duplicate):
        await service.create_trust_store("t1", "me", "clients", ObjectPlace("b", "ca.pem"))
    with pytest.raises(TooMany):
        await service.create_trust_store("t1", "me", "other", ObjectPlace("b", "ca.pem"))
    assert (
        await service.create_trust_store("t2", "me", "clients", ObjectPlace("b", "ca.pem"))
    ).name
    added = await service.add_revocations(
        "t1", "me", made.arn, [(ObjectPlace("b", "ca.crl"), "CRL")] * 2
    )
    assert [(r.revocation_id, r.entries) for r in added] == [(1, 2), (2, 2)]
    listed = await service.trust_stores("t1")
    assert [(s.name, s.ca_count, s.revoked_entries) for s in listed] == [("clients", 1, 4)]
    assert listed[0].bundle == ca.pem
    await service.remove_revocations("t1", made.arn, [1])
    assert [r.revocation_id for r in await service.revocations("t1", made.arn)] == [2]
    await service.delete_trust_store("t1", made.arn)
    assert await store.list("t1", "revocation") == []
    with pytest.raises(NotFound):
        await service.trust_store("t1", made.arn)
