"""AWS Signer's operations (decision 0386) over a :class:`~andromede.signer.store.SignerStore`:
signing profiles of the ``AWSLambda-SHA384-ECDSA`` platform, each with its own ECDSA P-384
key made here and kept sealed under the account's key ring (opened only for the time of a
signature, never logged); signing jobs that read a source object version as the caller,
sign it (``signer.envelope``) and write the signed ZIP to ``<prefix><jobId>.zip`` in the
destination bucket, as the caller; revocation of a job's signature or of a profile's
signatures from a time on; and :meth:`SignerService.verify`, what Lambda asks of a code
package: its signature's integrity under the profile version's own key, and what the
signature says (publisher, expiry, revocation) for Lambda's policy to judge.

A job runs within StartSigningJob: it is ``Succeeded`` or ``Failed`` (with its reason) when
the call answers, which AWS's clients, polling DescribeSigningJob, take as a fast job."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from andromede.signer.envelope import (
    new_signing_key,
    public_key_der,
    read_envelope,
    sign_zip,
    verify_envelope,
)
from andromede.signer.errors import (
    InvalidSignerInput,
    JobNotFound,
    ProfileCanceled,
    ProfileNotFound,
    SignatureInvalid,
    SignerAccessDenied,
    SignerConflict,
    SignerError,
    SignerQuota,
)
from andromede.signer.listing import (
    JobFilter,
    ProfileFilter,
    read_job_token,
    read_profile_token,
    write_job_token,
    write_profile_token,
)
from andromede.signer.model import (
    LAMBDA_PLATFORM,
    PROFILE_NAME,
    JobStatus,
    ProfileStatus,
    SigningJob,
    SigningProfile,
    Validity,
    job_arn,
    new_profile_version,
    parse_version_arn,
    profile_arn,
)
from andromede.signer.permissions import grants, new_permission
from andromede.signer.store import ProfileChange, SignerStore

__all__ = ["ObjectAccess", "Sealer", "SignerLimits", "SignerService", "VerifiedSignature"]

_REASON: Final = 500  # RevocationReasonString's bound
_TOKEN: Final = 256  # the model leaves clientRequestToken unbounded; the record is not
_MAX_TAGS: Final = 200
# TagKey's pattern in the API model, never the aws: prefix; its "+-=" is a range, as AWS's
# (it takes digits, spaces excepted: "team1" is a key, "my team" not).
_TAG_KEY: Final = re.compile(r"(?!aws:)[a-zA-Z+-=._:/]{1,128}")
_PROFILE_ARN: Final = re.compile(
    r"arn:aws:signer:(?P<region>[^:]+):(?P<account>[0-9a-zA-Z]+):/signing-profiles/"
    r"(?P<name>[a-zA-Z0-9_]{2,64})"
)


class Sealer(Protocol):
    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


class ObjectAccess(Protocol):
    """The object store as the caller: SignerError (its message the job's reason) when an
    object cannot be read or written."""

    async def read(
        self, caller: object, tenant_id: str, bucket: str, key: str, version: str, limit: int
    ) -> bytes: ...

    async def write(
        self, caller: object, tenant_id: str, bucket: str, key: str, data: bytes
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SignerLimits:
    max_profiles: int = 100
    max_object_bytes: int = 50 * 1024 * 1024
    max_profile_permissions: int = 100


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """A code package's signature whose integrity was proven under its profile version's key."""

    profile_version_arn: str
    job_arn: str
    signed_at: int
    expires_at: int
    revoked: str | None  # why it no longer counts, when it was revoked


def _now() -> int:
    return int(time.time())


def _key_context(tenant_id: str, name: str, version: str) -> bytes:
    return f"signer-profile:{tenant_id}:{name}:{version}".encode()


class SignerService:
    def __init__(
        self,
        store: SignerStore,
        region: str,
        sealer: Sealer,
        objects: ObjectAccess | None,
        limits: SignerLimits | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self.region = region
        self.limits = limits or SignerLimits()
        self._sealer = sealer
        self._objects = objects
        self._clock = clock

    def profile_arn(self, profile: SigningProfile) -> str:
        return profile_arn(self.region, profile.tenant_id, profile.name)

    def version_arn(self, profile: SigningProfile) -> str:
        return f"{self.profile_arn(profile)}/{profile.version}"

    def job_arn(self, job: SigningJob) -> str:
        return job_arn(self.region, job.tenant_id, job.job_id)

    # -- profiles -------------------------------------------------------------------------

    async def put_profile(
        self, tenant_id: str, name: str, params: dict[str, Any]
    ) -> SigningProfile:
        _check_name(name)
        platform = params.get("platformId")
        if platform != LAMBDA_PLATFORM["platformId"]:
            raise InvalidSignerInput(
                f"platformId must be {LAMBDA_PLATFORM['platformId']}: the one platform served"
            )
        if params.get("signingMaterial") is not None:
            raise InvalidSignerInput("signingMaterial is for AWS IoT platforms, not Lambda's")
        for name_given in ("overrides", "signingParameters"):
            if params.get(name_given):  # the one platform's configuration is fixed
                raise InvalidSignerInput(f"{name_given} is not supported by this Signer yet")
        tags = _tags(params.get("tags"))
        validity = Validity.of(params.get("signatureValidityPeriod"))
        if len(await self.store.profiles(tenant_id)) >= self.limits.max_profiles:
            raise SignerQuota(f"An account holds at most {self.limits.max_profiles} profiles")
        version = new_profile_version()
        key = new_signing_key()
        private = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        sealed = await self._sealer.seal(tenant_id, private, _key_context(tenant_id, name, version))
        profile = SigningProfile(
            tenant_id=tenant_id,
            name=name,
            version=version,
            platform_id=platform,
            validity=validity,
            sealed_key=sealed,
            public_key=public_key_der(key),
            created=self._clock(),
            tags=tags,
        )
        if not await self.store.create_profile(profile):
            raise SignerConflict(f"A signing profile named {name} already exists")
        return profile

    async def profile(self, tenant_id: str, name: str) -> SigningProfile:
        found = await self.store.profile(tenant_id, name)
        if found is None:
            raise ProfileNotFound(f"The signing profile {name} does not exist")
        return found

    async def profile_page(
        self, tenant_id: str, wanted: ProfileFilter, token: object, size: int
    ) -> tuple[list[SigningProfile], str | None]:
        """ListSigningProfiles: one page of ``size`` the store filtered, and the token of the
        next page (None on the last); a token this listing did not answer is refused."""
        after = read_profile_token(token)
        found = await self.store.profile_page(tenant_id, wanted, after, size + 1)
        more = len(found) > size
        return found[:size], write_profile_token(found[size - 1]) if more else None

    async def job_page(
        self, tenant_id: str, wanted: JobFilter, token: object, size: int
    ) -> tuple[list[SigningJob], str | None]:
        """ListSigningJobs: the account's jobs and those it started with other accounts'
        profiles (decision 0403), one page filtered in the store (decision 0409)."""
        after = read_job_token(token)
        found = await self.store.job_page(tenant_id, wanted, after, size + 1)
        more = len(found) > size
        return found[:size], write_job_token(found[size - 1]) if more else None

    async def profile_by_arn(self, tenant_id: str, arn: object) -> SigningProfile:
        """The account's profile a profile ARN names (Signer's tag operations name it so);
        ProfileNotFound for another account's, another Region's or a malformed ARN."""
        found = _PROFILE_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if found is None or found["region"] != self.region or found["account"] != tenant_id:
            raise ProfileNotFound(f"The signing profile {str(arn)[:256]} does not exist")
        return await self.profile(tenant_id, found["name"])

    async def _change(self, tenant_id: str, name: str, change: ProfileChange) -> SigningProfile:
        """The profile changed in one step of the store (decision 0403): changes made at once
        each apply to the one before, none is lost."""
        changed = await self.store.change_profile(tenant_id, name, change)
        if changed is None:
            raise ProfileNotFound(f"The signing profile {name} does not exist")
        return changed

    async def tag_profile(self, tenant_id: str, arn: object, tags: object) -> None:
        profile = await self.profile_by_arn(tenant_id, arn)
        if not tags:
            raise InvalidSignerInput("tags must name at least one tag")
        added = _tags(tags)

        def tag(current: SigningProfile) -> SigningProfile:
            _refuse_canceled(current)
            merged = {**current.tags, **added}
            if len(merged) > _MAX_TAGS:
                raise InvalidSignerInput(f"A signing profile holds at most {_MAX_TAGS} tags")
            return current.replaced(tags=merged)

        await self._change(tenant_id, profile.name, tag)

    async def untag_profile(self, tenant_id: str, arn: object, keys: object) -> None:
        profile = await self.profile_by_arn(tenant_id, arn)
        if (
            not isinstance(keys, list)
            or not 1 <= len(keys) <= _MAX_TAGS
            or not all(isinstance(k, str) and _TAG_KEY.fullmatch(k) for k in keys)
        ):
            raise InvalidSignerInput(f"tagKeys must list 1 to {_MAX_TAGS} tag keys")
        dropped = set(keys)

        def untag(current: SigningProfile) -> SigningProfile:
            _refuse_canceled(current)
            return current.replaced(
                tags={k: v for k, v in current.tags.items() if k not in dropped}
            )

        await self._change(tenant_id, profile.name, untag)

    async def profile_tags(self, tenant_id: str, arn: object) -> dict[str, str]:
        """ListTagsForResource: the tags of the account's profile the ARN names; a canceled
        one's are refused as its other tagging calls are (decision 0417)."""
        profile = await self.profile_by_arn(tenant_id, arn)
        _refuse_canceled(profile)
        return dict(profile.tags)

    async def shared_profile(
        self, tenant_id: str, caller_arn: str, owner: str, name: str, action: str
    ) -> SigningProfile:
        """The profile ``owner`` holds under ``name``, used by a caller of ``tenant_id``: its
        own, or another account's whose permissions grant the caller ``action`` (decision
        0394). Another account's profile that does not grant it, or that does not exist, is
        SignerAccessDenied alike, so a stranger learns nothing of an account's names."""
        if owner == tenant_id:
            return await self.profile(tenant_id, name)
        found = await self.store.profile(owner, name)
        if found is None or not grants(
            found.permissions, action, tenant_id, caller_arn, found.version
        ):
            raise SignerAccessDenied(f"The signing profile {name} does not grant you {action}")
        return found

    async def add_permission(self, tenant_id: str, name: str, params: dict[str, Any]) -> str:
        """AddProfilePermission: the statement added, the policy's new revision answered."""
        profile = await self.profile(tenant_id, name)
        permission = new_permission(params, profile.version)
        bound = self.limits.max_profile_permissions

        def add(current: SigningProfile) -> SigningProfile:
            # Checked on the profile as the store holds it now, not as it was read above: a
            # change made meanwhile is kept, or the revision given no longer matches.
            _check_revision(current, params.get("revisionId"), required=False)
            if any(p.statement_id == permission.statement_id for p in current.permissions):
                raise SignerConflict(f"A permission {permission.statement_id} already exists")
            if len(current.permissions) >= bound:
                raise SignerQuota(f"A signing profile holds at most {bound} permissions")
            return current.replaced(
                permissions=(*current.permissions, permission), policy_revision=str(uuid.uuid4())
            )

        return (await self._change(tenant_id, name, add)).policy_revision

    async def remove_permission(
        self, tenant_id: str, name: str, statement_id: object, revision_id: object
    ) -> str:
        def remove(current: SigningProfile) -> SigningProfile:
            _check_revision(current, revision_id, required=True)
            kept = tuple(p for p in current.permissions if p.statement_id != statement_id)
            if len(kept) == len(current.permissions):
                raise ProfileNotFound(f"The permission {str(statement_id)[:100]} does not exist")
            return current.replaced(permissions=kept, policy_revision=str(uuid.uuid4()))

        return (await self._change(tenant_id, name, remove)).policy_revision

    async def cancel_profile(self, tenant_id: str, name: str) -> None:
        def cancel(current: SigningProfile) -> SigningProfile:
            if current.status != ProfileStatus.ACTIVE:
                return current
            return current.replaced(status=ProfileStatus.CANCELED)

        await self._change(tenant_id, name, cancel)

    async def revoke_profile(
        self, tenant_id: str, name: str, params: dict[str, Any], revoked_by: str
    ) -> SigningProfile:
        profile = await self.profile(tenant_id, name)
        if params.get("profileVersion") != profile.version:
            raise InvalidSignerInput(f"profileVersion is not a version of {name}")
        reason = _reason(params.get("reason"))
        effective = params.get("effectiveTime")
        if isinstance(effective, bool) or not isinstance(effective, int | float):
            raise InvalidSignerInput("effectiveTime must be a timestamp")
        now = self._clock()
        if effective > now:
            raise InvalidSignerInput("effectiveTime cannot be in the future")

        def revoke(current: SigningProfile) -> SigningProfile:
            if current.status == ProfileStatus.REVOKED:
                raise SignerConflict(f"The signing profile {name} is already revoked")
            return current.replaced(
                status=ProfileStatus.REVOKED,
                revoked_from=int(effective),
                revoked_at=now,
                revoked_by=revoked_by,
                revoked_reason=reason,
            )

        return await self._change(tenant_id, name, revoke)

    # -- jobs -----------------------------------------------------------------------------

    async def start_job(
        self, caller: object, tenant_id: str, params: dict[str, Any], requested_by: str
    ) -> SigningJob:
        """The job ``params`` asks for, run; the same ``clientRequestToken`` with the same
        request answers the job it started (AWS: "all calls after the first that use this
        token return the same response as the first call"); with another request, refused."""
        owner = _owner(params.get("profileOwner"), tenant_id)
        token = params.get("clientRequestToken", "")
        if not isinstance(token, str) or len(token) > _TOKEN:
            raise InvalidSignerInput(f"clientRequestToken must be at most {_TOKEN} characters")
        digest = _request_digest(params)
        invoker = "" if owner == tenant_id else tenant_id
        if token:
            earlier = await self.store.job_by_token(owner, invoker, token)
            if earlier is not None:
                return _same_request(earlier, digest)
        profile = await self.shared_profile(
            tenant_id,
            requested_by,
            owner,
            _text(params.get("profileName"), "profileName"),
            "signer:StartSigningJob",
        )
        source = _member(_member(params, "source"), "s3")
        destination = _member(_member(params, "destination"), "s3")
        prefix = destination.get("prefix", "")
        if not isinstance(prefix, str) or len(prefix) > 1024:
            raise InvalidSignerInput("destination.s3.prefix must be a string")
        job = SigningJob(
            job_id=str(uuid.uuid4()),
            tenant_id=owner,
            profile_name=profile.name,
            profile_version=profile.version,
            platform_id=profile.platform_id,
            source_bucket=_text(source.get("bucketName"), "source.s3.bucketName"),
            source_key=_text(source.get("key"), "source.s3.key"),
            source_version=_text(source.get("version"), "source.s3.version"),
            destination_bucket=_text(destination.get("bucketName"), "destination.s3.bucketName"),
            destination_prefix=prefix,
            requested_by=requested_by,
            created=self._clock(),
            client_token=token,
            request_digest=digest,
            invoker=invoker,
        )
        if profile.status != ProfileStatus.ACTIVE:
            raise InvalidSignerInput(f"The signing profile {profile.name} is not Active")
        created = await self.store.create_job(job)
        if created.job_id != job.job_id:  # a first call made at the same time won the token
            return _same_request(created, digest)
        done = await self._run(caller, profile, job)
        await self.store.put_job(done)
        return done

    async def _run(self, caller: object, profile: SigningProfile, job: SigningJob) -> SigningJob:
        if self._objects is None:
            return _failed(job, self._clock(), "No object store is served here")
        try:
            data = await self._objects.read(
                caller,
                job.invoker_account,
                job.source_bucket,
                job.source_key,
                job.source_version,
                self.limits.max_object_bytes,
            )
            signed_at = self._clock()
            expires = profile.validity.expiry(signed_at)
            key = await self._key(profile)
            signed = sign_zip(
                data,
                key,
                profile_version_arn=self.version_arn(profile),
                job_arn=self.job_arn(job),
                signed_at=signed_at,
                expires_at=expires,
            )
            signed_key = f"{job.destination_prefix}{job.job_id}.zip"
            await self._objects.write(
                caller, job.invoker_account, job.destination_bucket, signed_key, signed
            )
        except SignerError as exc:
            return _failed(job, self._clock(), str(exc))
        return job.replaced(
            status=JobStatus.SUCCEEDED,
            completed=self._clock(),
            expires=expires,
            signed_key=signed_key,
            status_reason="Signing Succeeded",
        )

    async def _key(self, profile: SigningProfile) -> ec.EllipticCurvePrivateKey:
        opened = await self._sealer.open(
            profile.tenant_id,
            profile.sealed_key,
            _key_context(profile.tenant_id, profile.name, profile.version),
        )
        key = serialization.load_der_private_key(opened, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):  # pragma: no cover - made here
            raise SignatureInvalid("The profile's key is not an ECDSA key")
        return key

    async def job(self, tenant_id: str, job_id: str) -> SigningJob:
        """The account's job, or one it started with another account's profile."""
        found = await self.store.job(tenant_id, job_id)
        if found is None:
            found = await self.store.job_by_id(job_id)
            found = found if found is not None and found.invoker == tenant_id else None
        if found is None:
            raise JobNotFound(f"The signing job {job_id[:64]} does not exist")
        return found

    async def revoke_signature(
        self, tenant_id: str, job_id: str, params: dict[str, Any], revoked_by: str
    ) -> None:
        """The job's signature revoked: by its profile's account, or by another account its
        profile grants ``signer:RevokeSignature`` (``jobOwner`` naming the profile's)."""
        owner = _owner(params.get("jobOwner"), tenant_id)
        reason = _reason(params.get("reason"))
        found = await self.store.job(owner, job_id)
        if found is None:
            raise JobNotFound(f"The signing job {job_id[:64]} does not exist")
        job = found
        if owner != tenant_id:
            await self.shared_profile(
                tenant_id, revoked_by, owner, job.profile_name, "signer:RevokeSignature"
            )
        if job.status != JobStatus.SUCCEEDED:
            raise InvalidSignerInput("Only a job that succeeded has a signature to revoke")
        if job.revoked_at is None:
            await self.store.put_job(
                job.replaced(revoked_at=self._clock(), revoked_by=revoked_by, revoked_reason=reason)
            )

    # -- verification ---------------------------------------------------------------------

    async def verify(self, data: bytes) -> VerifiedSignature | None:
        """The signature ``data`` carries, proven; None when it carries none.
        SignatureInvalid when it is malformed, does not match the bytes, or was not made
        with the key of the profile version it names."""
        envelope = read_envelope(data)
        if envelope is None:
            return None
        verify_envelope(envelope)
        parsed = parse_version_arn(envelope.profile_version_arn)
        if parsed is None or parsed[0] != self.region:
            raise SignatureInvalid("The signature names no signing profile of this Region")
        _, account, name, version = parsed
        profile = await self.store.profile(account, name)
        if profile is None or profile.version != version:
            raise SignatureInvalid("The signature's signing profile version does not exist")
        if profile.public_key != envelope.public_key:
            raise SignatureInvalid("The signature was not made with its profile's key")
        revoked = None
        job_id = envelope.job_arn.rsplit("/", 1)[-1]
        job = await self.store.job(account, job_id)
        if job is not None and job.revoked_at is not None:
            revoked = f"its signing job was revoked: {job.revoked_reason}"
        elif profile.revoked_from is not None and envelope.signed_at >= profile.revoked_from:
            revoked = f"its signing profile was revoked: {profile.revoked_reason}"
        return VerifiedSignature(
            envelope.profile_version_arn,
            envelope.job_arn,
            envelope.signed_at,
            envelope.expires_at,
            revoked,
        )


