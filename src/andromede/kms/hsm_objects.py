"""The Andromède objects of a PKCS#11 token, as :mod:`andromede.kms.hsm` makes and finds them:
their ids, labels and templates (a KEK version, a pending KEK, a ring's private key or HMAC
secret, a tombstone), the key pair generated in the token (``C_GenerateKeyPair``, also run by
``hsm_keygen``'s helper process), and the conversions between the token's attributes and
cryptography's keys (an imported private key's numbers, a public key's SubjectPublicKeyInfo, an
EC point). The object model itself is described in :mod:`andromede.kms.hsm`'s docstring."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Final, NamedTuple, TypeVar

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    PKCS11Error,
)
from pkcs11.types import DecryptMixin, DeriveMixin, EncryptMixin, SignMixin
from pkcs11.util import biginteger
from pkcs11.util.ec import encode_named_curve_parameters

from andromede.kms import asymmetric
from andromede.kms.asymmetric import (
    ED25519_KEY_SPEC,
    RSA_KEY_SPECS,
    ec_curve,
    rsa_bits,
)
from andromede.kms.errors import (
    AlgorithmNotOffered,
    KeyDestroyed,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.hsm_ed25519 import (
    ed25519_private_attributes,
    ed25519_public_key,
    generate_ed25519_pair,
)
from andromede.kms.model import TenantKeyRing
from andromede.kms.providers import (
    PRIVATE_KEY_SPECS,
)

__all__ = [
    "APPLICATION",
    "HASHES",
    "KEK_ID_PREFIX",
    "KEK_LABEL_PREFIX",
    "NOT_OFFERED",
    "PENDING_KEK_LABEL_PREFIX",
    "TOMBSTONE_PREFIX",
    "PrivateObject",
    "TenantObjects",
    "capable",
    "check_above",
    "check_live",
    "generate_key_pair",
    "kek_label",
    "kek_template",
    "key_pair_private_template",
    "not_offered",
    "private_numbers",
    "private_object",
    "provider_errors",
    "ring_id",
    "secret_template",
]

KEK_ID_PREFIX = b"andromede-kek:"
KEK_LABEL_PREFIX = "andromede-kek:"
PENDING_KEK_LABEL_PREFIX = "andromede-kek-pending:"
PRIVATE_LABEL_PREFIX = "andromede-private:"
HMAC_KEY_LABEL_PREFIX = "andromede-secret:"
PUBLIC_LABEL_PREFIX = "andromede-public:"
DECRYPT_SUFFIX = ":decrypt"
DERIVE_SUFFIX = ":derive"
TOMBSTONE_PREFIX = "andromede-destroyed:"
APPLICATION = "andromede-kms"

# Key specs the tokens here have no mechanism for: ML-DSA and ML-KEM, which PKCS#11 3.2 adds
# and SoftHSM2 2.6 lacks. (Ed25519 is PKCS#11 3.0's CKM_EDDSA, which SoftHSM2 2.6 built with
# OpenSSL 3, Debian's among them, offers; a token without it is refused by hsm_ed25519.)
NOT_OFFERED: Final = asymmetric.ML_DSA_KEY_SPECS | asymmetric.ML_KEM_KEY_SPECS


def generate_key_pair(
    session: pkcs11.Session,
    tenant_id: str,
    key_spec: str,
    rsa_decrypt: bool,
    key_agreement: bool = False,
) -> bytes:
    """Generate the ring's key pair in the token (``C_GenerateKeyPair``): the private half stays
    there as a token object, the public half, a session object, answers as SPKI DER and goes.
    The provider calls it on its session; ``hsm_keygen`` on its own, for RSA."""
    private_template = key_pair_private_template(tenant_id, key_spec, rsa_decrypt, key_agreement)
    public_template: dict[Attribute, Any] = {
        Attribute.ID: ring_id(tenant_id),
        Attribute.LABEL: f"{PUBLIC_LABEL_PREFIX}{tenant_id}",
        Attribute.TOKEN: False,  # a session object, destroyed below
        Attribute.WRAP: False,
    }
    usage = (
        MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
        if rsa_decrypt
        else MechanismFlag.DERIVE
        if key_agreement
        else MechanismFlag.SIGN | MechanismFlag.VERIFY
    )
    if key_spec == ED25519_KEY_SPEC:
        public, _ = generate_ed25519_pair(
            session, public_template=public_template, private_template=private_template
        )
    elif key_spec in RSA_KEY_SPECS:
        public, _ = session.generate_keypair(
            KeyType.RSA,
            rsa_bits(key_spec),  # python-pkcs11 sets the public exponent, 65537
            store=True,
            capabilities=usage,
            mechanism=Mechanism.RSA_PKCS_KEY_PAIR_GEN,
            public_template=public_template,
            private_template=private_template,
        )
    else:
        public, _ = session.generate_keypair(
            KeyType.EC,
            store=True,
            capabilities=usage,
            mechanism=Mechanism.EC_KEY_PAIR_GEN,
            public_template={
                **public_template,
                Attribute.EC_PARAMS: encode_named_curve_parameters(ec_curve(key_spec).name),
            },
            private_template=private_template,
        )
    try:
        return token_public_key_info(key_spec, public)
    finally:
        public.destroy()


def not_offered(key_spec: str) -> AlgorithmNotOffered:
    """A key spec of ``NOT_OFFERED``, refused before anything reaches the token."""
    return AlgorithmNotOffered(f"the PKCS#11 token does not offer {key_spec} keys")


def ring_id(tenant_id: str) -> bytes:
    """The ``CKA_ID`` of every object of the ring."""
    return KEK_ID_PREFIX + tenant_id.encode("ascii")


def kek_label(tenant_id: str, version: int, *, pending: bool = False) -> str:
    """The ``CKA_LABEL`` of a KEK version's object, live or pending."""
    prefix = PENDING_KEK_LABEL_PREFIX if pending else KEK_LABEL_PREFIX
    return f"{prefix}{tenant_id}:v{version}"


