"""What the parts of :class:`~andromede.kms.customer_keys.CustomerKeyService` share
(:class:`CustomerKeysCore`): the key store, the root-key provider and the authoriser; the
resolution of a key reference and its authorisation (key policy, IAM, grants); the checked
change of a key's record; the states a key must be in to be used; and the sealing and opening
of ciphertext blobs in a key's ring (and through an external key store's proxy).

Split off only for size (STYLE §10): the service is this core with the mixins of
``customer_keys_lifecycle``, ``customer_keys_crypto``, ``customer_keys_import``,
``customer_keys_rotation``, ``customer_keys_grants``, ``customer_keys_aliases`` and
``customer_keys_sse``. Callers import from ``customer_keys``.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, NoReturn, ParamSpec, Self, TypeVar

from andromede.kms.ciphertext import CiphertextBlob, open_blob, seal_blob, seal_external_blob
from andromede.kms.errors import (
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
)
from andromede.kms.grants import caller_identities
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CmkNotFound,
    IncorrectKey,
    InvalidCiphertext,
    InvalidKeyArn,
    InvalidKeyUsage,
    MalformedKeyPolicy,
)
from andromede.kms.keys_interface import NO_KEYS, Caller, Decision, KeyAuthoriser, RequestKeys
from andromede.kms.keys_model import (
    DEFAULT_GRANTS_PER_KEY,
    DEFAULT_ON_DEMAND_ROTATIONS,
    GRANT_OPERATIONS,
    KEY_USAGE_ENCRYPT_DECRYPT,
    CustomerKey,
    Grant,
    KeyEvent,
    KeyReference,
    KeyState,
    ReferenceKind,
    parse_key_reference,
    record_id_of,
)
from andromede.kms.keys_store import CustomerKeyStore
from andromede.kms.model import NONCE_SIZE, WrappedDataKey
from andromede.kms.multi_region_keys import MultiRegionKeys
from andromede.kms.service import KeyService

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    from andromede.kms.custom_key_stores import CustomKeyStoreService


__all__ = ["SYMMETRIC_DEFAULT", "CustomerKeysCore"]

_UPKEEP_BATCH: Final = 100
_CHANGE_ATTEMPTS: Final = 5
_NO_KEYS: Final[RequestKeys] = NO_KEYS
_P = ParamSpec("_P")
_T = TypeVar("_T")


SYMMETRIC_DEFAULT: Final = "SYMMETRIC_DEFAULT"  # the symmetric keys' encryption algorithm
_ENCRYPTION_ALGORITHM: Final[RequestKeys] = {"kms:EncryptionAlgorithm": SYMMETRIC_DEFAULT}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CustomerKeysCore:
    """The state and the steps every part of the customer key service shares."""

    def __init__(
        self,
        store: CustomerKeyStore,
        keys: KeyService,
        authoriser: KeyAuthoriser,
        *,
        region: str,
        clock: Callable[[], datetime] = _utc_now,
        on_demand_rotations: int = DEFAULT_ON_DEMAND_ROTATIONS,
        grants_per_key: int = DEFAULT_GRANTS_PER_KEY,
        external_stores: CustomKeyStoreService | None = None,
        regions: Sequence[str] = (),
    ) -> None:
        """``regions``: the deployment's declared regions, where multi-Region keys may have
        replicas (none: ``region`` alone); ``on_demand_rotations``: how many times one key may
        be rotated on demand; ``grants_per_key``: how many grants one key may have at once;
        ``external_stores``: the external key stores (None: keys of origin EXTERNAL_KEY_STORE
        are not offered)."""
        self._store = store
        self._keys = keys
        self._authoriser = authoriser
        self._region = region
        self._clock = clock
        self._on_demand_rotations = on_demand_rotations
        self._grants_per_key = grants_per_key
        self._xks = external_stores
        self._multi_region = MultiRegionKeys(self, store, keys, tuple(regions) or (region,))

    def in_region(self, region: str) -> Self:
        """This service as the KMS endpoint of ``region`` (the SigV4 scope's, decision 0138):
        the same keys, store and root-key provider, answering for that region's keys."""
        regional = copy.copy(self)
        regional._region = region
        regional._multi_region = self._multi_region.for_service(regional)
        return regional

    @property
    def multi_region(self) -> MultiRegionKeys:
        return self._multi_region

    async def aclose(self) -> None:
        """Close the connections kept to external key store proxies (at shutdown)."""
        if self._xks is not None:
            await self._xks.aclose()

    @property
    def external_stores(self) -> CustomKeyStoreService | None:
        return self._xks

    @property
    def region(self) -> str:
        return self._region

    # --- checked changes ---------------------------------------------------------------

    async def _move(
        self, caller: Caller, key_ref: str, action: str, event: KeyEvent
    ) -> CustomerKey:
        return await self._change(caller, key_ref, action, lambda key: key.moved(event))

    async def _change(
        self,
        caller: Caller,
        key_ref: str,
        action: str,
        change: Callable[[CustomerKey], CustomerKey],
        *,
        usable: bool = False,
        request: RequestKeys = _NO_KEYS,
    ) -> CustomerKey:
        """Read the key, check ``action``, apply ``change`` and store it unless another writer
        changed the key meanwhile — then start again from a fresh read (a few times)."""
        for _ in range(_CHANGE_ATTEMPTS):
            key = await self._resolve(caller, key_ref, action, request=request)
            if usable:
                self._usable(key)
            changed = change(key)
            if changed == key:
                return key
            if await self._store.replace_key(changed):
                return replace(changed, revision=changed.revision + 1)
        raise CmkInvalidState("the key is being changed by another request; try again")

    @staticmethod
    def _not_pending(key: CustomerKey) -> CustomerKey:
        if key.state is KeyState.PENDING_DELETION:
            raise CmkInvalidState(f"{key.arn} is pending deletion.")
        return key

    # --- resolution and authorisation --------------------------------------------------

    async def _allow_identity(
        self, caller: Caller, action: str, request: RequestKeys = _NO_KEYS
    ) -> None:
        if not await self._authoriser.allowed(caller, action, None, {}, request):
            raise CmkAccessDenied(f"not allowed to {action}")

    async def _resolve(
        self,
        caller: Caller,
        key_ref: str,
        action: str | None,
        context: Mapping[str, str] | None = None,
        *,
        request: RequestKeys = _NO_KEYS,
    ) -> CustomerKey:
        """The key ``key_ref`` names for ``caller``, after checking ``action`` on it (with
        ``kms:RequestAlias`` when ``key_ref`` is an alias, as AWS KMS sets it)."""
        reference = parse_key_reference(key_ref)
        if reference is None and key_ref.startswith("arn:"):
            raise InvalidKeyArn(f"{key_ref} is not a valid KMS key ARN")
        if reference is None:
            raise CmkNotFound(f"Invalid keyId '{key_ref}'")
        key = await self._lookup(caller, reference)
        if key is None:
            raise CmkNotFound(f"Key '{key_ref}' does not exist")
        caller.resources.append(key.arn)
        if reference.is_alias:
            request = {**request, "kms:RequestAlias": reference.value}
        if action is None:
            return key
        decision = await self._authoriser.decide(caller, action, key, context or {}, request)
        if decision is Decision.DENY and await self._granting(
            caller, key, action, context or {}, request
        ):
            decision = Decision.ALLOW
        if decision is not Decision.ALLOW:
            self._refuse(caller, key, key_ref, action)
        return key

    def _refuse(self, caller: Caller, key: CustomerKey, key_ref: str, action: str) -> NoReturn:
        if key.tenant_id != caller.account_id:
            raise CmkNotFound(f"Key '{key_ref}' does not exist")
        raise CmkAccessDenied(
            f"User: {caller.arn} is not authorized to perform: {action} on resource: "
            f"{key.arn} because no policy allows the {action} action"
        )

    async def _granting(
        self,
        caller: Caller,
        key: CustomerKey,
        action: str,
        context: Mapping[str, str],
        request: RequestKeys = _NO_KEYS,
    ) -> list[Grant]:
        """The grants of ``key`` that let ``caller`` do ``action`` under ``context``: those
        naming the caller (or its role), and those naming its account, which the account
        delegates to its users and roles through their IAM policies, as a key policy naming
        the account does."""
        operation = action.removeprefix("kms:")
        if operation not in GRANT_OPERATIONS:
            return []
        identities = caller_identities(caller.arn)
        account = f"arn:aws:iam::{caller.account_id}:root"
        grants = [
            grant
            for grant in await self._store.grants_for(key.record_id, (*identities, account))
            if grant.allows(operation, context)
        ]
        direct = [grant for grant in grants if grant.grantee in identities]
        if direct or not grants:
            return direct
        if await self._authoriser.identity_allows(caller, action, key, context, request):
            return grants
        return []

    async def _same_key(
        self, caller: Caller, source_id: str | None, destination_ref: str
    ) -> RequestKeys:
        """``kms:ReEncryptOnSameKey`` of a ReEncrypt from the key ``source_id`` to the one
        ``destination_ref`` names, for both of its decisions."""
        destination_id = await self._peek_key_id(caller, destination_ref)
        return {"kms:ReEncryptOnSameKey": source_id is not None and source_id == destination_id}

    async def _peek_key_id(self, caller: Caller, key_ref: str | None) -> str | None:
        """The id of the key ``key_ref`` names, unchecked (to compare two references before
        deciding on either); None when it names none."""
        reference = None if key_ref is None else parse_key_reference(key_ref)
        key = None if reference is None else await self._lookup(caller, reference)
        return None if key is None else key.key_id

    async def _lookup(self, caller: Caller, reference: KeyReference) -> CustomerKey | None:
        account = reference.account or caller.account_id
        if reference.region is not None and reference.region != self._region:
            return None
        if reference.is_alias:
            alias = await self._store.get_alias(account, self._region, reference.value)
            if alias is None:
                return None
            key_id = alias.key_id
        else:
            key_id = record_id_of(reference.value, self._region)
        key = await self._store.get_key(key_id)
        if key is None or key.tenant_id != account or key.region != self._region:
            return None
        if reference.kind is ReferenceKind.KEY_ID and key.tenant_id != caller.account_id:
            return None  # a bare id names a key of the caller's account only
        return key

    async def _own_key(self, caller: Caller, key_ref: str, action: str | None) -> CustomerKey:
        """A key of the caller's own account: aliases never point across accounts."""
        key = await self._resolve(caller, key_ref, action)
        if key.tenant_id != caller.account_id:
            raise CmkNotFound(f"Key '{key.arn}' does not exist")
        return key

    async def _check_lockout(self, caller: Caller, key: CustomerKey) -> None:
        """AWS's policy lockout safety check: a key policy must let its author change it again
        (no one, the root user included, can use a key its policy does not allow)."""
        if not await self._authoriser.allowed(caller, "kms:PutKeyPolicy", key, {}):
            raise MalformedKeyPolicy(
                "The new key policy will not allow you to update the key policy in the future."
            )

    async def _blob_key(
        self,
        caller: Caller,
        blob: bytes,
        key_ref: str | None,
        action: str,
        context: Mapping[str, str],
        request: RequestKeys = _NO_KEYS,
    ) -> tuple[CiphertextBlob, CustomerKey]:
        parsed = CiphertextBlob.decode(blob)
        request = {**request, **_ENCRYPTION_ALGORITHM}
        if key_ref is not None:
            named = await self._resolve(caller, key_ref, action, context, request=request)
            if named.key_id != parsed.key_id:
                raise IncorrectKey("The key ID in the request does not identify the key used")
            key = named
        else:
            stored = await self._store.get_key(record_id_of(parsed.key_id, self._region))
            if stored is None:
                raise CmkNotFound("The key of this ciphertext does not exist")
            key = await self._resolve(caller, stored.arn, action, context, request=request)
        # Before any unwrapping: a signing key's ring seals its private key and nothing else.
        return parsed, self._encrypting(key)

    # --- usable keys -------------------------------------------------------------------

    def _usable(self, key: CustomerKey) -> CustomerKey:
        if key.state is KeyState.DISABLED:
            raise CmkDisabled(f"{key.arn} is disabled.")
        if key.state is KeyState.PENDING_DELETION:
            raise CmkInvalidState(f"{key.arn} is pending deletion.")
        if key.state is KeyState.PENDING_REPLICA_DELETION:
            raise CmkInvalidState(f"{key.arn} is pending replica deletion.")
        if key.state is KeyState.PENDING_IMPORT:
            raise CmkInvalidState(f"{key.arn} is pending import.")
        if key.material_expired(self._clock()):
            # Upkeep deletes it soon; until then it is refused as if it were gone.
            raise CmkInvalidState(f"{key.arn}'s imported key material has expired.")
        return key

    def _encrypting(self, key: CustomerKey) -> CustomerKey:
        """A usable symmetric encryption key, or ``InvalidKeyUsage``."""
        self._usable(key)
        if not key.symmetric or key.key_usage != KEY_USAGE_ENCRYPT_DECRYPT:
            raise InvalidKeyUsage(
                f"{key.arn} key usage is {key.key_usage}: it does not encrypt or decrypt"
            )
        return key

    # --- sealing and opening in a key's ring -------------------------------------------

    async def _seal(
        self,
        key: CustomerKey,
        plaintext: bytes,
        context: Mapping[str, str],
        caller: Caller | None = None,
    ) -> bytes:
        if key.in_external_key_store:
            return await self._seal_external(key, plaintext, context, caller)
        return await self._seal_in(key.key_id, plaintext, context)

    async def _seal_external(
        self,
        key: CustomerKey,
        plaintext: bytes,
        context: Mapping[str, str],
        caller: Caller | None,
    ) -> bytes:
        """A format 2 blob: the data key sealed under the key's ring, that sealed form
        encrypted by the customer's proxy under the external key (decision 0090)."""
        if self._xks is None:
            raise CmkInvalidState(f"{key.arn} is in an external key store, not offered here")
        fresh = await self._provider(self._keys.new_data_key, key.key_id)
        try:
            wrapped = WrappedDataKey.decode(fresh.wrapped)
            layer = await self._xks.wrap(caller, key, wrapped.kek_version, wrapped.sealed, context)
            return seal_external_blob(
                key.key_id,
                wrapped.kek_version,
                layer,
                fresh.plaintext,
                plaintext,
                context,
                secrets.token_bytes(NONCE_SIZE),
            )
        finally:
            fresh.plaintext[:] = bytes(len(fresh.plaintext))

    async def _seal_in(self, ring: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        """A ciphertext blob of ``plaintext`` under a fresh data key of the ring ``ring``."""
        fresh = await self._provider(self._keys.new_data_key, ring)
        try:
            wrapped = WrappedDataKey.decode(fresh.wrapped)
            return seal_blob(
                ring,
                wrapped.kek_version,
                wrapped.sealed,
                fresh.plaintext,
                plaintext,
                context,
                secrets.token_bytes(NONCE_SIZE),
            )
        finally:
            fresh.plaintext[:] = bytes(len(fresh.plaintext))

    async def _open(
        self,
        key: CustomerKey,
        blob: CiphertextBlob,
        context: Mapping[str, str],
        caller: Caller | None = None,
    ) -> bytes:
        if blob.external is None and not key.in_external_key_store:
            return await self._open_in(key.key_id, blob, context)
        # Both layers or neither: a one-layer blob naming a key of an external key store would
        # open with the operator's ring alone, which is exactly what such a key forbids.
        if blob.external is None or not key.in_external_key_store or self._xks is None:
            raise InvalidCiphertext("the ciphertext is not valid")
        sealed = await self._xks.unwrap(caller, key, blob.kek_version, blob.external, context)
        return await self._open_in(key.key_id, replace(blob, sealed_key=sealed), context)

    async def _open_in(self, ring: str, blob: CiphertextBlob, context: Mapping[str, str]) -> bytes:
        """The plaintext of a blob ``_seal_in`` made in ``ring``."""
        wrapped = WrappedDataKey(ring, blob.kek_version, blob.sealed_key).encode()
        try:
            data_key = await asyncio.to_thread(self._keys.unwrap_data_key, ring, wrapped)
        except KeyDestroyed as exc:
            raise CmkNotFound("the key material of this key was destroyed") from exc
        except KeyWithdrawn as exc:
            # No ring: its imported material was deleted, whatever the record (perhaps a
            # restored database copy) says.
            raise CmkNotFound("the key material of this key is missing") from exc
        except (InvalidWrappedKey, KeyNotFound) as exc:  # tampered, or a KEK version never made
            raise InvalidCiphertext("the ciphertext is not valid") from exc
        try:
            return open_blob(blob, data_key, context)
        finally:
            data_key[:] = bytes(len(data_key))

    @staticmethod
    async def _provider(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """A root-key provider call, in a thread; a destroyed ring is a key that is gone."""
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except KeyDestroyed as exc:
            raise CmkNotFound("the key material of this key was destroyed") from exc
        except KeyNotFound as exc:  # metadata without material (e.g. another provider's data)
            raise CmkNotFound("the key material of this key is missing") from exc
        except KeyAlreadyExists as exc:  # a uuid collision, or a reused id after destruction
            raise CmkInvalidState("the key material already exists") from exc
