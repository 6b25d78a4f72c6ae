"""The tenant-isolation matrix for IAM and STS: every implemented action, attempted on a victim
tenant's users, groups, roles, policies, keys and devices by another tenant's root user and by
an IAM user of the victim's own account that has no policy.

Another tenant's root only ever acts on its own account: whatever it names, it gets an error or
its own account's data, never the victim's, and the victim's account is unchanged. The user
without policy gets AccessDenied on every action and changes nothing; an unsigned request gets
MissingAuthenticationToken (on the shared endpoint it is S3's, see the end-to-end suite). The
recipe table must cover every action of both services (a test checks), so a new action cannot
ship without its isolation case.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from botocore.credentials import Credentials

from andromede.iamapi.iam import IAM
from andromede.iamapi.sts import STS
from support.clock import Clock
from support.iam_recipes import (
    RECIPES,
    SELF_SERVICE,
    STS_RECIPES,
    fill,
    snapshot_reads,
    victim_account,
)
from support.query_wire import Answer
from support.queryapp import ApiError, Client, World, parsed, query_world


def test_every_action_has_an_isolation_case() -> None:
    assert set(RECIPES) == set(IAM.actions)
    assert set(STS_RECIPES) == set(STS.actions)


async def victim_world(world: World, root: Client) -> dict[str, str]:
    async def call(action: str, **params: Any) -> dict[str, Any]:
        return await root.call("iam", action, **params)

    return await victim_account(call, world.tenant_id)


async def snapshot(root: Client, account: str) -> list[Answer]:
    """Everything an intruder could change in the victim's account, read by its root."""
    state = []
    for action, params in snapshot_reads(account):
        answer = await root.send("iam", action, **params)
        if answer.status >= 300:
            raise ApiError(answer.status, parsed("iam", answer).get("Error", {}))
        state.append(answer)
    return state


def assert_unchanged(before: list[Answer], after: list[Answer]) -> None:
    """The account read ``after`` is the one read ``before``, as boto3 reads it. Answers the
    same bytes (but their request ids) parse the same, so only answers that differ are parsed
    and compared: a caller's change fails here, and the parse, most of a snapshot's CPU, is
    spent only then."""
    if [answer.content() for answer in after] != [answer.content() for answer in before]:
        assert _parsed(after) == _parsed(before)


def _parsed(state: list[Answer]) -> list[Any]:
    read = [parsed("iam", answer) for answer in state]
    for answer in read:
        answer.pop("ResponseMetadata", None)
    return read


@pytest.fixture
async def intruder(world: World) -> Client:
    _, credentials = await world.new_tenant("intruder")
    return world.client(credentials)


@pytest.fixture
async def powerless(world: World, root: Client) -> Client:
    """An IAM user of the victim's account with an access key and no policy at all."""
    await root.call("iam", "CreateUser", UserName="powerless")
    key = (await root.call("iam", "CreateAccessKey", UserName="powerless"))["AccessKey"]
    return world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))


@dataclass
class Refused:
    """One victim account shared by the module's refused callers, its root's client and the
    client of its user without policy."""

    world: World
    root: Client
    ids: dict[str, str]
    powerless: Client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def refused(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Refused]:
    """Built once: its callers are refused before anything is done, so the account they face
    is only read. Each test still reads the account before and after its own attempt, so a
    refusal that changed something fails that test, not a later one (a world and a victim
    account per case were most of this file's CPU)."""
    clock = Clock(now=float(int(time.time())))
    async with query_world(clock, tmp_path_factory.mktemp("refused") / "data") as world:
        root = world.client(world.root)
        await root.call("iam", "CreateUser", UserName="powerless")
        key = (await root.call("iam", "CreateAccessKey", UserName="powerless"))["AccessKey"]
        powerless = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
        yield Refused(world, root, await victim_world(world, root), powerless)


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_another_tenants_root_only_reaches_its_own_account(
    world: World, root: Client, intruder: Client, action: str
) -> None:
    ids = await victim_world(world, root)
    before = await snapshot(root, ids["account"])
    params = fill(RECIPES[action], ids["account"], ids["key"])
    try:
        await intruder.call("iam", action, **params)
    except ApiError as error:
        assert 400 <= error.status < 500, error
    body = intruder.last_body.decode()
    for value in params.values():  # what the intruder sent may come back (an ARN, a document)
        body = body.replace(str(value), "").replace(quote(str(value), safe=""), "")
    for secret in ids.values():
        assert secret not in body, (action, body)
    assert_unchanged(before, await snapshot(root, ids["account"]))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_a_user_without_policy_is_denied_every_iam_action(
    refused: Refused, action: str
) -> None:
    ids, root = refused.ids, refused.root
    before = await snapshot(root, ids["account"])
    with pytest.raises(ApiError) as caught:
        await refused.powerless.call(
            "iam", action, **fill(RECIPES[action], ids["account"], ids["key"])
        )
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert_unchanged(before, await snapshot(root, ids["account"]))


