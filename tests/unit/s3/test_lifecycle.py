"""Lifecycle in process (decision 0082): Get/Put/DeleteBucketLifecycleConfiguration and their
checks, and the pass that applies the rules — expiries by days and by date, filters by prefix,
tags and size, aborts of old multipart uploads — on a clock the test moves."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.storage.errors import ObjectChanged
from andromede.storage.lifecycle import LifecycleConfiguration, LifecycleRule, due_at
from andromede.storage.lifecycle_runner import LifecycleAction, LifecycleRunner
from support.s3app import Client, Reply, in_process_client

B = "/logs"


def md5_header(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


async def put_lifecycle(
    client: Client, *rules: str, md5: bool = True, headers: dict[str, str] | None = None
) -> Reply:
    body = f"<LifecycleConfiguration>{''.join(rules)}</LifecycleConfiguration>".encode()
    sent = {**(md5_header(body) if md5 else {}), **(headers or {})}
    return await client.request("PUT", f"{B}?lifecycle", body, sent)


def rule(body: str, *, rule_id: str | None = "r", status: str = "Enabled") -> str:
    named = f"<ID>{rule_id}</ID>" if rule_id is not None else ""
    return f"<Rule>{named}{body}<Status>{status}</Status></Rule>"


EXPIRE_1 = "<Expiration><Days>1</Days></Expiration>"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


# -- the configuration ------------------------------------------------------------------------


async def test_a_configuration_is_put_read_back_and_deleted(client: Client) -> None:
    missing = await client.request("GET", f"{B}?lifecycle")
    assert (missing.status, missing.error_code()) == (404, "NoSuchLifecycleConfiguration")
    rules = [
        rule("<Filter><Prefix>tmp/</Prefix></Filter>" + EXPIRE_1, rule_id="tmp"),
        rule(
            "<Filter><And><Prefix>logs/</Prefix><Tag><Key>keep</Key><Value>no</Value></Tag>"
            "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter>"
            "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>",
            rule_id="old-logs",
        ),
        rule(
            "<Filter></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>7"
            "</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
            "<NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays>"
            "</NoncurrentVersionExpiration>",
            rule_id="uploads",
            status="Disabled",
        ),
        rule("<Prefix>legacy/</Prefix>" + EXPIRE_1, rule_id="legacy"),
    ]
    put = await put_lifecycle(client, *rules)
    assert put.status == 200
    assert put.headers["x-amz-transition-default-minimum-object-size"] == (
        "all_storage_classes_128K"
    )
    got = await client.request("GET", f"{B}?lifecycle")
    assert got.status == 200
    body = got.body.decode()
    for part in (
        "<Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status>"
        "<Expiration><Days>1</Days></Expiration></Rule>",
        "<Filter><And><Prefix>logs/</Prefix><Tag><Key>keep</Key><Value>no</Value></Tag>"
        "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter>",
        "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>",
        "<Status>Disabled</Status><NoncurrentVersionExpiration><NoncurrentDays>30"
        "</NoncurrentDays></NoncurrentVersionExpiration><AbortIncompleteMultipartUpload>"
        "<DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
        "<Rule><ID>legacy</ID><Prefix>legacy/</Prefix><Status>Enabled</Status>",
    ):
        assert part in body, body
    assert (await client.request("DELETE", f"{B}?lifecycle")).status == 204
    assert (await client.request("GET", f"{B}?lifecycle")).status == 404


async def test_the_transition_minimum_size_is_kept_as_put(client: Client) -> None:
    header = {"x-amz-transition-default-minimum-object-size": "varies_by_storage_class"}
    assert (await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1), headers=header)).status == 200
    got = await client.request("GET", f"{B}?lifecycle")
    assert got.headers["x-amz-transition-default-minimum-object-size"] == "varies_by_storage_class"
    bad = {"x-amz-transition-default-minimum-object-size": "tiny"}
    reply = await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1), headers=bad)
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


@pytest.mark.parametrize(
    ("rules", "status", "code", "words"),
    [
        ([], 400, "MalformedXML", ""),
        ([rule(EXPIRE_1)], 400, "MalformedXML", ""),  # neither Filter nor Prefix
        ([rule("<Prefix>a</Prefix><Filter/>" + EXPIRE_1)], 400, "MalformedXML", ""),
        ([rule("<Filter/>" + EXPIRE_1, status="On")], 400, "MalformedXML", ""),
        ([rule("<Filter/>")], 400, "InvalidRequest", "At least one action"),
        (
            [rule("<Filter/><Expiration><Days>0</Days></Expiration>")],
            400,
            "InvalidArgument",
            "must be a positive integer",
        ),
        (
            [rule("<Filter/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date>"
                  "</Expiration>")],
            400,
            "MalformedXML",
            "",
        ),
        (
            [rule("<Filter/><Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>")],
            400,
            "InvalidArgument",
            "midnight GMT",
        ),
        (
            [rule("<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan>"
                  "</Filter>" + EXPIRE_1)],
            400,
            "MalformedXML",
            "",
        ),
        (
            [rule("<Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan>"
                  "<ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter>" + EXPIRE_1)],
            400,
            "InvalidRequest",
            "less than",
        ),
        (
            [rule("<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key>"
                  "<Value>2</Value></Tag></And></Filter>" + EXPIRE_1)],
            400,
            "InvalidRequest",
            "Duplicate Tag Keys",
        ),
        (
            [rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
                  "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                  "</AbortIncompleteMultipartUpload>")],
            400,
            "InvalidRequest",
            "cannot be specified with Tags",
        ),
        (
            [rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration>"
                  "<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>")],
            400,
            "InvalidRequest",
            "Tag filter",
        ),
        ([rule("<Filter/>" + EXPIRE_1), rule("<Filter/>" + EXPIRE_1)], 400, "InvalidArgument",
         "must be unique"),
        ([rule("<Filter/>" + EXPIRE_1, rule_id="x" * 256)], 400, "InvalidArgument", "255"),
        (
            [rule("<Filter/><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass>"
                  "</Transition>")],
            501,
            "NotImplemented",
            "one storage class",
        ),
    ],
)  # fmt: skip
async def test_bad_configurations_are_refused_and_change_nothing(
    client: Client, rules: list[str], status: int, code: str, words: str
) -> None:
    assert (await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1, rule_id="kept"))).status == 200
    reply = await put_lifecycle(client, *rules)
    assert (reply.status, reply.error_code()) == (status, code)
    assert words.encode() in reply.body
    assert b"<ID>kept</ID>" in (await client.request("GET", f"{B}?lifecycle")).body


async def test_the_number_of_rules_is_a_setting(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_lifecycle_rules=2) as small:
        assert (await small.request("PUT", B)).status == 200
        one = "<Filter/>" + EXPIRE_1
        assert (
            await put_lifecycle(small, rule(one, rule_id="a"), rule(one, rule_id="b"))
        ).status == 200
        three = await put_lifecycle(
            small, rule(one, rule_id="a"), rule(one, rule_id="b"), rule(one, rule_id="c")
        )
        assert (three.status, three.error_code()) == (400, "InvalidRequest")


async def test_a_configuration_needs_its_integrity_header(client: Client) -> None:
    reply = await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1), md5=False)
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


def test_due_times_round_up_to_the_next_midnight_utc() -> None:
    # S3's example: an object created 2014-01-15 10:30 UTC, expiring after 3 days, is due
    # 2014-01-19 00:00 UTC.
    created = datetime(2014, 1, 15, 10, 30, tzinfo=UTC)
    assert due_at(created, 3) == datetime(2014, 1, 19, tzinfo=UTC)
    assert due_at(datetime(2014, 1, 15, tzinfo=UTC), 1) == datetime(2014, 1, 16, tzinfo=UTC)


def test_the_stored_form_reads_back_as_it_was_put() -> None:
    config = LifecycleConfiguration(
        (
            LifecycleRule("a", True, "p/", (("k", "v"),), 1, 99, False, True, 3),
            LifecycleRule(
                None,
                False,
                legacy_prefix=True,
                expiration_date=datetime(2030, 1, 1, tzinfo=UTC),
                abort_after_days=2,
                noncurrent_days=5,
                newer_noncurrent_versions=1,
            ),
            LifecycleRule("m", True, expired_object_delete_marker=True),
        ),
        "varies_by_storage_class",
    )
    assert LifecycleConfiguration.from_text(config.to_text()) == config


# -- the pass -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def runner(
    client: Client,
    clock: Clock,
    actions: list[LifecycleAction],
    regions: set[str] | None = None,
) -> LifecycleRunner:
    """A pass over the in-process app's own object service and store."""
    assert client.objects is not None and client.store is not None
    return LifecycleRunner(
        client.objects,
        client.store,
        interval=3600,
        regions=regions,
        on_action=actions.append,
        clock=clock,
    )


