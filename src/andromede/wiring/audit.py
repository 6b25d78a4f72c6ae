"""The audit log's wiring: the region's signing key and the trail it signs, the witnesses'
cosigning round, the scheduled rotation of the key, the removal of retired key files, and the
operator access requests.

Factories over the settings and the database, shared by the composition root
(``andromede.app``) and the operator's command line (``wiring/operator_cli.py``).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from andromede.audit.access_service import OperatorAccessService
from andromede.audit.access_store import AccessRequestStore
from andromede.audit.cosignature import parse_cosigner_key
from andromede.audit.cosigned import SqlCosignatureStore
from andromede.audit.model import Outcome
from andromede.audit.note import NoteError
from andromede.audit.service import AuditService
from andromede.audit.signing import PUBLIC_KEY_FILE_NAME, publish_verifier_key
from andromede.audit.store import AuditStore
from andromede.audit.trail import AuditTrail
from andromede.audit.witnessing import WitnessEndpoint, Witnessing
from andromede.audit_keys import (
    RegisteredKeys,
    RetiredKeyFiles,
    Rotation,
    ScheduledRotation,
    open_log_signing_key,
)
from andromede.db.database import Database
from andromede.errors import ConfigurationError
from andromede.kms.providers import RootKeyProvider
from andromede.settings import Settings

__all__ = [
    "audit_key_files",
    "audit_key_name",
    "audit_key_schedule",
    "audit_witnessing",
    "open_audit_trail",
    "operator_access_service",
]


def audit_key_name(settings: Settings) -> str:
    """The region's log signing key name; each log's origin is ``<name>/<log>`` (0105)."""
    return f"{settings.s3_domain.strip('.').lower()}/{settings.region}/audit"


async def open_audit_trail(
    settings: Settings, db: Database, store: AuditStore, provider: RootKeyProvider
) -> AuditTrail:
    """The region's signing key (in a file or in ``provider``'s token, made on first start,
    checked against the one the database registered: decision 0134) and the trail served over
    ``store``; the verifier key is published beside the admin credentials."""
    key = await open_log_signing_key(settings, db, audit_key_name(settings), provider)
    await asyncio.to_thread(publish_verifier_key, key, settings.data_dir / PUBLIC_KEY_FILE_NAME)
    return AuditTrail(
        store,
        key,
        max_entries=settings.audit_max_entries,
        cosigned=SqlCosignatureStore(db),
        keys=RegisteredKeys(settings, db, key, provider),  # a rotation reaches it (0140)
    )


def audit_witnessing(
    settings: Settings, db: Database, trail: AuditTrail, store: AuditStore
) -> Witnessing | None:
    """The round asking ``audit_witnesses`` to cosign every log (decision 0122); None
    without witnesses."""
    if not settings.audit_witnesses:
        return None
    endpoints: list[WitnessEndpoint] = []
    for witness in settings.audit_witnesses:
        try:
            endpoints.append(WitnessEndpoint(witness.url, *parse_cosigner_key(witness.key)))
        except NoteError as exc:
            raise ConfigurationError(f"audit_witnesses: {witness.url}: {exc}") from exc
    ca = settings.audit_witness_ca_file
    return Witnessing(
        trail,
        store,
        SqlCosignatureStore(db),
        endpoints,
        interval=settings.audit_witness_interval,
        timeout=settings.audit_witness_timeout,
        verify=True if ca is None else ssl.create_default_context(cafile=str(ca)),
    )


def audit_key_schedule(
    settings: Settings, db: Database, provider: RootKeyProvider, audit: AuditService
) -> ScheduledRotation:
    """The region's key rotated every ``audit_key_rotation_days`` (decision 0140's addendum),
    each rotation an event of the platform's log, as the operator's command is."""

    def record(rotation: Rotation) -> None:
        audit.record(
            request_id=f"auto-audit-key-{rotation.generation}",
            tenant_id=None,
            principal="andromede:scheduled-rotation",
            action="andromede:RotateAuditSigningKey",
            resource=f"audit-signing-key/{rotation.generation}",
            outcome=Outcome.SUCCESS,
        )

    return ScheduledRotation(settings, db, audit_key_name(settings), provider, on_rotation=record)


def audit_key_files(settings: Settings, db: Database, audit: AuditService) -> RetiredKeyFiles:
    """This gateway's key files of retired keys removed once ``audit_old_key_retention`` has
    passed since their rotation (decision 0140's second addendum), each removal an event of
    the platform's log."""

    def record(path: Path, verifier_key: str) -> None:
        audit.record(
            request_id=f"audit-key-file-{path.name}"[:64],
            tenant_id=None,
            principal="andromede:key-retention",
            action="andromede:DeleteRetiredAuditSigningKeyFile",
            resource=f"audit-signing-key/{verifier_key.rsplit('+', 2)[-2]}",
            outcome=Outcome.SUCCESS,
            details={"path": str(path), "verifier_key": verifier_key},
        )

    return RetiredKeyFiles(settings, db, audit_key_name(settings), on_removed=record)


def operator_access_service(
    settings: Settings, store: AccessRequestStore, audit: AuditService
) -> OperatorAccessService:
    return OperatorAccessService(
        store,
        audit,
        max_duration=settings.operator_access_max_duration,
        reason_max_length=settings.operator_access_reason_max_length,
        request_ttl=settings.operator_access_request_ttl,
    )
