"""The six custom key store actions of the KMS JSON API (decision 0090), over
``CustomKeyStoreService``, and what KeyMetadata says of a key in an external key store.

Parameters are checked for their JSON shape here, for AWS's rules by the service; secrets
(the proxy's RawSecretAccessKey, a CloudHSM KeyStorePassword) are never echoed in a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.kms.custom_key_stores import CustomKeyStoreService, StoreChanges, StoreDefinition
from andromede.kms.keys_model import CustomerKey, KeyState
from andromede.kms.xks_model import (
    CONNECTIVITY_PUBLIC_ENDPOINT,
    STORE_TYPE_CLOUDHSM,
    STORE_TYPE_EXTERNAL,
    ConnectionState,
    CustomKeyStore,
    is_store_id,
)
from andromede.kmsapi.call import KmsCall
from andromede.kmsapi.errors import KmsWireError

if False:
    pass

__all__ = ["CUSTOM_KEY_STORE_ACTIONS", "external_key_metadata"]

_STORE_TYPES: Final = (STORE_TYPE_CLOUDHSM, STORE_TYPE_EXTERNAL)
_CONNECTIVITY: Final = (CONNECTIVITY_PUBLIC_ENDPOINT, "VPC_ENDPOINT_SERVICE")


def _service(call: KmsCall) -> CustomKeyStoreService:
    stores = call.keys.external_stores
    if stores is None:
        raise KmsWireError("UnsupportedOperationException", "Custom key stores are not offered")
    return stores


def _store_id(call: KmsCall) -> str:
    store_id = call.required("CustomKeyStoreId", max_length=64)
    if not is_store_id(store_id):
        # AWS answers an id of the wrong form as one it cannot find.
        raise KmsWireError(
            "CustomKeyStoreNotFoundException", f"Custom key store {store_id} does not exist"
        )
    return store_id


def _credential(call: KmsCall) -> tuple[str | None, str | None]:
    raw = call.params.get("XksProxyAuthenticationCredential")
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or set(raw) - {"AccessKeyId", "RawSecretAccessKey"}:
        raise KmsWireError(
            "SerializationException",
            "XksProxyAuthenticationCredential takes AccessKeyId and RawSecretAccessKey",
        )
    access_key_id, secret = raw.get("AccessKeyId"), raw.get("RawSecretAccessKey")
    if not isinstance(access_key_id, str) or not isinstance(secret, str):
        raise KmsWireError(
            "ValidationException",
            "XksProxyAuthenticationCredential needs both AccessKeyId and RawSecretAccessKey",
        )
    return access_key_id, secret


def _cloudhsm_parameters(call: KmsCall) -> str | None:
    """AWS_CLOUDHSM's parameters: the cluster id, or None when none of them is given (the
    password is only checked for its type: it is never echoed)."""
    cluster = call.string("CloudHsmClusterId", max_length=24)
    call.string("TrustAnchorCertificate", max_length=5000)
    password = call.params.get("KeyStorePassword")
    if password is not None and not isinstance(password, str):
        raise KmsWireError("SerializationException", "KeyStorePassword must be a string")
    if cluster is None and (
        password is not None or call.params.get("TrustAnchorCertificate") is not None
    ):
        return ""
    return cluster


def _vpc_parameters(call: KmsCall) -> str | None:
    service = call.string("XksProxyVpcEndpointServiceName", max_length=64)
    call.string("XksProxyVpcEndpointServiceOwner", max_length=12)
    return service


async def create_custom_key_store(call: KmsCall) -> dict[str, Any]:
    access_key_id, secret = _credential(call)
    definition = StoreDefinition(
        name=call.required("CustomKeyStoreName", max_length=256),
        store_type=call.enum("CustomKeyStoreType", _STORE_TYPES, required=False)
        or STORE_TYPE_CLOUDHSM,
        endpoint=call.string("XksProxyUriEndpoint", max_length=128),
        uri_path=call.string("XksProxyUriPath", max_length=128),
        access_key_id=access_key_id,
        secret=secret,
        connectivity=call.enum("XksProxyConnectivity", _CONNECTIVITY, required=False),
        vpc_endpoint_service=_vpc_parameters(call),
        cloudhsm_cluster_id=_cloudhsm_parameters(call),
    )
    store = await _service(call).create(call.caller, definition)
    return {"CustomKeyStoreId": store.store_id}


def _entry(store: CustomKeyStore) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "CustomKeyStoreId": store.store_id,
        "CustomKeyStoreName": store.name,
        "ConnectionState": store.state.value,
        "CreationDate": store.created_at.timestamp(),
        "CustomKeyStoreType": store.store_type,
        "XksProxyConfiguration": {
            "Connectivity": store.connectivity,
            "AccessKeyId": store.access_key_id,
            "UriEndpoint": store.endpoint,
            "UriPath": store.uri_path,
        },
    }
    if store.state is ConnectionState.FAILED and store.error_code is not None:
        entry["ConnectionErrorCode"] = store.error_code.value
    return entry


async def describe_custom_key_stores(call: KmsCall) -> dict[str, Any]:
    store_id = call.string("CustomKeyStoreId", max_length=64)
    name = call.string("CustomKeyStoreName", max_length=256)
    if store_id is not None and not is_store_id(store_id):
        raise KmsWireError(
            "CustomKeyStoreNotFoundException", f"Custom key store {store_id} does not exist"
        )
    marker = call.string("Marker", max_length=1024)
    if marker is not None and not is_store_id(marker):
        raise KmsWireError("InvalidMarkerException")
    stores, next_marker = await _service(call).describe(
        call.caller, store_id=store_id, name=name, after=marker, limit=call.limit()
    )
    answer: dict[str, Any] = {
        "CustomKeyStores": [_entry(store) for store in stores],
        "Truncated": next_marker is not None,
    }
    if next_marker is not None:
        answer["NextMarker"] = next_marker
    return answer


async def update_custom_key_store(call: KmsCall) -> dict[str, Any]:
    store_id = _store_id(call)
    access_key_id, secret = _credential(call)
    cloudhsm = _cloudhsm_parameters(call) is not None or call.params.get("KeyStorePassword")
    changes = StoreChanges(
        name=call.string("NewCustomKeyStoreName", max_length=256),
        endpoint=call.string("XksProxyUriEndpoint", max_length=128),
        uri_path=call.string("XksProxyUriPath", max_length=128),
        access_key_id=access_key_id,
        secret=secret,
        connectivity=call.enum("XksProxyConnectivity", _CONNECTIVITY, required=False),
        vpc_endpoint_service=_vpc_parameters(call),
        cloudhsm=bool(cloudhsm),
    )
    await _service(call).update(call.caller, store_id, changes)
    return {}


async def connect_custom_key_store(call: KmsCall) -> dict[str, Any]:
    await _service(call).connect(call.caller, _store_id(call))
    return {}


async def disconnect_custom_key_store(call: KmsCall) -> dict[str, Any]:
    await _service(call).disconnect(call.caller, _store_id(call))
    return {}


async def delete_custom_key_store(call: KmsCall) -> dict[str, Any]:
    await _service(call).delete(call.caller, _store_id(call))
    return {}


async def external_key_metadata(
    call: KmsCall, key: CustomerKey, metadata: dict[str, Any]
) -> dict[str, Any]:
    """KeyMetadata of a key in an external key store: its store and external key, and the
    state Unavailable while the store is not connected (AWS's, unless pending deletion)."""
    if not key.in_external_key_store:
        return metadata
    metadata["CustomKeyStoreId"] = key.custom_key_store_id
    metadata["XksKeyConfiguration"] = {"Id": key.xks_key_id}
    stores = call.keys.external_stores
    store = None if stores is None else await stores.store_of(key)
    if (store is None or not store.connected) and key.state in (
        KeyState.ENABLED,
        KeyState.DISABLED,
    ):
        metadata["KeyState"] = "Unavailable"
        metadata["Enabled"] = False
    return metadata


Handler = Callable[[KmsCall], Awaitable[dict[str, Any]]]

CUSTOM_KEY_STORE_ACTIONS: Final[Mapping[str, Handler]] = {
    "ConnectCustomKeyStore": connect_custom_key_store,
    "CreateCustomKeyStore": create_custom_key_store,
    "DeleteCustomKeyStore": delete_custom_key_store,
    "DescribeCustomKeyStores": describe_custom_key_stores,
    "DisconnectCustomKeyStore": disconnect_custom_key_store,
    "UpdateCustomKeyStore": update_custom_key_store,
}