def kek_template(tenant_id: str, version: int, *, pending: bool = False) -> dict[Attribute, Any]:
    """The attributes of every KEK object, generated or imported, live or pending (they differ
    in their label alone, which promotion changes: ``CKA_MODIFIABLE`` is left true)."""
    return {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.AES,
        Attribute.ID: ring_id(tenant_id),
        Attribute.LABEL: kek_label(tenant_id, version, pending=pending),
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True,
        Attribute.WRAP: False,
        Attribute.UNWRAP: False,
        Attribute.SIGN: False,
        Attribute.VERIFY: False,
        Attribute.DERIVE: False,
    }


def private_template(tenant_id: str, label: str) -> dict[Attribute, Any]:
    """What a ring's private key or secret shares with its KEKs: in the token for good, never
    out of it, and no use but its own (the callers add it)."""
    return {
        Attribute.ID: ring_id(tenant_id),
        Attribute.LABEL: label,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }


def key_pair_private_template(
    tenant_id: str, key_spec: str, rsa_decrypt: bool, key_agreement: bool = False
) -> dict[Attribute, Any]:
    """The attributes of a ring's RSA or EC private key, generated or imported: to sign, or
    (an RSA key that ``rsa_decrypt``) to decrypt, or (an EC key for ``key_agreement``) to
    derive by ECDH."""
    label = f"{PRIVATE_LABEL_PREFIX}{tenant_id}:{key_spec}"
    suffix = DECRYPT_SUFFIX if rsa_decrypt else DERIVE_SUFFIX if key_agreement else ""
    return {
        **private_template(tenant_id, label + suffix),
        Attribute.SIGN: not (rsa_decrypt or key_agreement),
        Attribute.SIGN_RECOVER: False,
        Attribute.DECRYPT: rsa_decrypt,
        Attribute.DERIVE: key_agreement,
    }


def secret_template(tenant_id: str, key_spec: str) -> dict[Attribute, Any]:
    """The attributes of a ring's HMAC secret, generated or imported: HMAC only."""
    return {
        **private_template(tenant_id, f"{HMAC_KEY_LABEL_PREFIX}{tenant_id}:{key_spec}"),
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
        Attribute.SIGN: True,
        Attribute.VERIFY: True,
        Attribute.ENCRYPT: False,
        Attribute.DECRYPT: False,
        Attribute.WRAP: False,
    }


