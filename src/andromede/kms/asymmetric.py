"""Asymmetric keys: AWS KMS's key specs; signing keys (KeyUsage ``SIGN_VERIFY``) with their
signing algorithms, Ed25519 and ML-DSA (FIPS 204, post-quantum) among them; RSA encryption
keys (KeyUsage ``ENCRYPT_DECRYPT``) with RSAES-OAEP; NIST curve keys for key agreement (KeyUsage
``KEY_AGREEMENT``) with ECDH; ML-KEM keys (FIPS 203, KeyUsage ``ENCAPSULATE_DECAPSULATE``)
with their encapsulation; key pair generation, signing, verification, encryption, decryption,
encapsulation and decapsulation, and the other party's public key checked for a key
agreement, on ``cryptography``.

Pure functions over DER bytes: the private key reaches this module only as the PKCS#8 DER the
key service has just unsealed (it is stored sealed under the key's own ring in the root-key
provider, never in clear), and leaves it as a signature. ``MessageType`` ``RAW`` messages are
hashed here; ``DIGEST`` messages are the hash already, and must have its length; an ML-DSA
``EXTERNAL_MU`` message is the 64-byte μ already (the ``digest`` flag says either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    ec,
    ed25519,
    mldsa,
    mlkem,
    padding,
    rsa,
    utils,
)
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "ASYMMETRIC_KEY_SPECS",
    "DATA_KEY_PAIR_SPECS",
    "ED25519_KEY_SPEC",
    "ENCAPSULATION_ALGORITHMS",
    "KEY_AGREEMENT_ALGORITHMS",
    "KEY_AGREEMENT_KEY_SPECS",
    "MAX_MESSAGE_SIZE",
    "MAX_PEER_PUBLIC_KEY_SIZE",
    "ML_DSA_ALGORITHM",
    "ML_DSA_KEY_SPECS",
    "ML_KEM_KEY_SPECS",
    "MU_SIZE",
    "RSA_ENCRYPTION_ALGORITHMS",
    "RSA_KEY_SPECS",
    "DecapsulationFailed",
    "DecryptionFailed",
    "DigestLengthMismatch",
    "EncapsulationMismatch",
    "EncryptionAlgorithmMismatch",
    "KeyAgreementMismatch",
    "PeerPublicKeyInvalid",
    "PrivateKey",
    "SignatureMismatch",
    "SigningAlgorithmMismatch",
    "check_encapsulation",
    "check_key_agreement",
    "decapsulate",
    "derive_shared_secret",
    "ec_curve",
    "encapsulate",
    "generate_key_pair",
    "is_ml_dsa",
    "is_ml_kem",
    "load_own_private_key",
    "message_type",
    "peer_public_key",
    "public_key_info",
    "rsa_bits",
    "rsa_decrypt",
    "rsa_encrypt",
    "sign",
    "signing_algorithms",
    "verify",
]

MAX_MESSAGE_SIZE: Final = 4096  # Sign and Verify's Message, as AWS
ML_DSA_ALGORITHM: Final = "ML_DSA_SHAKE_256"  # pure ML-DSA, empty context; μ by SHAKE256
ED25519_KEY_SPEC: Final = "ECC_NIST_EDWARDS25519"
ED25519_ALGORITHM: Final = "ED25519_SHA_512"  # pure Ed25519 (RFC 8032), RAW messages
MlDsaPrivateKey = mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
MlDsaPublicKey = mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
MlKemPrivateKey = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
MlKemPublicKey = mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey
# The private keys a KMS key pair may have here.
PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | MlDsaPrivateKey
    | MlKemPrivateKey
)


class SigningAlgorithmMismatch(ValueError):
    """The algorithm does not go with the key's spec."""


class DigestLengthMismatch(ValueError):
    """A ``DIGEST`` message is not as long as the algorithm's hash."""


class SignatureMismatch(ValueError):
    """The signature is not the key's over the message."""


class EncryptionAlgorithmMismatch(ValueError):
    """Not an RSAES-OAEP algorithm, or a plaintext longer than the key and algorithm allow."""


class DecryptionFailed(ValueError):
    """The ciphertext is not one this key and algorithm made."""


class KeyAgreementMismatch(ValueError):
    """Not the ECDH of a key-agreement key, or the key does not agree keys at all."""


class EncapsulationMismatch(ValueError):
    """Not ML_KEM, or the key is not an ML-KEM key."""


class DecapsulationFailed(ValueError):
    """The ciphertext is not as long as the key's parameter set makes them (any ciphertext of
    that length decapsulates: ML-KEM rejects implicitly, with a pseudo-random secret)."""


