"""Users, groups and roles through the service, with AWS's names, paging and errors."""

from __future__ import annotations

import pytest

from andromede.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from andromede.iam.service import BootstrapResult, IdentityService

TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
    '"Action": "sts:AssumeRole"}]}'
)
POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
    '"Resource": "*"}]}'
)


async def test_create_get_update_delete_user(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    acct = tenant.tenant.id
    user = await identity.create_user(acct, "Alice", "/eng/")
    assert user.id.startswith("AIDA") and len(user.id) == 21
    assert user.arn == f"arn:aws:iam::{acct}:user/eng/Alice"
    assert await identity.get_user(acct, "alice") == user
    with pytest.raises(EntityAlreadyExists):
        await identity.create_user(acct, "ALICE")
    renamed = await identity.update_user(acct, "alice", new_user_name="Alicia", new_path="/x/")
    assert (renamed.name, renamed.path, renamed.id) == ("Alicia", "/x/", user.id)
    await identity.delete_user(acct, "alicia")
    with pytest.raises(NoSuchEntity):
        await identity.get_user(acct, "alicia")
    with pytest.raises(NoSuchEntity):
        await identity.delete_user(acct, "alicia")


async def test_root_is_not_an_iam_user(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    assert (await identity.get_user(acct, "root")).is_root
    assert (await identity.list_users(acct)).items == []
    with pytest.raises(NoSuchEntity):
        await identity.delete_user(acct, "root")
    with pytest.raises(EntityAlreadyExists):
        await identity.create_user(acct, "root")


@pytest.mark.parametrize(
    ("name", "path"),
    [("", "/"), ("a" * 65, "/"), ("bad name", "/"), ("ok", "noslash"), ("ok", "/a"), ("ok", "//")],
)
async def test_bad_names_and_paths(
    identity: IdentityService, tenant: BootstrapResult, name: str, path: str
) -> None:
    with pytest.raises(InvalidInput):
        await identity.create_user(tenant.tenant.id, name, path)


async def test_list_users_pages_with_marker(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    acct = tenant.tenant.id
    for name in ["dave", "Carol", "bob", "alice", "eve"]:
        await identity.create_user(acct, name, "/ops/" if name == "eve" else "/")
    seen: list[str] = []
    marker = None
    while True:
        page = await identity.list_users(acct, marker=marker, max_items=2)
        seen += [u.name for u in page.items]
        if not page.is_truncated:
            assert page.marker is None
            break
        marker = page.marker
    assert seen == ["alice", "bob", "Carol", "dave", "eve"]
    ops = await identity.list_users(acct, path_prefix="/ops/")
    assert [u.name for u in ops.items] == ["eve"]
    with pytest.raises(InvalidInput):
        await identity.list_users(acct, max_items=0)
    with pytest.raises(InvalidInput):
        await identity.list_users(acct, max_items=1001)


async def test_tenants_do_not_see_each_other(identity: IdentityService) -> None:
    a = await identity.create_tenant("a")
    b = await identity.create_tenant("b")
    await identity.create_user(a.tenant.id, "alice")
    with pytest.raises(NoSuchEntity):
        await identity.get_user(b.tenant.id, "alice")
    assert (await identity.list_users(b.tenant.id)).items == []
    await identity.create_user(b.tenant.id, "alice")  # same name in another tenant


async def test_groups_and_membership(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    group = await identity.create_group(acct, "Admins", "/it/")
    assert group.id.startswith("AGPA")
    assert group.arn == f"arn:aws:iam::{acct}:group/it/Admins"
    await identity.create_user(acct, "alice")
    await identity.create_group(acct, "devs")
    await identity.add_user_to_group(acct, "admins", "alice")
    await identity.add_user_to_group(acct, "devs", "alice")
    found, members = await identity.get_group(acct, "ADMINS")
    assert found == group and [m.name for m in members] == ["alice"]
    groups = await identity.list_groups_for_user(acct, "alice", max_items=1)
    assert [g.name for g in groups.items] == ["Admins"] and groups.is_truncated
    rest = await identity.list_groups_for_user(acct, "alice", marker=groups.marker)
    assert [g.name for g in rest.items] == ["devs"] and not rest.is_truncated
    assert [g.name for g in (await identity.list_groups(acct)).items] == ["Admins", "devs"]
    with pytest.raises(DeleteConflict):
        await identity.delete_group(acct, "admins")
    with pytest.raises(DeleteConflict):
        await identity.delete_user(acct, "alice")
    await identity.remove_user_from_group(acct, "admins", "alice")
    with pytest.raises(NoSuchEntity):
        await identity.remove_user_from_group(acct, "admins", "alice")
    await identity.delete_group(acct, "admins")
    with pytest.raises(NoSuchEntity):
        await identity.add_user_to_group(acct, "admins", "alice")
    with pytest.raises(NoSuchEntity):
        await identity.add_user_to_group(acct, "devs", "root")


async def test_roles(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    role = await identity.create_role(acct, "Deploy", TRUST, "/ci/", "deploys", 7200)
    assert role.id.startswith("AROA") and role.arn == f"arn:aws:iam::{acct}:role/ci/Deploy"
    assert await identity.get_role(acct, "deploy") == role
    assert await identity.get_role_by_arn(role.arn) == role
    with pytest.raises(NoSuchEntity):
        await identity.get_role_by_arn(f"arn:aws:iam::{acct}:role/Deploy")  # wrong path
    with pytest.raises(InvalidInput):
        await identity.get_role_by_arn("arn:aws:s3:::bucket")
    for duration in (3599, 43201):
        with pytest.raises(InvalidInput):
            await identity.create_role(acct, "x", TRUST, max_session_duration=duration)
    with pytest.raises(MalformedPolicyDocument):
        await identity.create_role(acct, "x", "not json")
    with pytest.raises(MalformedPolicyDocument):
        await identity.create_role(acct, "x", "[1, 2]")
    updated = await identity.update_assume_role_policy(acct, "deploy", TRUST.replace("*", acct))
    assert updated.assume_role_policy_document == TRUST.replace("*", acct)
    updated = await identity.update_role(
        acct, "deploy", description="d", max_session_duration=43200
    )
    assert (updated.description, updated.max_session_duration) == ("d", 43200)
    assert [r.name for r in (await identity.list_roles(acct)).items] == ["Deploy"]
    await identity.put_role_policy(acct, "deploy", "inline", POLICY)
    with pytest.raises(DeleteConflict):
        await identity.delete_role(acct, "deploy")
    await identity.delete_role_policy(acct, "deploy", "inline")
    await identity.delete_role(acct, "deploy")
    with pytest.raises(NoSuchEntity):
        await identity.get_role(acct, "deploy")


async def test_bootstrap_racing_on_one_store_creates_one_tenant_and_one_operator(
    identity: IdentityService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two gateways' first starts on one database: one bootstraps, the other finds it done."""
    import asyncio

    store = identity._store
    count_tenants, list_operators = store.count_tenants, store.list_operators

    async def slow_count() -> int:
        found = await count_tenants()
        await asyncio.sleep(0)  # both starts see an empty store before either writes
        return found

    async def slow_operators() -> list[object]:
        found = await list_operators()
        await asyncio.sleep(0)
        return list(found)

    monkeypatch.setattr(store, "count_tenants", slow_count)
    monkeypatch.setattr(store, "list_operators", slow_operators)
    results = await asyncio.gather(identity.bootstrap(), identity.bootstrap())
    assert sum(r is not None for r in results) == 1
    assert len(await identity.list_tenants()) == 1
    operators = await asyncio.gather(identity.bootstrap_operator(), identity.bootstrap_operator())
    assert sum(o is not None for o in operators) == 1
    assert len(await identity.list_operators()) == 1
