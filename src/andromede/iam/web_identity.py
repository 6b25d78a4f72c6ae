"""Web identity tokens (OpenID Connect ID tokens, JWTs): their checks, and the identity
providers' signing keys, fetched and cached (decision 0087).

A token is accepted only when, in this order:

1. it is at most ``TOKEN_MAX`` characters of a compact JWS, its header naming an asymmetric
   algorithm of ``ALGORITHMS`` (never ``none``, never an HMAC, whose key a verifier would have to
   share with the issuer) — else InvalidIdentityToken;
2. its ``iss`` is the URL of an OIDC provider of the role's account (the caller of
   :func:`verify_token` looks it up from :func:`unverified_issuer`);
3. its signature verifies with the key of its ``kid`` in the issuer's JWKS, fetched over HTTPS
   from the issuer's discovery document; a ``kid`` not in the cached set causes one refetch, at
   most every ``REFETCH_MIN_INTERVAL`` seconds per issuer, so random ``kid`` values cannot make
   the gateway hammer an IdP;
4. ``exp`` (required), ``nbf`` and ``iat`` hold within ``CLOCK_SKEW`` seconds
   (ExpiredIdentityToken when expired, InvalidIdentityToken when not yet valid);
5. its audience — ``aud``, or ``azp`` when ``aud`` is a list of several, as AWS reads it — is a
   client id of the provider; its ``sub`` is a non-empty string (IdpRejectedClaim otherwise);
6. AWS's session claims, when present, have AWS's shapes (InvalidIdentityToken otherwise):
   ``https://aws.amazon.com/tags`` (``principal_tags``, each value a list of one string, and
   ``transitive_tag_keys`` naming some of them) and ``https://aws.amazon.com/source_identity``
   (decision 0089).

Nothing here logs or keeps the token. The keys are fetched with httpx under an overall
``timeout``, documents bounded to ``max_document_size`` bytes, TLS verified against the system
CA store and the operator's extra bundle; failures are IdpCommunicationError.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jwt

if TYPE_CHECKING:
    import httpx

from andromede.http import outbound
from andromede.iam.errors import (
    ExpiredIdentityToken,
    IdpCommunicationError,
    IdpRejectedClaim,
    InvalidIdentityToken,
)
from andromede.iam.model import OidcProvider, Tags, valid_source_identity

__all__ = [
    "ALGORITHMS",
    "CLOCK_SKEW",
    "REFETCH_MIN_INTERVAL",
    "SOURCE_IDENTITY_CLAIM",
    "TAGS_CLAIM",
    "TOKEN_MAX",
    "JwksCache",
    "VerifiedWebIdentity",
    "issuer_url",
    "unverified_issuer",
    "verify_token",
]

# The JWS algorithms accepted, and the key type (and curve) each needs.
ALGORITHMS: Final[Mapping[str, tuple[str, str | None]]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
}
TOKEN_MAX: Final = 20_000  # STS's model: WebIdentityToken is 4 to 20,000 characters
CLOCK_SKEW: Final = 60  # seconds of leeway on exp, nbf and iat
REFETCH_MIN_INTERVAL: Final = 10.0  # seconds between two fetches of one issuer's keys
KEYS_PER_SET_MAX: Final = 100  # keys taken from one JWKS
ISSUERS_CACHED_MAX: Final = 1_000
# The claims AWS reads for the session: its tags, and its source identity (decision 0089).
TAGS_CLAIM: Final = "https://aws.amazon.com/tags"
SOURCE_IDENTITY_CLAIM: Final = "https://aws.amazon.com/source_identity"


@dataclass(frozen=True, slots=True)
class VerifiedWebIdentity:
    """What a valid token says, for the trust policy and the answer."""

    provider: OidcProvider
    subject: str
    audience: str
    amr: tuple[str, ...] | None  # the ``amr`` claim, when present
    # The session tags and source identity the IdP set for the session (decision 0089).
    tags: Tags = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None

    def condition_keys(self) -> dict[str, str | list[str]]:
        """The trust policy's ``<url>:aud``, ``<url>:sub`` (and ``<url>:amr``) keys, as AWS
        names them after the provider's URL (``token.actions.githubusercontent.com:sub``)."""
        url = self.provider.url
        keys: dict[str, str | list[str]] = {f"{url}:aud": self.audience, f"{url}:sub": self.subject}
        if self.amr is not None:
            keys[f"{url}:amr"] = list(self.amr)
        return keys


