"""The console's OIDC sign-in state (decision 0141): sealed for the cookie, opened only with its
own ``state``, within its ten minutes, once across gateways; a provider looked up only in the
account named, the same refusal for an account that does not exist. The addendum's sealings:
a role choice opened once by its own browser within its lifetime; the logout's, within a
cookie's size."""

from __future__ import annotations

import os

import pytest

from andromede.iam.errors import InvalidConsoleSession, InvalidIdentityToken
from andromede.iam.oidc_signin import (
    OIDC_LOGOUT_SEALED_MAX,
    OIDC_SIGN_IN_LIFETIME,
)
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import BootstrapResult, IdentityService
from support.clock import Clock

ISSUER = "https://keycloak.example.com/realms/acme"
CHOICE_LIFETIME = 300  # console_oidc_role_choice_lifetime's default


async def test_the_state_opens_once_with_its_own_state_within_its_lifetime(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    account = tenant.tenant.id
    kept = {"account": account, "verifier": "v" * 64, "role": "engineers"}
    sealed, state = identity.seal_oidc_sign_in(kept)
    assert "v" * 64 not in sealed and state not in sealed  # sealed, not merely encoded
    with pytest.raises(InvalidConsoleSession, match="does not match"):
        await identity.open_oidc_sign_in(sealed, state + "x")
    opened = await identity.open_oidc_sign_in(sealed, state)
    assert opened["verifier"] == "v" * 64 and opened["role"] == "engineers"
    with pytest.raises(InvalidConsoleSession, match="used before"):
        await identity.open_oidc_sign_in(sealed, state)
    late, late_state = identity.seal_oidc_sign_in(kept)
    clock.now += OIDC_SIGN_IN_LIFETIME
    with pytest.raises(InvalidConsoleSession, match="expired"):
        await identity.open_oidc_sign_in(late, late_state)


@pytest.mark.parametrize("sealed", ["", "not-base64!", "YWJj", "x" * 5000])
async def test_what_the_console_did_not_seal_is_refused(
    identity: IdentityService, sealed: str
) -> None:
    with pytest.raises(InvalidConsoleSession, match="not one this console began"):
        await identity.open_oidc_sign_in(sealed, "state")


async def test_a_state_sealed_under_another_key_is_refused(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    sealed, state = identity.seal_oidc_sign_in({"account": tenant.tenant.id})
    # The same store, another secrets key (another region's, or a forger's).
    other = IdentityService(identity._store, SecretSealer(os.urandom(32)), clock=clock)
    with pytest.raises(InvalidConsoleSession):
        await other.open_oidc_sign_in(sealed, state)


async def test_the_provider_is_looked_up_in_the_account_named_only(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    account = tenant.tenant.id
    await identity.create_open_id_connect_provider(account, ISSUER, ["console"], [])
    other = await identity.create_tenant("other")
    found = await identity.oidc_sign_in_provider(account, "keycloak.example.com/realms/acme")
    assert found.issuer == ISSUER
    assert (await identity.oidc_sign_in_provider(account, ISSUER)).url == found.url
    for where, url in [
        (other.tenant.id, ISSUER),  # another account's provider opens nothing here
        ("999999999999", ISSUER),  # nor an account that does not exist
        ("acme", ISSUER),  # an account is named by its id
        (account, "https://keycloak.example.com/realms/other"),
    ]:
        with pytest.raises(InvalidIdentityToken) as caught:
            await identity.oidc_sign_in_provider(where, url)
        assert str(caught.value) == "No OpenIDConnect provider found in that account for it"


async def test_a_role_choice_opens_once_in_its_own_browser_within_its_lifetime(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    account = tenant.tenant.id
    kept = {"account": account, "roles": ["a", "b"], "id_token": "eyJ.token.sig"}
    sealed, binding = identity.seal_oidc_role_choice(kept, CHOICE_LIFETIME)
    assert "eyJ.token.sig" not in sealed and binding not in sealed
    with pytest.raises(InvalidConsoleSession, match="another browser"):
        await identity.open_oidc_role_choice(sealed, binding + "x")
    with pytest.raises(InvalidConsoleSession, match="not one this console began"):
        await identity.open_oidc_sign_in(sealed, binding)  # not a sign-in's state either
    opened = await identity.open_oidc_role_choice(sealed, binding)
    assert opened["id_token"] == "eyJ.token.sig" and opened["roles"] == ["a", "b"]
    with pytest.raises(InvalidConsoleSession, match="chosen before"):
        await identity.open_oidc_role_choice(sealed, binding)
    late, late_binding = identity.seal_oidc_role_choice(kept, CHOICE_LIFETIME)
    clock.now += CHOICE_LIFETIME
    with pytest.raises(InvalidConsoleSession, match="expired"):
        await identity.open_oidc_role_choice(late, late_binding)


async def test_the_logout_sealing_drops_an_id_token_too_large_for_a_cookie(
    identity: IdentityService,
) -> None:
    kept = {"end_session": "https://idp.example/logout", "client_id": "console"}
    small = identity.seal_oidc_logout({**kept, "id_token": "t" * 1000})
    assert "t" * 100 not in small
    assert identity.open_oidc_logout(small) == {**kept, "id_token": "t" * 1000}
    large = identity.seal_oidc_logout({**kept, "id_token": "t" * 4000})
    assert len(large) <= OIDC_LOGOUT_SEALED_MAX
    assert identity.open_oidc_logout(large) == kept
    assert identity.open_oidc_logout("Zm9yZ2Vk") is None
    assert identity.open_oidc_logout(identity.seal_oidc_sign_in(kept)[0]) is None
