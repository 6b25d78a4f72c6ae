"""The console's OIDC sign-in, decision 0141's addendum, against the real issuer served over
HTTPS on 127.0.0.1 (tests/support/oidc.py): signing out at the issuer too (OpenID Connect
RP-Initiated Logout 1.0), the role chosen after the issuer's callback among those whose trust
policy lets the ID token in, the page that composes the sign-in link, and a confidential
client authenticated with a JWT signed with its key (``private_key_jwt``, RFC 7523)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import jwt
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from andromede.audit.model import Outcome
from andromede.console.oidc_client import OidcClient
from andromede.errors import ConfigurationError
from andromede.settings import load_settings
from support.console import ConsoleHarness, console_harness, csrf_of, log_in, sign_in_root
from support.console_oidc import (
    CLIENT_ID,
    LIST_BUCKETS,
    at_issuer,
    begin,
    events,
    location,
    provider_and_role,
    refused,
    sign_in,
    trust,
)
from support.oidc import IdentityProvider, Login, https_idp, write_ca

LOGOUT_COOKIE = "andromede_console_oidc_logout"
# The test issuer answers from a thread of this process: on a loaded CI machine its TLS
# handshakes alone have taken past the default oidc_timeout (5 s), which is not what these
# tests are about.
IDP_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def idp(ca: trustme.CA) -> Iterator[IdentityProvider]:
    with https_idp(ca, path="/realms/acme") as served:
        yield served


@pytest.fixture
async def console(tmp_path: Path, ca: trustme.CA) -> AsyncIterator[ConsoleHarness]:
    bundle = write_ca(ca, tmp_path / "idp-ca.pem")
    async with console_harness(
        tmp_path,
        oidc_ca_bundle=bundle,
        oidc_allowed_networks=("127.0.0.0/8",),
        oidc_timeout=IDP_TIMEOUT,
    ) as harness:
        yield harness


def _set_cookie(answer: httpx.Response, name: str) -> str | None:
    cookies = answer.headers.get_list("set-cookie")
    return next((c for c in cookies if c.startswith(f"{name}=")), None)


# -- RP-initiated logout -----------------------------------------------------------------------
async def test_signing_out_of_an_oidc_session_ends_it_at_the_issuer_too(
    console: ConsoleHarness,
    idp: IdentityProvider,
    ca: trustme.CA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    idp.end_session = True
    await provider_and_role(console, idp)
    async with console.client() as client:
        landed = await sign_in(client, console, idp, ca)
        assert landed.status_code == 200, landed.text
        kept = _set_cookie(landed, LOGOUT_COOKIE)
        assert kept is not None
        for part in ("HttpOnly", "SameSite=Strict", "Path=/console;", "Max-Age="):
            assert part in kept
        [id_token] = idp.issued
        assert id_token not in kept and id_token.split(".")[1] not in kept  # sealed
        buckets = await client.get("/buckets")
        out = await client.post("/logout", data={"csrf": csrf_of(buckets)})
        target = location(out)
        where = urlsplit(target)
        assert f"https://{where.netloc}{where.path}" == idp.issuer + "/logout"
        asked = {k: v[0] for k, v in parse_qs(where.query).items()}
        assert asked == {
            "id_token_hint": id_token,
            "client_id": CLIENT_ID,
            "post_logout_redirect_uri": "http://127.0.0.1:9001/console/login",
        }
        assert _set_cookie(out, "andromede_console") is not None
        assert (_set_cookie(out, "andromede_console") or "").startswith("andromede_console=;")
        assert (_set_cookie(out, LOGOUT_COOKIE) or "").startswith(f"{LOGOUT_COOKIE}=;")
        assert (await client.get("/buckets")).status_code == 303  # the session ended here
        # The issuer ends its own and sends the browser back to the sign-in page.
        assert await at_issuer(target, ca) == "http://127.0.0.1:9001/console/login"
    assert idp.logouts == [asked]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("andromede"))
    assert "/console/logout" in logged and id_token not in logged  # the page only, not the log
    [logout] = await events(console, "andromede:ConsoleLogout")
    assert logout.details["issuer_logout"] == "true"


async def test_without_an_end_session_endpoint_signing_out_stays_in_the_console(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await provider_and_role(console, idp)
    async with console.client() as client:
        landed = await sign_in(client, console, idp, ca)
        assert landed.status_code == 200 and _set_cookie(landed, LOGOUT_COOKIE) is None
        buckets = await client.get("/buckets")
        out = await client.post("/logout", data={"csrf": csrf_of(buckets)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert idp.logouts == []


async def test_another_session_of_the_same_browser_signs_out_in_the_console_only(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    idp.end_session = True
    await provider_and_role(console, idp)
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        assert (await sign_in(client, console, idp, ca)).status_code == 200
        # The session gone (the browser closed), a password sign-in: the logout cookie left
        # behind is the other session's.
        client.cookies.delete("andromede_console")
        assert (await log_in(client, console.admin_tenant_id, "root")).status_code == 303
        assert LOGOUT_COOKIE in client.cookies
        buckets = await client.get("/buckets")
        out = await client.post("/logout", data={"csrf": csrf_of(buckets)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        assert (_set_cookie(out, LOGOUT_COOKIE) or "").startswith(f"{LOGOUT_COOKIE}=;")
    assert idp.logouts == []


async def test_an_id_token_too_large_for_the_cookie_is_left_out_of_the_logout(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    idp.end_session = True
    idp.login = Login(claims={"groups": ["g" * 40] * 80})  # a token of some 4 KB
    await provider_and_role(console, idp)
    async with console.client() as client:
        landed = await sign_in(client, console, idp, ca)
        assert landed.status_code == 200, landed.text
        kept = _set_cookie(landed, LOGOUT_COOKIE) or ""
        assert len(kept) < 4000
        out = await client.post("/logout", data={"csrf": csrf_of(await client.get("/buckets"))})
        asked = parse_qs(urlsplit(location(out)).query)
    assert "id_token_hint" not in asked and asked["client_id"] == [CLIENT_ID]


async def test_a_forged_logout_cookie_signs_out_in_the_console_only(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    idp.end_session = True
    await provider_and_role(console, idp)
    async with console.client() as client:
        assert (await sign_in(client, console, idp, ca)).status_code == 200
        buckets = await client.get("/buckets")
        client.cookies.delete(LOGOUT_COOKIE)
        client.cookies.set(LOGOUT_COOKIE, "Zm9yZ2Vk", path="/console")
        out = await client.post("/logout", data={"csrf": csrf_of(buckets)})
        assert out.status_code == 303, unescape(out.text)
    assert idp.logouts == []


# -- the role chosen after the issuer's callback -----------------------------------------------
async def _roles(console: ConsoleHarness, idp: IdentityProvider, **trusted: str) -> None:
    """The provider, and a role per name trusting the subject given (``path`` for a role of
    that path), each allowed to list buckets."""
    tenant = console.admin_tenant_id
    provider = await console.identity.create_open_id_connect_provider(
        tenant, idp.issuer, [CLIENT_ID], []
    )
    for name, sub in trusted.items():
        path = "/team/" if name.startswith("team") else "/"
        await console.identity.create_role(
            tenant, name, trust(provider.arn, idp.url, sub), path=path
        )
        await console.identity.put_role_policy(tenant, name, "list", LIST_BUCKETS)


def _offered(page: httpx.Response) -> tuple[list[str], str]:
    """The roles a choice page offers, and its sealed choice."""
    text = unescape(page.text)
    assert page.status_code == 200 and 'action="/console/oidc/role"' in text, text
    roles = re.findall(r'name="role" value="([^"]+)"', text)
    choice = re.search(r'name="choice" value="([^"]+)"', text)
    assert choice is not None
    return roles, choice.group(1)


async def test_without_a_role_the_user_picks_one_of_those_that_trust_the_token(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    idp.end_session = True
    await _roles(
        console,
        idp,
        engineers="alice@example.com",
        team_ops="alice@example.com",
        auditors="bob@example.com",  # trusts another subject: never offered to alice
    )
    tenant = console.admin_tenant_id
    async with console.client() as client:
        started = await begin(client, tenant, idp.url, role="")
        chosen = await client.get(await at_issuer(location(started), ca))
        roles, choice = _offered(chosen)
        assert roles == ["engineers", "team_ops"]
        [id_token] = idp.issued
        assert id_token not in chosen.text and id_token.split(".")[1] not in chosen.text
        binding = _set_cookie(chosen, "andromede_console_oidc") or ""
        for part in ("HttpOnly", "SameSite=Lax", "Path=/console/oidc", "Max-Age=300"):
            assert part in binding
        # Another role than those offered, even one of the account, is refused.
        stranger = await client.post("/oidc/role", data={"choice": choice, "role": "auditors"})
        refused(stranger, 403, "OIDC sign-in refused (AccessDenied)")
    async with console.client() as client:
        started = await begin(client, tenant, idp.url, role="")
        _, choice = _offered(await client.get(await at_issuer(location(started), ca)))
        landed = await client.post("/oidc/role", data={"choice": choice, "role": "team_ops"})
        assert landed.status_code == 200, landed.text
        assert _set_cookie(landed, LOGOUT_COOKIE) is not None  # the choice kept the logout's
        buckets = await client.get("/buckets")
        assert f"arn:aws:sts::{tenant}:assumed-role/team_ops/alice@example.com" in buckets.text
        # The choice is taken once: not again for another role, even in its own browser.
        client.cookies.delete("andromede_console")
        client.cookies.set("andromede_console_oidc", binding.split(";")[0].split("=", 1)[1])
        again = await client.post("/oidc/role", data={"choice": choice, "role": "engineers"})
        refused(again, 403, "was not begun here")
    login = [
        e for e in await events(console, "andromede:ConsoleLogin") if e.outcome is Outcome.SUCCESS
    ]
    assert [e.principal for e in login] == [
        f"arn:aws:sts::{tenant}:assumed-role/team_ops/alice@example.com"
    ]


async def test_a_role_choice_lasts_console_oidc_role_choice_lifetime(
    tmp_path: Path, ca: trustme.CA, idp: IdentityProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with console_harness(
        tmp_path,
        oidc_ca_bundle=write_ca(ca, tmp_path / "idp-ca.pem"),
        oidc_allowed_networks=("127.0.0.0/8",),
        oidc_timeout=IDP_TIMEOUT,
        console_oidc_role_choice_lifetime=45,
    ) as console:
        await _roles(console, idp, engineers="alice@example.com", ops="alice@example.com")
        async with console.client() as client:
            started = await begin(client, console.admin_tenant_id, idp.url, role="")
            chosen = await client.get(await at_issuer(location(started), ca))
            _, choice = _offered(chosen)
            assert "Max-Age=45" in (_set_cookie(chosen, "andromede_console_oidc") or "")
            # The user comes back 46 seconds later (the cookie kept, as a lax browser may).
            later = time.time() + 46
            monkeypatch.setattr(console.identity, "_clock", lambda: later)
            late = await client.post("/oidc/role", data={"choice": choice, "role": "ops"})
            refused(late, 403, "was not begun here, or was used or expired")
        assert not await events(console, "sts:AssumeRoleWithWebIdentity")


async def test_a_role_choice_goes_only_with_the_browser_it_was_offered_to(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await _roles(console, idp, engineers="alice@example.com", ops="alice@example.com")
    async with console.client() as client:
        started = await begin(client, console.admin_tenant_id, idp.url, role="")
        _, choice = _offered(await client.get(await at_issuer(location(started), ca)))
    async with console.client() as other:  # a page of another site posting it: no cookie
        refused(await other.post("/oidc/role", data={"choice": choice, "role": "ops"}), 403)
    assert not await events(console, "sts:AssumeRoleWithWebIdentity")


async def test_one_role_that_trusts_the_token_signs_in_straight_away(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await _roles(console, idp, team_ops="alice@example.com", auditors="bob@example.com")
    async with console.client() as client:
        started = await begin(client, console.admin_tenant_id, idp.url, role="")
        landed = await client.get(await at_issuer(location(started), ca))
        assert 'http-equiv="refresh" content="0; url=/console/buckets"' in landed.text
        assert "assumed-role/team_ops/alice@example.com" in (await client.get("/buckets")).text


async def test_no_role_that_trusts_the_token_is_a_clear_refusal(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await _roles(console, idp, auditors="bob@example.com")
    async with console.client() as client:
        started = await begin(client, console.admin_tenant_id, idp.url, role="")
        landed = await client.get(await at_issuer(location(started), ca))
        refused(landed, 403, "No role of this account lets you in", "(AccessDenied)")
    assert not await events(console, "sts:AssumeRoleWithWebIdentity")


# -- the sign-in link's page ---------------------------------------------------------------------
async def test_the_tenants_administrator_composes_the_sign_in_link(
    console: ConsoleHarness, idp: IdentityProvider
) -> None:
    await _roles(console, idp, engineers="alice@example.com", team_ops="alice@example.com")
    tenant = console.admin_tenant_id
    async with console.client() as client:
        await sign_in_root(console, client)
        page = await client.get("/iam/oidc-sign-in")
        assert page.status_code == 200, page.text
        assert f'<option value="{idp.url}"' in page.text and 'id="sign-in-link"' not in page.text
        assert '<option value="engineers">' in page.text  # the roles, as suggestions
        composed = await client.get(
            "/iam/oidc-sign-in", params={"provider": idp.url, "role": "engineers"}
        )
        text = unescape(composed.text)
        link = f"http://127.0.0.1:9001/console/login?account={tenant}&provider=" + (
            quote(idp.url, safe="") + "&role=engineers"
        )
        assert f'id="sign-in-link" readonly value="{link}"' in text, text
        assert 'data-copy="#sign-in-link"' in text and "/console/static/copy.js" in text
        assert '<code id="redirect-uri">http://127.0.0.1:9001/console/oidc/callback<' in text
        assert '<code id="post-logout-uri">http://127.0.0.1:9001/console/login<' in text
        assert f"the client {CLIENT_ID} must allow" in text
        without_role = await client.get("/iam/oidc-sign-in", params={"provider": idp.url})
        assert "&amp;role=" not in without_role.text and "sign-in-link" in without_role.text
        for asked, message in [
            ({"provider": "keycloak.example.org/realms/x"}, "No such OpenID Connect provider"),
            ({"provider": idp.url, "role": "no such/role"}, "That is not a role name"),
        ]:
            wrong = await client.get("/iam/oidc-sign-in", params=asked)
            assert wrong.status_code == 400 and message in wrong.text
            assert 'id="sign-in-link"' not in wrong.text
    async with console.client() as browser:  # the link opens the sign-in page, filled in
        opened = await browser.get(link.removeprefix("http://127.0.0.1:9001/console"))
        for value in (tenant, idp.url, "engineers"):
            assert f'value="{value}"' in opened.text
        assert (await browser.get("/iam/oidc-sign-in")).status_code == 303  # not signed in


async def test_the_link_page_reads_through_iams_own_policies(
    console: ConsoleHarness, idp: IdentityProvider
) -> None:
    await _roles(console, idp, engineers="alice@example.com")
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "intern")  # no policy at all
    async with console.client() as client:
        assert (await log_in(client, tenant, "intern")).status_code == 303
        page = await client.get("/iam/oidc-sign-in", params={"provider": idp.url})
        assert page.status_code == 403 and "AccessDenied" in page.text
        assert idp.url not in page.text.replace(f'value="{idp.url}"', "")
        assert 'id="sign-in-link"' not in page.text


async def test_an_account_without_a_provider_is_told_to_create_one(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        page = await client.get("/iam/oidc-sign-in")
        assert page.status_code == 200 and "has no OpenID Connect provider" in unescape(page.text)


# -- private_key_jwt -----------------------------------------------------------------------------
def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _keys_file(tmp_path: Path, entries: dict[str, object], mode: int = 0o600) -> Path:
    path = tmp_path / "oidc-client-keys.json"
    path.write_text(json.dumps(entries))
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), None),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "PS256"),
        (ec.generate_private_key(ec.SECP256R1()), None),
    ],
    ids=["RS256", "PS256", "ES256"],
)
async def test_a_confidential_client_authenticates_with_a_jwt_signed_with_its_key(
    tmp_path: Path,
    ca: trustme.CA,
    idp: IdentityProvider,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    alg: str | None,
) -> None:
    idp.client_key = key.public_key()
    entry = {"key": _pem(key), "kid": "console-2026", **({"alg": alg} if alg else {})}
    async with console_harness(
        tmp_path,
        oidc_ca_bundle=write_ca(ca, tmp_path / "idp-ca.pem"),
        oidc_allowed_networks=("127.0.0.0/8",),
        oidc_timeout=IDP_TIMEOUT,
        console_oidc_client_keys_file=_keys_file(tmp_path, {idp.issuer: {CLIENT_ID: entry}}),
    ) as console:
        assert "PRIVATE KEY" not in repr(console.application._running)
        await provider_and_role(console, idp)
        async with console.client() as client:
            landed = await sign_in(client, console, idp, ca)
            assert landed.status_code == 200, landed.text
            # A second sign-in: a new assertion (its jti), which the issuer takes.
            client.cookies.delete("andromede_console")
            assert (await sign_in(client, console, idp, ca)).status_code == 200
    first, second = idp.token_requests
    assert first["client_assertion_type"].endswith(":client-assertion-type:jwt-bearer")
    header = jwt.get_unverified_header(first["client_assertion"])
    assert header["kid"] == "console-2026" and header["alg"] == (alg or header["alg"])
    assert first["client_assertion"] != second["client_assertion"]
    assert "client_secret" not in first


async def test_a_jwt_signed_with_another_key_is_the_issuers_invalid_client(
    tmp_path: Path, ca: trustme.CA, idp: IdentityProvider
) -> None:
    idp.client_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    other = ec.generate_private_key(ec.SECP256R1())
    async with console_harness(
        tmp_path,
        oidc_ca_bundle=write_ca(ca, tmp_path / "idp-ca.pem"),
        oidc_allowed_networks=("127.0.0.0/8",),
        oidc_timeout=IDP_TIMEOUT,
        console_oidc_client_keys_file=_keys_file(
            tmp_path, {idp.url: {CLIENT_ID: {"key": _pem(other)}}}
        ),
    ) as console:
        await provider_and_role(console, idp)
        async with console.client() as client:
            refused(await sign_in(client, console, idp, ca), 403, "(invalid_client)")


def test_a_keys_file_others_may_read_or_with_a_key_that_does_not_fit_stops_the_start(
    tmp_path: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = _pem(key)
    good = {"idp.example": {"console": {"key": pem}}}

    def client_for(entries: dict[str, object], mode: int = 0o600) -> OidcClient:
        path = _keys_file(tmp_path, entries, mode)
        return OidcClient(load_settings(data_dir=tmp_path, console_oidc_client_keys_file=path))

    with pytest.raises(ConfigurationError, match="readable by its owner only"):
        client_for(good, 0o640)
    assert pem not in repr(client_for(good))
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused
    for entries, message in [
        ({"idp.example": {"console": {"key": pem, "alg": "RS256"}}}, "does not fit its key"),
        ({"idp.example": {"console": {"key": pem, "alg": "ES384"}}}, "does not fit its key"),
        ({"idp.example": {"console": {"key": "not a key"}}}, "no unencrypted PEM"),
        ({"idp.example": {"console": {"key": _pem(weak)}}}, "shorter than 2048"),
        ({"idp.example": {"console": {"key": pem, "kid": 7}}}, "kid"),
        ({"idp.example": {"console": pem}}, "must be"),
    ]:
        with pytest.raises(ConfigurationError, match=message) as caught:
            client_for(entries)
        assert "PRIVATE KEY" not in str(caught.value)
    secrets_file = tmp_path / "oidc-clients.json"
    secrets_file.write_text(json.dumps({"idp.example": {"console": "s3cret"}}))
    secrets_file.chmod(0o600)
    both = load_settings(
        data_dir=tmp_path,
        console_oidc_client_secrets_file=secrets_file,
        console_oidc_client_keys_file=_keys_file(tmp_path, good),
    )
    with pytest.raises(ConfigurationError, match="both a secret"):
        OidcClient(both)
