"""Signing in to the console through a SAML identity provider: the IdP's browser posts the
Response to ``/console/saml``; STS's AssumeRoleWithSAML verifies it for the role chosen and
the console then acts as that role session — its policies, not a user's. The assertion is
taken once; a forged one, a role the assertion does not offer and a role whose trust policy
does not take the provider are refused with STS's code; the session ends with the role."""

from __future__ import annotations

import json
import re
import time
from html import unescape

import httpx
import pytest

from andromede.audit.model import Outcome
from support.console import ConsoleHarness
from support.saml import XMLSEC1, IdentityProvider, b64

pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed")

_ALLOW_BUCKET_LISTING = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
)


@pytest.fixture(scope="module")
def idp() -> IdentityProvider:
    return IdentityProvider()


def _trust(provider_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithSAML",
                }
            ],
        }
    )


async def _provider_and_roles(
    console: ConsoleHarness, idp: IdentityProvider, *names: str
) -> tuple[str, list[str]]:
    tenant = console.admin_tenant_id
    provider = await console.identity.create_saml_provider(tenant, "corp", idp.metadata())
    arns = []
    for name in names:
        role = await console.identity.create_role(tenant, name, _trust(provider.arn))
        await console.identity.put_role_policy(tenant, name, "list", _ALLOW_BUCKET_LISTING)
        arns.append(role.arn)
    return provider.arn, arns


async def _post(client: httpx.AsyncClient, response: str, **extra: str) -> httpx.Response:
    return await client.post("/saml", data={"SAMLResponse": b64(response), **extra})


async def test_a_saml_user_signs_in_as_the_role_and_acts_as_it(
    console: ConsoleHarness, idp: IdentityProvider
) -> None:
    tenant = console.admin_tenant_id
    provider, [role] = await _provider_and_roles(console, idp, "engineers")
    signed = idp.response(now=time.time(), roles=[f"{role},{provider}"], session_name="alice")
    async with console.client() as client:
        landed = await _post(client, signed)
        assert landed.status_code == 200, landed.text
        assert 'http-equiv="refresh" content="0; url=/console/buckets"' in landed.text
        cookie = landed.headers["set-cookie"]
        assert (
            "andromede_console=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        )
        buckets = await client.get("/buckets")
        assert buckets.status_code == 200
        assert f"arn:aws:sts::{tenant}:assumed-role/engineers/alice" in buckets.text
        # The role's policies, not more: it may list buckets, not create one.
        token = re.search(r'name="csrf" value="([^"]+)"', buckets.text)
        assert token is not None
        made = await client.post(
            "/buckets", data={"csrf": token.group(1), "name": "nope", "region": "eu-fr-1"}
        )
        assert made.status_code == 403 and "AccessDenied" in made.text
        replayed = await _post(client, signed)
        assert replayed.status_code == 400 and "InvalidIdentityToken" in unescape(replayed.text)
        await client.post("/logout", data={"csrf": token.group(1)})
        assert (await client.get("/buckets")).status_code == 303
    running = console.application._running
    assert running is not None
    await running.audit.flush()
    events = [e for _, e in await running.audit._store.list_events(tenant, after_id=0, limit=1000)]
    logins = [e for e in events if e.action == "andromede:ConsoleLogin"]
    assert [(e.outcome, e.details.get("via")) for e in logins] == [(Outcome.SUCCESS, "saml")]
    assert "sts:AssumeRoleWithSAML" in {e.action for e in events}


async def test_several_roles_are_offered_and_only_those(
    console: ConsoleHarness, idp: IdentityProvider
) -> None:
    tenant = console.admin_tenant_id
    provider, [first, second] = await _provider_and_roles(console, idp, "readers", "writers")
    other_role = f"arn:aws:iam::{tenant}:role/admins"
    pairs = [f"{first},{provider}", f"{provider},{second}"]  # either order, as AWS takes them
    signed = idp.response(now=time.time(), roles=pairs, session_name="bob")
    async with console.client() as client:
        chooser = await _post(client, signed)
        assert chooser.status_code == 200
        offered = re.findall(r'name="role" value="([^"]+)"', chooser.text)
        assert offered == [f"{first},{provider}", f"{second},{provider}"]
        smuggled = await _post(client, signed, role=f"{other_role},{provider}")
        assert smuggled.status_code == 403 and "AccessDenied" in unescape(smuggled.text)
        chosen = await _post(client, signed, role=f"{second},{provider}")
        assert chosen.status_code == 200 and "set-cookie" in chosen.headers
        page = await client.get("/buckets")
    assert "assumed-role/writers/bob" in page.text


async def test_forged_and_untrusted_assertions_open_nothing(
    console: ConsoleHarness, idp: IdentityProvider
) -> None:
    tenant = console.admin_tenant_id
    provider, [role] = await _provider_and_roles(console, idp, "engineers")
    untrusting = await console.identity.create_role(
        tenant,
        "closed",
        json.dumps(
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
        ),
    )
    impostor = IdentityProvider()  # same entity id, another key
    now = time.time()
    async with console.client() as client:
        forged = await _post(client, impostor.response(now=now, roles=[f"{role},{provider}"]))
        untrusted = await _post(
            client, idp.response(now=now, roles=[f"{untrusting.arn},{provider}"])
        )
        garbage = await client.post("/saml", data={"SAMLResponse": "not base64!"})
        nothing = await client.post("/saml", data={})
        still_out = await client.get("/buckets")
    for answer, code in [
        (forged, "InvalidIdentityToken"),
        (untrusted, "AccessDenied"),
        (garbage, "InvalidIdentityToken"),
        (nothing, "InvalidIdentityToken"),
    ]:
        assert answer.status_code in (400, 403), answer.text
        assert code in unescape(answer.text)
        assert "andromede_console=" not in answer.headers.get("set-cookie", "")
    assert still_out.status_code == 303


async def test_the_session_ends_with_its_role(
    console: ConsoleHarness, idp: IdentityProvider
) -> None:
    tenant = console.admin_tenant_id
    provider, [role] = await _provider_and_roles(console, idp, "temps")
    async with console.client() as client:
        signed_in = await _post(client, idp.response(now=time.time(), roles=[f"{role},{provider}"]))
        assert signed_in.status_code == 200
        assert (await client.get("/buckets")).status_code == 200
        await console.identity.delete_role_policy(tenant, "temps", "list")
        await console.identity.delete_role(tenant, "temps")
        console.identity._key_cache.clear()  # another worker's cache would lapse on its own
        assert (await client.get("/buckets")).status_code == 303