class PeerPublicKeyInvalid(ValueError):
    """The other party's public key of a key agreement is not an EC SubjectPublicKeyInfo on
    the key's curve."""


@dataclass(frozen=True, slots=True)
class _Spec:
    kind: str  # "rsa", "ec", "ed25519", "ml-dsa" or "ml-kem"
    curve: ec.EllipticCurve | None  # an EC key's
    rsa_bits: int  # an RSA key's
    algorithms: tuple[str, ...]


_RSA_ALGORITHMS: Final = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
)
_SPECS: Final[dict[str, _Spec]] = {
    "RSA_2048": _Spec("rsa", None, 2048, _RSA_ALGORITHMS),
    "RSA_3072": _Spec("rsa", None, 3072, _RSA_ALGORITHMS),
    "RSA_4096": _Spec("rsa", None, 4096, _RSA_ALGORITHMS),
    "ECC_NIST_P256": _Spec("ec", ec.SECP256R1(), 0, ("ECDSA_SHA_256",)),
    "ECC_NIST_P384": _Spec("ec", ec.SECP384R1(), 0, ("ECDSA_SHA_384",)),
    "ECC_NIST_P521": _Spec("ec", ec.SECP521R1(), 0, ("ECDSA_SHA_512",)),
    "ECC_SECG_P256K1": _Spec("ec", ec.SECP256K1(), 0, ("ECDSA_SHA_256",)),
    # Pure Ed25519 (RFC 8032) over RAW messages. AWS's ED25519_PH_SHA_512 (Ed25519ph, over a
    # SHA-512 DIGEST) is not offered: cryptography has no Ed25519ph.
    ED25519_KEY_SPEC: _Spec("ed25519", None, 0, (ED25519_ALGORITHM,)),
    "ML_DSA_44": _Spec("ml-dsa", None, 0, (ML_DSA_ALGORITHM,)),
    "ML_DSA_65": _Spec("ml-dsa", None, 0, (ML_DSA_ALGORITHM,)),
    "ML_DSA_87": _Spec("ml-dsa", None, 0, (ML_DSA_ALGORITHM,)),
    # No signing algorithm: they encapsulate. (ML_KEM_512 is not offered: cryptography has
    # ML-KEM-768 and ML-KEM-1024, the parameter sets CNSA 2.0 and ANSSI recommend.)
    "ML_KEM_768": _Spec("ml-kem", None, 0, ()),
    "ML_KEM_1024": _Spec("ml-kem", None, 0, ()),
}
ASYMMETRIC_KEY_SPECS: Final = frozenset(_SPECS)
RSA_KEY_SPECS: Final = frozenset(spec for spec, made in _SPECS.items() if made.kind == "rsa")
ML_DSA_KEY_SPECS: Final = frozenset(spec for spec, made in _SPECS.items() if made.kind == "ml-dsa")
ML_KEM_KEY_SPECS: Final = frozenset(spec for spec, made in _SPECS.items() if made.kind == "ml-kem")
ENCAPSULATION_ALGORITHMS: Final = ("ML_KEM",)
_ML_KEM_CLASSES: Final[dict[str, type[MlKemPrivateKey]]] = {
    "ML_KEM_768": mlkem.MLKEM768PrivateKey,
    "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
}
_ML_KEM_CIPHERTEXT_SIZES: Final = {"ML_KEM_768": 1088, "ML_KEM_1024": 1568}  # FIPS 203
# GenerateDataKeyPair's KeyPairSpec: AWS offers no ML-DSA data key pairs (ML-KEM ones, yes).
DATA_KEY_PAIR_SPECS: Final = ASYMMETRIC_KEY_SPECS - ML_DSA_KEY_SPECS
_ML_DSA_CLASSES: Final[dict[str, type[MlDsaPrivateKey]]] = {
    "ML_DSA_44": mldsa.MLDSA44PrivateKey,
    "ML_DSA_65": mldsa.MLDSA65PrivateKey,
    "ML_DSA_87": mldsa.MLDSA87PrivateKey,
}
MU_SIZE: Final = 64  # ML-DSA's μ, what an EXTERNAL_MU message is (FIPS 204, 512 bits)
RSA_ENCRYPTION_ALGORITHMS: Final = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
# KeyUsage KEY_AGREEMENT: AWS offers it on the NIST curves (and SM2, China only), not on
# secp256k1.
KEY_AGREEMENT_KEY_SPECS: Final = frozenset({"ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"})
KEY_AGREEMENT_ALGORITHMS: Final = ("ECDH",)
MAX_PEER_PUBLIC_KEY_SIZE: Final = 8192  # DeriveSharedSecret's PublicKey, as AWS
_OAEP_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "RSAES_OAEP_SHA_1": hashes.SHA1,
    "RSAES_OAEP_SHA_256": hashes.SHA256,
}
_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def signing_algorithms(key_spec: str) -> tuple[str, ...]:
    return _SPECS[key_spec].algorithms


