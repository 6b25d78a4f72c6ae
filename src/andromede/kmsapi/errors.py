"""The KMS JSON protocol's errors: types, HTTP statuses, and how domain errors map to them.

AWS answers a KMS error as ``{"__type": "NotFoundException", "message": "…"}`` with the status
below (400 for nearly everything) and the ``x-amzn-RequestId`` header; botocore raises
``ClientError`` whose code is the ``__type``, so the types are AWS's.
"""

from __future__ import annotations

from typing import Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.kms import keys_errors as k
from andromede.kms import xks_errors as x
from andromede.kms.errors import IntegrityError, ProviderError

__all__ = ["KmsWireError", "to_kms_error"]

# type → (status, default message)
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "The caller is not authorized to perform this operation."),
    "AlreadyExistsException": (400, "The resource already exists."),
    "CloudHsmClusterNotFoundException": (400, "The AWS CloudHSM cluster was not found."),
    "CustomKeyStoreHasCMKsException": (400, "The custom key store still holds KMS keys."),
    "CustomKeyStoreInvalidStateException": (400, "The custom key store's connection state "
                                            "does not allow this operation."),
    "CustomKeyStoreNameInUseException": (400, "The custom key store name is already used "
                                         "in this account."),
    "CustomKeyStoreNotFoundException": (400, "The custom key store was not found."),
    "DisabledException": (400, "The key is disabled."),
    "DryRunOperationException": (400, "The request would have succeeded, but the DryRun "
                                 "option is set."),
    "ExpiredImportTokenException": (400, "The import token is expired."),
    "IncorrectKeyMaterialException": (400, "The key material is not valid, or not the key "
                                      "material previously imported into this key."),
    "IncorrectKeyException": (400, "The key ID in the request does not identify the key that "
                              "was used to encrypt the ciphertext."),
    "InvalidArnException": (400, "The ARN is not valid."),
    "InvalidCiphertextException": (400, "The ciphertext or its encryption context is not "
                                   "valid."),
    "InvalidImportTokenException": (400, "The import token is not valid."),
    "InvalidGrantIdException": (400, "The grant id is not valid."),
    "InvalidGrantTokenException": (400, "The grant token is not valid."),
    "InvalidKeyUsageException": (400, "The key's usage does not allow this operation."),
    "InvalidMarkerException": (400, "The marker is not valid."),
    "KMSInternalException": (500, "The request failed because of an internal error."),
    "KMSInvalidMacException": (400, "The MAC verification failed."),
    "KMSInvalidSignatureException": (400, "The signature verification failed."),
    "KMSInvalidStateException": (400, "The key is not in a state that allows this operation."),
    "LimitExceededException": (400, "A quota of the key or the account was exceeded."),
    "MalformedPolicyDocumentException": (400, "The key policy is not valid."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "NotFoundException": (400, "The specified entity or resource could not be found."),
    "ThrottlingException": (400, "Rate exceeded"),
    "UnsupportedOperationException": (400, "The operation is not supported."),
    "ValidationException": (400, "The input fails to satisfy the constraints of the "
                            "operation."),
    "XksKeyAlreadyInUseException": (400, "The external key is already associated with a KMS "
                                    "key in this external key store."),
    "XksKeyInvalidConfigurationException": (400, "The external key must be an enabled "
                                            "AES-256 key that encrypts and decrypts."),
    "XksKeyNotFoundException": (400, "The external key store proxy could not find the "
                                "external key."),
    "XksProxyIncorrectAuthenticationCredentialException": (400, "The proxy credentials failed "
                                                           "to authenticate to the external "
                                                           "key store proxy."),
    "XksProxyInvalidConfigurationException": (400, "The external key store proxy is not "
                                              "configured correctly."),
    "XksProxyInvalidResponseException": (400, "KMS cannot interpret the response it received "
                                         "from the external key store proxy."),
    "XksProxyUriInUseException": (400, "The proxy URI is already associated with another "
                                  "external key store."),
    "XksProxyUriUnreachableException": (400, "KMS was unable to reach the external key store "
                                        "proxy."),
    "XksProxyVpcEndpointServiceNotFoundException": (400, "The VPC endpoint service was not "
                                                    "found."),
}  # fmt: skip


class KmsWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)


_DOMAIN: Final[tuple[tuple[type[AndromedeError], str], ...]] = (
    (k.CmkNotFound, "NotFoundException"),
    (k.InvalidKeyArn, "InvalidArnException"),
    (k.CmkDisabled, "DisabledException"),
    (k.CmkInvalidState, "KMSInvalidStateException"),
    (k.InvalidCiphertext, "InvalidCiphertextException"),
    (k.IncorrectKey, "IncorrectKeyException"),
    (k.CmkAccessDenied, "AccessDeniedException"),
    (k.AliasAlreadyExists, "AlreadyExistsException"),
    (k.ReplicaAlreadyExists, "AlreadyExistsException"),
    (k.MalformedKeyPolicy, "MalformedPolicyDocumentException"),
    (k.InvalidKeyParameter, "ValidationException"),
    (k.KeyLimitExceeded, "LimitExceededException"),
    (k.InvalidGrantId, "InvalidGrantIdException"),
    (k.InvalidKeyUsage, "InvalidKeyUsageException"),
    (k.UnsupportedKeyOperation, "UnsupportedOperationException"),
    (k.InvalidSignature, "KMSInvalidSignatureException"),
    (k.InvalidMac, "KMSInvalidMacException"),
    (k.InvalidImportToken, "InvalidImportTokenException"),
    (k.ExpiredImportToken, "ExpiredImportTokenException"),
    (k.IncorrectKeyMaterial, "IncorrectKeyMaterialException"),
    (k.DryRunSucceeded, "DryRunOperationException"),
    (x.CustomKeyStoreNotFound, "CustomKeyStoreNotFoundException"),
    (x.CustomKeyStoreNameInUse, "CustomKeyStoreNameInUseException"),
    (x.CustomKeyStoreInvalidState, "CustomKeyStoreInvalidStateException"),
    (x.CustomKeyStoreHasKeys, "CustomKeyStoreHasCMKsException"),
    (x.CustomKeyStoreLimitExceeded, "LimitExceededException"),
    (x.InvalidCustomKeyStoreParameter, "ValidationException"),
    (x.CloudHsmClusterNotFound, "CloudHsmClusterNotFoundException"),
    (x.XksProxyVpcEndpointServiceNotFound, "XksProxyVpcEndpointServiceNotFoundException"),
    (x.XksProxyUriInUse, "XksProxyUriInUseException"),
    (x.XksProxyUriUnreachable, "XksProxyUriUnreachableException"),
    (
        x.XksProxyIncorrectAuthenticationCredential,
        "XksProxyIncorrectAuthenticationCredentialException",
    ),
    (x.XksProxyInvalidResponse, "XksProxyInvalidResponseException"),
    (x.XksProxyInvalidConfiguration, "XksProxyInvalidConfigurationException"),
    (x.XksKeyNotFound, "XksKeyNotFoundException"),
    (x.XksKeyInvalidConfiguration, "XksKeyInvalidConfigurationException"),
    (x.XksKeyAlreadyInUse, "XksKeyAlreadyInUseException"),
)


def to_kms_error(exc: AndromedeError) -> KmsWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, KmsWireError):
        return exc
    for domain, error_type in _DOMAIN:
        if isinstance(exc, domain):
            return KmsWireError(error_type, str(exc) or None)
    if isinstance(exc, IntegrityError):  # a wrapped key that fails: the blob was tampered with
        return KmsWireError("InvalidCiphertextException")
    if isinstance(exc, ProviderError):  # the HSM or keystore failed: no detail leaves
        return KmsWireError("KMSInternalException")
    answered = auth_error(exc)
    return None if answered is None else KmsWireError(*answered)
