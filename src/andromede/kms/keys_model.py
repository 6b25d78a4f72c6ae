"""Pure domain of customer-managed KMS keys (CMKs): the key record, its state machine, aliases,
key references and the default key policy. No I/O here.

A CMK's key material is a key ring of the root-key provider named by the key id (a uuid), so
it lives only there (HSM token or keystore file): destroying the ring after the deletion window
makes every ciphertext of the key unreadable, whatever database backup is restored later. This
module holds the metadata the database keeps beside it.

States and the events that move between them (AWS KMS's, for symmetric keys of origin
AWS_KMS)::

    Enabled ──disable──▶ Disabled ──enable──▶ Enabled
    Enabled | Disabled ──schedule deletion──▶ PendingDeletion ──cancel──▶ Disabled
    PendingDeletion ──window over──▶ (material destroyed, record removed: NotFound)

A key of origin EXTERNAL starts without material, in PendingImport; importing its material
enables it, and deleting the material (or its expiry) takes it back to PendingImport, from
which the same material may be imported again (decision 0046)::

    PendingImport ──import──▶ Enabled ──delete material / expiry──▶ PendingImport
    Enabled | Disabled ──import again (the same material)──▶ unchanged
    PendingImport ──schedule deletion──▶ PendingDeletion ──cancel──▶ PendingImport

A symmetric key of origin EXTERNAL may hold several imported materials (decision 0085), each in
its own version of the key's ring: the first, current from its import; then, one at a time,
new material imported as PENDING_ROTATION (staged in the ring, used for nothing) until
RotateKeyOnDemand makes it CURRENT and the one before NON_CURRENT (it still decrypts). The key
is usable only while every material associated with it (current and non-current: pending
material is not associated yet) is imported: deleting any of them, or its expiry, takes the key
to PendingImport until that same material is imported again::

    first import ─▶ CURRENT ─▶ (new import) PENDING_ROTATION ─▶ (rotation) CURRENT,
                                                               the one before NON_CURRENT
"""

from __future__ import annotations

import enum
import hmac
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from andromede.kms.keys_errors import CmkInvalidState, InvalidKeyParameter

__all__ = [
    "ALIAS_PREFIX",
    "DEFAULT_GRANTS_PER_KEY",
    "DEFAULT_ON_DEMAND_ROTATIONS",
    "DEFAULT_PENDING_WINDOW_DAYS",
    "DEFAULT_ROTATION_PERIOD_DAYS",
    "GRANT_OPERATIONS",
    "KEY_RECORD_FORMAT",
    "Alias",
    "CustomerKey",
    "Grant",
    "GrantConstraints",
    "InvalidKeyTransition",
    "KeyEvent",
    "KeyMaterial",
    "KeyReference",
    "KeyRotation",
    "KeyState",
    "MaterialState",
    "ReferenceKind",
    "RotationEntry",
    "RotationType",
    "alias_arn",
    "aws_managed_key_policy",
    "check_alias_name",
    "check_tags",
    "default_key_policy",
    "key_arn",
    "next_state",
    "parse_key_reference",
]

