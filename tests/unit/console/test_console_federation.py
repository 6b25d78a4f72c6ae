"""AWS's federation endpoint on the console, for custom identity brokers: temporary
credentials of a role session (or a federated user) turned into a sign-in token, the token
into a console session acting as them — once, within 15 minutes, proven by all three parts of
the credentials; a user's own session credentials and anything malformed refused; the
destination kept within the console."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from andromede.iam.credentials import IssuedCredentials
from andromede.iam.model import SessionPolicy
from andromede.iam.service_core import user_principal
from support.console import ConsoleHarness

_ALLOW_LISTING = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
)


async def _role_credentials(console: ConsoleHarness, name: str = "broker") -> IssuedCredentials:
    tenant = console.admin_tenant_id
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{tenant}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role = await console.identity.create_role(tenant, name, trust)
    await console.identity.put_role_policy(tenant, name, "list", _ALLOW_LISTING)
    root = user_principal(await console.identity.get_user(tenant, "root"))
    return await console.identity.assume_role(root, role, "carol")


def _session(issued: IssuedCredentials, **override: str) -> str:
    return json.dumps(
        {
            "sessionId": issued.access_key_id,
            "sessionKey": issued.secret_access_key,
            "sessionToken": issued.session_token,
            **override,
        }
    )


async def _signin_token(client: httpx.AsyncClient, session: str, **extra: str) -> httpx.Response:
    query = urlencode({"Action": "getSigninToken", "Session": session, **extra})
    return await client.get(f"/federation?{query}")


async def test_a_brokers_credentials_open_the_console_once(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    issued = await _role_credentials(console)
    async with console.client() as client:
        answered = await _signin_token(client, _session(issued))
        assert answered.status_code == 200, answered.text
        token = answered.json()["SigninToken"]
        login = {"Action": "login", "SigninToken": token, "Destination": "/console/keys"}
        landed = await client.get(f"/federation?{urlencode(login)}")
        assert landed.status_code == 200
        assert 'content="0; url=/console/keys"' in landed.text
        assert "andromede_console=" in landed.headers["set-cookie"]
        page = await client.get("/buckets")
        assert f"arn:aws:sts::{tenant}:assumed-role/broker/carol" in page.text
    async with console.client() as again:
        replayed = await again.get(f"/federation?{urlencode(login)}")
        assert replayed.status_code == 403 and "andromede_console=" not in replayed.headers.get(
            "set-cookie", ""
        )
        # By POST, the credentials stay out of the URL.
        posted = await again.post(
            "/federation", data={"Action": "getSigninToken", "Session": _session(issued)}
        )
        assert posted.status_code == 200 and posted.json()["SigninToken"] != token


@pytest.mark.parametrize(
    "destination",
    ["https://evil.example/console/buckets", "//evil.example/", "/elsewhere", "javascript:x"],
)
async def test_the_destination_stays_in_the_console(
    console: ConsoleHarness, destination: str
) -> None:
    issued = await _role_credentials(console)
    async with console.client() as client:
        token = (await _signin_token(client, _session(issued))).json()["SigninToken"]
        login = {"Action": "login", "SigninToken": token, "Destination": destination}
        landed = await client.get(f"/federation?{urlencode(login)}")
    # Only the path of an absolute URL is kept: another host is never reached.
    assert 'content="0; url=/console/buckets"' in landed.text


async def test_what_opens_no_session(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    issued = await _role_credentials(console)
    root = user_principal(await console.identity.get_user(tenant, "root"))
    own_session = await console.identity.get_session_token(root)
    async with console.client() as client:
        wrong_secret = await _signin_token(client, _session(issued, sessionKey="x" * 40))
        wrong_token = await _signin_token(client, _session(issued, sessionToken="forged"))
        users_own = await _signin_token(
            client,
            json.dumps(
                {
                    "sessionId": own_session.access_key_id,
                    "sessionKey": own_session.secret_access_key,
                    "sessionToken": own_session.session_token,
                }
            ),
        )
        malformed = await _signin_token(client, "{not json")
        too_long = await _signin_token(client, _session(issued), SessionDuration="99999")
        no_action = await client.get("/federation")
        forged = await client.get(
            f"/federation?{urlencode({'Action': 'login', 'SigninToken': 'AAAA'})}"
        )
    assert (wrong_secret.status_code, wrong_secret.json()["Error"]["Code"]) == (
        403,
        "InvalidClientTokenId",
    )
    assert wrong_token.status_code == 403
    assert (users_own.status_code, users_own.json()["Error"]["Code"]) == (403, "AccessDenied")
    assert malformed.status_code == too_long.status_code == no_action.status_code == 400
    assert forged.status_code == 403


async def test_a_federated_users_credentials_sign_in_too(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    root = user_principal(await console.identity.get_user(tenant, "root"))
    issued = await console.identity.get_federation_token(
        root, "dana", session_policy=SessionPolicy(_ALLOW_LISTING, ())
    )
    async with console.client() as client:
        token = (await _signin_token(client, _session(issued))).json()["SigninToken"]
        login = {"Action": "login", "SigninToken": token}
        assert (await client.get(f"/federation?{urlencode(login)}")).status_code == 200
        page = await client.get("/buckets")
    assert f"arn:aws:sts::{tenant}:federated-user/dana" in page.text


async def test_a_sign_in_tokens_page_does_not_copy_the_token_into_its_links(
    console: ConsoleHarness,
) -> None:
    # The language links go back to the page's path: not with a sign-in token (decision 0141).
    token = "A-SIGN-IN-TOKEN-THAT-MUST-NOT-BE-COPIED"
    async with console.client() as client:
        refused = await client.get(
            f"/federation?{urlencode({'Action': 'login', 'SigninToken': token})}"
        )
        listed = await client.get("/login?account=acme")
    assert refused.status_code == 403 and "language/fr?next=" in refused.text
    assert token not in refused.text
    assert "account%3Dacme" in listed.text  # other pages keep their query in the links
