"""The console as an OpenID Connect relying party (decision 0141): the issuer's discovery
document (its ``authorization_endpoint`` and ``token_endpoint``), the PKCE pair, and the code
exchanged for an ID token at the token endpoint.

Every call goes out as the web identity keys' do (``web_identity.JwksCache.https_fetcher``,
reused for the GET): HTTPS only, the issuer's TLS checked against the system store and
``oidc_ca_bundle``, the host's addresses resolved once and each public or in
``oidc_allowed_networks``, no redirects, ``oidc_timeout`` for the whole call and at most
``oidc_max_document_size`` bytes read. The tenant's issuer never makes the gateway reach an
address of the operator's network. Nothing here logs: the code, the verifier and the tokens
pass through only.

A client is public (PKCE alone) unless ``console_oidc_client_secrets_file`` holds a secret for
its provider and client id: the console then authenticates to the token endpoint with HTTP
Basic, as RFC 6749 section 2.3.1 requires every server to accept; or unless
``console_oidc_client_keys_file`` holds a private key for it: the console then sends a JWT
signed with it (``private_key_jwt``, RFC 7523 section 2.2 and OpenID Connect Core section 9:
``iss`` and ``sub`` the client id, ``aud`` the token endpoint, a minute's ``exp``, a random
``jti``). The files are read once at start; one that others than the server's user may read, or
not of its shape, stops the start, and a client may have a secret or a key, not both.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from andromede.errors import ConfigurationError
from andromede.http import outbound
from andromede.iam.errors import IdpCommunicationError
from andromede.iam.web_identity import JwksCache

if TYPE_CHECKING:
    import httpx

    from andromede.settings import Settings

__all__ = ["CLIENT_ASSERTION_TYPE", "Endpoints", "OidcClient", "TokenRefused", "pkce_pair"]

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_LIFETIME: Final = 60  # seconds: the assertion is sent at once, and used once
_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS: Final = {"ES256": "secp256r1", "ES384": "secp384r1"}


class TokenRefused(IdpCommunicationError):
    """The token endpoint answered an OAuth error (``error`` is its code, e.g. invalid_grant)."""

    def __init__(self, error: str) -> None:
        super().__init__(f"The identity provider refused the code ({error})")
        self.error = error


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorization: str
    token: str
    # RP-initiated logout's (OpenID Connect RP-Initiated Logout 1.0), when the issuer has one.
    end_session: str | None = None


@dataclass(frozen=True, slots=True)
class _ClientKey:
    """A client's private key for ``private_key_jwt``, its algorithm and key id."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(repr=False)
    algorithm: str
    kid: str | None

    def assertion(self, client_id: str, token_endpoint: str) -> str:
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": token_endpoint,
            "jti": secrets.token_urlsafe(24),
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
        }
        headers = {"kid": self.kid} if self.kid else None
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers=headers)


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636: 64 random URL-safe characters, and the
    unpadded base64url of their SHA-256."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _error_code(text: object) -> str:
    """An OAuth ``error`` as shown to the user: RFC 6749's characters only, at most 64."""
    code = str(text)[:64]
    return code if code and all(c.isalnum() or c in "_-." for c in code) else "invalid_response"


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.oidc_timeout
        self._max = settings.oidc_max_document_size
        self._fetch = JwksCache.https_fetcher(
            ca_bundle=settings.oidc_ca_bundle,
            timeout=settings.oidc_timeout,
            allowed_networks=settings.oidc_allowed_networks,
            max_document_size=settings.oidc_max_document_size,
        )
        self._context = outbound.TlsContextOnDemand(settings.oidc_ca_bundle)
        self._allowed = outbound.networks(settings.oidc_allowed_networks)
        self._secrets = _client_secrets(settings.console_oidc_client_secrets_file)
        self._keys = _client_keys(settings.console_oidc_client_keys_file)
        if both := self._secrets.keys() & self._keys.keys():
            url, client_id = sorted(both)[0]
            raise ConfigurationError(
                f"the OIDC client {client_id} of {url} has both a secret "
                "(console_oidc_client_secrets_file) and a key (console_oidc_client_keys_file)"
            )

    def __repr__(self) -> str:  # the secrets never reach a log line through a repr
        return f"OidcClient(confidential_clients={len(self._secrets) + len(self._keys)})"

    async def endpoints(self, issuer: str) -> Endpoints:
        """The issuer's endpoints from its discovery document, which must be the issuer's own
        (OpenID Connect Discovery 1.0, section 4.3) and name HTTPS endpoints."""
        body = await self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
        document = _object(body, "discovery document")
        named = document.get("issuer")
        if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
            raise IdpCommunicationError("The issuer's discovery document names another issuer")
        found = [document.get("authorization_endpoint"), document.get("token_endpoint")]
        if not all(isinstance(url, str) and url.startswith("https://") for url in found):
            raise IdpCommunicationError(
                "The issuer's discovery document names no HTTPS authorization and token endpoint"
            )
        end_session = document.get("end_session_endpoint")
        if not (isinstance(end_session, str) and end_session.startswith("https://")):
            end_session = None  # none, or one the browser should not be sent to in the clear
        return Endpoints(str(found[0]), str(found[1]), end_session)

    async def exchange(self, provider_url: str, token_endpoint: str, form: dict[str, str]) -> str:
        """The ID token the token endpoint gives for the code of ``form`` (RFC 6749 section
        4.1.3): TokenRefused for an OAuth error answer, IdpCommunicationError otherwise."""
        import httpx  # imported on use, as web_identity does (decision 0115)

        headers = {"Accept": "application/json"}
        secret = self._secrets.get((provider_url, form["client_id"]))
        if secret is not None:
            pair = f"{quote(form['client_id'], safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        key = self._keys.get((provider_url, form["client_id"]))
        if key is not None:
            form = {
                **form,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": key.assertion(form["client_id"], token_endpoint),
            }

        try:
            async with asyncio.timeout(self._timeout):
                pinned = await outbound.pin(token_endpoint, self._allowed, "oidc_allowed_networks")
                context = self._context.get()
                async with httpx.AsyncClient(verify=context, timeout=self._timeout) as c:
                    for target in pinned.targets[:-1]:
                        with contextlib.suppress(httpx.ConnectError):
                            return await self._post(c, target, pinned, form, headers)
                    return await self._post(c, pinned.targets[-1], pinned, form, headers)
        except outbound.OutboundError as exc:
            raise IdpCommunicationError(
                "The identity provider's token endpoint is not on a network the gateway may reach"
            ) from exc
        except TimeoutError as exc:
            raise IdpCommunicationError("The identity provider did not answer in time") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise IdpCommunicationError("The identity provider could not be reached") from exc

    async def _post(
        self,
        client: httpx.AsyncClient,
        target: str,
        pinned: outbound.PinnedUrl,
        form: dict[str, str],
        headers: dict[str, str],
    ) -> str:
        async with client.stream(
            "POST",
            target,
            data=form,
            headers={**headers, "Host": pinned.host},
            extensions=pinned.extensions,
        ) as got:
            body = bytearray()
            async for chunk in got.aiter_bytes():
                body += chunk
                if len(body) > self._max:
                    raise IdpCommunicationError("The identity provider's answer is too large")
            status = got.status_code
        answer = _object(bytes(body), "token answer")
        if status != 200:
            raise TokenRefused(_error_code(answer.get("error", status)))
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise TokenRefused("no_id_token")
        return id_token