async def keys(client: Client) -> list[str]:
    listing = (await client.request("GET", f"{B}?list-type=2")).body.decode()
    return [part.split("</Key>")[0] for part in listing.split("<Key>")[1:]]


async def test_objects_expire_by_age_prefix_size_and_tags(client: Client) -> None:
    for key, body, tags in (
        ("tmp/a", b"x" * 10, None),
        ("tmp/big", b"x" * 1000, None),
        ("tmp/kept", b"x" * 10, "keep=yes"),
        ("tmp/tagged", b"x" * 10, "keep=no"),
        ("home/a", b"x" * 10, None),
    ):
        headers = {"x-amz-tagging": tags} if tags else {}
        assert (await client.request("PUT", f"{B}/{key}", body, headers)).status == 200
    await put_lifecycle(
        client,
        rule(
            "<Filter><And><Prefix>tmp/</Prefix><ObjectSizeLessThan>100</ObjectSizeLessThan>"
            "</And></Filter><Expiration><Days>2</Days></Expiration>",
            rule_id="small-tmp",
        ),
        rule(
            "<Filter><Tag><Key>keep</Key><Value>yes</Value></Tag></Filter>" + EXPIRE_1,
            rule_id="off",
            status="Disabled",
        ),
    )
    clock = Clock()
    actions: list[LifecycleAction] = []
    run = runner(client, clock, actions)
    assert (await run.run_once()).expired == 0  # not due yet
    clock.now += timedelta(days=3)
    report = await run.run_once()
    assert report.expired == 3
    assert await keys(client) == ["home/a", "tmp/big"]
    assert sorted((a.key, a.rule_id, a.tenant_id) for a in actions) == [
        (f"tmp/{name}", "small-tmp", client.tenant_id) for name in ("a", "kept", "tagged")
    ]
    # A tag filter selects by all its tags: only the tagged object that matches goes.
    await put_lifecycle(
        client,
        rule("<Filter><Tag><Key>keep</Key><Value>no</Value></Tag></Filter>" + EXPIRE_1),
    )
    for key, tags in (("t/yes", "keep=yes"), ("t/no", "keep=no"), ("t/none", "")):
        headers = {"x-amz-tagging": tags} if tags else {}
        assert (await client.request("PUT", f"{B}/{key}", b"x", headers)).status == 200
    clock.now += timedelta(days=2)
    assert (await run.run_once()).expired == 1
    assert "t/no" not in await keys(client) and "t/yes" in await keys(client)


