"""A customer key's life cycle: CreateKey, DescribeKey, ListKeys, the state changes
(enable, disable, scheduled deletion and its cancellation), the description, tags and key
policy (with AWS's policy lockout safety check), and the count of billable keys.

Mixed into :class:`~andromede.kms.customer_keys.CustomerKeyService`; split off only for size.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from andromede.kms import asymmetric, mac
from andromede.kms.errors import AlgorithmNotOffered
from andromede.kms.keys_errors import (
    CmkNotFound,
    InvalidKeyParameter,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_interface import Caller
from andromede.kms.keys_model import (
    DEFAULT_PENDING_WINDOW_DAYS,
    KEY_MANAGER_CUSTOMER,
    KEY_SPEC_SYMMETRIC_DEFAULT,
    KEY_USAGE_ENCAPSULATE_DECAPSULATE,
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_GENERATE_VERIFY_MAC,
    KEY_USAGE_KEY_AGREEMENT,
    KEY_USAGE_SIGN_VERIFY,
    MAX_DESCRIPTION_LENGTH,
    MAX_TAGS,
    ORIGIN_AWS_KMS,
    ORIGIN_EXTERNAL,
    ORIGIN_EXTERNAL_KEY_STORE,
    CustomerKey,
    KeyEvent,
    KeyState,
    MultiRegionKeyType,
    check_tags,
    default_key_policy,
)
from andromede.kms.multi_region_keys import new_multi_region_key_id

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    pass

from andromede.kms.customer_keys_core import CustomerKeysCore

__all__ = ["LifecycleMixin"]

_BILLING_PAGE: Final = 500


def _usages_of(key_spec: str) -> tuple[str, ...]:
    """The KeyUsages keys of ``key_spec`` may have here (none: a spec not offered)."""
    if key_spec == KEY_SPEC_SYMMETRIC_DEFAULT:
        return (KEY_USAGE_ENCRYPT_DECRYPT,)
    if key_spec in asymmetric.RSA_KEY_SPECS:
        return (KEY_USAGE_SIGN_VERIFY, KEY_USAGE_ENCRYPT_DECRYPT)
    if key_spec in asymmetric.KEY_AGREEMENT_KEY_SPECS:
        return (KEY_USAGE_SIGN_VERIFY, KEY_USAGE_KEY_AGREEMENT)
    if key_spec in asymmetric.ML_KEM_KEY_SPECS:
        return (KEY_USAGE_ENCAPSULATE_DECAPSULATE,)
    if key_spec in asymmetric.ASYMMETRIC_KEY_SPECS:
        return (KEY_USAGE_SIGN_VERIFY,)
    if key_spec in mac.MAC_KEY_SPECS:
        return (KEY_USAGE_GENERATE_VERIFY_MAC,)
    return ()


def _tag_keys(tags: Sequence[tuple[str, str]]) -> dict[str, str | Sequence[str]]:
    """``aws:RequestTag/<key>`` for each tag and ``aws:TagKeys``: what IAM's tag conditions
    read on a request that sets tags."""
    keys: dict[str, str | Sequence[str]] = {f"aws:RequestTag/{k}": v for k, v in tags}
    keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys


class LifecycleMixin(CustomerKeysCore):
    """A key's life cycle, tags and key policy (mixed into CustomerKeyService)."""

    # --- life cycle --------------------------------------------------------------------

    async def create_key(
        self,
        caller: Caller,
        *,
        description: str = "",
        key_usage: str = KEY_USAGE_ENCRYPT_DECRYPT,
        key_spec: str = KEY_SPEC_SYMMETRIC_DEFAULT,
        policy: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        bypass_lockout_check: bool = False,
        origin: str = ORIGIN_AWS_KMS,
        custom_key_store_id: str | None = None,
        xks_key_id: str | None = None,
        multi_region: bool = False,
    ) -> CustomerKey:
        """A new key (a multi-Region primary key with ``multi_region``); with
        ``origin=EXTERNAL`` it has no material until ImportKeyMaterial; with
        ``origin=EXTERNAL_KEY_STORE`` it is the external key ``xks_key_id`` of the connected
        store ``custom_key_store_id``, over a ring of its own all the same (decision 0090)."""
        await self._allow_identity(
            caller,
            "kms:CreateKey",
            {
                **_tag_keys(tags),
                "kms:KeySpec": key_spec,
                "kms:KeyUsage": key_usage,
                "kms:KeyOrigin": origin,
                "kms:MultiRegion": multi_region,
                **({"kms:MultiRegionKeyType": "PRIMARY"} if multi_region else {}),
                "kms:BypassPolicyLockoutSafetyCheck": bypass_lockout_check,
            },
        )
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidKeyParameter("Description is longer than 8192 characters")
        if key_usage not in _usages_of(key_spec):
            raise InvalidKeyParameter(
                f"KeySpec {key_spec[:64]} with KeyUsage {key_usage[:64]} is not offered: "
                f"{KEY_SPEC_SYMMETRIC_DEFAULT} keys encrypt, RSA keys encrypt or sign, ECC keys "
                "sign (NIST-curve keys may agree keys instead), ML-DSA keys sign, ML-KEM keys "
                "encapsulate, HMAC keys make MACs"
            )
        if origin not in (ORIGIN_AWS_KMS, ORIGIN_EXTERNAL, ORIGIN_EXTERNAL_KEY_STORE):
            raise UnsupportedKeyOperation(f"Origin {origin[:64]} is not offered")
        if origin == ORIGIN_EXTERNAL_KEY_STORE and (
            key_spec != KEY_SPEC_SYMMETRIC_DEFAULT or key_usage != KEY_USAGE_ENCRYPT_DECRYPT
        ):
            raise UnsupportedKeyOperation(
                "A KMS key in an external key store is a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key"
            )
        if policy is not None:
            self._authoriser.check_policy(policy)
        check_tags(tags)
        if multi_region and origin == ORIGIN_EXTERNAL_KEY_STORE:
            # AWS's rule too: the external key lives in one key manager, in one place.
            raise UnsupportedKeyOperation(
                f"Multi-Region keys of origin {origin} are not offered (AWS_KMS or EXTERNAL)"
            )
        if origin == ORIGIN_EXTERNAL_KEY_STORE:
            if self._xks is None or custom_key_store_id is None or xks_key_id is None:
                raise UnsupportedKeyOperation("External key stores are not offered")
            # The store is the caller's and connected, the external key fit (or AWS's error).
            await self._xks.check_external_key(caller, custom_key_store_id, xks_key_id)
        external = origin == ORIGIN_EXTERNAL
        key = CustomerKey(
            key_id=new_multi_region_key_id() if multi_region else str(uuid.uuid4()),
            tenant_id=caller.account_id,
            region=self._region,
            description=description,
            state=KeyState.PENDING_IMPORT if external else KeyState.ENABLED,
            created_at=self._clock(),
            policy=policy if policy is not None else default_key_policy(caller.account_id),
            key_usage=key_usage,
            key_spec=key_spec,
            origin=origin,
            tags=tuple(sorted(dict(tags).items())),
            has_material=not external,
            custom_key_store_id=custom_key_store_id,
            xks_key_id=xks_key_id,
            multi_region_type=MultiRegionKeyType.PRIMARY if multi_region else None,
        )
        caller.resources.append(key.arn)
        if policy is not None and not bypass_lockout_check:
            await self._check_lockout(caller, key)
        if external:
            await self._store.insert_key(key)  # its ring is made by the first import
            return key
        await self._provider(self._keys.create_tenant_key, key.key_id)
        try:
            if not key.symmetric:
                key = await self._with_private_key(key)
            await self._store.insert_key(key)
        except BaseException:
            # No metadata, no key: do not leave a ring nobody can reach.
            await self._provider(self._keys.destroy_tenant_key, key.key_id)
            raise
        return key

    async def _with_private_key(self, key: CustomerKey) -> CustomerKey:
        """``key`` with its private key (or HMAC secret) made inside the root-key provider, in
        the key's own ring, which it never leaves (decision 0048); the record keeps the public
        key (none for HMAC)."""
        try:
            public_der = await self._provider(
                self._keys.create_private_key,
                key.key_id,
                key.key_spec,
                rsa_decrypt=key.key_usage == KEY_USAGE_ENCRYPT_DECRYPT,
                key_agreement=key.key_usage == KEY_USAGE_KEY_AGREEMENT,
            )
        except AlgorithmNotOffered as exc:  # a token's limit: ML-DSA in a PKCS#11 2.40 HSM
            raise UnsupportedKeyOperation(str(exc)) from None
        return replace(key, public_key=public_der or None)

    async def describe_key(self, caller: Caller, key_ref: str) -> CustomerKey:
        return await self._resolve(caller, key_ref, "kms:DescribeKey")

    async def list_keys(
        self, caller: Caller, *, limit: int, marker: str | None
    ) -> tuple[list[CustomerKey], str | None]:
        await self._allow_identity(caller, "kms:ListKeys")
        keys = await self._multi_region.list_keys_here(caller.account_id, marker, limit + 1)
        more = len(keys) > limit
        keys = keys[:limit]
        return keys, keys[-1].record_id if more else None

    async def billable_keys(self, tenant_id: str) -> dict[str, int]:
        """How many of the tenant's keys are billed, per region: every customer-managed key
        but those pending deletion (metering, decision 0108)."""
        counts: dict[str, int] = {}
        after: str | None = None
        while True:
            page = await self._store.list_keys(tenant_id, after=after, limit=_BILLING_PAGE)
            for key in page:
                if (
                    key.state is not KeyState.PENDING_DELETION
                    and key.key_manager == KEY_MANAGER_CUSTOMER
                ):
                    counts[key.region] = counts.get(key.region, 0) + 1
            if len(page) < _BILLING_PAGE:
                return counts
            after = page[-1].record_id

    async def enable_key(self, caller: Caller, key_ref: str) -> CustomerKey:
        return await self._move(caller, key_ref, "kms:EnableKey", KeyEvent.ENABLE)

    async def disable_key(self, caller: Caller, key_ref: str) -> CustomerKey:
        return await self._move(caller, key_ref, "kms:DisableKey", KeyEvent.DISABLE)

    async def schedule_key_deletion(
        self, caller: Caller, key_ref: str, window_days: int | None
    ) -> CustomerKey:
        days = DEFAULT_PENDING_WINDOW_DAYS if window_days is None else window_days
        # A primary key with replicas waits for them (PendingReplicaDeletion, decision 0138).
        waits = await self._multi_region.has_replicas(caller, key_ref)

        def schedule(key: CustomerKey) -> CustomerKey:
            try:
                scheduled = key.scheduled_for_deletion(self._clock(), days)
            except ValueError as exc:
                raise InvalidKeyParameter(str(exc)) from None
            return self._multi_region.waiting_for_replicas(scheduled, days) if waits else scheduled

        return await self._change(
            caller,
            key_ref,
            "kms:ScheduleKeyDeletion",
            schedule,
            request={"kms:ScheduleKeyDeletionPendingWindowInDays": days},
        )

    async def cancel_key_deletion(self, caller: Caller, key_ref: str) -> CustomerKey:
        return await self._move(caller, key_ref, "kms:CancelKeyDeletion", KeyEvent.CANCEL_DELETION)

    async def update_key_description(
        self, caller: Caller, key_ref: str, description: str
    ) -> CustomerKey:
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidKeyParameter("Description is longer than 8192 characters")

        def describe(key: CustomerKey) -> CustomerKey:
            return replace(self._not_pending(key), description=description)

        return await self._change(caller, key_ref, "kms:UpdateKeyDescription", describe)

    # --- tags --------------------------------------------------------------------------

    async def tag_resource(
        self, caller: Caller, key_ref: str, tags: Sequence[tuple[str, str]]
    ) -> CustomerKey:
        check_tags(tags)

        def tag(key: CustomerKey) -> CustomerKey:
            merged = dict(self._not_pending(key).tags)
            merged.update(tags)
            if len(merged) > MAX_TAGS:
                raise InvalidKeyParameter(f"A key has at most {MAX_TAGS} tags")
            return replace(key, tags=tuple(sorted(merged.items())))

        return await self._change(caller, key_ref, "kms:TagResource", tag, request=_tag_keys(tags))

    async def untag_resource(
        self, caller: Caller, key_ref: str, tag_keys: Sequence[str]
    ) -> CustomerKey:
        removed = set(tag_keys)

        def untag(key: CustomerKey) -> CustomerKey:
            kept = tuple(t for t in self._not_pending(key).tags if t[0] not in removed)
            return replace(key, tags=kept)

        return await self._change(
            caller, key_ref, "kms:UntagResource", untag, request={"aws:TagKeys": list(tag_keys)}
        )

    async def list_resource_tags(self, caller: Caller, key_ref: str) -> tuple[tuple[str, str], ...]:
        return (await self._resolve(caller, key_ref, "kms:ListResourceTags")).tags

    # --- key policy --------------------------------------------------------------------

    async def get_key_policy(self, caller: Caller, key_ref: str, policy_name: str) -> str:
        key = await self._resolve(caller, key_ref, "kms:GetKeyPolicy")
        self._check_policy_name(policy_name)
        return key.policy

    async def put_key_policy(
        self,
        caller: Caller,
        key_ref: str,
        policy_name: str,
        policy: str,
        *,
        bypass_lockout_check: bool = False,
    ) -> None:
        self._check_policy_name(policy_name)
        self._authoriser.check_policy(policy)
        request = {"kms:BypassPolicyLockoutSafetyCheck": bypass_lockout_check}
        if not bypass_lockout_check:
            key = await self._resolve(caller, key_ref, "kms:PutKeyPolicy", request=request)
            await self._check_lockout(caller, replace(key, policy=policy))
        await self._change(
            caller,
            key_ref,
            "kms:PutKeyPolicy",
            lambda key: replace(key, policy=policy),
            request=request,
        )

    @staticmethod
    def _check_policy_name(name: str) -> None:
        if name != "default":
            raise CmkNotFound("The only valid key policy name is default")
