"""IAM's server certificates (decision 0205) called in process as the console's signed-in
principal, over the IAM wire's Query protocol: IAM authorises, audits and refuses them as it
does boto3's. What IAM answers is read into small rows; the private key goes in with the
upload and IAM never answers it, so no row has one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "CertificateDetail",
    "CertificatePage",
    "CertificateRow",
    "delete_certificate",
    "describe_certificate",
    "list_certificates",
    "tag_certificate",
    "untag_certificate",
    "update_certificate",
    "upload_certificate",
]

_NAME: Final = "ServerCertificateName"
_MAX_ITEMS: Final = 1000  # ListServerCertificates' own bound on MaxItems


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """A certificate's metadata as ListServerCertificates answers it."""

    name: str
    path: str
    certificate_id: str
    arn: str
    uploaded: str
    expiration: datetime | None

    def expiry(self, now: datetime, soon_days: int) -> str:
        """``expired``, ``soon`` (within ``soon_days``) or ``""``, as the list marks it."""
        if self.expiration is None:
            return ""
        if self.expiration <= now:
            return "expired"
        return "soon" if (self.expiration - now).days < soon_days else ""

    @property
    def expires(self) -> str:
        return self.expiration.strftime("%Y-%m-%d %H:%M") if self.expiration else ""


@dataclass(frozen=True, slots=True)
class CertificatePage:
    rows: list[CertificateRow]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class CertificateDetail:
    """GetServerCertificate's answer: the metadata, the body and chain (public), the tags."""

    row: CertificateRow
    body: str
    chain: str
    tags: list[tuple[str, str]]


def _text(element: Element | None, path: str) -> str:
    found = element.find(path) if element is not None else None
    return (found.text or "") if found is not None else ""


def _instant(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row(member: Element) -> CertificateRow:
    return CertificateRow(
        name=_text(member, "ServerCertificateName"),
        path=_text(member, "Path"),
        certificate_id=_text(member, "ServerCertificateId"),
        arn=_text(member, "Arn"),
        uploaded=_text(member, "UploadDate")[:19].replace("T", " "),
        expiration=_instant(_text(member, "Expiration")),
    )


async def list_certificates(
    iam: QueryWire, origin: Scope, principal: Principal, *, marker: str | None, page_size: int
) -> CertificatePage:
    """ListServerCertificates' page after ``marker`` (IAM's own order: by name)."""
    params = {"MaxItems": str(max(1, min(page_size, _MAX_ITEMS)))}
    if marker:
        params["Marker"] = marker
    root = await iam.call(origin, principal, "ListServerCertificates", params)
    rows = [_row(m) for m in root.iterfind(".//ServerCertificateMetadataList/member")]
    truncated = _text(root, ".//IsTruncated") == "true"
    return CertificatePage(rows, (_text(root, ".//Marker") or None) if truncated else None)


async def describe_certificate(
    iam: QueryWire, origin: Scope, principal: Principal, name: str
) -> CertificateDetail:
    root = await iam.call(origin, principal, "GetServerCertificate", {_NAME: name})
    found = root.find(".//ServerCertificate")
    metadata = found.find("ServerCertificateMetadata") if found is not None else None
    tags = [
        (_text(m, "Key"), _text(m, "Value"))
        for m in (found.iterfind("Tags/member") if found is not None else ())
    ]
    return CertificateDetail(
        row=_row(metadata if metadata is not None else Element("member")),
        body=_text(found, "CertificateBody"),
        chain=_text(found, "CertificateChain"),
        tags=tags,
    )


async def upload_certificate(
    iam: QueryWire,
    origin: Scope,
    principal: Principal,
    name: str,
    *,
    body: str,
    private_key: str,
    chain: str,
    path: str,
) -> None:
    """UploadServerCertificate; an empty chain or path is not sent (IAM's default path "/")."""
    params = {_NAME: name, "CertificateBody": body, "PrivateKey": private_key}
    if chain:
        params["CertificateChain"] = chain
    if path:
        params["Path"] = path
    await iam.call(origin, principal, "UploadServerCertificate", params)


async def update_certificate(
    iam: QueryWire, origin: Scope, principal: Principal, name: str, *, new_name: str, new_path: str
) -> None:
    """UpdateServerCertificate: only what is typed is sent (IAM keeps the rest)."""
    params = {_NAME: name}
    if new_name:
        params["NewServerCertificateName"] = new_name
    if new_path:
        params["NewPath"] = new_path
    await iam.call(origin, principal, "UpdateServerCertificate", params)


async def delete_certificate(
    iam: QueryWire, origin: Scope, principal: Principal, name: str
) -> None:
    await iam.call(origin, principal, "DeleteServerCertificate", {_NAME: name})


async def tag_certificate(
    iam: QueryWire, origin: Scope, principal: Principal, name: str, key: str, value: str
) -> None:
    params = {_NAME: name, "Tags.member.1.Key": key, "Tags.member.1.Value": value}
    await iam.call(origin, principal, "TagServerCertificate", params)


async def untag_certificate(
    iam: QueryWire, origin: Scope, principal: Principal, name: str, key: str
) -> None:
    params = {_NAME: name, "TagKeys.member.1": key}
    await iam.call(origin, principal, "UntagServerCertificate", params)
