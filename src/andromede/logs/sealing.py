"""How log events are sealed at rest (decision 0186, as SQS seals its messages, decisions
0158/0165): under a data key of the account's own key ring, or of the group's KMS key when
it has one. ``context`` (the account, the group, the stream and the timestamp) is bound to
each ciphertext, so one event cannot be moved to another stream. The implementation is the
wiring's (``andromede.wiring.logs.LogKeySealer``), over the key services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from andromede.logs.model import LogGroup

__all__ = ["LogSealer", "event_context"]


def event_context(tenant_id: str, group: str, stream: str, timestamp: int) -> bytes:
    return f"logs\n{tenant_id}\n{group}\n{stream}\n{timestamp}".encode()


class LogSealer(Protocol):
    async def check_key(self, tenant_id: str, key_arn: str) -> None:
        """KmsKeyUnusable unless ``key_arn`` is a usable KMS key of the account."""
        ...

    async def seal(self, group: LogGroup, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """Each (plaintext, context) sealed, one data key for the batch (KmsKeyUnusable)."""
        ...

    async def open(self, group: LogGroup, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """Each (sealed, context) opened (KmsKeyUnusable when its key no longer is)."""
        ...
