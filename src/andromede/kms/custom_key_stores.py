"""CustomKeyStoreService: KMS external key stores (decision 0090) — the six custom key store
actions, and the external layer of the keys in them, which ``CustomerKeyService`` calls.

A store names a customer's XKS proxy and the SigV4 credential KMS signs with; the secret is
sealed (``SecretBox``: the composition root hands in the same sealing as IAM's access-key
secrets) and opened only for the length of a proxy call. Stores are per account; another
account's store is reported as not found. The actions are IAM-policy-only, as on AWS (no key
policy): the injected :class:`KeyAuthoriser` decides them on ``*``.

Create, Update (when the proxy's address or credential changes) and Connect ask the proxy's
GetHealthStatus first. Connect is synchronous: the store is CONNECTED, or FAILED with AWS's
ConnectionErrorCode. Update is allowed while connected only for the name, the URI path and the
credential (AWS's table of editable properties); the endpoint and connectivity need DISCONNECTED.
Delete needs DISCONNECTED and no key left in the store.

A key in a store is used through :meth:`wrap` and :meth:`unwrap`: the proxy's Encrypt and
Decrypt of the data key's internally sealed form under the external key (KMS ciphertext blobs);
:meth:`wrap_data_key` and :meth:`unwrap_data_key` do the same for the data keys of S3 objects
and EBS volumes, under their own AAD (decision 0094). Each failure becomes
the error the calling KMS operation answers on AWS — the tables of the XKS proxy API spec,
"KMS Considerations" of its error codes — with one deliberate difference: a ciphertext or
encryption context the proxy finds corrupted is InvalidCiphertextException, as for every other
KMS key, not KMSInvalidStateException (the decision says why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final, Protocol

from andromede.kms.ciphertext import ExternalLayer, external_aad
from andromede.kms.customer_keys import Caller, KeyAuthoriser
from andromede.kms.external_keys import data_key_aad
from andromede.kms.keys_errors import CmkAccessDenied, CmkInvalidState, InvalidCiphertext
from andromede.kms.keys_model import CustomerKey
from andromede.kms.keys_store import CustomerKeyStore
from andromede.kms.xks_client import (
    XksCiphertext,
    XksClient,
    XksEndpoint,
    XksFailure,
    XksProxyFailure,
    XksRequestMetadata,
)
from andromede.kms.xks_errors import (
    CloudHsmClusterNotFound,
    CustomKeyStoreError,
    CustomKeyStoreHasKeys,
    CustomKeyStoreInvalidState,
    CustomKeyStoreNameInUse,
    CustomKeyStoreNotFound,
    InvalidCustomKeyStoreParameter,
    XksKeyInvalidConfiguration,
    XksKeyNotFound,
    XksProxyIncorrectAuthenticationCredential,
    XksProxyInvalidConfiguration,
    XksProxyInvalidResponse,
    XksProxyUriUnreachable,
    XksProxyVpcEndpointServiceNotFound,
)
from andromede.kms.xks_model import (
    CONNECTIVITY_PUBLIC_ENDPOINT,
    CONNECTIVITY_VPC_ENDPOINT_SERVICE,
    MAX_STORES_PER_ACCOUNT,
    STORE_TYPE_CLOUDHSM,
    STORE_TYPE_EXTERNAL,
    ConnectionErrorCode,
    ConnectionEvent,
    ConnectionState,
    CustomKeyStore,
    check_access_key_id,
    check_endpoint,
    check_secret,
    check_store_name,
    check_uri_path,
    check_xks_key_id,
    new_store_id,
)
from andromede.kms.xks_store import CustomKeyStoreStore

__all__ = ["CustomKeyStoreService", "SecretBox", "StoreChanges", "StoreDefinition"]

_CHANGE_ATTEMPTS: Final = 5
_F = XksFailure

# The spec's KMS exception messages, by what failed.
_MESSAGES: Final[dict[XksFailure, str]] = {
    _F.VALIDATION: "AWS KMS cannot interpret the response from the external key store proxy. "
    "If you see this error repeatedly, report it to your external key store proxy "
    "administrator.",
    _F.MALFORMED: "AWS KMS cannot interpret the response from the external key store proxy. "
    "If you see this error repeatedly, report it to your external key store proxy "
    "administrator.",
    _F.INVALID_STATE: "The external key associated with this KMS key in an external key store "
    "is not enabled in the external key manager. Enable the external key in the external key "
    "manager and retry the request.",
    _F.INVALID_CIPHERTEXT: "The external key store proxy rejected the request because the "
    "specified ciphertext or encryption context is corrupted, missing, or otherwise invalid.",
    _F.BAD_PLAINTEXT: "The ciphertext that the external key store proxy submitted for "
    "decryption, or the encryption context, is corrupted, missing, or otherwise invalid.",
    _F.INVALID_KEY_USAGE: "The external key associated with this KMS key in an external key "
    "store does not support the requested operation. Enable the operation on the key in your "
    "external key manager, and try the request again.",
    _F.AUTHENTICATION_FAILED: "The external key store proxy rejected the request because it "
    "could not authenticate AWS KMS. Verify the XKS proxy authentication credentials for your "
    "external key store and update if necessary.",
    _F.ACCESS_DENIED: "The external key store proxy denied access to the operation. Verify "
    "that the user and the external key are both authorized for this operation, and try the "
    "request again.",
    _F.KEY_NOT_FOUND: "The external key associated with this KMS key in an external key store "
    "was not found in its external key manager. If the external key ID associated with this "
    "KMS key is incorrect, create a new KMS key with the correct external key ID.",
    _F.INVALID_URI_PATH: "The external key store proxy rejected the request because of an "
    "invalid URI path. Verify the URI path for your external key store and update if "
    "necessary.",
    _F.UNSUPPORTED_OPERATION: "The external key store proxy rejected the request because it "
    "does not support the requested operation. If you see this error repeatedly, report it to "
    "your external key store proxy administrator.",
    _F.DEPENDENCY_TIMEOUT: "The external key store proxy did not respond to the request in the "
    "time allotted. Retry the request. If you see this error repeatedly, report it to your "
    "external key store proxy administrator.",
    _F.THROTTLING: "The external key store proxy rejected the request due to a very high "
    "request rate. Reduce the frequency of your calls using KMS keys in this external key "
    "store.",
    _F.INTERNAL: "The external key store proxy rejected the request because it cannot "
    "communicate with the external key manager. Verify that the external key store proxy "
    "configuration is correct and that the external key manager is available.",
    _F.UNAVAILABLE: "The external key store proxy rejected the request because it cannot "
    "communicate with the external key manager. Verify that the external key store proxy "
    "configuration is correct and that the external key manager is available.",
    _F.UNREACHABLE: "AWS KMS cannot communicate with the external key store proxy. This might "
    "be a transient network issue. If you see this error repeatedly, verify that your external "
    "key store proxy is active and is connected to the network, and that its endpoint URI is "
    "correct in your external keystore.",
    _F.REFUSED_ADDRESS: "AWS KMS cannot communicate with the external key store proxy: its "
    "endpoint is on a network this KMS may not reach (an internal address; the operator's "
    "setting xks_allowed_networks).",
    _F.TLS: "AWS KMS cannot establish a TLS connection to the external key store proxy. Verify "
    "the TLS configuration, including its certificate.",
    _F.TIMEOUT: "AWS KMS rejected the request because the external key store proxy did not "
    "respond in time. Retry the request. If you see this error repeatedly, report it to your "
    "external key store proxy administrator.",
}
_NOT_CONNECTED: Final = (
    "This KMS key is in a custom key store that is not connected to its external key store "
    "proxy. Connect the external key store and try the request again."
)
# Create/UpdateCustomKeyStore: which exception each failure is.
_MANAGEMENT: Final[dict[XksFailure, type[CustomKeyStoreError]]] = {
    _F.AUTHENTICATION_FAILED: XksProxyIncorrectAuthenticationCredential,
    _F.INVALID_URI_PATH: XksProxyInvalidConfiguration,
    _F.DEPENDENCY_TIMEOUT: XksProxyUriUnreachable,
    _F.THROTTLING: XksProxyUriUnreachable,
    _F.UNREACHABLE: XksProxyUriUnreachable,
    _F.REFUSED_ADDRESS: XksProxyUriUnreachable,
    _F.TLS: XksProxyUriUnreachable,
    _F.TIMEOUT: XksProxyUriUnreachable,
    _F.UNAVAILABLE: XksProxyUriUnreachable,
}
# ConnectCustomKeyStore: the ConnectionErrorCode of each failure.
_CONNECTION: Final[dict[XksFailure, ConnectionErrorCode]] = {
    _F.AUTHENTICATION_FAILED: ConnectionErrorCode.INVALID_CREDENTIALS,
    _F.ACCESS_DENIED: ConnectionErrorCode.XKS_PROXY_ACCESS_DENIED,
    _F.INVALID_URI_PATH: ConnectionErrorCode.XKS_PROXY_INVALID_CONFIGURATION,
    _F.TIMEOUT: ConnectionErrorCode.XKS_PROXY_TIMED_OUT,
    _F.TLS: ConnectionErrorCode.XKS_PROXY_INVALID_TLS_CONFIGURATION,
    _F.UNREACHABLE: ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE,
    _F.REFUSED_ADDRESS: ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE,
    _F.UNAVAILABLE: ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE,
    _F.DEPENDENCY_TIMEOUT: ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE,
    _F.THROTTLING: ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE,
}


class SecretBox(Protocol):
    """Sealing at rest of a secret, bound to a label (IAM's ``SecretSealer`` has this shape)."""

    def seal(self, access_key_id: str, secret: str) -> str: ...

    def unseal(self, access_key_id: str, sealed: str) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreDefinition:
    """CreateCustomKeyStore's parameters, as the wire gives them (each checked here). The
    proxy's secret stays out of the repr."""

    name: str
    store_type: str = STORE_TYPE_CLOUDHSM
    endpoint: str | None = None
    uri_path: str | None = None
    access_key_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    connectivity: str | None = None
    vpc_endpoint_service: str | None = None
    cloudhsm_cluster_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreChanges:
    """UpdateCustomKeyStore's parameters (None: unchanged). The new secret stays out of the
    repr."""

    name: str | None = None
    endpoint: str | None = None
    uri_path: str | None = None
    access_key_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    connectivity: str | None = None
    vpc_endpoint_service: str | None = None
    cloudhsm: bool = False

    @property
    def credential(self) -> bool:
        return self.access_key_id is not None or self.secret is not None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CustomKeyStoreService:
    def __init__(
        self,
        stores: CustomKeyStoreStore,
        keys: CustomerKeyStore,
        authoriser: KeyAuthoriser,
        client: XksClient,
        secrets: SecretBox,
        *,
        clock: Callable[[], datetime] = _utc_now,
        max_stores: int = MAX_STORES_PER_ACCOUNT,
    ) -> None:
        self._stores = stores
        self._keys = keys
        self._authoriser = authoriser
        self._client = client
        self._secrets = secrets
        self._clock = clock
        self._max_stores = max_stores

    async def aclose(self) -> None:
        """Close the connections kept to the proxies (at shutdown)."""
        await self._client.aclose()

    # --- the six actions ------------------------------------------------------------------

    async def create(self, caller: Caller, definition: StoreDefinition) -> CustomKeyStore:
        await self._allow(caller, "kms:CreateCustomKeyStore")
        check_store_name(definition.name)
        _refuse_unoffered(
            definition.store_type,
            definition.connectivity,
            definition.vpc_endpoint_service,
            definition.cloudhsm_cluster_id,
        )
        missing = [
            name
            for name, value in (
                ("XksProxyUriEndpoint", definition.endpoint),
                ("XksProxyUriPath", definition.uri_path),
                (
                    "XksProxyAuthenticationCredential",
                    definition.secret and definition.access_key_id,
                ),
                ("XksProxyConnectivity", definition.connectivity),
            )
            if value is None
        ]
        if missing:
            raise InvalidCustomKeyStoreParameter(
                f"An external key store needs {', '.join(missing)}"
            )
        assert definition.endpoint is not None and definition.uri_path is not None  # noqa: S101
        assert definition.access_key_id is not None and definition.secret is not None  # noqa: S101
        if await self._stores.find_store(caller.account_id, definition.name) is not None:
            raise CustomKeyStoreNameInUse(f"A custom key store named {definition.name} exists")
        store_id = new_store_id()
        access_key_id = check_access_key_id(definition.access_key_id)
        secret = check_secret(definition.secret)
        store = CustomKeyStore(
            store_id=store_id,
            tenant_id=caller.account_id,
            name=definition.name,
            created_at=self._clock(),
            endpoint=check_endpoint(definition.endpoint),
            uri_path=check_uri_path(definition.uri_path),
            access_key_id=access_key_id,
            sealed_secret=self._seal(store_id, access_key_id, secret),
        )
        await self._check_health(caller, store, "CreateCustomKeyStore")
        await self._stores.insert_store(store, limit=self._max_stores)
        return store

    async def describe(
        self,
        caller: Caller,
        *,
        store_id: str | None,
        name: str | None,
        after: str | None,
        limit: int,
    ) -> tuple[list[CustomKeyStore], str | None]:
        await self._allow(caller, "kms:DescribeCustomKeyStores")
        if store_id is not None and name is not None:
            raise InvalidCustomKeyStoreParameter(
                "Specify either CustomKeyStoreId or CustomKeyStoreName, not both"
            )
        if store_id is not None:
            return [await self._own(caller, store_id)], None
        if name is not None:
            found = await self._stores.find_store(caller.account_id, name)
            if found is None:
                raise CustomKeyStoreNotFound(f"Custom key store {name} does not exist")
            return [found], None
        stores = await self._stores.list_stores(caller.account_id, after=after, limit=limit + 1)
        more = len(stores) > limit
        stores = stores[:limit]
        return stores, stores[-1].store_id if more else None

    async def update(self, caller: Caller, store_id: str, changes: StoreChanges) -> CustomKeyStore:
        await self._allow(caller, "kms:UpdateCustomKeyStore")
        if changes.cloudhsm:
            raise InvalidCustomKeyStoreParameter(
                "KeyStorePassword and CloudHsmClusterId apply to AWS CloudHSM key stores only"
            )
        if changes.name is not None:
            check_store_name(changes.name, "NewCustomKeyStoreName")
        if changes.connectivity is not None or changes.vpc_endpoint_service is not None:
            _refuse_unoffered(
                STORE_TYPE_EXTERNAL,
                changes.connectivity or CONNECTIVITY_PUBLIC_ENDPOINT,
                changes.vpc_endpoint_service,
                None,
            )
        if changes.credential and (changes.access_key_id is None or changes.secret is None):
            raise InvalidCustomKeyStoreParameter(
                "XksProxyAuthenticationCredential needs both AccessKeyId and RawSecretAccessKey"
            )
        for _ in range(_CHANGE_ATTEMPTS):
            store = await self._own(caller, store_id)
            changed = self._changed(store, changes)
            if changed == store:
                return store
            if (
                changed.endpoint != store.endpoint or changed.connectivity != store.connectivity
            ) and store.state is not ConnectionState.DISCONNECTED:
                raise CustomKeyStoreInvalidState(
                    "To change the XksProxyUriEndpoint or XksProxyConnectivity of an external "
                    f"key store, disconnect it first: it is {store.state.value}."
                )
            if (changed.endpoint, changed.uri_path, changed.sealed_secret) != (
                store.endpoint,
                store.uri_path,
                store.sealed_secret,
            ):
                await self._check_health(caller, changed, "UpdateCustomKeyStore")
            if await self._stores.replace_store(changed):
                return replace(changed, revision=changed.revision + 1)
        raise CustomKeyStoreInvalidState("The custom key store is being changed; try again")

    def _changed(self, store: CustomKeyStore, changes: StoreChanges) -> CustomKeyStore:
        changed = store
        if changes.name is not None:
            changed = replace(changed, name=changes.name)
        if changes.endpoint is not None:
            changed = replace(changed, endpoint=check_endpoint(changes.endpoint))
        if changes.uri_path is not None:
            changed = replace(changed, uri_path=check_uri_path(changes.uri_path))
        if changes.access_key_id is not None and changes.secret is not None:
            access_key_id = check_access_key_id(changes.access_key_id)
            secret = check_secret(changes.secret)
            if access_key_id != store.access_key_id or secret != self._secret_of(store):
                changed = replace(
                    changed,
                    access_key_id=access_key_id,
                    sealed_secret=self._seal(store.store_id, access_key_id, secret),
                )
        return changed

    async def connect(self, caller: Caller, store_id: str) -> CustomKeyStore:
        await self._allow(caller, "kms:ConnectCustomKeyStore")
        store = await self._own(caller, store_id)
        if store.state is ConnectionState.CONNECTED:
            return store
        if store.state in (ConnectionState.FAILED, ConnectionState.DISCONNECTING):
            raise CustomKeyStoreInvalidState(
                f"The custom key store is {store.state.value}: disconnect it "
                "(DisconnectCustomKeyStore), then connect it again."
            )
        try:
            await self._client.health(
                self._endpoint(store), self._metadata(caller, "ConnectCustomKeyStore")
            )
        except XksProxyFailure as exc:
            code = _CONNECTION.get(exc.failure, ConnectionErrorCode.XKS_PROXY_INVALID_RESPONSE)
            moved = store.moved(ConnectionEvent.CONNECT_FAILED, code)
        else:
            moved = store.moved(ConnectionEvent.CONNECTED)
        # ConnectCustomKeyStore succeeds either way, as on AWS: the outcome is the state.
        if not await self._stores.replace_store(moved):
            raise CustomKeyStoreInvalidState("The custom key store is being changed; try again")
        return replace(moved, revision=moved.revision + 1)

    async def disconnect(self, caller: Caller, store_id: str) -> CustomKeyStore:
        await self._allow(caller, "kms:DisconnectCustomKeyStore")
        for _ in range(_CHANGE_ATTEMPTS):
            store = await self._own(caller, store_id)
            moved = store.moved(ConnectionEvent.DISCONNECT)
            if await self._stores.replace_store(moved):
                return replace(moved, revision=moved.revision + 1)
        raise CustomKeyStoreInvalidState("The custom key store is being changed; try again")

    async def delete(self, caller: Caller, store_id: str) -> None:
        await self._allow(caller, "kms:DeleteCustomKeyStore")
        store = await self._own(caller, store_id)
        if store.state is not ConnectionState.DISCONNECTED:
            raise CustomKeyStoreInvalidState(
                f"The custom key store is {store.state.value}: disconnect it before deleting it."
            )
        held = await self._keys.keys_in_store(store.store_id)
        if held:
            raise CustomKeyStoreHasKeys(
                f"The custom key store still holds {held} KMS keys: delete them first "
                "(ScheduleKeyDeletion, and wait for the end of their waiting period)."
            )
        await self._stores.delete_store(caller.account_id, store.store_id)

    # --- keys in a store ------------------------------------------------------------------

    async def check_external_key(
        self, caller: Caller, store_id: str, xks_key_id: str
    ) -> CustomKeyStore:
        """CreateKey's checks: the store is the caller's and CONNECTED, and the proxy's
        GetKeyMetadata says the external key is an enabled AES-256 encrypt/decrypt key."""
        check_xks_key_id(xks_key_id)
        store = await self._stores.get_store(caller.account_id, store_id)
        if store is None:
            raise CustomKeyStoreNotFound(f"Custom key store {store_id} does not exist")
        if not store.connected:
            raise CustomKeyStoreInvalidState(_NOT_CONNECTED)
        try:
            found = await self._client.key_metadata(
                self._endpoint(store), xks_key_id, self._metadata(caller, "CreateKey")
            )
        except XksProxyFailure as exc:
            message = _MESSAGES.get(exc.failure, _MESSAGES[_F.MALFORMED])
            if exc.failure is _F.KEY_NOT_FOUND:
                raise XksKeyNotFound(message) from None
            if exc.failure in (_F.INVALID_STATE, _F.INVALID_KEY_USAGE):
                raise XksKeyInvalidConfiguration(message) from None
            if exc.failure is _F.ACCESS_DENIED:
                raise CmkInvalidState(message) from None
            raise CustomKeyStoreInvalidState(message) from None
        if (
            found.key_spec != "AES_256"
            or not {"ENCRYPT", "DECRYPT"} <= set(found.key_usage)
            or found.key_status != "ENABLED"
        ):
            raise XksKeyInvalidConfiguration(
                "The external key must be an enabled AES_256 key that can ENCRYPT and DECRYPT: "
                f"the proxy reports {found.key_spec[:32]}, {', '.join(found.key_usage)[:128]}, "
                f"{found.key_status}"
            )
        return store

    async def store_of(self, key: CustomerKey) -> CustomKeyStore | None:
        if key.custom_key_store_id is None:
            return None
        return await self._stores.get_store(key.tenant_id, key.custom_key_store_id)

    async def wrap(
        self,
        caller: Caller | None,
        key: CustomerKey,
        kek_version: int,
        sealed_key: bytes,
        context: Mapping[str, str],
    ) -> ExternalLayer:
        """The proxy's Encrypt of ``sealed_key`` (the data key sealed under the key's ring)."""
        store = await self._usable_store(key)
        assert key.xks_key_id is not None  # noqa: S101 (a key in a store has one)
        try:
            sealed = await self._client.encrypt(
                self._endpoint(store),
                key.xks_key_id,
                self._metadata(caller, None, key),
                sealed_key,
                external_aad(key.key_id, kek_version, context),
            )
        except XksProxyFailure as exc:
            raise _crypto_error(exc.failure) from None
        return ExternalLayer(sealed.iv, sealed.tag, sealed.metadata, sealed.ciphertext)

    async def unwrap(
        self,
        caller: Caller | None,
        key: CustomerKey,
        kek_version: int,
        layer: ExternalLayer,
        context: Mapping[str, str],
    ) -> bytes:
        """The sealed data key inside ``layer``, from the proxy's Decrypt."""
        store = await self._usable_store(key)
        assert key.xks_key_id is not None  # noqa: S101 (a key in a store has one)
        try:
            return await self._client.decrypt(
                self._endpoint(store),
                key.xks_key_id,
                self._metadata(caller, None, key),
                XksCiphertext(layer.ciphertext, layer.iv, layer.tag, layer.metadata),
                external_aad(key.key_id, kek_version, context),
            )
        except XksProxyFailure as exc:
            raise _crypto_error(exc.failure) from None

    async def wrap_data_key(
        self,
        key: CustomerKey,
        kek_version: int,
        sealed_key: bytes,
        bound_context: bytes,
        metadata: XksRequestMetadata,
    ) -> ExternalLayer:
        """The proxy's Encrypt of a data key's inner form for S3 or EBS (decision 0094), under
        the data-key AAD (``external_keys.data_key_aad``)."""
        store = await self._usable_store(key)
        assert key.xks_key_id is not None  # noqa: S101 (a key in a store has one)
        try:
            sealed = await self._client.encrypt(
                self._endpoint(store),
                key.xks_key_id,
                metadata,
                sealed_key,
                data_key_aad(key.key_id, kek_version, bound_context),
            )
        except XksProxyFailure as exc:
            raise _crypto_error(exc.failure) from None
        return ExternalLayer(sealed.iv, sealed.tag, sealed.metadata, sealed.ciphertext)

    async def unwrap_data_key(
        self,
        key: CustomerKey,
        kek_version: int,
        layer: ExternalLayer,
        bound_context: bytes,
        metadata: XksRequestMetadata,
    ) -> bytes:
        """The inner form inside a two-layer data key, from the proxy's Decrypt."""
        store = await self._usable_store(key)
        assert key.xks_key_id is not None  # noqa: S101 (a key in a store has one)
        try:
            return await self._client.decrypt(
                self._endpoint(store),
                key.xks_key_id,
                metadata,
                XksCiphertext(layer.ciphertext, layer.iv, layer.tag, layer.metadata),
                data_key_aad(key.key_id, kek_version, bound_context),
            )
        except XksProxyFailure as exc:
            raise _crypto_error(exc.failure) from None

    async def _usable_store(self, key: CustomerKey) -> CustomKeyStore:
        store = await self.store_of(key)
        if store is None or not store.connected:
            raise CmkInvalidState(_NOT_CONNECTED)
        return store

    # --- internals ---------------------------------------------------------------------------

    async def _allow(self, caller: Caller, action: str) -> None:
        if not await self._authoriser.allowed(caller, action, None, {}):
            raise CmkAccessDenied(
                f"User: {caller.arn} is not authorized to perform: {action} on resource: * "
                f"because no identity-based policy allows the {action} action"
            )

    async def _own(self, caller: Caller, store_id: str) -> CustomKeyStore:
        store = await self._stores.get_store(caller.account_id, store_id)
        if store is None:
            raise CustomKeyStoreNotFound(f"Custom key store {store_id[:64]} does not exist")
        return store

    async def _check_health(self, caller: Caller, store: CustomKeyStore, operation: str) -> None:
        try:
            await self._client.health(self._endpoint(store), self._metadata(caller, operation))
        except XksProxyFailure as exc:
            error = _MANAGEMENT.get(exc.failure, XksProxyInvalidResponse)
            raise error(_MESSAGES.get(exc.failure, _MESSAGES[_F.MALFORMED])) from None

    def _seal(self, store_id: str, access_key_id: str, secret: str) -> str:
        return self._secrets.seal(_label(store_id, access_key_id), secret)

    def _secret_of(self, store: CustomKeyStore) -> str:
        return self._secrets.unseal(
            _label(store.store_id, store.access_key_id), store.sealed_secret
        )

    def _endpoint(self, store: CustomKeyStore) -> XksEndpoint:
        return XksEndpoint(store.base_url, store.access_key_id, self._secret_of(store))

    @staticmethod
    def _metadata(
        caller: Caller | None, operation: str | None, key: CustomerKey | None = None
    ) -> XksRequestMetadata:
        """Appendix B's fields: the caller (``AWS Internal`` for the platform's own use), the
        KMS operation and request id, the key's ARN, the service a call came through."""
        if caller is None:
            return XksRequestMetadata(
                kms_operation=operation or "Decrypt",
                kms_request_id="",
                aws_principal_arn="AWS Internal",
                kms_key_arn=None if key is None else key.arn,
                account_id=None if key is None else key.tenant_id,
            )
        return XksRequestMetadata(
            kms_operation=operation or caller.operation or "Unknown",
            kms_request_id=caller.request_id,
            aws_principal_arn=caller.arn,
            kms_key_arn=None if key is None else key.arn,
            kms_via_service=caller.via_service,
            account_id=caller.account_id,
        )


def _label(store_id: str, access_key_id: str) -> str:
    """What a sealed secret is bound to: it cannot be moved to another store or key id."""
    return f"xks:{store_id}:{access_key_id}"


def _crypto_error(failure: XksFailure) -> Exception:
    """A cryptographic operation's error for a proxy failure (AWS: KMSInvalidStateException
    for all; InvalidCiphertextException here for a corrupted ciphertext or context)."""
    message = _MESSAGES.get(failure, _MESSAGES[_F.MALFORMED])
    if failure in (_F.INVALID_CIPHERTEXT, _F.BAD_PLAINTEXT):
        return InvalidCiphertext(message)
    return CmkInvalidState(message)


def _refuse_unoffered(
    store_type: str,
    connectivity: str | None,
    vpc_endpoint_service: str | None,
    cloudhsm_cluster_id: str | None,
) -> None:
    """AWS's answers for what has no counterpart here: CloudHSM clusters and VPC endpoint
    services do not exist, so none is ever found."""
    if store_type == STORE_TYPE_CLOUDHSM:
        if cloudhsm_cluster_id is None:
            raise InvalidCustomKeyStoreParameter(
                "An AWS_CLOUDHSM key store needs CloudHsmClusterId, TrustAnchorCertificate and "
                "KeyStorePassword"
            )
        raise CloudHsmClusterNotFound(
            f"AWS CloudHSM cluster {cloudhsm_cluster_id[:24]} not found: this KMS has no "
            "CloudHSM clusters; use an EXTERNAL_KEY_STORE"
        )
    if cloudhsm_cluster_id is not None:
        raise InvalidCustomKeyStoreParameter(
            "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword apply to "
            "AWS_CLOUDHSM key stores only"
        )
    if connectivity == CONNECTIVITY_VPC_ENDPOINT_SERVICE or vpc_endpoint_service is not None:
        if vpc_endpoint_service is None:
            raise InvalidCustomKeyStoreParameter(
                "VPC_ENDPOINT_SERVICE connectivity needs XksProxyVpcEndpointServiceName"
            )
        raise XksProxyVpcEndpointServiceNotFound(
            "The VPC endpoint service was not found: this KMS reaches external key store "
            "proxies at PUBLIC_ENDPOINT only"
        )
