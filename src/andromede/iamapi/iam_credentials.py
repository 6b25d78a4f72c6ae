"""IAM handlers for what proves a user's identity: access keys, console passwords (login
profiles), virtual MFA devices; and the account summary.

Secrets leave once: the secret access key in CreateAccessKey's answer, the TOTP seed in
CreateVirtualMFADevice's (base64 of the Base32 text, as AWS encodes that blob, and the QR code
of the same seed as a PNG). Passwords never leave, not even hashed.
"""

from __future__ import annotations

import base64

from andromede.iam.errors import NoSuchEntity
from andromede.iam.model import MfaDevice
from andromede.iamapi.errors import QueryError
from andromede.iamapi.iam_common import (
    already_exists_as,
    page,
    refuse_unsupported,
    request_tags,
    target_user,
    write_entity_tags,
    write_tag_list,
    write_truncation,
    write_user,
)
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "create_access_key",
    "create_login_profile",
    "create_virtual_mfa_device",
    "deactivate_mfa_device",
    "delete_access_key",
    "delete_login_profile",
    "delete_virtual_mfa_device",
    "enable_mfa_device",
    "get_access_key_last_used",
    "get_account_summary",
    "get_login_profile",
    "key_owner_resource",
    "list_access_keys",
    "list_mfa_devices",
    "list_virtual_mfa_devices",
    "update_access_key",
    "update_login_profile",
]


# -- access keys ----------------------------------------------------------------------------
async def create_access_key(call: Call) -> None:
    user = await target_user(call)
    created = await call.identity.create_access_key(call.tenant_id, user.name)
    xml = call.result
    xml.open("AccessKey")
    xml.element("UserName", created.user_name)
    xml.element("AccessKeyId", created.key.access_key_id)
    xml.element("Status", created.key.status.value)
    xml.element("SecretAccessKey", created.secret_access_key)
    xml.element("CreateDate", iso8601(created.key.created_at))
    xml.close("AccessKey")


async def list_access_keys(call: Call) -> None:
    user = await target_user(call)
    keys = await call.identity.list_access_keys(call.tenant_id, user.name)
    chosen, marker = page(call, keys, lambda k: k.access_key_id)
    xml = call.result
    xml.open("AccessKeyMetadata")
    for key in chosen:
        xml.open("member")
        xml.element("UserName", user.name)
        xml.element("AccessKeyId", key.access_key_id)
        xml.element("Status", key.status.value)
        xml.element("CreateDate", iso8601(key.created_at))
        xml.close("member")
    xml.close("AccessKeyMetadata")
    write_truncation(xml, marker)


async def update_access_key(call: Call) -> None:
    user = await target_user(call)
    await call.identity.update_access_key(
        call.tenant_id, user.name, call.required("AccessKeyId"), call.required("Status")
    )


async def delete_access_key(call: Call) -> None:
    user = await target_user(call)
    await call.identity.delete_access_key(call.tenant_id, user.name, call.required("AccessKeyId"))


async def get_access_key_last_used(call: Call) -> None:
    used = await call.identity.get_access_key_last_used(
        call.tenant_id, call.required("AccessKeyId")
    )
    xml = call.result
    xml.element("UserName", used.user_name)
    xml.open("AccessKeyLastUsed")
    if used.last_used_at is not None:
        xml.element("LastUsedDate", iso8601(used.last_used_at))
    xml.element("ServiceName", used.service_name)
    xml.element("Region", used.region)
    xml.close("AccessKeyLastUsed")


async def key_owner_resource(call: Call) -> str:
    """GetAccessKeyLastUsed is authorised on the key owner's ARN; for a key not in the caller's
    account, on the account's ``user/`` ARN (the handler then answers NoSuchEntity)."""
    try:
        used = await call.identity.get_access_key_last_used(
            call.tenant_id, call.required("AccessKeyId")
        )
    except NoSuchEntity:
        return f"arn:aws:iam::{call.tenant_id}:user/"
    return (await call.identity.get_user(call.tenant_id, used.user_name)).arn


# -- login profiles -------------------------------------------------------------------------
def _no_reset(call: Call) -> None:
    if call.boolean("PasswordResetRequired", default=False):
        raise QueryError(
            "InvalidInput", "PasswordResetRequired is not supported: set the new password directly"
        )


async def _write_login_profile(call: Call, user_name: str) -> None:
    created = await call.identity.get_login_profile(call.tenant_id, user_name)
    xml = call.result
    xml.open("LoginProfile")
    xml.element("UserName", user_name)
    xml.element("CreateDate", iso8601(created))
    xml.element("PasswordResetRequired", False)
    xml.close("LoginProfile")


async def create_login_profile(call: Call) -> None:
    refuse_unsupported(call, "MaxSigninSessionDuration")
    _no_reset(call)
    user = await target_user(call)
    await call.identity.create_login_profile(call.tenant_id, user.name, call.required("Password"))
    await _write_login_profile(call, user.name)


