"""Domain errors of custom key stores and their external keys (decision 0090). No HTTP here:
``andromede.kmsapi`` maps each to the AWS KMS error type of the same name.

No message carries the proxy credential's secret, a plaintext or a key byte.

KmsError
└── CustomKeyStoreError
    ├── CustomKeyStoreNotFound            no such store in the caller's account
    ├── CustomKeyStoreNameInUse           the account has a store of that name
    ├── CustomKeyStoreInvalidState        its connection state forbids the call
    ├── CustomKeyStoreHasKeys             DeleteCustomKeyStore while keys are in it
    ├── CustomKeyStoreLimitExceeded       the account has as many stores as it may
    ├── InvalidCustomKeyStoreParameter    a parameter's shape (ValidationException)
    ├── CloudHsmClusterNotFound           AWS_CLOUDHSM stores: no CloudHSM here
    ├── XksProxyVpcEndpointServiceNotFound  VPC_ENDPOINT_SERVICE: no VPC endpoint services here
    ├── XksProxyUriInUse                  another store of the account has this proxy URI
    ├── XksProxyUriUnreachable            Create/Update: the proxy cannot be reached
    ├── XksProxyIncorrectAuthenticationCredential  Create/Update: it refused the signature
    ├── XksProxyInvalidResponse           Create/Update: its answer makes no sense
    ├── XksProxyInvalidConfiguration      Create/Update: it refused the URI path
    ├── XksKeyNotFound                    CreateKey: the proxy knows no such external key
    ├── XksKeyInvalidConfiguration        CreateKey: not an enabled AES-256 encrypt/decrypt key
    └── XksKeyAlreadyInUse                CreateKey: another KMS key of the store uses it
"""

from __future__ import annotations

from andromede.kms.errors import KmsError

__all__ = [
    "CloudHsmClusterNotFound",
    "CustomKeyStoreError",
    "CustomKeyStoreHasKeys",
    "CustomKeyStoreInvalidState",
    "CustomKeyStoreLimitExceeded",
    "CustomKeyStoreNameInUse",
    "CustomKeyStoreNotFound",
    "InvalidCustomKeyStoreParameter",
    "XksKeyAlreadyInUse",
    "XksKeyInvalidConfiguration",
    "XksKeyNotFound",
    "XksProxyIncorrectAuthenticationCredential",
    "XksProxyInvalidConfiguration",
    "XksProxyInvalidResponse",
    "XksProxyUriInUse",
    "XksProxyUriUnreachable",
    "XksProxyVpcEndpointServiceNotFound",
]


class CustomKeyStoreError(KmsError):
    """Base of the custom key store errors."""


class CustomKeyStoreNotFound(CustomKeyStoreError):
    pass


class CustomKeyStoreNameInUse(CustomKeyStoreError):
    pass


class CustomKeyStoreInvalidState(CustomKeyStoreError):
    pass


class CustomKeyStoreHasKeys(CustomKeyStoreError):
    pass


class CustomKeyStoreLimitExceeded(CustomKeyStoreError):
    pass


class InvalidCustomKeyStoreParameter(CustomKeyStoreError):
    pass


class CloudHsmClusterNotFound(CustomKeyStoreError):
    pass


class XksProxyVpcEndpointServiceNotFound(CustomKeyStoreError):
    pass


class XksProxyUriInUse(CustomKeyStoreError):
    pass


class XksProxyUriUnreachable(CustomKeyStoreError):
    pass


class XksProxyIncorrectAuthenticationCredential(CustomKeyStoreError):
    pass


class XksProxyInvalidResponse(CustomKeyStoreError):
    pass


class XksProxyInvalidConfiguration(CustomKeyStoreError):
    pass


class XksKeyNotFound(CustomKeyStoreError):
    pass


class XksKeyInvalidConfiguration(CustomKeyStoreError):
    pass


class XksKeyAlreadyInUse(CustomKeyStoreError):
    pass
