"""The metadata database and the once-per-deployment start-up.

Where the database is and how it is opened and migrated; the first tenant's and the first
platform operator's credentials files; ``prepare``, the start-up work done before worker
processes start so that they never race on it (decision 0004).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from andromede.db.database import Database, describe_url, open_database
from andromede.db.migrate import upgrade
from andromede.iam.service import BootstrapResult, IdentityService
from andromede.notifications.store_sql import SqlEventQueue
from andromede.object_keys import key_service, object_cipher
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from andromede.wiring.identity import identity_service
from andromede.wiring.queues import EventKeySealer
from andromede.wiring.storage import open_blob_stores, storage_limits

__all__ = [
    "bootstrap_accounts",
    "credentials_ini",
    "database_url",
    "migrate",
    "open_metadata_database",
    "prepare",
    "reencrypt_legacy_objects",
    "seal_legacy_notification_events",
    "write_credentials",
]

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """The metadata database's URL, in clear: never log it (see ``describe_url``)."""
    return settings.effective_database_url


def open_metadata_database(settings: Settings, url: str) -> Database:
    return open_database(
        url, pool_size=settings.database_pool_size, timeout=settings.database_timeout
    )


async def migrate(settings: Settings) -> str:
    """Create the data folder and bring the metadata database to the latest schema; returns
    the database URL."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    url = database_url(settings)
    log.info("metadata database %s: migrating to the latest schema", describe_url(url))
    await asyncio.to_thread(upgrade, url)
    return url


def credentials_ini(access_key_id: str, secret_access_key: str, profile: str) -> str:
    """One profile of an aws-style ``credentials`` file."""
    return (
        f"[{profile}]\n"
        f"aws_access_key_id = {access_key_id}\n"
        f"aws_secret_access_key = {secret_access_key}\n"
    )


def write_credentials(
    path: Path, access_key_id: str, secret_access_key: str, profile: str = "andromede"
) -> None:
    """Write the aws-style credentials file, mode 0600, atomically."""
    content = credentials_ini(access_key_id, secret_access_key, profile)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


async def bootstrap_accounts(
    settings: Settings, identity: IdentityService
) -> BootstrapResult | None:
    """The first tenant and the first platform operator, each made on the first start only,
    their access keys written to the data folder's credentials files."""
    result = await identity.bootstrap()
    if result is not None:
        write_credentials(settings.credentials_path, result.access_key_id, result.secret_access_key)
        log.warning(
            "first start: tenant %s created; its root user's access key is in %s",
            result.tenant.name,
            settings.credentials_path,
        )
    operator = await identity.bootstrap_operator()
    if operator is not None:
        write_credentials(
            settings.operator_credentials_path,
            operator.access_key_id,
            operator.secret_access_key,
            profile="andromede-operator",
        )
        log.warning(
            "platform operator %s created; its access key is in %s",
            operator.operator.name,
            settings.operator_credentials_path,
        )
    return result


async def prepare(settings: Settings) -> BootstrapResult | None:
    """The once-per-deployment start-up work (data folder, migrations, first tenant and its
    credentials, the secrets key, the encryption of objects stored before encryption at rest),
    done before worker processes start so they never race on it. Idempotent: every later start
    finds it done. Returns the bootstrap on the first start."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    try:
        result = await bootstrap_accounts(settings, identity_service(settings, db))
        await reencrypt_legacy_objects(settings, db)
        await seal_legacy_notification_events(settings, db)
        return result
    finally:
        await db.close()


async def reencrypt_legacy_objects(settings: Settings, db: Database) -> int:
    """Encrypt the objects stored before encryption at rest (an Alembic migration cannot reach
    the root-key provider, so this start-up step does it; see decision 0011)."""
    keys = await asyncio.to_thread(key_service, settings)
    blobs, close_blobs = await open_blob_stores(settings)
    try:
        objects = ObjectService(
            SqlMetadataStore(db, row_memo_size=settings.opened_headers_cache_size),
            blobs,
            storage_limits(settings),
            object_cipher(settings, keys),
        )
        done = await objects.reencrypt_legacy_objects()
    finally:
        keys.close()
        if close_blobs is not None:
            await close_blobs()
    if done:
        log.warning("encryption at rest: %d objects stored in clear were encrypted", done)
    return done


async def seal_legacy_notification_events(settings: Settings, db: Database) -> int:
    """Seal the notification events queued in clear before decision 0163's addendum under
    their tenants' keys (migration 0076 cannot reach the root-key provider: as the objects
    above). Idempotent: a later start finds none."""
    keys = await asyncio.to_thread(key_service, settings)
    try:
        done = await SqlEventQueue(db, EventKeySealer(keys)).seal_legacy()
    finally:
        keys.close()
    if done:
        log.warning("encryption at rest: %d pending notification events sealed", done)
    return done
