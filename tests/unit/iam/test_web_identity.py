"""Web identity tokens checked one rule at a time (decision 0087), against a test IdP whose
documents are served in process, and the issuers' key cache: its time bound, its one refetch on
an unknown key id, and its refusal to refetch on every forged one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
import trustme

from andromede.iam.errors import (
    ExpiredIdentityToken,
    IdpCommunicationError,
    IdpRejectedClaim,
    InvalidIdentityToken,
)
from andromede.iam.model import OidcProvider
from andromede.iam.web_identity import (
    CLOCK_SKEW,
    REFETCH_MIN_INTERVAL,
    TOKEN_MAX,
    JwksCache,
    VerifiedWebIdentity,
    verify_token,
)
from support.clock import Clock
from support.oidc import IdentityProvider, SigningKey, https_idp, write_ca

ISSUER = "https://idp.example/realms/ops"


@pytest.fixture
def idp() -> IdentityProvider:
    return IdentityProvider(ISSUER)


@pytest.fixture
def clock() -> Clock:
    return Clock(now=1000.0)


@pytest.fixture
def keys(idp: IdentityProvider, clock: Clock) -> JwksCache:
    return JwksCache(idp.fetch, ttl=300.0, clock=clock)


def provider(*client_ids: str, url: str = "idp.example/realms/ops") -> OidcProvider:
    return OidcProvider(
        "123456789012",
        url,
        client_ids or ("sts.amazonaws.com",),
        (),
        datetime(2026, 1, 1, tzinfo=UTC),
    )


async def check(token: str, keys: JwksCache, *client_ids: str) -> VerifiedWebIdentity:
    return await verify_token(token, provider(*client_ids), keys)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_good_token_gives_its_subject_audience_and_condition_keys(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    found = await check(idp.token(sub="system:serviceaccount:ns:app", amr=["pwd", "mfa"]), keys)
    assert (found.subject, found.audience) == ("system:serviceaccount:ns:app", "sts.amazonaws.com")
    assert found.condition_keys() == {
        "idp.example/realms/ops:aud": "sts.amazonaws.com",
        "idp.example/realms/ops:sub": "system:serviceaccount:ns:app",
        "idp.example/realms/ops:amr": ["pwd", "mfa"],
    }
    assert "idp.example/realms/ops:amr" not in (await check(idp.token(), keys)).condition_keys()


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512", "ES256", "ES384"])
async def test_each_asymmetric_algorithm_is_accepted(
    idp: IdentityProvider, keys: JwksCache, algorithm: str
) -> None:
    idp.keys = [SigningKey.make("k-" + algorithm, algorithm)]
    assert (await check(idp.token(), keys)).subject


async def test_a_bad_signature_is_refused(idp: IdentityProvider, keys: JwksCache) -> None:
    forger = SigningKey.make("key-1")  # the issuer's kid, another key
    with pytest.raises(InvalidIdentityToken, match="signature"):
        await check(idp.token(key=forger), keys)
    header, payload, signature = idp.token().split(".")
    tampered = _b64({**jwt.decode(idp.token(), options={"verify_signature": False}), "sub": "x"})
    with pytest.raises(InvalidIdentityToken, match="signature"):
        await check(f"{header}.{tampered}.{signature}", keys)
    del payload


async def test_alg_none_and_hmac_are_refused_before_any_key_is_fetched(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    claims = jwt.decode(idp.token(), options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'kid': 'key-1'})}.{_b64(claims)}."
    # HS256 keyed with the issuer's public JWK: the classic algorithm-confusion forgery.
    public = json.dumps(idp.keys[0].jwk()).encode()
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'key-1'})}.{_b64(claims)}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    for token in (unsigned, forged):
        with pytest.raises(InvalidIdentityToken, match="algorithm"):
            await check(token, keys)
    assert idp.fetched == []


async def test_a_key_of_another_type_than_the_algorithm_is_refused(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    rsa_key = SigningKey.make("key-1")
    ec_key = SigningKey.make("key-1", "ES256")
    idp.keys = [rsa_key]
    idp.published = [rsa_key]
    forged = idp.token(key=ec_key)  # ES256 under the RSA key's kid
    with pytest.raises(InvalidIdentityToken, match="does not fit"):
        await check(forged, keys)


async def test_another_issuer_is_refused(keys: JwksCache) -> None:
    other = IdentityProvider("https://evil.example")
    with pytest.raises(InvalidIdentityToken, match="No OpenIDConnect provider"):
        await check(other.token(), keys)


async def test_an_audience_not_among_the_client_ids_is_refused(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    with pytest.raises(InvalidIdentityToken, match="audience"):
        await check(idp.token(aud="someone-else"), keys)
    with pytest.raises(InvalidIdentityToken, match="audience"):
        await check(idp.token(aud=None), keys)
    # A list of audiences: azp says which one is the caller (AWS's rule)...
    token = idp.token(aud=["account", "web-app"], azp="web-app")
    assert (await check(token, keys, "web-app")).audience == "web-app"
    with pytest.raises(InvalidIdentityToken, match="audience"):
        await check(idp.token(aud=["account", "web-app"], azp="account"), keys, "web-app")
    # ...and without azp only a list of one is read as that audience.
    assert (await check(idp.token(aud=["web-app"]), keys, "web-app")).audience == "web-app"
    with pytest.raises(InvalidIdentityToken, match="audience"):
        await check(idp.token(aud=["account", "web-app"]), keys, "web-app")


async def test_expired_and_not_yet_valid_tokens_are_refused_beyond_the_skew(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    with pytest.raises(ExpiredIdentityToken):
        await check(idp.token(lifetime=-CLOCK_SKEW - 5), keys)
    assert await check(idp.token(lifetime=-CLOCK_SKEW + 20), keys)  # within the skew
    later = int(datetime.now(UTC).timestamp()) + CLOCK_SKEW + 120
    with pytest.raises(InvalidIdentityToken, match="not yet valid"):
        await check(idp.token(nbf=later, lifetime=3600), keys)
    with pytest.raises(InvalidIdentityToken, match="not yet valid"):
        await check(idp.token(iat=later, lifetime=3600), keys)
    with pytest.raises(InvalidIdentityToken, match="exp"):
        await check(idp.token(exp=None), keys)


async def test_oversized_and_malformed_tokens_are_refused(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    huge = idp.token(padding="x" * TOKEN_MAX)
    for token in (huge, "not-a-jwt", "a.b.c", "", idp.token()[:-1] + "!!", "e30.e30.e30"):
        with pytest.raises(InvalidIdentityToken):
            await check(token, keys)
    assert idp.fetched == []


async def test_a_token_without_subject_is_a_rejected_claim(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    with pytest.raises(IdpRejectedClaim):
        await check(idp.token(sub=None), keys)


async def test_keys_are_cached_then_fetched_again_after_their_time(
    idp: IdentityProvider, keys: JwksCache, clock: Clock
) -> None:
    for _ in range(3):
        await check(idp.token(), keys)
    assert keys.fetches == 1
    assert len(idp.fetched) == 2  # the discovery document, then the JWKS it names
    clock.now += 299
    await check(idp.token(), keys)
    assert keys.fetches == 1
    clock.now += 2
    await check(idp.token(), keys)
    assert keys.fetches == 2


async def test_an_unknown_kid_fetches_once_and_finds_a_rotated_key(
    idp: IdentityProvider, keys: JwksCache, clock: Clock
) -> None:
    await check(idp.token(), keys)
    rotated = SigningKey.make("key-2")
    idp.keys.append(rotated)
    clock.now += REFETCH_MIN_INTERVAL
    assert await check(idp.token(key=rotated), keys)
    assert keys.fetches == 2


async def test_forged_kids_cannot_make_the_gateway_refetch_again_and_again(
    idp: IdentityProvider, keys: JwksCache, clock: Clock
) -> None:
    await check(idp.token(), keys)
    clock.now += REFETCH_MIN_INTERVAL
    stranger = SigningKey.make("never-published")
    for _ in range(5):
        with pytest.raises(InvalidIdentityToken, match="kid"):
            await check(idp.token(key=stranger), keys)
    assert keys.fetches == 2  # one refetch, then the interval holds
    clock.now += REFETCH_MIN_INTERVAL
    with pytest.raises(InvalidIdentityToken, match="kid"):
        await check(idp.token(key=stranger), keys)
    assert keys.fetches == 3


async def test_an_issuer_that_cannot_be_reached_is_a_communication_error(
    idp: IdentityProvider, keys: JwksCache
) -> None:
    idp.down = True
    with pytest.raises(IdpCommunicationError):
        await check(idp.token(), keys)


async def test_a_discovery_document_naming_a_plain_http_jwks_is_refused(
    keys: JwksCache, idp: IdentityProvider
) -> None:
    async def fetch(url: str) -> bytes:
        return json.dumps({"issuer": ISSUER, "jwks_uri": "http://idp.example/keys"}).encode()

    cache = JwksCache(fetch)
    with pytest.raises(IdpCommunicationError, match="HTTPS"):
        await verify_token(idp.token(), provider(), cache)


async def test_the_https_fetcher_refuses_plain_http_and_bounds_documents() -> None:
    fetch = JwksCache.https_fetcher(ca_bundle=None, timeout=1.0, max_document_size=1024)
    with pytest.raises(IdpCommunicationError, match="HTTPS"):
        await fetch("http://127.0.0.1:1/.well-known/openid-configuration")
    with pytest.raises(IdpCommunicationError):
        await fetch("https://127.0.0.1:1/.well-known/openid-configuration")  # nothing listens


async def test_a_discovery_document_of_another_issuer_is_refused(idp: IdentityProvider) -> None:
    """OpenID Connect Discovery: the document must be the issuer's own."""

    async def fetch(url: str) -> bytes:
        if url.endswith("openid-configuration"):
            document = {"issuer": "https://elsewhere.example", "jwks_uri": ISSUER + "/keys"}
            return json.dumps(document).encode()
        return await idp.fetch(url)

    with pytest.raises(IdpCommunicationError, match="another issuer"):
        await verify_token(idp.token(), provider(), JwksCache(fetch))


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/.well-known/openid-configuration",
        "https://[::1]:8443/keys",
        "https://10.1.2.3/keys",
        "https://169.254.169.254/latest/meta-data/",
        "https://192.168.0.10/keys",
        "https://localhost:8443/keys",
    ],
)
async def test_a_tenants_idp_url_never_reaches_an_internal_address(url: str) -> None:
    """A provider's URL is a tenant's: the gateway refuses to connect to an internal address
    (loopback, private, link-local — the metadata service's) before any connection is made."""
    fetch = JwksCache.https_fetcher(ca_bundle=None, timeout=2.0, max_document_size=1024)
    with pytest.raises(IdpCommunicationError, match="oidc_allowed_networks"):
        await fetch(url)


