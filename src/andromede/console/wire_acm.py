"""AWS Certificate Manager's calls (decision 0230) the console's certificate pages make (decision
0239), in process as the signed-in principal through ACM's JSON 1.1 protocol
(``acmapi.app``): its authorisation (``acm:<Action>`` on the certificate's ARN), checks,
audit, metering and errors answer them. Each answer is read into the small rows the pages
show; nothing here decides what ACM allows. A private key goes to ACM (ImportCertificate)
and never comes back: no call here reads one.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from andromede.console.wire import AsgiApp, JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["ALL_KEY_TYPES", "AcmWire", "CertificateDetail", "CertificateRow"]

# ListCertificates lists RSA_1024 and RSA_2048 keys only unless asked for more (as AWS): the
# console asks for every key type ACM holds, so that an ECDSA certificate is listed too.
ALL_KEY_TYPES: Final = ("RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1",
                        "EC_secp384r1", "EC_secp521r1")  # fmt: skip


def _when(value: Any) -> str:
    """An epoch-seconds timestamp as the pages show it ("" when absent)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """A certificate as ListCertificates summarises it."""

    arn: str
    domain: str
    status: str
    kind: str  # IMPORTED or PRIVATE
    key_algorithm: str
    not_after: str
    in_use: bool

    @property
    def certificate_id(self) -> str:
        """The ARN's last part, which the pages' URLs carry."""
        return self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class CertificateDetail:
    """A certificate as DescribeCertificate tells it."""

    arn: str
    domain: str
    alternative_names: list[str]
    status: str
    kind: str
    key_algorithm: str
    signature_algorithm: str
    serial: str
    subject: str
    issuer: str
    created: str
    imported_or_issued: str
    not_before: str
    not_after: str
    in_use_by: list[str]
    renewal_eligibility: str
    authority_arn: str
    key_usages: list[str]
    extended_key_usages: list[str]


def _row(item: dict[str, Any]) -> CertificateRow:
    return CertificateRow(
        arn=str(item.get("CertificateArn", "")),
        domain=str(item.get("DomainName", "")),
        status=str(item.get("Status", "")),
        kind=str(item.get("Type", "")),
        key_algorithm=str(item.get("KeyAlgorithm", "")),
        not_after=_when(item.get("NotAfter")),
        in_use=item.get("InUse") is True,
    )


def _names(value: Any) -> list[str]:
    """KeyUsages / ExtendedKeyUsages: a list of ``{"Name": …}``."""
    if not isinstance(value, list):
        return []
    return [str(v.get("Name", "")) for v in value if isinstance(v, dict)]


def _detail(item: dict[str, Any]) -> CertificateDetail:
    return CertificateDetail(
        arn=str(item.get("CertificateArn", "")),
        domain=str(item.get("DomainName", "")),
        alternative_names=_strings(item.get("SubjectAlternativeNames")),
        status=str(item.get("Status", "")),
        kind=str(item.get("Type", "")),
        key_algorithm=str(item.get("KeyAlgorithm", "")),
        signature_algorithm=str(item.get("SignatureAlgorithm", "")),
        serial=str(item.get("Serial", "")),
        subject=str(item.get("Subject", "")),
        issuer=str(item.get("Issuer", "")),
        created=_when(item.get("CreatedAt")),
        imported_or_issued=_when(item.get("ImportedAt", item.get("IssuedAt"))),
        not_before=_when(item.get("NotBefore")),
        not_after=_when(item.get("NotAfter")),
        in_use_by=_strings(item.get("InUseBy")),
        renewal_eligibility=str(item.get("RenewalEligibility", "")),
        authority_arn=str(item.get("CertificateAuthorityArn", "")),
        key_usages=_names(item.get("KeyUsages")),
        extended_key_usages=_names(item.get("ExtendedKeyUsages")),
    )


def _blob(text: str) -> str:
    """A PEM text as the protocol's blob member carries it (base64)."""
    return base64.b64encode(text.encode()).decode("ascii")


