"""Pure domain of KMS custom key stores of type EXTERNAL_KEY_STORE (decision 0090): the store
record, its connection state machine, and AWS's rules for each of its parameters. No I/O here.

An external key store names a customer's XKS proxy (``https://host[:port]`` + a path ending in
``/kms/xks/v<n>``) and the SigV4 credential KMS signs its requests with. Only the access key id
is kept in clear; the secret is kept sealed (``sealed_secret``), and never leaves the service.

Connection states and the events that move between them (AWS's; ConnectCustomKeyStore is
synchronous here, so CONNECTING and DISCONNECTING are never stored)::

    DISCONNECTED ──connect, proxy healthy──▶ CONNECTED ──disconnect──▶ DISCONNECTED
    DISCONNECTED ──connect, proxy failing──▶ FAILED (with a ConnectionErrorCode)
    FAILED ──disconnect──▶ DISCONNECTED          (AWS: a FAILED store must be disconnected
    CONNECTED ──connect──▶ CONNECTED (no-op)       before it is connected again)
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from andromede.kms.xks_errors import (
    CustomKeyStoreInvalidState,
    InvalidCustomKeyStoreParameter,
)

__all__ = [
    "CONNECTIVITY_PUBLIC_ENDPOINT",
    "CUSTOM_KEY_STORE_RECORD_FORMAT",
    "STORE_TYPE_CLOUDHSM",
    "STORE_TYPE_EXTERNAL",
    "ConnectionErrorCode",
    "ConnectionEvent",
    "ConnectionState",
    "CustomKeyStore",
    "check_access_key_id",
    "check_endpoint",
    "check_secret",
    "check_store_name",
    "check_uri_path",
    "check_xks_key_id",
    "is_store_id",
    "new_store_id",
]

CUSTOM_KEY_STORE_RECORD_FORMAT: Final = 1
STORE_TYPE_EXTERNAL: Final = "EXTERNAL_KEY_STORE"
STORE_TYPE_CLOUDHSM: Final = "AWS_CLOUDHSM"
CONNECTIVITY_PUBLIC_ENDPOINT: Final = "PUBLIC_ENDPOINT"
CONNECTIVITY_VPC_ENDPOINT_SERVICE: Final = "VPC_ENDPOINT_SERVICE"
# AWS KMS's quota of custom key stores per account and Region (not adjustable there).
MAX_STORES_PER_ACCOUNT: Final = 10

MAX_NAME_LENGTH: Final = 256
# botocore's model: XksProxyUriEndpointType is 10 to 128 of ``https://[a-zA-Z0-9.-]+``; the
# port is Andromède's extension (an on-premises proxy need not listen on 443).
_ENDPOINT: Final = re.compile(r"https://([a-zA-Z0-9.-]+)(?::([0-9]{1,5}))?")
_URI_PATH: Final = re.compile(r"(/[a-zA-Z0-9/_-]+)?/kms/xks/v\d{1,2}")
_ACCESS_KEY_ID: Final = re.compile(r"[A-Z2-7]{20,30}")
_SECRET: Final = re.compile(r"[a-zA-Z0-9/+=]{43,64}")
_XKS_KEY_ID: Final = re.compile(r"[a-zA-Z0-9._-]{1,128}")
_STORE_ID: Final = re.compile(r"cks-[0-9a-f]{17}")


def new_store_id() -> str:
    """AWS's form: ``cks-`` and 17 lower-case hex digits."""
    return "cks-" + secrets.token_hex(9)[:17]


def is_store_id(text: str) -> bool:
    return _STORE_ID.fullmatch(text) is not None


class ConnectionState(enum.Enum):
    CONNECTED = "CONNECTED"
    CONNECTING = "CONNECTING"
    FAILED = "FAILED"
    DISCONNECTED = "DISCONNECTED"
    DISCONNECTING = "DISCONNECTING"


class ConnectionErrorCode(enum.Enum):
    """Why a connection FAILED: AWS's codes for external key stores (and INTERNAL_ERROR)."""

    INTERNAL_ERROR = "INTERNAL_ERROR"
    NETWORK_ERRORS = "NETWORK_ERRORS"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    XKS_PROXY_ACCESS_DENIED = "XKS_PROXY_ACCESS_DENIED"
    XKS_PROXY_NOT_REACHABLE = "XKS_PROXY_NOT_REACHABLE"
    XKS_PROXY_INVALID_RESPONSE = "XKS_PROXY_INVALID_RESPONSE"
    XKS_PROXY_INVALID_CONFIGURATION = "XKS_PROXY_INVALID_CONFIGURATION"
    XKS_PROXY_TIMED_OUT = "XKS_PROXY_TIMED_OUT"
    XKS_PROXY_INVALID_TLS_CONFIGURATION = "XKS_PROXY_INVALID_TLS_CONFIGURATION"


class ConnectionEvent(enum.Enum):
    CONNECTED = "connect"
    CONNECT_FAILED = "fail to connect"
    DISCONNECT = "disconnect"


_C = ConnectionState
_V = ConnectionEvent
# AWS: Connect is refused in DISCONNECTING and FAILED; Disconnect in DISCONNECTING and
# DISCONNECTED. A connect that finds the store CONNECTED leaves it so.
TRANSITIONS: Final[dict[tuple[ConnectionState, ConnectionEvent], ConnectionState]] = {
    (_C.DISCONNECTED, _V.CONNECTED): _C.CONNECTED,
    (_C.DISCONNECTED, _V.CONNECT_FAILED): _C.FAILED,
    (_C.CONNECTED, _V.CONNECTED): _C.CONNECTED,
    (_C.CONNECTED, _V.DISCONNECT): _C.DISCONNECTED,
    (_C.FAILED, _V.DISCONNECT): _C.DISCONNECTED,
    (_C.CONNECTING, _V.DISCONNECT): _C.DISCONNECTED,
}


