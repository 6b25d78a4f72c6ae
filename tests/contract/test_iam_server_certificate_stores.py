"""IAM server certificates (decision 0205) on every identity store: the in-memory twin,
SQLite and PostgreSQL — one per name per account, kept whole (the sealed key's bytes
included), renamed by a compare-and-set that refuses a taken name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.iam.errors import EntityAlreadyExists, NoSuchEntity
from andromede.iam.model import (
    AccessKey,
    AccessKeyStatus,
    ServerCertificate,
    Tenant,
    TenantStatus,
    User,
)
from andromede.iam.store import IdentityStore
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.iam.store_sql import SqlIdentityStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def identity(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdentityStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryIdentityStore() if db is None else SqlIdentityStore(db)


async def tenant(identity: IdentityStore, n: int) -> Tenant:
    created = Tenant(id=f"20000000000{n}", name=f"c{n}", status=TenantStatus.ACTIVE, created_at=T0)
    root = User(id=f"AIDA{n}", tenant_id=created.id, name="root", is_root=True, created_at=T0)
    key = AccessKey(
        access_key_id=f"AKIA{n:016d}", user_id=root.id, status=AccessKeyStatus.ACTIVE, created_at=T0
    )
    await identity.create_tenant_with_root(created, root, key, "v1:root")
    return created


def certificate(tenant_id: str, name: str, n: int = 1) -> ServerCertificate:
    return ServerCertificate(
        tenant_id=tenant_id,
        name=name,
        path="/",
        certificate_id=f"ASCA{n:017d}",
        body="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        chain=None,
        sealed_private_key=bytes(range(256)) + b"\x00\xff",
        uploaded_at=T0,
        expiration=T0 + timedelta(days=90),
        tags=(("team", "web"),),
    )


async def test_certificates_are_kept_per_account_and_name(identity: IdentityStore) -> None:
    one, two = await tenant(identity, 1), await tenant(identity, 2)
    web = replace(certificate(one.id, "web"), chain="-----BEGIN CERTIFICATE-----\n", path="/a/")
    await identity.create_server_certificate(web)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_server_certificate(replace(web, certificate_id="ASCA2"))
    elsewhere = certificate(two.id, "web", 3)
    await identity.create_server_certificate(elsewhere)
    assert await identity.get_server_certificate(one.id, "web") == web
    assert await identity.get_server_certificate(two.id, "web") == elsewhere
    assert await identity.get_server_certificate(one.id, "missing") is None
    api = certificate(one.id, "Api", 4)
    await identity.create_server_certificate(api)
    assert await identity.list_server_certificates(one.id) == [api, web]  # byte order
    assert await identity.delete_server_certificate(two.id, "web")
    assert not await identity.delete_server_certificate(two.id, "web")
    assert await identity.list_server_certificates(one.id) == [api, web]


async def test_a_rename_is_a_compare_and_set(identity: IdentityStore) -> None:
    one = await tenant(identity, 1)
    web, api = certificate(one.id, "web"), certificate(one.id, "api", 2)
    await identity.create_server_certificate(web)
    await identity.create_server_certificate(api)
    renamed = replace(web, name="www", path="/prod/", tags=())
    assert await identity.update_server_certificate(renamed, web)
    assert await identity.get_server_certificate(one.id, "web") is None
    assert await identity.get_server_certificate(one.id, "www") == renamed
    # A write from a read another write has changed since: refused, nothing changed.
    assert not await identity.update_server_certificate(
        replace(renamed, path="/x/"), replace(renamed, path="/old/")
    )
    assert await identity.get_server_certificate(one.id, "www") == renamed
    # The new name taken: EntityAlreadyExists, both kept.
    with pytest.raises(EntityAlreadyExists):
        await identity.update_server_certificate(replace(renamed, name="api"), renamed)
    assert await identity.get_server_certificate(one.id, "api") == api
    with pytest.raises(NoSuchEntity):
        await identity.update_server_certificate(renamed, web)