async def test_a_date_expires_everything_it_selects_from_that_day_on(client: Client) -> None:
    for key in ("old/1", "old/2", "new/1"):
        assert (await client.request("PUT", f"{B}/{key}", b"x")).status == 200
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00.000Z")
    await put_lifecycle(
        client,
        rule(f"<Prefix>old/</Prefix><Expiration><Date>{tomorrow}</Date></Expiration>"),
    )
    clock = Clock()
    run = runner(client, clock, [])
    assert (await run.run_once()).expired == 0
    clock.now += timedelta(days=1, hours=1)
    assert (await run.run_once()).expired == 2
    assert await keys(client) == ["new/1"]


async def test_an_object_written_again_is_not_expired_for_its_predecessor(
    client: Client,
) -> None:
    assert (await client.request("PUT", f"{B}/tmp/a", b"first")).status == 200
    await put_lifecycle(client, rule("<Filter><Prefix>tmp/</Prefix></Filter>" + EXPIRE_1))
    clock = Clock()
    clock.now += timedelta(days=2)
    run = runner(client, clock, [])
    objects = client.objects
    assert objects is not None
    listing = await objects.list_objects("logs", prefix="tmp/")
    stale = listing.objects[0]
    # Written again (the same bytes: the same ETag) after the listing the pass works from.
    assert (await client.request("PUT", f"{B}/tmp/a", b"first")).status == 200
    with pytest.raises(ObjectChanged):
        await objects.delete_object(
            "logs", "tmp/a", if_etag=stale.etag, if_last_modified=stale.last_modified
        )
    assert await keys(client) == ["tmp/a"]
    assert (await run.run_once()).expired == 1  # a pass of its own lists it afresh


