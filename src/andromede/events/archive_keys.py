"""Archives under a customer's KMS key (decision 0204): the port :class:`ArchiveKeys` the
archives' service and the replays' runner seal and open an archive's events through when the
archive names a ``KmsKeyIdentifier`` (``andromede.archive_key_adapters`` in ``serve``). The
events context knows nothing of KMS: a sealed event is an opaque text the port wrote, kept
by the archive store as any event (and sealed again there under the tenant's platform key).

On AWS the key's policy must let ``events.amazonaws.com`` use it (``kms:DescribeKey``,
``kms:GenerateDataKey``, ``kms:Decrypt``), with the encryption context
``aws:events:event-bus:arn`` the archive's bus; a disabled or deleted key stops the
archiving and fails the replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from andromede.events.archive_model import Archive
from andromede.events.errors import EventsError

__all__ = ["ArchiveKeyUnusable", "ArchiveKeys"]


class ArchiveKeyUnusable(EventsError):
    """The archive's key cannot be used by EventBridge now (missing, disabled, pending
    deletion, its policy not letting ``events.amazonaws.com`` in): the message says which."""


class ArchiveKeys(Protocol):
    async def check(self, archive: Archive) -> None:
        """``ArchiveKeyUnusable`` unless EventBridge may seal and open ``archive``'s events
        under its key now (CreateArchive and UpdateArchive refuse such a key)."""
        ...

    async def seal(self, archive: Archive, events: Sequence[str]) -> list[str]:
        """``events`` sealed under the archive's key (one data key for them all)."""
        ...

    async def open(self, archive: Archive, sealed: Sequence[str]) -> list[str]:
        """The events :meth:`seal` wrote, each under the key it names (an archive's key may
        have changed since); ``ArchiveKeyUnusable`` when one of those keys refuses."""
        ...

    def sealed(self, stored: str) -> bool:
        """Whether a stored event is one :meth:`seal` wrote."""
        ...
