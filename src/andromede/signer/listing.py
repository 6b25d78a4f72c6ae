"""What ListSigningProfiles and ListSigningJobs ask of a store (decision 0409): the model's
filters as values, the keyset a page resumes after, and the ``nextToken`` that carries it.
The SQL stores turn a filter into their query's WHERE; the memory twin asks
:meth:`ProfileFilter.admits` / :meth:`JobFilter.admits`, the same rules. Pure values, no I/O.

Both listings page by keyset, in the order they have always answered: profiles by name, jobs
newest first (``created`` descending, then the job id). A page of ``limit`` asks the store for
``limit + 1`` rows after the keyset: the extra one only says whether a next page exists. The
token is the last answered row's keyset, base64url-encoded JSON; a token that does not decode
to one is :class:`~andromede.signer.errors.InvalidSignerInput` (AWS's ValidationException).
It binds no filter: a caller that changes its filters between pages gets the rows of the new
filters after the same keyset, never another account's (the account is the store's WHERE)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Final

from andromede.signer.errors import InvalidSignerInput
from andromede.signer.model import (
    PROFILE_NAME,
    JobStatus,
    ProfileStatus,
    SigningJob,
    SigningProfile,
)

__all__ = [
    "MAX_RESULTS",
    "JobFilter",
    "JobKey",
    "ProfileFilter",
    "job_key",
    "page_size",
    "read_job_token",
    "read_profile_token",
    "write_job_token",
    "write_profile_token",
]

# MaxResults' bounds in the API model (1 to 25), and its default here.
MAX_RESULTS: Final = 25
_TOKEN_CHARS: Final = 1024
_BIGINT: Final = 2**63  # a job's ``created`` column: the token's must fit it
_BAD_TOKEN: Final = "nextToken is not a token this listing answered"  # noqa: S105

# A job's place in the listing's order: (created, job id), newest first then by id.
JobKey = tuple[int, str]


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    """ListSigningProfiles' filters: ``statuses`` (any of them) when given, else every status
    but Canceled unless ``include_canceled``; ``platform_id`` when given."""

    statuses: frozenset[ProfileStatus] = frozenset()
    include_canceled: bool = False
    platform_id: str | None = None

    @property
    def wanted_statuses(self) -> frozenset[ProfileStatus]:
        if self.statuses:
            return self.statuses
        if self.include_canceled:
            return frozenset(ProfileStatus)
        return frozenset(ProfileStatus) - {ProfileStatus.CANCELED}

    def admits(self, profile: SigningProfile) -> bool:
        return profile.status in self.wanted_statuses and self.platform_id in (
            None,
            profile.platform_id,
        )


@dataclass(frozen=True, slots=True)
class JobFilter:
    """ListSigningJobs' filters, each None when not given: ``invoker`` the account that
    started the job (its ``jobInvoker``); ``expires_before`` / ``expires_after`` epoch
    seconds, bounds a job with no signature never passes."""

    status: JobStatus | None = None
    platform_id: str | None = None
    requested_by: str | None = None
    revoked: bool | None = None
    invoker: str | None = None
    expires_before: float | None = None
    expires_after: float | None = None

    def admits(self, job: SigningJob) -> bool:
        expires = job.expires
        before, after = self.expires_before, self.expires_after
        return (
            self.status in (None, job.status)
            and self.platform_id in (None, job.platform_id)
            and self.requested_by in (None, job.requested_by)
            and self.revoked in (None, job.revoked_at is not None)
            and self.invoker in (None, job.invoker_account)
            and (before is None or (expires is not None and expires < before))
            and (after is None or (expires is not None and expires > after))
        )


def job_key(job: SigningJob) -> JobKey:
    return (job.created, job.job_id)


def page_size(value: object) -> int:
    """``maxResults`` as the query string carries it: 1 to 25, 25 when absent."""
    if value is None:
        return MAX_RESULTS
    try:
        size = int(str(value))
    except ValueError:
        raise InvalidSignerInput("maxResults must be an integer") from None
    if not 1 <= size <= MAX_RESULTS:
        raise InvalidSignerInput(f"maxResults must be between 1 and {MAX_RESULTS}")
    return size


def _encode(value: object) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: object) -> object:
    if not isinstance(token, str) or not 0 < len(token) <= _TOKEN_CHARS:
        raise InvalidSignerInput(_BAD_TOKEN)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidSignerInput(_BAD_TOKEN) from None


def write_profile_token(profile: SigningProfile) -> str:
    return _encode({"p": profile.name})


def read_profile_token(token: object) -> str | None:
    """The profile name a page resumes after; None for no token."""
    if token is None or token == "":
        return None
    value = _decode(token)
    name = value.get("p") if isinstance(value, dict) else None
    if not isinstance(name, str) or PROFILE_NAME.fullmatch(name) is None:
        raise InvalidSignerInput(_BAD_TOKEN)
    return name


def write_job_token(job: SigningJob) -> str:
    return _encode({"c": job.created, "j": job.job_id})


def read_job_token(token: object) -> JobKey | None:
    """The (created, job id) a page resumes after; None for no token."""
    if token is None or token == "":
        return None
    value = _decode(token)
    created = value.get("c") if isinstance(value, dict) else None
    job_id = value.get("j") if isinstance(value, dict) else None
    if (
        isinstance(created, bool)
        or not isinstance(created, int)
        or not 0 <= created < _BIGINT
        or not isinstance(job_id, str)
        or not 0 < len(job_id) <= 64
    ):
        raise InvalidSignerInput(_BAD_TOKEN)
    return (created, job_id)
