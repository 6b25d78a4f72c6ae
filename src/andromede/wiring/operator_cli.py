"""What the operator's command line (``andromede admin …``) works on.

Each opener migrates the data folder's database first and yields the services one command needs,
beside a running server or not (SQLite WAL lets both write); the command line's own actions are
recorded in the audit log as the management API's are.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.audit.store_sql import SqlAuditStore
from andromede.audit_keys import Rotation, rotate_log_signing_key
from andromede.billing.service import BillingService
from andromede.compute.images import ImageFiles
from andromede.compute.service import ComputeService
from andromede.compute.store_sql import SqlComputeStore
from andromede.compute_adapters import KmsDiskKeys, compute_limits
from andromede.events.store_sql import SqlEventsStore
from andromede.http.asgi import new_request_id
from andromede.iam.model import Tenant
from andromede.iam.service import IdentityService
from andromede.notifications.store_sql import SqlTopicStore
from andromede.notifications.store_sql_archive import SqlArchiveStore
from andromede.object_keys import key_service, root_key_provider
from andromede.settings import Settings
from andromede.ssm.store_sql import SqlParameterStore
from andromede.storage.store_sql import SqlMetadataStore
from andromede.wiring.audit import audit_key_name
from andromede.wiring.billing import billing_service
from andromede.wiring.deployment import migrate, open_metadata_database
from andromede.wiring.identity import identity_service, tenant_closer
from andromede.wiring.kms import customer_key_service
from andromede.wiring.logs import logs_service
from andromede.wiring.pubsub import archive_ender
from andromede.wiring.storage import topic_service

__all__ = [
    "open_billing",
    "open_identity",
    "open_image_library",
    "open_invoicing",
    "open_metadata",
    "open_tenant_closer",
    "operator_cli_principal",
    "record_operator_action",
    "rotate_audit_signing_key",
]


@contextlib.asynccontextmanager
async def open_tenant_closer(
    settings: Settings,
) -> AsyncIterator[Callable[[str], Awaitable[Tenant]]]:
    """``tenant_closer`` over the data folder's database and root-key provider: what
    ``andromede admin tenant close`` works with."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    keys = await asyncio.to_thread(key_service, settings)
    try:
        identity = identity_service(settings, db)
        store = SqlMetadataStore(db, row_memo_size=settings.opened_headers_cache_size)
        topics = topic_service(settings, SqlTopicStore(db))
        # A closed tenant's FIFO topics' archives end with them (decision 0175): expired now,
        # deleted by the servers' archive upkeep.
        topics.on_archive_ended = archive_ender(SqlArchiveStore(db))
        yield tenant_closer(
            identity,
            keys,
            customer_key_service(settings, db, identity, keys),
            buckets=store.list_buckets,
            topics=topics,
            logs=logs_service(settings, db, keys, None),
            events=SqlEventsStore(db, settings.region),  # decision 0192
            others=[SqlParameterStore(db).forget_tenant],  # decision 0229
        )
    finally:
        await asyncio.to_thread(keys.close)
        await db.close()


@contextlib.asynccontextmanager
async def open_identity(settings: Settings) -> AsyncIterator[IdentityService]:
    """The identity service over the data folder's database, migrated first: what the operator
    command line works on, beside a running server or not (SQLite WAL lets both write)."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    try:
        yield identity_service(settings, db)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_metadata(
    settings: Settings,
) -> AsyncIterator[tuple[IdentityService, SqlMetadataStore]]:
    """Identity and object metadata over the data folder's database, migrated first: what the
    operator's reports read (no blob store is opened)."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    try:
        yield (
            identity_service(settings, db),
            SqlMetadataStore(db, row_memo_size=settings.opened_headers_cache_size),
        )
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_billing(settings: Settings) -> AsyncIterator[tuple[IdentityService, BillingService]]:
    """Identity and billing over the data folder's database, migrated first: what
    ``andromede admin usage`` reads."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    try:
        yield identity_service(settings, db), billing_service(settings, db)
    finally:
        await db.close()


def operator_cli_principal() -> str:
    """``operator-cli:<the machine's user>`` (its uid where the user has no name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (a bare container)
        user = f"uid-{os.getuid()}"
    return f"operator-cli:{user}"


async def record_operator_action(
    settings: Settings, *, tenant_id: str | None, action: str, resource: str
) -> None:
    """One event of an operator's command-line action (``andromede admin …``) in the log of
    the tenant it touched (the platform's for none): the command line writes to the database
    as the management API does, and is audited as the API is — every access, the operator's
    included, lands in the log. The principal is the machine's user who ran it."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    audit = AuditService(SqlAuditStore(db))
    try:
        audit.record(
            request_id=f"cli-{new_request_id()}",
            tenant_id=tenant_id,
            principal=operator_cli_principal(),
            action=action,
            resource=resource,
            outcome=Outcome.SUCCESS,
        )
    finally:
        await audit.close()
        await db.close()


async def rotate_audit_signing_key(
    settings: Settings, *, to: Literal["file", "hsm"], reason: str
) -> Rotation:
    """``andromede admin audit-key rotate``: the region's log signing key replaced by a new
    one in a key file or in the token, the transition signed by both (decision 0140), then
    recorded as the operator's action in the platform's log (signed by the new key)."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    try:
        provider = await asyncio.to_thread(root_key_provider, settings)
        try:
            rotation = await rotate_log_signing_key(
                settings, db, audit_key_name(settings), provider, to=to, reason=reason
            )
        finally:
            await asyncio.to_thread(provider.close)
    finally:
        await db.close()
    await record_operator_action(
        settings,
        tenant_id=None,
        action="andromede:RotateAuditSigningKey",
        resource=f"audit-signing-key/{rotation.generation}",
    )
    return rotation


@contextlib.asynccontextmanager
async def open_invoicing(
    settings: Settings,
) -> AsyncIterator[tuple[IdentityService, BillingService, AuditService]]:
    """Identity, billing and the audit service over the data folder's database, migrated
    first: what ``andromede admin invoice`` works on (an issue is an event of the tenant's
    log, as on the management API)."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    audit = AuditService(SqlAuditStore(db))
    try:
        yield identity_service(settings, db), billing_service(settings, db), audit
    finally:
        await audit.close()
        await db.close()


@contextlib.asynccontextmanager
async def open_image_library(
    settings: Settings,
) -> AsyncIterator[tuple[ComputeService, IdentityService]]:
    """The compute service without hypervisors (images only) and the identity service, over the
    data folder's database: what ``andromede admin image import`` works on."""
    url = await migrate(settings)
    db = open_metadata_database(settings, url)
    keys = await asyncio.to_thread(key_service, settings)
    try:
        compute = ComputeService(
            SqlComputeStore(db),
            [],
            KmsDiskKeys(keys, inline=settings.key_provider == "file"),
            compute_limits(settings),
            ImageFiles(settings.data_dir / "compute" / "images", settings.max_image_size),
        )
        yield compute, identity_service(settings, db)
    finally:
        await asyncio.to_thread(keys.close)
        await db.close()
