"""One suite over every AuditStore's transparency logs: the in-memory twin, SQLite and
PostgreSQL — entries routed to their tenant's log or the platform's, tree heads equal to the
RFC 6962 reference over the entries, proofs from stored nodes that verify, and two gateways
appending at once that extend one tree instead of forking it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.errors import InvalidTreeRange, SigningKeyMismatch
from andromede.audit.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from andromede.audit.model import (
    PLATFORM_LOG,
    AuditEvent,
    Outcome,
    TreeHead,
    entry_text,
    parse_entry,
)
from andromede.audit.note import Checkpoint, open_note
from andromede.audit.signing import FileLogSigningKey
from andromede.audit.store import AuditStore, MemoryAuditStore
from andromede.audit.store_sql import SqlAuditStore, register_signing_key
from andromede.audit.trail import AuditTrail
from andromede.db.database import Database, open_database
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_url

T0 = datetime(2026, 12, 4, 9, 30, 0, 123456, tzinfo=UTC)
KEY = FileLogSigningKey("s3.test/eu-test-1/audit", Ed25519PrivateKey.generate())


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture
def store(database: Database | None) -> AuditStore:
    return MemoryAuditStore() if database is None else SqlAuditStore(database)


def event(n: int, tenant: str | None) -> AuditEvent:
    return AuditEvent(
        occurred_at=T0,
        request_id=f"R{n}",
        tenant_id=tenant,
        principal=None if tenant is None else f"arn:aws:iam::{tenant}:root",
        action="s3:PutObject",
        resource=f"arn:aws:s3:::b/k{n}",
        outcome=Outcome.SUCCESS,
        details={"status": "200", "note": "é ✓"},
    )


async def test_each_event_goes_to_its_log_and_the_head_is_the_reference_root(
    store: AuditStore,
) -> None:
    assert await store.tree_head("111111111111") == TreeHead(0, EMPTY_ROOT)
    await store.append([event(1, "111111111111"), event(2, "222222222222"), event(3, None)])
    await store.append([event(n, "111111111111") for n in range(4, 40)])
    mine = await store.entries("111111111111", 0, 100)
    assert [parse_entry(e).request_id for e in mine] == ["R1", *(f"R{n}" for n in range(4, 40))]
    assert mine[0] == entry_text(event(1, "111111111111"))
    assert await store.entries("222222222222", 0, 10) == [entry_text(event(2, "222222222222"))]
    assert await store.entries(PLATFORM_LOG, 0, 10) == [entry_text(event(3, None))]
    head = await store.tree_head("111111111111")
    assert head.size == 37
    assert head.root_hash == root_hash([leaf_hash(e.encode()) for e in mine])
    assert await store.entries("111111111111", 30, 33) == mine[30:33]


async def test_proofs_from_stored_nodes_verify_against_signed_checkpoints(
    store: AuditStore,
) -> None:
    trail = AuditTrail(store, KEY, max_entries=10)
    tenant = "333333333333"
    heads = []
    for batch in range(6):
        await store.append([event(batch * 10 + i, tenant) for i in range(batch + 1)])
        heads.append(await trail.checkpoint(tenant))
    entries = await store.entries(tenant, 0, 100)
    leaves = [leaf_hash(e.encode()) for e in entries]
    last = heads[-1]
    assert last.size == len(entries) == 21
    opened = Checkpoint.parse(open_note(last.note, trail.origin(tenant), KEY.public_key))
    assert opened == Checkpoint(f"{KEY.name}/{tenant}", 21, root_hash(leaves))
    for index in range(last.size):
        proof = await trail.inclusion_proof(tenant, index, last.size)
        assert verify_inclusion(index, last.size, leaves[index], proof, last.root_hash)
    for old in heads:
        proof = await trail.consistency_proof(tenant, old.size, last.size)
        assert verify_consistency(old.size, last.size, proof, old.root_hash, last.root_hash)
    with pytest.raises(InvalidTreeRange):
        await trail.inclusion_proof(tenant, 0, 22)
    with pytest.raises(InvalidTreeRange):
        await trail.consistency_proof(tenant, 5, 4)
    with pytest.raises(InvalidTreeRange, match="at most 10"):
        await trail.entries(tenant, 0, 11)
    with pytest.raises(InvalidTreeRange):
        await trail.entries(tenant, 15, 22)
    assert len(await trail.entries(tenant, 11, 21)) == 10


@pytest.fixture(params=SQL_BACKENDS)
async def two_gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SqlAuditStore, SqlAuditStore, Database]]:
    url = sql_url(request, tmp_path)
    first, second = open_database(url), open_database(url)
    try:
        yield SqlAuditStore(first), SqlAuditStore(second), first
    finally:
        await first.close()
        await second.close()


async def test_two_gateways_appending_at_once_extend_one_tree(
    two_gateways: tuple[SqlAuditStore, SqlAuditStore, Database],
) -> None:
    one, two, _ = two_gateways
    tenants = ["444444444444", "555555555555"]

    async def gateway(store: SqlAuditStore, name: str) -> None:
        for batch in range(15):
            # Both logs in each batch, in opposite orders on the two gateways.
            order = tenants if name == "a" else tenants[::-1]
            await store.append([event(batch * 100 + i, order[i % 2]) for i in range(7)])

    await asyncio.gather(gateway(one, "a"), gateway(two, "b"))
    for tenant in tenants:
        head = await one.tree_head(tenant)
        entries = await two.entries(tenant, 0, 1000)
        # 7 events a batch, alternating logs: 4 + 3, so 7 per batch pair, 15 rounds each.
        assert head.size == len(entries) == 105
        assert head.root_hash == root_hash([leaf_hash(e.encode()) for e in entries])
        trail = AuditTrail(two, KEY, max_entries=10)
        for index in (0, 50, 104):
            proof = await trail.inclusion_proof(tenant, index, head.size)
            leaf = leaf_hash(entries[index].encode())
            assert verify_inclusion(index, head.size, leaf, proof, head.root_hash)


async def test_a_second_signing_key_for_the_region_is_refused(
    two_gateways: tuple[SqlAuditStore, SqlAuditStore, Database],
) -> None:
    _, _, db = two_gateways
    await register_signing_key(db, KEY.name, KEY.public_key)
    await register_signing_key(db, KEY.name, KEY.public_key)  # the same key: fine
    other = FileLogSigningKey(KEY.name, Ed25519PrivateKey.generate())
    with pytest.raises(SigningKeyMismatch, match=r"keys/audit-log\.key"):
        await register_signing_key(db, KEY.name, other.public_key)


async def test_retention_prunes_old_text_and_keeps_every_hash(store: AuditStore) -> None:
    """Entries older than the cut lose their text, in every log; heads, proofs and the
    pruned prefix's subtree hashes stay, so the rest of the log still verifies (0107)."""
    from dataclasses import replace
    from datetime import timedelta

    from andromede.audit.errors import EntriesPruned
    from andromede.audit.merkle import append_leaves, fold

    days = [
        replace(event(n, "111111111111"), occurred_at=T0 + timedelta(days=n)) for n in range(11)
    ]
    await store.append([*days, replace(event(99, None), occurred_at=T0)])
    before = await store.tree_head("111111111111")
    trail = AuditTrail(store, KEY, max_entries=100)
    old_proof = await trail.consistency_proof("111111111111", 3, 11)

    assert await store.prune(T0 + timedelta(days=7)) == 7 + 1  # and the platform's one
    assert await store.pruned_size("111111111111") == 7
    assert await store.pruned_size(PLATFORM_LOG) == 1
    assert await store.tree_head("111111111111") == before
    assert await store.prune(T0 + timedelta(days=7)) == 0  # twice: nothing more
    with pytest.raises(EntriesPruned):
        await trail.entries("111111111111", 6, 8)
    kept = await trail.entries("111111111111", 7, 11)
    assert [parse_entry(e).request_id for e in kept] == ["R7", "R8", "R9", "R10"]
    listed = await store.list_events("111111111111", after_id=0, limit=100)
    assert [e.request_id for _, e in listed] == ["R7", "R8", "R9", "R10"]
    # The pruned prefix's subtree heads and the kept entries give the signed root.
    size, hashes = await trail.pruned("111111111111")
    assert size == 7 and len(hashes) == 3  # subtrees of 4, 2 and 1 leaves
    from andromede.audit.merkle import Node, perfect_subtrees

    frontier = [Node(lv, ix, h) for (lv, ix), h in zip(perfect_subtrees(0, 7), hashes, strict=True)]
    _, frontier = append_leaves(frontier, 7, [leaf_hash(e.encode()) for e in kept])
    assert fold([n.hash for n in frontier]) == before.root_hash
    # Proofs are unchanged: every node stayed.
    assert await trail.consistency_proof("111111111111", 3, 11) == old_proof
    proof = await trail.inclusion_proof("111111111111", 2, 11)
    assert verify_inclusion(2, 11, leaf_hash(entry_text(days[2]).encode()), proof, before.root_hash)
    # The log grows on after a prune.
    await store.append([replace(event(11, "111111111111"), occurred_at=T0 + timedelta(days=11))])
    assert (await store.tree_head("111111111111")).size == 12
