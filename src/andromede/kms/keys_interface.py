"""What CustomerKeyService's callers and its authoriser see of it: who calls (:class:`Caller`)
and the condition keys a request brings (:data:`RequestKeys`), the authoriser's protocol
(:class:`KeyAuthoriser`, :class:`Decision`), and the values the service answers (data keys,
import parameters, the SSE-KMS key, the upkeep report). ``customer_keys`` re-exports them all;
they live here so that its split-out parts (``multi_region_keys``) can use them at run time.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, NamedTuple, Protocol

from andromede.kms.keys_model import CustomerKey

__all__ = [
    "NO_KEYS",
    "Caller",
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


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: the account (tenant id) and ARN of the authenticated principal.

    ``principal`` is the wire layer's own principal object, handed back untouched to the
    :class:`KeyAuthoriser` (this context does not know IAM's types). ``resources`` collects the
    ARNs of the keys the call resolved, for the caller's audit record.
    """

    account_id: str
    arn: str
    principal: object = None
    source_ip: str | None = None
    secure: bool = False
    resources: list[str] = field(default_factory=list)
    # The service the call comes through (``kms:ViaService``): ``s3.<region>.amazonaws.com``.
    via_service: str | None = None
    # The KMS operation and its request id, which an external key store's proxy is told
    # (its requestMetadata: kmsOperation, kmsRequestId).
    operation: str = ""
    request_id: str = ""
    # The region the call was signed for (``aws:RequestedRegion``); None: the default region.
    region: str | None = None


# The condition keys a request brings to its own authorisation, beside the encryption context
# (``aws:RequestTag/<key>``, ``aws:TagKeys``, ``kms:ScheduleKeyDeletionPendingWindowInDays``…).
RequestKeys = Mapping[str, str | int | bool | Sequence[str]]
NO_KEYS: Final[RequestKeys] = {}


class Decision(enum.Enum):
    """What the policies say of one call: a grant may still allow what they only fail to
    allow (DENY), never what one of them denies (EXPLICIT_DENY)."""

    ALLOW = "allow"
    DENY = "deny"
    EXPLICIT_DENY = "explicit deny"


class KeyAuthoriser(Protocol):
    """The decision and policy grammar that belong to IAM, as this service needs them."""

    async def decide(
        self,
        caller: Caller,
        action: str,
        key: CustomerKey | None,
        encryption_context: Mapping[str, str],
        request: RequestKeys = NO_KEYS,
    ) -> Decision:
        """``allowed``'s answer, telling an explicit deny from the absence of an allow."""

    async def allowed(
        self,
        caller: Caller,
        action: str,
        key: CustomerKey | None,
        encryption_context: Mapping[str, str],
        request: RequestKeys = NO_KEYS,
    ) -> bool:
        """Whether ``caller`` may do ``action`` (``kms:Encrypt``) on ``key`` (on ``*`` when None:
        identity policies only) under AWS KMS's rules (the key policy is authoritative).
        ``request``: the request's own condition keys; the key's (``aws:ResourceTag/…``,
        ``kms:KeySpec``…) are the authoriser's to add."""

    async def identity_allows(
        self,
        caller: Caller,
        action: str,
        key: CustomerKey,
        encryption_context: Mapping[str, str],
        request: RequestKeys = NO_KEYS,
    ) -> bool:
        """Whether the caller's own IAM policies allow ``action`` on ``key`` (not the key
        policy): what a grant naming the caller's account asks of the account's users and
        roles. False for the account's root user and for callers without policies."""

    def check_policy(self, text: str) -> None:
        """``MalformedKeyPolicy`` unless ``text`` is a valid key policy."""


class DataKey(NamedTuple):
    """GenerateDataKey's answer: ``plaintext`` is None for the WithoutPlaintext variant."""

    plaintext: bytes | None
    ciphertext: bytes
    key: CustomerKey


class DataKeyPair(NamedTuple):
    """GenerateDataKeyPair's answer: ``private_plaintext`` (PKCS#8 DER) is None for the
    WithoutPlaintext variant; ``public_key`` is SubjectPublicKeyInfo DER."""

    private_plaintext: bytes | None
    private_ciphertext: bytes
    public_key: bytes
    key: CustomerKey


class ImportParameters(NamedTuple):
    """GetParametersForImport's answer: the wrapping public key (SubjectPublicKeyInfo DER), the
    token to send back with the material, and until when both are valid."""

    key: CustomerKey
    public_key: bytes
    import_token: bytes
    valid_to: datetime


class ImportedMaterial(NamedTuple):
    """ImportKeyMaterial's answer: the key after the import, and the id of the material
    imported (not always the key's current one: new material waits for a rotation)."""

    key: CustomerKey
    material_id: str


class SseKey(NamedTuple):
    """What the SSE-KMS path needs of a usable CMK: its id and ARN, and the key ring under
    which to wrap the object's data keys (``KeyService.new_data_key(key_ring_id)``)."""

    key_id: str
    arn: str
    key_ring_id: str
    # A key of an external key store: each use of its data keys goes through the customer's
    # proxy, which is told who asked (``http.requester``, decision 0094).
    external: bool = False


@dataclass(frozen=True, slots=True)
class UpkeepReport:
    destroyed: tuple[str, ...]
    rotated: tuple[str, ...]
    expired: tuple[str, ...] = ()  # keys whose imported material expired and was deleted