KEY_RECORD_FORMAT = 1
ALIAS_PREFIX = "alias/"
RESERVED_ALIAS_PREFIX = "alias/aws/"
KEY_MANAGER_CUSTOMER = "CUSTOMER"
KEY_MANAGER_AWS = "AWS"  # a service's default key (``alias/aws/s3``), made by the platform
DEFAULT_PENDING_WINDOW_DAYS = 30
MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30
DEFAULT_ROTATION_PERIOD_DAYS = 365
# AWS KMS's quota, not adjustable there: each rotation adds a version to the key's ring, which
# the root-key provider keeps for the key's lifetime (an object in the HSM token).
DEFAULT_ON_DEMAND_ROTATIONS = 25
DEFAULT_GRANTS_PER_KEY = 50_000  # AWS KMS's quota
# The operations a grant may allow (AWS KMS's list, less key agreement, which this service
# does not offer).
GRANT_OPERATIONS: Final = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "CreateGrant",
        "RetireGrant",
        "DescribeKey",
        "Sign",
        "Verify",
        "GetPublicKey",
        "GenerateMac",
        "VerifyMac",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
    }
)
# The operations an encryption-context constraint applies to (those that take a context).
CONTEXT_OPERATIONS: Final = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
    }
)
MIN_ROTATION_PERIOD_DAYS = 90
MAX_ROTATION_PERIOD_DAYS = 2560
KEY_USAGE_ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
KEY_USAGE_SIGN_VERIFY = "SIGN_VERIFY"
KEY_USAGE_GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
KEY_USAGE_KEY_AGREEMENT = "KEY_AGREEMENT"
KEY_USAGE_ENCAPSULATE_DECAPSULATE = "ENCAPSULATE_DECAPSULATE"
KEY_SPEC_SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ORIGIN_AWS_KMS = "AWS_KMS"
ORIGIN_EXTERNAL = "EXTERNAL"  # imported key material (decision 0046)
ORIGIN_EXTERNAL_KEY_STORE = "EXTERNAL_KEY_STORE"  # an XKS proxy's key, over a ring (0090)
EXPIRATION_KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
EXPIRATION_KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
IMPORT_NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"  # decision 0085
IMPORT_EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"
# AWS KMS's: imported material may be set to expire at most this far ahead.
MAX_MATERIAL_VALIDITY_DAYS = 365
MAX_DESCRIPTION_LENGTH = 8192
MAX_ALIAS_LENGTH = 256
MAX_TAGS = 50
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256

_ALIAS_NAME: Final = re.compile(r"alias/[A-Za-z0-9/_-]+")
_KEY_ARN: Final = re.compile(r"arn:aws:kms:([a-z0-9-]+):(\d{12}):key/(.+)")
_MRK_ID: Final = re.compile(r"mrk-[0-9a-f]{32}")
MULTI_REGION_PREFIX: Final = "mrk-"
# A multi-Region key has one record per region under one key id: the record's own id is the
# key id and the region (decision 0138); any other key's record id is its key id.
_RECORD_SEPARATOR: Final = "@"


def record_id_of(key_id: str, region: str) -> str:
    """The store's id of the record of key ``key_id`` in ``region``."""
    if key_id.startswith(MULTI_REGION_PREFIX):
        return f"{key_id}{_RECORD_SEPARATOR}{region}"
    return key_id


def key_id_of(record_id: str) -> str:
    """The key id of the store's record ``record_id`` (the inverse of :func:`record_id_of`)."""
    return record_id.partition(_RECORD_SEPARATOR)[0]


def region_of(record_id: str) -> str | None:
    """The region a record id names (a multi-Region key's); None for any other key's."""
    return record_id.partition(_RECORD_SEPARATOR)[2] or None


class MultiRegionKeyType(enum.Enum):
    PRIMARY = "PRIMARY"
    REPLICA = "REPLICA"


_ALIAS_ARN: Final = re.compile(r"arn:aws:kms:([a-z0-9-]+):(\d{12}):(alias/.+)")


class InvalidKeyTransition(CmkInvalidState):
    """The key's state does not allow the requested change (AWS: KMSInvalidStateException)."""

    def __init__(self, state: KeyState, event: KeyEvent) -> None:
        super().__init__(f"the key is {state.value}: it cannot {event.value}")
        self.state = state
        self.event = event


