"""The interface every root-key provider implements (local key file, PKCS#11 HSM).

A provider is the only place tenant key-encryption keys (KEKs) exist. It creates, versions,
lists and destroys them, and seals/opens data keys with them, so that a KEK never has to be
handed to the caller: with PKCS#11 the KEKs are non-extractable token objects and the sealing
happens inside the token; with the key file they are sealed under the root key in the keystore
file and opened only for the length of one call.

Destruction is final: the provider keeps a tombstone (the tenant id, no key material) so that
later calls say :class:`~andromede.kms.errors.KeyDestroyed` rather than "not found", and
refuses to create keys for that tenant id again.

Imported material (KMS keys with Origin EXTERNAL, AWS ImportKeyMaterial) is the one exception
to "the provider makes its KEKs": each version of such a ring is a customer's 256-bit key
(version 1 the first), used as the AES-256-GCM KEK exactly as a generated one is. A ring may
hold several (AWS's multi-material imports, ``ImportType=NEW_KEY_MATERIAL``):

- a version imported *pending* is staged, not live: no ring, current version, ``seal`` or
  ``open`` sees it, until :meth:`~RootKeyProvider.promote_tenant_key` makes it live (AWS
  RotateKeyOnDemand). A pending version is above every live one, so once live it is current;
  the versions below keep opening what they sealed;
- withdrawing one version (AWS DeleteImportedKeyMaterial with a ``KeyMaterialId``) destroys it
  alone, live or pending, *without* a tombstone, so the same material imported again as that
  version opens what it sealed before; withdrawing the ring destroys every version.

A version number is held once in a ring, live or pending. A ring with no live version (every
one withdrawn, or never made) is withdrawn, pending versions or not: every call that needs a
key of the ring, ``check_usable`` included, says :class:`~andromede.kms.errors.KeyWithdrawn` (a
``KeyNotFound``), until a live version is imported again; a version missing from a ring that
has live ones is plain ``KeyNotFound``, as a version never made is. The provider keeps no trace
of a withdrawal: a withdrawn version is a version never made, a withdrawn ring a ring never
made (whether a ring is generated or imported, which versions it should hold, and so which
call to make, is the KMS key's record).

A ring may also hold one *private key* (decision 0048): the private key of a KMS signing or
RSA encryption key, or the secret of an HMAC key, made by the provider in the KMS key's ring
and used by it alone (``sign``, ``decrypt_private``, ``mac``), never handed out. With
PKCS#11 it is a non-extractable token object and the operation runs inside the token; with
the key file it is sealed under the root key beside the ring's KEKs and opened for the length
of one call. It goes with the ring: destroying or withdrawing the ring destroys it.
The checks of their arguments are here, shared, so that every provider refuses alike (with
the errors of :mod:`~andromede.kms.asymmetric` and :mod:`~andromede.kms.mac`, all
``ValueError``).

A ring's private key may also be the customer's (``import_private_key``: AWS ImportKeyMaterial
for an asymmetric or HMAC KMS key): a PKCS#8 private key or an HMAC secret, checked here
against the spec (:func:`check_private_key_material`, :class:`MaterialMismatch` when it does
not fit) and then kept and used exactly as a generated one.

Calls block (file I/O, HSM round trips); async callers run cache misses in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from andromede.kms.asymmetric import (
    ASYMMETRIC_KEY_SPECS,
    ED25519_KEY_SPEC,
    KEY_AGREEMENT_KEY_SPECS,
    ML_DSA_KEY_SPECS,
    ML_KEM_KEY_SPECS,
    MU_SIZE,
    RSA_ENCRYPTION_ALGORITHMS,
    RSA_KEY_SPECS,
    DigestLengthMismatch,
    EncryptionAlgorithmMismatch,
    KeyAgreementMismatch,
    MlDsaPrivateKey,
    MlKemPrivateKey,
    PrivateKey,
    SigningAlgorithmMismatch,
    check_key_agreement,
    ec_curve,
    is_ml_dsa,
    is_ml_kem,
    rsa_bits,
    signing_algorithms,
)
from andromede.kms.mac import MAC_KEY_SPECS, MacAlgorithmMismatch, mac_algorithms
from andromede.kms.model import KEK_SIZE, TenantKeyRing

__all__ = [
    "DIGEST_SIZES",
    "HMAC_MATERIAL_SIZES",
    "MAX_KEK_VERSION",
    "PRIVATE_KEY_SPECS",
    "MaterialMismatch",
    "RootKeyProvider",
    "check_agreement_key",
    "check_decryption_key",
    "check_imported_kek",
    "check_mac_key",
    "check_private_key_material",
    "check_private_key_spec",
    "check_signing_key",
]

PRIVATE_KEY_SPECS: Final = ASYMMETRIC_KEY_SPECS | MAC_KEY_SPECS
# The highest KEK version: a wrapped data key names its version in 4 bytes.
MAX_KEK_VERSION: Final = 0xFFFF_FFFF
# hashlib's names of the hashes the algorithms name, and their digests' lengths.
DIGEST_SIZES: Final = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
# HMAC spec -> the shortest and longest secret it may be imported with, in bytes (AWS's
# bounds; a generated secret is the digest's length, the shortest).
HMAC_MATERIAL_SIZES: Final = {
    "HMAC_224": (28, 64),
    "HMAC_256": (32, 64),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
}


class MaterialMismatch(ValueError):
    """Imported key material that is not a key of the spec it is imported for (AWS
    IncorrectKeyMaterialException). Its message says what does not fit, never the material."""


class RootKeyProvider(Protocol):
    """Holder of the tenant KEKs, under a root of trust it never lets go of."""

    def create_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        """Create version 1; ``KeyAlreadyExists`` if it has keys, ``KeyDestroyed`` if it had."""
        ...

    def import_tenant_key(
        self, tenant_id: str, material: bytes, *, version: int = 1, pending: bool = False
    ) -> TenantKeyRing:
        """Make ``version`` of the ring with ``material`` as its KEK, and answer the ring's
        live versions.

        Live (not ``pending``): the version is live at once, the ring's other live versions
        untouched, so it is current only when it is the highest (a version imported again
        below the current one leaves the current one current). Pending: the version is staged
        for :meth:`promote_tenant_key` and used for nothing until then; it must be above every
        live version (else ``ValueError``), and the ring must have one (else
        ``KeyWithdrawn``); the ring answered is unchanged.

        ``ValueError`` (:func:`check_imported_kek`) for material that is not ``KEK_SIZE``
        bytes or a version outside 1 to :data:`MAX_KEK_VERSION`;
        ``KeyAlreadyExists`` if the ring holds ``version`` already, live or pending;
        ``KeyDestroyed`` if the ring was destroyed. The material passes through this process
        once, here, and is then kept only as the provider keeps its generated KEKs."""
        ...

    def promote_tenant_key(self, tenant_id: str, version: int) -> TenantKeyRing:
        """Make the pending ``version`` live, and so current, and answer the ring's live
        versions: new data keys are wrapped under it from then on, and the versions below keep
        opening what they sealed. ``ValueError`` if it is not above every live version (a
        live version imported since it was staged), ``KeyWithdrawn`` if the ring has no live
        version or holds no such version, ``KeyDestroyed`` for a destroyed ring. A version
        already live (and not pending) is a retry: the ring is answered, nothing changes."""
        ...

    def withdraw_tenant_key(self, tenant_id: str, version: int | None = None) -> None:
        """Destroy ``version`` of the ring, live or pending, or with None every version (and
        the ring's private key), and leave *no* tombstone, so that :meth:`import_tenant_key`
        may make it again. The other versions keep working; once no live version is left the
        ring is withdrawn (``KeyWithdrawn``) while its pending versions (and private key), if
        any, stay until a live version is imported again. Idempotent; nothing to do for a
        version or ring never made or already destroyed."""
        ...

    def rotate_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        """Add a generated version that becomes current (above every version the ring holds,
        live or pending); older versions keep opening what they sealed."""
        ...

    def destroy_tenant_key(self, tenant_id: str) -> None:
        """Destroy every version of the tenant's KEK, live or pending, and the ring's private
        key, and leave a tombstone. Idempotent."""
        ...

    def tenant_key_ring(self, tenant_id: str) -> TenantKeyRing:
        """The tenant's live versions (never its pending ones); ``KeyWithdrawn`` (a
        ``KeyNotFound``: no live version, withdrawn or never made) or ``KeyDestroyed``
        otherwise."""
        ...

    def current_version(self, tenant_id: str) -> int:
        """The version that wraps new data keys: ``tenant_key_ring(tenant_id).current``, asked
        on every new data key, so a provider answers it as cheaply as it can."""
        ...

    def list_tenants(self) -> list[str]:
        """Tenant ids that hold live KEKs, sorted (a ring with pending versions only is not
        listed)."""
        ...

    def check_usable(self, tenant_id: str) -> None:
        """``KeyDestroyed`` if the tenant's KEKs were destroyed, ``KeyWithdrawn`` if the ring
        holds no live one (withdrawn, or never made; pending versions do not count), by this
        instance or another process. Cheap (it runs on every data-key cache hit): the key file
        answers from its keystore as last rechecked (``key_file_recheck_interval``), a token
        from the handles it holds, which a destruction or withdrawal anywhere invalidates at
        once. A ring found empty is looked up again at once (another process may have made or
        imported it since). It asks about the ring, not a version: a ring that lost one
        version and keeps others passes."""
        ...

    def create_private_key(
        self,
        tenant_id: str,
        key_spec: str,
        *,
        rsa_decrypt: bool = False,
        key_agreement: bool = False,
    ) -> bytes:
        """Make the ring's private key inside the provider and answer its public key
        (SubjectPublicKeyInfo DER), or make its secret for an HMAC spec and answer ``b""``.

        ``key_spec``: one of :data:`PRIVATE_KEY_SPECS` (AWS's names), else ``ValueError``.
        ``rsa_decrypt``: an RSA key for RSAES-OAEP decryption (KMS KeyUsage
        ``ENCRYPT_DECRYPT``) instead of signing; ``key_agreement``: a NIST-curve key for ECDH
        (KMS KeyUsage ``KEY_AGREEMENT``) instead of signing. A key does one thing only.
        The ring must hold a KEK (``KeyNotFound``, ``KeyWithdrawn`` for none; made by
        ``create_tenant_key`` or ``import_tenant_key``); ``KeyDestroyed`` if it was destroyed,
        ``KeyAlreadyExists`` if it holds a private key already."""
        ...

    def import_private_key(
        self,
        tenant_id: str,
        key_spec: str,
        material: bytes,
        *,
        rsa_decrypt: bool = False,
        key_agreement: bool = False,
    ) -> bytes:
        """Make the ring's private key from the customer's ``material`` instead of generating
        it, and answer its public key (SubjectPublicKeyInfo DER; ``b""`` for HMAC), as
        :meth:`create_private_key` does; ``sign``, ``decrypt_private`` and ``mac`` then work
        the same.

        ``material``: :func:`check_private_key_material`'s (an unencrypted PKCS#8 DER private
        key of ``key_spec``, or an HMAC secret of a length AWS allows), else
        :class:`MaterialMismatch`. The arguments and ring rules of
        :meth:`create_private_key`: ``ValueError`` for the spec, ``KeyNotFound`` /
        ``KeyWithdrawn`` without a KEK, ``KeyDestroyed``, ``KeyAlreadyExists`` if the ring
        holds a private key. The material passes through this process once, here (as an
        imported KEK's does), and is then kept only as the provider keeps a generated key."""
        ...

    def sign(self, tenant_id: str, algorithm: str, message: bytes, *, digest: bool) -> bytes:
        """The signature, with the ring's private key, of ``message`` (or of the message whose
        hash ``message`` is, when ``digest``): AWS's SigningAlgorithm names, PSS salts as long
        as the digest, ECDSA signatures DER-encoded; what :func:`asymmetric.sign
        <andromede.kms.asymmetric.sign>` makes with the same key. ``KeyNotFound`` if the ring
        holds no private key, :func:`check_signing_key`'s errors if the key or message does not
        fit ``algorithm``."""
        ...

    def decrypt_private(self, tenant_id: str, algorithm: str, ciphertext: bytes) -> bytes:
        """RSAES-OAEP (``RSAES_OAEP_SHA_1`` or ``RSAES_OAEP_SHA_256``: MGF1 with the same hash,
        no label) decryption with the ring's RSA decryption key; ``InvalidWrappedKey`` when
        ``ciphertext`` does not decrypt, :func:`check_decryption_key`'s errors when the key or
        algorithm does not fit."""
        ...

    def derive_shared_secret(self, tenant_id: str, algorithm: str, peer_public_key: bytes) -> bytes:
        """The raw ECDH shared secret of the ring's key-agreement private key and the other
        party's public key (SubjectPublicKeyInfo DER): what :func:`asymmetric.derive_shared_secret
        <andromede.kms.asymmetric.derive_shared_secret>` computes with the same key.
        :func:`check_agreement_key`'s errors when the key or algorithm does not fit,
        ``PeerPublicKeyInvalid`` for a public key that is not on the key's curve."""
        ...

    def decapsulate(self, tenant_id: str, algorithm: str, ciphertext: bytes) -> bytes:
        """The 32-byte shared secret ``ciphertext`` encapsulates under the ring's ML-KEM
        private key: what :func:`asymmetric.decapsulate <andromede.kms.asymmetric.decapsulate>`
        computes with the same key (implicit rejection included);
        :func:`asymmetric.check_encapsulation`'s errors when the key or algorithm does not fit,
        ``DecapsulationFailed`` for a ciphertext of the wrong length."""
        ...

    def mac(self, tenant_id: str, algorithm: str, message: bytes) -> bytes:
        """HMAC of ``message`` under the ring's secret: :func:`mac.make_mac
        <andromede.kms.mac.make_mac>` of it; :func:`check_mac_key`'s errors when ``algorithm``
        is not the one of the key's spec."""
        ...

    def seal(self, tenant_id: str, kek_version: int, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM under the KEK version with a fresh nonce: ``nonce | ciphertext | tag``.
        The version must be live: a pending, withdrawn or unknown one is ``KeyNotFound``
        (``KeyWithdrawn`` when the ring has no live version), here and in :meth:`open`; one
        withdrawn by another instance is refused within the provider's freshness rules."""
        ...

    def seal_many(
        self, tenant_id: str, kek_version: int, plaintexts: Sequence[bytes], aad: bytes
    ) -> list[bytes]:
        """:meth:`seal` of each of ``plaintexts`` (each with its own fresh nonce), in order:
        fresh data keys made a batch at a time."""
        ...

    def open(self, tenant_id: str, kek_version: int, sealed: bytes, aad: bytes) -> bytearray:
        """Inverse of :meth:`seal`; ``InvalidWrappedKey`` when authentication fails."""
        ...

    def close(self) -> None:
        """Release files, sessions and library handles."""
        ...


def check_imported_kek(material: bytes, version: int) -> None:
    """Nothing when ``material`` may be imported as KEK ``version`` of a ring, else
    ``ValueError`` (its message never quotes the material)."""
    if len(material) != KEK_SIZE:
        raise ValueError(f"imported key material must be {KEK_SIZE} bytes")
    if not 1 <= version <= MAX_KEK_VERSION:
        raise ValueError(f"a KEK version is 1 to {MAX_KEK_VERSION}, not {version}")


def check_private_key_spec(key_spec: str, *, rsa_decrypt: bool, key_agreement: bool = False) -> str:
    """``key_spec`` if ``create_private_key`` makes such a key, else ``ValueError``."""
    if key_spec not in PRIVATE_KEY_SPECS:
        raise ValueError(f"{key_spec!r} is not an asymmetric or HMAC key spec")
    if rsa_decrypt and key_spec not in RSA_KEY_SPECS:
        raise ValueError(f"a {key_spec} key does not decrypt (only RSA keys do)")
    if key_agreement and (rsa_decrypt or key_spec not in KEY_AGREEMENT_KEY_SPECS):
        raise ValueError(f"a {key_spec} key does not agree keys (only NIST-curve keys do)")
    return key_spec


def check_private_key_material(
    key_spec: str, material: bytes, *, rsa_decrypt: bool, key_agreement: bool = False
) -> PrivateKey | None:
    """The private key ``material`` holds for an RSA or ECC ``key_spec``, or None for an HMAC
    spec (whose material is the secret itself), once checked to fit the spec; else
    :class:`MaterialMismatch` (or ``ValueError`` for the spec itself, as
    :func:`check_private_key_spec`).

    An asymmetric key is an unencrypted PKCS#8 DER ``PrivateKeyInfo`` (what AWS's
    ImportKeyMaterial takes), of the spec's type and size (an RSA modulus of the spec's bits,
    with whatever public exponent ``cryptography`` accepts; an EC key on the spec's curve),
    and consistent (``cryptography`` checks an RSA key's numbers and an EC key's scalar). An
    HMAC secret is as long as :data:`HMAC_MATERIAL_SIZES` allows."""
    check_private_key_spec(key_spec, rsa_decrypt=rsa_decrypt, key_agreement=key_agreement)
    if key_spec in MAC_KEY_SPECS:
        shortest, longest = HMAC_MATERIAL_SIZES[key_spec]
        if not shortest <= len(material) <= longest:
            raise MaterialMismatch(
                f"{key_spec} key material is {shortest} to {longest} bytes, not {len(material)}"
            )
        return None
    if not _is_private_key_info(material):
        raise MaterialMismatch(
            f"{key_spec} key material must be an unencrypted PKCS#8 DER private key"
        )
    try:
        private = serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # TypeError: an encrypted key (no password given). The library's message may quote
        # the input's structure: not repeated.
        raise MaterialMismatch(
            f"{key_spec} key material is not a valid PKCS#8 DER private key"
        ) from None
    if key_spec in RSA_KEY_SPECS:
        bits = rsa_bits(key_spec)
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size != bits:
            raise MaterialMismatch(f"the key material is not an RSA key of {bits} bits")
        return private
    if key_spec in ML_DSA_KEY_SPECS:
        if not isinstance(private, MlDsaPrivateKey) or not is_ml_dsa(private, key_spec):
            raise MaterialMismatch(f"the key material is not an {key_spec} key")
        return private
    if key_spec in ML_KEM_KEY_SPECS:
        if not isinstance(private, MlKemPrivateKey) or not is_ml_kem(private, key_spec):
            raise MaterialMismatch(f"the key material is not an {key_spec} key")
        return private
    if key_spec == ED25519_KEY_SPEC:
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise MaterialMismatch("the key material is not an Ed25519 key")
        return private
    curve = ec_curve(key_spec)
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != curve.name:
        raise MaterialMismatch(f"the key material is not an EC key on curve {curve.name}")
    return private


def _is_private_key_info(der: bytes) -> bool:
    """Whether ``der`` starts as a PKCS#8 ``PrivateKeyInfo``: a SEQUENCE of an INTEGER version
    (0, or 1 for RFC 5958's OneAsymmetricKey) then an AlgorithmIdentifier SEQUENCE.
    ``cryptography`` would load PKCS#1 ``RSAPrivateKey`` (an INTEGER there) and SEC1
    ``ECPrivateKey`` (an OCTET STRING there) as well; AWS takes PKCS#8 only, and so does this."""
    if len(der) < 2 or der[0] != 0x30:
        return False
    length_octets = der[1] & 0x7F if der[1] & 0x80 else 0
    body = der[2 + length_octets :]
    return body[:3] in (b"\x02\x01\x00", b"\x02\x01\x01") and body[3:4] == b"\x30"


def check_signing_key(
    key_spec: str,
    rsa_decrypt: bool,
    algorithm: str,
    message: bytes,
    *,
    digest: bool,
    key_agreement: bool = False,
) -> str:
    """The hash (hashlib's name) of ``algorithm`` when a ``key_spec`` private key signs with
    it, and ``message`` is as long as that hash if it is one (``digest``); else
    ``SigningAlgorithmMismatch`` or ``DigestLengthMismatch``."""
    if key_spec not in ASYMMETRIC_KEY_SPECS or rsa_decrypt or key_agreement:
        usage = "decryption" if rsa_decrypt else "key agreement" if key_agreement else key_spec
        raise SigningAlgorithmMismatch(f"a {usage} key does not sign")
    if algorithm not in signing_algorithms(key_spec):
        raise SigningAlgorithmMismatch(
            f"{algorithm} is not a signing algorithm of a {key_spec} key"
        )
    if key_spec == ED25519_KEY_SPEC:
        if digest:
            raise DigestLengthMismatch(f"{algorithm} signs RAW messages only")
        return "sha512"
    if key_spec in ML_DSA_KEY_SPECS:
        if digest and len(message) != MU_SIZE:
            raise DigestLengthMismatch(
                f"an EXTERNAL_MU message is {MU_SIZE} bytes, not {len(message)}"
            )
        return "shake256"
    hash_name = "sha" + algorithm.rsplit("_", 1)[1]
    if digest and len(message) != DIGEST_SIZES[hash_name]:
        raise DigestLengthMismatch(
            f"a DIGEST message for {algorithm} is {DIGEST_SIZES[hash_name]} bytes, "
            f"not {len(message)}"
        )
    return hash_name


def check_decryption_key(key_spec: str, rsa_decrypt: bool, algorithm: str) -> str:
    """The hash (hashlib's name) of RSAES-OAEP ``algorithm`` when the private key decrypts
    with it, else ``EncryptionAlgorithmMismatch``."""
    if not rsa_decrypt:
        raise EncryptionAlgorithmMismatch(f"a {key_spec} signing or MAC key does not decrypt")
    if algorithm not in RSA_ENCRYPTION_ALGORITHMS:
        raise EncryptionAlgorithmMismatch(f"{algorithm} is not an RSA encryption algorithm")
    return "sha" + algorithm.rsplit("_", 1)[1]


def check_agreement_key(key_spec: str, key_agreement: bool, algorithm: str) -> None:
    """Nothing when the private key agrees keys with ``algorithm`` (ECDH), else
    ``KeyAgreementMismatch``."""
    if not key_agreement:
        raise KeyAgreementMismatch(f"a {key_spec} signing, decryption or MAC key agrees no keys")
    check_key_agreement(key_spec, algorithm)


def check_mac_key(key_spec: str, algorithm: str) -> str:
    """The hash (hashlib's name) of MAC ``algorithm`` when it is the one of an HMAC
    ``key_spec``, else ``MacAlgorithmMismatch``."""
    if key_spec not in MAC_KEY_SPECS:
        raise MacAlgorithmMismatch(f"a {key_spec} key makes no MAC")
    if algorithm not in mac_algorithms(key_spec):
        raise MacAlgorithmMismatch(f"{algorithm} is not the MAC algorithm of a {key_spec} key")
    return "sha" + algorithm.rsplit("_", 1)[1]
