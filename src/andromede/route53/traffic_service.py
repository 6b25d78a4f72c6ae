"""Route 53's traffic policies for the API (decision 0330): policies made and versioned with
their documents judged (``traffic_document``), commented, listed and deleted one version at a
time (refused while an instance uses it, ``TrafficPolicyInUse``); instances made, updated and
deleted with their record sets materialised into the hosted zone at once (``Applied``: the
zone's one copy is the one the name servers read), listed by zone, by policy or all, in
AWS's orders, within the account's quotas (settings)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from andromede.route53.errors import InvalidInput, NoSuchHostedZone, Route53Error
from andromede.route53.model import normalise_name, record_order, within
from andromede.route53.service import Route53Service
from andromede.route53.traffic import (
    TrafficPolicy,
    TrafficPolicyInstance,
    TrafficStore,
    VersionTaken,
)
from andromede.route53.traffic_document import BalancerZone, materialise, parse_document

__all__ = [
    "ConcurrentModification",
    "ConflictingTypes",
    "NoSuchTrafficPolicy",
    "NoSuchTrafficPolicyInstance",
    "TooManyTrafficPolicies",
    "TooManyTrafficPolicyInstances",
    "TooManyTrafficPolicyVersionsForCurrentPolicy",
    "TrafficLimits",
    "TrafficPolicyAlreadyExists",
    "TrafficPolicyInUse",
    "TrafficPolicyInstanceAlreadyExists",
    "TrafficPolicyService",
]

_RETRIES: Final = 8
_MAX_NAME: Final = 512
_MAX_COMMENT: Final = 1024


class NoSuchTrafficPolicy(Route53Error):
    pass


class NoSuchTrafficPolicyInstance(Route53Error):
    pass


class TrafficPolicyAlreadyExists(Route53Error):
    pass


class TrafficPolicyInUse(Route53Error):
    pass


class TrafficPolicyInstanceAlreadyExists(Route53Error):
    pass


class TooManyTrafficPolicies(Route53Error):
    pass


class TooManyTrafficPolicyVersionsForCurrentPolicy(Route53Error):
    pass


class TooManyTrafficPolicyInstances(Route53Error):
    pass


class ConflictingTypes(Route53Error):
    pass


class ConcurrentModification(Route53Error):
    pass


@dataclass(frozen=True)
class TrafficLimits:
    max_policies: int = 50
    max_versions: int = 1000
    max_instances: int = 5
    max_document: int = 102400
    max_sets: int = 10000  # an instance's record sets: the zone's bound (route53_max_record_sets)


class TrafficPolicyService:
    def __init__(
        self,
        zones: Route53Service,
        store: TrafficStore,
        limits: TrafficLimits,
        balancer_zone: BalancerZone,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zones = zones
        self.store = store
        self._limits = limits
        self._balancer_zone = balancer_zone
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def create_policy(
        self, tenant_id: str, name: str, document: str, comment: str
    ) -> TrafficPolicy:
        if not 1 <= len(name) <= _MAX_NAME or len(comment) > _MAX_COMMENT:
            raise InvalidInput("The input is not valid: Name or Comment is too long")
        parsed = parse_document(document, self._limits.max_document, self._limits.max_sets)
        policies = await self.store.policies(tenant_id)
        if any(p.name == name for p in policies):
            raise TrafficPolicyAlreadyExists(
                f"A traffic policy with the name {name[:64]} already exists."
            )
        if len({p.policy_id for p in policies}) >= self._limits.max_policies:
            raise TooManyTrafficPolicies(
                f"Limits Exceeded: MAX_TRAFFIC_POLICIES_BY_OWNER - Cannot create more than "
                f"{self._limits.max_policies} traffic policies."
            )
        policy = TrafficPolicy(tenant_id, str(uuid.uuid4()), 1, name, parsed.record_type,
                               document, comment, self._now())  # fmt: skip
        await self.store.add_version(policy)
        return policy

    async def versions(self, tenant_id: str, policy_id: str) -> list[TrafficPolicy]:
        found = await self.store.versions(tenant_id, policy_id)
        if not found:
            raise NoSuchTrafficPolicy(f"No traffic policy found with ID: {policy_id[:64]}")
        return found

    async def create_version(
        self, tenant_id: str, policy_id: str, document: str, comment: str
    ) -> TrafficPolicy:
        if len(comment) > _MAX_COMMENT:
            raise InvalidInput("The input is not valid: Comment is too long")
        parsed = parse_document(document, self._limits.max_document, self._limits.max_sets)
        for _ in range(_RETRIES):
            versions = await self.versions(tenant_id, policy_id)
            first, latest = versions[0], versions[-1]
            if parsed.record_type != first.type:
                raise InvalidInput(
                    f"The input is not valid: the document's RecordType {parsed.record_type} is "
                    f"not the policy's type {first.type}"
                )
            if latest.version >= self._limits.max_versions:
                raise TooManyTrafficPolicyVersionsForCurrentPolicy(
                    f"Cannot create more than {self._limits.max_versions} versions of a traffic"
                    " policy: create a new traffic policy."
                )
            policy = replace(first, version=latest.version + 1, document=document,
                             comment=comment, created=self._now())  # fmt: skip
            try:
                await self.store.add_version(policy)
            except VersionTaken:
                continue
            return policy
        raise ConcurrentModification(
            "Another request changed this traffic policy at the same time: try again."
        )

    async def policy(self, tenant_id: str, policy_id: str, version: int) -> TrafficPolicy:
        found = [p for p in await self.versions(tenant_id, policy_id) if p.version == version]
        if not found:
            raise NoSuchTrafficPolicy(
                f"No traffic policy found with ID: {policy_id[:64]} and version: {version}"
            )
        return found[0]

    async def update_comment(
        self, tenant_id: str, policy_id: str, version: int, comment: str
    ) -> TrafficPolicy:
        if len(comment) > _MAX_COMMENT:
            raise InvalidInput("The input is not valid: Comment is too long")
        await self.policy(tenant_id, policy_id, version)
        await self.store.set_comment(tenant_id, policy_id, version, comment)
        return await self.policy(tenant_id, policy_id, version)

    async def delete_policy(self, tenant_id: str, policy_id: str, version: int) -> None:
        await self.policy(tenant_id, policy_id, version)
        if any(
            i.policy_id == policy_id and i.policy_version == version
            for i in await self.store.instances(tenant_id)
        ):
            raise TrafficPolicyInUse(
                "One or more traffic policy instances are currently associated with the "
                "specified traffic policy."
            )
        await self.store.delete_version(tenant_id, policy_id, version)

    async def summaries(
        self, tenant_id: str, marker: str | None, max_items: int
    ) -> tuple[list[tuple[TrafficPolicy, int]], str | None]:
        """(latest version, count of versions) of each policy from ``marker`` (an id), and the
        next page's marker."""
        by_id: dict[str, list[TrafficPolicy]] = {}
        for policy in await self.store.policies(tenant_id):
            by_id.setdefault(policy.policy_id, []).append(policy)
        rows = [(v[-1], len(v)) for k, v in sorted(by_id.items()) if not marker or k >= marker]
        more = rows[max_items][0].policy_id if len(rows) > max_items else None
        return rows[:max_items], more

    # Instances.

    async def instance(self, tenant_id: str, instance_id: str) -> TrafficPolicyInstance:
        found = await self.store.instance(tenant_id, instance_id)
        if found is None:
            raise NoSuchTrafficPolicyInstance(
                f"No traffic policy instance found with ID: {instance_id[:64]}"
            )
        return found

    async def _materialised(
        self, instance: TrafficPolicyInstance, policy: TrafficPolicy
    ) -> TrafficPolicyInstance:
        zone = await self.zones.zone(instance.tenant_id, instance.zone_id)
        document = parse_document(policy.document, self._limits.max_document, self._limits.max_sets)
        records = materialise(document, zone.zone_id, zone.name, instance.name, instance.ttl,
                              instance.instance_id, self._balancer_zone,
                              self._limits.max_sets)  # fmt: skip
        await self.zones.place_instance(
            instance.tenant_id, zone.zone_id, instance.instance_id, records
        )
        return instance

    async def create_instance(
        self, tenant_id: str, zone_id: str, name: str, ttl: int, policy_id: str, version: int
    ) -> TrafficPolicyInstance:
        zone = await self.zones.zone(tenant_id, zone_id)
        policy = await self.policy(tenant_id, policy_id, version)
        record_name = normalise_name(name)
        if not within(record_name, zone.name):
            raise InvalidInput(
                f"The input is not valid: {record_name[:256]} is not in the zone {zone.name}"
            )
        _check_ttl(ttl)
        instances = await self.store.instances(tenant_id)
        if any(i.zone_id == zone.zone_id and i.name == record_name and i.policy_type ==
               policy.type for i in instances):  # fmt: skip
            raise TrafficPolicyInstanceAlreadyExists(
                f"There is already a traffic policy instance for {record_name[:256]} of type "
                f"{policy.type} in the hosted zone {zone.zone_id}."
            )
        if len(instances) >= self._limits.max_instances:
            raise TooManyTrafficPolicyInstances(
                f"Limits Exceeded: MAX_TRAFFIC_POLICY_INSTANCES_BY_OWNER - Cannot create more "
                f"than {self._limits.max_instances} traffic policy instances."
            )
        instance = TrafficPolicyInstance(
            tenant_id, str(uuid.uuid4()), zone.zone_id, record_name, ttl, policy.policy_id,
            policy.version, policy.type, "Applied", "", self._now(),
        )  # fmt: skip
        # The row first: a set of the zone never names an instance that is not kept.
        await self.store.put_instance(instance)
        try:
            await self._materialised(instance, policy)
        except BaseException:
            await self.store.delete_instance(tenant_id, instance.instance_id)
            raise
        return instance

    async def update_instance(
        self, tenant_id: str, instance_id: str, ttl: int, policy_id: str, version: int
    ) -> TrafficPolicyInstance:
        instance = await self.instance(tenant_id, instance_id)
        policy = await self.policy(tenant_id, policy_id, version)
        _check_ttl(ttl)
        if policy.type != instance.policy_type:
            raise ConflictingTypes(
                "You tried to update a traffic policy instance by using a traffic policy "
                "version that has a different DNS type than the current type for the instance."
            )
        updated = replace(instance, ttl=ttl, policy_id=policy.policy_id,
                          policy_version=policy.version)  # fmt: skip
        await self._materialised(updated, policy)
        await self.store.put_instance(updated)
        return updated

    async def delete_instance(self, tenant_id: str, instance_id: str) -> None:
        instance = await self.instance(tenant_id, instance_id)
        try:
            await self.zones.place_instance(tenant_id, instance.zone_id, instance_id, ())
        except NoSuchHostedZone:
            pass  # the zone went first: nothing of the instance is left in it
        await self.store.delete_instance(tenant_id, instance_id)

    async def instances(
        self,
        tenant_id: str,
        zone_id: str | None = None,
        policy: tuple[str, int] | None = None,
        marker: tuple[str, str, str] | None = None,
        max_items: int = 100,
    ) -> tuple[list[TrafficPolicyInstance], TrafficPolicyInstance | None]:
        """The account's instances (of one zone, or of one policy version) in AWS's order
        (zone id, then name as record sets are ordered, then type) from ``marker`` (zone id,
        name, type); the first of the next page."""
        if zone_id is not None:
            await self.zones.zone(tenant_id, zone_id)
        if policy is not None:
            await self.policy(tenant_id, *policy)

        def key(i: TrafficPolicyInstance) -> tuple[str, tuple[str, ...], str]:
            return i.zone_id, record_order(i.name, "")[0], i.policy_type

        found = sorted(
            (i for i in await self.store.instances(tenant_id)
             if (zone_id is None or i.zone_id == zone_id)
             and (policy is None or (i.policy_id, i.policy_version) == policy)),
            key=key,
        )  # fmt: skip
        if marker is not None:
            start = (marker[0], record_order(normalise_name(marker[1]), "")[0], marker[2])
            found = [i for i in found if key(i) >= start]
        more = found[max_items] if len(found) > max_items else None
        return found[:max_items], more


def _check_ttl(ttl: int) -> None:
    if not 0 <= ttl <= 2147483647:
        raise InvalidInput(f"Invalid TTL {ttl}")