def _operator_file(path: Path, setting: str, shape: str) -> dict[str, dict[str, Any]]:
    """The operator's JSON file of ``setting``, ``{"<provider url>": {"<client id>": …}}``:
    ConfigurationError for a file others may read or of another shape (never quoting it)."""
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(f"{setting} {path} must be readable by its owner only")
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{setting} {path} is not a readable JSON file") from exc
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise ConfigurationError(f"{setting} {path} must be {shape}")
    return document


def _client_secrets(path: Path | None) -> dict[tuple[str, str], str]:
    """(provider URL, client id) -> secret, from the operator's file."""
    if path is None:
        return {}
    setting = "console_oidc_client_secrets_file"
    shape = '{"<provider url>": {"<client id>": "<secret>"}}'
    found: dict[tuple[str, str], str] = {}
    for url, clients in _operator_file(path, setting, shape).items():
        for client_id, secret in clients.items():
            if not isinstance(secret, str) or not secret:
                raise ConfigurationError(f"{setting} {path} must be {shape}")
            found[(str(url).removeprefix("https://"), str(client_id))] = secret
    return found


def _client_keys(path: Path | None) -> dict[tuple[str, str], _ClientKey]:
    """(provider URL, client id) -> private key, from the operator's file: each a PEM private
    key (unencrypted: the file's mode protects it, as the secrets file's does) that fits its
    ``alg`` (RSA for RS/PS, the curve of ES256/ES384), with an optional ``kid``."""
    if path is None:
        return {}
    setting = "console_oidc_client_keys_file"
    shape = '{"<provider url>": {"<client id>": {"key": "<PEM>", "kid": "…", "alg": "RS256"}}}'
    found: dict[tuple[str, str], _ClientKey] = {}
    for url, clients in _operator_file(path, setting, shape).items():
        for client_id, entry in clients.items():
            where = f"{setting} {path}: the client {client_id} of {url}"
            if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
                raise ConfigurationError(f"{setting} {path} must be {shape}")
            kid, algorithm = entry.get("kid"), entry.get("alg")
            if not (kid is None or (isinstance(kid, str) and kid)):
                raise ConfigurationError(f"{where} has a kid that is not a string")
            key = _private_key(entry["key"], where)
            found[(str(url).removeprefix("https://"), str(client_id))] = _ClientKey(
                key, _algorithm(key, algorithm, where), kid
            )
    return found


def _private_key(pem: str, where: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{where} has no unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{where} has a key that is neither RSA nor EC")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise ConfigurationError(f"{where} has an RSA key shorter than 2048 bits")
    return key


def _algorithm(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, asked: object, where: str
) -> str:
    """The JWS algorithm of ``key``: the one asked if it fits the key, else the key's own."""
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256" if asked is None else asked
        if algorithm in _RSA_ALGORITHMS:
            return str(algorithm)
    else:
        curve = key.curve.name
        algorithm = next((a for a, c in _EC_ALGORITHMS.items() if c == curve), None)
        if algorithm is not None and asked in (None, algorithm):
            return algorithm
    raise ConfigurationError(f"{where} has an alg that does not fit its key")


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise IdpCommunicationError(f"The issuer's {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise IdpCommunicationError(f"The issuer's {what} is not a JSON object")
    return value
