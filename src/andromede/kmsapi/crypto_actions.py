"""The KMS actions that use a key's material: Encrypt, Decrypt, ReEncrypt, the data keys and
data key pairs, GenerateRandom, the signing, verification and public keys, key agreement and
encapsulation, and the HMACs — each parses its JSON parameters, calls
:class:`CustomerKeyService`, and answers as AWS does; those without side effects take
``DryRun`` (:func:`dry_runnable`). The key life-cycle actions and the table of every action are
:mod:`andromede.kmsapi.actions`'s."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.kms.asymmetric import (
    ASYMMETRIC_KEY_SPECS,
    DATA_KEY_PAIR_SPECS,
    ENCAPSULATION_ALGORITHMS,
    KEY_AGREEMENT_ALGORITHMS,
    MAX_PEER_PUBLIC_KEY_SIZE,
    RSA_ENCRYPTION_ALGORITHMS,
    signing_algorithms,
)
from andromede.kms.asymmetric import message_type as asymmetric_message_type
from andromede.kms.keys_errors import DryRunSucceeded
from andromede.kms.keys_model import (
    KEY_USAGE_ENCAPSULATE_DECAPSULATE,
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_KEY_AGREEMENT,
)
from andromede.kms.mac import MAC_KEY_SPECS, mac_algorithms
from andromede.kmsapi.call import KmsCall, check_grant_tokens, invalid
from andromede.kmsapi.errors import KmsWireError

__all__ = ["CRYPTO_ACTIONS", "Handler", "b64", "dry_runnable"]

MAX_CIPHERTEXT_SIZE: Final = 6144
_invalid = invalid
_DATA_KEY_SPECS: Final = {"AES_256": 32, "AES_128": 16}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


Handler = Callable[[KmsCall], Awaitable[dict[str, Any]]]


def dry_runnable(handler: Handler) -> Handler:
    """AWS's ``DryRun`` for an action without side effects: it runs in full (every check,
    the key's use), its answer is dropped, and DryRunOperationException says it would have
    succeeded. (The grant actions, which change state, stop before the change instead.)"""

    async def run(call: KmsCall) -> dict[str, Any]:
        dry_run = call.boolean("DryRun")
        answer = await handler(call)
        if dry_run:
            raise DryRunSucceeded()
        return answer

    return run


# --- signing keys ------------------------------------------------------------------------------

_SIGNING_ALGORITHMS: Final = frozenset(
    algorithm for spec in ASYMMETRIC_KEY_SPECS for algorithm in signing_algorithms(spec)
)
# AWS's, but not here: Ed25519ph (no cryptography API, decision 0057) and SM2 (China only).
_SIGNING_ALGORITHMS_NOT_OFFERED: Final = frozenset({"ED25519_PH_SHA_512", "SM2DSA"})
MAX_SIGNATURE_SIZE: Final = 6144


def _signing_request(call: KmsCall) -> tuple[str, bytes, str, bool]:
    """KeyId, Message, SigningAlgorithm and whether the message is precomputed: MessageType
    DIGEST (a hash, for RSA and ECDSA) or EXTERNAL_MU (ML-DSA's μ)."""
    algorithm = call.required("SigningAlgorithm", max_length=64)
    if algorithm in _SIGNING_ALGORITHMS_NOT_OFFERED:
        raise KmsWireError(
            "UnsupportedOperationException", f"SigningAlgorithm {algorithm} is not offered"
        )
    if algorithm not in _SIGNING_ALGORITHMS:
        raise _invalid("SigningAlgorithm", algorithm, "Member must satisfy enum value set")
    message_type = call.string("MessageType", max_length=16) or "RAW"
    if message_type not in ("RAW", "DIGEST", "EXTERNAL_MU"):
        raise _invalid("MessageType", message_type, "Member must satisfy enum value set")
    precomputed = message_type != "RAW"
    if precomputed and asymmetric_message_type(algorithm, precomputed) != message_type:
        raise KmsWireError(
            "ValidationException",
            f"MessageType {message_type} does not go with SigningAlgorithm {algorithm}: "
            "DIGEST is for RSA and ECDSA, EXTERNAL_MU for ML-DSA",
        )
    message = call.blob("Message", max_size=4096)
    return call.required("KeyId"), message, algorithm, precomputed


async def sign(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    key_ref, message, algorithm, digest = _signing_request(call)
    signature, key = await call.keys.sign(call.caller, key_ref, message, algorithm, digest=digest)
    return {"KeyId": key.arn, "Signature": b64(signature), "SigningAlgorithm": algorithm}


async def verify(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    key_ref, message, algorithm, digest = _signing_request(call)
    signature = call.blob("Signature", max_size=MAX_SIGNATURE_SIZE)
    key = await call.keys.verify(call.caller, key_ref, message, signature, algorithm, digest=digest)
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}


async def get_public_key(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    key = await call.keys.get_public_key(call.caller, call.required("KeyId"))
    assert key.public_key is not None  # noqa: S101 (get_public_key refuses symmetric keys)
    answer: dict[str, Any] = {
        "KeyId": key.arn,
        "PublicKey": b64(key.public_key),
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
    }
    if key.key_usage == KEY_USAGE_ENCRYPT_DECRYPT:
        answer["EncryptionAlgorithms"] = list(RSA_ENCRYPTION_ALGORITHMS)
    elif key.key_usage == KEY_USAGE_KEY_AGREEMENT:
        answer["KeyAgreementAlgorithms"] = list(KEY_AGREEMENT_ALGORITHMS)
    elif key.key_usage == KEY_USAGE_ENCAPSULATE_DECAPSULATE:
        answer["EncapsulationAlgorithms"] = list(ENCAPSULATION_ALGORITHMS)
    else:
        answer["SigningAlgorithms"] = list(signing_algorithms(key.key_spec))
    return answer


async def encapsulate(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    algorithm = call.required_enum("EncapsulationAlgorithm", ENCAPSULATION_ALGORITHMS)
    secret, ciphertext, key = await call.keys.encapsulate(
        call.caller, call.required("KeyId"), algorithm
    )
    return {
        "KeyId": key.arn,
        "SharedSecret": b64(secret),
        "SharedSecretCiphertextBlob": b64(ciphertext),
        "EncapsulationAlgorithm": algorithm,
    }


async def decapsulate(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    algorithm = call.required_enum("EncapsulationAlgorithm", ENCAPSULATION_ALGORITHMS)
    secret, key = await call.keys.decapsulate(
        call.caller,
        call.required("KeyId"),
        call.blob("SharedSecretCiphertextBlob", max_size=6144),
        algorithm,
    )
    return {"KeyId": key.arn, "SharedSecret": b64(secret), "EncapsulationAlgorithm": algorithm}


async def derive_shared_secret(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    if call.params.get("Recipient") is not None:
        raise KmsWireError("UnsupportedOperationException", "Nitro Enclaves are not offered")
    algorithm = call.required_enum("KeyAgreementAlgorithm", KEY_AGREEMENT_ALGORITHMS)
    secret, key = await call.keys.derive_shared_secret(
        call.caller,
        call.required("KeyId"),
        algorithm,
        call.blob("PublicKey", max_size=MAX_PEER_PUBLIC_KEY_SIZE),
    )
    return {
        "KeyId": key.arn,
        "SharedSecret": b64(secret),
        "KeyAgreementAlgorithm": algorithm,
        "KeyOrigin": key.origin,
    }


# --- HMAC keys ---------------------------------------------------------------------------------

_MAC_ALGORITHMS: Final = frozenset(
    algorithm for spec in MAC_KEY_SPECS for algorithm in mac_algorithms(spec)
)


def _mac_request(call: KmsCall) -> tuple[str, bytes, str]:
    """KeyId, Message and MacAlgorithm."""
    algorithm = call.required("MacAlgorithm", max_length=64)
    if algorithm not in _MAC_ALGORITHMS:
        raise _invalid("MacAlgorithm", algorithm, "Member must satisfy enum value set")
    return call.required("KeyId"), call.blob("Message", max_size=4096), algorithm


async def generate_mac(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    key_ref, message, algorithm = _mac_request(call)
    made, key = await call.keys.generate_mac(call.caller, key_ref, message, algorithm)
    return {"Mac": b64(made), "MacAlgorithm": algorithm, "KeyId": key.arn}


async def verify_mac(call: KmsCall) -> dict[str, Any]:
    check_grant_tokens(call)
    key_ref, message, algorithm = _mac_request(call)
    given = call.blob("Mac", max_size=6144)
    key = await call.keys.verify_mac(call.caller, key_ref, message, given, algorithm)
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": algorithm}


# --- cryptographic operations ------------------------------------------------------------


async def encrypt(call: KmsCall) -> dict[str, Any]:
    algorithm = call.encryption_algorithm()
    blob, key = await call.keys.encrypt(
        call.caller,
        call.required("KeyId"),
        call.blob("Plaintext", max_size=4096),
        call.context(),
        algorithm,
    )
    return {"CiphertextBlob": b64(blob), "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


async def decrypt(call: KmsCall) -> dict[str, Any]:
    algorithm = call.encryption_algorithm()
    if call.params.get("Recipient") is not None:
        raise KmsWireError("UnsupportedOperationException", "Nitro Enclaves are not offered")
    if _ignores_ciphertext(call):
        key_ref = call.string("KeyId")
        if key_ref is None:
            raise KmsWireError(
                "ValidationException", "KeyId is required with the IGNORE_CIPHERTEXT modifier"
            )
        await call.keys.check_decrypt_permission(call.caller, key_ref, call.context(), algorithm)
        raise DryRunSucceeded()
    plaintext, key = await call.keys.decrypt(
        call.caller,
        call.blob("CiphertextBlob", max_size=MAX_CIPHERTEXT_SIZE),
        call.context(),
        call.string("KeyId"),
        algorithm,
    )
    return {"KeyId": key.arn, "Plaintext": b64(plaintext), "EncryptionAlgorithm": algorithm}


async def re_encrypt(call: KmsCall) -> dict[str, Any]:
    source_algorithm = call.encryption_algorithm("SourceEncryptionAlgorithm")
    destination_algorithm = call.encryption_algorithm("DestinationEncryptionAlgorithm")
    if _ignores_ciphertext(call):
        source_ref = call.string("SourceKeyId")
        if source_ref is None:
            raise KmsWireError(
                "ValidationException", "SourceKeyId is required with the IGNORE_CIPHERTEXT modifier"
            )
        await call.keys.check_re_encrypt_permission(
            call.caller,
            source_ref,
            call.context("SourceEncryptionContext"),
            call.required("DestinationKeyId"),
            call.context("DestinationEncryptionContext"),
            source_algorithm,
            destination_algorithm,
        )
        raise DryRunSucceeded()
    blob, source, destination = await call.keys.re_encrypt(
        call.caller,
        call.blob("CiphertextBlob", max_size=MAX_CIPHERTEXT_SIZE),
        call.context("SourceEncryptionContext"),
        call.required("DestinationKeyId"),
        call.context("DestinationEncryptionContext"),
        call.string("SourceKeyId"),
        source_algorithm,
        destination_algorithm,
    )
    return {
        "CiphertextBlob": b64(blob),
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": source_algorithm,
        "DestinationEncryptionAlgorithm": destination_algorithm,
    }


def _ignores_ciphertext(call: KmsCall) -> bool:
    """``DryRunModifiers`` says ``IGNORE_CIPHERTEXT`` on a dry run: check the permissions and
    the keys named, not the ciphertext (which may then be anything). Without ``DryRun`` the
    modifiers do not apply, as AWS documents."""
    modifiers = call.enum_list("DryRunModifiers", ("IGNORE_CIPHERTEXT",))
    return bool(call.boolean("DryRun")) and "IGNORE_CIPHERTEXT" in modifiers


def _data_key_size(call: KmsCall) -> int:
    spec = call.string("KeySpec")
    count = call.integer("NumberOfBytes", minimum=1, maximum=1024)
    if spec is not None and count is not None:
        raise KmsWireError("ValidationException", "Specify either KeySpec or NumberOfBytes")
    if spec is not None:
        if spec not in _DATA_KEY_SPECS:
            raise _invalid(
                "KeySpec", spec, "Member must satisfy enum value set: [AES_256, AES_128]"
            )
        return _DATA_KEY_SPECS[spec]
    if count is None:
        raise KmsWireError("ValidationException", "Specify either KeySpec or NumberOfBytes")
    return count


async def _generate_data_key(call: KmsCall, *, with_plaintext: bool) -> dict[str, Any]:
    size = _data_key_size(call)
    made = await call.keys.generate_data_key(
        call.caller, call.required("KeyId"), size, call.context(), with_plaintext=with_plaintext
    )
    answer = {"CiphertextBlob": b64(made.ciphertext), "KeyId": made.key.arn}
    if made.plaintext is not None:
        answer["Plaintext"] = b64(made.plaintext)
    return answer


async def generate_data_key(call: KmsCall) -> dict[str, Any]:
    return await _generate_data_key(call, with_plaintext=True)


async def generate_data_key_without_plaintext(call: KmsCall) -> dict[str, Any]:
    return await _generate_data_key(call, with_plaintext=False)


async def _generate_data_key_pair(call: KmsCall, *, with_plaintext: bool) -> dict[str, Any]:
    check_grant_tokens(call)
    if call.params.get("Recipient") is not None:
        raise KmsWireError("UnsupportedOperationException", "Nitro Enclaves are not offered")
    pair_spec = call.required("KeyPairSpec", max_length=64)
    if pair_spec in ("SM2", "ML_KEM_512"):  # AWS's, not offered here (decision 0056)
        raise KmsWireError(
            "UnsupportedOperationException", f"KeyPairSpec {pair_spec} is not offered"
        )
    if pair_spec not in DATA_KEY_PAIR_SPECS:
        raise _invalid("KeyPairSpec", pair_spec, "Member must satisfy enum value set")
    made = await call.keys.generate_data_key_pair(
        call.caller,
        call.required("KeyId"),
        pair_spec,
        call.context(),
        with_plaintext=with_plaintext,
    )
    answer = {
        "PrivateKeyCiphertextBlob": b64(made.private_ciphertext),
        "PublicKey": b64(made.public_key),
        "KeyId": made.key.arn,
        "KeyPairSpec": pair_spec,
    }
    if made.private_plaintext is not None:
        answer["PrivateKeyPlaintext"] = b64(made.private_plaintext)
    return answer


async def generate_data_key_pair(call: KmsCall) -> dict[str, Any]:
    return await _generate_data_key_pair(call, with_plaintext=True)


async def generate_data_key_pair_without_plaintext(call: KmsCall) -> dict[str, Any]:
    return await _generate_data_key_pair(call, with_plaintext=False)


async def generate_random(call: KmsCall) -> dict[str, Any]:
    if call.string("CustomKeyStoreId") is not None:
        raise KmsWireError("UnsupportedOperationException", "Custom key stores are not offered")
    count = call.integer("NumberOfBytes", minimum=1, maximum=1024)
    if count is None:
        raise _invalid("NumberOfBytes", "null", "Member must not be null")
    return {"Plaintext": b64(await call.keys.generate_random(call.caller, count))}


CRYPTO_ACTIONS: Final[Mapping[str, Handler]] = {
    "Decrypt": dry_runnable(decrypt),
    "Decapsulate": dry_runnable(decapsulate),
    "DeriveSharedSecret": dry_runnable(derive_shared_secret),
    "Encapsulate": dry_runnable(encapsulate),
    "Encrypt": dry_runnable(encrypt),
    "GenerateDataKey": dry_runnable(generate_data_key),
    "GenerateDataKeyPair": dry_runnable(generate_data_key_pair),
    "GenerateDataKeyPairWithoutPlaintext": dry_runnable(generate_data_key_pair_without_plaintext),
    "GenerateDataKeyWithoutPlaintext": dry_runnable(generate_data_key_without_plaintext),
    "GenerateMac": dry_runnable(generate_mac),
    "GenerateRandom": generate_random,
    "GetPublicKey": get_public_key,
    "ReEncrypt": dry_runnable(re_encrypt),
    "Sign": dry_runnable(sign),
    "Verify": dry_runnable(verify),
    "VerifyMac": dry_runnable(verify_mac),
}
