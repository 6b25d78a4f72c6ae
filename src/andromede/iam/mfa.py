"""Virtual MFA devices (part of IdentityService): CreateVirtualMFADevice, EnableMFADevice,
ListMFADevices, ListVirtualMFADevices, DeactivateMFADevice, DeleteVirtualMFADevice, and the
code check that STS and the console login use.

The TOTP seed is sealed with the secrets key (the serial number as associated data) and shown
once, at creation. Every accepted code's time step is remembered in the store, which refuses an
equal or earlier step: a code cannot be replayed, even on another gateway.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from andromede.iam import totp
from andromede.iam.errors import InvalidAuthenticationCode, InvalidInput, NoSuchEntity
from andromede.iam.model import MfaDevice, Tags
from andromede.iam.service_core import ServiceCore, check_name, check_path
from andromede.iam.tags import check_tags, merged, without

__all__ = ["CreatedMfaDevice", "MfaMixin"]

_WRONG_CODE = "Authentication code for the MFA device is not valid."


@dataclass(frozen=True, slots=True)
class CreatedMfaDevice:
    device: MfaDevice
    base32_string_seed: str  # shown once
    otpauth_uri: str  # what a QR code would carry


class MfaMixin(ServiceCore):
    async def create_virtual_mfa_device(
        self, tenant_id: str, virtual_mfa_device_name: str, path: str = "/", tags: Tags = ()
    ) -> CreatedMfaDevice:
        name = check_name("virtualMFADeviceName", virtual_mfa_device_name, 226)
        check_path(path)
        serial = f"arn:aws:iam::{tenant_id}:mfa{path}{name}"
        seed = totp.new_seed()
        device = MfaDevice(
            serial=serial,
            tenant_id=tenant_id,
            name=name,
            path=path,
            seed_sealed=self._sealer.seal(serial, totp.seed_to_base32(seed)),
            created_at=self._now(),
            tags=check_tags(tags),
        )
        await self._store.create_mfa_device(device)
        base32_seed = totp.seed_to_base32(seed)
        uri = self.authenticator_uri(tenant_id, name, base32_seed)
        return CreatedMfaDevice(device, base32_seed, uri)

    def authenticator_uri(self, tenant_id: str, device_name: str, base32_seed: str) -> str:
        """The ``otpauth://`` URI an authenticator app imports (what a QR code carries) for a
        device's seed, as CreateVirtualMFADevice gave it out."""
        seed = totp.seed_from_base32(base32_seed)
        return totp.otpauth_uri(seed, f"{device_name}@{tenant_id}", self._limits.mfa_issuer)

    async def tag_mfa_device(self, tenant_id: str, serial_number: str, tags: Tags) -> None:
        """As TagUser (decision 0074)."""
        device = await self._device(tenant_id, serial_number)
        await self._store.set_tags(MfaDevice, device.serial, merged(device.tags, tags))

    async def untag_mfa_device(self, tenant_id: str, serial_number: str, keys: list[str]) -> None:
        device = await self._device(tenant_id, serial_number)
        await self._store.set_tags(MfaDevice, device.serial, without(device.tags, keys))

    async def list_mfa_device_tags(self, tenant_id: str, serial_number: str) -> Tags:
        return (await self._device(tenant_id, serial_number)).tags

    async def _device(self, tenant_id: str, serial_number: str) -> MfaDevice:
        device = await self._store.get_mfa_device(serial_number)
        if device is None or device.tenant_id != tenant_id:
            raise NoSuchEntity(f"MFA device with serial number {serial_number} does not exist.")
        return device

    def _seed(self, device: MfaDevice) -> bytes:
        return totp.seed_from_base32(self._sealer.unseal(device.serial, device.seed_sealed))

    async def enable_mfa_device(
        self,
        tenant_id: str,
        user_name: str,
        serial_number: str,
        authentication_code_1: str,
        authentication_code_2: str,
    ) -> None:
        """Assign the device to the user once two consecutive codes prove the app has the seed."""
        user = await self._user(tenant_id, user_name)
        device = await self._device(tenant_id, serial_number)
        seed = self._seed(device)
        second = totp.matching_step(seed, authentication_code_2, self._clock())
        first_ok = second is not None and _same_code(
            totp.totp(seed, second - 1), authentication_code_1
        )
        if second is None or not first_ok:
            raise InvalidAuthenticationCode(_WRONG_CODE)
        await self._store.enable_mfa_device(device.serial, user.id, self._now(), second)

    async def list_mfa_devices(self, tenant_id: str, user_name: str) -> list[MfaDevice]:
        user = await self._user(tenant_id, user_name)
        return await self._store.list_mfa_devices(tenant_id, user.id)

    async def list_virtual_mfa_devices(
        self, tenant_id: str, assignment_status: str = "Any"
    ) -> list[MfaDevice]:
        devices = await self._store.list_mfa_devices(tenant_id, None)
        if assignment_status == "Any":
            return devices
        if assignment_status == "Assigned":
            return [d for d in devices if d.user_id is not None]
        if assignment_status == "Unassigned":
            return [d for d in devices if d.user_id is None]
        raise InvalidInput("AssignmentStatus must be Assigned, Unassigned or Any")

    async def deactivate_mfa_device(
        self, tenant_id: str, user_name: str, serial_number: str
    ) -> None:
        user = await self._user(tenant_id, user_name)
        device = await self._device(tenant_id, serial_number)
        if device.user_id != user.id or not await self._store.deactivate_mfa_device(device.serial):
            raise NoSuchEntity(f"MFA device {serial_number} is not enabled for {user_name}.")

    async def delete_virtual_mfa_device(self, tenant_id: str, serial_number: str) -> None:
        """DeleteConflict while the device is assigned."""
        device = await self._device(tenant_id, serial_number)
        await self._store.delete_mfa_device(device.serial)

    async def verify_mfa_code(
        self, tenant_id: str, user_id: str, serial_number: str, code: str
    ) -> None:
        """InvalidAuthenticationCode unless ``code`` is a fresh code of the device that is
        enabled for ``user_id``; the code is used up."""
        device = await self._store.get_mfa_device(serial_number)
        if device is None or device.tenant_id != tenant_id or device.user_id != user_id:
            raise InvalidAuthenticationCode(_WRONG_CODE)
        step = totp.matching_step(self._seed(device), code, self._clock(), after=device.last_step)
        if step is None or not await self._store.accept_mfa_step(device.serial, step):
            raise InvalidAuthenticationCode(_WRONG_CODE)


def _same_code(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().encode())
