"""Console sign-in through a tenant's OpenID Connect provider in a real browser (decision 0141):
Debian's Chromium driven by Playwright, a real ``andromede serve`` trusting the test issuer's CA
(``oidc_ca_bundle``), the issuer served over HTTPS on ``localhost`` — another site than the
console's ``127.0.0.1``, so the ``SameSite`` rules of the sign-in cookie are Chromium's own.

The user opens the link a tenant's administrator hands out, continues to the issuer, which
signs them in and redirects back with a code; the console exchanges it, STS opens the role and
the browser lands on the buckets page as the role session. Decision 0141's addendum, on the
same server: a link without a role, the role picked on the console's page among those whose
trust policy lets the token in, then signing out, which goes on to the issuer's
``end_session_endpoint`` and back to the console's sign-in page. The browser is e2e's
``browser`` fixture (tests/support/console_browser.py: skipped without Chromium or Playwright).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import trustme

from e2e.iam_helpers import client_for, new_tenant
from support.oidc import IdentityProvider, https_idp, write_ca
from support.server import ServerProcess, running_server

CLIENT_ID = "andromede-console"


@pytest.fixture(scope="module")
def idp_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def idp(idp_ca: trustme.CA) -> Iterator[IdentityProvider]:
    with https_idp(idp_ca, path="/realms/acme", host="localhost") as served:
        yield served


@pytest.fixture(scope="module")
def oidc_server(
    tmp_path_factory: pytest.TempPathFactory, idp_ca: trustme.CA
) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("console-oidc")
    env = {
        "ANDROMEDE_OIDC_CA_BUNDLE": str(write_ca(idp_ca, base / "idp-ca.pem")),
        # The issuer listens on loopback, which the operator must allow (decision 0087).
        "ANDROMEDE_OIDC_ALLOWED_NETWORKS": json.dumps(["127.0.0.0/8", "::1/128"]),
    }
    with running_server(base / "data", extra_env=env) as process:
        yield process


def _account_with_roles(
    server: ServerProcess, idp: IdentityProvider, name: str, *roles: str
) -> str:
    """A new tenant whose provider is the test issuer, with ``roles`` that trust its tokens
    for the console's client and may list buckets: the tenant's account id."""
    tenant = new_tenant(server, name)
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    provider = iam.create_open_id_connect_provider(
        Url=idp.issuer, ClientIDList=[CLIENT_ID], ThumbprintList=[]
    )["OpenIDConnectProviderArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{idp.url}:aud": CLIENT_ID}},
            }
        ],
    }
    for role in roles:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=role,
            PolicyName="list",
            PolicyDocument='{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}',
        )
    return tenant.account


def test_a_user_of_the_tenants_oidc_provider_signs_in_through_chromium(
    browser: Any, oidc_server: ServerProcess, idp: IdentityProvider
) -> None:
    idp.login_page = True
    account = _account_with_roles(oidc_server, idp, "console-oidc", "staff")
    console = f"{oidc_server.api_endpoint}/console"
    link = urlencode({"account": account, "provider": idp.url, "role": "staff"})
    # The issuer's certificate is the test CA's, which the server trusts (oidc_ca_bundle) and
    # this browser profile does not know: the issuer's pages are let through without it.
    context = browser.new_context(locale="en-GB", ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{console}/login?{link}")
        page.click("#oidc-sign-in-button")
        # The issuer's own sign-in page: the redirect back is begun there, on another site.
        page.click("#kc-login")
        page.wait_for_url(f"{console}/buckets")
        assert "assumed-role/staff/alice@example.com" in page.content()
        assert any(p.endswith("/authorize") or "/authorize?" in p for p in idp.fetched)
        assert len(idp.token_requests) == 1
        # The address bar keeps the console's page, not the callback with its one-use code.
        assert "code=" not in page.url
        cookies = {c["name"]: c for c in context.cookies()}
        assert "andromede_console_oidc" not in cookies  # spent at the callback
        assert cookies["andromede_console"]["httpOnly"] is True
    finally:
        context.close()


def test_a_role_chosen_after_the_issuer_then_signing_out_there_too_through_chromium(
    browser: Any, oidc_server: ServerProcess, idp: IdentityProvider
) -> None:
    idp.login_page = True
    idp.end_session = True  # the discovery document is read at each sign-in's start
    account = _account_with_roles(oidc_server, idp, "console-oidc-roles", "auditors", "staff")
    console = f"{oidc_server.api_endpoint}/console"
    link = urlencode({"account": account, "provider": idp.url})  # no role
    exchanged = len(idp.token_requests)
    context = browser.new_context(locale="en-GB", ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{console}/login?{link}")
        page.click("#oidc-sign-in-button")
        page.click("#kc-login")
        page.wait_for_selector("#choose-role")
        offered = page.eval_on_selector_all(
            'input[name="role"]', "inputs => inputs.map(i => i.value)"
        )
        assert offered == ["auditors", "staff"]
        page.check('input[value="staff"]')
        page.click("#choose-role")
        page.wait_for_url(f"{console}/buckets")
        assert "assumed-role/staff/alice@example.com" in page.content()
        assert len(idp.token_requests) == exchanged + 1
        cookies = {c["name"]: c for c in context.cookies()}
        assert "andromede_console_oidc" not in cookies  # the choice's binding, spent
        assert cookies["andromede_console_oidc_logout"]["httpOnly"] is True
        assert cookies["andromede_console_oidc_logout"]["sameSite"] == "Strict"
        # Signing out: the console's session ends, then the issuer's, which sends the
        # browser back to the console's sign-in page.
        page.click("#logout")
        page.wait_for_url(f"{console}/login")
        [logout] = idp.logouts
        assert logout["client_id"] == CLIENT_ID and logout["id_token_hint"] == idp.issued[-1]
        assert logout["post_logout_redirect_uri"] == f"{console}/login"
        names = {c["name"] for c in context.cookies()}
        assert not names & {"andromede_console", "andromede_console_oidc_logout"}
        page.goto(f"{console}/buckets")
        page.wait_for_url(f"{console}/login")  # signed out of the console indeed
    finally:
        context.close()