def rsa_bits(key_spec: str) -> int:
    """The modulus size of an RSA key spec (``RSA_2048``: 2048)."""
    bits = _SPECS[key_spec].rsa_bits
    if not bits:
        raise ValueError(f"{key_spec} is not an RSA key spec")
    return bits


def ec_curve(key_spec: str) -> ec.EllipticCurve:
    """The curve of an ECC key spec (``ECC_NIST_P256``: P-256)."""
    curve = _SPECS[key_spec].curve
    if curve is None:
        raise ValueError(f"{key_spec} is not an ECC key spec")
    return curve


def is_ml_kem(private: object, key_spec: str) -> bool:
    """Whether ``private`` is an ML-KEM private key of ``key_spec``'s parameter set."""
    wanted = _ML_KEM_CLASSES.get(key_spec)
    return wanted is not None and isinstance(private, wanted)


def check_encapsulation(key_spec: str, algorithm: str) -> None:
    """Nothing if a ``key_spec`` key encapsulates with ``algorithm``, else
    ``EncapsulationMismatch``."""
    if key_spec not in ML_KEM_KEY_SPECS:
        raise EncapsulationMismatch(f"a {key_spec} key does not encapsulate")
    if algorithm not in ENCAPSULATION_ALGORITHMS:
        raise EncapsulationMismatch(f"{algorithm} is not an encapsulation algorithm")


def encapsulate(key_spec: str, public_der: bytes, algorithm: str) -> tuple[bytes, bytes]:
    """A fresh 32-byte shared secret and its ciphertext under the public key (FIPS 203
    ML-KEM.Encaps): what anyone holding the public key can make."""
    check_encapsulation(key_spec, algorithm)
    public = serialization.load_der_public_key(public_der)
    if not isinstance(public, MlKemPublicKey):
        raise EncapsulationMismatch("not an ML-KEM public key")
    return public.encapsulate()


def decapsulate(key_spec: str, private_der: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    """The shared secret ``ciphertext`` encapsulates (FIPS 203 ML-KEM.Decaps): 32 bytes; for a
    ciphertext altered or made for another key, a pseudo-random 32 bytes (implicit rejection);
    ``DecapsulationFailed`` for one of the wrong length."""
    check_encapsulation(key_spec, algorithm)
    if len(ciphertext) != _ML_KEM_CIPHERTEXT_SIZES[key_spec]:
        raise DecapsulationFailed(
            f"an {key_spec} ciphertext is {_ML_KEM_CIPHERTEXT_SIZES[key_spec]} bytes"
        )
    private = load_own_private_key(private_der)
    if not isinstance(private, MlKemPrivateKey) or not is_ml_kem(private, key_spec):
        raise EncapsulationMismatch("not an ML-KEM private key")
    return private.decapsulate(ciphertext)


def is_ml_dsa(private: object, key_spec: str) -> bool:
    """Whether ``private`` is an ML-DSA private key of ``key_spec``'s parameter set."""
    wanted = _ML_DSA_CLASSES.get(key_spec)
    return wanted is not None and isinstance(private, wanted)


def message_type(algorithm: str, digest: bool) -> str:
    """AWS's MessageType of a Sign or Verify whose message is precomputed (``digest``) or not:
    ``DIGEST`` (a hash) for RSA and ECDSA, ``EXTERNAL_MU`` (μ) for ML-DSA; ``RAW`` otherwise."""
    if not digest:
        return "RAW"
    return "EXTERNAL_MU" if algorithm == ML_DSA_ALGORITHM else "DIGEST"


def public_key_info(private: PrivateKey) -> bytes:
    """The SubjectPublicKeyInfo DER of ``private``'s public key (what a KMS key's record
    keeps, GetPublicKey answers, and GetParametersForImport hands out)."""
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_own_private_key(private_der: bytes) -> PrivateKeyTypes:
    """A private key the key service made, or checked when it was imported
    (``providers.check_private_key_material``), as it comes out of its sealed storage.

    ``cryptography`` checks an RSA key's numbers on every load: 200 ms for 2,048 bits, 700 ms
    for 4,096 (cryptography 50, on a CI core), paid by each Sign and Decrypt. Those bytes were
    checked when they entered the service and are authenticated by the seal they come out of,
    so the check is skipped here, and only here."""
    return serialization.load_der_private_key(
        private_der, password=None, unsafe_skip_rsa_key_validation=True
    )


def generate_key_pair(key_spec: str) -> tuple[bytes, bytes]:
    """A new key pair of ``key_spec``: (PKCS#8 DER private key, SubjectPublicKeyInfo DER)."""
    spec = _SPECS[key_spec]
    private: PrivateKey
    if spec.kind == "ml-dsa":
        private = _ML_DSA_CLASSES[key_spec].generate()
    elif spec.kind == "ml-kem":
        private = _ML_KEM_CLASSES[key_spec].generate()
    elif spec.kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    elif spec.curve is None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=spec.rsa_bits)
    else:
        private = ec.generate_private_key(spec.curve)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der, public_key_info(private)


