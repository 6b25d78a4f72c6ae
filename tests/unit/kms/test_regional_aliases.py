"""KMS aliases per region (decision 0138, "Aliases per region") on CustomerKeyService over the
in-memory store, a real key-file provider and a manual clock, for a deployment of two declared
regions: one alias name is an alias in each region, points at a key of its own region only,
resolves, lists, moves and goes in its region only, and the condition keys see that region's
aliases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_errors import AliasAlreadyExists, CmkAccessDenied, CmkNotFound
from support.kmskit import (
    ACCOUNT_A,
    REGION,
    Kit,
    kit_over,
    root,
    user,
)

A = root(ACCOUNT_A)
OTHER = "eu-fr-2"


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_over(tmp_path, regions=(REGION, OTHER))


def there(kit: Kit) -> CustomerKeyService:
    return kit.service.in_region(OTHER)


def _alias_arn(region: str, name: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_A}:{name}"


def _allow(actions: list[str], **condition: object) -> str:
    statement: dict[str, object] = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def test_one_alias_name_in_each_region_names_that_regions_key(kit: Kit) -> None:
    """The Terraform pattern: alias/app made in each region, at the related keys of one
    multi-Region key; a ciphertext made through it in one region opens through it in the
    other."""
    primary = await kit.service.create_key(A, multi_region=True)
    replica, _ = await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    made_here = await kit.service.create_alias(A, "alias/app", primary.key_id)
    made_there = await there(kit).create_alias(A, "alias/app", primary.key_id)
    assert made_here.key_id == primary.record_id
    assert made_there.key_id == replica.record_id
    assert (made_here.arn, made_there.arn) == (
        _alias_arn(REGION, "alias/app"),
        _alias_arn(OTHER, "alias/app"),
    )
    with pytest.raises(AliasAlreadyExists):  # still one per region
        await there(kit).create_alias(A, "alias/app", replica.arn)
    assert (await kit.service.describe_key(A, "alias/app")).arn == primary.arn
    assert (await there(kit).describe_key(A, "alias/app")).arn == replica.arn
    blob, used = await kit.service.encrypt(A, "alias/app", b"made here", {"k": "v"})
    assert used.arn == primary.arn
    plain, opened = await there(kit).decrypt(A, blob, {"k": "v"}, key_ref="alias/app")
    assert (plain, opened.arn) == (b"made here", replica.arn)
    for service, key in ((kit.service, primary), (there(kit), replica)):
        listed, marker = await service.list_aliases(A, key_ref=None, limit=10, marker=None)
        assert marker is None
        assert [(a.name, service.alias_arn(a), a.key_id) for a in listed] == [
            ("alias/app", _alias_arn(service.region, "alias/app"), key.record_id)
        ]
        assert (await service.describe_key(A, listed[0].arn)).arn == key.arn


async def test_an_alias_points_at_a_key_of_its_own_region_only(kit: Kit) -> None:
    """As on AWS, CreateAlias and UpdateAlias find the target key in the request's region:
    a key of another region is NotFound; an alias or its ARN resolves in its region only."""
    here = await kit.service.create_key(A)
    far = await there(kit).create_key(A)
    with pytest.raises(CmkNotFound):
        await there(kit).create_alias(A, "alias/app", here.arn)
    with pytest.raises(CmkNotFound):
        await there(kit).create_alias(A, "alias/app", here.key_id)
    await there(kit).create_alias(A, "alias/app", far.arn)
    with pytest.raises(CmkNotFound):
        await there(kit).update_alias(A, "alias/app", here.arn)
    assert (await there(kit).describe_key(A, "alias/app")).arn == far.arn
    with pytest.raises(CmkNotFound):  # no alias/app in this region
        await kit.service.describe_key(A, "alias/app")
    with pytest.raises(CmkNotFound):
        await kit.service.update_alias(A, "alias/app", here.arn)
    with pytest.raises(CmkNotFound):
        await kit.service.delete_alias(A, "alias/app")
    for reference in (_alias_arn(OTHER, "alias/app"), _alias_arn(REGION, "alias/app")):
        with pytest.raises(CmkNotFound):  # an alias ARN of the other region, or none here
            await kit.service.encrypt(A, reference, b"x", {})
    await there(kit).encrypt(A, _alias_arn(OTHER, "alias/app"), b"x", {})
    with pytest.raises(CmkNotFound):
        await there(kit).encrypt(A, _alias_arn(REGION, "alias/app"), b"x", {})
    # The platform's resolution of an alias ARN (S3 replication's ReplicaKmsKeyID) reads
    # the ARN's region, from the default region's service.
    found = await kit.service.key_for_service_use(_alias_arn(OTHER, "alias/app"), alias_arn=True)
    assert found.arn == far.arn
    with pytest.raises(CmkNotFound):
        await kit.service.key_for_service_use(_alias_arn(REGION, "alias/app"), alias_arn=True)


async def test_update_list_and_delete_act_in_their_region_only(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    replica, _ = await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    other_here = await kit.service.create_key(A)
    for name in ("alias/app", "alias/b"):
        await kit.service.create_alias(A, name, primary.key_id)
        await there(kit).create_alias(A, name, replica.arn)
    await kit.service.update_alias(A, "alias/app", other_here.key_id)
    assert (await kit.service.describe_key(A, "alias/app")).arn == other_here.arn
    assert (await there(kit).describe_key(A, "alias/app")).arn == replica.arn
    await kit.service.delete_alias(A, "alias/b")
    assert (await there(kit).describe_key(A, "alias/b")).arn == replica.arn
    here, _ = await kit.service.list_aliases(A, key_ref=None, limit=10, marker=None)
    far, _ = await there(kit).list_aliases(A, key_ref=None, limit=10, marker=None)
    assert [(a.name, a.region) for a in here] == [("alias/app", REGION)]
    assert [(a.name, a.region) for a in far] == [("alias/app", OTHER), ("alias/b", OTHER)]
    first, marker = await there(kit).list_aliases(A, key_ref=None, limit=1, marker=None)
    rest, end = await there(kit).list_aliases(A, key_ref=None, limit=1, marker=marker)
    assert ([a.name for a in first], [a.name for a in rest], end) == (
        ["alias/app"],
        ["alias/b"],
        None,
    )
    of_key, _ = await there(kit).list_aliases(A, key_ref=primary.key_id, limit=10, marker=None)
    assert [a.name for a in of_key] == ["alias/app", "alias/b"]  # the replica's, there
    of_key, _ = await kit.service.list_aliases(A, key_ref=primary.key_id, limit=10, marker=None)
    assert of_key == []  # alias/app moved away from the primary here


async def test_deleting_a_key_deletes_its_aliases_in_its_region_only(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await kit.service.create_alias(A, "alias/app", primary.key_id)
    await there(kit).create_alias(A, "alias/app", primary.key_id)
    await there(kit).schedule_key_deletion(A, primary.key_id, 7)
    kit.clock.advance(days=8)
    assert (await kit.service.upkeep()).destroyed == (primary.key_id,)
    with pytest.raises(CmkNotFound):
        await there(kit).describe_key(A, "alias/app")
    assert await there(kit).list_aliases(A, key_ref=None, limit=10, marker=None) == ([], None)
    assert (await kit.service.describe_key(A, "alias/app")).arn == primary.arn
    # The name is free again there, for a key of that region.
    made = await there(kit).create_key(A)
    await there(kit).create_alias(A, "alias/app", made.key_id)


async def test_the_condition_keys_answer_the_regions_aliases(kit: Kit) -> None:
    """kms:ResourceAliases is the aliases of the key's own record, in its region, and
    kms:RequestAlias the name the request used, resolved in the request's region."""
    alice = user(ACCOUNT_A, "alice")
    kit.policies.by_user["AIDAALICE"] = [
        _allow(
            ["kms:Encrypt"],
            **{"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/eu-only"}},
        ),
        _allow(["kms:DescribeKey"], StringEquals={"kms:RequestAlias": "alias/app"}),
    ]
    primary = await kit.service.create_key(A, multi_region=True)
    replica, _ = await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await there(kit).create_alias(A, "alias/eu-only", replica.arn)
    await there(kit).encrypt(alice, primary.key_id, b"x", {})
    with pytest.raises(CmkAccessDenied):  # the primary has no alias/eu-only in its region
        await kit.service.encrypt(alice, primary.key_id, b"x", {})
    await kit.service.create_alias(A, "alias/eu-only-here", primary.key_id)
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, primary.key_id, b"x", {})
    await kit.service.create_alias(A, "alias/app", primary.key_id)
    assert (await kit.service.describe_key(alice, "alias/app")).arn == primary.arn
    with pytest.raises(CmkNotFound):  # no alias/app there yet
        await there(kit).describe_key(alice, "alias/app")
    await there(kit).create_alias(A, "alias/app", replica.arn)
    assert (await there(kit).describe_key(alice, "alias/app")).arn == replica.arn
    with pytest.raises(CmkAccessDenied):  # named by its ARN: no kms:RequestAlias
        await there(kit).describe_key(alice, replica.arn)


async def test_the_aws_managed_keys_alias_stays_in_the_default_region(kit: Kit) -> None:
    """alias/aws/s3 is made with its key by the default region's service (the SSE-KMS path),
    is that region's alias, and is found again rather than made twice."""
    key, made = await kit.service.aws_managed_key(ACCOUNT_A, "s3")
    assert made
    assert await kit.service.aws_managed_key(ACCOUNT_A, "s3") == (key, False)
    here, _ = await kit.service.list_aliases(A, key_ref=None, limit=10, marker=None)
    assert [(a.name, a.arn, a.key_id) for a in here] == [
        ("alias/aws/s3", _alias_arn(REGION, "alias/aws/s3"), key.key_id)
    ]
    assert await there(kit).list_aliases(A, key_ref=None, limit=10, marker=None) == ([], None)
    assert (await kit.service.describe_key(A, "alias/aws/s3")).arn == key.arn
