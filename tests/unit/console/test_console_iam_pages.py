"""The console's IAM pages end to end in process: each change checked against what IAM itself
then answers, a new access key's secret shown once and never logged, IAM's refusals (its code
and status, its own audit event), another tenant's users out of reach, forms without the
session's token refused, the pages in French."""

from __future__ import annotations

import json
import logging
import re
import time
from html import unescape

import httpx
import pytest

from andromede.audit.model import Outcome
from andromede.iam import totp
from support.console import ConsoleHarness, csrf, log_in

_ALLOW_S3 = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
_TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


async def _as_root(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    await console.user_with_password(console.admin_tenant_id, "root")
    assert (await log_in(client, "admin", "root")).status_code == 303
    return await csrf(client, "/iam/users")


def _new_secret(page: httpx.Response) -> tuple[str, str]:
    key_id = re.search(r"<code>(AKIA[A-Z0-9]+)</code>", page.text)
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', page.text)
    assert key_id and secret, page.text
    return key_id.group(1), secret.group(1)


async def test_a_user_from_creation_to_deletion(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = console.admin_tenant_id
    caplog.set_level(logging.DEBUG)
    async with console.client() as client:
        token = await _as_root(console, client)
        created = await client.post("/iam/users", data={"csrf": token, "name": "alice"})
        assert created.status_code == 303 and created.headers["location"] == "/console/iam/users"
        listing = await client.get("/iam/users")
        assert 'href="/console/iam/users/alice"' in listing.text
        assert f"arn:aws:iam::{tenant}:user/alice" in listing.text

        password = await client.post(
            "/iam/users/alice/password",
            data={"csrf": token, "password": "Another-Horse-77", "has": "0"},
        )
        assert password.status_code == 303
        key_page = await client.post("/iam/users/alice/access-keys", data={"csrf": token})
        assert key_page.status_code == 200 and "will not be shown again" in key_page.text
        key_id, secret = _new_secret(key_page)
        assert len(secret) == 40
        again = await client.get("/iam/users/alice")
        assert key_id in again.text and secret not in again.text
        assert "may sign in to the console" in again.text

        deactivated = await client.post(
            "/iam/users/alice/access-keys/status",
            data={"csrf": token, "key": key_id, "status": "Inactive"},
        )
        assert deactivated.status_code == 303
        keys = await console.identity.list_access_keys(tenant, "alice")
        assert [(k.access_key_id, k.status.value) for k in keys] == [(key_id, "Inactive")]

        # IAM refuses to delete a user who still has keys and a password: its words, its 409.
        conflict = await client.post("/iam/users/delete", data={"csrf": token, "name": "alice"})
        assert conflict.status_code == 409 and "(DeleteConflict)" in conflict.text

        for path, data in [
            ("/iam/users/alice/access-keys/delete", {"key": key_id}),
            ("/iam/users/alice/password/delete", {}),
        ]:
            assert (await client.post(path, data={"csrf": token, **data})).status_code == 303
        assert "no console password" in (await client.get("/iam/users/alice")).text
        gone = await client.post("/iam/users/delete", data={"csrf": token, "name": "alice"})
        assert gone.status_code == 303
        missing = await client.get("/iam/users/alice")
        assert missing.status_code == 404 and "(NoSuchEntity)" in missing.text
    assert not [r for r in caplog.records if secret in r.getMessage()]


async def test_groups_policies_and_roles(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    policy_arn = f"arn:aws:iam::{tenant}:policy/s3-all"
    async with console.client() as client:
        token = await _as_root(console, client)
        await client.post("/iam/users", data={"csrf": token, "name": "bob"})
        assert (
            await client.post("/iam/groups", data={"csrf": token, "name": "readers"})
        ).status_code == 303
        joined = await client.post(
            "/iam/users/bob/groups", data={"csrf": token, "group": "readers"}
        )
        assert joined.status_code == 303
        group = await client.get("/iam/groups/readers")
        assert 'href="/console/iam/users/bob"' in group.text

        malformed = await client.post(
            "/iam/policies",
            data={"csrf": token, "name": "broken", "document": '{"Statement": ['},
        )
        assert malformed.status_code == 400 and "(MalformedPolicyDocument)" in malformed.text
        assert "{&#34;Statement&#34;: [" in malformed.text  # the text typed is kept
        made = await client.post(
            "/iam/policies",
            data={"csrf": token, "name": "s3-all", "document": _ALLOW_S3, "description": "S3"},
        )
        assert made.status_code == 303
        attached = await client.post(
            "/iam/users/bob/policies/attach", data={"csrf": token, "arn": policy_arn}
        )
        assert attached.status_code == 303
        assert [p.arn for p in await console.identity.list_attached_user_policies(tenant, "bob")]
        policy = await client.get("/iam/policy", params={"arn": policy_arn})
        assert "user: bob" in policy.text and "&#34;s3:*&#34;" in policy.text

        inline = await client.post(
            "/iam/groups/readers/inline",
            data={"csrf": token, "policy": "read", "document": _ALLOW_S3},
        )
        assert inline.status_code == 303
        assert "<summary>read</summary>" in (await client.get("/iam/groups/readers")).text
        await client.post(
            "/iam/groups/readers/inline/delete", data={"csrf": token, "policy": "read"}
        )
        assert "No inline policies." in (await client.get("/iam/groups/readers")).text
        detached = await client.post(
            "/iam/users/bob/policies/detach", data={"csrf": token, "arn": policy_arn}
        )
        assert detached.status_code == 303
        assert not await console.identity.list_attached_user_policies(tenant, "bob")

        role = await client.post(
            "/iam/roles",
            data={"csrf": token, "name": "web", "document": _TRUST_EC2, "description": "VMs"},
        )
        assert role.status_code == 303
        role_page = await client.get("/iam/roles/web")
        assert "ec2.amazonaws.com" in role_page.text and "VMs" in role_page.text
        await client.post("/iam/roles/web/policies/attach", data={"csrf": token, "arn": policy_arn})
        in_use = await client.post("/iam/policies/delete", data={"csrf": token, "arn": policy_arn})
        assert in_use.status_code == 409 and "(DeleteConflict)" in in_use.text
        removed = await client.post(
            "/iam/users/bob/groups/remove", data={"csrf": token, "group": "readers"}
        )
        assert removed.status_code == 303
        assert "In no group." in (await client.get("/iam/users/bob")).text


async def test_a_user_without_iam_permissions_gets_iams_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "carol")
    async with console.client() as client:
        assert (await log_in(client, "admin", "carol")).status_code == 303
        listing = await client.get("/iam/users")
        token = await csrf(client, "/buckets")
        create = await client.post("/iam/users", data={"csrf": token, "name": "mallory"})
        own_key = await client.post("/iam/users/carol/access-keys", data={"csrf": token})
    assert listing.status_code == 403 and "(AccessDenied)" in listing.text
    assert create.status_code == 403 and "(AccessDenied)" in create.text
    assert own_key.status_code == 403 and "(AccessDenied)" in own_key.text
    assert not await console.identity.list_access_keys(tenant, "carol")
    running = console.application._running
    assert running is not None
    await running.audit.flush()
    events = [e for _, e in await running.audit._store.list_events(tenant, after_id=0, limit=1000)]
    refused = {
        e.action
        for e in events
        if e.outcome is Outcome.FAILURE and (e.principal or "").endswith(":user/carol")
    }
    # IAM records its changes, refused ones included, not its reads (iamapi/app.py).
    assert {"iam:CreateUser", "iam:CreateAccessKey"} <= refused


async def test_another_tenants_users_are_out_of_reach(console: ConsoleHarness) -> None:
    other = (await console.identity.create_tenant("other")).tenant.id
    await console.identity.create_user(other, "victim")
    async with console.client() as client:
        token = await _as_root(console, client)
        page = await client.get("/iam/users/victim")
        key = await client.post("/iam/users/victim/access-keys", data={"csrf": token})
        listing = await client.get("/iam/users")
    assert page.status_code == 404 and "(NoSuchEntity)" in page.text
    assert key.status_code == 404 and "(NoSuchEntity)" in key.text
    assert "victim" not in listing.text
    assert not await console.identity.list_access_keys(other, "victim")


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await _as_root(console, client)
        forged = await client.post("/iam/users", data={"csrf": "forged", "name": "forged-user-zq"})
        keyless = await client.post("/iam/users/root/access-keys", data={})
        listing = await client.get("/iam/users")
    assert forged.status_code == 403 and keyless.status_code == 403
    assert "forged-user-zq" not in listing.text


async def test_the_iam_pages_speak_french(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr"}) as client:
        token = await _as_root(console, client)
        await client.post("/iam/users", data={"csrf": token, "name": "dora"})
        users = await client.get("/iam/users")
        user = await client.get("/iam/users/dora")
    apostrophe = "\N{RIGHT SINGLE QUOTATION MARK}"  # French typography's, as the catalogue has
    assert "Utilisateurs IAM" in users.text and f"Créer l{apostrophe}utilisateur" in users.text
    assert f"Clés d{apostrophe}accès" in user.text and "Aucune clé" in user.text


async def test_a_user_manages_their_own_keys_as_their_policy_allows(
    console: ConsoleHarness,
) -> None:
    """AWS's self-service policy (``${aws:username}``) opens the user's own page, reached from
    the header, and nobody else's."""
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "erin")
    await console.identity.create_user(tenant, "frank")
    self_service = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:Get*", "iam:List*", "iam:*AccessKey*"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            }
        ],
    }
    await console.identity.put_user_policy(tenant, "erin", "self", json.dumps(self_service))
    async with console.client() as client:
        assert (await log_in(client, "admin", "erin")).status_code == 303
        header = await client.get("/buckets")
        own = await client.get("/iam/users/erin")
        token = await csrf(client, "/iam/users/erin")
        created = await client.post("/iam/users/erin/access-keys", data={"csrf": token})
        others = await client.get("/iam/users/frank")
        others_key = await client.post("/iam/users/frank/access-keys", data={"csrf": token})
    assert 'href="/console/iam/users/erin" title="My security credentials"' in header.text
    assert own.status_code == 200 and "No access keys." in own.text
    assert created.status_code == 200
    key_id, _ = _new_secret(created)
    assert [k.access_key_id for k in await console.identity.list_access_keys(tenant, "erin")] == [
        key_id
    ]
    assert others.status_code == 403 and "(AccessDenied)" in others.text
    assert others_key.status_code == 403
    assert not await console.identity.list_access_keys(tenant, "frank")


