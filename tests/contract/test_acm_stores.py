"""Decision 0230's certificate store over every implementation (memory, SQLite, PostgreSQL):
a certificate written is read back whole (what ACM read of it, its sealed key, its tags), the
account's bound of certificates, compare-and-set writes on the revision, listing oldest
first, one account's certificates apart from another's, the expiry configuration, and a closed
tenant forgotten."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.acm.errors import LimitExceeded
from andromede.acm.memory import MemoryCertificateStore
from andromede.acm.model import Certificate, Inspected
from andromede.acm.store import CertificateStore
from andromede.acm.store_sql import SqlCertificateStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 6, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CertificateStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryCertificateStore() if db is None else SqlCertificateStore(db)


def certificate(certificate_id: str, tenant_id: str = "111111111111", *,
                minutes: int = 0) -> Certificate:  # fmt: skip
    return Certificate(
        tenant_id=tenant_id,
        certificate_id=certificate_id,
        region="eu-fr-1",
        body="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        chain="-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----",
        sealed_key=b"\x01sealed\x00key",
        facts=Inspected(
            domain_name="www.example.test",
            alternative_names=("www.example.test", "api.example.test"),
            serial="0a:0b",
            subject="O=Example,CN=www.example.test",
            issuer="CN=Test CA",
            not_before=datetime(2026, 12, 1, tzinfo=UTC),
            not_after=datetime(2027, 3, 1, tzinfo=UTC),
            key_algorithm="RSA_2048",
            signature_algorithm="SHA256WITHRSA",
            key_usages=("DIGITAL_SIGNATURE",),
            extended_key_usages=(
                ("TLS_WEB_SERVER_AUTHENTICATION", "1.3.6.1.5.5.7.3.1"),
                ("CUSTOM", "1.2.3.4"),
            ),
        ),
        created_at=T0 + timedelta(minutes=minutes),
        imported_at=T0 + timedelta(minutes=minutes),
        tags=(("team", "web"), ("env", "")),
    )


async def test_certificates_kept_listed_changed_and_deleted(store: CertificateStore) -> None:
    first = certificate("b-first")
    await store.create(first, max_certificates=2)
    assert await store.get("111111111111", "b-first") == first
    assert await store.get("222222222222", "b-first") is None
    await store.create(certificate("a-second", minutes=1), max_certificates=2)
    with pytest.raises(LimitExceeded):
        await store.create(certificate("c-third", minutes=2), max_certificates=2)
    issued = dataclasses.replace(
        certificate("c-third", "222222222222"), kind="PRIVATE",
        authority_arn="arn:aws:acm-pca:eu-fr-1:000000000000:certificate-authority/x",
    )  # fmt: skip
    await store.create(issued, max_certificates=2)
    assert await store.get("222222222222", "c-third") == issued
    listed = await store.list_certificates("111111111111")
    assert [c.certificate_id for c in listed] == ["b-first", "a-second"]  # oldest first
    changed = dataclasses.replace(first, tags=(), sealed_key=b"new", revision=2)
    assert await store.replace(changed)
    assert await store.get("111111111111", "b-first") == changed
    assert not await store.replace(dataclasses.replace(first, revision=2))  # lost the race
    assert await store.delete("111111111111", "b-first")
    assert not await store.delete("111111111111", "b-first")
    assert not await store.replace(dataclasses.replace(changed, revision=3))  # gone


async def test_configuration_and_a_closed_tenant(store: CertificateStore) -> None:
    assert await store.days_before_expiry("111111111111") is None
    await store.put_days_before_expiry("111111111111", 30)
    await store.put_days_before_expiry("111111111111", 20)
    await store.put_days_before_expiry("222222222222", 10)
    assert await store.days_before_expiry("111111111111") == 20
    await store.create(certificate("one"), max_certificates=5)
    await store.create(certificate("two", minutes=1), max_certificates=5)
    await store.create(certificate("kept", "222222222222"), max_certificates=5)
    assert await store.forget_tenant("111111111111") == 2
    assert await store.list_certificates("111111111111") == []
    assert await store.days_before_expiry("111111111111") is None
    assert [c.certificate_id for c in await store.list_certificates("222222222222")] == ["kept"]
    assert await store.days_before_expiry("222222222222") == 10


async def test_each_days_expiry_check_claimed_once(store: CertificateStore) -> None:
    await store.create(certificate("one"), max_certificates=5)
    await store.create(certificate("two", minutes=1), max_certificates=5)
    await store.create(certificate("far", "222222222222"), max_certificates=5)
    elsewhere = dataclasses.replace(certificate("west"), region="eu-fr-2")
    await store.create(elsewhere, max_certificates=5)
    due = await store.unchecked("eu-fr-1", 20000, 10)
    assert sorted(c.certificate_id for c in due) == ["far", "one", "two"]
    assert len(await store.unchecked("eu-fr-1", 20000, 2)) == 2
    assert await store.mark_checked("111111111111", "one", 20000)
    assert not await store.mark_checked("111111111111", "one", 20000)  # another gateway's
    assert not await store.mark_checked("111111111111", "gone", 20000)
    due = await store.unchecked("eu-fr-1", 20000, 10)
    assert sorted(c.certificate_id for c in due) == ["far", "two"]
    # A write of the certificate (a re-import, a tag) leaves the day's check as it was.
    held = await store.get("111111111111", "one")
    assert held is not None
    assert await store.replace(dataclasses.replace(held, tags=(), revision=2))
    assert "one" not in {c.certificate_id for c in await store.unchecked("eu-fr-1", 20000, 10)}
    assert "one" in {c.certificate_id for c in await store.unchecked("eu-fr-1", 20001, 10)}


async def test_imports_of_the_last_year_bounded(store: CertificateStore) -> None:
    year = 365 * 86_400_000
    start = 1_800_000_000_000
    await store.count_import("111111111111", start, start - year, 2)
    await store.count_import("111111111111", start + 1, start + 1 - year, 2)
    with pytest.raises(LimitExceeded, match="365 days: 2"):
        await store.count_import("111111111111", start + 2, start + 2 - year, 2)
    await store.count_import("222222222222", start + 2, start + 2 - year, 2)  # its own
    # A year after the first, it no longer counts.
    await store.count_import("111111111111", start + year + 1, start + 1, 2)
    with pytest.raises(LimitExceeded):
        await store.count_import("111111111111", start + year + 1, start + 1, 2)
    await store.forget_tenant("111111111111")
    await store.count_import("111111111111", start + year + 1, start + 1, 2)