def check_key_agreement(key_spec: str, algorithm: str) -> None:
    """Nothing if a ``key_spec`` key agrees keys with ``algorithm``, else
    ``KeyAgreementMismatch``."""
    if key_spec not in KEY_AGREEMENT_KEY_SPECS:
        raise KeyAgreementMismatch(f"a {key_spec} key does not agree keys")
    if algorithm not in KEY_AGREEMENT_ALGORITHMS:
        raise KeyAgreementMismatch(f"{algorithm} is not a key agreement algorithm")


def peer_public_key(key_spec: str, der: bytes) -> ec.EllipticCurvePublicKey:
    """The other party's public key, from its SubjectPublicKeyInfo DER, once it is an EC key on
    ``key_spec``'s curve (``cryptography`` checks that its point is on the curve); else
    ``PeerPublicKeyInvalid``, whose message never quotes the input."""
    curve = ec_curve(key_spec)
    if not 1 <= len(der) <= MAX_PEER_PUBLIC_KEY_SIZE:
        raise PeerPublicKeyInvalid(f"PublicKey must be 1 to {MAX_PEER_PUBLIC_KEY_SIZE} bytes")
    try:
        public = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise PeerPublicKeyInvalid("PublicKey is not a DER-encoded SubjectPublicKeyInfo") from None
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != curve.name:
        raise PeerPublicKeyInvalid(f"PublicKey is not an EC public key on curve {curve.name}")
    return public


def derive_shared_secret(
    key_spec: str, private_der: bytes, algorithm: str, peer_der: bytes
) -> bytes:
    """The raw ECDH shared secret (the x coordinate of the shared point, as long as the curve's
    field) of the private key and the other party's public key: what AWS KMS returns, and what
    ``openssl pkeyutl -derive`` computes."""
    check_key_agreement(key_spec, algorithm)
    peer = peer_public_key(key_spec, peer_der)
    private = load_own_private_key(private_der)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise KeyAgreementMismatch("not a key agreement key")
    return private.exchange(ec.ECDH(), peer)


def _check_algorithm(key_spec: str, algorithm: str) -> None:
    if algorithm not in _SPECS[key_spec].algorithms:
        raise SigningAlgorithmMismatch(
            f"{algorithm} is not a signing algorithm of a {key_spec} key"
        )


def _check_raw(algorithm: str, digest: bool) -> None:
    """Pure Ed25519 signs the message itself: a DIGEST is refused as a digest of the wrong
    length is."""
    if digest:
        raise DigestLengthMismatch(f"{algorithm} signs RAW messages only")


def _check_mu(message: bytes, digest: bool) -> None:
    """An ML-DSA message: any, or (``EXTERNAL_MU``) exactly a μ."""
    if digest and len(message) != MU_SIZE:
        raise DigestLengthMismatch(f"an EXTERNAL_MU message is {MU_SIZE} bytes, not {len(message)}")


def _hash_for(key_spec: str, algorithm: str, message: bytes, digest: bool) -> hashes.HashAlgorithm:
    _check_algorithm(key_spec, algorithm)
    chosen = _HASHES[algorithm.rsplit("_", 1)[1]]()
    if digest and len(message) != chosen.digest_size:
        raise DigestLengthMismatch(
            f"a DIGEST message for {algorithm} is {chosen.digest_size} bytes, not {len(message)}"
        )
    return chosen


