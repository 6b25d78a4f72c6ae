"""Trust stores' part of the load balancing service (decision 0256): CreateTrustStore,
DescribeTrustStores, ModifyTrustStore, DeleteTrustStore, the bundle and revocation lists'
reads, Add/Remove/DescribeTrustStoreRevocations, and what a listener's ``verify`` mode hands
its hosts (:meth:`mutual_tls`).

A trust store is a ``truststore`` row of the load balancing store (its bundle's PEM in its
document); each revocation list added is a ``revocation`` row under it, its CRL's bytes and
revoked serials in its document. The bundle and the lists are read from the account's bucket
as the caller (:class:`BucketObjects`, wired over S3's authoriser and the object service):
what the caller may not read is ``CaCertificatesBundleNotFound`` or
``RevocationContentNotFound``, as AWS answers for an object it cannot get. CA certificates
and CRLs are public material: kept as they are, not sealed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography import x509

from andromede.loadbalancing.core import LbCore, check_name, check_tags
from andromede.loadbalancing.documents import listener_from
from andromede.loadbalancing.errors import (
    Duplicate,
    LbValidationError,
    NotFound,
    Refused,
    TooMany,
)
from andromede.loadbalancing.model import Tags, new_resource_id, trust_store_arn
from andromede.loadbalancing.store import Stored
from andromede.loadbalancing.trust_stores import (
    MutualAuthentication,
    MutualTls,
    checked_bundle,
    checked_crl,
)

__all__ = ["BucketObjects", "ObjectPlace", "Revocation", "TrustStore", "TrustStoresMixin"]


class BucketObjects(Protocol):
    async def read(
        self, caller: object, bucket: str, key: str, version: str | None, limit: int
    ) -> bytes | None:
        """At most ``limit`` + 1 bytes of the object, read as ``caller``; None when it is
        not there or the caller may not read it."""
        ...


@dataclass(frozen=True, slots=True)
class ObjectPlace:
    bucket: str
    key: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class TrustStore:
    tenant_id: str
    store_id: str
    name: str
    arn: str
    ca_count: int
    revoked_entries: int
    bundle: str  # PEM
    created_at: datetime
    tags: Tags = ()
    status: str = "ACTIVE"


@dataclass(frozen=True, slots=True)
class Revocation:
    trust_store_arn: str
    revocation_id: int
    entries: int
    content: bytes  # the CRL as read
    revocation_type: str = "CRL"


class TrustStoresMixin(LbCore):
    # The account's buckets, read as the caller (wired; None: no trust store can be made).
    objects: BucketObjects | None = None

    def _store_of(self, stored: Stored, revoked: int) -> TrustStore:
        doc = stored.document
        return TrustStore(
            tenant_id=stored.tenant_id,
            store_id=stored.resource_id,
            name=stored.name,
            arn=trust_store_arn(self.region, stored.tenant_id, stored.name, stored.resource_id),
            ca_count=int(doc["ca_count"]),
            revoked_entries=revoked,
            bundle=str(doc["bundle"]),
            created_at=datetime.fromisoformat(doc["created_at"]),
            tags=tuple((str(k), str(v)) for k, v in doc.get("tags", ())),
        )

    async def _read(
        self, caller: object, place: ObjectPlace, limit: int, missing: str, invalid: str
    ) -> bytes:
        data = None
        if self.objects is not None:
            data = await self.objects.read(caller, place.bucket, place.key, place.version, limit)
        if data is None:
            raise Refused(
                missing, f"The object s3://{place.bucket[:63]}/{place.key[:256]} cannot be read"
            )
        if len(data) > limit:
            raise Refused(invalid, f"The file is larger than {limit} bytes")
        return data

    async def _bundle(self, caller: object, place: ObjectPlace) -> tuple[str, int]:
        data = await self._read(
            caller,
            place,
            self.limits.trust_store_bundle_bytes,
            "CaCertificatesBundleNotFound",
            "InvalidCaCertificatesBundle",
        )
        certificates = checked_bundle(data, self.limits.trust_store_ca_certificates)
        return data.decode("ascii"), len(certificates)

    async def _revocations(self, tenant_id: str, store_id: str) -> list[Stored]:
        rows = await self.store.list(tenant_id, "revocation")
        return sorted(
            (r for r in rows if r.parent == store_id),
            key=lambda r: int(r.document["revocation_id"]),
        )

    async def _revoked_count(self, tenant_id: str, store_id: str) -> int:
        return sum(len(r.document["serials"]) for r in await self._revocations(tenant_id, store_id))

    async def create_trust_store(
        self, tenant_id: str, caller: object, name: str, place: ObjectPlace, tags: Tags = ()
    ) -> TrustStore:
        check_name(name, "Trust store")
        check_tags(tags, self.limits.max_tags)
        if await self.store.by_name(tenant_id, "truststore", name) is not None:
            raise Duplicate(
                "DuplicateTrustStoreName", f"A trust store with name '{name}' already exists"
            )
        bundle, count = await self._bundle(caller, place)
        store_id = new_resource_id()
        document = {
            "bundle": bundle,
            "ca_count": count,
            "source": _as_doc(place),
            "created_at": self.clock().isoformat(),
            "tags": [list(t) for t in tags],
            "next_revocation": 1,
        }
        outcome = await self.store.insert(
            tenant_id,
            "truststore",
            store_id,
            name,
            "",
            document,
            limit=self.limits.max_trust_stores,
        )
        if outcome == "duplicate":
            raise Duplicate(
                "DuplicateTrustStoreName", f"A trust store with name '{name}' already exists"
            )
        if outcome == "limit":
            raise TooMany(
                "TooManyTrustStores",
                f"An account can have at most {self.limits.max_trust_stores} trust stores",
            )
        return self._store_of(await self.held(tenant_id, "truststore", store_id), 0)

    async def trust_store(self, tenant_id: str, arn: str) -> TrustStore:
        store_id = await self.id_of(tenant_id, "truststore", arn)
        stored = await self.held(tenant_id, "truststore", store_id)
        return self._store_of(stored, await self._revoked_count(tenant_id, store_id))

    async def trust_stores(
        self, tenant_id: str, arns: Sequence[str] = (), names: Sequence[str] = ()
    ) -> list[TrustStore]:
        """The account's trust stores, by name; those ``arns`` or ``names`` name
        (``TrustStoreNotFound`` when one is not there)."""
        if arns and names:
            raise LbValidationError("TrustStoreArns and Names cannot be specified together")
        rows = await self.store.list(tenant_id, "truststore")
        if arns:
            wanted = {await self.id_of(tenant_id, "truststore", a) for a in arns}
            rows = [r for r in rows if r.resource_id in wanted]
            if len(rows) != len(wanted):
                raise NotFound("TrustStoreNotFound", "One or more trust stores not found")
        if names:
            rows = [r for r in rows if r.name in set(names)]
            if len(rows) != len(set(names)):
                raise NotFound("TrustStoreNotFound", "One or more trust stores not found")
        return [
            self._store_of(r, await self._revoked_count(tenant_id, r.resource_id)) for r in rows
        ]

    async def modify_trust_store(
        self, tenant_id: str, caller: object, arn: str, place: ObjectPlace
    ) -> TrustStore:
        """The bundle replaced; the revocation lists kept (AWS keeps them)."""
        store_id = await self.id_of(tenant_id, "truststore", arn)
        await self.held(tenant_id, "truststore", store_id)
        bundle, count = await self._bundle(caller, place)

        def change(stored: Stored) -> dict[str, Any]:
            return {
                **stored.document,
                "bundle": bundle,
                "ca_count": count,
                "source": _as_doc(place),
            }

        await self.mutate(tenant_id, "truststore", store_id, change)
        return await self.trust_store(tenant_id, arn)

    async def trust_store_users(self, tenant_id: str, store_id: str) -> list[str]:
        """The ids of the account's listeners whose mutual TLS names the store."""
        return [
            row.resource_id
            for row in await self.store.list(tenant_id, "listener")
            if listener_from(tenant_id, row.resource_id, row.document).mutual.trust_store_id
            == store_id
        ]

    async def delete_trust_store(self, tenant_id: str, arn: str) -> None:
        store_id = await self.id_of(tenant_id, "truststore", arn)
        stored = await self.held(tenant_id, "truststore", store_id)
        if await self.trust_store_users(tenant_id, store_id):
            raise Refused("TrustStoreInUse", f"Trust store '{arn[:512]}' is in use by a listener")
        for row in await self._revocations(tenant_id, store_id):
            await self.store.delete(row)
        await self.store.delete(stored)

    # -- revocations -------------------------------------------------------------------------

    async def add_revocations(
        self, tenant_id: str, caller: object, arn: str, places: Sequence[tuple[ObjectPlace, str]]
    ) -> list[Revocation]:
        """Each CRL of ``places`` (with its RevocationType) checked against the store's CAs
        and added under the next revocation id; the store's entries bounded in all."""
        store_id = await self.id_of(tenant_id, "truststore", arn)
        stored = await self.held(tenant_id, "truststore", store_id)
        authorities = x509.load_pem_x509_certificates(str(stored.document["bundle"]).encode())
        total = await self._revoked_count(tenant_id, store_id)
        checked = []
        for place, kind in places:
            if kind != "CRL":
                raise LbValidationError("RevocationType must be 'CRL'")
            data = await self._read(
                caller,
                place,
                self.limits.trust_store_revocation_bytes,
                "RevocationContentNotFound",
                "InvalidRevocationContent",
            )
            crl = checked_crl(data, authorities, self.limits.trust_store_revoked_entries)
            total += len(crl.serials)
            if total > self.limits.trust_store_revoked_entries:
                raise Refused(
                    "TooManyTrustStoreRevocationEntries",
                    "A trust store can hold at most "
                    f"{self.limits.trust_store_revoked_entries} revoked entries",
                )
            checked.append((place, data, crl))
        numbers: list[int] = []

        def reserve(now: Stored) -> dict[str, Any]:
            first = int(now.document.get("next_revocation", 1))
            numbers[:] = list(range(first, first + len(checked)))
            return {**now.document, "next_revocation": first + len(checked)}

        await self.mutate(tenant_id, "truststore", store_id, reserve)
        added = []
        for number, (place, data, crl) in zip(numbers, checked, strict=True):
            document = {
                "revocation_id": number,
                "type": "CRL",
                "issuer": crl.issuer,
                "serials": [str(s) for s in crl.serials],
                "content": base64.b64encode(data).decode("ascii"),
                "source": _as_doc(place),
            }
            await self.store.insert(
                tenant_id, "revocation", f"{store_id}-{number}", f"{store_id}/{number}", store_id,
                document, limit=1 << 30,
            )  # fmt: skip
            added.append(Revocation(arn, number, len(crl.serials), data))
        return added

    async def revocations(
        self, tenant_id: str, arn: str, ids: Sequence[int] = ()
    ) -> list[Revocation]:
        store_id = await self.id_of(tenant_id, "truststore", arn)
        await self.held(tenant_id, "truststore", store_id)
        rows = await self._revocations(tenant_id, store_id)
        if ids:
            rows = [r for r in rows if int(r.document["revocation_id"]) in set(ids)]
            if len(rows) != len(set(ids)):
                raise NotFound("RevocationIdNotFound", "One or more revocation ids not found")
        return [
            Revocation(
                arn,
                int(r.document["revocation_id"]),
                len(r.document["serials"]),
                base64.b64decode(r.document["content"]),
            )
            for r in rows
        ]

    async def remove_revocations(self, tenant_id: str, arn: str, ids: Sequence[int]) -> None:
        store_id = await self.id_of(tenant_id, "truststore", arn)
        await self.held(tenant_id, "truststore", store_id)
        rows = [
            r
            for r in await self._revocations(tenant_id, store_id)
            if int(r.document["revocation_id"]) in set(ids)
        ]
        if len(rows) != len(set(ids)):
            raise NotFound("RevocationIdNotFound", "One or more revocation ids not found")
        for row in rows:
            await self.store.delete(row)

    # -- listeners ---------------------------------------------------------------------------

    async def checked_mutual(
        self,
        tenant_id: str,
        protocol: str,
        mutual: MutualAuthentication | None,
        held: MutualAuthentication,
    ) -> MutualAuthentication:
        """A listener's mutual TLS once ``mutual`` (the call's, None when not given) is
        applied: HTTPS listeners only, the trust store the account's."""
        if mutual is None:
            return held if protocol == "HTTPS" else MutualAuthentication()
        if protocol != "HTTPS" and mutual.mode != "off":
            raise LbValidationError("Mutual authentication can only be set on HTTPS listeners")
        if mutual.trust_store_id:
            await self.held(tenant_id, "truststore", mutual.trust_store_id)
        return mutual

    async def trust_store_id_of(self, tenant_id: str, arn: str) -> str:
        return await self.id_of(tenant_id, "truststore", arn)

    async def trust_store_arn_of(self, tenant_id: str, store_id: str) -> str:
        stored = await self.held(tenant_id, "truststore", store_id)
        return trust_store_arn(self.region, tenant_id, stored.name, store_id)

    async def mutual_tls(self, tenant_id: str, mutual: MutualAuthentication) -> MutualTls | None:
        """What a listener's hosts are handed of its mutual TLS (None: off); a trust store
        gone leaves ``verify`` with no CA, so no client passes."""
        if mutual.mode == "off":
            return None
        if mutual.mode == "passthrough":
            return MutualTls("passthrough")
        stored = await self.store.get(tenant_id, "truststore", mutual.trust_store_id)
        if stored is None:
            return MutualTls("verify", ignore_expiry=mutual.ignore_expiry)
        revoked = frozenset(
            (str(r.document["issuer"]), int(s))
            for r in await self._revocations(tenant_id, mutual.trust_store_id)
            for s in r.document["serials"]
        )
        return MutualTls(
            "verify",
            ca_bundle=str(stored.document["bundle"]),
            revoked=revoked,
            ignore_expiry=mutual.ignore_expiry,
            advertise_ca_names=mutual.advertise_ca_names == "on",
        )


def _as_doc(place: ObjectPlace) -> dict[str, Any]:
    return {"bucket": place.bucket, "key": place.key, "version": place.version}