async def test_an_mfa_device_assigned_from_the_console_guards_the_login(
    console: ConsoleHarness,
) -> None:
    """The QR code and seed are shown once; a wrong pair of codes keeps the page for another
    try; two consecutive codes assign the device, and the user's next login needs a code."""
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "gina")
    async with console.client() as client:
        token = await _as_root(console, client)
        drawn = await client.post("/iam/users/gina/mfa/create", data={"csrf": token})
        assert drawn.status_code == 200 and "<svg" in drawn.text and 'id="qr-path"' in drawn.text
        seed_text = re.search(r'<code id="mfa-seed">([A-Z2-7]+)</code>', drawn.text)
        serial = f"arn:aws:iam::{tenant}:mfa/gina"
        assert seed_text and serial in drawn.text
        seed = totp.seed_from_base32(seed_text.group(1))
        form = {"csrf": token, "serial": serial, "seed": seed_text.group(1)}
        wrong = await client.post(
            "/iam/users/gina/mfa/enable", data={**form, "code1": "000000", "code2": "000000"}
        )
        assert wrong.status_code == 403 and "(InvalidAuthenticationCode)" in wrong.text
        assert seed_text.group(1) in wrong.text  # the same device, tried again
        tampered = await client.post(
            "/iam/users/gina/mfa/enable", data={**form, "seed": "not base32!"}
        )
        assert tampered.status_code == 400
        step = totp.time_step(time.time())
        codes = {"code1": totp.totp(seed, step - 1), "code2": totp.totp(seed, step)}
        assigned = await client.post("/iam/users/gina/mfa/enable", data={**form, **codes})
        assert assigned.status_code == 303, assigned.text
        page = await client.get("/iam/users/gina")
        assert serial in page.text and "Assign an MFA device" not in page.text
        assert seed_text.group(1) not in page.text
    assert [d.serial for d in await console.identity.list_mfa_devices(tenant, "gina")] == [serial]
    async with console.client() as gina:
        without = await log_in(gina, "admin", "gina")
        assert without.status_code != 303
    async with console.client() as gina:
        code = totp.totp(seed, totp.time_step(time.time()) + 1)
        assert (await log_in(gina, "admin", "gina", mfa=code)).status_code == 303


