"""The console's defences: strict headers, cookie flags, CSRF, one login message, logout,
the body bound, and another tenant's buckets answered as S3 answers them."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from rich.console import Console

from andromede.cli.serve import _banner
from andromede.console.app import CONTENT_SECURITY_POLICY
from andromede.iam import totp
from andromede.settings import load_settings
from support.console import (
    PASSWORD,
    ConsoleHarness,
    console_harness,
    csrf,
    csrf_of,
    log_in,
)


def _cookie(reply: httpx.Response, name: str) -> str:
    for header in reply.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no {name} cookie in {reply.headers}")


async def test_every_answer_has_the_strict_headers(console: ConsoleHarness) -> None:
    async with console.client() as client:
        pages = [
            await client.get("/login"),
            await client.get("/no-such-page"),
            await client.get("/static/console.css"),
            await client.get("/buckets"),  # a redirect to the login
        ]
    for page in pages:
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-request-id"]
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert pages[1].status_code == 404
    assert pages[3].status_code == 303 and pages[3].headers["location"] == "/console/login"
    assert "<script>" not in pages[0].text and " style=" not in pages[0].text


async def test_the_htmx_file_is_served_from_the_console(console: ConsoleHarness) -> None:
    async with console.client() as client:
        login = await client.get("/login")
        htmx = await client.get("/static/htmx-2.0.11.min.js")
    assert '<script src="/console/static/htmx-2.0.11.min.js"' in login.text
    assert htmx.status_code == 200 and b"htmx" in htmx.content[:2000]
    assert "http://" not in login.text and "https://" not in login.text  # no CDN, no font


async def test_session_cookie_flags_and_logout(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        login_form = await client.get("/login")
        logged = await log_in(client, "admin", "root")
        session_cookie = _cookie(logged, "andromede_console")
        stolen = client.cookies.get("andromede_console")
        token = await csrf(client)
        logout = await client.post("/logout", data={"csrf": token})
    for header in (session_cookie, _cookie(login_form, "andromede_console_login")):
        assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/console" in header
        assert "Secure" not in header  # a plain-HTTP listener: a Secure cookie would not return
    assert logout.status_code == 303 and logout.headers["location"] == "/console/login"
    assert "Max-Age=0" in _cookie(logout, "andromede_console")
    # The session is revoked on the server, not only forgotten by the browser.
    async with console.client() as replay:
        replay.cookies.set("andromede_console", stolen or "")
        after = await replay.get("/buckets")
    assert after.status_code == 303 and after.headers["location"] == "/console/login"


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        token = await csrf(client)
        missing = await client.post("/buckets", data={"name": "forged", "region": "eu-fr-1"})
        wrong = await client.post(
            "/buckets", data={"csrf": "0" * len(token), "name": "forged", "region": "eu-fr-1"}
        )
        upload = await client.post(
            "/buckets/forged/upload",
            data={"csrf": "0" * len(token)},
            files={"file": ("a", b"a", "text/plain")},
        )
        # The file before any token: refused (400) as it comes, rather than held until one.
        file_first = await client.post(
            "/buckets/forged/upload", files={"file": ("a", b"a", "text/plain")}
        )
        logout = await client.post("/logout")
        listing = await client.get("/buckets")
    for refused in (missing, wrong, upload, logout, file_first):
        assert refused.status_code == (400 if refused is file_first else 403)
        assert "did not come from the console" in refused.text
    assert "forged" not in listing.text and listing.status_code == 200  # still logged in


async def test_login_form_needs_its_own_token(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        forged = await client.post(
            "/login", data={"account": "admin", "user": "root", "password": PASSWORD}
        )
    assert forged.status_code == 403
    assert "andromede_console=" not in str(forged.headers.get_list("set-cookie"))


async def test_one_message_for_every_wrong_login(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    await console.user_with_password(tenant, "nopassword")
    await console.identity.delete_login_profile(tenant, "nopassword")
    async with console.client() as client:
        replies = [
            await log_in(client, "admin", "root", "Wrong-Horse-42"),
            await log_in(client, "admin", "ghost"),
            await log_in(client, "no-such-account", "root"),
            await log_in(client, "admin", "nopassword"),
            await log_in(client, "admin", "root", mfa="123456"),  # a code, but no device
        ]
    messages = {r.text.split('role="alert">')[1].split("<")[0] for r in replies[:4]}
    assert len(messages) == 1 and "Sign-in failed" in messages.pop()
    assert [r.status_code for r in replies[:4]] == [401] * 4
    assert replies[4].status_code == 303  # a user without a device logs in without a code


async def test_login_backs_off_with_the_same_message(tmp_path: Path) -> None:
    async with console_harness(tmp_path, login_max_failures=2) as console:
        await console.user_with_password(console.admin_tenant_id, "root")
        async with console.client() as client:
            for _ in range(3):
                await log_in(client, "admin", "root", "Wrong-Horse-42")
            locked = await log_in(client, "admin", "root")  # the right password, too soon
    assert locked.status_code == 429
    assert "Sign-in failed" in locked.text


async def test_another_tenants_bucket_answers_as_s3(console: ConsoleHarness) -> None:
    owner = console.admin_tenant_id
    await console.user_with_password(owner, "root")
    intruder = (await console.identity.create_tenant("intruder")).tenant.id
    await console.user_with_password(intruder, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        token = await csrf(client)
        await client.post("/buckets", data={"csrf": token, "name": "secret", "region": "eu-fr-1"})
        await client.post(
            "/buckets/secret/upload",
            data={"csrf": token},
            files={"file": ("plans.txt", b"the plans", "text/plain")},
        )
    async with console.client() as client:
        await log_in(client, "intruder", "root")
        token = await csrf(client)
        own = await client.get("/buckets")
        browse = await client.get("/buckets/secret")
        download = await client.get("/buckets/secret/download", params={"key": "plans.txt"})
        remove = await client.post(
            "/buckets/secret/delete-object", data={"csrf": token, "key": "plans.txt"}
        )
        drop = await client.post("/buckets/secret/delete", data={"csrf": token})
        absent = await client.get("/buckets/no-such-bucket-anywhere")
    # The bucket is not listed (the menu's "Secrets" page is no bucket).
    assert own.status_code == 200 and ">secret<" not in own.text
    assert 'href="/console/buckets/secret"' not in own.text
    for reply in (browse, download, remove, drop):
        # S3's own answer to another tenant (tests/unit/s3/test_tenant_isolation.py).
        assert reply.status_code == 403 and "AccessDenied" in reply.text, reply.text
        assert 'class="object"' not in reply.text
    assert b"the plans" not in download.content
    assert absent.status_code == 404 and "NoSuchBucket" in absent.text
    async with console.client() as client:  # and nothing changed for the owner
        await log_in(client, "admin", "root")
        assert "plans.txt" in (await client.get("/buckets/secret")).text


async def test_small_forms_are_bounded(tmp_path: Path) -> None:
    async with console_harness(tmp_path, max_api_body_size=1024) as console:
        async with console.client() as client:
            page = await client.get("/login")
            huge = await client.post(
                "/login", data={"csrf": csrf_of(page), "account": "a" * 4096, "user": "root"}
            )
    assert huge.status_code == 413
    assert huge.headers["connection"] == "close"


async def test_the_cookies_are_secure_on_a_tls_listener(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        client.base_url = httpx.URL("https://127.0.0.1:9001/console")
        form = await client.get("/login")
        logged = await log_in(client, "admin", "root")
        switched = await client.get("/language/fr")
    for header in (
        _cookie(form, "andromede_console_login"),
        _cookie(logged, "andromede_console"),
        _cookie(switched, "andromede_console_lang"),
    ):
        assert header.endswith("; Secure"), header


def test_the_banner_prints_the_consoles_address(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, api_port=9001)
    out = Console(record=True, width=200)
    _banner(settings, None, (9000, 9001), out)
    assert "web console      http://127.0.0.1:9001/console/" in out.export_text()


async def test_forms_starlette_cannot_read_are_400(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        token = await csrf(client)
        await client.post("/buckets", data={"csrf": token, "name": "files", "region": "eu-fr-1"})
        a_file_where_none_goes = await client.post(
            "/buckets", data={"csrf": token}, files={"file": ("a", b"a", "text/plain")}
        )
        two_files = await client.post(
            "/buckets/files/upload",
            data={"csrf": token},
            files=[("file", ("a", b"a", "text/plain")), ("file", ("b", b"b", "text/plain"))],
        )
        no_name = await client.post(
            "/buckets/files/upload",
            data={"csrf": token},
            files={"file": ("folder/", b"a", "text/plain")},
        )
        listed = await client.get("/buckets/files")
    assert a_file_where_none_goes.status_code == 400
    assert two_files.status_code == 400
    assert no_name.status_code == 400 and "Choose a file" in no_name.text
    assert 'class="object"' not in listed.text


async def test_a_user_with_an_mfa_device_needs_its_code(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "alice")
    device = await console.identity.create_virtual_mfa_device(tenant, "alice")
    seed = totp.seed_from_base32(device.base32_string_seed)
    step = totp.time_step(time.time())
    await console.identity.enable_mfa_device(
        tenant, "alice", device.device.serial, totp.totp(seed, step - 1), totp.totp(seed, step)
    )
    async with console.client() as client:
        without = await log_in(client, "admin", "alice")
        wrong = await log_in(client, "admin", "alice", mfa="000000")
        right = await log_in(client, "admin", "alice", mfa=totp.totp(seed, step + 1))
    for refused in (without, wrong):
        assert refused.status_code == 401 and "Sign-in failed" in refused.text
    assert right.status_code == 303, right.text
