"""The multi-Region key actions of the KMS JSON API (decision 0138) — ReplicateKey and
UpdatePrimaryRegion — and what KeyMetadata says of a multi-Region key
(``MultiRegionConfiguration``), over ``CustomerKeyService.multi_region``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.kms.keys_model import CustomerKey
from andromede.kmsapi.call import KmsCall, invalid

__all__ = ["multi_region_actions", "multi_region_metadata"]

Handler = Callable[[KmsCall], Awaitable[dict[str, Any]]]
KeyMetadata = Callable[[CustomerKey], dict[str, Any]]
# A region name as the settings take them (AWS's own pattern, ^([a-z]+-){2,3}\d+$, would
# refuse a declared region named otherwise).
_REGION: Final = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _region(call: KmsCall, name: str) -> str:
    region = call.required(name, max_length=32)
    if not _REGION.fullmatch(region):
        raise invalid(name, region, "Member must be a region name")
    return region


async def multi_region_metadata(
    call: KmsCall, key: CustomerKey, metadata: dict[str, Any]
) -> dict[str, Any]:
    """``metadata`` with the key's MultiRegionConfiguration, for a multi-Region key."""
    configuration = await call.keys.multi_region.configuration(key)
    if configuration is not None:
        shown: dict[str, Any] = {
            "MultiRegionKeyType": configuration.key_type.value,
            "ReplicaKeys": [
                {"Arn": arn, "Region": region} for arn, region in configuration.replicas
            ],
        }
        if configuration.primary is not None:
            arn, region = configuration.primary
            shown["PrimaryKey"] = {"Arn": arn, "Region": region}
        metadata["MultiRegionConfiguration"] = shown
    return metadata


def multi_region_actions(key_metadata: KeyMetadata) -> Mapping[str, Handler]:
    """The two actions, answering KeyMetadata as ``key_metadata`` makes it."""

    async def replicate_key(call: KmsCall) -> dict[str, Any]:
        key_ref = call.required("KeyId")
        region = _region(call, "ReplicaRegion")
        replica, _ = await call.keys.multi_region.replicate_key(
            call.caller,
            key_ref,
            region,
            policy=call.string("Policy", max_length=32 * 1024),
            description=call.string("Description"),
            tags=call.tags(),
            bypass_lockout_check=bool(call.boolean("BypassPolicyLockoutSafetyCheck")),
        )
        return {
            "ReplicaKeyMetadata": await multi_region_metadata(call, replica, key_metadata(replica)),
            "ReplicaPolicy": replica.policy,
            "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in replica.tags],
        }

    async def update_primary_region(call: KmsCall) -> dict[str, Any]:
        key_ref = call.required("KeyId")
        region = _region(call, "PrimaryRegion")
        await call.keys.multi_region.update_primary_region(call.caller, key_ref, region)
        return {}

    return {"ReplicateKey": replicate_key, "UpdatePrimaryRegion": update_primary_region}
