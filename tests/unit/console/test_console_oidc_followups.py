"""The console's OIDC sign-in, decision 0141's addendum, against the real issuer served over
HTTPS on 127.0.0.1 (tests/support/oidc.py): signing out at the issuer too (OpenID Connect
RP-Initiated Logout 1.0), the role chosen after the issuer's callback among those whose trust
policy lets the ID token in, and the page that composes the sign-in link."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import trustme

from support.console import ConsoleHarness, console_harness, csrf_of, log_in
from support.console_oidc import (
    CLIENT_ID,
    at_issuer,
    events,
    location,
    provider_and_role,
    sign_in,
)
from support.oidc import IdentityProvider, Login, https_idp, write_ca

LOGOUT_COOKIE = "andromede_console_oidc_logout"


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
        tmp_path, oidc_ca_bundle=bundle, oidc_allowed_networks=("127.0.0.0/8",)
    ) as harness:
        yield harness


def _set_cookie(answer: httpx.Response, name: str) -> str | None:
    cookies = answer.headers.get_list("set-cookie")
    return next((c for c in cookies if c.startswith(f"{name}=")), None)


# -- RP-initiated logout -----------------------------------------------------------------------
async def test_signing_out_of_an_oidc_session_ends_it_at_the_issuer_too(
    console: ConsoleHarness, idp: IdentityProvider, ca: trustme.CA
) -> None:
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