async def test_old_multipart_uploads_are_aborted(client: Client) -> None:
    created = await client.request("POST", f"{B}/big/file?uploads")
    upload_id = created.body.decode().split("<UploadId>")[1].split("</UploadId>")[0]
    other = await client.request("POST", f"{B}/elsewhere/file?uploads")
    assert other.status == 200
    await put_lifecycle(
        client,
        rule(
            "<Filter><Prefix>big/</Prefix></Filter><AbortIncompleteMultipartUpload>"
            "<DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            rule_id="uploads",
        ),
    )
    clock = Clock()
    actions: list[LifecycleAction] = []
    run = runner(client, clock, actions)
    assert (await run.run_once()).aborted == 0
    clock.now += timedelta(days=3)
    assert (await run.run_once()).aborted == 1
    assert [(a.key, a.upload_id) for a in actions] == [("big/file", upload_id)]
    uploads = (await client.request("GET", f"{B}?uploads")).body.decode()
    assert "big/file" not in uploads and "elsewhere/file" in uploads


async def test_a_new_upload_is_told_when_a_rule_will_abort_it(client: Client) -> None:
    plain = await client.request("POST", f"{B}/big/file?uploads")
    assert "x-amz-abort-date" not in plain.headers
    abort = (
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>{days}</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload>"
    )
    await put_lifecycle(
        client,
        rule("<Filter><Prefix>big/</Prefix></Filter>" + abort.format(days=7), rule_id="week"),
        rule("<Filter/>" + abort.format(days=2), rule_id="two-days"),
        rule("<Filter/>" + abort.format(days=1), rule_id="off", status="Disabled"),
    )
    before = datetime.now(UTC)
    created = await client.request("POST", f"{B}/big/file?uploads")
    after = datetime.now(UTC)
    # The earliest of the enabled rules that select the key.
    assert created.headers["x-amz-abort-rule-id"] == "two-days"
    due = datetime.strptime(created.headers["x-amz-abort-date"], "%a, %d %b %Y %H:%M:%S GMT")
    assert due.replace(tzinfo=UTC) in {due_at(before, 2), due_at(after, 2)}


async def test_a_pass_skips_buckets_of_regions_it_does_not_serve(client: Client) -> None:
    assert (await client.request("PUT", f"{B}/tmp/a", b"x")).status == 200
    await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1))
    clock = Clock()
    clock.now += timedelta(days=2)
    assert (await runner(client, clock, [], regions={"eu-de-1"}).run_once()).expired == 0
    assert (await runner(client, clock, []).run_once()).expired == 1


# -- versioned buckets (decision 0099) ------------------------------------------------------------

VERSIONING = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"


async def versions(client: Client) -> list[tuple[str, str, str]]:
    """(kind, key, version id) of every version and marker, in S3's order."""
    body = (await client.request("GET", f"{B}?versions")).body.decode()
    found = []
    for kind in ("Version", "DeleteMarker"):
        for part in body.split(f"<{kind}>")[1:]:
            entry = part.split(f"</{kind}>")[0]
            key = entry.split("<Key>")[1].split("</Key>")[0]
            version = entry.split("<VersionId>")[1].split("</VersionId>")[0]
            found.append((kind, key, version))
    return sorted(found, key=lambda e: (e[1], e[2]))


