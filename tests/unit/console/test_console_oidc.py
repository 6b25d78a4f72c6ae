"""Signing in to the console through a tenant's OpenID Connect provider (decision 0141): the
authorization code flow with PKCE, ``state`` and ``nonce``, against a real issuer served over
HTTPS on 127.0.0.1 (tests/support/oidc.py), reached through the gateway's guarded outbound
client. The happy path opens a console session as the role session STS's
AssumeRoleWithWebIdentity gives; every failure — a state that does not match, a sign-in or a
code used twice, a wrong nonce, an expired ID token, an issuer the account does not know, a
role whose trust policy refuses, the issuer's own refusal — shows the sign-in page with its
message, never a 500, and no code or token reaches a log line or the console's pages."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

from andromede.audit.model import Outcome
from andromede.console.oidc_client import OidcClient
from andromede.console.pages_oidc import session_name
from andromede.errors import ConfigurationError
from andromede.settings import load_settings
from support.console import ConsoleHarness, console_harness, csrf_of
from support.console_oidc import (
    CLIENT_ID,
    at_issuer,
    begin,
    events,
    location,
    provider_and_role,
    refused,
    sign_in,
)
from support.oidc import IdentityProvider, Login, https_idp, write_ca

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


async def test_a_user_of_the_issuer_signs_in_as_the_role_through_the_code_flow(
    console: ConsoleHarness,
    idp: IdentityProvider,
    ca: trustme.CA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = console.admin_tenant_id
    await provider_and_role(console, idp)
    async with console.client() as client:
        page = await client.get("/login", params={"account": tenant, "provider": idp.url})
        assert f'value="{idp.url}"' in page.text  # the link a tenant's administrator hands out
        started = await begin(client, tenant, idp.url)
        sent_to = urlsplit(location(started))
        assert f"https://{sent_to.netloc}{sent_to.path}" == idp.issuer + "/authorize"
        asked = {k: v[0] for k, v in parse_qs(sent_to.query).items()}
        assert asked["response_type"] == "code" and asked["scope"] == "openid"
        assert asked["client_id"] == CLIENT_ID  # the provider's first client id
        assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
        assert asked["redirect_uri"] == "http://127.0.0.1:9001/console/oidc/callback"
        assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32
        kept = started.headers["set-cookie"]
        assert kept.startswith("andromede_console_oidc=")
        for part in ("HttpOnly", "SameSite=Lax", "Path=/console/oidc", "Max-Age=600"):
            assert part in kept
        # The verifier travels sealed: neither it nor the state can be read from the cookie.
        assert asked["state"] not in kept
        back = await at_issuer(location(started), ca)
        landed = await client.get(back)
        assert landed.status_code == 200, landed.text
        assert 'http-equiv="refresh" content="0; url=/console/buckets"' in landed.text
        session = next(
            c for c in landed.headers.get_list("set-cookie") if c.startswith("andromede_console=")
        )
        assert "HttpOnly" in session and "SameSite=Strict" in session
        buckets = await client.get("/buckets")
        assert buckets.status_code == 200
        arn = f"arn:aws:sts::{tenant}:assumed-role/engineers/alice@example.com"
        assert arn in buckets.text
        made = await client.post(
            "/buckets", data={"csrf": csrf_of(buckets), "name": "nope", "region": "eu-fr-1"}
        )
        assert made.status_code == 403 and "AccessDenied" in made.text  # the role's policies
    [exchanged] = idp.token_requests
    assert exchanged["grant_type"] == "authorization_code"
    assert exchanged["client_id"] == CLIENT_ID and "client_secret" not in exchanged
    assert len(exchanged["code_verifier"]) >= 43
    [id_token] = idp.issued
    # What the server logged (the test's own browser, httpx, logs the URLs it visits).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("andromede"))
    assert "/console/oidc/callback" in logged  # the access log saw the callback
    for secret in (id_token, exchanged["code"], exchanged["code_verifier"]):
        assert secret not in logged
        assert secret not in landed.text and secret not in buckets.text
    [login] = await events(console, "andromede:ConsoleLogin")
    assert (login.outcome, login.principal) == (Outcome.SUCCESS, arn)
    assert login.details["via"] == "oidc" and login.details["issuer"] == idp.issuer
    assert login.details["subject"] == "alice@example.com"
    assert await events(console, "sts:AssumeRoleWithWebIdentity")


async def test_a_state_that_does_not_match_or_a_sign_in_used_twice_opens_nothing(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await provider_and_role(console, idp)
    async with console.client() as client:
        started = await begin(client, console.admin_tenant_id, idp.url)
        back = await at_issuer(location(started), ca)
        state = parse_qs(urlsplit(back).query)["state"][0]
        forged = back.replace(f"state={state}", "state=forged-state-of-another-sign-in")
        refused(await client.get(forged), 403, "was not begun here")
    async with console.client() as stranger:  # the same answer, in a browser without the cookie
        refused(await stranger.get(back), 403, "was not begun here")
    async with console.client() as client:
        landed = await sign_in(client, console, idp, ca)
        assert landed.status_code == 200
        again = await client.get(str(landed.request.url))  # the callback replayed
        refused(again, 403, "was not begun here")
    assert len(idp.token_requests) == 1  # neither forgery reached the token endpoint
    failures = [
        e for e in await events(console, "andromede:ConsoleLogin") if e.outcome is Outcome.FAILURE
    ]
    assert failures and {e.details["via"] for e in failures} == {"oidc"}


async def test_a_code_used_twice_is_refused_by_the_issuer(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await provider_and_role(console, idp)
    async with console.client() as client:
        first = await sign_in(client, console, idp, ca)
        assert first.status_code == 200
        code = parse_qs(urlsplit(str(first.request.url)).query)["code"][0]
    async with console.client() as client:
        # A new sign-in, answered with the old code (stolen from a log or a history).
        started = await begin(client, console.admin_tenant_id, idp.url)
        back = await at_issuer(location(started), ca)
        fresh = parse_qs(urlsplit(back).query)["code"][0]
        refused(await client.get(back.replace(fresh, code)), 403, "(invalid_grant)")


@pytest.mark.parametrize(
    ("login", "code"),
    [
        (Login(nonce="a-nonce-of-another-sign-in"), "InvalidIdentityToken"),
        (Login(lifetime=-600), "ExpiredIdentityToken"),
    ],
)
async def test_a_wrong_nonce_or_an_expired_id_token_opens_nothing(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA, login: Login, code: str
) -> None:
    await provider_and_role(console, idp)
    idp.login = login
    async with console.client() as client:
        refused(await sign_in(client, console, idp, ca), 403, f"OIDC sign-in refused ({code})")
    assert not await events(console, "sts:AssumeRoleWithWebIdentity")


async def test_an_issuer_the_account_does_not_know_is_refused_before_any_redirect(
    console: ConsoleHarness, idp: IdentityProvider
) -> None:
    await provider_and_role(console, idp)
    async with console.client() as client:
        unknown = await begin(client, console.admin_tenant_id, "keycloak.example.org/realms/x")
        refused(unknown, 400, "No such OpenID Connect provider or role")
        no_account = await begin(client, "999999999999", idp.url)
        refused(no_account, 400, "No such OpenID Connect provider or role")
        bad_role = await begin(client, console.admin_tenant_id, idp.url, role="no such/role")
        refused(bad_role, 400, "No such OpenID Connect provider or role")
    assert idp.fetched == []  # the issuer was never called


async def test_a_provider_removed_during_the_sign_in_opens_nothing(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await provider_and_role(console, idp)
    tenant = console.admin_tenant_id
    async with console.client() as client:
        started = await begin(client, tenant, idp.url)
        back = await at_issuer(location(started), ca)
        arn = f"arn:aws:iam::{tenant}:oidc-provider/{idp.url}"
        await console.identity.delete_open_id_connect_provider(tenant, arn)
        refused(await client.get(back), 403, "OIDC sign-in refused (InvalidIdentityToken)")
    assert not await events(console, "sts:AssumeRoleWithWebIdentity")


async def test_a_role_whose_trust_policy_refuses_opens_nothing(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await provider_and_role(console, idp, sub="bob@example.com")  # trusts bob, not alice
    async with console.client() as client:
        landed = await sign_in(client, console, idp, ca)
        refused(landed, 403, "OIDC sign-in refused (AccessDenied)")
        assert (await client.get("/buckets")).status_code == 303


async def test_the_issuers_refusal_is_shown(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await provider_and_role(console, idp)
    idp.login = Login(error="access_denied")
    async with console.client() as client:
        refused(await sign_in(client, console, idp, ca), 403, "did not sign you in")
    assert idp.token_requests == []


async def test_an_issuer_out_of_reach_is_a_message_not_a_500(
    tmp_path: Path, idp: IdentityProvider
) -> None:
    # Without oidc_allowed_networks the issuer on 127.0.0.1 is the operator's network.
    async with console_harness(tmp_path) as console:
        await provider_and_role(console, idp)
        async with console.client() as client:
            refused(
                await begin(client, console.admin_tenant_id, idp.url),
                502,
                "could not be reached (IdpCommunicationError)",
            )


async def test_a_confidential_client_authenticates_with_its_secret_from_the_operators_file(
    tmp_path: Path, ca: trustme.CA, idp: IdentityProvider
) -> None:
    idp.client_secret = "s3cret-of-the-console-client"
    secrets_file = tmp_path / "oidc-clients.json"
    secrets_file.write_text(json.dumps({idp.issuer: {CLIENT_ID: idp.client_secret}}))
    secrets_file.chmod(0o600)
    async with console_harness(
        tmp_path,
        oidc_ca_bundle=write_ca(ca, tmp_path / "idp-ca.pem"),
        oidc_allowed_networks=("127.0.0.0/8",),
        oidc_timeout=IDP_TIMEOUT,
        console_oidc_client_secrets_file=secrets_file,
    ) as console:
        assert idp.client_secret not in repr(console.application._running)
        await provider_and_role(console, idp)
        async with console.client() as client:
            landed = await sign_in(client, console, idp, ca)
            assert landed.status_code == 200, landed.text
            assert "client_secret" not in idp.token_requests[0]  # in the header, not the form


async def test_without_its_secret_a_confidential_clients_sign_in_is_refused(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    idp.client_secret = "s3cret-the-console-was-not-given"
    await provider_and_role(console, idp)
    async with console.client() as client:
        refused(await sign_in(client, console, idp, ca), 403, "(invalid_client)")


def test_a_secrets_file_others_may_read_or_of_another_shape_is_refused(tmp_path: Path) -> None:
    secrets_file = tmp_path / "oidc-clients.json"
    secrets_file.write_text(json.dumps({"idp.example": {"console": "s3cret"}}))
    secrets_file.chmod(0o644)
    settings = load_settings(data_dir=tmp_path, console_oidc_client_secrets_file=secrets_file)
    with pytest.raises(ConfigurationError, match="readable by its owner only"):
        OidcClient(settings)
    secrets_file.chmod(0o600)
    assert "s3cret" not in repr(OidcClient(settings))
    secrets_file.write_text(json.dumps({"idp.example": "s3cret"}))
    with pytest.raises(ConfigurationError, match="must be") as caught:
        OidcClient(settings)
    assert "s3cret" not in str(caught.value)


async def test_the_session_lasts_the_consoles_lifetime_within_the_roles_maximum(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
    await provider_and_role(console, idp)
    tenant = console.admin_tenant_id
    await console.identity.update_role(tenant, "engineers", max_session_duration=7200)
    async with console.client() as client:
        assert (await sign_in(client, console, idp, ca)).status_code == 200
        principal = await console.identity.resolve_console_session(
            client.cookies["andromede_console"]
        )
    assert principal.session_expires_at is not None
    lasts = principal.session_expires_at.timestamp() - time.time()
    assert 7100 < lasts <= 7200  # not STS's default hour: the role allows two


@pytest.mark.parametrize(
    ("claims", "subject", "name"),
    [
        ({"email": "alice@acme.fr", "preferred_username": "alice"}, "f3a9", "alice@acme.fr"),
        ({"preferred_username": "Alice Martin"}, "f3a9-77", "Alice-Martin"),
        ({"email": 42}, "auth0|5f1e", "auth0-5f1e"),
        ({"email": "x"}, "CN=Bob/OU=IT", "CN=Bob-OU=IT"),
        ({}, "s" * 80, "s" * 64),
    ],
)
def test_the_role_sessions_name_is_the_users_within_sts_rules(
    claims: dict[str, object], subject: str, name: str
) -> None:
    assert session_name(claims, subject) == name
