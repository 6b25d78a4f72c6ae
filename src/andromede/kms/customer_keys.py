"""CustomerKeyService: customer-managed KMS keys (CMKs) — life cycle, aliases, rotation, and
the cryptographic operations of the KMS API; also the hook the SSE-KMS object path calls.

Each CMK is a key ring of the root-key provider named by its key id, so its material is only
there; this service keeps the metadata (``keys_store``) beside it and runs the state machine of
``keys_model``. Encrypt draws a fresh data key from the ring and seals the plaintext with it
(``ciphertext.py``); Decrypt reads the key id from the blob.

Authorisation is not decided here (this context does not know IAM): every call names the
:class:`Caller` and asks the injected :class:`KeyAuthoriser` whether the action is allowed on
the key, which the KMS wire adapter implements with the policy engine (key policy + IAM). A key
of another tenant that its policy does not open to the caller is reported as not found, so
tenants cannot probe each other's key ids. Provider calls block, so they run in a thread.

Deletion: ``upkeep`` (run periodically by the application) destroys the ring of every key whose
pending-deletion window is over, then forgets its metadata; ciphertexts of that key can never be
decrypted again, even if an older database copy brings the metadata back.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, NoReturn, ParamSpec, TypeVar

from andromede.http.requester import requester
from andromede.kms import asymmetric, importing, mac
from andromede.kms.ciphertext import (
    CiphertextBlob,
    ExternalLayer,
    open_blob,
    seal_blob,
    seal_external_blob,
)
from andromede.kms.errors import (
    AlgorithmNotOffered,
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
)
from andromede.kms.grants import (
    caller_identities,
    check_grant_operations_fit,
    check_grant_principal,
    is_grant_id,
    new_grant_id,
    new_grant_terms,
    principal_account,
)
from andromede.kms.keys_errors import (
    AliasAlreadyExists,
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CmkNotFound,
    DryRunSucceeded,
    ExpiredImportToken,
    IncorrectKey,
    IncorrectKeyMaterial,
    InvalidCiphertext,
    InvalidGrantId,
    InvalidImportToken,
    InvalidKeyArn,
    InvalidKeyParameter,
    InvalidKeyUsage,
    InvalidMac,
    InvalidSignature,
    KeyLimitExceeded,
    MalformedKeyPolicy,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_interface import (
    NO_KEYS,
    Caller,
    DataKey,
    DataKeyPair,
    Decision,
    ImportedMaterial,
    ImportParameters,
    KeyAuthoriser,
    RequestKeys,
    SseKey,
    UpkeepReport,
)
from andromede.kms.keys_model import (
    DEFAULT_GRANTS_PER_KEY,
    DEFAULT_ON_DEMAND_ROTATIONS,
    DEFAULT_PENDING_WINDOW_DAYS,
    DEFAULT_ROTATION_PERIOD_DAYS,
    EXPIRATION_KEY_MATERIAL_DOES_NOT_EXPIRE,
    EXPIRATION_KEY_MATERIAL_EXPIRES,
    GRANT_OPERATIONS,
    IMPORT_NEW_KEY_MATERIAL,
    KEY_MANAGER_AWS,
    KEY_MANAGER_CUSTOMER,
    KEY_SPEC_SYMMETRIC_DEFAULT,
    KEY_USAGE_ENCAPSULATE_DECAPSULATE,
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_GENERATE_VERIFY_MAC,
    KEY_USAGE_KEY_AGREEMENT,
    KEY_USAGE_SIGN_VERIFY,
    MAX_DESCRIPTION_LENGTH,
    MAX_MATERIAL_VALIDITY_DAYS,
    MAX_TAGS,
    ORIGIN_AWS_KMS,
    ORIGIN_EXTERNAL,
    ORIGIN_EXTERNAL_KEY_STORE,
    RESERVED_ALIAS_PREFIX,
    Alias,
    CustomerKey,
    Grant,
    GrantConstraints,
    KeyEvent,
    KeyMaterial,
    KeyReference,
    KeyState,
    MaterialState,
    MultiRegionKeyType,
    ReferenceKind,
    RotationEntry,
    RotationType,
    aws_managed_key_policy,
    check_alias_name,
    check_tags,
    default_key_policy,
    key_arn,
    key_id_of,
    parse_key_reference,
    record_id_of,
    region_of,
)
from andromede.kms.keys_store import CustomerKeyStore
from andromede.kms.model import DATA_KEY_SIZE, NONCE_SIZE, WrappedDataKey
from andromede.kms.multi_region_keys import MultiRegionKeys, new_multi_region_key_id
from andromede.kms.providers import MaterialMismatch, check_private_key_material
from andromede.kms.service import KeyService
from andromede.kms.xks_client import XksRequestMetadata

if TYPE_CHECKING:  # custom_key_stores imports this module's Caller and KeyAuthoriser
    from andromede.kms.custom_key_stores import CustomKeyStoreService

__all__ = [
    "MAX_PLAINTEXT_SIZE",
    "Caller",
    "CustomerKeyService",
    "DataKey",
    "DataKeyPair",
    "Decision",
    "ImportParameters",
    "ImportedMaterial",
    "KeyAuthoriser",
    "RequestKeys",
    "SseKey",
    "UpkeepReport",
]

MAX_PLAINTEXT_SIZE: Final = 4096  # AWS KMS's Encrypt limit
MAX_RANDOM_BYTES: Final = 1024  # GenerateRandom and GenerateDataKey's NumberOfBytes
_UPKEEP_BATCH: Final = 100
_BILLING_PAGE: Final = 500
_CHANGE_ATTEMPTS: Final = 5
_NO_KEYS: Final[RequestKeys] = NO_KEYS
_P = ParamSpec("_P")
_T = TypeVar("_T")


SYMMETRIC_DEFAULT: Final = "SYMMETRIC_DEFAULT"  # the symmetric keys' encryption algorithm
_ENCRYPTION_ALGORITHM: Final[RequestKeys] = {"kms:EncryptionAlgorithm": SYMMETRIC_DEFAULT}


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


def _private_key_context(key: CustomerKey) -> dict[str, str]:
    """The encryption context a signing key's private key (or an HMAC key's secret) is sealed
    under."""
    return {"andromede:private-key": key.key_id}


@contextlib.contextmanager
def _crypto_errors() -> Iterator[None]:
    """The errors of the asymmetric and MAC modules as the key service's (AWS's types)."""
    try:
        yield
    except (asymmetric.SigningAlgorithmMismatch, mac.MacAlgorithmMismatch) as exc:
        raise InvalidKeyUsage(str(exc)) from None
    except (asymmetric.DigestLengthMismatch, asymmetric.EncryptionAlgorithmMismatch) as exc:
        raise InvalidKeyParameter(str(exc)) from None
    except asymmetric.SignatureMismatch:
        raise InvalidSignature("the signature does not verify") from None
    except mac.MacMismatch:
        raise InvalidMac("the MAC does not verify") from None
    except asymmetric.DecryptionFailed:
        raise InvalidCiphertext("the ciphertext is not valid") from None
    except (asymmetric.KeyAgreementMismatch, asymmetric.EncapsulationMismatch) as exc:
        raise InvalidKeyUsage(str(exc)) from None
    except asymmetric.DecapsulationFailed as exc:
        raise InvalidCiphertext(str(exc)) from None
    except asymmetric.PeerPublicKeyInvalid as exc:
        raise InvalidKeyParameter(str(exc)) from None


def _algorithm_keys(algorithm: str) -> RequestKeys:
    return {"kms:EncryptionAlgorithm": algorithm}


def _signing_keys(algorithm: str, digest: bool) -> RequestKeys:
    return {
        "kms:SigningAlgorithm": algorithm,
        "kms:MessageType": asymmetric.message_type(algorithm, digest),
    }


def _constraint_type(constraints: GrantConstraints) -> dict[str, str]:
    """``kms:GrantConstraintType`` of a new grant, when it has a constraint."""
    if constraints.equals is not None:
        return {"kms:GrantConstraintType": "EncryptionContextEquals"}
    if constraints.subset is not None:
        return {"kms:GrantConstraintType": "EncryptionContextSubset"}
    return {}


def _tag_keys(tags: Sequence[tuple[str, str]]) -> dict[str, str | Sequence[str]]:
    """``aws:RequestTag/<key>`` for each tag and ``aws:TagKeys``: what IAM's tag conditions
    read on a request that sets tags."""
    keys: dict[str, str | Sequence[str]] = {f"aws:RequestTag/{k}": v for k, v in tags}
    keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys


def _service_metadata(key: CustomerKey, operation: str, via_service: str) -> XksRequestMetadata:
    """What the proxy is told of a use S3 or EBS makes of a key (the spec's Appendix B): who
    asked — the principal of the S3 or EC2 request being served and that request's id, which
    the key use's audit record carries too (the spec's kmsRequestId is the id the customer
    finds in the audit trail) — or, for work no caller asked for, the platform's own use
    (``AWS Internal``) with a request id of its own; the operation, the key's ARN and the
    service. A ``via_service`` without a region (``s3.amazonaws.com``) is the service in the
    key's region (decision 0142: S3 uses only keys of the bucket's region, so the key's region
    is the bucket's, and one object cipher serves every region)."""
    asking = requester()
    service, _, rest = via_service.partition(".")
    if rest == "amazonaws.com":
        via_service = f"{service}.{key.region}.amazonaws.com"
    return XksRequestMetadata(
        kms_operation=operation,
        kms_request_id=str(uuid.uuid4()) if asking is None else asking.request_id,
        aws_principal_arn="AWS Internal" if asking is None else asking.principal_arn,
        kms_key_arn=key.arn,
        kms_via_service=via_service,
        account_id=key.tenant_id,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CustomerKeyService:
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

    def in_region(self, region: str) -> CustomerKeyService:
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

    # --- life cycle ----------------------------------------------------------------------------

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
        if multi_region and origin != ORIGIN_AWS_KMS:
            raise UnsupportedKeyOperation(
                f"Multi-Region keys of origin {origin[:64]} are not offered (AWS_KMS only)"
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

    async def update_key_description(
        self, caller: Caller, key_ref: str, description: str
    ) -> CustomerKey:
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidKeyParameter("Description is longer than 8192 characters")

        def describe(key: CustomerKey) -> CustomerKey:
            return replace(self._not_pending(key), description=description)

        return await self._change(caller, key_ref, "kms:UpdateKeyDescription", describe)

    # --- tags ----------------------------------------------------------------------------------

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

    @staticmethod
    def _not_pending(key: CustomerKey) -> CustomerKey:
        if key.state is KeyState.PENDING_DELETION:
            raise CmkInvalidState(f"{key.arn} is pending deletion.")
        return key

    # --- rotation ----------------------------------------------------------------------------

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
        rotations = await self._store.list_rotations(key.record_id, after=None, limit=2**31)
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

    # --- grants ------------------------------------------------------------------------------

    # --- imported key material (origin EXTERNAL, decision 0046) --------------------------

    @staticmethod
    def _external(key: CustomerKey) -> CustomerKey:
        if not key.external:
            raise UnsupportedKeyOperation(
                f"{key.arn} has origin {key.origin}: only keys of origin EXTERNAL take imported "
                "key material"
            )
        return key

    async def get_parameters_for_import(
        self, caller: Caller, key_ref: str, algorithm: str, key_spec: str
    ) -> ImportParameters:
        """A fresh wrapping key pair and the token that brings its private half back, valid
        for 24 hours, for one import into the EXTERNAL key ``key_ref``."""
        key = self._external(
            await self._resolve(
                caller,
                key_ref,
                "kms:GetParametersForImport",
                request={"kms:WrappingAlgorithm": algorithm, "kms:WrappingKeySpec": key_spec},
            )
        )
        self._not_pending(key)
        if algorithm not in importing.OFFERED_WRAPPING_ALGORITHMS:
            raise UnsupportedKeyOperation(
                f"WrappingAlgorithm {algorithm} is not offered: use RSAES_OAEP_SHA_256 or "
                "RSA_AES_KEY_WRAP_SHA_256"
            )
        if key_spec not in importing.OFFERED_WRAPPING_KEY_SPECS:
            raise UnsupportedKeyOperation(f"WrappingKeySpec {key_spec} is not offered")
        if key.key_spec in asymmetric.ASYMMETRIC_KEY_SPECS and algorithm.startswith("RSAES_"):
            # A private key is longer than RSAES-OAEP can carry (AWS's rule too).
            raise InvalidKeyParameter(
                f"{key.key_spec} key material is imported with RSA_AES_KEY_WRAP_SHA_1 or "
                "RSA_AES_KEY_WRAP_SHA_256"
            )
        private_der, public_der = await asyncio.to_thread(asymmetric.generate_key_pair, key_spec)
        valid_to = (self._clock() + importing.IMPORT_PARAMETERS_LIFETIME).replace(microsecond=0)
        await self._provider(self._keys.ensure_tenant_key, importing.IMPORT_TOKEN_RING)
        sealed = await self._seal_in(
            importing.IMPORT_TOKEN_RING,
            private_der,
            importing.token_context(key.arn, algorithm, key_spec, valid_to),
        )
        token = importing.ImportToken(valid_to, algorithm, key_spec, sealed)
        return ImportParameters(key, public_der, token.encode(), valid_to)

    async def import_key_material(
        self,
        caller: Caller,
        key_ref: str,
        import_token: bytes,
        encrypted_material: bytes,
        *,
        expiration_model: str = EXPIRATION_KEY_MATERIAL_EXPIRES,
        valid_to: datetime | None = None,
        expected_material_id: str | None = None,
        import_type: str | None = None,
        material_description: str | None = None,
    ) -> ImportedMaterial:
        """Open ``encrypted_material`` with the token's wrapping key and make it the key's
        material: the first import fixes which material the key has (its id), and later
        imports — after a deletion, or to change the expiry — must bring the same (and the
        material ``expected_material_id`` names, when given). A symmetric key also takes new
        material (``import_type`` NEW_KEY_MATERIAL), staged until RotateKeyOnDemand makes it
        current (decision 0085)."""
        request: dict[str, str | int | bool | Sequence[str]] = {
            "kms:ExpirationModel": expiration_model
        }
        if valid_to is not None:
            request["kms:ValidTo"] = int(valid_to.timestamp())
        key = self._external(
            await self._resolve(caller, key_ref, "kms:ImportKeyMaterial", request=request)
        )
        self._not_pending(key)
        if not key.symmetric and (import_type is not None or material_description is not None):
            raise UnsupportedKeyOperation(
                f"{key.arn} is not a symmetric encryption key: its one material takes no "
                "ImportType or KeyMaterialDescription"
            )
        if import_type == IMPORT_NEW_KEY_MATERIAL and expected_material_id is not None:
            raise InvalidKeyParameter(
                "KeyMaterialId names material imported before: it is not given with ImportType "
                "NEW_KEY_MATERIAL"
            )
        valid_to = self._check_expiration(expiration_model, valid_to)
        material = await self._open_import(key, import_token, encrypted_material)
        public_key = self._material_public_key(key, material)  # before any claim: it fits
        material_id = importing.material_id(key.key_id, material)
        if expected_material_id is not None and expected_material_id != material_id:
            raise IncorrectKeyMaterial(f"The key material is not {expected_material_id}")
        if key.symmetric:
            terms = KeyMaterial(
                material_id,
                0,  # the version is the record's, claimed below
                MaterialState.CURRENT,
                imported=True,
                expiration_model=expiration_model,
                valid_to=valid_to,
                description=material_description,
            )
            imported_key = await self._import_symmetric(
                caller, key_ref, material, terms, import_type, request
            )
            return ImportedMaterial(imported_key, material_id)

        def claim(current: CustomerKey) -> CustomerKey:
            # The first import decides which material the key has, before any reaches the
            # provider: two first imports of different material cannot both get in.
            known = current.key_material_id
            if known is None:
                return replace(current, key_material_id=material_id)
            if not secrets.compare_digest(known, material_id):
                raise IncorrectKeyMaterial(
                    f"The key material is not the material previously imported into {key.arn}"
                )
            return current

        def imported(current: CustomerKey) -> CustomerKey:
            with_material = claim(current).with_material(material_id, expiration_model, valid_to)
            return replace(with_material, public_key=public_key)

        action = "kms:ImportKeyMaterial"
        await self._change(caller, key_ref, action, claim, request=request)
        await self._install_material(key, material)
        imported_key = await self._change(caller, key_ref, action, imported, request=request)
        return ImportedMaterial(imported_key, material_id)

    async def _import_symmetric(
        self,
        caller: Caller,
        key_ref: str,
        material: bytes,
        terms: KeyMaterial,
        import_type: str | None,
        request: RequestKeys,
    ) -> CustomerKey:
        """Import a symmetric key's material (decision 0085): the first, current at once; new
        material, staged as PENDING_ROTATION in the next version of the ring; or material
        imported before, back into its own version (after its deletion or expiry, or for
        another expiry or description). The record claims the material (and its version)
        before any of it reaches the provider, so two imports cannot both get in; then the
        ring takes it; then the record says it is there."""
        material_id = terms.material_id
        action = "kms:ImportKeyMaterial"

        def claim(current: CustomerKey) -> CustomerKey:
            held = current.material(material_id)
            new = (
                import_type == IMPORT_NEW_KEY_MATERIAL
                if import_type is not None
                else not current.imported_materials
            )
            if not new:
                if held is None:
                    raise IncorrectKeyMaterial(
                        f"The key material is not material previously imported into "
                        f"{current.arn}"
                        + (
                            ": import new material with ImportType NEW_KEY_MATERIAL"
                            if current.imported_materials
                            else ""
                        )
                    )
                return current
            if held is not None:
                if held.imported:
                    raise IncorrectKeyMaterial(
                        f"The key material is already imported into {current.arn}: import it "
                        "again with ImportType EXISTING_KEY_MATERIAL"
                    )
                return current  # a claim whose import did not finish: finish it
            if not current.imported_materials:
                first = replace(terms, version=1, imported=False, valid_to=None)
                return current.with_materials([first])
            pending = current.pending_material
            if pending is not None:
                raise CmkInvalidState(
                    f"{current.arn} already has key material {pending.material_id} in "
                    "PENDING_ROTATION state: rotate the key to it (RotateKeyOnDemand), or "
                    "delete it, before importing other new material"
                )
            if current.state is KeyState.PENDING_IMPORT:
                raise CmkInvalidState(
                    f"{current.arn} is pending import: import its missing material again "
                    "before new material"
                )
            staged = replace(
                terms,
                version=max(m.version for m in current.imported_materials) + 1,
                state=MaterialState.PENDING_ROTATION,
                imported=False,
                valid_to=None,
            )
            return current.with_materials([*current.imported_materials, staged])

        def imported(current: CustomerKey) -> CustomerKey:
            held = current.material(material_id)
            if held is None:  # a staged material deleted meanwhile
                raise CmkInvalidState(
                    f"The key material was deleted from {current.arn} during its import"
                )
            entry = replace(
                held,
                imported=True,
                expiration_model=terms.expiration_model,
                valid_to=terms.valid_to,
                description=(held.description if terms.description is None else terms.description),
            )
            return current.with_materials(
                [entry if m.version == held.version else m for m in current.imported_materials]
            )

        claimed = await self._change(caller, key_ref, action, claim, request=request)
        held = claimed.material(material_id)
        if held is None:  # claim() always leaves it there
            raise CmkInvalidState(f"The key material is not claimed in {claimed.arn}")
        try:
            await asyncio.to_thread(
                self._keys.import_tenant_key,
                claimed.key_id,
                material,
                version=held.version,
                pending=held.state is MaterialState.PENDING_ROTATION,
            )
        except KeyAlreadyExists:
            pass  # there already: a new expiry or description, or a retry
        except KeyDestroyed as exc:
            raise CmkNotFound("the key material of this key was destroyed") from exc
        except (KeyNotFound, ValueError) as exc:
            # The ring and the record disagree (material staged into a ring holding none, or
            # below a version it holds): refused, never guessed at.
            raise CmkInvalidState(
                f"The key material of {claimed.arn} cannot be imported into its key ring now"
            ) from exc
        return await self._change(caller, key_ref, action, imported, request=request)

    @staticmethod
    def _material_public_key(key: CustomerKey, material: bytes) -> bytes | None:
        """The public key of imported material (None for symmetric and HMAC material), after
        checking that it fits the key: ``IncorrectKeyMaterial`` if not."""
        if key.symmetric:
            if len(material) != DATA_KEY_SIZE:
                raise IncorrectKeyMaterial(
                    f"The key material is {len(material) * 8} bits: {key.arn} takes 256-bit "
                    "symmetric key material"
                )
            return None
        try:
            private = check_private_key_material(
                key.key_spec,
                material,
                rsa_decrypt=key.key_usage == KEY_USAGE_ENCRYPT_DECRYPT,
                key_agreement=key.key_usage == KEY_USAGE_KEY_AGREEMENT,
            )
        except MaterialMismatch as exc:
            raise IncorrectKeyMaterial(f"The key material does not fit {key.arn}: {exc}") from None
        return None if private is None else asymmetric.public_key_info(private)

    async def _install_material(self, key: CustomerKey, material: bytes) -> None:
        """Put the claimed material of an asymmetric or HMAC key in its ring: a private key
        (or HMAC secret) beside a KEK (a symmetric key's: ``_import_symmetric``). A ring that
        holds it already (an import that did not finish) is left as it is: only the claimed
        material ever gets in."""
        try:
            with contextlib.suppress(KeyAlreadyExists):
                await asyncio.to_thread(self._keys.create_tenant_key, key.key_id)
            await asyncio.to_thread(
                self._keys.import_private_key,
                key.key_id,
                key.key_spec,
                material,
                rsa_decrypt=key.key_usage == KEY_USAGE_ENCRYPT_DECRYPT,
                key_agreement=key.key_usage == KEY_USAGE_KEY_AGREEMENT,
            )
        except KeyAlreadyExists:
            pass
        except KeyDestroyed as exc:
            raise CmkNotFound("the key material of this key was destroyed") from exc
        except AlgorithmNotOffered as exc:  # a token's limit: ML-DSA in a PKCS#11 2.40 HSM
            raise UnsupportedKeyOperation(str(exc)) from None

    def _check_expiration(self, model: str, valid_to: datetime | None) -> datetime | None:
        if model == EXPIRATION_KEY_MATERIAL_DOES_NOT_EXPIRE:
            if valid_to is not None:
                raise InvalidKeyParameter(
                    "ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE"
                )
            return None
        if model != EXPIRATION_KEY_MATERIAL_EXPIRES:
            raise InvalidKeyParameter(f"ExpirationModel {model[:64]} is not valid")
        if valid_to is None:
            raise InvalidKeyParameter(
                "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES"
            )
        now = self._clock()
        if valid_to <= now:
            raise InvalidKeyParameter("ValidTo must be in the future")
        if valid_to > now + timedelta(days=MAX_MATERIAL_VALIDITY_DAYS):
            raise InvalidKeyParameter(
                f"ValidTo must be at most {MAX_MATERIAL_VALIDITY_DAYS} days from now"
            )
        return valid_to

    async def _open_import(
        self, key: CustomerKey, import_token: bytes, encrypted_material: bytes
    ) -> bytes:
        """The material, unwrapped with the private key the token seals for ``key``."""
        try:
            token = importing.ImportToken.decode(import_token)
            blob = CiphertextBlob.decode(token.sealed_private_key)
        except (importing.TokenFormatError, InvalidCiphertext):
            raise InvalidImportToken("The import token is not valid") from None
        if blob.key_id != importing.IMPORT_TOKEN_RING:
            raise InvalidImportToken("The import token is not valid")
        if token.valid_to <= self._clock():
            raise ExpiredImportToken("The import token expired: call GetParametersForImport again")
        context = importing.token_context(key.arn, token.algorithm, token.key_spec, token.valid_to)
        try:
            private_der = await self._open_in(importing.IMPORT_TOKEN_RING, blob, context)
        except (InvalidCiphertext, CmkNotFound):
            # Altered, made for another key, or sealed by another installation.
            raise InvalidImportToken(f"The import token is not valid for {key.arn}") from None
        try:
            return await asyncio.to_thread(
                importing.unwrap_material, private_der, token.algorithm, encrypted_material
            )
        except importing.MaterialUnwrapError as exc:
            raise InvalidCiphertext(
                f"The encrypted key material does not decrypt with this import token's "
                f"wrapping key and {token.algorithm}: {exc}"
            ) from None

    async def delete_imported_key_material(
        self, caller: Caller, key_ref: str, material_id: str | None = None
    ) -> CustomerKey:
        """Delete the key's material from the root-key provider at once (every ciphertext of
        the key stays unreadable until the same material is imported again); the key goes
        back to PendingImport (a key pending deletion stays so)."""
        action = "kms:DeleteImportedKeyMaterial"
        key = self._external(await self._resolve(caller, key_ref, action))
        if key.imported_materials:
            return await self._delete_symmetric_material(caller, key_ref, key, material_id)
        if material_id is not None and material_id != key.key_material_id:
            raise CmkNotFound(f"{key.arn} has no key material {material_id[:64]}")
        # The material first: a failure after it leaves a key that refuses its uses, never
        # a key that says it has no material while the provider still holds it.
        await self._provider(self._keys.withdraw_tenant_key, key.key_id)
        return await self._change(caller, key_ref, action, lambda k: k.without_material())

    async def _delete_symmetric_material(
        self, caller: Caller, key_ref: str, key: CustomerKey, material_id: str | None
    ) -> CustomerKey:
        """Delete one material of a symmetric key (its current one when none is named) from
        its version of the ring, at once. Material the key needs takes it to PendingImport
        until the same material is imported again; pending material is simply gone (it was
        never associated with the key), and the key stays as it was."""
        if material_id is None:
            target = next(m for m in key.imported_materials if m.state is MaterialState.CURRENT)
        else:
            found = key.material(material_id)
            if found is None:
                raise CmkNotFound(f"{key.arn} has no key material {material_id[:64]}")
            target = found
        if not target.imported:
            raise CmkInvalidState(
                f"Key material {target.material_id} of {key.arn} is not imported (PENDING_IMPORT)"
            )
        # The material first, as for a whole ring: a failure after it leaves a record that
        # still shows material the ring no longer holds, whose uses then fail.
        await self._provider(self._keys.withdraw_tenant_key, key.key_id, target.version)

        def deleted(current: CustomerKey) -> CustomerKey:
            kept: list[KeyMaterial] = []
            for held in current.imported_materials:
                if held.version != target.version:
                    kept.append(held)
                elif held.associated:
                    kept.append(replace(held, imported=False, valid_to=None))
            return current.with_materials(kept)

        return await self._change(caller, key_ref, "kms:DeleteImportedKeyMaterial", deleted)

    async def create_grant(
        self,
        caller: Caller,
        key_ref: str,
        *,
        grantee: str,
        operations: Sequence[str],
        retiring: str | None = None,
        context_subset: Mapping[str, str] | None = None,
        context_equals: Mapping[str, str] | None = None,
        name: str | None = None,
        dry_run: bool = False,
    ) -> Grant:
        """A grant on the key for ``grantee``. The caller needs ``kms:CreateGrant`` from the
        policies, or a grant with ``CreateGrant`` whose operations and constraints cover the
        new grant's (a grant never widens through another). Named grants are idempotent: the
        same name and terms give back the grant made first. ``dry_run``: every check, then
        ``DryRunSucceeded`` instead of the grant."""
        check_grant_principal("GranteePrincipal", grantee)
        if retiring is not None:
            check_grant_principal("RetiringPrincipal", retiring)
        ops, constraints = new_grant_terms(operations, context_subset, context_equals, name)
        key = await self._resolve(caller, key_ref, None)
        request: RequestKeys = {
            "kms:GranteePrincipal": grantee,
            "kms:GrantOperations": list(ops),
            "kms:GrantIsForAWSResource": False,
            **({"kms:RetiringPrincipal": retiring} if retiring is not None else {}),
            **_constraint_type(constraints),
        }
        decision = await self._authoriser.decide(caller, "kms:CreateGrant", key, {}, request)
        if decision is Decision.DENY:
            parents = await self._granting(caller, key, "kms:CreateGrant", {}, request)
            if any(
                set(ops) <= set(parent.operations)
                and constraints.at_least_as_strict_as(parent.constraints)
                for parent in parents
            ):
                decision = Decision.ALLOW
        if decision is not Decision.ALLOW:
            self._refuse(caller, key, key_ref, "kms:CreateGrant")
        self._not_pending(key)
        # After the authorisation: what the key can do is not told to a caller who may not
        # grant on it.
        check_grant_operations_fit(ops, key.key_spec, key.key_usage)
        if dry_run:
            raise DryRunSucceeded()
        if name is not None:
            for existing in await self._store.list_grants(
                key.record_id, after=None, limit=self._grants_per_key, grantee=grantee
            ):
                if (existing.name, existing.operations, existing.constraints) == (
                    name,
                    ops,
                    constraints,
                ) and existing.retiring == retiring:
                    return existing
        grant = Grant(
            grant_id=new_grant_id(),
            key_id=key.record_id,
            key_tenant=key.tenant_id,
            grantee=grantee,
            operations=ops,
            constraints=constraints,
            issuer=caller.arn,
            created_at=self._clock(),
            name=name,
            retiring=retiring,
        )
        if not await self._store.insert_grant(grant, limit=self._grants_per_key):
            raise KeyLimitExceeded(f"{key.arn} has {self._grants_per_key} grants, the most")
        return grant

    async def list_grants(
        self,
        caller: Caller,
        key_ref: str,
        *,
        limit: int,
        after: str | None,
        grant_id: str | None = None,
        grantee: str | None = None,
    ) -> tuple[CustomerKey, list[Grant], str | None]:
        key = await self._resolve(caller, key_ref, "kms:ListGrants")
        grants = await self._store.list_grants(
            key.record_id, after=after, limit=limit + 1, grant_id=grant_id, grantee=grantee
        )
        more = len(grants) > limit
        grants = grants[:limit]
        return key, grants, grants[-1].grant_id if more else None

    async def list_retirable_grants(
        self, caller: Caller, retiring: str, *, limit: int, after: str | None
    ) -> tuple[list[Grant], str | None]:
        """The grants ``retiring`` may retire; it must be a principal of the caller's account."""
        check_grant_principal("RetiringPrincipal", retiring)
        await self._allow_identity(caller, "kms:ListRetirableGrants")
        if principal_account(retiring) != caller.account_id:
            raise CmkAccessDenied("RetiringPrincipal must be a principal of your account")
        grants = await self._store.list_retirable_grants(retiring, after=after, limit=limit + 1)
        more = len(grants) > limit
        grants = grants[:limit]
        return grants, grants[-1].grant_id if more else None

    async def retire_grant(
        self, caller: Caller, *, grant_id: str, key_ref: str | None = None, dry_run: bool = False
    ) -> Grant:
        """Retire a grant: its retiring principal may, its grantee when the grant allows
        ``RetireGrant``, and the key's own account. No policy decides this, as on AWS."""
        grant = await self._grant(grant_id)
        if key_ref is not None:
            key = await self._resolve(caller, key_ref, None)
            if key.key_id != grant.key_id:
                raise CmkNotFound(f"Grant {grant_id} is not a grant of {key.arn}")
        identities = caller_identities(caller.arn)
        may = (
            grant.retiring in identities
            or (grant.grantee in identities and "RetireGrant" in grant.operations)
            or caller.arn == f"arn:aws:iam::{grant.key_tenant}:root"
        )
        if not may:
            raise CmkAccessDenied(f"User: {caller.arn} may not retire grant {grant_id}")
        if dry_run:
            raise DryRunSucceeded()
        await self._store.delete_grant(grant.grant_id)
        caller.resources.append(self.grant_key_arn(grant))
        return grant

    async def revoke_grant(
        self, caller: Caller, key_ref: str, grant_id: str, *, dry_run: bool = False
    ) -> Grant:
        key = await self._resolve(caller, key_ref, "kms:RevokeGrant")
        grant = await self._grant(grant_id)
        if grant.key_id != key.key_id:
            raise CmkNotFound(f"Grant {grant_id} is not a grant of {key.arn}")
        if dry_run:
            raise DryRunSucceeded()
        await self._store.delete_grant(grant.grant_id)
        return grant

    async def _grant(self, grant_id: str) -> Grant:
        if not is_grant_id(grant_id):
            raise InvalidGrantId(f"{grant_id[:128]!r} is not a grant id")
        grant = await self._store.get_grant(grant_id)
        if grant is None:
            raise CmkNotFound(f"Grant {grant_id} does not exist")
        return grant

    def grant_key_arn(self, grant: Grant) -> str:
        """The ARN of the key a grant is for (ListGrants names keys by ARN)."""
        region = region_of(grant.key_id) or self._region
        return key_arn(region, grant.key_tenant, key_id_of(grant.key_id))

    # --- aliases -----------------------------------------------------------------------------

    async def create_alias(self, caller: Caller, alias_name: str, target_ref: str) -> Alias:
        name = self._alias_name(alias_name)
        key = await self._own_key(caller, target_ref, "kms:CreateAlias")
        now = self._clock()
        # The alias is this region's, and so is its key: _own_key resolves in this region
        # only, so a key of another region is not found, as on AWS.
        alias = Alias(
            caller.account_id,
            name,
            key.record_id,
            created_at=now,
            updated_at=now,
            region=self._region,
        )
        await self._store.insert_alias(alias)
        return alias

    async def update_alias(self, caller: Caller, alias_name: str, target_ref: str) -> None:
        name = self._alias_name(alias_name)
        current = await self._store.get_alias(caller.account_id, self._region, name)
        if current is None:
            raise CmkNotFound(f"Alias {self._alias_arn(caller, name)} is not found.")
        old_key = await self._store.get_key(current.key_id)
        if old_key is not None:
            caller.resources.append(old_key.arn)
            if not await self._authoriser.allowed(caller, "kms:UpdateAlias", old_key, {}):
                raise CmkAccessDenied("not allowed to kms:UpdateAlias on the alias's key")
        key = await self._own_key(caller, target_ref, "kms:UpdateAlias")
        await self._store.point_alias(
            caller.account_id, self._region, name, key.record_id, self._clock()
        )

    async def delete_alias(self, caller: Caller, alias_name: str) -> None:
        name = self._alias_name(alias_name)
        alias = await self._store.get_alias(caller.account_id, self._region, name)
        if alias is None:
            raise CmkNotFound(f"Alias {self._alias_arn(caller, name)} is not found.")
        key = await self._store.get_key(alias.key_id)
        if key is not None:
            caller.resources.append(key.arn)
            if not await self._authoriser.allowed(caller, "kms:DeleteAlias", key, {}):
                raise CmkAccessDenied("not allowed to kms:DeleteAlias on the alias's key")
        await self._store.delete_alias(caller.account_id, self._region, name)

    async def list_aliases(
        self, caller: Caller, *, key_ref: str | None, limit: int, marker: str | None
    ) -> tuple[list[Alias], str | None]:
        await self._allow_identity(caller, "kms:ListAliases")
        key_id = None
        if key_ref is not None:
            key_id = (await self._own_key(caller, key_ref, None)).record_id
        aliases = await self._store.list_aliases(
            caller.account_id, self._region, key_id=key_id, after=marker, limit=limit + 1
        )
        more = len(aliases) > limit
        aliases = aliases[:limit]
        return aliases, aliases[-1].name if more else None

    @staticmethod
    def alias_arn(alias: Alias) -> str:
        return alias.arn

    def _alias_arn(self, caller: Caller, name: str) -> str:
        return f"arn:aws:kms:{self._region}:{caller.account_id}:{name}"

    @staticmethod
    def _alias_name(name: str) -> str:
        try:
            return check_alias_name(name)
        except (ValueError, PermissionError) as exc:
            raise InvalidKeyParameter(str(exc)) from None

    async def _own_key(self, caller: Caller, key_ref: str, action: str | None) -> CustomerKey:
        """A key of the caller's own account: aliases never point across accounts."""
        key = await self._resolve(caller, key_ref, action)
        if key.tenant_id != caller.account_id:
            raise CmkNotFound(f"Key '{key.arn}' does not exist")
        return key

    # --- key policy --------------------------------------------------------------------------

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

    async def _check_lockout(self, caller: Caller, key: CustomerKey) -> None:
        """AWS's policy lockout safety check: a key policy must let its author change it again
        (no one, the root user included, can use a key its policy does not allow)."""
        if not await self._authoriser.allowed(caller, "kms:PutKeyPolicy", key, {}):
            raise MalformedKeyPolicy(
                "The new key policy will not allow you to update the key policy in the future."
            )

    @staticmethod
    def _check_policy_name(name: str) -> None:
        if name != "default":
            raise CmkNotFound("The only valid key policy name is default")

    # --- cryptographic operations ----------------------------------------------------------

    async def encrypt(
        self,
        caller: Caller,
        key_ref: str,
        plaintext: bytes,
        context: Mapping[str, str],
        algorithm: str = SYMMETRIC_DEFAULT,
    ) -> tuple[bytes, CustomerKey]:
        """A ciphertext blob under a symmetric key; with an RSAES-OAEP ``algorithm``, the raw
        RSA ciphertext under an RSA encryption key's public key (no encryption context, as on
        AWS)."""
        if not 1 <= len(plaintext) <= MAX_PLAINTEXT_SIZE:
            raise InvalidKeyParameter("Plaintext must be 1 to 4096 bytes")
        key = await self._encryption_key(caller, key_ref, "kms:Encrypt", context, algorithm)
        return await self._encrypt_with(key, algorithm, plaintext, context, caller), key

    async def _encryption_key(
        self,
        caller: Caller,
        key_ref: str,
        action: str,
        context: Mapping[str, str],
        algorithm: str,
        request: RequestKeys = _NO_KEYS,
    ) -> CustomerKey:
        """The key ``key_ref`` names, authorised for ``action`` and able to encrypt or decrypt
        with ``algorithm`` (a symmetric key, or an RSA encryption key for RSAES-OAEP)."""
        key = await self._resolve(
            caller, key_ref, action, context, request={**request, **_algorithm_keys(algorithm)}
        )
        if algorithm == SYMMETRIC_DEFAULT:
            return self._encrypting(key)
        return self._rsa_encrypting(key, context)

    async def _encrypt_with(
        self,
        key: CustomerKey,
        algorithm: str,
        plaintext: bytes,
        context: Mapping[str, str],
        caller: Caller | None = None,
    ) -> bytes:
        if algorithm == SYMMETRIC_DEFAULT:
            return await self._seal(key, plaintext, context, caller)
        assert key.public_key is not None  # noqa: S101 (_rsa_encrypting checked it)
        with _crypto_errors():
            return asymmetric.rsa_encrypt(key.public_key, algorithm, plaintext)

    async def _rsa_open(self, key: CustomerKey, algorithm: str, ciphertext: bytes) -> bytes:
        if key.sealed_private_key is not None:  # a key made before decision 0048
            private_der = await self._unseal_secret(key)
            with _crypto_errors():
                return await asyncio.to_thread(
                    asymmetric.rsa_decrypt, private_der, algorithm, ciphertext
                )
        with _crypto_errors():
            try:
                return await self._provider(
                    self._keys.decrypt_private, key.key_id, algorithm, ciphertext
                )
            except InvalidWrappedKey:
                raise InvalidCiphertext("the ciphertext is not valid") from None
            except AlgorithmNotOffered as exc:  # a token's limit (decision 0048)
                raise UnsupportedKeyOperation(
                    f"{exc}: this key decrypts with the algorithms the HSM offers"
                ) from None

    async def decrypt(
        self,
        caller: Caller,
        blob: bytes,
        context: Mapping[str, str],
        key_ref: str | None = None,
        algorithm: str = SYMMETRIC_DEFAULT,
    ) -> tuple[bytes, CustomerKey]:
        """The plaintext of a ciphertext blob; with an RSAES-OAEP ``algorithm``, of a raw RSA
        ciphertext, which names no key: ``key_ref`` is then required, as on AWS."""
        if algorithm == SYMMETRIC_DEFAULT:
            parsed, key = await self._blob_key(caller, blob, key_ref, "kms:Decrypt", context)
            return await self._open(key, parsed, context, caller), key
        if key_ref is None:
            raise InvalidKeyParameter("KeyId is required to decrypt with an asymmetric key")
        key = await self._encryption_key(caller, key_ref, "kms:Decrypt", context, algorithm)
        return await self._rsa_open(key, algorithm, blob), key

    async def check_decrypt_permission(
        self,
        caller: Caller,
        key_ref: str,
        context: Mapping[str, str],
        algorithm: str = SYMMETRIC_DEFAULT,
    ) -> CustomerKey:
        """Decrypt's authorisation and key checks without a ciphertext (``DryRun`` with the
        ``IGNORE_CIPHERTEXT`` modifier): the key ``key_ref`` must be one the caller may decrypt
        with under ``context``, usable, and able to decrypt with ``algorithm``."""
        return await self._encryption_key(caller, key_ref, "kms:Decrypt", context, algorithm)

    async def check_re_encrypt_permission(
        self,
        caller: Caller,
        source_ref: str,
        source_context: Mapping[str, str],
        destination_ref: str,
        destination_context: Mapping[str, str],
        source_algorithm: str = SYMMETRIC_DEFAULT,
        destination_algorithm: str = SYMMETRIC_DEFAULT,
    ) -> tuple[CustomerKey, CustomerKey]:
        """ReEncrypt's authorisation and key checks without a ciphertext (``DryRun`` with
        ``IGNORE_CIPHERTEXT``): the source named by ``source_ref``, the destination, and
        ``kms:ReEncryptOnSameKey`` as the real call sees it."""
        same = await self._same_key(
            caller, await self._peek_key_id(caller, source_ref), destination_ref
        )
        source = await self._encryption_key(
            caller, source_ref, "kms:ReEncryptFrom", source_context, source_algorithm, same
        )
        destination = await self._encryption_key(
            caller,
            destination_ref,
            "kms:ReEncryptTo",
            destination_context,
            destination_algorithm,
            same,
        )
        return source, destination

    async def re_encrypt(
        self,
        caller: Caller,
        blob: bytes,
        source_context: Mapping[str, str],
        destination_ref: str,
        destination_context: Mapping[str, str],
        source_ref: str | None = None,
        source_algorithm: str = SYMMETRIC_DEFAULT,
        destination_algorithm: str = SYMMETRIC_DEFAULT,
    ) -> tuple[bytes, CustomerKey, CustomerKey]:
        """Decrypt under the source key and encrypt under the destination, both authorised
        before anything is opened; either side may be an RSA encryption key with its
        RSAES-OAEP algorithm (the source's ``source_ref`` is then required). Both decisions
        see ``kms:ReEncryptOnSameKey``."""
        if source_algorithm != SYMMETRIC_DEFAULT and source_ref is None:
            raise InvalidKeyParameter("SourceKeyId is required with an asymmetric source key")
        source_id = (
            CiphertextBlob.decode(blob).key_id
            if source_algorithm == SYMMETRIC_DEFAULT
            else await self._peek_key_id(caller, source_ref)
        )
        same = await self._same_key(caller, source_id, destination_ref)
        if source_algorithm == SYMMETRIC_DEFAULT:
            parsed, source = await self._blob_key(
                caller, blob, source_ref, "kms:ReEncryptFrom", source_context, same
            )
        else:
            assert source_ref is not None  # noqa: S101 (refused above)
            source = await self._encryption_key(
                caller, source_ref, "kms:ReEncryptFrom", source_context, source_algorithm, same
            )
        destination = await self._encryption_key(
            caller,
            destination_ref,
            "kms:ReEncryptTo",
            destination_context,
            destination_algorithm,
            same,
        )
        if source_algorithm == SYMMETRIC_DEFAULT:
            plaintext = await self._open(source, parsed, source_context, caller)
        else:
            plaintext = await self._rsa_open(source, source_algorithm, blob)
        sealed = await self._encrypt_with(
            destination, destination_algorithm, plaintext, destination_context, caller
        )
        return sealed, source, destination

    async def generate_data_key(
        self,
        caller: Caller,
        key_ref: str,
        size: int,
        context: Mapping[str, str],
        *,
        with_plaintext: bool = True,
    ) -> DataKey:
        action = "kms:GenerateDataKey" if with_plaintext else "kms:GenerateDataKeyWithoutPlaintext"
        if not 1 <= size <= MAX_RANDOM_BYTES:
            raise InvalidKeyParameter("NumberOfBytes must be 1 to 1024")
        key = self._encrypting(await self._resolve(caller, key_ref, action, context))
        material = secrets.token_bytes(size)
        blob = await self._seal(key, material, context, caller)
        return DataKey(material if with_plaintext else None, blob, key)

    async def generate_data_key_pair(
        self,
        caller: Caller,
        key_ref: str,
        pair_spec: str,
        context: Mapping[str, str],
        *,
        with_plaintext: bool = True,
    ) -> DataKeyPair:
        """A new RSA or ECC key pair for the caller's own use: the private key sealed under the
        symmetric key ``key_ref`` (a ciphertext blob Decrypt opens), and in clear when
        ``with_plaintext``; the public key in clear."""
        action = (
            "kms:GenerateDataKeyPair"
            if with_plaintext
            else "kms:GenerateDataKeyPairWithoutPlaintext"
        )
        if pair_spec not in asymmetric.DATA_KEY_PAIR_SPECS:
            raise InvalidKeyParameter(f"KeyPairSpec {pair_spec[:64]} is not offered")
        key = self._encrypting(
            await self._resolve(
                caller, key_ref, action, context, request={"kms:DataKeyPairSpec": pair_spec}
            )
        )
        private_der, public_der = await asyncio.to_thread(asymmetric.generate_key_pair, pair_spec)
        blob = await self._seal(key, private_der, context, caller)
        return DataKeyPair(private_der if with_plaintext else None, blob, public_der, key)

    async def generate_random(self, caller: Caller, size: int) -> bytes:
        await self._allow_identity(caller, "kms:GenerateRandom")
        if not 1 <= size <= MAX_RANDOM_BYTES:
            raise InvalidKeyParameter("NumberOfBytes must be 1 to 1024")
        return secrets.token_bytes(size)

    # --- signing keys ----------------------------------------------------------------------

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

    async def sign(
        self, caller: Caller, key_ref: str, message: bytes, algorithm: str, *, digest: bool
    ) -> tuple[bytes, CustomerKey]:
        """The signature of ``message`` (its hash when ``digest``) by the key's private key,
        made by the root-key provider (inside the token with PKCS#11)."""
        key = self._signing(
            await self._resolve(
                caller, key_ref, "kms:Sign", request=_signing_keys(algorithm, digest)
            )
        )
        self._check_message(message)
        with _crypto_errors():
            if key.sealed_private_key is not None:  # a key made before decision 0048
                private_der = await self._unseal_secret(key)
                signature = await asyncio.to_thread(
                    asymmetric.sign, key.key_spec, private_der, algorithm, message, digest=digest
                )
            else:
                signature = await self._provider(
                    self._keys.sign, key.key_id, algorithm, message, digest=digest
                )
        return signature, key

    async def verify(
        self,
        caller: Caller,
        key_ref: str,
        message: bytes,
        signature: bytes,
        algorithm: str,
        *,
        digest: bool,
    ) -> CustomerKey:
        """Nothing if ``signature`` is the key's over ``message``; ``InvalidSignature`` if not."""
        key = self._signing(
            await self._resolve(
                caller, key_ref, "kms:Verify", request=_signing_keys(algorithm, digest)
            )
        )
        self._check_message(message)
        assert key.public_key is not None  # noqa: S101 (_signing checked it)
        with _crypto_errors():
            await asyncio.to_thread(
                asymmetric.verify,
                key.key_spec,
                key.public_key,
                algorithm,
                message,
                signature,
                digest=digest,
            )
        return key

    async def generate_mac(
        self, caller: Caller, key_ref: str, message: bytes, algorithm: str
    ) -> tuple[bytes, CustomerKey]:
        key = await self._mac_key(caller, key_ref, "kms:GenerateMac", algorithm)
        return await self._make_mac(key, algorithm, message), key

    async def verify_mac(
        self, caller: Caller, key_ref: str, message: bytes, given: bytes, algorithm: str
    ) -> CustomerKey:
        """Nothing if ``given`` is the key's MAC over ``message`` (compared in constant time);
        ``InvalidMac`` if not."""
        key = await self._mac_key(caller, key_ref, "kms:VerifyMac", algorithm)
        if not hmac.compare_digest(await self._make_mac(key, algorithm, message), given):
            raise InvalidMac("the MAC does not verify")
        return key

    async def _mac_key(
        self, caller: Caller, key_ref: str, action: str, algorithm: str
    ) -> CustomerKey:
        """A usable HMAC key the caller may use for ``action``."""
        key = self._usable(
            await self._resolve(caller, key_ref, action, request={"kms:MacAlgorithm": algorithm})
        )
        if key.key_usage != KEY_USAGE_GENERATE_VERIFY_MAC or key.key_spec not in mac.MAC_KEY_SPECS:
            raise InvalidKeyUsage(f"{key.arn} key usage is {key.key_usage}: it makes no MAC")
        return key

    async def _make_mac(self, key: CustomerKey, algorithm: str, message: bytes) -> bytes:
        """The key's MAC of ``message``, made by the root-key provider (inside the token with
        PKCS#11)."""
        with _crypto_errors():
            if key.sealed_private_key is not None:  # a key made before decision 0048
                secret = await self._unseal_secret(key)
                return mac.make_mac(key.key_spec, secret, algorithm, message)
            return await self._provider(self._keys.mac, key.key_id, algorithm, message)

    async def _unseal_secret(self, key: CustomerKey) -> bytes:
        """The private key or HMAC secret of a key made before decision 0048, which the record
        keeps sealed under the key's own ring, for the one call that needs it."""
        if key.sealed_private_key is None:
            raise InvalidKeyUsage(f"{key.arn} has no private key or secret")
        return await self._open(
            key, CiphertextBlob.decode(key.sealed_private_key), _private_key_context(key)
        )

    async def derive_shared_secret(
        self, caller: Caller, key_ref: str, algorithm: str, peer_public_key: bytes
    ) -> tuple[bytes, CustomerKey]:
        """The raw ECDH shared secret of the key's private key and the other party's public key
        (SubjectPublicKeyInfo DER, on the key's curve), computed by the root-key provider
        (inside the token with PKCS#11). The key must be a usable ``KEY_AGREEMENT`` key."""
        key = self._usable(
            await self._resolve(
                caller,
                key_ref,
                "kms:DeriveSharedSecret",
                request={"kms:KeyAgreementAlgorithm": algorithm},
            )
        )
        if key.key_usage != KEY_USAGE_KEY_AGREEMENT or key.public_key is None:
            raise InvalidKeyUsage(
                f"{key.arn} key usage is {key.key_usage}: it is not valid for DeriveSharedSecret"
            )
        with _crypto_errors():
            asymmetric.check_key_agreement(key.key_spec, algorithm)
            asymmetric.peer_public_key(key.key_spec, peer_public_key)
            secret = await self._provider(
                self._keys.derive_shared_secret, key.key_id, algorithm, peer_public_key
            )
        return secret, key

    async def encapsulate(
        self, caller: Caller, key_ref: str, algorithm: str
    ) -> tuple[bytes, bytes, CustomerKey]:
        """A fresh 32-byte shared secret and its ciphertext under the key's ML-KEM public key
        (which any holder of the public key could make; the key must still be usable and the
        caller allowed ``kms:Encapsulate``)."""
        key = self._encapsulating(await self._resolve(caller, key_ref, "kms:Encapsulate"))
        assert key.public_key is not None  # noqa: S101 (_encapsulating checks it)
        with _crypto_errors():
            secret, ciphertext = await asyncio.to_thread(
                asymmetric.encapsulate, key.key_spec, key.public_key, algorithm
            )
        return secret, ciphertext, key

    async def decapsulate(
        self, caller: Caller, key_ref: str, ciphertext: bytes, algorithm: str
    ) -> tuple[bytes, CustomerKey]:
        """The shared secret ``ciphertext`` encapsulates, by the root-key provider with the
        key's ML-KEM private key: 32 bytes, pseudo-random for a ciphertext altered or made for
        another key (implicit rejection, FIPS 203); InvalidCiphertext for one of the wrong
        length."""
        key = self._encapsulating(await self._resolve(caller, key_ref, "kms:Decapsulate"))
        with _crypto_errors():
            asymmetric.check_encapsulation(key.key_spec, algorithm)
            secret = await self._provider(self._keys.decapsulate, key.key_id, algorithm, ciphertext)
        return secret, key

    def _encapsulating(self, key: CustomerKey) -> CustomerKey:
        """A usable ML-KEM key, or ``InvalidKeyUsage``."""
        self._usable(key)
        if key.key_usage != KEY_USAGE_ENCAPSULATE_DECAPSULATE or key.public_key is None:
            raise InvalidKeyUsage(
                f"{key.arn} key usage is {key.key_usage}: it does not encapsulate"
            )
        return key

    async def get_public_key(self, caller: Caller, key_ref: str) -> CustomerKey:
        key = self._usable(await self._resolve(caller, key_ref, "kms:GetPublicKey"))
        if key.public_key is None:
            raise UnsupportedKeyOperation(f"{key.arn} is a symmetric key: it has no public key")
        return key

    @staticmethod
    def _check_message(message: bytes) -> None:
        if not 1 <= len(message) <= asymmetric.MAX_MESSAGE_SIZE:
            raise InvalidKeyParameter(f"Message must be 1 to {asymmetric.MAX_MESSAGE_SIZE} bytes")

    def _signing(self, key: CustomerKey) -> CustomerKey:
        """A usable signing key, or ``InvalidKeyUsage``."""
        self._usable(key)
        if key.key_usage != KEY_USAGE_SIGN_VERIFY or key.public_key is None:
            raise InvalidKeyUsage(f"{key.arn} key usage is {key.key_usage}: it does not sign")
        return key

    def _rsa_encrypting(self, key: CustomerKey, context: Mapping[str, str]) -> CustomerKey:
        """A usable RSA encryption key, or ``InvalidKeyUsage``; an encryption context is
        refused (RSA ciphertexts cannot bind one)."""
        self._usable(key)
        if (
            key.key_usage != KEY_USAGE_ENCRYPT_DECRYPT
            or key.key_spec not in asymmetric.RSA_KEY_SPECS
            or key.public_key is None
        ):
            raise InvalidKeyUsage(f"{key.arn} is not an RSA encryption key")
        if context:
            raise InvalidKeyParameter("An encryption context is not supported by asymmetric keys")
        return key

    def _encrypting(self, key: CustomerKey) -> CustomerKey:
        """A usable symmetric encryption key, or ``InvalidKeyUsage``."""
        self._usable(key)
        if not key.symmetric or key.key_usage != KEY_USAGE_ENCRYPT_DECRYPT:
            raise InvalidKeyUsage(
                f"{key.arn} key usage is {key.key_usage}: it does not encrypt or decrypt"
            )
        return key

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

    # --- the SSE-KMS hook -------------------------------------------------------------------

    @property
    def region(self) -> str:
        return self._region

    async def aws_managed_key(self, account_id: str, service: str) -> tuple[CustomerKey, bool]:
        """The account's AWS-managed key for ``service`` (alias ``alias/aws/<service>``), made on
        first use as AWS does, by the platform (no caller to authorise); True if this call made
        it. Its policy lets the account use it through the service only and manage nothing."""
        name = f"{RESERVED_ALIAS_PREFIX}{service}"
        alias = await self._store.get_alias(account_id, self._region, name)
        if alias is not None:
            existing = await self._store.get_key(alias.key_id)
            if existing is not None:
                return existing, False
        key = CustomerKey(
            key_id=str(uuid.uuid4()),
            tenant_id=account_id,
            region=self._region,
            description=f"Default key that protects my {service.upper()} objects when no "
            "other key is defined",
            state=KeyState.ENABLED,
            created_at=self._clock(),
            policy=aws_managed_key_policy(account_id, service, self._region),
            key_manager=KEY_MANAGER_AWS,
        )
        await self._provider(self._keys.create_tenant_key, key.key_id)
        try:
            await self._store.insert_key(key)
        except BaseException:
            await self._provider(self._keys.destroy_tenant_key, key.key_id)
            raise
        now = self._clock()
        try:
            await self._store.insert_alias(
                Alias(
                    account_id,
                    name,
                    key.key_id,
                    created_at=now,
                    updated_at=now,
                    region=self._region,
                )
            )
        except AliasAlreadyExists:
            # Another request made it first: use that one; this one never protected anything.
            await self._store.delete_key(key.key_id)
            await self._provider(self._keys.destroy_tenant_key, key.key_id)
            return await self.aws_managed_key(account_id, service)
        return key, True

    async def key_for_sse(
        self,
        caller: Caller,
        key_ref: str,
        context: Mapping[str, str],
        *,
        action: str = "kms:GenerateDataKey",
    ) -> SseKey:
        """Check that ``caller`` may use the CMK named by ``key_ref`` (id, ARN, alias name or
        alias ARN) under ``context`` and that it is Enabled; return the key ring that wraps the
        object's data keys. Pass ``action="kms:Decrypt"`` on the read path.

        Raises ``CmkNotFound``, ``CmkAccessDenied``, ``CmkDisabled``, ``CmkInvalidState``."""
        key = self._one_layer(
            self._encrypting(await self._resolve(caller, key_ref, action, context))
        )
        return SseKey(key.key_id, key.arn, key.key_id, key.in_external_key_store)

    async def key_for_service_use(self, key_arn: str, *, alias_arn: bool = False) -> SseKey:
        """The key ``key_arn`` for a use the platform makes on a resource's behalf, under the
        authorisation its caller was checked for when the resource was made — as AWS EBS uses
        the grant it takes on a volume's key: opening a volume's data key at each attach or
        boot. No caller, so no policy: the key must exist and be usable (Enabled, material
        not expired), which is what the customer controls by disabling or deleting it.
        ``alias_arn``: an alias ARN is taken too, resolved now (S3 replication's
        ``ReplicaKmsKeyID`` may be one: re-pointing the alias takes effect at the next use).
        The key is always the one of the ARN's account.

        Raises ``CmkNotFound`` (deleted, or not a key ARN), ``CmkDisabled``, ``CmkInvalidState``."""
        reference = parse_key_reference(key_arn)
        kinds = (
            (ReferenceKind.KEY_ARN, ReferenceKind.ALIAS_ARN)
            if alias_arn
            else (ReferenceKind.KEY_ARN,)
        )
        if reference is None or reference.kind not in kinds or reference.account is None:
            raise CmkNotFound(f"Key '{key_arn[:256]}' does not exist")
        key_id: str | None = record_id_of(reference.value, reference.region or self._region)
        if reference.is_alias:
            # An alias ARN names the alias of its own region (decision 0138).
            region = reference.region or self._region
            alias = await self._store.get_alias(reference.account, region, reference.value)
            key_id = None if alias is None else alias.key_id
        key = None if key_id is None else await self._store.get_key(key_id)
        if key is None or key.tenant_id != reference.account or key.region != reference.region:
            raise CmkNotFound(f"Key '{key_arn[:256]}' does not exist")
        key = self._one_layer(self._encrypting(key))
        return SseKey(key.key_id, key.arn, key.key_id, key.in_external_key_store)

    def _one_layer(self, key: CustomerKey) -> CustomerKey:
        """A key of an external key store wraps the data keys of S3 objects and EBS volumes in
        two layers (decision 0094): its ring is marked so in the key service, which from then
        on neither makes nor opens a one-layer key of it bound to a context. Refused where no
        external key stores are offered (nothing could add the customer's layer)."""
        if key.in_external_key_store:
            if self._xks is None:
                raise CmkInvalidState(f"{key.arn} is in an external key store, not offered here")
            self._keys.mark_external(key.key_id)
        return key

    # --- the external layer of S3's and EBS's data keys (kms.external_keys.ExternalDataKeys) --

    async def wrap_data_key(
        self,
        ring: str,
        kek_version: int,
        sealed: bytes,
        bound_context: bytes,
        *,
        operation: str,
        via_service: str,
    ) -> ExternalLayer:
        """The proxy's Encrypt of the inner form of a data key of the KMS key ``ring``."""
        key, xks = await self._external_key(ring)
        return await xks.wrap_data_key(
            key, kek_version, sealed, bound_context, _service_metadata(key, operation, via_service)
        )

    async def unwrap_data_key(
        self,
        ring: str,
        kek_version: int,
        layer: ExternalLayer,
        bound_context: bytes,
        *,
        operation: str,
        via_service: str,
    ) -> bytes:
        """The inner form of a two-layer data key of the KMS key ``ring``, from the proxy."""
        key, xks = await self._external_key(ring)
        return await xks.unwrap_data_key(
            key, kek_version, layer, bound_context, _service_metadata(key, operation, via_service)
        )

    async def _external_key(self, ring: str) -> tuple[CustomerKey, CustomKeyStoreService]:
        """The usable KMS key of an external key store whose ring is ``ring``: read again for
        each proxy call (its state may have changed since the request's check)."""
        key = await self._store.get_key(ring)
        if key is None:
            raise CmkNotFound("the key of this data key does not exist")
        if not key.in_external_key_store or self._xks is None:
            raise CmkInvalidState(f"{key.arn} is not in an external key store")
        return self._usable(key), self._xks

    async def destroy_account_keys(self, account_id: str) -> tuple[str, ...]:
        """Crypto-shred every KMS key of a closed account at once, its AWS-managed ones
        included: each ring is destroyed in the root-key provider, then the key forgotten. No
        waiting period: closing an account is final (the operator's act, not the tenant's)."""
        destroyed: list[str] = []
        while keys := await self._store.list_keys(account_id, after=None, limit=_UPKEEP_BATCH):
            for key in keys:
                await asyncio.to_thread(self._keys.destroy_tenant_key, key.key_id)
                await self._store.delete_key(key.record_id)
                destroyed.append(key.key_id)
        return tuple(destroyed)

    # --- deletion and rotation upkeep ----------------------------------------------------

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
            # As DeleteImportedKeyMaterial: the material first, then the record (a record
            # changed meanwhile is still expired at the next pass, and withdrawing is
            # idempotent).
            if not key.imported_materials:
                await asyncio.to_thread(self._keys.withdraw_tenant_key, key.key_id)
                changed = key.without_material()
            else:
                for held in key.imported_materials:
                    if held.expired(now):
                        await asyncio.to_thread(
                            self._keys.withdraw_tenant_key, key.key_id, held.version
                        )
                changed = key.with_materials(
                    [
                        replace(m, imported=False, valid_to=None) if m.expired(now) else m
                        for m in key.imported_materials
                    ]
                )
            if await self._store.replace_key(changed):
                expired.append(key.key_id)
        return UpkeepReport(tuple(destroyed), tuple(rotated), tuple(expired))

    # --- internals ---------------------------------------------------------------------------

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