async def test_the_operators_networks_are_reached_at_the_address_checked(
    tmp_path: Path,
) -> None:
    """An IdP inside ``oidc_allowed_networks`` is reached, over TLS checked against its
    name, at the address that was checked; one outside them is not, even by name."""
    ca = trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")
    with https_idp(ca, host="localhost") as served:
        discovery = served.issuer + "/.well-known/openid-configuration"
        refused = JwksCache.https_fetcher(ca_bundle=bundle, timeout=5.0, max_document_size=1 << 16)
        with pytest.raises(IdpCommunicationError, match="oidc_allowed_networks"):
            await refused(discovery)
        assert served.fetched == []  # refused before connecting
        allowed = JwksCache.https_fetcher(
            ca_bundle=bundle,
            timeout=5.0,
            max_document_size=1 << 16,
            allowed_networks=("127.0.0.0/8", "::1/128"),
        )
        document = json.loads(await allowed(discovery))
        assert document["issuer"] == served.issuer
        # The certificate is checked against the URL's name, not the address connected to.
        with pytest.raises(IdpCommunicationError):
            await allowed(discovery.replace("localhost", "127.0.0.1"))
        untrusted = JwksCache.https_fetcher(
            ca_bundle=None,
            timeout=5.0,
            max_document_size=1 << 16,
            allowed_networks=("::/0", "0.0.0.0/0"),
        )
        with pytest.raises(IdpCommunicationError):
            await untrusted(discovery)
