"""AWS Signer's operations (decision 0386): one handler per operation, each authorising
``signer:<Action>`` on the profile's or job's ARN (the platform's operations on ``*``) by the
caller's identity policies, with the condition keys of ``signerapi.conditions`` (decision
0409: the tags set, the profile's tags and version), before it calls the service, then
answering in the API model's shape (timestamps as epoch seconds, as restJson1 sends them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.iam.policy.context import ContextValue
from andromede.signer.errors import InvalidSignerInput, ProfileCanceled, ProfileNotFound
from andromede.signer.listing import page_size
from andromede.signer.model import PLATFORMS, SigningJob, SigningProfile
from andromede.signer.permissions import policy_size
from andromede.signer.service import SignerService
from andromede.signerapi.conditions import (
    job_keys,
    profile_keys,
    request_tag_keys,
    tagged_profile_keys,
    untag_keys,
)
from andromede.signerapi.errors import SignerWireError
from andromede.signerapi.filters import job_filter, profile_filter

__all__ = ["ACTIONS", "SignerCall"]

Authorise = Callable[[str, str, Mapping[str, Any]], Awaitable[None]]
Handler = Callable[["SignerCall"], Awaitable[dict[str, Any]]]
_MAX_RESULTS: Final = 25


@dataclass
class SignerCall:
    params: dict[str, Any]
    tenant_id: str
    caller: object  # the principal, as whom the job reads and writes objects
    caller_arn: str
    signer: SignerService
    authorise: Authorise
    resources: list[str] = field(default_factory=list)


def _profile_shape(signer: SignerService, profile: SigningProfile) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "profileName": profile.name,
        "profileVersion": profile.version,
        "profileVersionArn": signer.version_arn(profile),
        "platformId": profile.platform_id,
        "platformDisplayName": PLATFORMS[profile.platform_id]["displayName"],
        "signatureValidityPeriod": profile.validity.shape(),
        "status": str(profile.status),
        "arn": signer.profile_arn(profile),
        "tags": profile.tags,
    }
    return shape


def _job_shape(signer: SignerService, job: SigningJob) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "jobId": job.job_id,
        "source": {
            "s3": {
                "bucketName": job.source_bucket,
                "key": job.source_key,
                "version": job.source_version,
            }
        },
        "createdAt": job.created,
        "status": str(job.status),
        "isRevoked": job.revoked_at is not None,
        "profileName": job.profile_name,
        "profileVersion": job.profile_version,
        "platformId": job.platform_id,
        "platformDisplayName": PLATFORMS[job.platform_id]["displayName"],
        "jobOwner": job.tenant_id,
        "jobInvoker": job.invoker_account,
    }
    if job.signed_key is not None:
        shape["signedObject"] = {
            "s3": {"bucketName": job.destination_bucket, "key": job.signed_key}
        }
    if job.expires is not None:
        shape["signatureExpiresAt"] = job.expires
    return shape


def _page(call: SignerCall, items: list[Any]) -> tuple[list[Any], str | None]:
    size = call.params.get("maxResults", _MAX_RESULTS)
    try:
        size = int(size)
        start = int(call.params.get("nextToken") or 0)
    except (TypeError, ValueError):
        raise SignerWireError("ValidationException", "maxResults or nextToken is invalid") from None
    if not 1 <= size <= 25 or start < 0:
        raise SignerWireError("ValidationException", "maxResults must be between 1 and 25")
    page = items[start : start + size]
    return page, str(start + size) if start + size < len(items) else None


def _name(call: SignerCall) -> str:
    name = call.params.get("profileName")
    if not isinstance(name, str):
        raise SignerWireError("ValidationException", "profileName is required")
    return name


def _owner(call: SignerCall, member: str) -> str:
    owner = call.params.get(member)
    return owner if isinstance(owner, str) and owner else call.tenant_id


async def _on_profile(call: SignerCall, action: str, owner: str | None = None) -> str:
    """The profile's name, once the caller's identity policies allow ``action`` on its ARN:
    the caller's account's, or ``owner``'s for the operations whose model has a
    ``profileOwner`` (the service checks that account's permissions). Never read from the
    parameters of another operation: its call acts on the caller's own profile, and must be
    authorised on that ARN."""
    name = _name(call)
    owner = owner or call.tenant_id
    arn = f"arn:aws:signer:{call.signer.region}:{owner}:/signing-profiles/{name}"
    call.resources.append(arn)
    iam_action = f"signer:{action}"
    keys = await profile_keys(call.signer, call.tenant_id, owner, name, iam_action)
    await call.authorise(iam_action, arn, keys)
    return name


async def _on_job(call: SignerCall, action: str, owner: str | None = None) -> str:
    job_id = call.params.get("jobId")
    if not isinstance(job_id, str):
        raise SignerWireError("ValidationException", "jobId is required")
    owner = owner or call.tenant_id  # jobOwner only where the model has it (RevokeSignature)
    arn = f"arn:aws:signer:{call.signer.region}:{owner}:/signing-jobs/{job_id}"
    call.resources.append(arn)
    iam_action = f"signer:{action}"
    keys = await job_keys(call.signer, call.tenant_id, owner, job_id, iam_action)
    await call.authorise(iam_action, arn, keys)
    return job_id


async def put_signing_profile(call: SignerCall) -> dict[str, Any]:
    """Authorised with the tags it sets (``aws:RequestTag/<key>``, ``aws:TagKeys``): the
    profile does not exist yet, so no key of its own."""
    name = _name(call)
    arn = f"arn:aws:signer:{call.signer.region}:{call.tenant_id}:/signing-profiles/{name}"
    call.resources.append(arn)
    keys = request_tag_keys(call.params.get("tags"))
    await call.authorise("signer:PutSigningProfile", arn, keys)
    profile = await call.signer.put_profile(call.tenant_id, name, call.params)
    return {
        "arn": call.signer.profile_arn(profile),
        "profileVersion": profile.version,
        "profileVersionArn": call.signer.version_arn(profile),
    }


async def get_signing_profile(call: SignerCall) -> dict[str, Any]:
    name = await _on_profile(call, "GetSigningProfile", _owner(call, "profileOwner"))
    profile = await call.signer.shared_profile(
        call.tenant_id,
        call.caller_arn,
        _owner(call, "profileOwner"),
        name,
        "signer:GetSigningProfile",
    )
    shape = _profile_shape(call.signer, profile)
    if profile.revoked_at is not None:
        shape["revocationRecord"] = {
            "revocationEffectiveFrom": profile.revoked_from,
            "revokedAt": profile.revoked_at,
            "revokedBy": profile.revoked_by,
        }
        shape["statusReason"] = profile.revoked_reason
    return shape


async def list_signing_profiles(call: SignerCall) -> dict[str, Any]:
    """The account's profiles by name, filtered and paged in the store (decision 0409)."""
    await call.authorise("signer:ListSigningProfiles", "*", {})
    wanted = profile_filter(call.params)
    size = page_size(call.params.get("maxResults"))
    found, token = await call.signer.profile_page(
        call.tenant_id, wanted, call.params.get("nextToken"), size
    )
    answer: dict[str, Any] = {"profiles": [_profile_shape(call.signer, p) for p in found]}
    if token is not None:
        answer["nextToken"] = token
    return answer


async def cancel_signing_profile(call: SignerCall) -> dict[str, Any]:
    name = await _on_profile(call, "CancelSigningProfile")
    await call.signer.cancel_profile(call.tenant_id, name)
    return {}


async def revoke_signing_profile(call: SignerCall) -> dict[str, Any]:
    name = await _on_profile(call, "RevokeSigningProfile")
    await call.signer.revoke_profile(call.tenant_id, name, call.params, call.caller_arn)
    return {}


async def start_signing_job(call: SignerCall) -> dict[str, Any]:
    await _on_profile(call, "StartSigningJob", _owner(call, "profileOwner"))
    if not isinstance(call.params.get("clientRequestToken"), str):
        raise SignerWireError("ValidationException", "clientRequestToken is required")
    job = await call.signer.start_job(call.caller, call.tenant_id, call.params, call.caller_arn)
    call.resources.append(call.signer.job_arn(job))
    return {"jobId": job.job_id, "jobOwner": job.tenant_id}


async def describe_signing_job(call: SignerCall) -> dict[str, Any]:
    job_id = await _on_job(call, "DescribeSigningJob")
    job = await call.signer.job(call.tenant_id, job_id)
    if job.tenant_id != call.tenant_id:  # started with another account's profile: its ARN
        await _on_job(call, "DescribeSigningJob", job.tenant_id)
    shape = _job_shape(call.signer, job)
    del shape["isRevoked"]
    shape["requestedBy"] = job.requested_by
    if job.status_reason is not None:
        shape["statusReason"] = job.status_reason
    if job.completed is not None:
        shape["completedAt"] = job.completed
    if job.revoked_at is not None:
        shape["revocationRecord"] = {
            "reason": job.revoked_reason,
            "revokedAt": job.revoked_at,
            "revokedBy": job.revoked_by,
        }
    return shape


async def list_signing_jobs(call: SignerCall) -> dict[str, Any]:
    """The account's jobs and those it started with other accounts' profiles (decision
    0403), newest first, filtered and paged in the store (decision 0409)."""
    await call.authorise("signer:ListSigningJobs", "*", {})
    wanted = job_filter(call.params)
    size = page_size(call.params.get("maxResults"))
    found, token = await call.signer.job_page(
        call.tenant_id, wanted, call.params.get("nextToken"), size
    )
    answer: dict[str, Any] = {"jobs": [_job_shape(call.signer, j) for j in found]}
    if token is not None:
        answer["nextToken"] = token
    return answer


async def revoke_signature(call: SignerCall) -> dict[str, Any]:
    job_id = await _on_job(call, "RevokeSignature", _owner(call, "jobOwner"))
    await call.signer.revoke_signature(call.tenant_id, job_id, call.params, call.caller_arn)
    return {}


async def get_signing_platform(call: SignerCall) -> dict[str, Any]:
    await call.authorise("signer:GetSigningPlatform", "*", {})
    found = PLATFORMS.get(str(call.params.get("platformId")))
    if found is None:
        raise SignerWireError("ResourceNotFoundException", "No such signing platform")
    return dict(found)


async def list_signing_platforms(call: SignerCall) -> dict[str, Any]:
    await call.authorise("signer:ListSigningPlatforms", "*", {})
    wanted = {k: call.params.get(k) for k in ("category", "partner", "target")}
    return {
        "platforms": [
            dict(p)
            for p in PLATFORMS.values()
            if all(v is None or p[k] == v for k, v in wanted.items())
        ]
    }


async def _on_tagged(
    call: SignerCall, action: str, asked: Mapping[str, ContextValue] | None = None
) -> str:
    """The profile's ARN, once the caller may ``action`` on it with the profile's tags and
    the keys of what the call ``asked`` (decision 0409)."""
    arn = call.params.get("resourceArn")
    if not isinstance(arn, str):
        raise SignerWireError("BadRequestException", "resourceArn is required")
    call.resources.append(arn)
    iam_action = f"signer:{action}"
    keys = await tagged_profile_keys(call.signer, call.tenant_id, arn, iam_action)
    await call.authorise(iam_action, arn, {**keys, **(asked or {})})
    return arn


async def _tagging(work: Awaitable[Any]) -> Any:
    """The tag operations' own errors, as the model lists them: NotFoundException for a
    profile that is not the caller's, BadRequestException for tags AWS refuses and for a
    canceled profile (decision 0417)."""
    try:
        return await work
    except ProfileNotFound as exc:
        raise SignerWireError("NotFoundException", str(exc)) from None
    except (InvalidSignerInput, ProfileCanceled) as exc:
        raise SignerWireError("BadRequestException", str(exc)) from None


async def tag_resource(call: SignerCall) -> dict[str, Any]:
    arn = await _on_tagged(call, "TagResource", request_tag_keys(call.params.get("tags")))
    await _tagging(call.signer.tag_profile(call.tenant_id, arn, call.params.get("tags")))
    return {}


async def untag_resource(call: SignerCall) -> dict[str, Any]:
    keys = call.params.get("tagKeys")
    arn = await _on_tagged(call, "UntagResource", untag_keys(keys))
    await _tagging(call.signer.untag_profile(call.tenant_id, arn, keys))
    return {}


async def list_tags_for_resource(call: SignerCall) -> dict[str, Any]:
    arn = await _on_tagged(call, "ListTagsForResource")
    return {"tags": await _tagging(call.signer.profile_tags(call.tenant_id, arn))}


async def add_profile_permission(call: SignerCall) -> dict[str, Any]:
    name = await _on_profile(call, "AddProfilePermission")
    return {"revisionId": await call.signer.add_permission(call.tenant_id, name, call.params)}


async def remove_profile_permission(call: SignerCall) -> dict[str, Any]:
    name = await _on_profile(call, "RemoveProfilePermission")
    revision = await call.signer.remove_permission(
        call.tenant_id, name, call.params.get("statementId"), call.params.get("revisionId")
    )
    return {"revisionId": revision}


async def list_profile_permissions(call: SignerCall) -> dict[str, Any]:
    name = await _on_profile(call, "ListProfilePermissions")
    profile = await call.signer.profile(call.tenant_id, name)
    page, token = _page(call, list(profile.permissions))
    answer: dict[str, Any] = {
        "permissions": [
            {
                "action": p.action,
                "principal": p.principal,
                "statementId": p.statement_id,
                **({"profileVersion": p.profile_version} if p.profile_version else {}),
            }
            for p in page
        ],
        "policySizeBytes": policy_size(profile.permissions),
    }
    if profile.policy_revision:
        answer["revisionId"] = profile.policy_revision
    if token is not None:
        answer["nextToken"] = token
    return answer


async def sign_payload(call: SignerCall) -> dict[str, Any]:
    """AWS serves SignPayload for Notation's container platform (an OCI descriptor signed
    under an X.509 chain), not for Lambda's, the one platform served here (decision 0394)."""
    await _on_profile(call, "SignPayload", _owner(call, "profileOwner"))
    raise SignerWireError(
        "ValidationException",
        "SignPayload signs for the Notation-OCI-SHA384-ECDSA platform, which this Signer does "
        "not serve; sign Lambda code with StartSigningJob",
    )


async def get_revocation_status(call: SignerCall) -> dict[str, Any]:
    """AWS serves GetRevocationStatus to Notation's verifiers, its ``certificateHashes`` those
    of the X.509 chain Notation signatures carry; Lambda's signatures here carry none, and
    Lambda reads their revocation itself at deployment (decision 0394)."""
    await call.authorise("signer:GetRevocationStatus", "*", {})
    raise SignerWireError(
        "ValidationException",
        "GetRevocationStatus answers for the Notation-OCI-SHA384-ECDSA platform, which this "
        "Signer does not serve",
    )


ACTIONS: Final[dict[str, Handler]] = {
    "PutSigningProfile": put_signing_profile,
    "GetSigningProfile": get_signing_profile,
    "ListSigningProfiles": list_signing_profiles,
    "CancelSigningProfile": cancel_signing_profile,
    "RevokeSigningProfile": revoke_signing_profile,
    "StartSigningJob": start_signing_job,
    "DescribeSigningJob": describe_signing_job,
    "ListSigningJobs": list_signing_jobs,
    "RevokeSignature": revoke_signature,
    "GetSigningPlatform": get_signing_platform,
    "ListSigningPlatforms": list_signing_platforms,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "AddProfilePermission": add_profile_permission,
    "RemoveProfilePermission": remove_profile_permission,
    "ListProfilePermissions": list_profile_permissions,
    "SignPayload": sign_payload,
    "GetRevocationStatus": get_revocation_status,
}