def next_connection_state(state: ConnectionState, event: ConnectionEvent) -> ConnectionState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise CustomKeyStoreInvalidState(
            f"The custom key store is {state.value}: it cannot {event.value}."
        ) from None


def _invalid(name: str, value: object, constraint: str) -> InvalidCustomKeyStoreParameter:
    camel = name[:1].lower() + name[1:]
    return InvalidCustomKeyStoreParameter(
        f"1 validation error detected: Value '{value}' at '{camel}' failed to satisfy "
        f"constraint: {constraint}"
    )


def check_store_name(name: str, parameter: str = "CustomKeyStoreName") -> str:
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise _invalid(parameter, name[:64], "Member must have length between 1 and 256")
    return name


def check_endpoint(endpoint: str) -> str:
    """An ``https://`` URL of a host name, with an optional port (Andromède's extension), no
    path. The spec wants a host name, never an address: the proxy's certificate names it."""
    if not 10 <= len(endpoint) <= 128:
        raise _invalid(
            "XksProxyUriEndpoint", endpoint[:128], "Member must have length between 10 and 128"
        )
    match = _ENDPOINT.fullmatch(endpoint)
    if match is None:
        raise _invalid(
            "XksProxyUriEndpoint",
            endpoint,
            "Member must satisfy regular expression pattern: ^https://[a-zA-Z0-9.-]+(:port)?$",
        )
    host, port = match[1], match[2]
    labels = host.split(".")
    if any(not label or label.startswith("-") or label.endswith("-") for label in labels):
        raise InvalidCustomKeyStoreParameter("XksProxyUriEndpoint must name a valid DNS host")
    if all(label.isdigit() for label in labels):
        raise InvalidCustomKeyStoreParameter(
            "XksProxyUriEndpoint must name the proxy by its DNS name, not an IP address"
        )
    if port is not None and not 1 <= int(port) <= 65535:
        raise InvalidCustomKeyStoreParameter("XksProxyUriEndpoint's port must be 1 to 65535")
    return endpoint


def check_uri_path(path: str) -> str:
    if not 10 <= len(path) <= 128:
        raise _invalid("XksProxyUriPath", path[:128], "Member must have length between 10 and 128")
    if _URI_PATH.fullmatch(path) is None or "//" in path:
        raise _invalid(
            "XksProxyUriPath",
            path,
            "Member must satisfy regular expression pattern: "
            "^(/[a-zA-Z0-9\\/_-]+/kms/xks/v\\d{1,2})$|^(/kms/xks/v\\d{1,2})$",
        )
    return path


def check_access_key_id(access_key_id: str) -> str:
    # Sensitive in AWS's model: never echoed back in the message.
    if _ACCESS_KEY_ID.fullmatch(access_key_id) is None:
        raise InvalidCustomKeyStoreParameter(
            "XksProxyAuthenticationCredential.AccessKeyId must be 20 to 30 characters of "
            "A-Z and 2-7"
        )
    return access_key_id


def check_secret(secret: str) -> str:
    if _SECRET.fullmatch(secret) is None:
        raise InvalidCustomKeyStoreParameter(
            "XksProxyAuthenticationCredential.RawSecretAccessKey must be 43 to 64 characters "
            "of a-z, A-Z, 0-9, /, + and ="
        )
    return secret


def check_xks_key_id(xks_key_id: str) -> str:
    if _XKS_KEY_ID.fullmatch(xks_key_id) is None:
        raise _invalid(
            "XksKeyId",
            xks_key_id[:128],
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9-_.]+$ "
            "and have length between 1 and 128",
        )
    return xks_key_id


@dataclass(frozen=True, slots=True)
class CustomKeyStore:
    """One external key store of one account. ``sealed_secret`` is the proxy credential's
    secret, sealed (never in clear outside the service's call to the proxy)."""

    store_id: str
    tenant_id: str
    name: str
    created_at: datetime
    endpoint: str
    uri_path: str
    access_key_id: str
    sealed_secret: str = ""
    connectivity: str = CONNECTIVITY_PUBLIC_ENDPOINT
    state: ConnectionState = ConnectionState.DISCONNECTED
    error_code: ConnectionErrorCode | None = None
    store_type: str = STORE_TYPE_EXTERNAL
    format_version: int = CUSTOM_KEY_STORE_RECORD_FORMAT
    revision: int = 0

    def __repr__(self) -> str:  # the sealed secret stays out of logs and tracebacks
        return (
            f"CustomKeyStore({self.store_id!r}, tenant={self.tenant_id!r}, "
            f"state={self.state.value})"
        )

    @property
    def base_url(self) -> str:
        """``https://host[:port]/path/kms/xks/v1``: every proxy API lives under it."""
        return self.endpoint + self.uri_path

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).hostname or ""

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

    def moved(
        self, event: ConnectionEvent, error: ConnectionErrorCode | None = None
    ) -> CustomKeyStore:
        state = next_connection_state(self.state, event)
        return replace(self, state=state, error_code=error if state is _C.FAILED else None)
