"""AWS Signer's calls (decision 0386) the console's signing pages make (decision 0396), in
process as the signed-in principal through Signer's restJson1 protocol (``signerapi.app``):
its authorisation (``signer:<Action>``), checks, audit and errors answer them — a name
taken, a revocation in the future, a source object the principal may not read. A refusal's
code is its ``x-amzn-ErrorType``, its words the body's ``message``. Each answer is read into
the small rows the pages show; nothing here decides what Signer allows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from andromede.console.json_answers import every_page, mapping, minute_text
from andromede.console.wire import AsgiApp, WireError, _call, _scope
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["JobRow", "ProfileRow", "SignerWire", "SigningRequest"]

_LISTED: Final = 25  # Signer's maxResults bound (AWS's)
_PAGES: Final = 40  # pages read for a whole list: 1,000 profiles or jobs
PLATFORM: Final = "AWSLambda-SHA384-ECDSA"  # the one platform served (decision 0386)


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A signing profile as ListSigningProfiles or GetSigningProfile tells it; its
    revocation's members are GetSigningProfile's only ("" elsewhere)."""

    name: str
    arn: str
    version: str
    version_arn: str
    platform: str
    platform_name: str
    status: str
    validity: str  # "135 MONTHS"
    revoked_from: str = ""
    revoked_at: str = ""
    revoked_by: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class JobRow:
    """A signing job as ListSigningJobs or DescribeSigningJob tells it; ``signed_key`` ""
    until (unless) it succeeded; the reason and the requester are DescribeSigningJob's."""

    job_id: str
    status: str
    profile_name: str
    profile_version: str
    source_bucket: str
    source_key: str
    source_version: str
    signed_bucket: str
    signed_key: str
    created: str
    expires: str
    revoked: bool
    reason: str = ""
    requested_by: str = ""
    completed: str = ""


@dataclass(frozen=True, slots=True)
class SigningRequest:
    """What the start form sends: the source object version, where the signed ZIP goes, and
    the profile that signs it."""

    profile: str
    source_bucket: str
    source_key: str
    source_version: str
    destination_bucket: str
    destination_prefix: str

    def payload(self) -> dict[str, Any]:
        return {
            "profileName": self.profile,
            "source": {
                "s3": {
                    "bucketName": self.source_bucket,
                    "key": self.source_key,
                    "version": self.source_version,
                }
            },
            "destination": {
                "s3": {"bucketName": self.destination_bucket, "prefix": self.destination_prefix}
            },
            # Each form sent is a new job: AWS's console makes a token per start too.
            "clientRequestToken": str(uuid.uuid4()),
        }


def _profile(item: dict[str, Any]) -> ProfileRow:
    validity = mapping(item.get("signatureValidityPeriod"))
    record = mapping(item.get("revocationRecord"))
    return ProfileRow(
        name=str(item.get("profileName", "")),
        arn=str(item.get("arn", "")),
        version=str(item.get("profileVersion", "")),
        version_arn=str(item.get("profileVersionArn", "")),
        platform=str(item.get("platformId", "")),
        platform_name=str(item.get("platformDisplayName", "")),
        status=str(item.get("status", "")),
        validity=f"{validity.get('value', '')} {validity.get('type', '')}".strip(),
        revoked_from=minute_text(record.get("revocationEffectiveFrom")),
        revoked_at=minute_text(record.get("revokedAt")),
        revoked_by=str(record.get("revokedBy") or ""),
        reason=str(item.get("statusReason") or ""),
    )


def _job(item: dict[str, Any]) -> JobRow:
    source = mapping(mapping(item.get("source")).get("s3"))
    signed = mapping(mapping(item.get("signedObject")).get("s3"))
    record = mapping(item.get("revocationRecord"))
    return JobRow(
        job_id=str(item.get("jobId", "")),
        status=str(item.get("status", "")),
        profile_name=str(item.get("profileName", "")),
        profile_version=str(item.get("profileVersion", "")),
        source_bucket=str(source.get("bucketName", "")),
        source_key=str(source.get("key", "")),
        source_version=str(source.get("version", "")),
        signed_bucket=str(signed.get("bucketName", "")),
        signed_key=str(signed.get("key", "")),
        created=minute_text(item.get("createdAt")),
        expires=minute_text(item.get("signatureExpiresAt")),
        revoked=item.get("isRevoked") is True or bool(record),
        reason=str(item.get("statusReason") or ""),
        requested_by=str(item.get("requestedBy") or ""),
        completed=minute_text(item.get("completedAt")),
    )


