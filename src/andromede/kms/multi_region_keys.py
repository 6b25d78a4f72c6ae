"""Multi-Region KMS keys (decision 0138): ReplicateKey, UpdatePrimaryRegion, the
MultiRegionConfiguration DescribeKey shows, and the deletion rules that bind related keys.

A multi-Region key is one key id (``mrk-`` and 32 hex digits) with one record per region of the
deployment it is in — one PRIMARY, the others REPLICA — each with its own policy, description,
tags, grants, aliases and state, as AWS KMS has them. All the records share one key ring of the
root-key provider, named by the key id: the same material and the same rotations, so a
ciphertext made in one region names the ring and opens in any region holding a related key.
The ring is destroyed with the last related record (crypto-shredding, decision 0012); a
primary scheduled for deletion while it has replicas waits in PendingReplicaDeletion until the
last one is gone, then starts its waiting period.

Replicas go only to the regions the operator declared (``regions`` in the settings): a key's
material is never made usable in a region the deployment does not have.

This module is part of :class:`~andromede.kms.customer_keys.CustomerKeyService` split out of
it, and uses its internals (resolution and authorisation of a key reference) as its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from andromede.kms.keys_errors import (
    CmkInvalidState,
    CmkNotFound,
    IncorrectKeyMaterial,
    InvalidKeyParameter,
    ReplicaAlreadyExists,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_model import (
    DEFAULT_PENDING_WINDOW_DAYS,
    MAX_DESCRIPTION_LENGTH,
    MULTI_REGION_PREFIX,
    CustomerKey,
    KeyRotation,
    KeyState,
    MultiRegionKeyType,
    check_tags,
    default_key_policy,
    record_id_of,
)
from andromede.kms.keys_store import CustomerKeyStore
from andromede.kms.service import KeyService

if TYPE_CHECKING:  # customer_keys_core imports this module
    from andromede.kms.customer_keys_core import CustomerKeysCore
    from andromede.kms.keys_interface import Caller

__all__ = ["MultiRegionConfiguration", "MultiRegionKeys", "new_multi_region_key_id"]

_CHANGE_ATTEMPTS: Final = 5
_UNUSABLE: Final = (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION)


def _claimed_material_ids(key: CustomerKey) -> set[str]:
    """The ids of the material a record has claimed, imported or not."""
    claimed = {m.material_id for m in key.imported_materials}
    if key.key_material_id is not None:
        claimed.add(key.key_material_id)
    return claimed


def _holds(key: CustomerKey, material_id: str) -> bool:
    """Whether the record says its ring holds ``material_id`` now."""
    if key.imported_materials:
        return any(
            m.imported and secrets.compare_digest(m.material_id, material_id)
            for m in key.imported_materials
        )
    return (
        key.has_material
        and key.key_material_id is not None
        and secrets.compare_digest(key.key_material_id, material_id)
    )


def new_multi_region_key_id() -> str:
    return f"{MULTI_REGION_PREFIX}{secrets.token_hex(16)}"


@dataclass(frozen=True, slots=True)
class MultiRegionConfiguration:
    """What DescribeKey shows of a multi-Region key's related keys: this one's type, the
    primary's (ARN, region) and every replica's."""

    key_type: MultiRegionKeyType
    primary: tuple[str, str] | None
    replicas: tuple[tuple[str, str], ...]


class MultiRegionKeys:
    def __init__(
        self,
        service: CustomerKeysCore,
        store: CustomerKeyStore,
        keys: KeyService,
        regions: Sequence[str],
    ) -> None:
        """``regions``: the deployment's declared regions, in the order they were declared."""
        self._service = service
        self._store = store
        self._keys = keys
        self._regions = tuple(regions)

    def for_service(self, service: CustomerKeysCore) -> MultiRegionKeys:
        """The same, for ``service`` answering another region."""
        return MultiRegionKeys(service, self._store, self._keys, self._regions)

    @property
    def regions(self) -> tuple[str, ...]:
        return self._regions

    async def related(self, key: CustomerKey) -> list[CustomerKey]:
        """The records of ``key``'s key id in every declared region (itself included, as stored
        now); ``[key]`` for a single-Region key."""
        if not key.multi_region:
            return [key]
        found = []
        for region in self._regions:
            record = await self._store.get_key(record_id_of(key.key_id, region))
            if record is not None and record.tenant_id == key.tenant_id:
                found.append(record)
        return found

    async def configuration(self, key: CustomerKey) -> MultiRegionConfiguration | None:
        if key.multi_region_type is None:
            return None
        related = await self.related(key)
        primary = next(
            (k for k in related if k.multi_region_type is MultiRegionKeyType.PRIMARY), None
        )
        replicas = tuple(
            (k.arn, k.region) for k in related if k.multi_region_type is MultiRegionKeyType.REPLICA
        )
        return MultiRegionConfiguration(
            key.multi_region_type,
            None if primary is None else (primary.arn, primary.region),
            replicas,
        )

    async def with_primary_rotation(self, key: CustomerKey) -> CustomerKey:
        """``key`` with its primary's rotation settings when it is a replica: a replica rotates
        with its primary (one ring), so its status is the primary's, as on AWS."""
        if key.multi_region_type is not MultiRegionKeyType.REPLICA:
            return key
        for related in await self.related(key):
            if related.multi_region_type is MultiRegionKeyType.PRIMARY:
                return replace(
                    key,
                    rotation_enabled=related.rotation_enabled,
                    rotation_period_days=related.rotation_period_days,
                    next_rotation_date=related.next_rotation_date,
                )
        return key

    async def rotations(self, key: CustomerKey) -> list[KeyRotation]:
        """The rotations of ``key``'s material, oldest first. A multi-Region key's are recorded
        on the record that was primary when each was made, and they are every related key's
        (one ring): all of them, so a replica lists its primary's, as on AWS."""
        if not key.multi_region:
            return await self._store.list_rotations(key.record_id, after=None, limit=2**31)
        found: list[KeyRotation] = []
        for related in await self.related(key):
            found += await self._store.list_rotations(related.record_id, after=None, limit=2**31)
        return sorted(found, key=lambda rotation: rotation.rotation_id)

    # --- imported key material -----------------------------------------------------------------

    async def check_material(self, key: CustomerKey, material_id: str) -> None:
        """Refuse material other than the related keys' (``IncorrectKeyMaterial``): every key of
        a multi-Region key with imported material takes the same material, imported into each
        (AWS). They share one ring, so this is also what keeps the ring's one material the one
        every record names. Records are compared by material id, a keyed digest of the material
        over the shared key id (``importing.material_id``): equal for the same material in every
        region, telling nothing of it. A claim whose import has not finished counts too."""
        if not key.multi_region:
            return
        for related in await self.related(key):
            if related.record_id == key.record_id:
                continue
            claimed = _claimed_material_ids(related)
            if claimed and not any(secrets.compare_digest(material_id, c) for c in claimed):
                raise IncorrectKeyMaterial(
                    f"The key material is not the material of {related.arn}: every related "
                    "multi-Region key takes the same key material"
                )

    async def material_held_elsewhere(self, key: CustomerKey, material_id: str) -> bool:
        """Whether a key related to ``key`` still has ``material_id`` imported: the shared ring
        must then keep it when ``key``'s is deleted or expires (on AWS only that key goes to
        PendingImport; its state refuses every use here)."""
        if not key.multi_region:
            return False
        for related in await self.related(key):
            if related.record_id != key.record_id and _holds(related, material_id):
                return True
        return False

    async def list_keys_here(
        self, tenant_id: str, after: str | None, limit: int
    ) -> list[CustomerKey]:
        """The tenant's keys of this endpoint's region in record id order after ``after``."""
        region = self._service.region
        found: list[CustomerKey] = []
        while len(found) < limit:
            page = await self._store.list_keys(tenant_id, after=after, limit=limit)
            found.extend(key for key in page if key.region == region)
            if len(page) < limit:
                break
            after = page[-1].record_id
        return found[:limit]

    # --- replication ---------------------------------------------------------------------------

    async def replicate_key(
        self,
        caller: Caller,
        key_ref: str,
        replica_region: str,
        *,
        policy: str | None = None,
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        bypass_lockout_check: bool = False,
    ) -> tuple[CustomerKey, CustomerKey]:
        """A replica of the primary key ``key_ref`` in ``replica_region``, a declared region;
        the replica and the primary. The replica has its own policy (AWS's default when None),
        description (the primary's when None) and tags, the primary's key spec, usage, state
        (Enabled or Disabled) and — being the same ring — its material."""
        service = self._service
        primary = await service._resolve(
            caller,
            key_ref,
            "kms:ReplicateKey",
            request={"kms:ReplicaRegion": replica_region},
        )
        if primary.multi_region_type is not MultiRegionKeyType.PRIMARY:
            raise UnsupportedKeyOperation(
                f"{primary.arn} is not a multi-Region primary key: only a primary key replicates"
            )
        if primary.state in _UNUSABLE:
            raise CmkInvalidState(f"{primary.arn} is {primary.state.value}")
        if replica_region not in self._regions:
            # Sovereignty: the operator decides where key material may go, by declaring regions.
            raise UnsupportedKeyOperation(
                f"Region {replica_region[:64]} is not a region of this deployment "
                f"(its regions: {', '.join(self._regions)})"
            )
        if replica_region == primary.region:
            raise InvalidKeyParameter(
                f"{primary.arn} is in {replica_region} already: a replica goes to another region"
            )
        if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidKeyParameter("Description is longer than 8192 characters")
        check_tags(tags)
        if policy is not None:
            service._authoriser.check_policy(policy)
        regional = service.in_region(replica_region)
        # What is decided in the replica's region is asked there (aws:RequestedRegion).
        there = replace(caller, region=replica_region)
        tag_keys: dict[str, str | Sequence[str]] = {f"aws:RequestTag/{k}": v for k, v in tags}
        if tags:
            tag_keys["aws:TagKeys"] = [k for k, _ in tags]
        # The replica is made in its region: creating it needs kms:CreateKey there (AWS), with
        # the request's tags as CreateKey's.
        await regional._allow_identity(
            there,
            "kms:CreateKey",
            {
                "kms:MultiRegion": True,
                "kms:MultiRegionKeyType": MultiRegionKeyType.REPLICA.value,
                "kms:KeySpec": primary.key_spec,
                "kms:KeyUsage": primary.key_usage,
                "kms:KeyOrigin": primary.origin,
                "kms:BypassPolicyLockoutSafetyCheck": bypass_lockout_check,
                **tag_keys,
            },
        )
        if tags:  # AWS: tagging the replica needs kms:TagResource there too
            await regional._allow_identity(there, "kms:TagResource", tag_keys)
        if await self._store.get_key(record_id_of(primary.key_id, replica_region)) is not None:
            raise ReplicaAlreadyExists(f"{primary.key_id} has a key in {replica_region} already")
        replica = replace(
            primary,
            region=replica_region,
            description=primary.description if description is None else description,
            policy=policy if policy is not None else default_key_policy(caller.account_id),
            tags=tuple(sorted(dict(tags).items())),
            created_at=service._clock(),
            multi_region_type=MultiRegionKeyType.REPLICA,
            # Rotation is the primary's: the shared ring rotates once, for every region.
            next_rotation_date=None,
            deletion_date=None,
            pending_window_days=None,
            revision=0,
        )
        if primary.external:
            # AWS copies no imported material: the replica waits for the same material,
            # imported into it in its own region (``check_material``), with its own expiry.
            replica = replace(
                replica,
                state=KeyState.PENDING_IMPORT,
                has_material=False,
                key_material_id=None,
                expiration_model=None,
                valid_to=None,
                materials=(),
                public_key=None,  # an asymmetric replica's comes with its import
            )
        caller.resources.append(replica.arn)
        if policy is not None and not bypass_lockout_check:
            await regional._check_lockout(there, replica)
        try:
            await self._store.insert_key(replica)
        except Exception as exc:  # made meanwhile by a concurrent ReplicateKey
            if await self._store.get_key(replica.record_id) is None:
                raise
            raise ReplicaAlreadyExists(
                f"{primary.key_id} has a key in {replica_region} already"
            ) from exc
        return replica, primary

    async def update_primary_region(
        self, caller: Caller, key_ref: str, primary_region: str
    ) -> None:
        """Make the replica in ``primary_region`` the primary key, and this primary a replica.
        Needs kms:UpdatePrimaryRegion on both keys (each by its own policy), as AWS does."""
        service = self._service
        request = {"kms:PrimaryRegion": primary_region}
        primary = await service._resolve(
            caller, key_ref, "kms:UpdatePrimaryRegion", request=request
        )
        if primary.multi_region_type is None:
            raise UnsupportedKeyOperation(f"{primary.arn} is not a multi-Region key")
        if primary.multi_region_type is not MultiRegionKeyType.PRIMARY:
            raise UnsupportedKeyOperation(
                f"{primary.arn} is a replica key: call UpdatePrimaryRegion on the primary key"
            )
        if primary_region == primary.region:
            return  # already the primary region
        if primary_region not in self._regions:
            raise UnsupportedKeyOperation(
                f"Region {primary_region[:64]} is not a region of this deployment"
            )
        replica = await self._store.get_key(record_id_of(primary.key_id, primary_region))
        if replica is None or replica.tenant_id != primary.tenant_id:
            raise CmkNotFound(f"{primary.key_id} has no replica key in {primary_region[:64]}")
        await service.in_region(primary_region)._resolve(
            replace(caller, region=primary_region),
            replica.arn,
            "kms:UpdatePrimaryRegion",
            request=request,
        )
        for key in (primary, replica):
            if key.state in _UNUSABLE:
                raise CmkInvalidState(f"{key.arn} is {key.state.value}")
        # The rotation schedule moves with the role; the replica first, so that there is
        # never a moment without a primary (two for an instant is what a retry repairs).
        await self._swap(
            replica,
            lambda k: replace(
                k,
                multi_region_type=MultiRegionKeyType.PRIMARY,
                rotation_enabled=primary.rotation_enabled,
                rotation_period_days=primary.rotation_period_days,
                next_rotation_date=primary.next_rotation_date,
            ),
        )
        await self._swap(
            primary,
            lambda k: replace(
                k, multi_region_type=MultiRegionKeyType.REPLICA, next_rotation_date=None
            ),
        )

    async def _swap(self, key: CustomerKey, change: Callable[[CustomerKey], CustomerKey]) -> None:
        current: CustomerKey | None = key
        for _ in range(_CHANGE_ATTEMPTS):
            if current is None:
                raise CmkNotFound(f"Key '{key.arn}' does not exist")
            if await self._store.replace_key(change(current)):
                return
            current = await self._store.get_key(key.record_id)
        raise CmkInvalidState("the key is being changed by another request; try again")

    # --- deletion ------------------------------------------------------------------------------

    async def has_replicas(self, caller: Caller, key_ref: str) -> bool:
        """Whether ``key_ref`` names a multi-Region primary key that has replicas (read
        unchecked: the caller's own call checks its permission on the key)."""
        key = await self._service._resolve(caller, key_ref, None)
        if key.multi_region_type is not MultiRegionKeyType.PRIMARY:
            return False
        return len(await self.related(key)) > 1

    @staticmethod
    def waiting_for_replicas(scheduled: CustomerKey, window_days: int) -> CustomerKey:
        """A primary key scheduled for deletion while it has replicas: no deletion date yet,
        its waiting period kept for when the last replica is deleted."""
        return replace(
            scheduled,
            state=KeyState.PENDING_REPLICA_DELETION,
            deletion_date=None,
            pending_window_days=window_days,
        )

    async def after_deletion(self, deleted: CustomerKey) -> bool:
        """After the record ``deleted`` was removed: whether related keys remain (then the
        shared ring must stay). A primary waiting for its replicas whose last replica this was
        starts its waiting period now."""
        if not deleted.multi_region:
            return False
        remaining = await self.related(deleted)
        if len(remaining) == 1:
            (last,) = remaining
            if last.state is KeyState.PENDING_REPLICA_DELETION:
                days = last.pending_window_days or DEFAULT_PENDING_WINDOW_DAYS
                await self._swap(
                    last,
                    lambda k: (
                        replace(
                            k,
                            state=KeyState.PENDING_DELETION,
                            deletion_date=self._service._clock() + timedelta(days=days),
                            pending_window_days=None,
                        )
                        if k.state is KeyState.PENDING_REPLICA_DELETION
                        else k
                    ),
                )
        return bool(remaining)