def private_numbers(
    key_spec: str,
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
) -> dict[Attribute, Any]:
    """The key-type attributes of an imported private key: PKCS#11's big-endian integers of an
    RSA key's CRT form, an EC key's curve and scalar (as long as the curve's order), or an
    Ed25519 key's curve and seed."""
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return ed25519_private_attributes(
            private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.private_numbers()
        return {
            Attribute.KEY_TYPE: KeyType.RSA,
            Attribute.MODULUS: biginteger(numbers.public_numbers.n),
            Attribute.PUBLIC_EXPONENT: biginteger(numbers.public_numbers.e),
            Attribute.PRIVATE_EXPONENT: biginteger(numbers.d),
            Attribute.PRIME_1: biginteger(numbers.p),
            Attribute.PRIME_2: biginteger(numbers.q),
            Attribute.EXPONENT_1: biginteger(numbers.dmp1),
            Attribute.EXPONENT_2: biginteger(numbers.dmq1),
            Attribute.COEFFICIENT: biginteger(numbers.iqmp),
        }
    curve = ec_curve(key_spec)
    return {
        Attribute.KEY_TYPE: KeyType.EC,
        Attribute.EC_PARAMS: encode_named_curve_parameters(curve.name),
        Attribute.VALUE: private.private_numbers().private_value.to_bytes(
            (curve.key_size + 7) // 8
        ),
    }


def private_object(tenant_id: str, label: str, found: pkcs11.Object) -> PrivateObject | None:
    """The ring's private key if ``found`` is one (by its label and class), else None."""
    for prefix, kind in (
        (PRIVATE_LABEL_PREFIX, pkcs11.PrivateKey),
        (HMAC_KEY_LABEL_PREFIX, pkcs11.SecretKey),
    ):
        ring_prefix = f"{prefix}{tenant_id}:"
        if label.startswith(ring_prefix) and isinstance(found, kind):
            key_spec = label[len(ring_prefix) :]
            rsa_decrypt = key_spec.endswith(DECRYPT_SUFFIX)
            key_agreement = key_spec.endswith(DERIVE_SUFFIX)
            key_spec = key_spec.removesuffix(DECRYPT_SUFFIX).removesuffix(DERIVE_SUFFIX)
            if key_spec in PRIVATE_KEY_SPECS:
                return PrivateObject(
                    key_spec=key_spec,
                    rsa_decrypt=rsa_decrypt,
                    key=found,
                    key_agreement=key_agreement,
                )
    return None


Capability = TypeVar("Capability", SignMixin, DecryptMixin, DeriveMixin)


def capable(held: PrivateObject, capability: type[Capability]) -> Capability:
    """The key object, with the mixin python-pkcs11 gives it for the capability it was made
    with (a token object altered since may lack it)."""
    if not isinstance(held.key, capability):
        raise ProviderError(f"the ring's {held.key_spec} key object cannot do this")
    return held.key


def token_public_key_info(key_spec: str, public: pkcs11.Object) -> bytes:
    """The SubjectPublicKeyInfo DER of a public key object just generated."""
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    if key_spec == ED25519_KEY_SPEC:
        if not isinstance(public, pkcs11.PublicKey):
            raise ProviderError("the token answered no Ed25519 public key object")
        public_key = ed25519.Ed25519PublicKey.from_public_bytes(ed25519_public_key(public))
    elif key_spec in RSA_KEY_SPECS:
        public_key = rsa.RSAPublicNumbers(
            int.from_bytes(public[Attribute.PUBLIC_EXPONENT]),
            int.from_bytes(public[Attribute.MODULUS]),
        ).public_key()
    else:
        curve = ec_curve(key_spec)
        point = uncompressed_point(bytes(public[Attribute.EC_POINT]), curve)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def uncompressed_point(ec_point: bytes, curve: ec.EllipticCurve) -> bytes:
    """The point of ``CKA_EC_POINT``: a DER OCTET STRING around it (PKCS#11 2.40), or the bare
    point (tokens of older versions of the standard)."""
    size = 1 + 2 * ((curve.key_size + 7) // 8)  # 0x04 | x | y
    if len(ec_point) == size:
        return ec_point
    header = bytes([0x04, size]) if size < 0x80 else bytes([0x04, 0x81, size])
    if not ec_point.startswith(header) or len(ec_point) != len(header) + size:
        raise ProviderError("the token answered an EC point this provider cannot read")
    return ec_point[len(header) :]


def check_above(tenant_id: str, version: int, known: TenantObjects) -> None:
    """``ValueError`` unless ``version`` is above every live version: a pending version is
    current once promoted."""
    current = known.ring(tenant_id).current
    if version <= current:
        raise ValueError(
            f"pending version {version} of key ring {tenant_id} is not above its current"
            f" version {current}"
        )


def check_live(tenant_id: str, known: TenantObjects) -> None:
    """``KeyDestroyed`` for a tombstone, ``KeyWithdrawn`` for a ring without keys."""
    if known.destroyed:
        raise KeyDestroyed.for_tenant(tenant_id)
    if not known.keys:
        raise KeyWithdrawn.for_tenant(tenant_id)


class TenantObjects(NamedTuple):
    """What a search of the token found for one tenant, and when."""

    looked_up: float
    destroyed: bool
    keys: dict[int, EncryptMixin]  # the live versions
    private: PrivateObject | None
    pending: dict[int, pkcs11.Object]  # the pending versions (never sealed or opened with)

    def ring(self, tenant_id: str) -> TenantKeyRing:
        if self.destroyed:
            raise KeyDestroyed.for_tenant(tenant_id)
        if not self.keys:
            raise KeyWithdrawn.for_tenant(tenant_id)
        return TenantKeyRing(tenant_id=tenant_id, versions=tuple(sorted(self.keys)))


class PrivateObject(NamedTuple):
    """The ring's private key (a ``PrivateKey``) or HMAC secret (a ``SecretKey``) object."""

    key_spec: str
    rsa_decrypt: bool
    key: pkcs11.Object
    key_agreement: bool = False


class Hash(NamedTuple):
    """A hash's PKCS#11 names, for each mechanism that uses it."""

    mechanism: Mechanism
    mgf: MGF
    rsa_pkcs1: Mechanism
    rsa_pss: Mechanism
    hmac: Mechanism
    digest_info: bytes  # DER DigestInfo of a digest of this hash, up to the digest


HASHES: dict[str, Hash] = {
    # RFC 8017 section 9.2, note 1, for the DigestInfo prefixes.
    "sha1": Hash(
        Mechanism.SHA_1, MGF.SHA1, Mechanism.SHA1_RSA_PKCS, Mechanism.SHA1_RSA_PKCS_PSS,
        Mechanism.SHA_1_HMAC, bytes.fromhex("3021300906052b0e03021a05000414"),
    ),
    "sha224": Hash(
        Mechanism.SHA224, MGF.SHA224, Mechanism.SHA224_RSA_PKCS, Mechanism.SHA224_RSA_PKCS_PSS,
        Mechanism.SHA224_HMAC, bytes.fromhex("302d300d06096086480165030402040500041c"),
    ),
    "sha256": Hash(
        Mechanism.SHA256, MGF.SHA256, Mechanism.SHA256_RSA_PKCS, Mechanism.SHA256_RSA_PKCS_PSS,
        Mechanism.SHA256_HMAC, bytes.fromhex("3031300d060960864801650304020105000420"),
    ),
    "sha384": Hash(
        Mechanism.SHA384, MGF.SHA384, Mechanism.SHA384_RSA_PKCS, Mechanism.SHA384_RSA_PKCS_PSS,
        Mechanism.SHA384_HMAC, bytes.fromhex("3041300d060960864801650304020205000430"),
    ),
    "sha512": Hash(
        Mechanism.SHA512, MGF.SHA512, Mechanism.SHA512_RSA_PKCS, Mechanism.SHA512_RSA_PKCS_PSS,
        Mechanism.SHA512_HMAC, bytes.fromhex("3051300d060960864801650304020305000440"),
    ),
}  # fmt: skip


@contextlib.contextmanager
def provider_errors() -> Iterator[None]:
    """Translate a library failure into ProviderError at the edge (domain errors pass)."""
    try:
        yield
    except PKCS11Error as exc:
        raise ProviderError(f"PKCS#11 call failed: {type(exc).__name__}") from exc
