"""The cryptographic operations of the KMS API on customer keys: Encrypt, Decrypt,
ReEncrypt (and their DryRun checks), data keys and data key pairs, GenerateRandom, Sign and
Verify, MACs, key agreement, ML-KEM encapsulation, GetPublicKey. Private keys and HMAC secrets
stay in the root-key provider (decision 0048), which signs, decrypts and makes MACs.

Mixed into :class:`~andromede.kms.customer_keys.CustomerKeyService`; split off only for size.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Final

from andromede.kms import asymmetric, mac
from andromede.kms.ciphertext import CiphertextBlob
from andromede.kms.errors import AlgorithmNotOffered, InvalidWrappedKey
from andromede.kms.keys_errors import (
    InvalidCiphertext,
    InvalidKeyParameter,
    InvalidKeyUsage,
    InvalidMac,
    InvalidSignature,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_interface import Caller, DataKey, DataKeyPair, RequestKeys
from andromede.kms.keys_model import (
    KEY_USAGE_ENCAPSULATE_DECAPSULATE,
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_GENERATE_VERIFY_MAC,
    KEY_USAGE_KEY_AGREEMENT,
    KEY_USAGE_SIGN_VERIFY,
    CustomerKey,
)

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    pass

from andromede.kms.customer_keys_core import _NO_KEYS, SYMMETRIC_DEFAULT, CustomerKeysCore

__all__ = ["MAX_PLAINTEXT_SIZE", "MAX_RANDOM_BYTES", "CryptoMixin"]

MAX_PLAINTEXT_SIZE: Final = 4096  # AWS KMS's Encrypt limit
MAX_RANDOM_BYTES: Final = 1024  # GenerateRandom and GenerateDataKey's NumberOfBytes


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


class CryptoMixin(CustomerKeysCore):
    """The cryptographic operations (mixed into CustomerKeyService)."""

    # --- cryptographic operations ------------------------------------------------------

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

    # --- signing keys ------------------------------------------------------------------

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

    async def sign_as_service(self, key: CustomerKey, message: bytes, algorithm: str) -> bytes:
        """:meth:`sign` for a service principal that found the key with
        ``signing_key_for_service_use`` and its policy letting it sign (Route 53's DNSSEC
        signing its zones' DNSKEY sets, decision 0317): no caller, no grant."""
        key = self._signing(key)
        self._check_message(message)
        with _crypto_errors():
            if key.sealed_private_key is not None:  # a key made before decision 0048
                private_der = await self._unseal_secret(key)
                return await asyncio.to_thread(
                    asymmetric.sign, key.key_spec, private_der, algorithm, message, digest=False
                )
            return await self._provider(
                self._keys.sign, key.key_id, algorithm, message, digest=False
            )

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
