"""The KMS actions: each parses its JSON parameters, calls :class:`CustomerKeyService`, and
returns the JSON answer AWS gives (blobs base64, dates as epoch seconds, keys named by ARN).

Parameter checks follow AWS's ValidationException wording (``1 validation error detected: …``);
the service re-checks what it owns (sizes, windows, periods).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from andromede.kms.asymmetric import (
    ENCAPSULATION_ALGORITHMS,
    KEY_AGREEMENT_ALGORITHMS,
    RSA_ENCRYPTION_ALGORITHMS,
    signing_algorithms,
)
from andromede.kms.grants import is_grant_id, principal_account
from andromede.kms.importing import WRAPPING_ALGORITHMS, WRAPPING_KEY_SPECS
from andromede.kms.keys_model import (
    EXPIRATION_KEY_MATERIAL_DOES_NOT_EXPIRE,
    EXPIRATION_KEY_MATERIAL_EXPIRES,
    IMPORT_EXISTING_KEY_MATERIAL,
    IMPORT_NEW_KEY_MATERIAL,
    KEY_SPEC_SYMMETRIC_DEFAULT,
    KEY_USAGE_ENCAPSULATE_DECAPSULATE,
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_KEY_AGREEMENT,
    ORIGIN_AWS_KMS,
    ORIGIN_EXTERNAL,
    ORIGIN_EXTERNAL_KEY_STORE,
    Alias,
    CustomerKey,
    Grant,
    KeyState,
    RotationEntry,
    canonical_key_id,
    key_id_of,
)
from andromede.kms.mac import MAC_KEY_SPECS, mac_algorithms
from andromede.kms.xks_model import is_store_id
from andromede.kmsapi.call import (
    SYMMETRIC_DEFAULT,
    KmsCall,
    check_grant_tokens,
    invalid,
    refuse_service_principals,
)
from andromede.kmsapi.crypto_actions import CRYPTO_ACTIONS, Handler, b64
from andromede.kmsapi.custom_key_stores import CUSTOM_KEY_STORE_ACTIONS, external_key_metadata
from andromede.kmsapi.errors import KmsWireError
from andromede.kmsapi.multi_region import multi_region_actions, multi_region_metadata

__all__ = ["ACTIONS", "KmsCall"]

MAX_CIPHERTEXT_SIZE: Final = 6144
_invalid = invalid
_DATA_KEY_SPECS: Final = {"AES_256": 32, "AES_128": 16}


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def key_metadata(key: CustomerKey) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "AWSAccountId": key.tenant_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": _epoch(key.created_at),
        "Enabled": key.state is KeyState.ENABLED,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state.value,
        "Origin": key.origin,
        "KeyManager": key.key_manager,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
    }
    if key.symmetric:
        metadata["EncryptionAlgorithms"] = [SYMMETRIC_DEFAULT]
    elif key.key_usage == KEY_USAGE_ENCRYPT_DECRYPT:
        metadata["EncryptionAlgorithms"] = list(RSA_ENCRYPTION_ALGORITHMS)
    elif key.key_spec in MAC_KEY_SPECS:
        metadata["MacAlgorithms"] = list(mac_algorithms(key.key_spec))
    elif key.key_usage == KEY_USAGE_KEY_AGREEMENT:
        metadata["KeyAgreementAlgorithms"] = list(KEY_AGREEMENT_ALGORITHMS)
    elif key.key_usage == KEY_USAGE_ENCAPSULATE_DECAPSULATE:
        metadata["EncapsulationAlgorithms"] = list(ENCAPSULATION_ALGORITHMS)
    else:
        metadata["SigningAlgorithms"] = list(signing_algorithms(key.key_spec))
    if key.deletion_date is not None:
        metadata["DeletionDate"] = _epoch(key.deletion_date)
    if key.pending_window_days is not None:  # a primary waiting for its replicas (0138)
        metadata["PendingDeletionWindowInDays"] = key.pending_window_days
    if key.external:
        if key.has_material and key.expiration_model is not None:
            metadata["ExpirationModel"] = key.expiration_model
        if key.has_material and key.valid_to is not None:
            metadata["ValidTo"] = _epoch(key.valid_to)
        if key.has_material and key.key_material_id is not None:
            metadata["CurrentKeyMaterialId"] = key.key_material_id
    return metadata


# --- life cycle --------------------------------------------------------------------------------


async def create_key(call: KmsCall) -> dict[str, Any]:
    origin = call.enum(
        "Origin",
        (ORIGIN_AWS_KMS, ORIGIN_EXTERNAL, "AWS_CLOUDHSM", ORIGIN_EXTERNAL_KEY_STORE),
        required=False,
    )
    store_id = call.string("CustomKeyStoreId", max_length=64)
    xks_key_id = call.string("XksKeyId", max_length=128)
    if origin == "AWS_CLOUDHSM":
        raise KmsWireError(
            "UnsupportedOperationException", "AWS CloudHSM key stores are not offered"
        )
    if origin == ORIGIN_EXTERNAL_KEY_STORE and (store_id is None or xks_key_id is None):
        raise _invalid(
            "CustomKeyStoreId" if store_id is None else "XksKeyId",
            "null",
            "Member must not be null with Origin EXTERNAL_KEY_STORE",
        )
    if origin != ORIGIN_EXTERNAL_KEY_STORE and (store_id is not None or xks_key_id is not None):
        raise _invalid(
            "Origin",
            origin or ORIGIN_AWS_KMS,
            "CustomKeyStoreId and XksKeyId need Origin EXTERNAL_KEY_STORE",
        )
    if store_id is not None and not is_store_id(store_id):
        raise KmsWireError(
            "CustomKeyStoreNotFoundException", f"Custom key store {store_id} does not exist"
        )
    spec = call.string("KeySpec") or call.string("CustomerMasterKeySpec")
    key = await call.keys.create_key(
        call.caller,
        description=call.string("Description") or "",
        key_usage=call.string("KeyUsage") or KEY_USAGE_ENCRYPT_DECRYPT,
        key_spec=spec or KEY_SPEC_SYMMETRIC_DEFAULT,
        policy=call.string("Policy", max_length=32 * 1024),
        tags=call.tags(),
        bypass_lockout_check=bool(call.boolean("BypassPolicyLockoutSafetyCheck")),
        origin=origin or ORIGIN_AWS_KMS,
        custom_key_store_id=store_id,
        xks_key_id=xks_key_id,
        multi_region=bool(call.boolean("MultiRegion")),
    )
    metadata = await multi_region_metadata(call, key, key_metadata(key))
    return {"KeyMetadata": await external_key_metadata(call, key, metadata)}


async def describe_key(call: KmsCall) -> dict[str, Any]:
    key = await call.keys.describe_key(call.caller, call.required("KeyId"))
    metadata = await multi_region_metadata(call, key, key_metadata(key))
    generated = await call.keys.generated_material_id(key)
    if generated is not None:
        metadata["CurrentKeyMaterialId"] = generated
    return {"KeyMetadata": await external_key_metadata(call, key, metadata)}


async def list_keys(call: KmsCall) -> dict[str, Any]:
    owners = call.enum_list("ResourceOwners", ("SELF", "OTHER_ACCOUNTS_VIA_RAM"))
    marker = call.string("Marker", max_length=1024)
    if marker is not None and canonical_key_id(key_id_of(marker)) is None:
        raise KmsWireError("InvalidMarkerException")
    keys, next_marker = await call.keys.list_keys(call.caller, limit=call.limit(), marker=marker)
    if owners and "SELF" not in owners:
        # Keys other accounts share through RAM: there is no RAM here, so none, once the
        # caller was found allowed to list keys at all.
        keys, next_marker = [], None
    answer: dict[str, Any] = {
        "Keys": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in keys],
        "Truncated": next_marker is not None,
    }
    if next_marker is not None:
        answer["NextMarker"] = next_marker
    return answer


async def enable_key(call: KmsCall) -> dict[str, Any]:
    await call.keys.enable_key(call.caller, call.required("KeyId"))
    return {}


async def disable_key(call: KmsCall) -> dict[str, Any]:
    await call.keys.disable_key(call.caller, call.required("KeyId"))
    return {}


async def schedule_key_deletion(call: KmsCall) -> dict[str, Any]:
    window = call.integer("PendingWindowInDays", minimum=7, maximum=30)
    key = await call.keys.schedule_key_deletion(call.caller, call.required("KeyId"), window)
    answer = {
        "KeyId": key.arn,
        "DeletionDate": _epoch(key.deletion_date),
        "KeyState": key.state.value,
        "PendingWindowInDays": 30 if window is None else window,
    }
    if key.deletion_date is None:  # a primary key waiting for its replicas (decision 0138)
        del answer["DeletionDate"]
    return answer


async def cancel_key_deletion(call: KmsCall) -> dict[str, Any]:
    key = await call.keys.cancel_key_deletion(call.caller, call.required("KeyId"))
    return {"KeyId": key.arn}


async def update_key_description(call: KmsCall) -> dict[str, Any]:
    description = call.string("Description")
    if description is None:
        raise _invalid("Description", "null", "Member must not be null")
    await call.keys.update_key_description(call.caller, call.required("KeyId"), description)
    return {}


async def tag_resource(call: KmsCall) -> dict[str, Any]:
    await call.keys.tag_resource(call.caller, call.required("KeyId"), call.tags())
    return {}


async def untag_resource(call: KmsCall) -> dict[str, Any]:
    await call.keys.untag_resource(call.caller, call.required("KeyId"), call.strings("TagKeys"))
    return {}


async def list_resource_tags(call: KmsCall) -> dict[str, Any]:
    tags = await call.keys.list_resource_tags(call.caller, call.required("KeyId"))
    return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in tags], "Truncated": False}


# --- rotation ------------------------------------------------------------------------------


async def enable_key_rotation(call: KmsCall) -> dict[str, Any]:
    period = call.integer("RotationPeriodInDays", minimum=90, maximum=2560)
    await call.keys.enable_key_rotation(call.caller, call.required("KeyId"), period)
    return {}


async def disable_key_rotation(call: KmsCall) -> dict[str, Any]:
    await call.keys.disable_key_rotation(call.caller, call.required("KeyId"))
    return {}


async def get_key_rotation_status(call: KmsCall) -> dict[str, Any]:
    key = await call.keys.get_key_rotation_status(call.caller, call.required("KeyId"))
    answer: dict[str, Any] = {"KeyRotationEnabled": key.rotation_enabled, "KeyId": key.arn}
    if key.rotation_enabled:
        answer["RotationPeriodInDays"] = key.rotation_period_days
        answer["NextRotationDate"] = _epoch(key.next_rotation_date)
    return answer


async def rotate_key_on_demand(call: KmsCall) -> dict[str, Any]:
    key = await call.keys.rotate_key_on_demand(call.caller, call.required("KeyId"))
    return {"KeyId": key.key_id}


# --- imported key material ---------------------------------------------------------------------

_IMPORT_TOKEN_MAX_SIZE: Final = 6144  # AWS's CiphertextType
_MATERIAL_ID_LENGTH: Final = 64
_MATERIAL_DESCRIPTION_LENGTH: Final = 256
_MATERIAL_DESCRIPTION: Final = re.compile(r"[a-zA-Z0-9:/_\s.-]+")


async def get_parameters_for_import(call: KmsCall) -> dict[str, Any]:
    algorithm = call.required_enum("WrappingAlgorithm", WRAPPING_ALGORITHMS)
    key_spec = call.required_enum("WrappingKeySpec", WRAPPING_KEY_SPECS)
    made = await call.keys.get_parameters_for_import(
        call.caller, call.required("KeyId"), algorithm, key_spec
    )
    return {
        "KeyId": made.key.arn,
        "ImportToken": b64(made.import_token),
        "PublicKey": b64(made.public_key),
        "ParametersValidTo": _epoch(made.valid_to),
    }


def _material_id(call: KmsCall) -> str | None:
    material_id = call.string("KeyMaterialId", max_length=_MATERIAL_ID_LENGTH)
    if material_id is not None and (
        len(material_id) != _MATERIAL_ID_LENGTH
        or any(c not in "0123456789abcdef" for c in material_id)
    ):
        raise _invalid(
            "KeyMaterialId",
            material_id,
            "Member must satisfy regular expression pattern: ^[a-f0-9]{64}$",
        )
    return material_id


def _material_description(call: KmsCall) -> str | None:
    description = call.string("KeyMaterialDescription", max_length=_MATERIAL_DESCRIPTION_LENGTH)
    if description is not None and not _MATERIAL_DESCRIPTION.fullmatch(description):
        raise _invalid(
            "KeyMaterialDescription",
            description,
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\\s.-]+$",
        )
    return description


async def import_key_material(call: KmsCall) -> dict[str, Any]:
    import_type = call.enum(
        "ImportType", (IMPORT_NEW_KEY_MATERIAL, IMPORT_EXISTING_KEY_MATERIAL), required=False
    )
    description = _material_description(call)
    model = call.enum(
        "ExpirationModel",
        (EXPIRATION_KEY_MATERIAL_EXPIRES, EXPIRATION_KEY_MATERIAL_DOES_NOT_EXPIRE),
        required=False,
    )
    material_id = _material_id(call)
    imported = await call.keys.import_key_material(
        call.caller,
        call.required("KeyId"),
        call.blob("ImportToken", max_size=_IMPORT_TOKEN_MAX_SIZE),
        call.blob("EncryptedKeyMaterial", max_size=MAX_CIPHERTEXT_SIZE),
        expiration_model=model or EXPIRATION_KEY_MATERIAL_EXPIRES,
        valid_to=call.timestamp("ValidTo"),
        expected_material_id=material_id,
        import_type=import_type,
        material_description=description,
    )
    return {"KeyId": imported.key.arn, "KeyMaterialId": imported.material_id}


async def delete_imported_key_material(call: KmsCall) -> dict[str, Any]:
    key_ref = call.required("KeyId")
    material_id = _material_id(call)
    key = await call.keys.delete_imported_key_material(call.caller, key_ref, material_id)
    answer: dict[str, Any] = {"KeyId": key.arn}
    deleted = material_id if material_id is not None else key.key_material_id  # the current
    if deleted is not None:
        answer["KeyMaterialId"] = deleted
    return answer


# --- grants ------------------------------------------------------------------------------------


def _grant_marker(call: KmsCall) -> str | None:
    marker = call.string("Marker", max_length=1024)
    if marker is not None and not is_grant_id(marker):
        raise KmsWireError("InvalidMarkerException")
    return marker


def _grant_entry(call: KmsCall, grant: Grant) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "KeyId": call.keys.grant_key_arn(grant),
        "GrantId": grant.grant_id,
        "CreationDate": _epoch(grant.created_at),
        "GranteePrincipal": grant.grantee,
        "IssuingAccount": f"arn:aws:iam::{principal_account(grant.issuer)}:root",
        "Operations": list(grant.operations),
    }
    if grant.name is not None:
        entry["Name"] = grant.name
    if grant.retiring is not None:
        entry["RetiringPrincipal"] = grant.retiring
    if grant.constraints.subset is not None:
        entry["Constraints"] = {"EncryptionContextSubset": dict(grant.constraints.subset)}
    elif grant.constraints.equals is not None:
        entry["Constraints"] = {"EncryptionContextEquals": dict(grant.constraints.equals)}
    return entry


def _grant_page(call: KmsCall, grants: list[Grant], next_marker: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "Grants": [_grant_entry(call, grant) for grant in grants],
        "Truncated": next_marker is not None,
    }
    if next_marker is not None:
        answer["NextMarker"] = next_marker
    return answer


async def create_grant(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    refuse_service_principals(call, "GranteeServicePrincipal", "RetiringServicePrincipal")
    dry_run = bool(call.boolean("DryRun"))
    raw = call.params.get("Constraints")
    if raw is not None and (
        not isinstance(raw, dict)
        or set(raw) - {"EncryptionContextSubset", "EncryptionContextEquals"}
    ):
        raise KmsWireError(
            "SerializationException",
            "Constraints takes EncryptionContextSubset or EncryptionContextEquals",
        )
    constraints = KmsCall(raw or {}, call.caller, call.keys)
    grant = await call.keys.create_grant(
        call.caller,
        call.required("KeyId"),
        grantee=call.required("GranteePrincipal", max_length=256),
        operations=call.strings("Operations"),
        retiring=call.string("RetiringPrincipal", max_length=256),
        context_subset=(
            constraints.context("EncryptionContextSubset")
            if "EncryptionContextSubset" in constraints.params
            else None
        ),
        context_equals=(
            constraints.context("EncryptionContextEquals")
            if "EncryptionContextEquals" in constraints.params
            else None
        ),
        name=call.string("Name", max_length=256),
        dry_run=dry_run,
    )
    # The token names the grant; it is accepted wherever AWS takes one.
    return {"GrantToken": grant.grant_id, "GrantId": grant.grant_id}


async def list_grants(call: KmsCall) -> dict[str, Any]:
    refuse_service_principals(call, "GranteeServicePrincipal")
    marker = _grant_marker(call)
    _, grants, next_marker = await call.keys.list_grants(
        call.caller,
        call.required("KeyId"),
        limit=call.limit(),
        after=marker,
        grant_id=call.string("GrantId", max_length=128),
        grantee=call.string("GranteePrincipal", max_length=256),
    )
    return _grant_page(call, grants, next_marker)


async def list_retirable_grants(call: KmsCall) -> dict[str, Any]:
    refuse_service_principals(call, "RetiringServicePrincipal")
    marker = _grant_marker(call)
    grants, next_marker = await call.keys.list_retirable_grants(
        call.caller,
        call.required("RetiringPrincipal", max_length=256),
        limit=call.limit(),
        after=marker,
    )
    return _grant_page(call, grants, next_marker)


async def retire_grant(call: KmsCall) -> dict[str, Any]:
    token = call.string("GrantToken", max_length=8192)
    key_ref = call.string("KeyId", max_length=2048)
    grant_id = call.string("GrantId", max_length=128)
    if token is not None:
        if not is_grant_id(token):
            raise KmsWireError("InvalidGrantTokenException")
        if grant_id is not None and grant_id != token:
            raise KmsWireError("InvalidGrantIdException", "GrantId does not match GrantToken")
        grant_id = token
    elif key_ref is None or grant_id is None:
        raise KmsWireError(
            "ValidationException", "RetireGrant takes a GrantToken, or a KeyId and a GrantId"
        )
    await call.keys.retire_grant(
        call.caller, grant_id=grant_id, key_ref=key_ref, dry_run=bool(call.boolean("DryRun"))
    )
    return {}


async def revoke_grant(call: KmsCall) -> dict[str, Any]:
    await call.keys.revoke_grant(
        call.caller,
        call.required("KeyId"),
        call.required("GrantId", max_length=128),
        dry_run=bool(call.boolean("DryRun")),
    )
    return {}


async def list_key_rotations(call: KmsCall) -> dict[str, Any]:
    included = call.enum(
        "IncludeKeyMaterial", ("ALL_KEY_MATERIAL", "ROTATIONS_ONLY"), required=False
    )
    marker = call.string("Marker", max_length=1024)
    # Markers are the decimal rotation ids (or ring versions) this service gave out.
    if marker is not None and not (marker.isascii() and marker.isdigit() and len(marker) <= 18):
        raise KmsWireError("InvalidMarkerException")
    entries, last = await call.keys.list_key_rotations(
        call.caller,
        call.required("KeyId"),
        limit=call.limit(),
        after=None if marker is None else int(marker),
        all_material=included == "ALL_KEY_MATERIAL",
    )
    answer: dict[str, Any] = {
        "Rotations": [_rotation_entry(entry) for entry in entries],
        "Truncated": last is not None,
    }
    if last is not None:
        answer["NextMarker"] = str(last)
    return answer


def _rotation_entry(entry: RotationEntry) -> dict[str, Any]:
    line: dict[str, Any] = {
        "KeyId": entry.key_id,
        "KeyMaterialId": entry.material_id,
        "KeyMaterialState": entry.material_state.value,
    }
    if entry.rotated_at is not None and entry.rotation_type is not None:
        line["RotationDate"] = _epoch(entry.rotated_at)
        line["RotationType"] = entry.rotation_type.value
    material = entry.material
    if material is not None:  # imported material: its import's terms
        line["ImportState"] = "IMPORTED" if material.imported else "PENDING_IMPORT"
        if material.description is not None:
            line["KeyMaterialDescription"] = material.description
        if material.imported and material.expiration_model is not None:
            line["ExpirationModel"] = material.expiration_model
        if material.imported and material.valid_to is not None:
            line["ValidTo"] = _epoch(material.valid_to)
    return line


# --- aliases -----------------------------------------------------------------------------------


async def create_alias(call: KmsCall) -> dict[str, Any]:
    await call.keys.create_alias(
        call.caller, call.required("AliasName", max_length=256), call.required("TargetKeyId")
    )
    return {}


async def update_alias(call: KmsCall) -> dict[str, Any]:
    await call.keys.update_alias(
        call.caller, call.required("AliasName", max_length=256), call.required("TargetKeyId")
    )
    return {}


async def delete_alias(call: KmsCall) -> dict[str, Any]:
    await call.keys.delete_alias(call.caller, call.required("AliasName", max_length=256))
    return {}


def _alias_entry(call: KmsCall, alias: Alias) -> dict[str, Any]:
    return {
        "AliasName": alias.name,
        "AliasArn": call.keys.alias_arn(alias),
        "TargetKeyId": key_id_of(alias.key_id),
        "CreationDate": _epoch(alias.created_at),
        "LastUpdatedDate": _epoch(alias.updated_at),
    }


async def list_aliases(call: KmsCall) -> dict[str, Any]:
    marker = call.string("Marker", max_length=1024)
    if marker is not None and not marker.startswith("alias/"):
        raise KmsWireError("InvalidMarkerException")
    aliases, next_marker = await call.keys.list_aliases(
        call.caller, key_ref=call.string("KeyId"), limit=call.limit(), marker=marker
    )
    answer: dict[str, Any] = {
        "Aliases": [_alias_entry(call, a) for a in aliases],
        "Truncated": next_marker is not None,
    }
    if next_marker is not None:
        answer["NextMarker"] = next_marker
    return answer


# --- key policy ----------------------------------------------------------------------------


async def get_key_policy(call: KmsCall) -> dict[str, Any]:
    name = call.string("PolicyName") or "default"
    policy = await call.keys.get_key_policy(call.caller, call.required("KeyId"), name)
    return {"Policy": policy, "PolicyName": name}


async def put_key_policy(call: KmsCall) -> dict[str, Any]:
    await call.keys.put_key_policy(
        call.caller,
        call.required("KeyId"),
        call.string("PolicyName") or "default",
        call.required("Policy", max_length=32 * 1024),
        bypass_lockout_check=bool(call.boolean("BypassPolicyLockoutSafetyCheck")),
    )
    return {}


async def list_key_policies(call: KmsCall) -> dict[str, Any]:
    await call.keys.get_key_policy(call.caller, call.required("KeyId"), "default")
    return {"PolicyNames": ["default"], "Truncated": False}


ACTIONS: Final[Mapping[str, Handler]] = {
    **CRYPTO_ACTIONS,
    **CUSTOM_KEY_STORE_ACTIONS,
    **multi_region_actions(key_metadata),
    "CancelKeyDeletion": cancel_key_deletion,
    "CreateAlias": create_alias,
    "CreateGrant": create_grant,
    "CreateKey": create_key,
    "DeleteAlias": delete_alias,
    "DeleteImportedKeyMaterial": delete_imported_key_material,
    "DescribeKey": describe_key,
    "DisableKey": disable_key,
    "DisableKeyRotation": disable_key_rotation,
    "EnableKey": enable_key,
    "EnableKeyRotation": enable_key_rotation,
    "GetKeyPolicy": get_key_policy,
    "GetKeyRotationStatus": get_key_rotation_status,
    "GetParametersForImport": get_parameters_for_import,
    "ImportKeyMaterial": import_key_material,
    "ListAliases": list_aliases,
    "ListGrants": list_grants,
    "ListKeyPolicies": list_key_policies,
    "ListKeyRotations": list_key_rotations,
    "ListKeys": list_keys,
    "ListResourceTags": list_resource_tags,
    "ListRetirableGrants": list_retirable_grants,
    "PutKeyPolicy": put_key_policy,
    "RetireGrant": retire_grant,
    "RevokeGrant": revoke_grant,
    "RotateKeyOnDemand": rotate_key_on_demand,
    "ScheduleKeyDeletion": schedule_key_deletion,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateAlias": update_alias,
    "UpdateKeyDescription": update_key_description,
}
