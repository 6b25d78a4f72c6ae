"""Kinesis records sealed at rest (decision 0228): the ``kinesis.model.RecordSealer`` over
the account's key ring and the data key sealer SQS, SNS and Firehose use
(``kms_data_keys``), with Kinesis' encryption context ``aws:kinesis:arn`` = the stream's ARN
and ``kms:ViaService`` = ``kinesis.<region>.amazonaws.com``.

- **Always sealed.** A stream whose ``EncryptionType`` is ``NONE`` has its records sealed
  under one data key of the account's key ring per put (AES-256-GCM, each record its own
  nonce, its AAD the stream's ARN and creation time, the shard and the partition key), as
  Firehose's buffered records: "no encryption" is AWS's word for no customer key, never
  plaintext in the database.
- **Under a KMS key** (``StartStreamEncryption``: a key id, ARN, alias name or ARN,
  ``alias/aws/kinesis`` the account's AWS-managed key made on first use): each put seals its
  records under one data key of that key made for it, once the caller may
  ``kms:GenerateDataKey`` on it; each read opens them once the caller may ``kms:Decrypt``, as
  AWS asks of producers and consumers. A record keeps the key that sealed it whatever the
  stream says since: records written under a key that is then disabled are refused
  ``KMSDisabledException`` until it is enabled again.
- **Errors.** KMS's refusals become ``KmsRefused`` with Kinesis' types
  (``KMSDisabledException``, ``KMSInvalidStateException``, ``KMSNotFoundException``,
  ``KMSAccessDeniedException``). Each data key made or opened is a ``kms.requests`` of the
  account and audited with ``invoked_by`` ``kinesis.amazonaws.com``.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.kinesis.errors import KmsRefused
from andromede.kinesis.model import NewRecord, StoredRecord, Stream
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound
from andromede.kms.framing import pack_fields, unpack_fields
from andromede.kms.keys_errors import CmkAccessDenied, CmkDisabled, CmkNotFound, CustomerKeyError
from andromede.kms.service import KeyService
from andromede.wiring.kms_data_keys import KMS_FORMAT, DataKeySealer, SealedResource, ServiceUse

__all__ = ["KinesisRecordSealer"]

_KINESIS: Final = ServiceUse("kinesis", "aws:kinesis:arn")
_RING_FORMAT: Final = b"\x01"
_NONCE: Final = 12
_OPENED_PERIOD: Final = 300  # seconds an opened data key is remembered: a read opens a put once


def _context(stream: Stream, shard: int, partition_key: str) -> bytes:
    return f"kinesis\n{stream.arn}\n{stream.created}\n{shard}\n{partition_key}".encode()


def _resource(stream: Stream) -> SealedResource:
    return SealedResource(stream.arn, stream.tenant_id, stream.region, _OPENED_PERIOD)


def _caller(caller: object) -> Caller | None:
    return caller if isinstance(caller, Caller) else None


def _refused(exc: CustomerKeyError) -> KmsRefused:
    message = str(exc) or "The KMS key cannot be used."
    if isinstance(exc, CmkDisabled):
        return KmsRefused("KMSDisabledException", message)
    if isinstance(exc, CmkAccessDenied):
        return KmsRefused("KMSAccessDeniedException", message)
    if isinstance(exc, CmkNotFound):
        return KmsRefused("KMSNotFoundException", message)
    return KmsRefused("KMSInvalidStateException", message)


class KinesisRecordSealer:
    def __init__(
        self,
        keys: KeyService,
        customer_keys: CustomerKeyService,
        audit: AuditService | None,
        billing: BillingService | None = None,
        *,
        cache_size: int = 1000,
    ) -> None:
        self._keys = keys
        self._rings: set[str] = set()
        self._sealer = DataKeySealer(
            _KINESIS, customer_keys, keys, audit, billing, cache_size=cache_size
        )

    async def check(self, stream: Stream, key_id: str, caller: object) -> None:
        try:
            await self._sealer.key(
                _resource(stream), stream.arn, key_id, _caller(caller), "kms:GenerateDataKey"
            )
        except CustomerKeyError as exc:
            raise _refused(exc) from None

    async def seal(
        self, stream: Stream, records: Sequence[NewRecord], caller: object
    ) -> list[bytes]:
        items = [(r.data, _context(stream, r.shard, r.partition_key)) for r in records]
        if stream.encryption_type == "KMS" and stream.key_id is not None:
            try:
                return await self._sealer.seal_many(
                    _resource(stream), stream.key_id, _caller(caller), items
                )
            except CustomerKeyError as exc:
                raise _refused(exc) from None
        return await asyncio.to_thread(self._seal_in_ring, stream.tenant_id, items)

    def _seal_in_ring(self, ring: str, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        if ring not in self._rings:
            self._keys.ensure_tenant_key(ring)  # made on first use, as for objects
            self._rings.add(ring)
        new = self._keys.new_data_key(ring)
        try:
            head = _RING_FORMAT + pack_fields(new.wrapped)
            sealed = []
            for data, context in items:
                nonce = os.urandom(_NONCE)
                sealed.append(head + nonce + new.cipher.encrypt(nonce, data, context))
            return sealed
        finally:
            new.plaintext[:] = bytes(len(new.plaintext))

    async def open(
        self, stream: Stream, records: Sequence[StoredRecord], caller: object
    ) -> list[bytes]:
        """Each record under what sealed it; a put's records share their data key, unwrapped
        once per read."""
        opened: list[bytes | None] = [None] * len(records)
        plain = [i for i, r in enumerate(records) if r.sealed[:1] != KMS_FORMAT]
        if plain:
            ring = [(records[i], _context(stream, records[i].shard, records[i].partition_key))
                    for i in plain]  # fmt: skip
            for i, data in zip(
                plain, await asyncio.to_thread(self._open_in_ring, stream.tenant_id, ring),
                strict=True,
            ):  # fmt: skip
                opened[i] = data
        sealed = [i for i, data in enumerate(opened) if data is None]
        if sealed:
            items = [
                (records[i].sealed, _context(stream, records[i].shard, records[i].partition_key))
                for i in sealed
            ]
            try:
                under_keys = await self._sealer.open_many(_resource(stream), _caller(caller), items)
            except CustomerKeyError as exc:
                raise _refused(exc) from None
            for i, data in zip(sealed, under_keys, strict=True):
                opened[i] = data
        return [data for data in opened if data is not None]

    def _open_in_ring(
        self, ring: str, records: Sequence[tuple[StoredRecord, bytes]]
    ) -> list[bytes]:
        ciphers: dict[bytes, AESGCM] = {}
        opened = []
        try:
            for record, context in records:
                if record.sealed[:1] != _RING_FORMAT:
                    raise ValueError("unknown sealed record format")
                (wrapped,), rest = unpack_fields(record.sealed[1:], 1)
                cipher = ciphers.get(wrapped)
                if cipher is None:
                    cipher = ciphers[wrapped] = self._keys.data_key_cipher(ring, wrapped)
                opened.append(cipher.decrypt(rest[:_NONCE], rest[_NONCE:], context))
        except (KeyDestroyed, KeyNotFound, InvalidWrappedKey, InvalidTag, struct.error,
                ValueError) as exc:  # fmt: skip
            raise KmsRefused(
                "KMSInvalidStateException",
                f"The stream's records cannot be opened: {type(exc).__name__}",
            ) from None
        return opened
