"""ELBv2's trust store calls (decision 0256) the console's trust stores page and a listener's
mutual authentication form make (decision 0263), as the signed-in principal through the
Query machinery (``wire.QueryWire``): ELBv2's authorisation, checks (the bundle read from S3
as the caller), audit and errors answer them; nothing here decides what ELBv2 allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from andromede.console.wire_elb import ElbWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "MUTUAL_MODES",
    "TrustStoreRow",
    "create_trust_store",
    "delete_trust_store",
    "set_mutual_authentication",
    "trust_stores",
]

MUTUAL_MODES: Final = ("off", "passthrough", "verify")  # MutualAuthentication's Mode
_PAGE: Final = 400  # DescribeTrustStores' largest page


@dataclass(frozen=True, slots=True)
class TrustStoreRow:
    """One of DescribeTrustStores' stores."""

    arn: str
    name: str
    status: str
    ca_certificates: str
    revoked_entries: str


def _text(element: object, path: str) -> str:
    found = getattr(element, "findtext", None)
    return str(found(path) or "") if found is not None else ""


async def trust_stores(elb: ElbWire, origin: Scope, who: Principal) -> list[TrustStoreRow]:
    """Every page of DescribeTrustStores (its NextMarker followed)."""
    rows: list[TrustStoreRow] = []
    marker = ""
    while True:
        params = {"PageSize": str(_PAGE), **({"Marker": marker} if marker else {})}
        root = await elb.call(origin, who, "DescribeTrustStores", params)
        rows += [
            TrustStoreRow(
                arn=_text(m, "TrustStoreArn"),
                name=_text(m, "Name"),
                status=_text(m, "Status"),
                ca_certificates=_text(m, "NumberOfCaCertificates"),
                revoked_entries=_text(m, "TotalRevokedEntries"),
            )
            for m in root.iterfind(".//TrustStores/member")
        ]
        marker = _text(root, ".//NextMarker")
        if not marker:
            return rows


async def create_trust_store(
    elb: ElbWire, origin: Scope, who: Principal, name: str, bucket: str, key: str
) -> None:
    """CreateTrustStore from the CA bundle at ``bucket``/``key`` (read by ELBv2 as the user)."""
    params = {
        "Name": name,
        "CaCertificatesBundleS3Bucket": bucket,
        "CaCertificatesBundleS3Key": key,
    }
    await elb.call(origin, who, "CreateTrustStore", params)


async def delete_trust_store(elb: ElbWire, origin: Scope, who: Principal, arn: str) -> None:
    await elb.call(origin, who, "DeleteTrustStore", {"TrustStoreArn": arn})


async def set_mutual_authentication(
    elb: ElbWire, origin: Scope, who: Principal, listener_arn: str, mode: str, trust_store: str
) -> None:
    """ModifyListener's ``MutualAuthentication``: the mode as chosen, the trust store sent
    for ``verify`` only (ELBv2 refuses one with another mode, and verify without one)."""
    params = {"ListenerArn": listener_arn, "MutualAuthentication.Mode": mode}
    if mode == "verify" and trust_store:
        params["MutualAuthentication.TrustStoreArn"] = trust_store
    await elb.call(origin, who, "ModifyListener", params)