def _tags(tags: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


class AcmWire(JsonWire):
    """The certificate calls the console makes (``CertificateManager`` JSON 1.1), as
    ``principal``."""

    target_prefix = "CertificateManager."
    content_type = "application/x-amz-json-1.1"
    internal_error = "InternalFailure"

    def __init__(self, app: AsgiApp, region: str, *, authority_arn: str | None = None) -> None:
        """``region``: ACM's (its ARNs'); ``authority_arn``: the operator's private CA, which
        RequestCertificate names (None: none configured, and the pages offer no request)."""
        super().__init__(app)
        self.region = region
        self.authority_arn = authority_arn

    def arn(self, account: str, certificate_id: str) -> str:
        """A certificate's ARN from its id (the last part, which the pages' URLs carry)."""
        return f"arn:aws:acm:{self.region}:{account}:certificate/{certificate_id}"

    async def certificates(
        self, origin: Scope, principal: Principal, *, token: str | None, limit: int
    ) -> tuple[list[CertificateRow], str | None]:
        """One page of ListCertificates (every key type, every status), and the next
        page's token."""
        payload: dict[str, Any] = {
            "MaxItems": limit,
            "Includes": {"keyTypes": list(ALL_KEY_TYPES)},
        }
        if token:
            payload["NextToken"] = token
        answer = await self._json(origin, principal, "ListCertificates", payload)
        listed = answer.get("CertificateSummaryList")
        rows = [
            _row(c) for c in (listed if isinstance(listed, list) else []) if isinstance(c, dict)
        ]
        following = answer.get("NextToken")
        return rows, str(following) if following else None

    async def describe(self, origin: Scope, principal: Principal, arn: str) -> CertificateDetail:
        answer = await self._json(origin, principal, "DescribeCertificate", {"CertificateArn": arn})
        found = answer.get("Certificate")
        return _detail(found if isinstance(found, dict) else {})

    async def pem(self, origin: Scope, principal: Principal, arn: str) -> tuple[str, str]:
        """GetCertificate: the certificate's PEM and its chain's ("" when none)."""
        answer = await self._json(origin, principal, "GetCertificate", {"CertificateArn": arn})
        return str(answer.get("Certificate", "")), str(answer.get("CertificateChain") or "")

    async def import_certificate(
        self,
        origin: Scope,
        principal: Principal,
        *,
        body: str,
        private_key: str,
        chain: str,
        arn: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> str:
        """ImportCertificate (a re-import when ``arn`` is given); the certificate's ARN."""
        payload: dict[str, Any] = {"Certificate": _blob(body), "PrivateKey": _blob(private_key)}
        if chain:
            payload["CertificateChain"] = _blob(chain)
        if arn:
            payload["CertificateArn"] = arn
        if tags:
            payload["Tags"] = _tags(tags)
        answer = await self._json(origin, principal, "ImportCertificate", payload)
        return str(answer.get("CertificateArn", ""))

    async def request_private(
        self,
        origin: Scope,
        principal: Principal,
        domain: str,
        alternative_names: Sequence[str],
        key_algorithm: str,
    ) -> str:
        """RequestCertificate from the operator's private CA; the certificate's ARN."""
        payload: dict[str, Any] = {
            "DomainName": domain,
            "CertificateAuthorityArn": self.authority_arn or "",
        }
        if alternative_names:
            payload["SubjectAlternativeNames"] = list(alternative_names)
        if key_algorithm:
            payload["KeyAlgorithm"] = key_algorithm
        answer = await self._json(origin, principal, "RequestCertificate", payload)
        return str(answer.get("CertificateArn", ""))

    async def renew(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self._json(origin, principal, "RenewCertificate", {"CertificateArn": arn})

    async def tags(self, origin: Scope, principal: Principal, arn: str) -> list[tuple[str, str]]:
        answer = await self._json(
            origin, principal, "ListTagsForCertificate", {"CertificateArn": arn}
        )
        listed = answer.get("Tags")
        return [
            (str(t.get("Key", "")), str(t.get("Value") or ""))
            for t in (listed if isinstance(listed, list) else [])
            if isinstance(t, dict)
        ]

    async def tag(
        self, origin: Scope, principal: Principal, arn: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        payload = {"CertificateArn": arn, "Tags": _tags(tags)}
        await self._json(origin, principal, "AddTagsToCertificate", payload)

    async def untag(self, origin: Scope, principal: Principal, arn: str, key: str) -> None:
        """RemoveTagsFromCertificate of the tag ``key`` whatever its value."""
        payload = {"CertificateArn": arn, "Tags": [{"Key": key}]}
        await self._json(origin, principal, "RemoveTagsFromCertificate", payload)

    async def delete(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self._json(origin, principal, "DeleteCertificate", {"CertificateArn": arn})
