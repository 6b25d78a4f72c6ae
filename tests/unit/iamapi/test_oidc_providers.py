"""IAM's OpenID Connect provider actions in process, through botocore's serializer and parser
(decision 0087): the shapes, IAM's validation and errors, tags, and the policy engine's say."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from botocore.credentials import Credentials

from andromede.iam.model import OidcProvider
from support.queryapp import ApiError, Client, World

URL = "https://idp.example/realms/ops"
THUMB = "9E99A48A9960B14926BB7F3B02E22DA2B0AB7280"


async def create(root: Client, url: str = URL, **params: object) -> str:
    params.setdefault("ClientIDList", ["sts.amazonaws.com"])
    answer = await root.call("iam", "CreateOpenIDConnectProvider", Url=url, **params)
    return str(answer["OpenIDConnectProviderArn"])


async def expect(code: str, client: Client, action: str, **params: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("iam", action, **params)
    assert caught.value.code == code, caught.value
    return caught.value


async def test_a_provider_is_created_read_listed_and_deleted(world: World, root: Client) -> None:
    answer = await root.call(
        "iam",
        "CreateOpenIDConnectProvider",
        Url=URL,
        ClientIDList=["sts.amazonaws.com", "cli", "cli"],
        ThumbprintList=[THUMB],
        Tags=[{"Key": "team", "Value": "ops"}],
    )
    arn = answer["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{world.tenant_id}:oidc-provider/idp.example/realms/ops"
    assert answer["Tags"] == [{"Key": "team", "Value": "ops"}]
    got = await root.call("iam", "GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert got["Url"] == "idp.example/realms/ops"
    assert got["ClientIDList"] == ["sts.amazonaws.com", "cli"]
    assert got["ThumbprintList"] == [THUMB.lower()]
    assert got["Tags"] == [{"Key": "team", "Value": "ops"}]
    assert "CreateDate" in got
    # No thumbprint at all: AWS no longer requires one.
    other = await create(root, "https://accounts.example")
    listed = await root.call("iam", "ListOpenIDConnectProviders")
    assert [p["Arn"] for p in listed["OpenIDConnectProviderList"]] == [other, arn]
    await root.call("iam", "DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    await expect("NoSuchEntity", root, "GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    await expect("NoSuchEntity", root, "DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=arn)


async def test_one_provider_per_url_per_account(world: World, root: Client) -> None:
    await create(root)
    error = await expect(
        "EntityAlreadyExists", root, "CreateOpenIDConnectProvider", Url=URL, ClientIDList=["x"]
    )
    assert URL in error.message
    # Another account may trust the same issuer.
    _, credentials = await world.new_tenant("globex")
    await create(world.client(credentials))


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example",
        "idp.example",
        "https://",
        "https:///path",
        "https://idp.example/?tenant=1",
        "https://idp.example/#frag",
        "https://idp example",
        "https://" + "a" * 250,
    ],
)
async def test_urls_iam_refuses(root: Client, url: str) -> None:
    await expect("InvalidInput", root, "CreateOpenIDConnectProvider", Url=url, ClientIDList=["x"])


async def test_client_id_and_thumbprint_limits(root: Client) -> None:
    ids = [f"client-{n}" for n in range(101)]
    await expect("LimitExceeded", root, "CreateOpenIDConnectProvider", Url=URL, ClientIDList=ids)
    await expect(
        "InvalidInput", root, "CreateOpenIDConnectProvider", Url=URL, ClientIDList=["x" * 256]
    )
    await expect(
        "InvalidInput",
        root,
        "CreateOpenIDConnectProvider",
        Url=URL,
        ThumbprintList=[f"{n:040x}" for n in range(6)],
    )
    for bad in ("0" * 39, "g" * 40, THUMB + "0"):
        await expect(
            "InvalidInput", root, "CreateOpenIDConnectProvider", Url=URL, ThumbprintList=[bad]
        )
    arn = await create(root, ClientIDList=ids[:100])  # exactly 100: taken
    got = await root.call("iam", "GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert len(got["ClientIDList"]) == 100


async def test_client_ids_thumbprints_and_tags_change(root: Client) -> None:
    arn = await create(root)
    params = {"OpenIDConnectProviderArn": arn}
    await root.call("iam", "AddClientIDToOpenIDConnectProvider", **params, ClientID="cli")
    await root.call("iam", "AddClientIDToOpenIDConnectProvider", **params, ClientID="cli")
    await root.call(
        "iam", "RemoveClientIDFromOpenIDConnectProvider", **params, ClientID="sts.amazonaws.com"
    )
    await root.call(  # removing one that is not there is no error (IAM: idempotent)
        "iam", "RemoveClientIDFromOpenIDConnectProvider", **params, ClientID="none"
    )
    await root.call(
        "iam", "UpdateOpenIDConnectProviderThumbprint", **params, ThumbprintList=[THUMB]
    )
    got = await root.call("iam", "GetOpenIDConnectProvider", **params)
    assert (got["ClientIDList"], got["ThumbprintList"]) == (["cli"], [THUMB.lower()])
    await root.call(
        "iam",
        "TagOpenIDConnectProvider",
        **params,
        Tags=[{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "prod"}],
    )
    await root.call("iam", "UntagOpenIDConnectProvider", **params, TagKeys=["ENV"])
    tags = await root.call("iam", "ListOpenIDConnectProviderTags", **params)
    assert tags["Tags"] == [{"Key": "team", "Value": "ops"}]
    assert tags["IsTruncated"] is False
    await expect(
        "InvalidInput",
        root,
        "TagOpenIDConnectProvider",
        **params,
        Tags=[{"Key": "aws:reserved", "Value": "x"}],
    )


async def test_arns_that_name_no_provider_of_the_caller(world: World, root: Client) -> None:
    arn = await create(root)
    await expect("InvalidInput", root, "GetOpenIDConnectProvider", OpenIDConnectProviderArn="x")
    elsewhere = arn.replace(world.tenant_id, "999999999999")
    await expect(
        "NoSuchEntity", root, "GetOpenIDConnectProvider", OpenIDConnectProviderArn=elsewhere
    )


async def test_the_policy_engine_decides_on_the_provider_arn(world: World, root: Client) -> None:
    arn = await create(root, Tags=[{"Key": "team", "Value": "ops"}])
    await root.call("iam", "CreateUser", UserName="auditor")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:GetOpenIDConnectProvider",
                "Resource": f"arn:aws:iam::{world.tenant_id}:oidc-provider/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "ops"}},
            },
            {"Effect": "Allow", "Action": "iam:ListOpenIDConnectProviders", "Resource": "*"},
        ],
    }
    await root.call(
        "iam",
        "PutUserPolicy",
        UserName="auditor",
        PolicyName="read",
        PolicyDocument=json.dumps(policy),
    )
    key = (await root.call("iam", "CreateAccessKey", UserName="auditor"))["AccessKey"]
    auditor = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    await auditor.call("iam", "GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    await auditor.call("iam", "ListOpenIDConnectProviders")
    other = await create(root, "https://accounts.example")
    await expect(
        "AccessDenied", auditor, "GetOpenIDConnectProvider", OpenIDConnectProviderArn=other
    )
    await expect(
        "AccessDenied", auditor, "DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=arn
    )
    await expect("AccessDenied", auditor, "CreateOpenIDConnectProvider", Url="https://x.example")


async def test_changes_are_audited(world: World, root: Client) -> None:
    arn = await create(root)
    await root.call("iam", "DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)]
    actions = [(e.action, e.resource) for e in events]
    assert ("iam:CreateOpenIDConnectProvider", arn) in actions
    assert ("iam:DeleteOpenIDConnectProvider", arn) in actions


async def test_edits_made_at_once_are_all_kept_or_refused_in_iams_words(
    world: World, root: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two gateways editing one provider at once: a write based on a read another write has
    changed since is retried from a fresh read, so both client ids get in; one that keeps
    losing gets IAM's ConcurrentModification, and changes nothing."""
    arn = await create(root)
    store = world.identity._store  # the store both "gateways" share
    update = store.update_oidc_provider
    races = {"won": 0, "limit": 1}

    async def another_gateway_first(provider: OidcProvider, read: OidcProvider) -> bool:
        # Between this request's read and its write, another gateway adds a client id.
        if races["won"] < races["limit"]:
            races["won"] += 1
            theirs = await store.get_oidc_provider(read.tenant_id, read.url)
            assert theirs is not None
            added = (*theirs.client_ids, f"theirs-{races['won']}")
            assert await update(replace(theirs, client_ids=added), theirs)
        return await update(provider, read)

    monkeypatch.setattr(store, "update_oidc_provider", another_gateway_first)
    add = "AddClientIDToOpenIDConnectProvider"
    await root.call("iam", add, OpenIDConnectProviderArn=arn, ClientID="ours")
    got = await root.call("iam", "GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["sts.amazonaws.com", "theirs-1", "ours"]
    races.update(won=0, limit=100)  # it loses every time
    await expect("ConcurrentModification", root, add, OpenIDConnectProviderArn=arn, ClientID="x")
    got = await root.call("iam", "GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert "x" not in got["ClientIDList"]
