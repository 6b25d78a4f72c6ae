"""Where signing profiles and jobs are kept (decision 0386): the :class:`SignerStore`
interface, implemented in memory (:class:`MemorySignerStore`, below: the tests' twin) and over
the metadata database (``signer.store_sql``). A profile's private key is kept sealed; the
stores never see it in the clear.

A profile changes only through :meth:`SignerStore.change_profile`, which reads and writes it in
one step (the row locked on PostgreSQL), so that changes made at once all land; a job is
created once per owner, invoker and client token (decision 0403). The listings are filtered
and paged by keyset in the store (decision 0409): :meth:`SignerStore.profile_page` and
:meth:`SignerStore.job_page` read one page, never the account's every row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from andromede.signer.listing import JobFilter, JobKey, ProfileFilter, job_key
from andromede.signer.model import SigningJob, SigningProfile

__all__ = ["MemorySignerStore", "ProfileChange", "SignerStore"]

# What a profile becomes; it may raise (a SignerError) to change nothing. It runs inside the
# store's transaction: no I/O in it.
ProfileChange = Callable[[SigningProfile], SigningProfile]


class SignerStore(Protocol):
    async def create_profile(self, profile: SigningProfile) -> bool:
        """False when the account already has a profile of that name."""
        ...

    async def profile(self, tenant_id: str, name: str) -> SigningProfile | None: ...

    async def profiles(self, tenant_id: str) -> list[SigningProfile]:
        """The account's profiles, by name."""
        ...

    async def profile_page(
        self, tenant_id: str, wanted: ProfileFilter, after: str | None, limit: int
    ) -> list[SigningProfile]:
        """At most ``limit`` of the account's profiles ``wanted`` admits, by name, those
        named after ``after`` when given."""
        ...

    async def change_profile(
        self, tenant_id: str, name: str, change: ProfileChange
    ) -> SigningProfile | None:
        """The profile ``change`` made of the current one, written in the same step: none is
        read by another change in between. None when there is no such profile."""
        ...

    async def create_job(self, job: SigningJob) -> SigningJob:
        """The job created; when its client token is not empty and the same owner and invoker
        already have a job under it, that job instead (nothing written)."""
        ...

    async def put_job(self, job: SigningJob) -> None:
        """The job written over its row."""
        ...

    async def job_by_token(self, tenant_id: str, invoker: str, token: str) -> SigningJob | None:
        """The job ``invoker`` ("" for the owner) started under ``token`` with a profile of
        ``tenant_id``."""
        ...

    async def job(self, tenant_id: str, job_id: str) -> SigningJob | None: ...

    async def job_by_id(self, job_id: str) -> SigningJob | None:
        """The job of that id whatever its account (a job id is a UUID): the one another
        account started with a shared profile is found by its invoker (decision 0394)."""
        ...

    async def job_page(
        self, tenant_id: str, wanted: JobFilter, after: JobKey | None, limit: int
    ) -> list[SigningJob]:
        """At most ``limit`` of the account's jobs and those it started with other accounts'
        profiles that ``wanted`` admits, newest first (then by id), those after the keyset
        ``after`` when given."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemorySignerStore:
    def __init__(self) -> None:
        self._profiles: dict[tuple[str, str], SigningProfile] = {}
        self._jobs: dict[tuple[str, str], SigningJob] = {}

    async def create_profile(self, profile: SigningProfile) -> bool:
        key = (profile.tenant_id, profile.name)
        if key in self._profiles:
            return False
        self._profiles[key] = profile
        return True

    async def profile(self, tenant_id: str, name: str) -> SigningProfile | None:
        return self._profiles.get((tenant_id, name))

    async def profiles(self, tenant_id: str) -> list[SigningProfile]:
        return sorted(
            (p for p in self._profiles.values() if p.tenant_id == tenant_id), key=lambda p: p.name
        )

    async def change_profile(
        self, tenant_id: str, name: str, change: ProfileChange
    ) -> SigningProfile | None:
        # No await between the read and the write: one step on the event loop.
        found = self._profiles.get((tenant_id, name))
        if found is None:
            return None
        changed = change(found)
        self._profiles[(tenant_id, name)] = changed
        return changed

    async def create_job(self, job: SigningJob) -> SigningJob:
        if job.client_token:
            earlier = await self.job_by_token(job.tenant_id, job.invoker, job.client_token)
            if earlier is not None:
                return earlier
        self._jobs[(job.tenant_id, job.job_id)] = job
        return job

    async def put_job(self, job: SigningJob) -> None:
        self._jobs[(job.tenant_id, job.job_id)] = job

    async def job_by_token(self, tenant_id: str, invoker: str, token: str) -> SigningJob | None:
        return next(
            (
                j
                for j in self._jobs.values()
                if (j.tenant_id, j.invoker, j.client_token) == (tenant_id, invoker, token)
            ),
            None,
        )

    async def job(self, tenant_id: str, job_id: str) -> SigningJob | None:
        return self._jobs.get((tenant_id, job_id))

    async def job_by_id(self, job_id: str) -> SigningJob | None:
        return next((j for j in self._jobs.values() if j.job_id == job_id), None)

    async def profile_page(
        self, tenant_id: str, wanted: ProfileFilter, after: str | None, limit: int
    ) -> list[SigningProfile]:
        found = [
            p
            for p in await self.profiles(tenant_id)
            if wanted.admits(p) and (after is None or p.name > after)
        ]
        return found[:limit]

    async def job_page(
        self, tenant_id: str, wanted: JobFilter, after: JobKey | None, limit: int
    ) -> list[SigningJob]:
        found = [
            j
            for j in self._jobs.values()
            if tenant_id in (j.tenant_id, j.invoker)
            and wanted.admits(j)
            and (after is None or _later_in_listing(job_key(j), after))
        ]
        return sorted(found, key=lambda j: (-j.created, j.job_id))[:limit]

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._profiles if k[0] == tenant_id]
        jobs = [k for k in self._jobs if k[0] == tenant_id]
        for key in gone:
            del self._profiles[key]
        for job in jobs:
            del self._jobs[job]
        return len(gone) + len(jobs)


def _later_in_listing(key: JobKey, after: JobKey) -> bool:
    """Whether a job of keyset ``key`` comes after ``after`` newest first, then by id."""
    return key[0] < after[0] or (key[0] == after[0] and key[1] > after[1])