def issuer_url(iss: str) -> str:
    """An ``iss`` as a provider URL: without its ``https://`` (AWS keeps the rest as given)."""
    return iss[len("https://") :] if iss.startswith("https://") else iss


def _invalid(message: str) -> InvalidIdentityToken:
    return InvalidIdentityToken(message)


def unverified_issuer(token: str) -> tuple[str, dict[str, Any]]:
    """The token's ``iss`` and header, read before its signature is checked (to find the
    provider whose keys check it). InvalidIdentityToken for anything but a well-formed JWS of an
    accepted algorithm with a string ``iss``."""
    if len(token) > TOKEN_MAX:
        raise _invalid(f"The web identity token is longer than {TOKEN_MAX} characters")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid("The web identity token is not a well-formed JWT") from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise _invalid(f"The web identity token's algorithm {algorithm!r} is not accepted")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise _invalid("The web identity token has no issuer (iss)")
    return iss, header


def _audience(claims: Mapping[str, Any]) -> str:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud) and aud:
        azp = claims.get("azp")
        if isinstance(azp, str):
            return azp
        if len(aud) == 1:
            return str(aud[0])
    raise _invalid("Incorrect token audience")


async def verify_token(
    token: str,
    provider: OidcProvider,
    keys: JwksCache,
) -> VerifiedWebIdentity:
    """The token's identity if it passes every check of the module's docstring against
    ``provider`` (the role's account's provider of the token's issuer)."""
    iss, header = unverified_issuer(token)
    if issuer_url(iss) != provider.url:
        raise _invalid(f"No OpenIDConnect provider found in your account for {iss}")
    algorithm = str(header["alg"])
    kid = header.get("kid")
    jwk = await keys.key(provider.issuer, kid if isinstance(kid, str) else None)
    key = _signing_key(jwk, algorithm)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            leeway=CLOCK_SKEW,
            options={
                "require": ["exp", "iss"],
                "verify_aud": False,  # checked below: aud, or azp for a list (AWS's rule)
                "verify_iss": False,  # checked above against the provider
            },
        )
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredIdentityToken("Token expired: the web identity token is expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise _invalid("The web identity token is not yet valid") from exc
    except jwt.InvalidSignatureError as exc:
        raise _invalid("The web identity token's signature could not be verified") from exc
    except jwt.PyJWTError as exc:
        raise _invalid(f"The web identity token could not be validated: {exc}") from exc
    audience = _audience(claims)
    if audience not in provider.client_ids:
        raise _invalid("Incorrect token audience")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise IdpRejectedClaim("The web identity token has no subject (sub)")
    amr = claims.get("amr")
    if isinstance(amr, str):
        amr = [amr]
    tags, transitive = _session_tags(claims.get(TAGS_CLAIM))
    return VerifiedWebIdentity(
        provider,
        subject,
        audience,
        tuple(str(a) for a in amr) if isinstance(amr, list) else None,
        tags,
        transitive,
        _source_identity(claims.get(SOURCE_IDENTITY_CLAIM)),
    )


def _session_tags(claim: object) -> tuple[Tags, tuple[str, ...]]:
    """The session tags of AWS's tags claim: ``principal_tags``, each key's value a list of one
    string, and ``transitive_tag_keys``, a list naming some of them. InvalidIdentityToken for
    any other shape (IAM's rules on the tags themselves are STS's, as for AssumeRole)."""
    if claim is None:
        return (), ()
    if not isinstance(claim, dict):
        raise _invalid(f"The {TAGS_CLAIM} claim is not an object")
    principal_tags = claim.get("principal_tags", {})
    transitive = claim.get("transitive_tag_keys", [])
    if not isinstance(principal_tags, dict):
        raise _invalid(f"principal_tags of the {TAGS_CLAIM} claim is not an object")
    tags: list[tuple[str, str]] = []
    for key, values in principal_tags.items():
        if not (isinstance(values, list) and len(values) == 1 and isinstance(values[0], str)):
            raise _invalid(f"The session tag {key!r} of the token is not a list of one string")
        tags.append((key, values[0]))
    if not isinstance(transitive, list) or not all(isinstance(k, str) for k in transitive):
        raise _invalid(f"transitive_tag_keys of the {TAGS_CLAIM} claim is not a list of strings")
    keys = {key.lower() for key, _ in tags}
    if any(key.lower() not in keys for key in transitive):
        raise _invalid("transitive_tag_keys of the token must name tags of its principal_tags")
    return tuple(tags), tuple(transitive)


def _source_identity(claim: object) -> str | None:
    """AWS's source identity claim: 2 to 64 of ``[\\w+=,.@-]``, not ``aws:``-prefixed."""
    if claim is None:
        return None
    if not isinstance(claim, str) or not valid_source_identity(claim):
        raise _invalid(
            f"The {SOURCE_IDENTITY_CLAIM} claim must be 2 to 64 characters of [\\w+=,.@-]"
        )
    return claim


def _signing_key(jwk: Mapping[str, Any], algorithm: str) -> jwt.PyJWK:
    """The JWK as a key for ``algorithm``, if it may verify it: its type (and curve) fit, its
    ``alg`` (when given) is that one, and its ``use`` (when given) is ``sig``."""
    kty, curve = ALGORITHMS[algorithm]
    if (
        jwk.get("kty") != kty
        or (curve is not None and jwk.get("crv") != curve)
        or jwk.get("alg", algorithm) != algorithm
        or jwk.get("use", "sig") != "sig"
    ):
        raise _invalid("The web identity token's key does not fit its algorithm")
    try:
        return jwt.PyJWK(dict(jwk), algorithm=algorithm)
    except jwt.PyJWTError as exc:
        raise _invalid("The issuer's key for the web identity token is not usable") from exc


# -- the issuers' keys -------------------------------------------------------------------------
Fetch = Callable[[str], Awaitable[bytes]]


@dataclass(slots=True)
class _KeySet:
    fetched_at: float
    keys: dict[str, dict[str, Any]]  # kid ("" for a key without one) -> JWK


class JwksCache:
    """Each issuer's signing keys, fetched on first use and kept ``ttl`` seconds, per worker.

    ``fetch`` (an HTTPS GET returning the body, IdpCommunicationError on any failure) is made
    by :meth:`https_fetcher` in production; tests give their own.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        ttl: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._sets: dict[str, _KeySet] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # how many key sets were fetched (for tests and metrics)

    async def key(self, issuer: str, kid: str | None) -> dict[str, Any]:
        """The JWK of ``kid`` (or the only key, for a token without one) of ``issuer``."""
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            now = self._clock()
            held = self._sets.get(issuer)
            if held is None or now - held.fetched_at >= self._ttl:
                held = await self._refresh(issuer, now)
            found = _pick(held, kid)
            if found is None and now - held.fetched_at >= REFETCH_MIN_INTERVAL:
                held = await self._refresh(issuer, now)  # the IdP may have rotated its keys
                found = _pick(held, kid)
        if found is None:
            raise _invalid("The web identity token's key id (kid) is not in the issuer's keys")
        return found

    async def _refresh(self, issuer: str, now: float) -> _KeySet:
        keys = await self._keys_of(issuer)
        if len(self._sets) >= ISSUERS_CACHED_MAX and issuer not in self._sets:
            oldest = min(self._sets, key=lambda i: self._sets[i].fetched_at)
            del self._sets[oldest]
            self._locks.pop(oldest, None)
        held = _KeySet(now, keys)
        self._sets[issuer] = held
        self.fetches += 1
        return held

    async def _keys_of(self, issuer: str) -> dict[str, dict[str, Any]]:
        discovery = _json_object(
            await self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration"),
            "discovery document",
        )
        named = discovery.get("issuer")
        if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
            # OpenID Connect Discovery 1.0, section 4.3: the document is the issuer's own.
            raise IdpCommunicationError("The issuer's discovery document names another issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise IdpCommunicationError("The issuer's discovery document names no HTTPS jwks_uri")
        found = _json_object(await self._fetch(jwks_uri), "JWKS").get("keys")
        if not isinstance(found, list):
            raise IdpCommunicationError("The issuer's JWKS has no keys")
        keys: dict[str, dict[str, Any]] = {}
        for jwk in found[:KEYS_PER_SET_MAX]:
            if isinstance(jwk, dict):
                kid = jwk.get("kid")
                keys.setdefault(kid if isinstance(kid, str) else "", jwk)
        return keys

    @staticmethod
    def https_fetcher(
        *,
        ca_bundle: Path | None,
        timeout: float,
        max_document_size: int,
        allowed_networks: Sequence[str] = (),
    ) -> Fetch:
        """GET over HTTPS only, TLS checked against the system CA store plus ``ca_bundle``,
        no redirects, all within ``timeout`` seconds, at most ``max_document_size`` bytes.

        The URL is a tenant's (its provider's, or the ``jwks_uri`` its IdP names), so the
        gateway must not become the tenant's way into the operator's network: the host's
        addresses are resolved here, and every one must be public or in ``allowed_networks``
        (where the operator's own IdP lives), else IdpCommunicationError. The connection then
        goes to the address that was checked — never a second resolution, which a rebinding
        DNS server could answer otherwise — with the URL's host name for TLS (SNI and
        certificate check) and the Host header."""
        context = outbound.TlsContextOnDemand(ca_bundle)
        allowed = outbound.networks(allowed_networks)

        async def fetch(url: str) -> bytes:
            # Imported on use: with its command line (rich, pygments, click), httpx took 0.26 s
            # of every start of the server (decision 0115).
            import httpx

            if not url.startswith("https://"):
                raise IdpCommunicationError("The identity provider must be reached over HTTPS")
            try:
                async with asyncio.timeout(timeout):
                    pinned = await _pinned(url, allowed)
                    async with httpx.AsyncClient(verify=context.get(), timeout=timeout) as client:
                        for target in pinned.targets[:-1]:
                            with contextlib.suppress(httpx.ConnectError):
                                return await _get(client, target, pinned, max_document_size)
                        return await _get(client, pinned.targets[-1], pinned, max_document_size)
            except TimeoutError as exc:
                raise IdpCommunicationError("The identity provider did not answer in time") from exc
            except (httpx.HTTPError, OSError, ValueError) as exc:
                raise IdpCommunicationError("The identity provider could not be reached") from exc

        return fetch


async def _get(
    client: httpx.AsyncClient, target: str, pinned: outbound.PinnedUrl, max_document_size: int
) -> bytes:
    """One GET at the checked address ``target``, the URL's own host name for TLS."""
    async with client.stream(
        "GET",
        target,
        headers={"Accept": "application/json", "Host": pinned.host},
        extensions=pinned.extensions,
    ) as got:
        if got.status_code != 200:
            raise IdpCommunicationError(f"The identity provider answered {got.status_code}")
        body = bytearray()
        async for chunk in got.aiter_bytes():
            body += chunk
            if len(body) > max_document_size:
                raise IdpCommunicationError("The identity provider's document is too large")
        return bytes(body)


async def _pinned(url: str, allowed: Sequence[outbound.Network]) -> outbound.PinnedUrl:
    """``url`` at its host's addresses, resolved once and each public or in ``allowed``
    (:mod:`andromede.http.outbound`)."""
    try:
        return await outbound.pin(url, allowed, "oidc_allowed_networks")
    except outbound.AddressRefused as exc:
        raise IdpCommunicationError(
            "The identity provider's host is not on a network the gateway may reach "
            "(an internal address; setting oidc_allowed_networks)"
        ) from exc
    except outbound.NoAddress as exc:
        raise IdpCommunicationError(f"The identity provider could not be reached: {exc}") from exc


def _pick(held: _KeySet, kid: str | None) -> dict[str, Any] | None:
    if kid is not None:
        return held.keys.get(kid)
    return next(iter(held.keys.values())) if len(held.keys) == 1 else None


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise IdpCommunicationError(f"The issuer's {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise IdpCommunicationError(f"The issuer's {what} is not a JSON object")
    return value