def _same_request(earlier: SigningJob, digest: str) -> SigningJob:
    """The job a clientRequestToken started, answered again to the same request only."""
    if not hmac.compare_digest(earlier.request_digest, digest):
        raise InvalidSignerInput("clientRequestToken was already used for a different request")
    return earlier


def _failed(job: SigningJob, now: int, reason: str) -> SigningJob:
    return job.replaced(status=JobStatus.FAILED, completed=now, status_reason=reason[:500])


def _check_name(name: str) -> None:
    if PROFILE_NAME.fullmatch(name) is None:
        raise InvalidSignerInput("profileName must be 2 to 64 letters, digits or underscores")


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise InvalidSignerInput(f"{name} must be a non-empty string")
    return value


def _member(params: object, name: str) -> dict[str, Any]:
    value = params.get(name) if isinstance(params, dict) else None
    if not isinstance(value, dict):
        raise InvalidSignerInput(f"{name} is required")
    return value


def _owner(value: object, tenant_id: str) -> str:
    """The account a ``profileOwner`` or ``jobOwner`` names (AccountId: 12 digits); the
    caller's when absent."""
    if value is None or value == tenant_id:
        return tenant_id
    if not isinstance(value, str) or re.fullmatch(r"[0-9]{12}", value) is None:
        raise InvalidSignerInput("The owner must be an AWS account id of 12 digits")
    return value