def _rsa_padding(algorithm: str, chosen: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS"):
        # AWS KMS signs PSS with a salt as long as the digest.
        return padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
    return padding.PKCS1v15()


def sign(
    key_spec: str, private_der: bytes, algorithm: str, message: bytes, *, digest: bool
) -> bytes:
    """The signature of ``message`` (the hash itself when ``digest``, or for ML-DSA the μ);
    ECDSA signatures are DER-encoded, as AWS KMS returns them; ML-DSA signs with an empty
    context, hedged (randomised) as FIPS 204 recommends."""
    if key_spec == ED25519_KEY_SPEC:
        _check_algorithm(key_spec, algorithm)
        _check_raw(algorithm, digest)
        ed_signer = load_own_private_key(private_der)
        if not isinstance(ed_signer, ed25519.Ed25519PrivateKey):
            raise SigningAlgorithmMismatch("not an Ed25519 key")
        return ed_signer.sign(message)
    if key_spec in ML_DSA_KEY_SPECS:
        _check_algorithm(key_spec, algorithm)
        _check_mu(message, digest)
        signer = load_own_private_key(private_der)
        if not isinstance(signer, MlDsaPrivateKey) or not is_ml_dsa(signer, key_spec):
            raise SigningAlgorithmMismatch("not a signing key")
        return signer.sign_mu(message) if digest else signer.sign(message)
    chosen = _hash_for(key_spec, algorithm, message, digest)
    prehashed: hashes.HashAlgorithm | utils.Prehashed = (
        utils.Prehashed(chosen) if digest else chosen
    )
    private = load_own_private_key(private_der)
    if isinstance(private, rsa.RSAPrivateKey):
        return private.sign(message, _rsa_padding(algorithm, chosen), prehashed)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return private.sign(message, ec.ECDSA(prehashed))
    raise SigningAlgorithmMismatch("not a signing key")


def verify(
    key_spec: str,
    public_der: bytes,
    algorithm: str,
    message: bytes,
    signature: bytes,
    *,
    digest: bool,
) -> None:
    """Nothing if ``signature`` is the key's over ``message``; ``SignatureMismatch`` if not."""
    if key_spec == ED25519_KEY_SPEC:
        _check_algorithm(key_spec, algorithm)
        _check_raw(algorithm, digest)
        ed_verifier = serialization.load_der_public_key(public_der)
        if not isinstance(ed_verifier, ed25519.Ed25519PublicKey):
            raise SigningAlgorithmMismatch("not an Ed25519 public key")
        try:
            ed_verifier.verify(signature, message)
        except InvalidSignature:
            raise SignatureMismatch("the signature does not verify") from None
        return
    if key_spec in ML_DSA_KEY_SPECS:
        _check_algorithm(key_spec, algorithm)
        _check_mu(message, digest)
        verifier = serialization.load_der_public_key(public_der)
        if not isinstance(verifier, MlDsaPublicKey):
            raise SigningAlgorithmMismatch("not an ML-DSA public key")
        try:
            if digest:
                verifier.verify_mu(signature, message)
            else:
                verifier.verify(signature, message)
        except InvalidSignature:
            raise SignatureMismatch("the signature does not verify") from None
        return
    chosen = _hash_for(key_spec, algorithm, message, digest)
    prehashed: hashes.HashAlgorithm | utils.Prehashed = (
        utils.Prehashed(chosen) if digest else chosen
    )
    public = serialization.load_der_public_key(public_der)
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, message, _rsa_padding(algorithm, chosen), prehashed)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, message, ec.ECDSA(prehashed))
        else:
            raise SigningAlgorithmMismatch("not a signing key")
    except InvalidSignature:
        raise SignatureMismatch("the signature does not verify") from None


def _oaep(algorithm: str) -> padding.OAEP:
    if algorithm not in _OAEP_HASHES:
        raise EncryptionAlgorithmMismatch(f"{algorithm} is not an RSA encryption algorithm")
    chosen = _OAEP_HASHES[algorithm]()
    return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)


def rsa_encrypt(public_der: bytes, algorithm: str, plaintext: bytes) -> bytes:
    """RSAES-OAEP of ``plaintext`` (at most the key's size less twice the hash and 2 bytes, as
    AWS KMS's limits: 214 or 190 bytes with RSA_2048)."""
    oaep = _oaep(algorithm)
    public = serialization.load_der_public_key(public_der)
    if not isinstance(public, rsa.RSAPublicKey):
        raise EncryptionAlgorithmMismatch("not an RSA key")
    room = public.key_size // 8 - 2 * _OAEP_HASHES[algorithm]().digest_size - 2
    if not 1 <= len(plaintext) <= room:
        raise EncryptionAlgorithmMismatch(
            f"the plaintext must be 1 to {room} bytes with this key and {algorithm}"
        )
    return public.encrypt(plaintext, oaep)


def rsa_decrypt(private_der: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    oaep = _oaep(algorithm)
    private = load_own_private_key(private_der)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise EncryptionAlgorithmMismatch("not an RSA key")
    try:
        return private.decrypt(ciphertext, oaep)
    except ValueError:
        raise DecryptionFailed("the ciphertext does not decrypt with this key") from None