async def test_a_user_is_deleted_with_everything_that_hangs_on_it(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as client:
        token = await _as_root(console, client)
        await client.post("/iam/users", data={"csrf": token, "name": "hank"})
        await client.post("/iam/groups", data={"csrf": token, "name": "crew"})
        await client.post(
            "/iam/policies", data={"csrf": token, "name": "all-s3", "document": _ALLOW_S3}
        )
        arn = f"arn:aws:iam::{tenant}:policy/all-s3"
        for path, data in [
            ("/iam/users/hank/password", {"password": "Another-Horse-77", "has": "0"}),
            ("/iam/users/hank/access-keys", {}),
            ("/iam/users/hank/groups", {"group": "crew"}),
            ("/iam/users/hank/policies/attach", {"arn": arn}),
            ("/iam/users/hank/inline", {"policy": "own", "document": _ALLOW_S3}),
        ]:
            assert (await client.post(path, data={"csrf": token, **data})).status_code in (200, 303)
        drawn = await client.post("/iam/users/hank/mfa/create", data={"csrf": token})
        seed_text = re.search(r'<code id="mfa-seed">([A-Z2-7]+)</code>', drawn.text)
        assert seed_text
        seed, step = totp.seed_from_base32(seed_text.group(1)), totp.time_step(time.time())
        enabled = await client.post(
            "/iam/users/hank/mfa/enable",
            data={"csrf": token, "serial": f"arn:aws:iam::{tenant}:mfa/hank",
                  "seed": seed_text.group(1), "code1": totp.totp(seed, step - 1),
                  "code2": totp.totp(seed, step)},
        )  # fmt: skip
        assert enabled.status_code == 303
        unconfirmed = await client.post("/iam/users/hank/delete", data={"csrf": token})
        assert unconfirmed.status_code == 400
        assert "hank" in (await client.get("/iam/users")).text
        deleted = await client.post(
            "/iam/users/hank/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/iam/users"
        listing = await client.get("/iam/users")
        group = await client.get("/iam/groups/crew")
    assert 'href="/console/iam/users/hank"' not in listing.text
    assert "hank" not in group.text
    assert not await console.identity.list_virtual_mfa_devices(tenant)


async def test_iams_refusals_read_in_french_with_iams_own_words_after(
    console: ConsoleHarness,
) -> None:
    async with console.client(**{"accept-language": "fr"}) as client:
        token = await _as_root(console, client)
        await client.post("/iam/users", data={"csrf": token, "name": "ines"})
        await client.post("/iam/users/ines/access-keys", data={"csrf": token})
        conflict = await client.post("/iam/users/delete", data={"csrf": token, "name": "ines"})
        missing = await client.get("/iam/users/nobody")
    assert conflict.status_code == 409
    text = unescape(conflict.text)
    assert "Encore utilisé" in text and "(DeleteConflict)" in text
    assert "the user still has" in text  # IAM's own words name what is left
    assert missing.status_code == 404 and "Aucune entité IAM" in unescape(missing.text)


async def test_a_user_is_made_with_a_group_a_password_and_a_key_in_one_form(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as client:
        token = await _as_root(console, client)
        await client.post("/iam/groups", data={"csrf": token, "name": "team"})
        made = await client.post(
            "/iam/users",
            data={"csrf": token, "name": "jo", "group": "team",
                  "password": "Another-Horse-77", "access_key": "yes"},
        )  # fmt: skip
        assert made.status_code == 200 and "will not be shown again" in made.text
        key_id, _secret = _new_secret(made)
        page = await client.get("/iam/users/jo")
        half = await client.post(
            "/iam/users", data={"csrf": token, "name": "kim", "group": "no-such-group"}
        )
    assert 'href="/console/iam/groups/team"' in page.text
    assert "may sign in to the console" in page.text and key_id in page.text
    assert [k.access_key_id for k in await console.identity.list_access_keys(tenant, "jo")] == [
        key_id
    ]
    # The user is made; the group IAM does not know is refused on the user's page.
    assert half.status_code == 404 and "(NoSuchEntity)" in half.text
    assert (await console.identity.get_user(tenant, "kim")).name == "kim"
