"""The XKS proxy's composition root: everything ``serve`` and the key commands build from
:class:`~andromede.xks.settings.XksProxySettings`.

Owns the reading of secret files (the PIN, through :func:`read_pin`), the TLS context
(:func:`tls_context`: TLS 1.2 at least, forward-secret AEAD suites only, the four the spec
lists among them; HTTP/1.1; client certificates required and chained to ``tls_client_ca``
when it is set), the client certificate's subject check (:func:`subject_checked`, mutual TLS,
decision 0101) and the assembly of token, service, audit log, watched files and
ASGI application (:func:`open_proxy`). The server loop itself is the CLI's
(``cli/xks_proxy.py``), as ``cli/serve.py`` runs ``andromede serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from andromede.errors import ConfigurationError
from andromede.xks.app import XksApp, XksAppConfig
from andromede.xks.auditlog import AuditLog
from andromede.xks.authorization import Policy, load_policy
from andromede.xks.credentials import Credential, check_private_file, load_credentials
from andromede.xks.service import XksService
from andromede.xks.settings import XksProxySettings
from andromede.xks.token import Token
from andromede.xks.watched import WatchedFile

__all__ = ["Proxy", "open_proxy", "open_token", "read_pin", "subject_checked", "tls_context"]

log = logging.getLogger(__name__)

# TLS 1.2 suites: ECDHE (forward secrecy) with AES-GCM or ChaCha20-Poly1305 only; the spec's
# two TLS 1.2 suites are the first two. TLS 1.3's suites are all AEAD and OpenSSL's default
# set includes the spec's TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256.
_TLS12_CIPHERS = (
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)
_MAX_PIN = 256


def read_pin(path: Path) -> str:
    """The PIN in ``path`` (its first line, without the line end)."""
    check_private_file(path, "PIN file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the PIN file {path}: {type(exc).__name__}") from None
    pin = lines[0] if lines else ""
    if not pin or len(pin) > _MAX_PIN:
        raise ConfigurationError(f"the PIN file {path} must hold the PIN on its first line")
    return pin


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """The proxy's server context; with ``client_ca``, a client certificate chained to one of
    its certificates (and to nothing else: no system store) is required in the handshake,
    which OpenSSL ends with an alert otherwise."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"cannot load the TLS certificate or key: {exc}") from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"cannot load tls_client_ca: {exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def certificate_common_names(peer: Any) -> list[str]:
    """The subject CNs of ``ssl``'s decoded certificate (``getpeercert()``)."""
    if not isinstance(peer, dict):
        return []
    return [
        str(value) for rdn in peer.get("subject", ()) for name, value in rdn if name == "commonName"
    ]


def subject_checked(protocol: type[asyncio.Protocol], subject: str) -> type[asyncio.Protocol]:
    """``protocol`` (uvicorn's HTTP protocol class) refusing a connection whose client
    certificate's subject CN is not ``subject``: closed as soon as the handshake ends, before a
    byte of HTTP is read or answered. The CA was checked by OpenSSL during the handshake;
    Python's ``ssl`` has no hook for the subject inside it (decision 0101)."""

    class SubjectChecked(protocol):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            names = certificate_common_names(transport.get_extra_info("peercert"))
            if names != [subject]:
                peer = transport.get_extra_info("peername")
                log.warning(
                    "connection from %s refused: client certificate subject CN %s, not %r",
                    peer[0] if isinstance(peer, tuple) else "?",
                    [name[:64] for name in names] or "absent",
                    subject,
                )
                transport.abort()  # type: ignore[attr-defined]

    SubjectChecked.__name__ = f"SubjectChecked{protocol.__name__}"
    return SubjectChecked


def open_token(module: Path, token_label: str, pin_file: Path) -> Token:
    return Token(str(module), token_label, read_pin(pin_file))


@dataclass
class Proxy:
    """An assembled proxy: ``app`` to serve, the rest to close."""

    app: XksApp
    service: XksService
    audit: AuditLog
    credentials: WatchedFile[tuple[Credential, ...]]

    def close(self) -> None:
        self.service.close()
        self.audit.close()


@contextlib.contextmanager
def open_proxy(settings: XksProxySettings) -> Iterator[Proxy]:
    credentials = WatchedFile(settings.credentials_file, load_credentials, "credentials file")
    policy: WatchedFile[Policy] | None = None
    if settings.authorization_file is not None:
        policy = WatchedFile(settings.authorization_file, load_policy, "authorization file")
    token = open_token(settings.pkcs11_module, settings.token_label, settings.pin_file)
    service = XksService(
        token, hsm_timeout=settings.hsm_timeout, max_in_flight=settings.max_in_flight
    )
    try:
        audit = AuditLog(settings.audit_log)
    except OSError as exc:
        service.close()
        raise ConfigurationError(f"cannot open the audit log: {exc}") from None
    app = XksApp(
        service,
        credentials,
        audit,
        XksAppConfig(
            uri_path_prefix=settings.uri_path_prefix,
            region=settings.region,
            max_body_size=settings.max_body_size,
            body_read_timeout=settings.body_read_timeout,
        ),
        policy=policy,
    )
    proxy = Proxy(app, service, audit, credentials)
    try:
        yield proxy
    finally:
        proxy.close()
