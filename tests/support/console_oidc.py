"""The console's OIDC sign-in as a test drives it (decision 0141): an account's provider and
role for the test issuer of ``support/oidc.py``, the sign-in form, the browser's visit to the
issuer, and what the pages and the audit trail show."""

from __future__ import annotations

import json
import re
import ssl
from html import unescape

import httpx
import trustme

from andromede.audit.model import AuditEvent
from support.console import ConsoleHarness, csrf_of
from support.oidc import IdentityProvider

__all__ = [
    "CLIENT_ID",
    "LIST_BUCKETS",
    "at_issuer",
    "begin",
    "events",
    "location",
    "provider_and_role",
    "refused",
    "sign_in",
    "trust",
]

CLIENT_ID = "andromede-console"
LIST_BUCKETS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
)


def trust(provider_arn: str, url: str, sub: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": {f"{url}:aud": CLIENT_ID, f"{url}:sub": sub}},
                }
            ],
        }
    )


async def provider_and_role(
    console: ConsoleHarness, idp: IdentityProvider, role: str = "engineers", sub: str = ""
) -> None:
    tenant = console.admin_tenant_id
    provider = await console.identity.create_open_id_connect_provider(
        tenant, idp.issuer, [CLIENT_ID, "sts.amazonaws.com"], []
    )
    await console.identity.create_role(
        tenant, role, trust(provider.arn, idp.url, sub or idp.login.sub)
    )
    await console.identity.put_role_policy(tenant, role, "list", LIST_BUCKETS)


async def begin(
    client: httpx.AsyncClient, account: str, provider: str, role: str = "engineers"
) -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/oidc",
        data={"csrf": csrf_of(page), "account": account, "provider": provider, "role": role},
    )


def location(started: httpx.Response) -> str:
    """Where the console's page sends the browser on (its refresh and its link)."""
    assert started.status_code == 200, started.text
    found = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', started.text)
    assert found is not None, started.text
    link = re.search(r'<a href="([^"]+)" id="continue">', started.text)
    assert link is not None and unescape(link.group(1)) == unescape(found.group(1))
    return unescape(found.group(1))


async def at_issuer(location: str, ca: trustme.CA) -> str:
    """The browser at the issuer's authorization endpoint: where it is sent back to."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with httpx.AsyncClient(verify=context) as browser:
        answer = await browser.get(location)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def sign_in(
    client: httpx.AsyncClient, console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> httpx.Response:
    started = await begin(client, console.admin_tenant_id, idp.url)
    return await client.get(await at_issuer(location(started), ca))


async def events(console: ConsoleHarness, action: str) -> list[AuditEvent]:
    running = console.application._running
    assert running is not None
    await running.audit.flush()
    listed = await running.audit._store.list_events(None, after_id=0, limit=1000)
    return [e for _, e in listed if e.action == action]


def refused(page: httpx.Response, status: int, *words: str) -> None:
    text = unescape(page.text)
    assert page.status_code == status, page.text
    assert 'action="/console/oidc"' in text  # the sign-in page again
    for word in words:
        assert word in text, text
    cookies = page.headers.get_list("set-cookie")
    assert any(c.startswith("andromede_console_oidc=;") for c in cookies)  # forgotten
    assert not any(c.startswith("andromede_console=") for c in cookies)
