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
Basic, as RFC 6749 section 2.3.1 requires every server to accept. The file is read once at
start; one that others than the server's user may read stops the start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from andromede.errors import ConfigurationError
from andromede.http import outbound
from andromede.iam.errors import IdpCommunicationError
from andromede.iam.web_identity import JwksCache

if TYPE_CHECKING:
    import httpx

    from andromede.settings import Settings

__all__ = ["Endpoints", "OidcClient", "TokenRefused", "pkce_pair"]


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

    def __repr__(self) -> str:  # the secrets never reach a log line through a repr
        return f"OidcClient(confidential_clients={len(self._secrets)})"

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


def _client_secrets(path: Path | None) -> dict[tuple[str, str], str]:
    """(provider URL, client id) -> secret, from the operator's file (ConfigurationError for a
    file others may read or of another shape; the error never quotes the file)."""
    if path is None:
        return {}
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(
                f"console_oidc_client_secrets_file {path} must be readable by its owner only"
            )
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"console_oidc_client_secrets_file {path} is not a readable JSON file"
        ) from exc
    found: dict[tuple[str, str], str] = {}
    shape = ConfigurationError(
        f"console_oidc_client_secrets_file {path} must be "
        '{"<provider url>": {"<client id>": "<secret>"}}'
    )
    if not isinstance(document, dict):
        raise shape
    for url, clients in document.items():
        if not isinstance(clients, dict):
            raise shape
        for client_id, secret in clients.items():
            if not isinstance(secret, str) or not secret:
                raise shape
            found[(str(url).removeprefix("https://"), str(client_id))] = secret
    return found


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise IdpCommunicationError(f"The issuer's {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise IdpCommunicationError(f"The issuer's {what} is not a JSON object")
    return value