async def test_an_expiry_in_a_versioned_bucket_makes_a_delete_marker(client: Client) -> None:
    assert (await client.request("PUT", f"{B}?versioning", VERSIONING)).status == 200
    put = await client.request("PUT", f"{B}/old", b"kept as a version")
    assert (await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1))).status == 200
    clock = Clock()
    clock.now += timedelta(days=2)
    actions: list[LifecycleAction] = []
    assert (await runner(client, clock, actions).run_once()).expired == 1
    assert await keys(client) == []
    # Nothing was deleted: the object is a noncurrent version under a delete marker.
    kept = await client.request("GET", f"{B}/old?versionId={put.headers['x-amz-version-id']}")
    assert kept.body == b"kept as a version"
    assert [kind for kind, _, _ in await versions(client)] == ["DeleteMarker", "Version"]
    assert [a.key for a in actions] == ["old"]
    # A marker is no object: the next pass makes no second one.
    assert (await runner(client, clock, []).run_once()).expired == 0


async def test_a_version_written_after_the_listing_is_not_put_under_a_marker(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.request("PUT", f"{B}?versioning", VERSIONING)).status == 200
    assert (await client.request("PUT", f"{B}/report", b"last year's")).status == 200
    assert (await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1))).status == 200
    objects = client.objects
    assert objects is not None
    listed = objects.list_objects

    async def list_then_a_client_writes(*args: Any, **kwargs: Any) -> Any:
        listing = await listed(*args, **kwargs)
        if listing.objects:
            assert (await client.request("PUT", f"{B}/report", b"this year's")).status == 200
        return listing

    monkeypatch.setattr(objects, "list_objects", list_then_a_client_writes)
    clock = Clock()
    clock.now += timedelta(days=2)
    assert (await runner(client, clock, []).run_once()).expired == 0
    assert (await client.request("GET", f"{B}/report")).body == b"this year's"
    assert [kind for kind, _, _ in await versions(client)] == ["Version", "Version"]


async def test_noncurrent_versions_expire_by_age_keeping_the_newest(client: Client) -> None:
    assert (await client.request("PUT", f"{B}?versioning", VERSIONING)).status == 200
    ids = []
    for body in (b"v1", b"v2", b"v3", b"v4"):
        reply = await client.request("PUT", f"{B}/k", body)
        ids.append(reply.headers["x-amz-version-id"])
    await put_lifecycle(
        client,
        rule(
            "<Filter><Prefix>k</Prefix></Filter><NoncurrentVersionExpiration>"
            "<NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>1"
            "</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
        ),
    )
    clock = Clock()
    run = runner(client, clock, [])
    assert (await run.run_once()).expired == 0  # noncurrent for less than a day
    clock.now += timedelta(days=2)
    assert (await run.run_once()).expired == 2
    # v4 is current, v3 the one newest noncurrent version kept; v1 and v2 are gone for good.
    assert {version for _, _, version in await versions(client)} == {ids[2], ids[3]}
    gone = await client.request("GET", f"{B}/k?versionId={ids[0]}")
    assert (gone.status, gone.error_code()) == (404, "NoSuchVersion")
    assert (await client.request("GET", f"{B}/k")).body == b"v4"


async def test_noncurrent_expiry_keeps_a_locked_version(client: Client) -> None:
    """Lifecycle never removes a version under legal hold or retention (decision 0102): the
    store refuses in the removal's transaction, the runner keeps it and counts it not."""
    assert (await client.request("PUT", f"{B}?versioning", VERSIONING)).status == 200
    lock = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
    lock += b"</ObjectLockConfiguration>"
    assert (await client.request("PUT", f"{B}?object-lock", lock, md5_header(lock))).status == 200
    held = {**md5_header(b"v1"), "x-amz-object-lock-legal-hold": "ON"}
    ids = [(await client.request("PUT", f"{B}/k", b"v1", held)).headers["x-amz-version-id"]]
    for body in (b"v2", b"v3"):
        ids.append((await client.request("PUT", f"{B}/k", body)).headers["x-amz-version-id"])
    await put_lifecycle(
        client,
        rule(
            "<Filter><Prefix>k</Prefix></Filter><NoncurrentVersionExpiration>"
            "<NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>"
        ),
    )
    clock = Clock()
    clock.now += timedelta(days=2)
    assert (await runner(client, clock, []).run_once()).expired == 1
    assert {version for _, _, version in await versions(client)} == {ids[0], ids[2]}
    assert (await client.request("GET", f"{B}/k?versionId={ids[0]}")).body == b"v1"


