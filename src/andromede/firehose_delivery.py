"""Where Firehose meets the identity, storage and key contexts (decision 0223): the records'
sealing under the account's key ring, and the writes into a bucket as the stream's role.

**Sealing** (as CloudWatch Logs' events, decision 0186): one data key of the account's own
key ring per put, each record AES-256-GCM under it with its own nonce, its AAD the stream's
ARN and the record's id, so a record cannot be moved to another stream; the wrapped data key
is kept with each record. The buffered records are sealed whatever the stream's
``DeliveryStreamEncryptionConfiguration`` says (decision 0223).

**Writes as the role** (as ``role_log_groups``' deliveries into log groups): the stream's
role must be of the stream's account and trust ``firehose.amazonaws.com``; each write is the
role's session's ``s3:PutObject`` on the key, decided by the same engine as every request —
the role's identity policies, within its permissions boundary, and the bucket's policy (a
bucket of another account must allow the role by its policy, as on AWS). The object is owned
by the bucket's owner and sealed as every object: under the stream's KMS key when it names
one (``EncryptionConfiguration.KMSEncryptionConfig``), else the bucket's default encryption.
A refusal is :class:`~andromede.firehose.model.DeliveryFailed` with AWS's delivery error
codes (``S3.AccessDenied``, ``S3.NoSuchBucket``, ``S3.KMS.KeyDisabled``…), which the
deliverer retries.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator, Sequence
from typing import Final

from cryptography.exceptions import InvalidTag

from andromede.firehose.errors import InvalidArgument
from andromede.firehose.model import BufferedRecord, DeliveryFailed, DeliveryStream, NewRecord
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource, service_role_session
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound
from andromede.kms.framing import pack_fields, unpack_fields
from andromede.kms.service import KeyService
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import NoSuchBucket, StorageError
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import Bucket, ContentHeaders
from andromede.storage.replication import ReplicaKeys
from andromede.storage.service import ObjectService

__all__ = [
    "FIREHOSE_PRINCIPAL",
    "KeyRingRecordSealer",
    "RecordsUnreadable",
    "RoleBucketWriter",
    "role_session",
]

FIREHOSE_PRINCIPAL: Final = "firehose.amazonaws.com"
_FORMAT: Final = b"\x01"
_NONCE: Final = 12
_SESSION: Final = "AWSFirehoseToS3"
_ACCESS_DENIED: Final = (
    "Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose "
    "to assume the role, and the access policy allows access to the S3 bucket."
)


class RecordsUnreadable(InvalidArgument):
    """The account's key no longer opens a stream's records (destroyed: crypto-shredded)."""


def _aad(stream: DeliveryStream, record_id: str) -> bytes:
    return f"firehose\n{stream.arn}\n{record_id}".encode()


class KeyRingRecordSealer:
    """``firehose.model.RecordSealer`` over the account's key ring."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys
        self._tenants_with_keys: set[str] = set()

    async def seal(self, stream: DeliveryStream, records: Sequence[NewRecord]) -> list[bytes]:
        ring = stream.tenant_id

        def work() -> list[bytes]:
            if ring not in self._tenants_with_keys:
                self._keys.ensure_tenant_key(ring)  # made on first use, as for objects
                self._tenants_with_keys.add(ring)
            new = self._keys.new_data_key(ring)
            try:
                head = _FORMAT + pack_fields(new.wrapped)
                sealed = []
                for record in records:
                    nonce = os.urandom(_NONCE)
                    body = new.cipher.encrypt(nonce, record.data, _aad(stream, record.record_id))
                    sealed.append(head + nonce + body)
                return sealed
            finally:
                new.plaintext[:] = bytes(len(new.plaintext))

        return await asyncio.to_thread(work)

    async def open(self, stream: DeliveryStream, records: Sequence[BufferedRecord]) -> list[bytes]:
        ring = stream.tenant_id

        def work() -> list[bytes]:
            opened = []
            for record in records:
                if record.sealed[:1] != _FORMAT:
                    raise ValueError("unknown sealed record format")
                (wrapped,), rest = unpack_fields(record.sealed[1:], 1)
                cipher = self._keys.data_key_cipher(ring, wrapped)
                opened.append(
                    cipher.decrypt(rest[:_NONCE], rest[_NONCE:], _aad(stream, record.record_id))
                )
            return opened

        try:
            return await asyncio.to_thread(work)
        except (KeyDestroyed, KeyNotFound, InvalidWrappedKey, InvalidTag, struct.error,
                ValueError) as exc:  # fmt: skip
            raise RecordsUnreadable(f"The stream's records cannot be opened: "
                                    f"{type(exc).__name__}") from None  # fmt: skip


