"""Decision 0200's connection store over every implementation (memory, SQLite, PostgreSQL):
connections and API destinations created once, counted against their limit, listed by name,
prefix, state or connection, changed, deleted; a closed tenant's all gone; over SQL, the
credentials sealed at rest (their AAD binding the connection's ARN), a change that lost a
race refused, and a shredded tenant's never opening."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database
from andromede.events.connection_model import ApiDestination, Connection, split_auth
from andromede.events.connection_store import ConnectionStore, MemoryConnectionStore
from andromede.events.connection_store_sql import SqlConnectionStore
from andromede.events.errors import (
    ConcurrentModification,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
)
from andromede.events.store_sql import SqlEventsStore
from andromede.wiring.queues import EventKeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

REGION = "eu-west-3"
T0 = datetime(2026, 12, 6, 1, 0, 0, tzinfo=UTC)
AUTH = {"BasicAuthParameters": {"Username": "u", "Password": "clear-pass-é"}}


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConnectionStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryConnectionStore() if db is None else SqlConnectionStore(db, REGION)


@pytest.fixture(params=SQL_BACKENDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def connection(name: str, tenant: str = "t1", **kw: object) -> Connection:
    return Connection(
        tenant, REGION, name, f"uuid-{name}", "BASIC", AUTH, shown=split_auth(AUTH)[0],
        created=T0, modified=T0, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def destination(name: str, conn: Connection, tenant: str = "t1") -> ApiDestination:
    return ApiDestination(
        tenant, REGION, name, f"d-{name}", conn.name, conn.arn, "https://x.example/*", "POST",
        created=T0, modified=T0,
    )  # fmt: skip


async def test_connections(store: ConnectionStore) -> None:
    for name in ("b", "A", "a-2"):
        await store.create_connection(connection(name), limit=3)
    await store.create_connection(connection("a", tenant="t2"), limit=3)
    with pytest.raises(ResourceAlreadyExists):
        await store.create_connection(connection("b"), limit=9)
    with pytest.raises(LimitExceeded):
        await store.create_connection(connection("c"), limit=3)
    held = await store.get_connection("t1", "b")
    assert held is not None and held.auth == AUTH and held.created == T0
    assert held.shown == {"BasicAuthParameters": {"Username": "u"}}
    listed = await store.list_connections("t1", prefix="", state=None, after="", limit=9)
    assert [c.name for c in listed] == ["A", "a-2", "b"]
    assert all(c.auth is None for c in listed)  # a list never opens a secret
    assert [
        c.name
        for c in await store.list_connections("t1", prefix="a", state=None, after="", limit=9)
    ] == ["a-2"]
    after = await store.list_connections("t1", prefix="", state=None, after="A", limit=1)
    assert [c.name for c in after] == ["a-2"]
    changed = await store.change_connection(
        "t1", "b", lambda c: replace(c, auth=None, state="DEAUTHORIZED", description="d")
    )
    assert changed.state == "DEAUTHORIZED"
    again = await store.get_connection("t1", "b")
    assert again is not None and again.auth is None and again.description == "d"
    assert [
        c.name
        for c in await store.list_connections(
            "t1", prefix="", state="DEAUTHORIZED", after="", limit=9
        )
    ] == ["b"]
    with pytest.raises(ResourceNotFound):
        await store.change_connection("t1", "zz", lambda c: c)
    gone = await store.delete_connection("t1", "A")
    assert gone.name == "A"
    with pytest.raises(ResourceNotFound):
        await store.delete_connection("t1", "A")
    assert await store.get_connection("t2", "a") is not None


async def test_destinations(store: ConnectionStore) -> None:
    one, two = connection("one"), connection("two")
    for conn in (one, two):
        await store.create_connection(conn, limit=9)
    await store.create_destination(destination("d1", one), limit=2)
    await store.create_destination(destination("d2", two), limit=2)
    with pytest.raises(ResourceAlreadyExists):
        await store.create_destination(destination("d1", one), limit=9)
    with pytest.raises(LimitExceeded):
        await store.create_destination(destination("d3", one), limit=2)
    held = await store.get_destination("t1", "d1")
    assert held is not None and held.connection_arn == one.arn and held.rate == 300
    by = await store.list_destinations("t1", prefix="", connection_arn=two.arn, after="", limit=9)
    assert [d.name for d in by] == ["d2"]
    page = await store.list_destinations("t1", prefix="d", connection_arn=None, after="", limit=1)
    assert [d.name for d in page] == ["d1"]
    moved = await store.change_destination(
        "t1", "d1", lambda d: replace(d, connection_name="two", connection_arn=two.arn, rate=7)
    )
    assert moved.rate == 7
    again = await store.get_destination("t1", "d1")
    assert again is not None and (again.connection_name, again.rate) == ("two", 7)
    await store.delete_destination("t1", "d2")
    with pytest.raises(ResourceNotFound):
        await store.delete_destination("t1", "d2")
    with pytest.raises(ResourceNotFound):
        await store.change_destination("t1", "d2", lambda d: d)
    assert await store.forget_tenant("t1") == 2
    assert await store.get_destination("t1", "d1") is None
    assert await store.list_connections("t1", prefix="", state=None, after="", limit=9) == []


async def test_sealed_at_rest_raced_and_shredded(sql_db: Database, tmp_path: Path) -> None:
    keys = key_service_in(tmp_path / "keys")
    store = SqlConnectionStore(sql_db, REGION, EventKeySealer(keys))
    for tenant in ("t1", "t2"):
        await store.create_connection(connection("c", tenant=tenant), limit=9)
    raw = await sql_db.read(
        lambda conn: [
            (r.secret, r.document) for r in conn.execute(sa.select(tables.events_connections))
        ]
    )
    assert len(raw) == 2 and not any("clear-pass" in s + d for s, d in raw)
    held = await store.get_connection("t2", "c")
    assert held is not None and held.auth == AUTH
    # A connection made again under the name is another: its AAD binds the uuid.
    renamed = tables.events_connections.update().where(
        tables.events_connections.c.tenant_id == "t2"
    )
    await sql_db.write(lambda conn: conn.execute(renamed.values(uuid="other")))
    reborn = await store.get_connection("t2", "c")
    assert reborn is not None and reborn.auth is None
    # A change that lost the race to another gateway's is refused, not lost.
    sneaky = SqlConnectionStore(sql_db, REGION, EventKeySealer(keys))

    def meanwhile(held: Connection) -> Connection:
        return replace(held, description="first", modified=T0.replace(minute=5))

    async def race() -> None:
        await sneaky.change_connection("t1", "c", meanwhile)

    def slow(held: Connection) -> Connection:
        return replace(held, description="second", modified=T0.replace(minute=6))

    # The other change lands between this one's read and its write.
    original = store._read_row

    async def read_then_race(tenant_id: str, name: str) -> object:
        row = await original(tenant_id, name)
        await race()
        return row

    store._read_row = read_then_race  # type: ignore[method-assign]
    with pytest.raises(ConcurrentModification):
        await store.change_connection("t1", "c", slow)
    store._read_row = original  # type: ignore[method-assign]
    kept = await store.get_connection("t1", "c")
    assert kept is not None and kept.description == "first"
    keys.destroy_tenant_key("t1")
    shredded = await store.get_connection("t1", "c")
    assert shredded is not None and shredded.auth is None  # never opens: never invoked
    # The events store's tenant closure (what ``serve`` calls) takes them along.
    await store.create_destination(destination("d", connection("c", tenant="t2"), "t2"), limit=9)
    await SqlEventsStore(sql_db, REGION).forget_tenant("t2")
    assert await store.get_connection("t2", "c") is None
    assert await store.get_destination("t2", "d") is None
    assert await store.get_connection("t1", "c") is not None


async def test_a_connection_whose_credentials_are_in_a_secret(store: ConnectionStore) -> None:
    """Decision 0204: the store keeps the secret's ARN and the KMS key, no credentials."""
    secret = f"arn:aws:secretsmanager:{REGION}:t1:secret:events!connection/s/uuid-s-AbCdEf"
    made = replace(connection("s", secret_ref=secret, kms_key="alias/mine"), auth=None)
    await store.create_connection(made, limit=9)
    held = await store.get_connection("t1", "s")
    assert held is not None and held.auth is None
    assert (held.secret_ref, held.secret_arn, held.kms_key) == (secret, secret, "alias/mine")
    assert held.shown == {"BasicAuthParameters": {"Username": "u"}}
    [listed] = await store.list_connections("t1", prefix="s", state=None, after="", limit=9)
    assert listed.secret_ref == secret and listed.kms_key == "alias/mine"
    changed = await store.change_connection(
        "t1", "s", lambda c: replace(c, kms_key=None, description="d")
    )
    assert changed.kms_key is None
    held = await store.get_connection("t1", "s")
    assert held is not None and held.kms_key is None and held.secret_ref == secret
    assert held.description == "d" and held.auth is None
    # A connection of before decision 0204: AWS's shape of ARN, no secret behind it.
    old = connection("o")
    assert old.secret_ref is None
    assert old.secret_arn.endswith(":secret:events!connection/o/uuid-o-uuid-o")


async def test_a_limit_counts_the_names_it_is_told(store: ConnectionStore) -> None:
    """Decision 0402: ``counted`` says which stored names count toward a limit (a Region's
    view counting its own, ``~<region>~<name>``); the others, the account's in another
    Region, are no hindrance, and without it every one counts."""
    other = "~eu-de-1~"

    def mine(name: str) -> bool:
        return name.startswith(other)

    home = connection("c")
    await store.create_connection(home, limit=1)
    with pytest.raises(LimitExceeded):
        await store.create_connection(connection("d"), limit=1)
    there = connection(f"{other}c")
    await store.create_connection(there, limit=1, counted=mine)
    with pytest.raises(LimitExceeded):
        await store.create_connection(connection(f"{other}d"), limit=1, counted=mine)

    await store.create_destination(destination("d", home), limit=1)
    with pytest.raises(LimitExceeded):
        await store.create_destination(destination("e", home), limit=1)
    await store.create_destination(destination(f"{other}d", there), limit=1, counted=mine)
    with pytest.raises(LimitExceeded):
        await store.create_destination(destination(f"{other}e", there), limit=1, counted=mine)
