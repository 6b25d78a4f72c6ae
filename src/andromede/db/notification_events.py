"""The sealed form of ``notification_events.message`` (decision 0163's addendum): the one
convention the object store (which queues a write's events in its transaction) and the
notification context (which queues SNS messages and delivers them all) share.

``format_version`` 1 is the legacy clear text. 2 is sealed: the message's AES-GCM ciphertext
under a fresh data key of the row's tenant (the SQS queues' sealer, decision 0158), whose AAD
binds the tenant and the row's destination (topic, subscription or queue ARN), so a row moved
to another tenant or destination does not open. A write's events are sealed before its
transaction begins, when the version id the commit gives is not known yet: it is kept beside
the ciphertext (an opaque token the platform makes, no customer content) and put into each
record's ``s3.object.versionId`` on opening.
"""

from __future__ import annotations

import base64
import json
from typing import Final, Protocol

__all__ = [
    "EVENTBRIDGE_DESTINATION",
    "LEGACY_FORMAT",
    "SEALED_FORMAT",
    "EventSealer",
    "Unreadable",
    "open_message",
    "seal_message",
    "with_version",
]

LEGACY_FORMAT: Final = 1
# The destination of a bucket's ``EventBridgeConfiguration`` (decision 0192's session 48
# addendum): its events go to the default event bus of the row's tenant, the bucket's owner.
# Not a real bus ARN (no region nor account): the tenant and the gateway's region say which.
EVENTBRIDGE_DESTINATION: Final = "arn:aws:events:::event-bus/default"
SEALED_FORMAT: Final = 2
_PURPOSE: Final = b"andromede:notification-event\x00"


class Unreadable(Exception):
    """The row never opens: its tenant's key destroyed or withdrawn (crypto-shredding), or
    the ciphertext not this row's."""


class EventSealer(Protocol):
    """Seals under the tenant's key, ``context`` bound as AAD; ``open`` raises
    :class:`Unreadable` for what will never open, anything else for a passing failure."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


def _context(tenant_id: str, destination: str) -> bytes:
    return _PURPOSE + tenant_id.encode() + b"\x00" + destination.encode()


async def seal_message(sealer: EventSealer, tenant_id: str, destination: str, message: str) -> str:
    """The stored text of ``message`` (format 2), without a version id."""
    sealed = await sealer.seal(tenant_id, message.encode(), _context(tenant_id, destination))
    return json.dumps({"sealed": base64.b64encode(sealed).decode()}, separators=(",", ":"))


def with_version(stored: str, version_id: str | None) -> str:
    """The stored text with the committed version id beside the ciphertext."""
    if version_id is None:
        return stored
    data = json.loads(stored)
    data["versionId"] = version_id
    return json.dumps(data, separators=(",", ":"))


async def open_message(
    sealer: EventSealer, tenant_id: str, destination: str, stored: str, format_version: int
) -> str:
    """The message of a row: legacy text as it is, a sealed one opened (and its version id
    put into its records). :class:`Unreadable` for a row that never opens."""
    if format_version == LEGACY_FORMAT:
        return stored
    if format_version != SEALED_FORMAT:
        raise Unreadable(f"unknown notification event format {format_version}")
    try:
        data = json.loads(stored)
        sealed = base64.b64decode(data["sealed"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise Unreadable("malformed sealed notification event") from exc
    message = (await sealer.open(tenant_id, sealed, _context(tenant_id, destination))).decode()
    version_id = data.get("versionId")
    if version_id is None:
        return message
    body = json.loads(message)
    for record in body.get("Records", []):
        record["s3"]["object"]["versionId"] = version_id
    return json.dumps(body, separators=(",", ":"))