async def get_login_profile(call: Call) -> None:
    user = await target_user(call)
    await _write_login_profile(call, user.name)


async def update_login_profile(call: Call) -> None:
    refuse_unsupported(call, "MaxSigninSessionDuration", "ResetMaxSigninSessionDuration")
    _no_reset(call)
    user = await target_user(call)
    await call.identity.update_login_profile(call.tenant_id, user.name, call.required("Password"))


async def delete_login_profile(call: Call) -> None:
    user = await target_user(call)
    await call.identity.delete_login_profile(call.tenant_id, user.name)


# -- MFA ------------------------------------------------------------------------------------
async def create_virtual_mfa_device(call: Call) -> None:
    with already_exists_as("MFADevice entity at the same path and name already exists."):
        created = await call.identity.create_virtual_mfa_device(
            call.tenant_id,
            call.required("VirtualMFADeviceName"),
            call.get("Path") or "/",
            request_tags(call),
        )
    xml = call.result
    xml.open("VirtualMFADevice")
    xml.element("SerialNumber", created.device.serial)
    # Blobs in botocore's model: base64 on the wire. The Base32 text of the seed, and the QR
    # code of its authenticator URI as a PNG, which `aws iam create-virtual-mfa-device
    # --bootstrap-method QRCodePNG --outfile F` writes (without it, the CLI writes nothing).
    # qrcode (and pypng) imported by the first virtual MFA device, not at start (decision 0347).
    from andromede.iamapi.qr_png import qr_png

    seed = created.base32_string_seed.encode("ascii")
    xml.element("Base32StringSeed", base64.b64encode(seed).decode("ascii"))
    xml.element("QRCodePNG", base64.b64encode(qr_png(created.otpauth_uri)).decode("ascii"))
    write_entity_tags(xml, created.device.tags)
    xml.close("VirtualMFADevice")


async def tag_mfa_device(call: Call) -> None:
    await call.identity.tag_mfa_device(
        call.tenant_id, call.required("SerialNumber"), request_tags(call)
    )


async def untag_mfa_device(call: Call) -> None:
    await call.identity.untag_mfa_device(
        call.tenant_id, call.required("SerialNumber"), call.members("TagKeys")
    )


async def list_mfa_device_tags(call: Call) -> None:
    tags = await call.identity.list_mfa_device_tags(call.tenant_id, call.required("SerialNumber"))
    write_tag_list(call, tags)


async def enable_mfa_device(call: Call) -> None:
    user = await target_user(call)
    await call.identity.enable_mfa_device(
        call.tenant_id,
        user.name,
        call.required("SerialNumber"),
        call.required("AuthenticationCode1"),
        call.required("AuthenticationCode2"),
    )


async def list_mfa_devices(call: Call) -> None:
    user = await target_user(call)
    devices = await call.identity.list_mfa_devices(call.tenant_id, user.name)
    chosen, marker = page(call, devices, lambda d: d.serial)
    xml = call.result
    xml.open("MFADevices")
    for device in chosen:
        xml.open("member")
        xml.element("UserName", user.name)
        xml.element("SerialNumber", device.serial)
        xml.element("EnableDate", iso8601(device.enabled_at or device.created_at))
        xml.close("member")
    xml.close("MFADevices")
    write_truncation(xml, marker)


async def list_virtual_mfa_devices(call: Call) -> None:
    devices = await call.identity.list_virtual_mfa_devices(
        call.tenant_id, call.get("AssignmentStatus") or "Any"
    )
    chosen, marker = page(call, devices, lambda d: d.serial)
    xml = call.result
    xml.open("VirtualMFADevices")
    for device in chosen:
        await _write_virtual_device(call, device)
    xml.close("VirtualMFADevices")
    write_truncation(xml, marker)


async def _write_virtual_device(call: Call, device: MfaDevice) -> None:
    xml = call.result
    xml.open("member")
    xml.element("SerialNumber", device.serial)
    if device.user_id is not None:
        write_user(xml, await call.identity.get_user_by_id(call.tenant_id, device.user_id))
        if device.enabled_at is not None:
            xml.element("EnableDate", iso8601(device.enabled_at))
    xml.close("member")


async def deactivate_mfa_device(call: Call) -> None:
    user = await target_user(call)
    await call.identity.deactivate_mfa_device(
        call.tenant_id, user.name, call.required("SerialNumber")
    )


async def delete_virtual_mfa_device(call: Call) -> None:
    await call.identity.delete_virtual_mfa_device(call.tenant_id, call.required("SerialNumber"))


# -- account --------------------------------------------------------------------------------
async def get_account_summary(call: Call) -> None:
    summary = await call.identity.get_account_summary(call.tenant_id)
    xml = call.result
    xml.open("SummaryMap")
    for key, value in summary.items():
        xml.open("entry")
        xml.element("key", key)
        xml.element("value", value)
        xml.close("entry")
    xml.close("SummaryMap")
