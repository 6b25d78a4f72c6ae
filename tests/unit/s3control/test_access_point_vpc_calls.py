"""CreateAccessPoint with a ``VpcConfiguration`` (decision 0157's addendum), on the memory
twins: the VPC must be the caller's (another account's, an unknown or a malformed one, or no
compute service at all: refused), the access point's network origin is then ``VPC`` and Get
and ListAccessPoints show its VPC; the document's shape is checked."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from andromede.app import storage_limits
from andromede.s3control.access_points import AccessPointCalls, parse_create
from andromede.s3control.errors import S3ControlError
from andromede.settings import Settings
from andromede.storage.access_points import MemoryAccessPointStore
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.keys import cipher_in

NS = "{http://awss3control.amazonaws.com/doc/2018-08-20/}"
ACCOUNT = "111111111111"
REGION = "eu-fr-1"
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
MINE = "vpc-0aaaaaaaaaaaaaaaa"
THEIRS = "vpc-0bbbbbbbbbbbbbbbb"


def _create(vpc: str | None, bucket: str = "bk1") -> bytes:
    config = f"<VpcConfiguration><VpcId>{vpc}</VpcId></VpcConfiguration>" if vpc else ""
    return (
        f"<CreateAccessPointRequest><Bucket>{bucket}</Bucket>{config}</CreateAccessPointRequest>"
    ).encode()


async def _owned(account: str, vpc_id: str) -> bool:
    return (account, vpc_id) == (ACCOUNT, MINE)


async def _calls(tmp_path: Path, *, with_compute: bool) -> AccessPointCalls:
    settings = Settings(data_dir=tmp_path, region=REGION)
    objects = ObjectService(
        MemoryMetadataStore(),
        MemoryBlobStore(),
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        cipher_in(tmp_path / "keys"),
    )
    await objects.create_bucket("bk1", tenant_id=ACCOUNT, owner_id=ACCOUNT, region=REGION)
    return AccessPointCalls(
        MemoryAccessPointStore(),
        objects,
        region=REGION,
        endpoint="s3.example",
        quota=5,
        page_max=5,
        vpc_owned=_owned if with_compute else None,
    )


@pytest.fixture
async def calls(tmp_path: Path) -> AsyncIterator[AccessPointCalls]:
    yield await _calls(tmp_path, with_compute=True)


async def _code(call: object) -> tuple[str, str]:
    with pytest.raises(S3ControlError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code, str(caught.value.message)


def test_the_vpc_configuration_document() -> None:
    assert parse_create(_create(MINE)).vpc_id == MINE
    assert parse_create(_create(None)).vpc_id is None
    for body, code in [
        (_create("vpc-1"), "InvalidRequest"),
        (_create("subnet-0aaaaaaaaaaaaaaaa"), "InvalidRequest"),
        (
            b"<CreateAccessPointRequest><Bucket>b</Bucket><VpcConfiguration/>"
            b"</CreateAccessPointRequest>",
            "MalformedXML",
        ),
        (
            b"<CreateAccessPointRequest><Bucket>b</Bucket><VpcConfiguration><VpcId>"
            + MINE.encode()
            + b"</VpcId><X/></VpcConfiguration></CreateAccessPointRequest>",
            "MalformedXML",
        ),
    ]:
        with pytest.raises(S3ControlError) as caught:
            parse_create(body)
        assert caught.value.code == code, body


async def test_a_vpc_access_point_shows_its_vpc(calls: AccessPointCalls) -> None:
    await calls.create(ACCOUNT, "inside", _create(MINE), NOW)
    await calls.create(ACCOUNT, "outside", _create(None), NOW)
    got = ElementTree.fromstring((await calls.get(ACCOUNT, "inside")).body)
    assert got.findtext(f"{NS}NetworkOrigin") == "VPC"
    assert got.findtext(f"{NS}VpcConfiguration/{NS}VpcId") == MINE
    got = ElementTree.fromstring((await calls.get(ACCOUNT, "outside")).body)
    assert got.findtext(f"{NS}NetworkOrigin") == "Internet"
    assert got.find(f"{NS}VpcConfiguration") is None
    listed = ElementTree.fromstring((await calls.list(ACCOUNT, "")).body)
    points = {
        p.findtext(f"{NS}Name"): (
            p.findtext(f"{NS}NetworkOrigin"),
            p.findtext(f"{NS}VpcConfiguration/{NS}VpcId"),
        )
        for p in listed.iter(f"{NS}AccessPoint")
    }
    assert points == {"inside": ("VPC", MINE), "outside": ("Internet", None)}


async def test_the_vpc_must_be_the_callers(calls: AccessPointCalls) -> None:
    code, message = await _code(calls.create(ACCOUNT, "app", _create(THEIRS), NOW))
    assert code == "InvalidRequest" and THEIRS in message
    # Another account's own VPC is not the caller's either.
    assert (await _code(calls.create("222222222222", "app", _create(MINE), NOW)))[0] == (
        "InvalidRequest"
    )
    # Nothing was made.
    assert (await _code(calls.get(ACCOUNT, "app")))[0] == "NoSuchAccessPoint"


async def test_without_compute_no_vpc_is_anyones(tmp_path: Path) -> None:
    calls = await _calls(tmp_path, with_compute=False)
    assert (await _code(calls.create(ACCOUNT, "app", _create(MINE), NOW)))[0] == "InvalidRequest"
    await calls.create(ACCOUNT, "app", _create(None), NOW)