class KeyState(enum.Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_IMPORT = "PendingImport"
    # A multi-Region primary key scheduled for deletion while it has replicas (decision 0138).
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"


class RotationType(enum.Enum):
    AUTOMATIC = "AUTOMATIC"
    ON_DEMAND = "ON_DEMAND"


class MaterialState(enum.Enum):
    """Where one imported material of a symmetric EXTERNAL key stands (AWS KeyMaterialState)."""

    CURRENT = "CURRENT"  # wraps new data keys, and decrypts
    NON_CURRENT = "NON_CURRENT"  # decrypts what it wrapped before a rotation
    PENDING_ROTATION = "PENDING_ROTATION"  # imported, not yet associated: used for nothing


class KeyEvent(enum.Enum):
    ENABLE = "be enabled"
    DISABLE = "be disabled"
    SCHEDULE_DELETION = "be scheduled for deletion"
    CANCEL_DELETION = "have its deletion cancelled"
    IMPORT_MATERIAL = "have key material imported"
    DELETE_MATERIAL = "have its key material deleted"


_S = KeyState
_E = KeyEvent
# Enabling an enabled key (or disabling a disabled one) is a no-op on AWS, not an error.
TRANSITIONS: Final[dict[tuple[KeyState, KeyEvent], KeyState]] = {
    (_S.ENABLED, _E.ENABLE): _S.ENABLED,
    (_S.DISABLED, _E.ENABLE): _S.ENABLED,
    (_S.ENABLED, _E.DISABLE): _S.DISABLED,
    (_S.DISABLED, _E.DISABLE): _S.DISABLED,
    (_S.ENABLED, _E.SCHEDULE_DELETION): _S.PENDING_DELETION,
    (_S.DISABLED, _E.SCHEDULE_DELETION): _S.PENDING_DELETION,
    (_S.PENDING_DELETION, _E.CANCEL_DELETION): _S.DISABLED,
    (_S.PENDING_REPLICA_DELETION, _E.CANCEL_DELETION): _S.DISABLED,
    (_S.PENDING_IMPORT, _E.SCHEDULE_DELETION): _S.PENDING_DELETION,
    # Imported material: a key without it waits in PendingImport (see ``CustomerKey.moved``).
    (_S.PENDING_IMPORT, _E.IMPORT_MATERIAL): _S.ENABLED,
    (_S.ENABLED, _E.IMPORT_MATERIAL): _S.ENABLED,
    (_S.DISABLED, _E.IMPORT_MATERIAL): _S.DISABLED,
    (_S.ENABLED, _E.DELETE_MATERIAL): _S.PENDING_IMPORT,
    (_S.DISABLED, _E.DELETE_MATERIAL): _S.PENDING_IMPORT,
    (_S.PENDING_IMPORT, _E.DELETE_MATERIAL): _S.PENDING_IMPORT,
    (_S.PENDING_DELETION, _E.DELETE_MATERIAL): _S.PENDING_DELETION,
}


def next_state(state: KeyState, event: KeyEvent) -> KeyState:
    """The state after ``event``, or ``InvalidKeyTransition``."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidKeyTransition(state, event) from None


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias_name: str) -> str:
    return f"arn:aws:kms:{region}:{account}:{alias_name}"


def default_key_policy(account: str) -> str:
    """AWS's default key policy: the account (root, and through IAM its principals) may use and
    manage the key."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def aws_managed_key_policy(account: str, service: str, region: str) -> str:
    """AWS's policy of a service's AWS-managed key (``aws/s3``): every principal of the account
    may use it through that service, the account may read its metadata, and nobody may manage
    it (disable, delete, change its policy): those calls are refused as not allowed."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-2",
            "Statement": [
                {
                    "Sid": f"Allow access through {service.upper()} for all principals in the "
                    f"account that are authorized to use {service.upper()}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def check_alias_name(name: str) -> str:
    """``name`` if it is a valid alias a tenant may own, else ``ValueError``."""
    if len(name) > MAX_ALIAS_LENGTH or not _ALIAS_NAME.fullmatch(name):
        raise ValueError("an alias name is alias/ followed by A-Z a-z 0-9 / _ -, 256 at most")
    if name.startswith(RESERVED_ALIAS_PREFIX):
        raise PermissionError("alias names starting with alias/aws/ are reserved for AWS")
    return name


def check_tags(tags: Sequence[tuple[str, str]]) -> None:
    """``InvalidKeyParameter`` unless ``tags`` are AWS-valid tags of one key (unique keys)."""
    keys = [k for k, _ in tags]
    if len(keys) != len(set(keys)):
        raise InvalidKeyParameter("Tag keys must be unique")
    if len(keys) > MAX_TAGS:
        raise InvalidKeyParameter(f"A key has at most {MAX_TAGS} tags")
    for key, value in tags:
        if not 1 <= len(key) <= MAX_TAG_KEY_LENGTH or len(value) > MAX_TAG_VALUE_LENGTH:
            raise InvalidKeyParameter("A tag key is 1-128 characters, a tag value 0-256")
        if key.lower().startswith("aws:"):
            raise InvalidKeyParameter("Tag keys starting with aws: are reserved")


def canonical_key_id(text: str) -> str | None:
    """The lower-case uuid form of a key id (``mrk-`` and 32 hex digits for a multi-Region
    key, decision 0138), or None if ``text`` is not one."""
    if text[:4].lower() == MULTI_REGION_PREFIX:
        return text.lower() if _MRK_ID.fullmatch(text.lower()) else None
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    canonical = str(parsed)
    return canonical if canonical == text.lower() else None


class ReferenceKind(enum.Enum):
    KEY_ID = "key id"
    KEY_ARN = "key ARN"
    ALIAS_NAME = "alias name"
    ALIAS_ARN = "alias ARN"


@dataclass(frozen=True, slots=True)
class KeyReference:
    """How a request names a key: ``value`` is the key id or the alias name; ``account`` and
    ``region`` are those of an ARN (None for a bare id or alias name: the caller's account)."""

    kind: ReferenceKind
    value: str
    account: str | None = None
    region: str | None = None

    @property
    def is_alias(self) -> bool:
        return self.kind in (ReferenceKind.ALIAS_NAME, ReferenceKind.ALIAS_ARN)


def parse_key_reference(text: str) -> KeyReference | None:
    """Parse a ``KeyId`` parameter; None when it cannot name any key (AWS: NotFoundException)."""
    if text.startswith(ALIAS_PREFIX):
        return KeyReference(ReferenceKind.ALIAS_NAME, text) if _ALIAS_NAME.fullmatch(text) else None
    match = _KEY_ARN.fullmatch(text)
    if match:
        key_id = canonical_key_id(match[3])
        if key_id is None:
            return None
        return KeyReference(ReferenceKind.KEY_ARN, key_id, match[2], match[1])
    match = _ALIAS_ARN.fullmatch(text)
    if match:
        if not _ALIAS_NAME.fullmatch(match[3]):
            return None
        return KeyReference(ReferenceKind.ALIAS_ARN, match[3], match[2], match[1])
    key_id = canonical_key_id(text)
    return None if key_id is None else KeyReference(ReferenceKind.KEY_ID, key_id)


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """One imported material of a symmetric EXTERNAL key (decision 0085): the version of the
    key's ring that holds it, its id (a keyed digest of it: only the same material comes back
    under it), whether the ring holds it now (AWS ImportState IMPORTED / PENDING_IMPORT), when
    it expires, the customer's description, and when a rotation made it current (None for the
    first material, and for one still pending)."""

    material_id: str
    version: int
    state: MaterialState
    imported: bool
    expiration_model: str | None = None
    valid_to: datetime | None = None
    description: str | None = None
    rotated_at: datetime | None = None

    @property
    def associated(self) -> bool:
        """Whether the key needs it (current or non-current): pending material it does not."""
        return self.state is not MaterialState.PENDING_ROTATION

    def expired(self, now: datetime) -> bool:
        return self.imported and self.valid_to is not None and self.valid_to <= now

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.material_id,
            "version": self.version,
            "state": self.state.value,
            "imported": self.imported,
            "model": self.expiration_model,
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "description": self.description,
            "rotated_at": None if self.rotated_at is None else self.rotated_at.isoformat(),
        }

    @classmethod
    def from_json(cls, entry: Mapping[str, object]) -> KeyMaterial:
        def moment(name: str) -> datetime | None:
            value = entry.get(name)
            return None if value is None else datetime.fromisoformat(str(value))

        model = entry.get("model")
        description = entry.get("description")
        version = entry["version"]
        if not isinstance(version, int):
            raise ValueError("a key material's version is an integer")
        return cls(
            material_id=str(entry["id"]),
            version=version,
            state=MaterialState(entry["state"]),
            imported=bool(entry["imported"]),
            expiration_model=None if model is None else str(model),
            valid_to=moment("valid_to"),
            description=None if description is None else str(description),
            rotated_at=moment("rotated_at"),
        )


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """The metadata of one CMK (its material is the provider's key ring named ``key_id``)."""

    key_id: str
    tenant_id: str
    region: str
    description: str
    state: KeyState
    created_at: datetime
    policy: str
    key_usage: str = KEY_USAGE_ENCRYPT_DECRYPT
    key_spec: str = KEY_SPEC_SYMMETRIC_DEFAULT
    origin: str = ORIGIN_AWS_KMS
    key_manager: str = KEY_MANAGER_CUSTOMER
    deletion_date: datetime | None = None
    rotation_enabled: bool = False
    rotation_period_days: int = DEFAULT_ROTATION_PERIOD_DAYS
    next_rotation_date: datetime | None = None
    tags: tuple[tuple[str, str], ...] = field(default=())
    # A signing key's pair: the public key (SubjectPublicKeyInfo DER), and the private key
    # (PKCS#8 DER) sealed under this key's own ring, so it dies with the ring. An HMAC key's
    # secret is sealed the same way, in the same field.
    public_key: bytes | None = None
    sealed_private_key: bytes | None = None
    # Origin EXTERNAL: whether the ring holds imported material now, the id of the material
    # first imported (a keyed digest of it: only the same material may come back), and when
    # the current import expires (None: never).
    has_material: bool = True
    key_material_id: str | None = None
    expiration_model: str | None = None
    valid_to: datetime | None = None
    # A symmetric EXTERNAL key's materials, by ring version (decision 0085); the fields above
    # then describe its current one. Empty for every other key, and for one never imported.
    materials: tuple[KeyMaterial, ...] = ()
    # Origin EXTERNAL_KEY_STORE (decision 0090): the custom key store and the external key's
    # id at its proxy. Such a key also has a ring of its own: both layers are needed.
    custom_key_store_id: str | None = None
    xks_key_id: str | None = None
    # A multi-Region key's role in this region (None: a single-Region key), and a primary's
    # waiting period while it is PendingReplicaDeletion (decision 0138).
    multi_region_type: MultiRegionKeyType | None = None
    pending_window_days: int | None = None
    format_version: int = KEY_RECORD_FORMAT
    # Bumped by every stored change: a write based on an older read is refused and retried.
    revision: int = 0

    @property
    def symmetric(self) -> bool:
        return self.key_spec == KEY_SPEC_SYMMETRIC_DEFAULT

    @property
    def arn(self) -> str:
        return key_arn(self.region, self.tenant_id, self.key_id)

    @property
    def record_id(self) -> str:
        """The store's id of this record (a multi-Region key has one per region)."""
        return record_id_of(self.key_id, self.region)

    @property
    def multi_region(self) -> bool:
        return self.multi_region_type is not None

    @property
    def external(self) -> bool:
        return self.origin == ORIGIN_EXTERNAL

    @property
    def in_external_key_store(self) -> bool:
        return self.origin == ORIGIN_EXTERNAL_KEY_STORE

    def moved(self, event: KeyEvent) -> CustomerKey:
        """This key after ``event`` (``InvalidKeyTransition`` if its state refuses it)."""
        state = next_state(self.state, event)
        if not self.has_material and state in (KeyState.ENABLED, KeyState.DISABLED):
            state = KeyState.PENDING_IMPORT  # a cancelled deletion of a key without material
        deletion_date = self.deletion_date if state is KeyState.PENDING_DELETION else None
        return replace(self, state=state, deletion_date=deletion_date, pending_window_days=None)

    def with_material(
        self, material_id: str, expiration_model: str, valid_to: datetime | None
    ) -> CustomerKey:
        """After an import of the material ``material_id`` names (the caller checked that it is
        the key's, if the key had material before)."""
        moved = replace(self, has_material=True).moved(KeyEvent.IMPORT_MATERIAL)
        return replace(
            moved,
            key_material_id=material_id,
            expiration_model=expiration_model,
            valid_to=valid_to,
        )

    def without_material(self) -> CustomerKey:
        """After its imported material was deleted (by request, or because it expired)."""
        moved = replace(self.moved(KeyEvent.DELETE_MATERIAL), has_material=False)
        return replace(moved, expiration_model=None, valid_to=None)

    @property
    def imported_materials(self) -> tuple[KeyMaterial, ...]:
        """A symmetric EXTERNAL key's materials by ring version. A key imported before they
        were kept (decision 0085) has its one material in the fields above: version 1,
        current. Empty for other keys, and for one never imported."""
        if self.materials or not (self.external and self.symmetric):
            return self.materials
        if self.key_material_id is None:
            return ()
        first = KeyMaterial(
            material_id=self.key_material_id,
            version=1,
            state=MaterialState.CURRENT,
            imported=self.has_material,
            expiration_model=self.expiration_model,
            valid_to=self.valid_to,
        )
        return (first,)

    def material_expired(self, now: datetime) -> bool:
        """Whether material the key needs has expired (upkeep then deletes it)."""
        if self.imported_materials:
            return any(m.associated and m.expired(now) for m in self.imported_materials)
        return self.has_material and self.valid_to is not None and self.valid_to <= now

    @property
    def material_expiry(self) -> datetime | None:
        """The first expiry of material the ring holds, pending material included: when
        upkeep has something to delete."""
        held = self.imported_materials
        if not held:
            return self.valid_to if self.has_material else None
        dates = [m.valid_to for m in held if m.imported and m.valid_to is not None]
        return min(dates, default=None)

    def material(self, material_id: str) -> KeyMaterial | None:
        """The material with this id (compared in constant time: ids are keyed digests)."""
        found = None
        for held in self.imported_materials:
            if hmac.compare_digest(held.material_id, material_id):
                found = held
        return found

    @property
    def pending_material(self) -> KeyMaterial | None:
        return next(
            (m for m in self.imported_materials if m.state is MaterialState.PENDING_ROTATION),
            None,
        )

    def with_materials(self, materials: Sequence[KeyMaterial]) -> CustomerKey:
        """The key with these materials: the current one's id and expiry shown as the key's,
        and its state moved as they require (an import that completes the associated
        materials enables it; a missing one takes it to PendingImport)."""
        ordered = tuple(sorted(materials, key=lambda m: m.version))
        current = next((m for m in ordered if m.state is MaterialState.CURRENT), None)
        associated = [m for m in ordered if m.associated]
        complete = bool(associated) and all(m.imported for m in associated)
        changed = replace(
            self,
            materials=ordered,
            key_material_id=None if current is None else current.material_id,
            expiration_model=current.expiration_model if current and current.imported else None,
            valid_to=current.valid_to if current and current.imported else None,
        )
        if complete and not self.has_material:
            return replace(changed, has_material=True).moved(KeyEvent.IMPORT_MATERIAL)
        if not complete and self.has_material:
            return replace(changed.moved(KeyEvent.DELETE_MATERIAL), has_material=False)
        return changed

    def scheduled_for_deletion(self, now: datetime, window_days: int) -> CustomerKey:
        if not MIN_PENDING_WINDOW_DAYS <= window_days <= MAX_PENDING_WINDOW_DAYS:
            raise ValueError("the pending window is 7 to 30 days")
        moved = self.moved(KeyEvent.SCHEDULE_DELETION)
        return replace(moved, deletion_date=now + timedelta(days=window_days))

    def with_rotation(self, now: datetime, period_days: int | None) -> CustomerKey:
        """Automatic rotation on, every ``period_days`` (the current period when None)."""
        period = self.rotation_period_days if period_days is None else period_days
        if not MIN_ROTATION_PERIOD_DAYS <= period <= MAX_ROTATION_PERIOD_DAYS:
            raise ValueError("the rotation period is 90 to 2560 days")
        return replace(
            self,
            rotation_enabled=True,
            rotation_period_days=period,
            next_rotation_date=now + timedelta(days=period),
        )

    def without_rotation(self) -> CustomerKey:
        return replace(self, rotation_enabled=False, next_rotation_date=None)

    def rotated(self, now: datetime) -> CustomerKey:
        """After an automatic rotation: the next one is one period later."""
        if not self.rotation_enabled:
            return self
        return replace(self, next_rotation_date=now + timedelta(days=self.rotation_period_days))


@dataclass(frozen=True, slots=True)
class Alias:
    """A tenant's friendly name for one of its keys, in one region (decision 0138): as on AWS,
    an alias is a regional resource — one name is one alias in each region — and points at a
    key (``key_id``, its record id) of that region."""

    tenant_id: str
    name: str
    key_id: str
    created_at: datetime
    updated_at: datetime
    region: str

    @property
    def arn(self) -> str:
        return alias_arn(self.region, self.tenant_id, self.name)


@dataclass(frozen=True, slots=True)
class KeyRotation:
    """One completed rotation of a key's material (ListKeyRotations); ``rotation_id`` orders
    them and is the listing's marker."""

    rotation_id: int
    key_id: str
    rotated_at: datetime
    rotation_type: RotationType


@dataclass(frozen=True, slots=True)
class RotationEntry:
    """One line of ListKeyRotations: a key's material, with when and how a rotation made it
    current (None for the first material, and for one pending rotation). ``marker`` orders the
    lines and is the listing's marker; ``material`` is set for imported material only."""

    marker: int
    key_id: str
    material_id: str
    material_state: MaterialState
    rotated_at: datetime | None
    rotation_type: RotationType | None
    material: KeyMaterial | None = None


@dataclass(frozen=True, slots=True)
class GrantConstraints:
    """A grant's encryption-context constraint: the request's context must contain these pairs
    (``subset``) or be exactly them (``equals``). None: no constraint of that kind."""

    subset: tuple[tuple[str, str], ...] | None = None
    equals: tuple[tuple[str, str], ...] | None = None

    def allow(self, context: Mapping[str, str]) -> bool:
        if self.equals is not None and dict(self.equals) != dict(context):
            return False
        return self.subset is None or all(context.get(k) == v for k, v in self.subset)

    def at_least_as_strict_as(self, other: GrantConstraints) -> bool:
        """Whether every context this allows, ``other`` allows too (a grant made through a
        grant may narrow its parent, never widen it)."""
        if other.equals is not None:
            return self.equals is not None and dict(self.equals) == dict(other.equals)
        if other.subset is None:
            return True
        required = dict(other.subset)
        mine = dict(self.equals if self.equals is not None else self.subset or ())
        return all(mine.get(k) == v for k, v in required.items())


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission for one principal to use one key for some operations, beside the policies.

    ``grantee`` and ``retiring`` are principal ARNs; ``issuer`` is the ARN of the principal
    that made it."""

    grant_id: str
    key_id: str
    key_tenant: str
    grantee: str
    operations: tuple[str, ...]
    constraints: GrantConstraints
    issuer: str
    created_at: datetime
    name: str | None = None
    retiring: str | None = None

    def allows(self, operation: str, context: Mapping[str, str]) -> bool:
        if operation not in self.operations:
            return False
        return operation not in CONTEXT_OPERATIONS or self.constraints.allow(context)