async def test_an_expired_delete_marker_alone_is_removed(client: Client) -> None:
    assert (await client.request("PUT", f"{B}?versioning", VERSIONING)).status == 200
    version = (await client.request("PUT", f"{B}/k", b"v")).headers["x-amz-version-id"]
    assert (await client.request("DELETE", f"{B}/k")).status == 204
    assert (await client.request("PUT", f"{B}/other", b"o")).status == 200
    assert (await client.request("DELETE", f"{B}/other")).status == 204
    await put_lifecycle(
        client,
        rule(
            "<Filter><Prefix>k</Prefix></Filter>"
            "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
        ),
    )
    clock = Clock()
    run = runner(client, clock, [])
    # The marker still hides a version: it stays.
    assert (await run.run_once()).expired == 0
    assert (await client.request("DELETE", f"{B}/k?versionId={version}")).status == 204
    assert (await run.run_once()).expired == 1
    # k has no version left; "other", outside the prefix, keeps its marker and version.
    assert [key for _, key, _ in await versions(client)] == ["other", "other"]


async def test_expiration_days_also_removes_an_expired_object_delete_marker(
    client: Client,
) -> None:
    """AWS: with ``Days``, a delete marker that is its key's only version goes once it is
    that old, as ``ExpiredObjectDeleteMarker`` would; one that still hides a version stays."""
    assert (await client.request("PUT", f"{B}?versioning", VERSIONING)).status == 200
    version = (await client.request("PUT", f"{B}/alone", b"v")).headers["x-amz-version-id"]
    assert (await client.request("DELETE", f"{B}/alone")).status == 204
    assert (await client.request("DELETE", f"{B}/alone?versionId={version}")).status == 204
    assert (await client.request("PUT", f"{B}/hiding", b"h")).status == 200
    assert (await client.request("DELETE", f"{B}/hiding")).status == 204
    assert (await put_lifecycle(client, rule("<Filter/>" + EXPIRE_1))).status == 200
    clock = Clock()
    run = runner(client, clock, [])
    assert (await run.run_once()).expired == 0  # the marker is not a day old yet
    clock.now += timedelta(days=2)
    assert (await run.run_once()).expired == 1
    assert [(kind, key) for kind, key, _ in await versions(client)] == [
        ("DeleteMarker", "hiding"),
        ("Version", "hiding"),
    ]


async def test_noncurrent_expiration_removes_noncurrent_delete_markers(client: Client) -> None:
    """AWS's noncurrent expiry takes noncurrent delete markers too; they hold no data, so
    they are not among the ``NewerNoncurrentVersions`` kept."""
    assert (await client.request("PUT", f"{B}?versioning", VERSIONING)).status == 200
    ids: dict[str, list[str]] = {}
    for key in ("a", "b"):
        first = await client.request("PUT", f"{B}/{key}", b"1")
        marker = await client.request("DELETE", f"{B}/{key}")
        last = await client.request("PUT", f"{B}/{key}", b"2")
        ids[key] = [h.headers["x-amz-version-id"] for h in (last, marker, first)]
    noncurrent = "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>{}" + (
        "</NoncurrentVersionExpiration>"
    )
    await put_lifecycle(
        client,
        rule("<Filter><Prefix>a</Prefix></Filter>" + noncurrent.format(""), rule_id="a"),
        rule(
            "<Filter><Prefix>b</Prefix></Filter>"
            + noncurrent.format("<NewerNoncurrentVersions>1</NewerNoncurrentVersions>"),
            rule_id="b",
        ),
    )
    clock = Clock()
    run = runner(client, clock, [])
    assert (await run.run_once()).expired == 0
    clock.now += timedelta(days=2)
    assert (await run.run_once()).expired == 3
    left = {(key, version) for _, key, version in await versions(client)}
    # a: only its current version; b: its current version and the one noncurrent version
    # kept, its marker gone.
    assert left == {("a", ids["a"][0]), ("b", ids["b"][0]), ("b", ids["b"][2])}
    assert (await client.request("GET", f"{B}/b")).body == b"2"
