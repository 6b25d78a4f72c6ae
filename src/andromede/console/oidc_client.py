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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
        return Endpoints(str(found[0]), str(found[1]))

    async def exchange(self, token_endpoint: str, form: dict[str, str]) -> str:
        """The ID token the token endpoint gives for the code of ``form`` (RFC 6749 section
        4.1.3): TokenRefused for an OAuth error answer, IdpCommunicationError otherwise."""
        import httpx  # imported on use, as web_identity does (decision 0115)

        try:
            async with asyncio.timeout(self._timeout):
                pinned = await outbound.pin(token_endpoint, self._allowed, "oidc_allowed_networks")
                context = self._context.get()
                async with httpx.AsyncClient(verify=context, timeout=self._timeout) as c:
                    for target in pinned.targets[:-1]:
                        with contextlib.suppress(httpx.ConnectError):
                            return await self._post(c, target, pinned, form)
                    return await self._post(c, pinned.targets[-1], pinned, form)
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
    ) -> str:
        async with client.stream(
            "POST",
            target,
            data=form,
            headers={"Accept": "application/json", "Host": pinned.host},
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


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise IdpCommunicationError(f"The issuer's {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise IdpCommunicationError(f"The issuer's {what} is not a JSON object")
    return value