def _check_revision(profile: SigningProfile, given: object, required: bool) -> None:
    """A permission change made on the policy revision the caller read, as AWS checks it."""
    if given is None and not required:
        return
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode(), profile.policy_revision.encode()
    ):
        raise SignerConflict("revisionId is not the profile's current policy revision")


def _reason(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= _REASON:
        raise InvalidSignerInput(f"reason must be 1 to {_REASON} characters")
    return value


def _refuse_canceled(profile: SigningProfile) -> None:
    """Signer's tagging calls on a canceled profile fail, nothing changed (the reference's
    BadRequestException: "when you call a tagging API on a cancelled signing profile"). Checked
    on the profile as the store's change sees it, so a cancel made meanwhile is not tagged
    past. A revoked profile is not canceled: it keeps its tags and may be tagged."""
    if profile.status == ProfileStatus.CANCELED:
        raise ProfileCanceled(f"The signing profile {profile.name} is canceled")


def _tags(value: object) -> dict[str, str]:
    """Tags as AWS Signer bounds them: at most 200; a key of 1 to 128 of its characters, not
    starting with ``aws:``; a value of at most 256."""
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > _MAX_TAGS
        or not all(
            isinstance(k, str) and _TAG_KEY.fullmatch(k) and isinstance(v, str) and len(v) <= 256
            for k, v in value.items()
        )
    ):
        raise InvalidSignerInput(
            f"tags must map at most {_MAX_TAGS} keys (1 to 128 characters, not aws:) to values "
            "of at most 256 characters"
        )
    return dict(value)


def _request_digest(params: dict[str, Any]) -> str:
    """What a clientRequestToken's request asked, to tell a retry from another request."""
    asked = {k: params.get(k) for k in ("profileName", "profileOwner", "source", "destination")}
    return hashlib.sha256(json.dumps(asked, sort_keys=True, default=str).encode()).hexdigest()
