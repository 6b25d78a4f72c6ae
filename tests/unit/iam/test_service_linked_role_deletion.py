"""A service-linked role's deletion task read from another worker (session 51, decision 0208's
addendum): two identity services over one store, as two server processes over one database.
The worker running the task knows its phase; another reads it back from the role and the
task's id — IN_PROGRESS while the role is there, unused and the task younger than
``linked_role_deletion_timeout``, FAILED after (its job gave up or its worker stopped),
SUCCEEDED once the role is gone — and a job that outlives the timeout gives up, the role kept."""

from __future__ import annotations

import asyncio
import os

from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore

ASG = "autoscaling.amazonaws.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _workers(timeout: float) -> tuple[IdentityService, IdentityService, Clock]:
    store, sealer, clock = MemoryIdentityStore(), SecretSealer(os.urandom(32)), Clock()
    limits = IdentityLimits(cache_ttl=0, linked_role_deletion_timeout=timeout)
    return (
        IdentityService(store, sealer, limits=limits, clock=clock),
        IdentityService(store, sealer, limits=limits, clock=clock),
        clock,
    )


async def test_another_worker_reads_the_task_from_the_role_and_its_id() -> None:
    running, other, clock = _workers(timeout=60)
    tenant = (await running.create_tenant("acme")).tenant.id
    await running.create_service_linked_role(tenant, ASG)
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow(tenant_id: str, principal: str, arn: str) -> list[str]:
        asked.set()
        await release.wait()
        return []

    running.linked_role_users = slow
    task = await running.delete_service_linked_role(tenant, "AWSServiceRoleForAutoScaling")
    await asked.wait()
    assert (await running.service_linked_role_deletion_status(tenant, task)).status == (
        "IN_PROGRESS"
    )
    assert (await other.service_linked_role_deletion_status(tenant, task)).status == ("IN_PROGRESS")
    clock.now += 61  # older than the timeout, the role still there: the task did not complete
    late = await other.service_linked_role_deletion_status(tenant, task)
    assert late.status == "FAILED" and "did not complete" in late.reason
    clock.now -= 61
    release.set()
    await running.settle_linked_role_deletions()
    for worker in (running, other):
        assert (await worker.service_linked_role_deletion_status(tenant, task)).status == (
            "SUCCEEDED"
        )


async def test_a_job_past_the_timeout_gives_up_and_keeps_the_role() -> None:
    running, _, clock = _workers(timeout=0.05)
    tenant = (await running.create_tenant("acme")).tenant.id
    role = await running.create_service_linked_role(tenant, ASG)

    async def stuck(tenant_id: str, principal: str, arn: str) -> list[str]:
        await asyncio.Event().wait()  # never answers
        return []

    running.linked_role_users = stuck
    task = await running.delete_service_linked_role(tenant, role.name)
    await running.settle_linked_role_deletions()
    assert (await running.get_role(tenant, role.name)).id == role.id
    clock.now += 1
    running.linked_role_users = None  # unused now: still FAILED, the task being over
    status = await running.service_linked_role_deletion_status(tenant, task)
    assert status.status == "FAILED" and status.resources == ()
