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

The class is a thin composition of parts split off for size (STYLE §10), each a mixin over
:class:`~andromede.kms.customer_keys_core.CustomerKeysCore` (the state and steps they share:
resolving and authorising a key reference, checked changes of a record, sealing and opening
in a key's ring): ``customer_keys_lifecycle`` (create, state changes, tags, key policy),
``customer_keys_crypto`` (the cryptographic operations), ``customer_keys_import`` (imported
key material), ``customer_keys_rotation`` (rotation and the periodic upkeep),
``customer_keys_grants``, ``customer_keys_aliases`` and ``customer_keys_sse`` (the uses S3,
EBS and the platform make of keys). Multi-Region keys are ``multi_region_keys``'. Callers
import from here.
"""

from __future__ import annotations

from andromede.kms.customer_keys_aliases import AliasesMixin
from andromede.kms.customer_keys_crypto import MAX_PLAINTEXT_SIZE, CryptoMixin
from andromede.kms.customer_keys_grants import GrantsMixin
from andromede.kms.customer_keys_import import ImportMixin
from andromede.kms.customer_keys_lifecycle import LifecycleMixin
from andromede.kms.customer_keys_rotation import RotationMixin
from andromede.kms.customer_keys_sse import ServiceUseMixin
from andromede.kms.keys_interface import (
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


class CustomerKeyService(
    LifecycleMixin,
    CryptoMixin,
    ImportMixin,
    RotationMixin,
    GrantsMixin,
    AliasesMixin,
    ServiceUseMixin,
):
    """Customer-managed KMS keys: the one public entry of the KMS context's key operations.

    Built with the key store, the root-key provider and the authoriser
    (:meth:`~andromede.kms.customer_keys_core.CustomerKeysCore.__init__`)."""
