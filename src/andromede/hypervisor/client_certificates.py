"""An HTTPS listener's server context asking for client certificates (decision 0256), as its
mutual TLS mode says:

- ``verify``: a certificate required and verified by OpenSSL in the handshake against the
  trust store's CAs only (chain, signatures, validity — the time check dropped with
  ``IgnoreClientCertificateExpiry``, OpenSSL's ``X509_V_FLAG_NO_CHECK_TIME``); a client
  without one, or with one no CA of the store issued, or an expired one, fails the
  handshake. The store's CA names are sent in the certificate request only when
  ``AdvertiseTrustStoreCaNames`` is on (OpenSSL sends none otherwise). Revocations are the
  proxy's: it closes a connection whose certificate a revocation list names, before reading
  any request (:func:`~andromede.loadbalancing.trust_stores.is_revoked`).
- ``passthrough``: a certificate asked for, not required, and taken whatever it is — AWS
  forwards it unverified. Python's ``ssl`` verifies any certificate a client sends and has no
  verify callback, so the context's ``SSL_CTX`` is given one that accepts, through ctypes on
  the very OpenSSL ``_ssl`` is linked to. The ``SSL_CTX`` pointer is read from CPython's
  ``PySSLContext`` (its first field) and checked against the context's verify mode and
  options, both read through OpenSSL, before anything is set; a check that fails refuses the
  listener (:class:`ClientCertificatesUnavailable`) rather than guessing.
"""

from __future__ import annotations

import ctypes
import os
import ssl
from typing import Any, Final

from andromede.loadbalancing.trust_stores import MutualTls

__all__ = ["ClientCertificatesUnavailable", "ask_client_certificates"]

_NO_CHECK_TIME: Final = 0x200000  # <openssl/x509_vfy.h> X509_V_FLAG_NO_CHECK_TIME
_SSL_VERIFY_PEER: Final = 0x01
_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


class ClientCertificatesUnavailable(Exception):
    """OpenSSL's context could not be reached to take any client certificate."""


def _accept(preverified: int, store: int | None) -> int:
    return 1  # passthrough: every certificate taken, the targets judge it


_ACCEPT: Final = _VERIFY_CALLBACK(_accept)  # held for the process: OpenSSL keeps the pointer
_openssl: Any = None


def _library() -> Any:
    global _openssl
    if _openssl is None:
        library = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
        library.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
        library.SSL_CTX_get_verify_mode.restype = ctypes.c_int
        library.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        library.SSL_CTX_get_options.restype = ctypes.c_uint64
        library.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CALLBACK]
        library.SSL_CTX_set_verify.restype = None
        library.SSL_load_client_CA_file.argtypes = [ctypes.c_char_p]
        library.SSL_load_client_CA_file.restype = ctypes.c_void_p
        library.SSL_CTX_set_client_CA_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        library.SSL_CTX_set_client_CA_list.restype = None
        _openssl = library
    return _openssl


def _ssl_ctx(context: ssl.SSLContext) -> int:
    """The context's ``SSL_CTX *``, checked."""
    library = _library()
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        raise ClientCertificatesUnavailable("no SSL_CTX")
    expected = {ssl.CERT_NONE: 0, ssl.CERT_OPTIONAL: 1, ssl.CERT_REQUIRED: 3}[context.verify_mode]
    if library.SSL_CTX_get_verify_mode(pointer) != expected or int(
        library.SSL_CTX_get_options(pointer)
    ) != int(context.options):
        raise ClientCertificatesUnavailable("the SSL_CTX does not match its context")
    return int(pointer)


def _advertise(context: ssl.SSLContext, bundle: str) -> None:
    """The bundle's subjects sent as the acceptable CA names."""
    library = _library()
    pointer = _ssl_ctx(context)
    fd = os.memfd_create("alb-trust-store", os.MFD_CLOEXEC)
    try:
        os.write(fd, bundle.encode("ascii"))
        names = library.SSL_load_client_CA_file(f"/proc/self/fd/{fd}".encode())
    finally:
        os.close(fd)
    if not names:
        raise ClientCertificatesUnavailable("the CA names could not be read")
    library.SSL_CTX_set_client_CA_list(pointer, names)  # the context owns the list now


def ask_client_certificates(context: ssl.SSLContext, mutual: MutualTls) -> None:
    """Make ``context`` ask for client certificates as ``mutual`` says."""
    if mutual.mode == "verify":
        context.verify_mode = ssl.CERT_REQUIRED
        if mutual.ca_bundle:
            context.load_verify_locations(cadata=mutual.ca_bundle)
        if mutual.ignore_expiry:
            context.verify_flags |= _NO_CHECK_TIME
        if mutual.advertise_ca_names and mutual.ca_bundle:
            _advertise(context, mutual.ca_bundle)
        return
    if mutual.mode == "passthrough":
        context.verify_mode = ssl.CERT_OPTIONAL
        _library().SSL_CTX_set_verify(_ssl_ctx(context), _SSL_VERIFY_PEER, _ACCEPT)
