"""A load balancer's log bucket for tests (decisions 0264, 0287 and 0307): the
``LogBucketWriter`` of :mod:`andromede.alb_access_logs`, taking the test object and keeping
each object written by key, as the real-kernel listener tests read them back."""

from __future__ import annotations

from andromede.loadbalancing.access_logs import Destination

__all__ = ["HeldLogs"]


class HeldLogs:
    """The access and connection logs' bucket: takes the test object, keeps the objects."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}

    async def check(self, account: str, target: Destination) -> bool:
        return True

    async def write(self, account: str, target: Destination, key: str, body: bytes) -> bool:
        self.bodies[key] = body
        return True
