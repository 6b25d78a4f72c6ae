"""One suite over every IdentityStore and every AuditStore: in-memory twins, SQLite and
PostgreSQL.

Every identity store method runs here against each, including the rules the stores enforce
inside their writes (unique names regardless of case, quotas, DeleteConflict, TOTP replay).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.audit.model import AuditEvent, Outcome
from andromede.audit.store import AuditStore, MemoryAuditStore
from andromede.audit.store_sql import SqlAuditStore
from andromede.db.database import Database
from andromede.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
    TenantAlreadyExists,
)
from andromede.iam.model import (
    AccessJob,
    AccessKey,
    AccessKeyStatus,
    ConsoleSession,
    EntityType,
    Group,
    InlinePolicy,
    InstanceProfile,
    KeyUse,
    LoginProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    Operator,
    PolicyVersion,
    Role,
    SamlProvider,
    SessionCredentials,
    SessionPolicy,
    SessionSource,
    SessionTags,
    Tenant,
    TenantQuota,
    TenantStatus,
    User,
)
from andromede.iam.store import IdentityStore
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.iam.store_sql import SqlIdentityStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 11, 29, 10, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    """None for the in-memory twins, else a migrated database of the kind named."""
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture
def identity(database: Database | None) -> IdentityStore:
    return MemoryIdentityStore() if database is None else SqlIdentityStore(database)


@pytest.fixture
def audit(database: Database | None) -> AuditStore:
    return MemoryAuditStore() if database is None else SqlAuditStore(database)


def tenant_with_root(n: int) -> tuple[Tenant, User, AccessKey]:
    tenant = Tenant(id=f"10000000000{n}", name=f"t{n}", status=TenantStatus.ACTIVE, created_at=T0)
    root = User(id=f"AIDA{n}", tenant_id=tenant.id, name="root", is_root=True, created_at=T0)
    key = AccessKey(
        access_key_id=f"AKIA{n:016d}", user_id=root.id, status=AccessKeyStatus.ACTIVE, created_at=T0
    )
    return tenant, root, key


async def test_tenant_root_and_key_round_trip(identity: IdentityStore) -> None:
    assert await identity.count_tenants() == 0
    tenant, root, key = tenant_with_root(1)
    await identity.create_tenant_with_root(tenant, root, key, "v1:sealed")
    assert await identity.count_tenants() == 1
    assert await identity.get_tenant(tenant.id) == tenant
    assert await identity.get_entity_by_id(User, root.id) == root
    assert await identity.get_access_key(key.access_key_id) == (key, "v1:sealed")
    assert await identity.get_tenant("999999999999") is None
    assert await identity.get_entity_by_id(User, "AIDAnobody") is None
    assert await identity.get_access_key("AKIAnobody") is None


async def test_a_tenant_name_is_unique(identity: IdentityStore) -> None:
    tenant, root, key = tenant_with_root(1)
    await identity.create_tenant_with_root(tenant, root, key, "v1:a")
    other, other_root, other_key = tenant_with_root(2)
    clash = Tenant(id=other.id, name=tenant.name, status=other.status, created_at=T0)
    with pytest.raises(TenantAlreadyExists):
        await identity.create_tenant_with_root(clash, other_root, other_key, "v1:b")
    assert await identity.count_tenants() == 1
    assert await identity.get_access_key(other_key.access_key_id) is None  # nothing half-created


def event(n: int, tenant: str | None) -> AuditEvent:
    return AuditEvent(
        occurred_at=T0,
        request_id=f"R{n}",
        tenant_id=tenant,
        principal=None if tenant is None else f"arn:aws:iam::{tenant}:root",
        action="s3:PutObject",
        resource=f"arn:aws:s3:::b/k{n}",
        outcome=Outcome.SUCCESS if n % 2 else Outcome.FAILURE,
        details={"status": str(200 + n)},
    )


async def test_audit_events_append_in_order_and_page_by_tenant(audit: AuditStore) -> None:
    await audit.append([event(1, "a"), event(2, "b"), event(3, "a")])
    await audit.append([event(4, None), event(5, "a")])
    everything = await audit.list_events(None, after_id=0, limit=10)
    assert [e for _, e in everything] == [
        event(n, t) for n, t in [(1, "a"), (2, "b"), (3, "a"), (4, None), (5, "a")]
    ]
    ids = [i for i, _ in everything]
    assert ids == sorted(ids) and len(set(ids)) == 5
    first_page = await audit.list_events("a", after_id=0, limit=2)
    assert [e.request_id for _, e in first_page] == ["R1", "R3"]
    second_page = await audit.list_events("a", after_id=first_page[-1][0], limit=2)
    assert [e.request_id for _, e in second_page] == ["R5"]


# -- identity: every store method, on both stores -------------------------------------------


async def seeded(identity: IdentityStore, n: int = 1) -> tuple[Tenant, User]:
    tenant, root, key = tenant_with_root(n)
    await identity.create_tenant_with_root(tenant, root, key, "v1:root")
    return tenant, root


def iam_user(tenant: Tenant, name: str, path: str = "/") -> User:
    return User(
        id=f"AIDA{tenant.id}{name}",
        tenant_id=tenant.id,
        name=name,
        is_root=False,
        created_at=T0,
        path=path,
    )


def key_of(user: User, n: int) -> AccessKey:
    return AccessKey(f"AKIA{user.id}{n}"[:20] + str(n), user.id, AccessKeyStatus.ACTIVE, T0 + n * S)


def managed(tenant: Tenant, name: str, path: str = "/") -> ManagedPolicy:
    return ManagedPolicy(
        id=f"ANPA{tenant.id}{name}", tenant_id=tenant.id, name=name, path=path, created_at=T0
    )


S = timedelta(seconds=1)
DOC = '{"Version": "2012-10-17", "Statement": []}'


async def test_tenants_by_name_list_status_and_quota(identity: IdentityStore) -> None:
    a, _ = await seeded(identity, 2)
    b, _ = await seeded(identity, 1)
    assert await identity.get_tenant_by_name("t2") == a
    assert await identity.get_tenant_by_name("nope") is None
    assert [t.name for t in await identity.list_tenants()] == ["t1", "t2"]
    await identity.set_tenant_status(a.id, TenantStatus.SUSPENDED)
    assert (await identity.get_tenant(a.id)) == replace(a, status=TenantStatus.SUSPENDED)
    with pytest.raises(NoSuchEntity):
        await identity.set_tenant_status("999999999999", TenantStatus.ACTIVE)
    assert await identity.get_quota(b.id) == TenantQuota(b.id)
    await identity.put_quota(TenantQuota(b.id, max_buckets=10, max_bytes=2**40))
    await identity.put_quota(TenantQuota(b.id, max_buckets=20, max_bytes=None))
    assert await identity.get_quota(b.id) == TenantQuota(b.id, max_buckets=20)
    with pytest.raises(NoSuchEntity):
        await identity.put_quota(TenantQuota("999999999999", 1, 1))


async def test_tenant_region_allow_list(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity, 1)
    assert await identity.get_allowed_regions(tenant.id) == frozenset()
    await identity.put_allowed_regions(tenant.id, frozenset({"eu-paris-1", "eu-berlin-1"}))
    assert await identity.get_allowed_regions(tenant.id) == {"eu-paris-1", "eu-berlin-1"}
    await identity.put_allowed_regions(tenant.id, frozenset({"eu-paris-1"}))
    assert await identity.get_allowed_regions(tenant.id) == {"eu-paris-1"}
    await identity.put_allowed_regions(tenant.id, frozenset())
    assert await identity.get_allowed_regions(tenant.id) == frozenset()
    with pytest.raises(NoSuchEntity):
        await identity.put_allowed_regions("999999999999", frozenset({"eu-paris-1"}))


async def test_closing_a_tenant_deactivates_keys_and_ends_sessions(
    identity: IdentityStore,
) -> None:
    tenant, root = await seeded(identity, 1)
    _, other_root = await seeded(identity, 2)
    session = SessionCredentials(
        "ASIA1", tenant.id, "h", SessionSource.GET_SESSION_TOKEN, False, T0, T0 + S, root.id
    )
    await identity.create_session(session, "v1:s")
    console = ConsoleSession("c1", root.id, tenant.id, T0, T0, T0 + S, False)
    await identity.create_console_session(console)
    await identity.set_tenant_status(tenant.id, TenantStatus.CLOSED)
    (key,) = await identity.list_access_keys(root.id)
    assert key.status is AccessKeyStatus.INACTIVE
    assert await identity.get_session("ASIA1") is None
    assert await identity.get_console_session("c1") is None
    (untouched,) = await identity.list_access_keys(other_root.id)
    assert untouched.status is AccessKeyStatus.ACTIVE


async def test_names_are_unique_per_tenant_regardless_of_case(identity: IdentityStore) -> None:
    a, _ = await seeded(identity, 1)
    b, _ = await seeded(identity, 2)
    alice = iam_user(a, "Alice")
    await identity.create_entity(alice)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_entity(replace(iam_user(a, "ALICE"), id="AIDAother"))
    await identity.create_entity(iam_user(b, "alice"))  # another tenant: fine
    group = Group("AGPA1", a.id, "Alice", "/", T0)  # another kind: fine
    await identity.create_entity(group)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_entity(Group("AGPA2", a.id, "alice", "/", T0))
    role = Role("AROA1", a.id, "Deploy", "/ci/", T0, DOC, 7200, "d")
    await identity.create_entity(role)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_entity(Role("AROA2", a.id, "DEPLOY", "/", T0, DOC))
    assert await identity.get_entity(User, a.id, "aLiCe") == alice
    assert await identity.get_entity(Role, a.id, "deploy") == role
    assert await identity.get_entity_by_id(Role, "AROA1") == role
    assert await identity.get_entity_by_id(Group, "AGPA1") == group
    assert await identity.get_entity(User, b.id, "nobody") is None


async def test_list_entities_pages_by_lower_case_name_and_path(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity)
    for name, path in [("carol", "/"), ("Bob", "/eng/"), ("alice", "/eng/a/"), ("dave", "/ops/")]:
        await identity.create_entity(iam_user(tenant, name, path))
    every = await identity.list_entities(User, tenant.id, "/", None, 10)
    assert [u.name for u in every] == ["alice", "Bob", "carol", "dave"]  # root never listed
    first = await identity.list_entities(User, tenant.id, "/", None, 2)
    rest = await identity.list_entities(User, tenant.id, "/", first[-1].name.lower(), 10)
    assert [u.name for u in first + rest] == ["alice", "Bob", "carol", "dave"]
    eng = await identity.list_entities(User, tenant.id, "/eng/", None, 10)
    assert [u.name for u in eng] == ["alice", "Bob"]
    assert await identity.list_entities(User, tenant.id, "/e%/", None, 10) == []


async def test_update_entity_renames_and_refuses_clashes(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity)
    alice, bob = iam_user(tenant, "alice"), iam_user(tenant, "bob")
    await identity.create_entity(alice)
    await identity.create_entity(bob)
    await identity.update_entity(replace(alice, name="Alicia", path="/x/"))
    assert await identity.get_entity(User, tenant.id, "alicia") == replace(
        alice, name="Alicia", path="/x/"
    )
    assert await identity.get_entity(User, tenant.id, "alice") is None
    with pytest.raises(EntityAlreadyExists):
        await identity.update_entity(replace(bob, name="ALICIA"))
    with pytest.raises(NoSuchEntity):
        await identity.update_entity(iam_user(tenant, "ghost"))
    role = Role("AROA1", tenant.id, "r", "/", T0, DOC)
    await identity.create_entity(role)
    await identity.update_entity(replace(role, assume_role_policy_document="{}", description="x"))
    assert (await identity.get_entity_by_id(Role, "AROA1")) == replace(
        role, assume_role_policy_document="{}", description="x"
    )


async def test_a_permissions_boundary_is_kept_and_cleared(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity)
    boundary = f"arn:aws:iam::{tenant.id}:policy/boundary"
    bounded = replace(iam_user(tenant, "dev"), permissions_boundary=boundary)
    await identity.create_entity(bounded)
    assert await identity.get_entity(User, tenant.id, "dev") == bounded
    await identity.update_entity(replace(bounded, permissions_boundary=None))
    assert (await identity.get_entity_by_id(User, bounded.id)) == replace(
        bounded, permissions_boundary=None
    )
    role = Role("AROA2", tenant.id, "ci", "/", T0, DOC, permissions_boundary=boundary)
    await identity.create_entity(role)
    assert await identity.get_entity_by_id(Role, "AROA2") == role
    listed = await identity.list_entities(Role, tenant.id, "/", None, 10)
    assert [r.permissions_boundary for r in listed] == [boundary]


async def test_group_membership(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity)
    alice, bob = iam_user(tenant, "alice"), iam_user(tenant, "bob")
    admins, devs = (
        Group("AGPA1", tenant.id, "admins", "/", T0),
        Group("AGPA2", tenant.id, "Devs", "/", T0),
    )
    for entity in (alice, bob, admins, devs):
        await identity.create_entity(entity)
    await identity.add_group_member(devs.id, alice.id)
    await identity.add_group_member(admins.id, alice.id)
    await identity.add_group_member(admins.id, alice.id)  # idempotent
    await identity.add_group_member(admins.id, bob.id)
    assert await identity.list_groups_for_user(alice.id) == [admins, devs]
    assert await identity.list_group_members(admins.id) == [alice, bob]
    assert await identity.remove_group_member(admins.id, bob.id)
    assert not await identity.remove_group_member(admins.id, bob.id)
    assert await identity.list_group_members(admins.id) == [alice]
    with pytest.raises(NoSuchEntity):
        await identity.add_group_member("AGPAnone", alice.id)


async def test_access_keys_quota_status_usage_and_delete(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity)
    alice = iam_user(tenant, "alice")
    await identity.create_entity(alice)
    first, second, third = key_of(alice, 1), key_of(alice, 2), key_of(alice, 3)
    await identity.create_access_key(first, "v1:a", 2)
    await identity.create_access_key(second, "v1:b", 2)
    with pytest.raises(LimitExceeded):
        await identity.create_access_key(third, "v1:c", 2)
    assert await identity.list_access_keys(alice.id) == [first, second]
    assert await identity.get_access_key(second.access_key_id) == (second, "v1:b")
    assert await identity.set_access_key_status(first.access_key_id, AccessKeyStatus.INACTIVE)
    assert not await identity.set_access_key_status("AKIAnone", AccessKeyStatus.INACTIVE)
    await identity.record_key_uses(
        {
            first.access_key_id: KeyUse(T0 + 10 * S, "s3", "eu-fr-1"),
            "AKIAnone": KeyUse(T0, "s3", "x"),
        }
    )
    await identity.record_key_uses({first.access_key_id: KeyUse(T0 + 5 * S, "iam", "old")})
    used, _ = await identity.get_access_key(first.access_key_id) or (None, None)
    assert used == replace(
        first,
        status=AccessKeyStatus.INACTIVE,
        last_used_at=T0 + 10 * S,
        last_used_service="s3",
        last_used_region="eu-fr-1",
    )
    assert await identity.delete_access_key(first.access_key_id)
    assert not await identity.delete_access_key(first.access_key_id)
    await identity.create_access_key(third, "v1:c", 2)
    with pytest.raises(NoSuchEntity):
        await identity.create_access_key(key_of(iam_user(tenant, "ghost"), 1), "v1:d", 2)


async def test_managed_policy_versions(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity)
    policy = managed(tenant, "ReadOnly")
    await identity.create_policy(policy, PolicyVersion(policy.id, "v1", DOC, T0, True))
    with pytest.raises(EntityAlreadyExists):
        await identity.create_policy(
            replace(managed(tenant, "readonly"), id="ANPAx"),
            PolicyVersion("ANPAx", "v1", DOC, T0, True),
        )
    v2 = await identity.create_policy_version(policy.id, '{"v": 2}', T0 + S, False, 3)
    v3 = await identity.create_policy_version(policy.id, '{"v": 3}', T0 + 2 * S, True, 3)
    assert (v2.version_id, v2.is_default, v3.version_id, v3.is_default) == ("v2", False, "v3", True)
    with pytest.raises(LimitExceeded):
        await identity.create_policy_version(policy.id, "{}", T0, False, 3)
    stored = await identity.get_entity(ManagedPolicy, tenant.id, "READONLY")
    assert stored is not None and stored.default_version_id == "v3"
    assert stored.updated_at == T0 + 2 * S
    versions = await identity.list_policy_versions(policy.id)
    assert [(v.version_id, v.is_default) for v in versions] == [
        ("v3", True),
        ("v2", False),
        ("v1", False),
    ]
    assert await identity.get_policy_version(policy.id, "v2") == v2
    assert await identity.get_policy_version(policy.id, "v9") is None
    with pytest.raises(DeleteConflict):
        await identity.delete_policy_version(policy.id, "v3")
    with pytest.raises(DeleteConflict):  # versions other than the default remain
        await identity.delete_entity(ManagedPolicy, policy.id)
    await identity.delete_policy_version(policy.id, "v2")
    with pytest.raises(NoSuchEntity):
        await identity.delete_policy_version(policy.id, "v2")
    await identity.set_default_policy_version(policy.id, "v1")
    with pytest.raises(NoSuchEntity):
        await identity.set_default_policy_version(policy.id, "v2")
    await identity.delete_policy_version(policy.id, "v3")
    v4 = await identity.create_policy_version(policy.id, "{}", T0, False, 3)
    assert v4.version_id == "v4"  # never reused
    await identity.delete_policy_version(policy.id, "v4")
    await identity.delete_entity(ManagedPolicy, policy.id)
    assert await identity.get_entity_by_id(ManagedPolicy, policy.id) is None
    with pytest.raises(NoSuchEntity):
        await identity.create_policy_version(policy.id, "{}", T0, False, 3)


async def test_attachments_inline_policies_and_documents(identity: IdentityStore) -> None:
    tenant, _ = await seeded(identity)
    alice = iam_user(tenant, "alice")
    devs = Group("AGPA1", tenant.id, "devs", "/", T0)
    await identity.create_entity(alice)
    await identity.create_entity(devs)
    await identity.add_group_member(devs.id, alice.id)
    p1, p2 = managed(tenant, "One"), managed(tenant, "two")
    await identity.create_policy(p1, PolicyVersion(p1.id, "v1", '{"p": 1}', T0, True))
    await identity.create_policy(p2, PolicyVersion(p2.id, "v1", '{"p": 2}', T0, True))
    await identity.create_policy_version(p2.id, '{"p": 22}', T0, True, 5)
    user, group = EntityType.USER, EntityType.GROUP
    await identity.attach_policy(user, alice.id, p1.id, 1)
    await identity.attach_policy(user, alice.id, p1.id, 1)  # idempotent, within the quota
    with pytest.raises(LimitExceeded):
        await identity.attach_policy(user, alice.id, p2.id, 1)
    await identity.attach_policy(group, devs.id, p2.id, 1)
    await identity.attach_policy(group, devs.id, p1.id, 2)
    with pytest.raises(NoSuchEntity):
        await identity.attach_policy(group, devs.id, "ANPAnone", 5)
    assert [p.name for p in await identity.list_attached_policies(group, devs.id)] == ["One", "two"]
    (attached,) = await identity.list_attached_policies(user, alice.id)
    assert attached.attachment_count == 2
    stored_p1 = await identity.get_entity_by_id(ManagedPolicy, p1.id)
    assert stored_p1 is not None and stored_p1.attachment_count == 2
    assert await identity.list_policy_attachments(p1.id) == [(group, devs.id), (user, alice.id)]
    await identity.put_inline_policy(InlinePolicy(user, alice.id, "mine", '{"i": 1}'))
    await identity.put_inline_policy(InlinePolicy(user, alice.id, "mine", '{"i": 2}'))
    await identity.put_inline_policy(InlinePolicy(group, devs.id, "team", '{"g": 1}'))
    assert await identity.get_inline_policy(user, alice.id, "mine") == InlinePolicy(
        user, alice.id, "mine", '{"i": 2}'
    )
    assert await identity.get_inline_policy(user, alice.id, "nope") is None
    assert [p.name for p in await identity.list_inline_policies(group, devs.id)] == ["team"]
    documents = await identity.policy_documents_for([(user, alice.id), (group, devs.id)])
    assert sorted(documents) == sorted(
        ['{"i": 2}', '{"p": 1}', '{"g": 1}', '{"p": 22}', '{"p": 1}']
    )
    assert await identity.policy_documents_for([]) == []
    with pytest.raises(DeleteConflict):
        await identity.delete_entity(ManagedPolicy, p1.id)
    assert await identity.detach_policy(user, alice.id, p1.id)
    assert not await identity.detach_policy(user, alice.id, p1.id)
    assert await identity.delete_inline_policy(user, alice.id, "mine")
    assert not await identity.delete_inline_policy(user, alice.id, "mine")


async def test_deleting_a_user_or_group_with_things_attached_conflicts(
    identity: IdentityStore,
) -> None:
    tenant, _ = await seeded(identity)
    alice = iam_user(tenant, "alice")
    devs = Group("AGPA1", tenant.id, "devs", "/", T0)
    role = Role("AROA1", tenant.id, "r", "/", T0, DOC)
    for entity in (alice, devs, role):
        await identity.create_entity(entity)
    policy = managed(tenant, "p")
    await identity.create_policy(policy, PolicyVersion(policy.id, "v1", DOC, T0, True))
    key = key_of(alice, 1)
    device = MfaDevice(f"arn:aws:iam::{tenant.id}:mfa/a", tenant.id, "a", "/", "v1:seed", T0)
    await identity.create_mfa_device(device)
    steps = [
        (identity.create_access_key(key, "v1:k", 2), identity.delete_access_key(key.access_key_id)),
        (
            identity.add_group_member(devs.id, alice.id),
            identity.remove_group_member(devs.id, alice.id),
        ),
        (
            identity.attach_policy(EntityType.USER, alice.id, policy.id, 10),
            identity.detach_policy(EntityType.USER, alice.id, policy.id),
        ),
        (
            identity.put_inline_policy(InlinePolicy(EntityType.USER, alice.id, "x", DOC)),
            identity.delete_inline_policy(EntityType.USER, alice.id, "x"),
        ),
        (
            identity.enable_mfa_device(device.serial, alice.id, T0, 1),
            identity.deactivate_mfa_device(device.serial),
        ),
        (
            identity.put_login_profile(LoginProfile(alice.id, "$argon2id$x", T0)),
            identity.delete_login_profile(alice.id),
        ),
    ]
    for attach, detach in steps:
        await attach
        with pytest.raises(DeleteConflict):
            await identity.delete_entity(User, alice.id)
        await detach
    await identity.add_group_member(devs.id, alice.id)
    with pytest.raises(DeleteConflict):
        await identity.delete_entity(Group, devs.id)
    await identity.remove_group_member(devs.id, alice.id)
    await identity.attach_policy(EntityType.ROLE, role.id, policy.id, 10)
    with pytest.raises(DeleteConflict):
        await identity.delete_entity(Role, role.id)
    await identity.detach_policy(EntityType.ROLE, role.id, policy.id)
    for kind, entity_id in ((User, alice.id), (Group, devs.id), (Role, role.id)):
        await identity.delete_entity(kind, entity_id)
        with pytest.raises(NoSuchEntity):
            await identity.delete_entity(kind, entity_id)
    assert await identity.get_entity_by_id(User, alice.id) is None


async def test_oidc_providers_are_kept_per_account_and_url(identity: IdentityStore) -> None:
    # Decision 0087: one provider per URL per account; ids, thumbprints and tags kept whole.
    tenant, _ = await seeded(identity, 1)
    other, _ = await seeded(identity, 2)
    provider = OidcProvider(
        tenant.id,
        "idp.example/realms/ops",
        ("sts.amazonaws.com", "cli"),
        ("9e99a48a9960b14926bb7f3b02e22da2b0ab7280",),
        T0,
        (("team", "blue"), ("Projet", "été")),
    )
    await identity.create_oidc_provider(provider)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_oidc_provider(replace(provider, client_ids=()))
    same_url_elsewhere = replace(provider, tenant_id=other.id, client_ids=("theirs",), tags=())
    await identity.create_oidc_provider(same_url_elsewhere)
    assert await identity.get_oidc_provider(tenant.id, provider.url) == provider
    assert await identity.get_oidc_provider(other.id, provider.url) == same_url_elsewhere
    assert await identity.get_oidc_provider(tenant.id, "idp.example") is None
    second = replace(provider, url="accounts.example", client_ids=(), thumbprints=(), tags=())
    await identity.create_oidc_provider(second)
    assert await identity.list_oidc_providers(tenant.id) == [second, provider]
    changed = replace(provider, client_ids=("cli",), thumbprints=(), tags=(("only", "this"),))
    later = replace(changed, created_at=T0 + timedelta(days=1))
    assert await identity.update_oidc_provider(later, provider)
    assert await identity.get_oidc_provider(tenant.id, provider.url) == changed
    # A write based on a read another write has changed since is refused, and changes nothing.
    assert not await identity.update_oidc_provider(replace(provider, client_ids=("x",)), provider)
    assert await identity.get_oidc_provider(tenant.id, provider.url) == changed
    untagged = replace(changed, tags=())
    assert await identity.update_oidc_provider(untagged, changed)
    assert await identity.update_oidc_provider(replace(untagged, client_ids=("y",)), untagged)
    assert not await identity.update_oidc_provider(changed, untagged)
    with pytest.raises(NoSuchEntity):
        await identity.update_oidc_provider(
            replace(provider, url="none.example"), replace(provider, url="none.example")
        )
    assert await identity.delete_oidc_provider(tenant.id, provider.url)
    assert not await identity.delete_oidc_provider(tenant.id, provider.url)
    assert await identity.list_oidc_providers(tenant.id) == [second]
    assert await identity.list_oidc_providers(other.id) == [same_url_elsewhere]


async def test_saml_providers_are_kept_per_account_and_name(identity: IdentityStore) -> None:
    # Decision 0095: one provider per name per account; metadata, certificates, dates and tags
    # kept whole; updates compare-and-set on what was read.
    tenant, _ = await seeded(identity, 1)
    other, _ = await seeded(identity, 2)
    provider = SamlProvider(
        tenant_id=tenant.id,
        name="adfs",
        uuid="a" * 26,
        metadata="<EntityDescriptor entityID='https://adfs.example/'/>",
        entity_id="https://adfs.example/",
        certificates=("MIIBcert1", "MIIBcert2"),
        created_at=T0,
        valid_until=T0 + timedelta(days=365),
        tags=(("team", "blue"), ("Projet", "été")),
    )
    await identity.create_saml_provider(provider)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_saml_provider(replace(provider, uuid="b" * 26))
    elsewhere = replace(provider, tenant_id=other.id, uuid="c" * 26, tags=(), valid_until=None)
    await identity.create_saml_provider(elsewhere)
    assert await identity.get_saml_provider(tenant.id, "adfs") == provider
    assert await identity.get_saml_provider(other.id, "adfs") == elsewhere
    assert await identity.get_saml_provider(tenant.id, "ADFS") is None
    second = replace(provider, name="Keycloak", uuid="d" * 26, tags=())
    await identity.create_saml_provider(second)
    assert await identity.list_saml_providers(tenant.id) == [second, provider]
    rotated = replace(provider, certificates=("MIIBcert2",), metadata="<new/>", tags=())
    assert await identity.update_saml_provider(rotated, provider)
    assert await identity.get_saml_provider(tenant.id, "adfs") == rotated
    # A write based on a read another write has changed since is refused, and changes nothing.
    assert not await identity.update_saml_provider(replace(provider, metadata="<x/>"), provider)
    assert await identity.get_saml_provider(tenant.id, "adfs") == rotated
    with pytest.raises(NoSuchEntity):
        gone = replace(provider, name="gone")
        await identity.update_saml_provider(gone, gone)
    assert await identity.delete_saml_provider(tenant.id, "adfs")
    assert not await identity.delete_saml_provider(tenant.id, "adfs")
    assert await identity.list_saml_providers(tenant.id) == [second]
    assert await identity.list_saml_providers(other.id) == [elsewhere]


async def test_a_saml_assertion_is_used_once_per_account_until_it_expires(
    identity: IdentityStore,
) -> None:
    # Decision 0095's replay guard: the first use wins, on every gateway sharing the store.
    tenant, _ = await seeded(identity, 1)
    other, _ = await seeded(identity, 2)
    until = T0 + timedelta(minutes=5)
    assert await identity.use_saml_assertion(tenant.id, "id-1", until, T0)
    assert not await identity.use_saml_assertion(tenant.id, "id-1", until, T0)
    assert await identity.use_saml_assertion(tenant.id, "id-2", until, T0)
    assert await identity.use_saml_assertion(other.id, "id-1", until, T0)
    # Remembered no longer than it could be accepted: past its expiry it is forgotten.
    later = until + timedelta(seconds=1)
    assert await identity.use_saml_assertion(tenant.id, "id-1", later + timedelta(minutes=5), later)
    assert not await identity.use_saml_assertion(tenant.id, "id-1", later, later)


async def test_policies_and_instance_profiles_keep_their_tags(identity: IdentityStore) -> None:
    # Decision 0074: set at creation, replaced by set_tags, nothing else of them touched.
    tenant, _ = await seeded(identity)
    team = (("team", "blue"), ("Projet", "été"))
    policy = replace(managed(tenant, "tagged"), tags=team)
    await identity.create_policy(policy, PolicyVersion(policy.id, "v1", DOC, T0, True))
    stored = await identity.get_entity(ManagedPolicy, tenant.id, "tagged")
    assert stored is not None and stored.tags == team
    await identity.set_tags(ManagedPolicy, policy.id, (("only", "this"),))
    stored = await identity.get_entity(ManagedPolicy, tenant.id, "tagged")
    assert stored == replace(policy, tags=(("only", "this"),), updated_at=stored.updated_at)
    profile = InstanceProfile("AIPA9", tenant.id, "web", "/", T0, tags=team)
    await identity.create_instance_profile(profile)
    assert await identity.get_instance_profile(tenant.id, "web") == profile
    await identity.set_tags(InstanceProfile, profile.id, ())
    assert await identity.get_instance_profile(tenant.id, "web") == replace(profile, tags=())
    device = MfaDevice("arn:aws:iam::1:mfa/t", tenant.id, "t", "/", "v1:s", T0, tags=team)
    await identity.create_mfa_device(device)
    assert await identity.get_mfa_device(device.serial) == device
    await identity.set_tags(MfaDevice, device.serial, (("site", "paris"),))
    stored_device = await identity.get_mfa_device(device.serial)
    assert stored_device == replace(device, tags=(("site", "paris"),))
    for kind in (ManagedPolicy, InstanceProfile, MfaDevice):
        with pytest.raises(NoSuchEntity):
            await identity.set_tags(kind, "none-such", team)


async def test_instance_profiles_hold_one_role_and_guard_deletes(identity: IdentityStore) -> None:
    a, _ = await seeded(identity, 1)
    b, _ = await seeded(identity, 2)
    web = InstanceProfile("AIPA1", a.id, "Web", "/apps/", T0)
    await identity.create_instance_profile(web)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_instance_profile(InstanceProfile("AIPA2", a.id, "WEB", "/", T0))
    await identity.create_instance_profile(InstanceProfile("AIPA3", b.id, "web", "/", T0))
    await identity.create_instance_profile(InstanceProfile("AIPA4", a.id, "batch", "/", T0))
    assert await identity.get_instance_profile(a.id, "wEb") == web
    assert await identity.get_instance_profile(a.id, "nobody") is None
    listed = await identity.list_instance_profiles(a.id, "/", None, 10)
    assert [p.id for p in listed] == ["AIPA4", "AIPA1"]
    assert [p.id for p in await identity.list_instance_profiles(a.id, "/apps/", None, 10)] == [
        "AIPA1"
    ]
    assert [p.id for p in await identity.list_instance_profiles(a.id, "/", "batch", 10)] == [
        "AIPA1"
    ]
    assert len(await identity.list_instance_profiles(a.id, "/", None, 1)) == 1

    # Whole, tags and boundary included: PassRole's aws:ResourceTag keys come from them.
    role = Role(
        "AROA1",
        a.id,
        "reader",
        "/",
        T0,
        DOC,
        7200,
        "d",
        permissions_boundary="arn:aws:iam::aws:policy/ReadOnlyAccess",
        tags=(("team", "blue"),),
    )
    other = Role("AROA2", a.id, "writer", "/", T0, DOC)
    for entity in (role, other):
        await identity.create_entity(entity)
    await identity.add_role_to_instance_profile(web.id, role.id)
    with pytest.raises(LimitExceeded):
        await identity.add_role_to_instance_profile(web.id, other.id)
    with pytest.raises(LimitExceeded):
        await identity.add_role_to_instance_profile(web.id, role.id)
    with pytest.raises(NoSuchEntity):
        await identity.add_role_to_instance_profile("AIPAnone", role.id)
    with pytest.raises(NoSuchEntity):
        await identity.add_role_to_instance_profile("AIPA4", "AROAnone")
    await identity.add_role_to_instance_profile("AIPA4", role.id)  # a role in two profiles
    assert await identity.get_instance_profile(a.id, "web") == replace(web, roles=(role,))
    for_role = await identity.list_instance_profiles_for_role(role.id)
    assert [(p.id, p.roles) for p in for_role] == [("AIPA4", (role,)), ("AIPA1", (role,))]
    assert await identity.list_instance_profiles_for_role(other.id) == []

    with pytest.raises(DeleteConflict):
        await identity.delete_entity(Role, role.id)
    with pytest.raises(DeleteConflict):
        await identity.delete_instance_profile(web.id)
    assert await identity.remove_role_from_instance_profile(web.id, other.id) is False
    assert await identity.remove_role_from_instance_profile(web.id, role.id) is True
    assert await identity.remove_role_from_instance_profile("AIPA4", role.id) is True
    await identity.delete_instance_profile(web.id)
    with pytest.raises(NoSuchEntity):
        await identity.delete_instance_profile(web.id)
    assert await identity.get_instance_profile(a.id, "web") is None
    await identity.delete_entity(Role, role.id)
    assert [p.id for p in await identity.list_instance_profiles(b.id, "/", None, 10)] == ["AIPA3"]


async def test_mfa_devices_enable_replay_and_delete(identity: IdentityStore) -> None:
    tenant, root = await seeded(identity)
    serial = f"arn:aws:iam::{tenant.id}:mfa/phone"
    device = MfaDevice(serial, tenant.id, "phone", "/", "v1:seed", T0)
    await identity.create_mfa_device(device)
    with pytest.raises(EntityAlreadyExists):
        await identity.create_mfa_device(device)
    assert await identity.get_mfa_device(serial) == device
    assert await identity.list_mfa_devices(tenant.id, root.id) == []
    await identity.enable_mfa_device(serial, root.id, T0 + S, 100)
    with pytest.raises(EntityAlreadyExists):
        await identity.enable_mfa_device(serial, root.id, T0, 100)
    with pytest.raises(NoSuchEntity):
        await identity.enable_mfa_device("arn:none", root.id, T0, 1)
    enabled = replace(device, user_id=root.id, enabled_at=T0 + S, last_step=100)
    assert await identity.list_mfa_devices(tenant.id, root.id) == [enabled]
    assert await identity.list_mfa_devices(tenant.id, None) == [enabled]
    assert not await identity.accept_mfa_step(serial, 100)  # replay
    assert not await identity.accept_mfa_step(serial, 99)
    assert await identity.accept_mfa_step(serial, 101)
    assert not await identity.accept_mfa_step(serial, 101)
    with pytest.raises(DeleteConflict):
        await identity.delete_mfa_device(serial)
    assert await identity.deactivate_mfa_device(serial)
    assert not await identity.deactivate_mfa_device(serial)
    await identity.delete_mfa_device(serial)
    with pytest.raises(NoSuchEntity):
        await identity.delete_mfa_device(serial)


async def test_session_credentials(identity: IdentityStore) -> None:
    tenant, root = await seeded(identity)
    role = Role("AROA1", tenant.id, "r", "/", T0, DOC)
    await identity.create_entity(role)
    mine = SessionCredentials(
        "ASIA1", tenant.id, "h1", SessionSource.GET_SESSION_TOKEN, True, T0, T0 + S, root.id
    )
    assumed = SessionCredentials(
        "ASIA2",
        tenant.id,
        "h2",
        SessionSource.ASSUME_ROLE,
        False,
        T0,
        T0 + 9 * S,
        None,
        role.id,
        "s",
        # Kept whole with the session (decisions 0071, 0072, 0089).
        SessionPolicy(DOC, ("arn:aws:iam::1:policy/p",)),
        SessionTags((("team", "blue"), ("Project", "été")), ("team",)),
        "alice@example.com",
    )
    await identity.create_session(mine, "v1:1")
    await identity.create_session(assumed, "v1:2")
    assert await identity.get_session("ASIA1") == (mine, "v1:1")
    assert await identity.get_session("ASIA2") == (assumed, "v1:2")
    assert await identity.delete_expired_sessions(T0 + 2 * S) == 1
    assert await identity.get_session("ASIA1") is None
    assert await identity.get_session("ASIA2") is not None


async def test_operators(identity: IdentityStore) -> None:
    operator = Operator("OP1", "ops", T0)
    key = AccessKey("AKIAOPERATOR00000001", "OP1", AccessKeyStatus.ACTIVE, T0)
    await identity.create_operator(operator, key, "v1:op")
    with pytest.raises(EntityAlreadyExists):
        await identity.create_operator(
            Operator("OP2", "ops", T0), replace(key, access_key_id="AKIAOTHER"), "v1:x"
        )
    assert await identity.get_operator("OP1") == operator
    assert await identity.get_operator("OP2") is None
    assert await identity.list_operators() == [operator]
    assert await identity.get_operator_key(key.access_key_id) == (key, "v1:op")
    assert await identity.get_access_key(key.access_key_id) is None  # not a tenant key


async def test_login_profiles_and_console_sessions(identity: IdentityStore) -> None:
    tenant, root = await seeded(identity)
    profile = LoginProfile(root.id, "$argon2id$hash", T0)
    await identity.put_login_profile(profile)
    assert await identity.get_login_profile(root.id) == profile
    await identity.record_login_attempt(root.id, 3, T0 + S)
    assert await identity.get_login_profile(root.id) == replace(
        profile, failed_attempts=3, locked_until=T0 + S
    )
    with pytest.raises(NoSuchEntity):
        await identity.put_login_profile(LoginProfile("AIDAnone", "h", T0))
    one = ConsoleSession("hash1", root.id, tenant.id, T0, T0, T0 + 9 * S, True)
    two = ConsoleSession("hash2", root.id, tenant.id, T0, T0, T0 + 9 * S, False)
    await identity.create_console_session(one)
    await identity.create_console_session(two)
    assert await identity.get_console_session("hash1") == one
    await identity.touch_console_session("hash1", T0 + S)
    assert await identity.get_console_session("hash1") == replace(one, last_seen_at=T0 + S)
    assert await identity.delete_console_session("hash1")
    assert not await identity.delete_console_session("hash1")
    assert await identity.delete_console_sessions_of_user(root.id) == 1
    await identity.create_console_session(one)
    assert await identity.delete_login_profile(root.id)  # ends the sessions too
    assert await identity.get_console_session("hash1") is None
    assert not await identity.delete_login_profile(root.id)


async def test_account_counts(identity: IdentityStore) -> None:
    tenant, root = await seeded(identity)
    other, _ = await seeded(identity, 2)
    alice = iam_user(tenant, "alice")
    await identity.create_entity(alice)
    await identity.create_entity(iam_user(other, "bob"))
    await identity.create_entity(Group("AGPA1", tenant.id, "g", "/", T0))
    await identity.create_entity(Role("AROA1", tenant.id, "r", "/", T0, DOC))
    await identity.create_instance_profile(InstanceProfile("AIPA1", tenant.id, "ip", "/", T0))
    await identity.create_instance_profile(InstanceProfile("AIPA2", other.id, "ip", "/", T0))
    policy = managed(tenant, "p")
    await identity.create_policy(policy, PolicyVersion(policy.id, "v1", DOC, T0, True))
    await identity.create_access_key(key_of(alice, 1), "v1:k", 2)
    for name, user in (("a", root.id), ("b", None)):
        serial = f"arn:aws:iam::{tenant.id}:mfa/{name}"
        await identity.create_mfa_device(MfaDevice(serial, tenant.id, name, "/", "v1:s", T0))
        if user:
            await identity.enable_mfa_device(serial, user, T0, 1)
    assert await identity.count_entities(tenant.id) == {
        "Users": 1,
        "Groups": 1,
        "Roles": 1,
        "InstanceProfiles": 1,
        "Policies": 1,
        "MFADevices": 2,
        "MFADevicesInUse": 1,
        "AccessKeys": 1,
        "RootAccessKeys": 1,
        "RootMFADevices": 1,
    }


async def test_credential_reports_are_kept_one_per_account(identity: IdentityStore) -> None:
    tenant, root, key = tenant_with_root(1)
    await identity.create_tenant_with_root(tenant, root, key, "v1:a")
    assert await identity.get_credential_report(tenant.id) is None
    await identity.put_credential_report(tenant.id, T0, "user,arn\n<root_account>,x")
    assert await identity.get_credential_report(tenant.id) == (T0, "user,arn\n<root_account>,x")
    later = T0 + timedelta(hours=5)
    await identity.put_credential_report(tenant.id, later, "user,arn")  # replaces the last one
    assert await identity.get_credential_report(tenant.id) == (later, "user,arn")
    assert await identity.get_credential_report("999999999999") is None


async def test_access_jobs_are_kept_one_per_entity(identity: IdentityStore) -> None:
    tenant, root, key = tenant_with_root(1)
    await identity.create_tenant_with_root(tenant, root, key, "v1:a")
    arn = f"arn:aws:iam::{tenant.id}:user/alice"
    first = AccessJob("11111111-1111-1111-1111-111111111111", tenant.id, arn, "SERVICE_LEVEL", T0)
    await identity.put_access_job(first)
    assert await identity.get_access_job(tenant.id, first.job_id) == first
    assert await identity.get_access_job("999999999999", first.job_id) is None  # another account
    second = AccessJob("22222222-2222-2222-2222-222222222222", tenant.id, arn, "ACTION_LEVEL", T0)
    await identity.put_access_job(second)  # replaces the entity's last job
    assert await identity.get_access_job(tenant.id, first.job_id) is None
    assert await identity.get_access_job(tenant.id, second.job_id) == second
