"""EventBridge's data under a customer's KMS key (decision 0204): the port :class:`EventKeys`
the archives' service, the replays' runner and the deliveries seal and open events through
when an archive or a bus names a ``KmsKeyIdentifier`` (``andromede.event_key_adapters`` in
``serve``). The events context knows nothing of KMS: a sealed event is an opaque text the
port wrote, kept by the stores as any event (and sealed again there under the tenant's
platform key).

On AWS the key's policy must let ``events.amazonaws.com`` use it (``kms:DescribeKey``,
``kms:GenerateDataKey``, ``kms:Decrypt``), the encryption context ``aws:events:event-bus:arn``
being the bus the data belongs to; a disabled or deleted key stops what needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.events.errors import EventsError

__all__ = ["EventKeys", "KeyScope", "KeyUnusable"]


class KeyUnusable(EventsError):
    """The key cannot be used by EventBridge now (missing, disabled, pending deletion, its
    policy not letting ``events.amazonaws.com`` in): the message says which."""


@dataclass(frozen=True, slots=True)
class KeyScope:
    """What a key is used for: the account, the key as given (None when opening: the sealed
    text names its key), the bus the data belongs to (the encryption context), and the
    resource holding it (an archive, or the bus for its deliveries)."""

    tenant_id: str
    key: str | None
    bus_arn: str
    resource_arn: str


class EventKeys(Protocol):
    async def check(self, scope: KeyScope) -> None:
        """``KeyUnusable`` unless EventBridge may seal and open under ``scope.key`` now
        (CreateArchive, UpdateArchive, CreateEventBus and UpdateEventBus refuse such a key)."""
        ...

    async def key_arn(self, scope: KeyScope) -> str:
        """The ARN of the key ``scope.key`` names now (an alias resolved): what the caller of
        CreateEventBus or UpdateEventBus must be allowed ``kms:DescribeKey`` on (decision
        0213). ``KeyUnusable`` when no such key of the account exists. Not a use of the key."""
        ...

    async def seal(self, scope: KeyScope, events: Sequence[str]) -> list[str]:
        """``events`` sealed under ``scope.key`` (one data key for them all)."""
        ...

    async def open(self, scope: KeyScope, sealed: Sequence[str]) -> list[str]:
        """The events :meth:`seal` wrote, each under the key it names (the key of an archive
        or a bus may have changed since); ``KeyUnusable`` when one of those keys refuses."""
        ...

    def sealed(self, stored: str) -> bool:
        """Whether a stored event is one :meth:`seal` wrote."""
        ...

    def key_of(self, stored: str) -> str:
        """The ARN of the key a text :meth:`seal` wrote is under (no use of the key):
        what a re-seal after a change of key compares (decision 0218); ``KeyUnusable`` when
        the text is not readable."""
        ...