@pytest.mark.parametrize("caller", ["intruder", "powerless"])
async def test_assume_role_of_the_victim_is_denied(
    world: World, root: Client, intruder: Client, powerless: Client, caller: str
) -> None:
    ids = await victim_world(world, root)
    client = intruder if caller == "intruder" else powerless
    params = fill(STS_RECIPES["AssumeRole"], ids["account"], ids["key"])
    with pytest.raises(ApiError) as caught:
        await client.call("sts", "AssumeRole", **params)
    assert caught.value.code == "AccessDenied"


async def test_get_federation_token_federates_only_into_the_callers_account(
    world: World, root: Client, intruder: Client, powerless: Client
) -> None:
    ids = await victim_world(world, root)
    before = await snapshot(root, ids["account"])
    params = STS_RECIPES["GetFederationToken"]
    answer = await intruder.call("sts", "GetFederationToken", **params)
    assert ids["account"] not in intruder.last_body.decode()
    assert answer["FederatedUser"]["Arn"].endswith(":federated-user/intruder")
    with pytest.raises(ApiError) as caught:
        await powerless.call("sts", "GetFederationToken", **params)
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert_unchanged(before, await snapshot(root, ids["account"]))


@pytest.mark.parametrize("caller", ["intruder", "powerless"])
async def test_get_access_key_info_never_names_the_victims_account(
    world: World, root: Client, intruder: Client, powerless: Client, caller: str
) -> None:
    """Another tenant learns nothing of the victim's key; a user of the victim's account
    without policy is refused sts:GetAccessKeyInfo (decision 0095)."""
    ids = await victim_world(world, root)
    client = intruder if caller == "intruder" else powerless
    params = fill(STS_RECIPES["GetAccessKeyInfo"], ids["account"], ids["key"])
    with pytest.raises(ApiError) as caught:
        await client.call("sts", "GetAccessKeyInfo", **params)
    if caller == "powerless":  # of the victim's own account: its ARN names it
        assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    else:
        assert 400 <= caught.value.status < 500
        assert ids["account"] not in client.last_body.decode()


@pytest.mark.parametrize("action", ["AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"])
async def test_unsigned_federation_into_the_victim_is_refused(
    world: World, root: Client, action: str
) -> None:
    ids = await victim_world(world, root)
    before = await snapshot(root, ids["account"])
    params = fill(STS_RECIPES[action], ids["account"], ids["key"])
    with pytest.raises(ApiError) as caught:
        await world.client(None).call("sts", action, **params)
    assert caught.value.code == "InvalidIdentityToken"
    assert_unchanged(before, await snapshot(root, ids["account"]))


@pytest.mark.parametrize("action", sorted(SELF_SERVICE))
async def test_self_service_sts_actions_answer_for_the_caller_only(
    world: World, root: Client, intruder: Client, action: str
) -> None:
    ids = await victim_world(world, root)
    await intruder.call("sts", action)
    assert ids["account"] not in intruder.last_body.decode()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_an_anonymous_caller_is_refused_every_iam_action(
    refused: Refused, action: str
) -> None:
    ids, root = refused.ids, refused.root
    before = await snapshot(root, ids["account"])
    anonymous = refused.world.client(None)
    with pytest.raises(ApiError) as caught:
        await anonymous.call("iam", action, **fill(RECIPES[action], ids["account"], ids["key"]))
    assert (caught.value.status, caught.value.code) == (403, "MissingAuthenticationToken")
    assert_unchanged(before, await snapshot(root, ids["account"]))
