"""ELBv2's trust store calls (decision 0256): Create/Describe/Modify/DeleteTrustStore,
GetTrustStoreCaCertificatesBundle, Add/Describe/RemoveTrustStoreRevocations,
GetTrustStoreRevocationContent; and a listener's ``MutualAuthentication`` as
CreateListener and ModifyListener take it and DescribeListeners shows it.

``Location`` (the bundle's and a revocation list's): AWS answers a presigned URL of its own
copy; here it is an RFC 2397 ``data:`` URI of the copy the trust store holds — the very
bytes the proxies trust, needing no credentials and never expiring (AWS's shape is a
string; an SDK hands it over as is).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from andromede.elbapi.wire import page, refuse_unhandled, tags
from andromede.http.xml import XmlWriter
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call
from andromede.loadbalancing.model import Listener
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing.trust_store_service import ObjectPlace, Revocation, TrustStore
from andromede.loadbalancing.trust_stores import MutualAuthentication

__all__ = ["MUTUAL_PARAMETERS", "handlers", "mutual_request", "write_mutual"]

Handler = Callable[[Call], Awaitable[None]]
MUTUAL_PARAMETERS = (
    r"MutualAuthentication\.(Mode|TrustStoreArn|IgnoreClientCertificateExpiry"
    r"|AdvertiseTrustStoreCaNames)"
)
_BUNDLE = "CaCertificatesBundleS3"


async def mutual_request(call: Call, service: LoadBalancingService) -> MutualAuthentication | None:
    """The call's ``MutualAuthentication`` checked (None when not given)."""
    given = [k for k in call.params if k.startswith("MutualAuthentication.")]
    if not given:
        return None
    arn = call.get("MutualAuthentication.TrustStoreArn") or ""
    ignore = call.get("MutualAuthentication.IgnoreClientCertificateExpiry")
    if ignore not in (None, "true", "false"):
        raise QueryError("ValidationError", "IgnoreClientCertificateExpiry must be a boolean")
    mode = call.get("MutualAuthentication.Mode") or "off"
    return MutualAuthentication.checked(
        mode,
        await service.trust_store_id_of(call.tenant_id, arn) if arn else "",
        None if ignore is None else ignore == "true",
        call.get("MutualAuthentication.AdvertiseTrustStoreCaNames"),
    )


async def write_mutual(xml: XmlWriter, service: LoadBalancingService, listener: Listener) -> None:
    """An HTTPS listener's ``MutualAuthentication`` as DescribeListeners shows it."""
    if listener.protocol != "HTTPS":
        return
    mutual = listener.mutual
    xml.open("MutualAuthentication")
    xml.element("Mode", mutual.mode)
    if mutual.mode == "verify":
        xml.element(
            "TrustStoreArn",
            await service.trust_store_arn_of(listener.tenant_id, mutual.trust_store_id),
        )
        xml.element("AdvertiseTrustStoreCaNames", mutual.advertise_ca_names)
    xml.element("IgnoreClientCertificateExpiry", "true" if mutual.ignore_expiry else "false")
    xml.close("MutualAuthentication")


def _place(call: Call, prefix: str) -> ObjectPlace:
    return ObjectPlace(
        call.required(f"{prefix}Bucket"),
        call.required(f"{prefix}Key"),
        call.get(f"{prefix}ObjectVersion") or None,
    )


def _write_stores(xml: XmlWriter, stores: list[TrustStore]) -> None:
    xml.open("TrustStores")
    for store in stores:
        xml.open("member")
        xml.element("Name", store.name)
        xml.element("TrustStoreArn", store.arn)
        xml.element("Status", store.status)
        xml.element("NumberOfCaCertificates", store.ca_count)
        xml.element("TotalRevokedEntries", store.revoked_entries)
        xml.close("member")
    xml.close("TrustStores")


def _write_revocations(xml: XmlWriter, revocations: list[Revocation]) -> None:
    xml.open("TrustStoreRevocations")
    for revocation in revocations:
        xml.open("member")
        xml.element("TrustStoreArn", revocation.trust_store_arn)
        xml.element("RevocationId", revocation.revocation_id)
        xml.element("RevocationType", revocation.revocation_type)
        xml.element("NumberOfRevokedEntries", revocation.entries)
        xml.close("member")
    xml.close("TrustStoreRevocations")


def _location(xml: XmlWriter, media_type: str, data: bytes) -> None:
    xml.element("Location", f"data:{media_type};base64,{base64.b64encode(data).decode()}")


def _revocation_ids(call: Call, required: bool) -> list[int]:
    ids = call.members("RevocationIds")
    if required and not ids:
        raise QueryError("ValidationError", "At least one revocation id must be specified")
    try:
        return [int(i) for i in ids]
    except ValueError:
        raise QueryError("ValidationError", "A revocation id is a number") from None


