"""S3 Storage Lens (decision 0415): its configurations' SQL store, given to S3 Control's
calls, and the daily metrics export of this gateway, each export audited in the
configuration owner's trail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.http.asgi import new_request_id
from andromede.http.response import Receive, Scope, Send
from andromede.metrics.service import MetricsService
from andromede.s3control.app import S3ControlApp
from andromede.settings import Settings
from andromede.storage.replication import ReplicaKeys
from andromede.storage.service import ObjectService
from andromede.storage.storage_lens import SqlStorageLensStore
from andromede.storage_lens_export import STORAGE_LENS_SERVICE, LensExport, StorageLensExporter

__all__ = ["storage_lens"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def storage_lens(
    apis: Mapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    objects: ObjectService,
    audit: AuditService,
    kms_keys: ReplicaKeys | None,
    metrics: MetricsService | None = None,
) -> asyncio.Task[None]:
    """The configurations' store in S3 Control (found in ``apis``), and the export's task
    (publishing to ``metrics`` the configurations that enable CloudWatch)."""
    store = SqlStorageLensStore(db)
    control = apis.get(S3ControlApp.name)
    if isinstance(control, S3ControlApp):
        control.storage_lens.store = store

    def record(export: LensExport) -> None:
        audit.record(
            request_id=new_request_id(),
            tenant_id=export.tenant_id,
            principal=STORAGE_LENS_SERVICE,
            action="s3:PutObject",
            resource=f"arn:aws:s3:::{export.destination}/{export.manifest_key}"[:2048],
            outcome=Outcome.SUCCESS if export.delivered else Outcome.FAILURE,
            details={
                "operation": "StorageLensExport",
                "configuration_id": export.config_id,
                "rows": str(export.rows),
            },
        )

    exporter = StorageLensExporter(
        objects,
        store,
        region=settings.region,
        interval=settings.storage_lens_export_interval,
        on_export=record,
        kms_keys=kms_keys,
        metrics=metrics,
    )
    return asyncio.create_task(exporter.run_forever(), name="storage-lens")