def trust_source(stream: DeliveryStream) -> TrustSource:
    """What Firehose gives a role's trust policy when it acts for ``stream`` (decision 0321):
    the stream as ``aws:SourceArn``, its account as ``aws:SourceAccount`` and, as Firehose's
    documented trust policies expect, as ``sts:ExternalId``."""
    return TrustSource.of(stream.arn, external_id=stream.tenant_id)


async def role_session(
    identity: IdentityService, stream: DeliveryStream, role_arn: str
) -> Principal | None:
    """Firehose's session of ``role_arn`` for ``stream``, if it is a role of the stream's
    account trusting Firehose for it (None otherwise)."""
    return await service_role_session(
        identity, stream.tenant_id, role_arn, FIREHOSE_PRINCIPAL, _SESSION, trust_source(stream)
    )


class RoleBucketWriter:
    """``firehose.model.S3Writer``: writes into a bucket as the stream's role."""

    def __init__(
        self,
        identity: IdentityService,
        objects: ObjectService,
        region: str,
        kms_keys: ReplicaKeys | None = None,
    ) -> None:
        self._roles = ServiceRoleSessions(identity, FIREHOSE_PRINCIPAL, region)
        self._objects = objects
        self._region = region
        self._kms_keys = kms_keys

    async def _session(self, stream: DeliveryStream) -> Principal | None:
        return await self._roles.session(
            stream.tenant_id, stream.destination.role_arn, _SESSION, trust_source(stream)
        )

    async def check(self, stream: DeliveryStream) -> None:
        if await self._session(stream) is None:
            raise InvalidArgument(
                f"Firehose is unable to assume role {stream.destination.role_arn}. Please "
                "check the role provided."
            )

    async def write(self, stream: DeliveryStream, key: str, body: bytes, content_type: str) -> None:
        session = await self._session(stream)
        if session is None:
            raise DeliveryFailed("Role.AssumeRoleFailed", _ACCESS_DENIED)
        try:
            bucket = await self._objects.get_bucket(stream.destination.bucket)
        except NoSuchBucket:
            raise DeliveryFailed("S3.NoSuchBucket", "The specified bucket does not exist") from None
        if bucket.region != self._region:
            raise DeliveryFailed("S3.PermanentRedirect", "The bucket is in another Region.")
        if not await self._may_put(session, bucket, key):
            raise DeliveryFailed("S3.AccessDenied", _ACCESS_DENIED)
        encryption = await self._encryption(stream, bucket, key)

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        try:
            await self._objects.put_object(
                bucket,
                key,
                chunks(),
                size=len(body),
                headers=ContentHeaders(content_type=content_type),
                owner_id=bucket.owner_id,
                integrity=BodyIntegrity(),
                encryption=encryption,
            )
        except StorageError as exc:
            raise DeliveryFailed(f"S3.{type(exc).__name__}", str(exc)[:512]) from None

    async def _may_put(self, session: Principal, bucket: Bucket, key: str) -> bool:
        return await self._roles.allowed(
            session,
            "s3:PutObject",
            f"arn:aws:s3:::{bucket.name}/{key}",
            resource_policy=bucket.policy or None,
            resource_account=bucket.tenant_id,
        )

    async def _encryption(
        self, stream: DeliveryStream, bucket: Bucket, key: str
    ) -> ObjectEncryption:
        key_arn = stream.destination.kms_key_arn
        default = bucket.encryption
        dual_layer = False
        if key_arn is None and default is not None and default.algorithm.startswith("aws:kms"):
            key_arn = default.kms_key_id
            dual_layer = default.algorithm == "aws:kms:dsse"
            if key_arn is not None and not key_arn.startswith("arn:"):
                kind = key_arn if key_arn.startswith("alias/") else f"key/{key_arn}"
                key_arn = f"arn:aws:kms:{bucket.region}:{bucket.tenant_id}:{kind}"
        if key_arn is None or self._kms_keys is None:
            return ObjectEncryption(tenant_id=bucket.tenant_id)
        try:
            return await self._kms_keys.replica_encryption(
                bucket.tenant_id,
                key_arn,
                bucket=bucket.name,
                key=key,
                dual_layer=dual_layer,
                region=bucket.region,
                payer=stream.tenant_id,
            )
        except StorageError as exc:
            raise DeliveryFailed("S3.KMS.KeyDisabled", str(exc)[:512]) from None
