"""Which key seals a queue's messages (decisions 0158, 0165): the tenant's own key ring
(SSE-SQS, a :class:`Sealer`) or the queue's customer-managed KMS key (SSE-KMS, a
:class:`KmsSealer`), chosen at each send from the queue's attributes; at each receive, from
the sealed form itself, whose first byte tells the two apart, so a message keeps the key it
was sealed under whatever the queue's attributes say since.

``caller`` is the wire layer's principal, handed untouched to the KMS sealer, which checks
that it may use the key (``kms:GenerateDataKey`` to send, ``kms:Decrypt`` to receive), as SQS
does on behalf of its caller; None for the platform's own sends (S3's bucket events, SNS
deliveries), for which the key must only be usable.
"""

from __future__ import annotations

from typing import Final, Protocol

from andromede.queues.errors import KmsInvalidState
from andromede.queues.model import Queue
from andromede.queues.sse import kms_key_of

__all__ = ["KMS_FORMAT", "KmsSealer", "MessageCipher", "Sealer"]

# The first byte of a message sealed under a KMS key; the tenant sealer's forms start with
# another (``wiring.queues``: 0x01).
KMS_FORMAT: Final = b"\x02"


class Sealer(Protocol):
    """Seals a message's payload under its tenant's key; ``context`` (the account and the
    message id) is bound to the ciphertext, so one cannot be moved to another message."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


class KmsSealer(Protocol):
    """Seals under a queue's KMS key; its sealed form starts with :data:`KMS_FORMAT` and names
    the key. Errors are the context's ``Kms*`` ones."""

    async def seal(
        self, queue: Queue, key_ref: str, caller: object | None, plaintext: bytes, context: bytes
    ) -> bytes: ...

    async def open(
        self, queue: Queue, caller: object | None, sealed: bytes, context: bytes
    ) -> bytes: ...


class MessageCipher:
    def __init__(self, sealer: Sealer, kms: KmsSealer | None = None) -> None:
        self._sealer = sealer
        self._kms = kms

    async def seal(
        self, queue: Queue, caller: object | None, plaintext: bytes, context: bytes
    ) -> bytes:
        key_ref = kms_key_of(queue)
        if key_ref is None:
            return await self._sealer.seal(queue.tenant_id, plaintext, context)
        return await self._need_kms().seal(queue, key_ref, caller, plaintext, context)

    async def open(
        self, queue: Queue, caller: object | None, sealed: bytes, context: bytes
    ) -> bytes:
        if sealed[:1] == KMS_FORMAT:
            return await self._need_kms().open(queue, caller, sealed, context)
        return await self._sealer.open(queue.tenant_id, sealed, context)

    def _need_kms(self) -> KmsSealer:
        if self._kms is None:
            # Never sealed in clear instead: a queue under a KMS key without a KMS refuses.
            raise KmsInvalidState("SSE-KMS queues are not offered by this deployment.")
        return self._kms
