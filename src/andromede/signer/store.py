"""Where signing profiles and jobs are kept (decision 0386): the :class:`SignerStore`
interface, implemented in memory (:class:`MemorySignerStore`, below: the tests' twin) and over
the metadata database (``signer.store_sql``). A profile's private key is kept sealed; the
stores never see it in the clear."""

from __future__ import annotations

from typing import Protocol

from andromede.signer.model import SigningJob, SigningProfile

__all__ = ["MemorySignerStore", "SignerStore"]


class SignerStore(Protocol):
    async def create_profile(self, profile: SigningProfile) -> bool:
        """False when the account already has a profile of that name."""
        ...

    async def profile(self, tenant_id: str, name: str) -> SigningProfile | None: ...

    async def profiles(self, tenant_id: str) -> list[SigningProfile]:
        """The account's profiles, by name."""
        ...

    async def replace_profile(self, profile: SigningProfile) -> None: ...

    async def put_job(self, job: SigningJob) -> None:
        """The job written (created, or over its row)."""
        ...

    async def job(self, tenant_id: str, job_id: str) -> SigningJob | None: ...

    async def job_by_id(self, job_id: str) -> SigningJob | None:
        """The job of that id whatever its account (a job id is a UUID): the one another
        account started with a shared profile is found by its invoker (decision 0394)."""
        ...

    async def jobs(self, tenant_id: str) -> list[SigningJob]:
        """The account's jobs, newest first."""
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

    async def replace_profile(self, profile: SigningProfile) -> None:
        self._profiles[(profile.tenant_id, profile.name)] = profile

    async def put_job(self, job: SigningJob) -> None:
        self._jobs[(job.tenant_id, job.job_id)] = job

    async def job(self, tenant_id: str, job_id: str) -> SigningJob | None:
        return self._jobs.get((tenant_id, job_id))

    async def job_by_id(self, job_id: str) -> SigningJob | None:
        return next((j for j in self._jobs.values() if j.job_id == job_id), None)

    async def jobs(self, tenant_id: str) -> list[SigningJob]:
        found = [j for j in self._jobs.values() if j.tenant_id == tenant_id]
        return sorted(found, key=lambda j: (-j.created, j.job_id))

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._profiles if k[0] == tenant_id]
        jobs = [k for k in self._jobs if k[0] == tenant_id]
        for key in gone:
            del self._profiles[key]
        for job in jobs:
            del self._jobs[job]
        return len(gone) + len(jobs)
