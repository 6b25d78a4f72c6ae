"""The account's Block Public Access page (decision 0152): the four switches as S3 Control's
GetPublicAccessBlock answers the signed-in user, set and removed through S3 Control's own
calls (the account header naming the user's account), checked against the object service;
IAM's refusal shown as S3 Control answers it; the page in French."""

from __future__ import annotations

import json

import httpx

from andromede.storage.model import PublicAccessBlock
from andromede.storage.service import ObjectService
from support.console import ConsoleHarness, csrf, csrf_of, log_in, sign_in_root

PAGE = "/block-public-access"


def _objects(console: ConsoleHarness) -> ObjectService:
    running = console.application._running
    assert running is not None
    objects = running.console.console.buckets
    assert isinstance(objects, ObjectService)
    return objects


def _checked(page: httpx.Response, name: str) -> bool:
    start = page.text.index(f'id="switch-{name}"')
    return " checked" in page.text[start : page.text.index(">", start)]


async def test_the_switches_set_shown_and_removed(console: ConsoleHarness) -> None:
    objects = _objects(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        buckets = await client.get("/buckets")
        assert 'href="/console/block-public-access"' in buckets.text
        empty = await client.get(PAGE)
        assert empty.status_code == 200, empty.text
        assert "The account sets no Block Public Access" in empty.text
        assert not _checked(empty, "BlockPublicAcls")
        assert 'id="remove-account-block-form"' not in empty.text
        token = csrf_of(empty)
        saved = await client.post(
            PAGE, data={"csrf": token, "BlockPublicAcls": "yes", "RestrictPublicBuckets": "yes"}
        )
        assert saved.status_code == 303, saved.text
        held = await objects.get_account_public_access_block(tenant)
        assert held == PublicAccessBlock(True, False, False, True)
        page = await client.get(PAGE)
        assert "These settings apply to every bucket of the account" in page.text
        assert _checked(page, "BlockPublicAcls") and _checked(page, "RestrictPublicBuckets")
        assert not _checked(page, "IgnorePublicAcls")
        unticked = await client.post(f"{PAGE}/delete", data={"csrf": token})
        assert unticked.status_code == 400
        assert await objects.get_account_public_access_block(tenant) is not None
        removed = await client.post(f"{PAGE}/delete", data={"csrf": token, "confirm": "yes"})
        assert removed.status_code == 303, removed.text
        assert await objects.get_account_public_access_block(tenant) is None
        forged = await client.post(PAGE, data={"csrf": "forged", "BlockPublicAcls": "yes"})
        assert forged.status_code == 403
    assert await objects.get_account_public_access_block(tenant) is None
    # Another account's page shows its own settings, none of these.
    await objects.put_account_public_access_block(tenant, PublicAccessBlock(True, True, True, True))
    async with console.client() as other:
        theirs = await sign_in_root(console, other, account="other")
        page = await other.get(PAGE)
    assert page.status_code == 200 and not _checked(page, "BlockPublicAcls")
    assert await objects.get_account_public_access_block(theirs) is None


async def test_iam_decides_and_french(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    objects = _objects(console)
    await console.user_with_password(tenant, "reader")
    await console.user_with_password(tenant, "intern")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetAccountPublicAccessBlock", "Resource": "*"}
        ],
    }
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(PAGE)
        assert page.status_code == 200, page.text
        assert "Le compte ne bloque pas l’accès public" in page.text  # noqa: RUF001
        assert "Bloquer les nouvelles ACL publiques" in page.text
        refused = await client.post(
            PAGE, data={"csrf": await csrf(client, f"/{PAGE.strip('/')}"), "BlockPublicAcls": "yes"}
        )
        assert refused.status_code == 403 and "AccessDenied" in refused.text
    assert await objects.get_account_public_access_block(tenant) is None
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        denied = await client.get(PAGE)
    assert denied.status_code == 403 and "AccessDenied" in denied.text
    assert 'id="account-block-form"' not in denied.text