class SignerWire:
    """The Signer calls the console makes, as ``principal``, for the request ``origin``."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def call(
        self,
        origin: Scope,
        principal: Principal,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Signer's answer, or its refusal as a :class:`WireError`."""
        sent = b"" if body is None else json.dumps(body).encode()
        headers = [(b"content-length", str(len(sent)).encode())]
        if sent:
            headers.append((b"content-type", b"application/json"))
        scope = _scope(origin, principal, method, path, urlencode(query or {}), headers)
        answer = await _call(self._app, scope, sent)
        try:
            document = mapping(json.loads(answer.body or b"{}"))
        except ValueError:
            document = {}
        if answer.status >= 300:
            code = answer.headers.get("x-amzn-errortype", "") or str(document.get("code", ""))
            message = str(document.get("message") or "")
            raise WireError(code.split(":", 1)[0] or "InternalServiceErrorException", message,
                            answer.status)  # fmt: skip
        return document

    async def _all(
        self, origin: Scope, principal: Principal, path: str, member: str, query: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Every page of a list (Signer's pages are 25 long), up to ``_PAGES`` of them."""

        async def page(token: str) -> dict[str, Any]:
            asked = {**query, "maxResults": str(_LISTED), **({"nextToken": token} if token else {})}
            return await self.call(origin, principal, "GET", path, query=asked)

        items = await every_page(page, member, cursor="nextToken", pages=_PAGES)
        return [item for item in items if isinstance(item, dict)]

    # -- profiles -------------------------------------------------------------------------
    async def profiles(
        self, origin: Scope, principal: Principal, *, canceled: bool = True
    ) -> list[ProfileRow]:
        """The account's profiles (the canceled ones too unless ``canceled`` is False)."""
        query = {"includeCanceled": "true" if canceled else "false"}
        items = await self._all(origin, principal, "/signing-profiles", "profiles", query)
        return [_profile(item) for item in items]

    async def profile(self, origin: Scope, principal: Principal, name: str) -> ProfileRow:
        path = f"/signing-profiles/{quote(name, safe='')}"
        return _profile(await self.call(origin, principal, "GET", path))

    async def put_profile(
        self, origin: Scope, principal: Principal, name: str, validity: Mapping[str, Any]
    ) -> None:
        """PutSigningProfile on the Lambda platform, its signatures valid for ``validity``
        (``{"value", "type"}``, Signer's ``signatureValidityPeriod``)."""
        body = {"platformId": PLATFORM, "signatureValidityPeriod": dict(validity)}
        path = f"/signing-profiles/{quote(name, safe='')}"
        await self.call(origin, principal, "PUT", path, body=body)

    async def cancel_profile(self, origin: Scope, principal: Principal, name: str) -> None:
        path = f"/signing-profiles/{quote(name, safe='')}"
        await self.call(origin, principal, "DELETE", path)

    async def revoke_profile(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        version: str,
        effective: int | str,
        reason: str,
    ) -> None:
        """RevokeSigningProfile of ``version`` from ``effective`` (epoch seconds; a text
        that is none sent as typed, for Signer to refuse in its words)."""
        body = {"profileVersion": version, "effectiveTime": effective, "reason": reason}
        path = f"/signing-profiles/{quote(name, safe='')}/revoke"
        await self.call(origin, principal, "PUT", path, body=body)

    # -- jobs -----------------------------------------------------------------------------
    async def jobs(self, origin: Scope, principal: Principal) -> list[JobRow]:
        items = await self._all(origin, principal, "/signing-jobs", "jobs", {})
        return [_job(item) for item in items]

    async def job(self, origin: Scope, principal: Principal, job_id: str) -> JobRow:
        path = f"/signing-jobs/{quote(job_id, safe='')}"
        return _job(await self.call(origin, principal, "GET", path))

    async def start_job(self, origin: Scope, principal: Principal, request: SigningRequest) -> str:
        """StartSigningJob; the job's id."""
        answer = await self.call(origin, principal, "POST", "/signing-jobs", body=request.payload())
        return str(answer.get("jobId", ""))
