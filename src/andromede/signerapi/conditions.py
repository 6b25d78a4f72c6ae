"""The condition keys AWS Signer's calls give the IAM evaluation (decision 0409), as AWS's
service authorization reference lists them for Signer:

- a call on a signing profile's ARN: ``aws:ResourceTag/<key>`` for each of its tags (the
  ``signing-profile`` resource type's key), and ``signer:ProfileVersion`` (its version) for
  the actions the reference gives it to;
- PutSigningProfile with ``tags``, TagResource: ``aws:RequestTag/<key>`` and ``aws:TagKeys``;
- UntagResource: ``aws:TagKeys``;
- RevokeSignature: ``signer:ProfileVersion``, the version of the profile that signed the job
  (``signing-job`` has no tag key: jobs are not tagged).

Read leniently: a profile, job or member that cannot be read gives no key — the handler then
answers its own error once the caller is allowed to learn it. A name or id out of its pattern
is not looked up at all."""

from __future__ import annotations

import re
from typing import Final

from andromede.iam.policy.context import ContextValue
from andromede.signer.errors import ProfileNotFound
from andromede.signer.model import PROFILE_NAME, SigningProfile
from andromede.signer.service import SignerService

__all__ = ["job_keys", "profile_keys", "request_tag_keys", "tagged_profile_keys", "untag_keys"]

# The actions the reference gives ``signer:ProfileVersion`` to (its table and Signer's
# developer guide together).
VERSIONED: Final = frozenset(
    {
        "signer:AddProfilePermission",
        "signer:CancelSigningProfile",
        "signer:GetSigningProfile",
        "signer:RemoveProfilePermission",
        "signer:RevokeSignature",
        "signer:RevokeSigningProfile",
        "signer:SignPayload",
        "signer:StartSigningJob",
    }
)
_ACCOUNT: Final = re.compile(r"[0-9]{12}")
_JOB_ID: Final = re.compile(r"[0-9a-zA-Z-]{1,64}")


def request_tag_keys(tags: object) -> dict[str, ContextValue]:
    """``aws:RequestTag/<key>`` for each tag a call sets, and ``aws:TagKeys`` (none when the
    call sets no tags, or not as a map of strings: the call is refused for that)."""
    if not isinstance(tags, dict) or not tags:
        return {}
    pairs = [(k, v) for k, v in tags.items() if isinstance(k, str) and isinstance(v, str)]
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in pairs}
    keys["aws:TagKeys"] = [k for k, _ in pairs]
    return keys


def untag_keys(tag_keys: object) -> dict[str, ContextValue]:
    """UntagResource's ``aws:TagKeys``: the keys it removes."""
    if not isinstance(tag_keys, list):
        return {}
    return {"aws:TagKeys": [k for k in tag_keys if isinstance(k, str)]}


def _profile_keys(profile: SigningProfile, action: str) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {f"aws:ResourceTag/{k}": v for k, v in profile.tags.items()}
    if action in VERSIONED:
        keys["signer:ProfileVersion"] = profile.version
    return keys


async def profile_keys(
    signer: SignerService, caller: str, owner: str, name: object, action: str
) -> dict[str, ContextValue]:
    """The keys of a call on the profile ``owner`` holds under ``name`` (the caller's account,
    or the ``profileOwner`` it names)."""
    if not isinstance(name, str) or PROFILE_NAME.fullmatch(name) is None:
        return {}
    if owner != caller and _ACCOUNT.fullmatch(owner) is None:
        return {}
    profile = await signer.store.profile(owner, name)
    return {} if profile is None else _profile_keys(profile, action)


async def tagged_profile_keys(
    signer: SignerService, caller: str, arn: str, action: str
) -> dict[str, ContextValue]:
    """The keys of a tag operation's profile, named by its ARN (the caller's only)."""
    try:
        profile = await signer.profile_by_arn(caller, arn)
    except ProfileNotFound:
        return {}
    return _profile_keys(profile, action)


async def job_keys(
    signer: SignerService, caller: str, owner: str, job_id: str, action: str
) -> dict[str, ContextValue]:
    """``signer:ProfileVersion`` of the job's profile, for the actions the reference gives it
    to (RevokeSignature)."""
    if action not in VERSIONED or _JOB_ID.fullmatch(job_id) is None:
        return {}
    if owner != caller and _ACCOUNT.fullmatch(owner) is None:
        return {}
    job = await signer.store.job(owner, job_id)
    return {} if job is None else {"signer:ProfileVersion": job.profile_version}
