"""The credentials each instance is served, issued once and refreshed before they expire.

A guest's SDK polls ``iam/security-credentials/<role>`` and refreshes its copy as expiry nears
(botocore from 10 to 20 minutes before it); the metadata service must by then hold newer ones,
so it issues again once less than ``refresh_margin`` seconds remain, and otherwise answers from
memory: a thousand polls cost one issue. One issue at a time per instance, so a burst of
requests from one guest does not mint a burst of sessions. Entries of instances that stopped
asking are dropped once expired.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from andromede.imds.instances import CredentialsIssuer, InstanceMetadata, RoleCredentials

__all__ = ["CredentialsCache"]

_PURGE_ABOVE = 1024  # entries before expired ones are swept out


class CredentialsCache:
    def __init__(
        self,
        issuer: CredentialsIssuer,
        *,
        refresh_margin: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._margin = timedelta(seconds=refresh_margin)
        self._clock = clock
        # instance id -> (the profile it was issued for, the credentials)
        self._held: dict[str, tuple[str, RoleCredentials]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def for_instance(self, instance: InstanceMetadata) -> RoleCredentials | None:
        """Credentials with more than the refresh margin left, issued now if needed; None when
        the instance has no usable profile (asked again next time: a role may be added)."""
        if instance.instance_profile is None:
            self.forget(instance.instance_id)
            return None
        held = self._fresh(instance)
        if held is not None:
            return held
        lock = self._locks.setdefault(instance.instance_id, asyncio.Lock())
        async with lock:
            held = self._fresh(instance)  # issued by the request that held the lock
            if held is not None:
                return held
            issued = await self._issuer(instance)
            if issued is None:
                self.forget(instance.instance_id)
                return None
            self._purge()
            self._held[instance.instance_id] = (instance.instance_profile, issued)
            return issued

    def forget(self, instance_id: str) -> None:
        """Drop what is held for an instance (terminated, or its profile changed)."""
        self._held.pop(instance_id, None)
        lock = self._locks.get(instance_id)
        if lock is not None and not lock.locked():
            del self._locks[instance_id]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _fresh(self, instance: InstanceMetadata) -> RoleCredentials | None:
        found = self._held.get(instance.instance_id)
        if found is None:
            return None
        profile, credentials = found
        if profile != instance.instance_profile:
            return None
        if credentials.expiration - self._now() <= self._margin:
            return None
        return credentials

    def _purge(self) -> None:
        if len(self._held) < _PURGE_ABOVE:
            return
        now = self._now()
        for instance_id, (_, credentials) in list(self._held.items()):
            if credentials.expiration <= now:
                self.forget(instance_id)
