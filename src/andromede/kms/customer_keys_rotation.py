"""Rotation of customer keys: automatic rotation's settings and status, on-demand rotation
(of generated material in place; of a symmetric EXTERNAL key to its staged material,
decision 0085), ListKeyRotations, and the upkeep that deletes keys whose waiting period is
over, rotates keys whose rotation is due and withdraws expired imported material.

Mixed into :class:`~andromede.kms.customer_keys.CustomerKeyService`; split off only for size.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from andromede.kms import importing
from andromede.kms.errors import KeyDestroyed, KeyNotFound
from andromede.kms.keys_errors import (
    CmkInvalidState,
    InvalidKeyParameter,
    KeyLimitExceeded,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_interface import Caller, UpkeepReport
from andromede.kms.keys_model import (
    DEFAULT_ROTATION_PERIOD_DAYS,
    ORIGIN_AWS_KMS,
    CustomerKey,
    MaterialState,
    MultiRegionKeyType,
    RotationEntry,
    RotationType,
)

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    pass

from andromede.kms.customer_keys_core import _UPKEEP_BATCH, CustomerKeysCore

__all__ = ["RotationMixin"]


class RotationMixin(CustomerKeysCore):
    """Rotation and the periodic upkeep (mixed into CustomerKeyService)."""

    # --- rotation ----------------------------------------------------------------------

    async def enable_key_rotation(
        self, caller: Caller, key_ref: str, period_days: int | None
    ) -> CustomerKey:
        def enable(key: CustomerKey) -> CustomerKey:
            self._rotatable(key)
            try:
                return key.with_rotation(self._clock(), period_days)
            except ValueError as exc:
                raise InvalidKeyParameter(str(exc)) from None

        period = DEFAULT_ROTATION_PERIOD_DAYS if period_days is None else period_days
        return await self._change(
            caller,
            key_ref,
            "kms:EnableKeyRotation",
            enable,
            usable=True,
            request={"kms:RotationPeriodInDays": period},
        )

    async def disable_key_rotation(self, caller: Caller, key_ref: str) -> CustomerKey:
        return await self._change(
            caller,
            key_ref,
            "kms:DisableKeyRotation",
            lambda key: key.without_rotation(),
            usable=True,
        )

    async def get_key_rotation_status(self, caller: Caller, key_ref: str) -> CustomerKey:
        key = await self._resolve(caller, key_ref, "kms:GetKeyRotationStatus")
        return await self._multi_region.with_primary_rotation(key)

    async def rotate_key_on_demand(self, caller: Caller, key_ref: str) -> CustomerKey:
        """A new KEK version becomes current at once; older ones keep decrypting. A key is
        rotated on demand at most ``on_demand_rotations`` times (``KeyLimitExceeded``): the
        rotation is recorded first, within that quota, and forgotten if the provider fails."""
        key = self._usable(await self._resolve(caller, key_ref, "kms:RotateKeyOnDemand"))
        if key.external and key.symmetric:
            return await self._rotate_to_imported(caller, key_ref, key)
        self._rotatable(key)
        rotation = await self._store.add_rotation(
            key.record_id, self._clock(), RotationType.ON_DEMAND, limit=self._on_demand_rotations
        )
        if rotation is None:
            raise KeyLimitExceeded(
                f"{key.arn} has been rotated on demand {self._on_demand_rotations} times, "
                "the most a key may be"
            )
        try:
            await self._provider(self._keys.rotate_tenant_key, key.key_id)
        except BaseException:
            await self._store.delete_rotation(rotation.rotation_id)
            raise
        return key

    async def _rotate_to_imported(
        self, caller: Caller, key_ref: str, key: CustomerKey
    ) -> CustomerKey:
        """A symmetric EXTERNAL key's on-demand rotation (decision 0085): its material in
        PENDING_ROTATION becomes current, in the ring and then in the record; the one before
        becomes NON_CURRENT and still decrypts. Counted against the on-demand quota."""
        pending = key.pending_material
        now = self._clock()
        if pending is None or not pending.imported:
            raise CmkInvalidState(
                f"{key.arn} has no imported key material in PENDING_ROTATION state: import new "
                "key material (ImportType NEW_KEY_MATERIAL) before rotating it"
            )
        if pending.expired(now):
            raise CmkInvalidState(
                f"Key material {pending.material_id} of {key.arn} has expired: import it again"
            )
        rotation = await self._store.add_rotation(
            key.record_id, now, RotationType.ON_DEMAND, limit=self._on_demand_rotations
        )
        if rotation is None:
            raise KeyLimitExceeded(
                f"{key.arn} has been rotated on demand {self._on_demand_rotations} times, "
                "the most a key may be"
            )
        try:
            await self._provider(self._keys.promote_tenant_key, key.key_id, pending.version)
        except BaseException:
            await self._store.delete_rotation(rotation.rotation_id)
            raise

        def rotated(current: CustomerKey) -> CustomerKey:
            held = current.material(pending.material_id)
            if held is None or held.state is not MaterialState.PENDING_ROTATION:
                return current
            materials = [
                replace(m, state=MaterialState.NON_CURRENT)
                if m.state is MaterialState.CURRENT
                else m
                for m in current.imported_materials
                if m.version != held.version
            ]
            materials.append(replace(held, state=MaterialState.CURRENT, rotated_at=now))
            return current.with_materials(materials)

        return await self._change(caller, key_ref, "kms:RotateKeyOnDemand", rotated)

    @staticmethod
    def _rotatable(key: CustomerKey) -> None:
        if key.multi_region_type is MultiRegionKeyType.REPLICA:
            raise UnsupportedKeyOperation(
                f"{key.arn} is a multi-Region replica key: it rotates with its primary key"
            )
        if key.in_external_key_store:
            raise UnsupportedKeyOperation(
                f"{key.arn} is in a custom key store: its material is the external key, which "
                "the external key manager rotates, never KMS"
            )
        if key.external:
            raise UnsupportedKeyOperation(
                f"{key.arn} has imported key material: it rotates by a new key, not in place"
            )
        if not key.symmetric:
            raise UnsupportedKeyOperation(
                f"{key.arn} is an asymmetric key: only symmetric keys rotate"
            )

    async def list_key_rotations(
        self,
        caller: Caller,
        key_ref: str,
        *,
        limit: int,
        after: int | None,
        all_material: bool = False,
    ) -> tuple[list[RotationEntry], int | None]:
        """The key's materials, oldest first, after the marker ``after``; and the last marker
        listed when there are more (the next page's ``after``). Without ``all_material``,
        only those a completed rotation made (AWS ROTATIONS_ONLY); with it, the first material
        and a pending one too. A symmetric EXTERNAL key's entries are its materials, marked by
        ring version; another key's are its rotations, marked by rotation id."""
        key = await self._own_key(caller, key_ref, "kms:ListKeyRotations")
        if key.imported_materials:
            entries = [
                RotationEntry(
                    marker=m.version,
                    key_id=key.key_id,
                    material_id=m.material_id,
                    material_state=m.state,
                    rotated_at=m.rotated_at,
                    rotation_type=None if m.rotated_at is None else RotationType.ON_DEMAND,
                    material=m,
                )
                for m in key.imported_materials
                if (all_material or m.rotated_at is not None)
                and (after is None or m.version > after)
            ]
        else:
            entries = await self._generated_materials(key, all_material, after, limit)
        more = len(entries) > limit
        entries = entries[:limit]
        return entries, entries[-1].marker if more else None

    async def generated_material_id(self, key: CustomerKey) -> str | None:
        """The id of a symmetric AWS_KMS key's current material (DescribeKey's
        ``CurrentKeyMaterialId``): the version its ring wraps new data keys with. None for other
        keys (an imported key's is its record's), and for a ring no longer there."""
        if key.origin != ORIGIN_AWS_KMS or not key.symmetric:
            return None
        try:
            ring = await asyncio.to_thread(self._keys.tenant_key_ring, key.key_id)
        except (KeyNotFound, KeyDestroyed):  # gone, or a record restored from elsewhere
            return None
        return importing.generated_material_id(key.key_id, ring.current)

    async def _generated_materials(
        self, key: CustomerKey, all_material: bool, after: int | None, limit: int
    ) -> list[RotationEntry]:
        """An AWS_KMS key's materials: the first (version 1, marker 0) and one per rotation,
        each the version after the last (markers: rotation ids). Their ids are derived from
        the key id and version: generated material never leaves the provider to be digested."""
        rotations = await self._multi_region.rotations(key)  # a replica's are its primary's
        current_version = len(rotations) + 1
        entries: list[RotationEntry] = []
        if all_material and after is None:
            entries.append(self._generated_entry(key, 1, current_version, 0, None, None))
        for version, rotation in enumerate(rotations, start=2):
            if after is not None and rotation.rotation_id <= after:
                continue
            entries.append(
                self._generated_entry(
                    key,
                    version,
                    current_version,
                    rotation.rotation_id,
                    rotation.rotated_at,
                    rotation.rotation_type,
                )
            )
            if len(entries) > limit:
                break
        return entries

    @staticmethod
    def _generated_entry(
        key: CustomerKey,
        version: int,
        current_version: int,
        marker: int,
        rotated_at: datetime | None,
        rotation_type: RotationType | None,
    ) -> RotationEntry:
        state = MaterialState.CURRENT if version == current_version else MaterialState.NON_CURRENT
        return RotationEntry(
            marker=marker,
            key_id=key.key_id,
            material_id=importing.generated_material_id(key.key_id, version),
            material_state=state,
            rotated_at=rotated_at,
            rotation_type=rotation_type,
        )

    # --- deletion and rotation upkeep --------------------------------------------------

    async def upkeep(self) -> UpkeepReport:
        """Destroy the material of keys whose deletion date has passed (then forget them), and
        rotate the keys whose automatic rotation is due. Safe to run from several gateways:
        destroying and forgetting are idempotent."""
        now = self._clock()
        destroyed: list[str] = []
        for key in await self._store.keys_due_for_deletion(now, _UPKEEP_BATCH):
            # Claim first (a deletion cancelled at the last moment is not claimed), then shred;
            # if shredding fails the claim is undone so that the next pass tries again.
            if not await self._store.claim_deletion(key.record_id, now):
                continue
            try:
                # A multi-Region key's material is shared: shredded with its last record.
                if not await self._multi_region.after_deletion(key):
                    await asyncio.to_thread(self._keys.destroy_tenant_key, key.key_id)
            except BaseException:
                await self._store.insert_key(key)
                raise
            destroyed.append(key.key_id)
        rotated: list[str] = []
        for key in await self._store.keys_due_for_rotation(now, _UPKEEP_BATCH):
            if not await self._store.replace_key(key.rotated(now)):
                continue  # changed meanwhile (disabled, rotated by another gateway...)
            try:
                await asyncio.to_thread(self._keys.rotate_tenant_key, key.key_id)
            except BaseException:
                # Put the due date back so that the next pass rotates it.
                await self._store.replace_key(replace(key, revision=key.revision + 1))
                raise
            await self._store.add_rotation(key.record_id, now, RotationType.AUTOMATIC)
            rotated.append(key.key_id)
        expired: list[str] = []
        for key in await self._store.keys_with_expired_material(now, _UPKEEP_BATCH):
            if await self._expire_material(key, now):
                expired.append(key.key_id)
        return UpkeepReport(tuple(destroyed), tuple(rotated), tuple(expired))

    async def _expire_material(self, key: CustomerKey, now: datetime) -> bool:
        """Delete a key's expired imported material; whether its record was changed."""
        if not key.imported_materials:
            withdrawn: list[tuple[str | None, int | None]] = [(key.key_material_id, None)]
            changed = key.without_material()
        else:
            withdrawn = [
                (m.material_id, m.version) for m in key.imported_materials if m.expired(now)
            ]
            changed = key.with_materials(
                [
                    replace(m, imported=False, valid_to=None) if m.expired(now) else m
                    for m in key.imported_materials
                ]
            )
        if key.multi_region:
            # As DeleteImportedKeyMaterial of a multi-Region key: the record first; the shared
            # ring's material goes only when no related key holds it (each related key's
            # expiry is its own, as on AWS).
            if not await self._store.replace_key(changed):
                return False
            for material_id, version in withdrawn:
                if material_id is None or not await self._multi_region.material_held_elsewhere(
                    key, material_id
                ):
                    await asyncio.to_thread(self._keys.withdraw_tenant_key, key.key_id, version)
            return True
        # As DeleteImportedKeyMaterial: the material first, then the record (a record changed
        # meanwhile is still expired at the next pass, and withdrawing is idempotent).
        for _, version in withdrawn:
            await asyncio.to_thread(self._keys.withdraw_tenant_key, key.key_id, version)
        return await self._store.replace_key(changed)