def handlers(service: LoadBalancingService) -> dict[str, tuple[Handler, bool, str | None]]:
    """The calls: (handler, mutating, the parameter naming the resource)."""

    async def create_trust_store(call: Call) -> None:
        refuse_unhandled(
            call, rf"Name|{_BUNDLE}(Bucket|Key|ObjectVersion)|Tags\.member\.\d+\.(Key|Value)"
        )
        created = await service.create_trust_store(
            call.tenant_id, call.principal, call.required("Name"), _place(call, _BUNDLE),
            tags(call),
        )  # fmt: skip
        _write_stores(call.result, [created])

    async def describe_trust_stores(call: Call) -> None:
        refuse_unhandled(call, r"TrustStoreArns\.member\.\d+|Names\.member\.\d+|Marker|PageSize")
        found = await service.trust_stores(
            call.tenant_id, call.members("TrustStoreArns"), call.members("Names")
        )
        chosen, marker = page(call, found, lambda s: s.name)
        _write_stores(call.result, chosen)
        if marker:
            call.result.element("NextMarker", marker)

    async def modify_trust_store(call: Call) -> None:
        refuse_unhandled(call, rf"TrustStoreArn|{_BUNDLE}(Bucket|Key|ObjectVersion)")
        changed = await service.modify_trust_store(
            call.tenant_id, call.principal, call.required("TrustStoreArn"), _place(call, _BUNDLE)
        )
        _write_stores(call.result, [changed])

    async def delete_trust_store(call: Call) -> None:
        refuse_unhandled(call, r"TrustStoreArn")
        await service.delete_trust_store(call.tenant_id, call.required("TrustStoreArn"))

    async def get_bundle(call: Call) -> None:
        refuse_unhandled(call, r"TrustStoreArn")
        store = await service.trust_store(call.tenant_id, call.required("TrustStoreArn"))
        _location(call.result, "application/x-pem-file", store.bundle.encode("ascii"))

    async def add_revocations(call: Call) -> None:
        refuse_unhandled(
            call,
            r"TrustStoreArn|RevocationContents\.member\.\d+\."
            r"(S3Bucket|S3Key|S3ObjectVersion|RevocationType)",
        )
        places = []
        index = 1
        while call.get(f"RevocationContents.member.{index}.S3Bucket") is not None or call.get(
            f"RevocationContents.member.{index}.S3Key"
        ):
            base = f"RevocationContents.member.{index}."
            places.append((_place(call, f"{base}S3"), call.get(f"{base}RevocationType") or "CRL"))
            index += 1
        if not places:
            raise QueryError("ValidationError", "At least one revocation file must be specified")
        added = await service.add_revocations(
            call.tenant_id, call.principal, call.required("TrustStoreArn"), places
        )
        _write_revocations(call.result, added)

    async def describe_revocations(call: Call) -> None:
        refuse_unhandled(call, r"TrustStoreArn|RevocationIds\.member\.\d+|Marker|PageSize")
        found = await service.revocations(
            call.tenant_id, call.required("TrustStoreArn"), _revocation_ids(call, False)
        )
        chosen, marker = page(call, found, lambda r: f"{r.revocation_id:020d}")
        _write_revocations(call.result, chosen)
        if marker:
            call.result.element("NextMarker", marker)

    async def get_revocation(call: Call) -> None:
        refuse_unhandled(call, r"TrustStoreArn|RevocationId")
        call.required("RevocationId")
        number = call.integer("RevocationId", minimum=1, maximum=2**63 - 1, default=0)
        found = await service.revocations(call.tenant_id, call.required("TrustStoreArn"), [number])
        _location(call.result, "application/pkix-crl", found[0].content)

    async def remove_revocations(call: Call) -> None:
        refuse_unhandled(call, r"TrustStoreArn|RevocationIds\.member\.\d+")
        await service.remove_revocations(
            call.tenant_id, call.required("TrustStoreArn"), _revocation_ids(call, True)
        )

    return {
        "CreateTrustStore": (create_trust_store, True, None),
        "DescribeTrustStores": (describe_trust_stores, False, None),
        "ModifyTrustStore": (modify_trust_store, True, "TrustStoreArn"),
        "DeleteTrustStore": (delete_trust_store, True, "TrustStoreArn"),
        "GetTrustStoreCaCertificatesBundle": (get_bundle, False, "TrustStoreArn"),
        "AddTrustStoreRevocations": (add_revocations, True, "TrustStoreArn"),
        "DescribeTrustStoreRevocations": (describe_revocations, False, "TrustStoreArn"),
        "GetTrustStoreRevocationContent": (get_revocation, False, "TrustStoreArn"),
        "RemoveTrustStoreRevocations": (remove_revocations, True, "TrustStoreArn"),
    }
