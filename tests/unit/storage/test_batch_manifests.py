"""Where a Batch Operations job's objects come from (decision 0152's second addendum), over a
real SQLite database and the real object service: an S3 Inventory report's ``manifest.json``
(its gzip CSV files, keys URL-encoded as the inventory writes them, delete markers left out,
MD5s checked), the manifest generator (its filters, the source listed a page at a time, the
manifest written out and taken by another job), Batch Replication's recipe (a generator over
objects whose status is NONE or FAILED), CreateJob's generator shapes and refusals, and job tags
(CreateJob's, Put/Get/DeleteJobTagging, AWS's 50, another account's job)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from defusedxml import ElementTree as ET

from andromede.s3control import job_tags
from andromede.s3control import jobs as batch
from andromede.s3control.errors import S3ControlError
from andromede.s3control.jobs import parse_create
from andromede.storage import batch_manifests
from andromede.storage.batch_jobs import BatchJob, JobStatus
from andromede.storage.inventory import InventoryRow
from andromede.storage.model import VersioningStatus
from andromede.storage.replication import (
    ReplicationConfiguration,
    ReplicationRule,
    ReplicationStatus,
)
from andromede.storage.replicator import Replicator
from support.batch_world import (
    REGION,
    RoleGrants,
    World,
    batch_world,
    drain,
    new_job,
    put,
    read,
    request,
)

_TOKENS = itertools.count(1)
REPLICATE = "<S3ReplicateObject/>"
TAG = (
    "<S3PutObjectTagging><TagSet><member><Key>tier</Key><Value>cold</Value></member>"
    "</TagSet></S3PutObjectTagging>"
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with batch_world(tmp_path) as found:
        yield found


def with_manifest(body: bytes, manifest: str) -> bytes:
    """``request()``'s CreateJob with another manifest (or generator) and a fresh token."""
    start = body.index(b"<Manifest>")
    end = body.index(b"</Manifest>") + len(b"</Manifest>")
    token = f"g-{next(_TOKENS)}".encode()
    return (body[:start] + manifest.encode() + body[end:]).replace(b">t-1<", b">" + token + b"<")


def generator(filters: str = "", *, output: bool = False) -> str:
    location = (
        "<ManifestOutputLocation><Bucket>arn:aws:s3:::reports</Bucket>"
        "<ManifestPrefix>generated</ManifestPrefix>"
        "<ManifestFormat>S3InventoryReport_CSV_20211130</ManifestFormat>"
        "</ManifestOutputLocation>"
        if output
        else ""
    )
    return (
        "<ManifestGenerator><S3JobManifestGenerator>"
        "<SourceBucket>arn:aws:s3:::data</SourceBucket>"
        f"{location}<Filter>{filters}</Filter>"
        f"<EnableManifestOutput>{str(output).lower()}</EnableManifestOutput>"
        "</S3JobManifestGenerator></ManifestGenerator>"
    )


def inventory_manifest(etag: str, key: str = "inv/manifest.json") -> str:
    return (
        "<Manifest><Spec><Format>S3InventoryReport_CSV_20161130</Format></Spec>"
        f"<Location><ObjectArn>arn:aws:s3:::reports/{key}</ObjectArn>"
        f"<ETag>{etag}</ETag></Location></Manifest>"
    )


async def finished(world: World, body: bytes) -> BatchJob:
    job = await new_job(world, body)
    await drain(world.runner(batch=3))
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None
    return done


async def tasks(world: World, job: BatchJob) -> list[tuple[str, str, str | None, str]]:
    results = await world.jobs.results(job.job_id, failed_only=False, after=-1, limit=1000)
    return [(line.bucket, line.key, line.version_id, r.status) for line, r in results]


async def write_inventory(world: World, rows: list[InventoryRow], *, md5: str | None = None) -> str:
    """An inventory report of ``data`` into ``reports`` as S3 Inventory writes one: its rows
    (``InventoryRow.values``, every value quoted) in a gzip file, then ``manifest.json``."""
    schema = ["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size"]
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for row in rows:
        writer.writerow(row.values("data", schema))
    data = gzip.compress(out.getvalue().encode())
    await put(world.objects, "reports", "inv/data/one.csv.gz", data)
    manifest = {
        "sourceBucket": "data",
        "destinationBucket": "arn:aws:s3:::reports",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": ", ".join(schema),
        "files": [
            {
                "key": "inv/data/one.csv.gz",
                "size": len(data),
                "MD5checksum": md5 or hashlib.md5(data, usedforsecurity=False).hexdigest(),
            }
        ],
    }
    return await put(world.objects, "reports", "inv/manifest.json", json.dumps(manifest).encode())


async def test_an_inventory_report_is_a_manifest(world: World) -> None:
    await world.objects.set_bucket_versioning("data", VersioningStatus.ENABLED)
    for key in ("a b+c", "d/é"):
        await put(world.objects, "data", key, b"x")
    old = (await world.objects.head_object("data", "d/é")).version_id
    await put(world.objects, "data", "d/é", b"newer")
    rows = [
        InventoryRow(
            "a b+c", version_id=(await world.objects.head_object("data", "a b+c")).version_id
        ),
        InventoryRow("d/é", version_id=old, is_latest=False),
        InventoryRow("gone", version_id="v9", delete_marker=True),
    ]
    etag = await write_inventory(world, rows)
    done = await finished(
        world, with_manifest(request("e", operation=TAG), inventory_manifest(etag))
    )
    assert (done.status, done.total_tasks, done.succeeded) == (JobStatus.COMPLETE, 2, 2)
    assert [t[:2] for t in await tasks(world, done)] == [("data", "a b+c"), ("data", "d/é")]
    # The version the inventory named is the one tagged, not the current one.
    older = await world.objects.get_version("data", "d/é", old or "")
    assert older.headers.tags == (("tier", "cold"),)
    assert (await world.objects.head_object("data", "d/é")).headers.tags == ()


async def test_an_inventory_file_that_does_not_match_its_md5_fails_the_job(world: World) -> None:
    etag = await write_inventory(world, [InventoryRow("a")], md5="0" * 32)
    done = await finished(world, with_manifest(request("e"), inventory_manifest(etag)))
    assert done.status is JobStatus.FAILED
    assert done.failure_reasons[0]["FailureCode"] == "InvalidManifest"
    # A manifest.json that is not one fails it too.
    etag = await put(world.objects, "reports", "inv/broken.json", b"{}")
    done = await finished(
        world, with_manifest(request("e"), inventory_manifest(etag, "inv/broken.json"))
    )
    assert done.failure_reasons[0]["FailureCode"] == "InvalidManifest"
    # A Parquet (or ORC) report's manifest: AWS reads CSV inventory reports only (0170).
    parquet = {
        "sourceBucket": "data",
        "destinationBucket": "arn:aws:s3:::reports",
        "version": "2016-11-30",
        "fileFormat": "Parquet",
        "fileSchema": "message s3.inventory {  required binary bucket (STRING);"
        "  required binary key (STRING);}",
        "files": [],
    }
    etag = await put(world.objects, "reports", "inv/pq.json", json.dumps(parquet).encode())
    done = await finished(
        world, with_manifest(request("e"), inventory_manifest(etag, "inv/pq.json"))
    )
    assert done.status is JobStatus.FAILED
    assert done.failure_reasons[0]["FailureCode"] == "InvalidManifest"


async def test_the_generator_filters_and_writes_its_manifest(world: World) -> None:
    sizes = {"logs/a.txt": 10, "logs/b.csv": 10, "logs/c.txt": 500, "img/d.txt": 10}
    for key, size in sizes.items():
        await put(world.objects, "data", key, b"x" * size)
    filters = (
        "<KeyNameConstraint><MatchAnyPrefix><member>logs/</member></MatchAnyPrefix>"
        "<MatchAnySuffix><member>.txt</member></MatchAnySuffix></KeyNameConstraint>"
        "<ObjectSizeLessThanBytes>100</ObjectSizeLessThanBytes>"
        "<MatchAnyStorageClass><member>STANDARD</member></MatchAnyStorageClass>"
    )
    body = with_manifest(request("e", operation=TAG), generator(filters, output=True))
    done = await finished(world, body)
    assert (done.status, done.total_tasks) == (JobStatus.COMPLETE, 1)
    assert [t[1] for t in await tasks(world, done)] == ["logs/a.txt"]
    assert (await world.objects.head_object("data", "logs/a.txt")).headers.tags == (
        ("tier", "cold"),
    )
    # The manifest written is an inventory-style one, which another job takes as it is.
    key = f"generated/job-{done.job_id}/manifest.json"
    written = json.loads(await read(world.objects, "reports", key))
    assert written["fileSchema"] == "Bucket, Key, VersionId"
    data = gzip.decompress(await read(world.objects, "reports", written["files"][0]["key"]))
    assert data == b'"data","logs/a.txt",""\n'
    etag = (await world.objects.head_object("reports", key)).etag
    again = await finished(world, with_manifest(request("e"), inventory_manifest(etag, key)))
    assert [t[1] for t in await tasks(world, again)] == ["logs/a.txt"]
    # DescribeJob answers the generator as it was asked.
    described = await batch.describe_job(world.jobs, "t1", REGION, done.job_id)
    root = ET.fromstring(described.body)
    ns = {"s": batch.NAMESPACE}
    assert root.findtext(".//s:S3JobManifestGenerator/s:SourceBucket", namespaces=ns) == (
        "arn:aws:s3:::data"
    )
    assert root.findtext(".//s:ObjectSizeLessThanBytes", namespaces=ns) == "100"


async def test_created_after_and_before(world: World) -> None:
    await put(world.objects, "data", "a", b"x")
    made = (await world.objects.head_object("data", "a")).last_modified
    before = (made - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = (made + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = f"<CreatedAfter>{before}</CreatedAfter><CreatedBefore>{after}</CreatedBefore>"
    assert (await finished(world, with_manifest(request("e"), generator(window)))).total_tasks == 1
    late = f"<CreatedAfter>{after}</CreatedAfter>"
    assert (await finished(world, with_manifest(request("e"), generator(late)))).total_tasks == 0


async def test_the_generator_lists_past_a_page(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_manifests, "_PAGE", 2)
    for i in range(5):
        await put(world.objects, "data", f"k{i}", b"x")
    done = await finished(world, with_manifest(request("e"), generator()))
    assert (done.status, done.total_tasks, done.succeeded) == (JobStatus.COMPLETE, 5, 5)
    assert [t[1] for t in await tasks(world, done)] == [f"k{i}" for i in range(5)]
    # Past the job's limit the job fails, whatever the page.
    job = await new_job(world, with_manifest(request("e"), generator()))
    await drain(world.runner(max_tasks=4))
    failed = await world.jobs.get("t1", job.job_id)
    assert failed is not None and failed.failure_reasons[0]["FailureCode"] == "ManifestTooLarge"


async def test_batch_replication_of_objects_never_or_not_replicated(world: World) -> None:
    """AWS's recipe: a generator over the objects whose replication status is NONE or FAILED,
    and S3ReplicateObject."""
    await world.objects.set_bucket_versioning("data", VersioningStatus.ENABLED)
    await world.objects.create_bucket("copies", tenant_id="t1", owner_id="o1", region=REGION)
    await world.objects.set_bucket_versioning("copies", VersioningStatus.ENABLED)
    for key in ("old-1", "old-2"):
        await put(world.objects, "data", key, b"before the rule")
    await world.objects.set_bucket_replication(
        "data", ReplicationConfiguration((ReplicationRule("r1", True, "copies"),))
    )
    await put(world.objects, "data", "new", b"after the rule")  # queued as it was written
    # The write queued its copy at the real time; the worker looks at that time too.
    replicator = Replicator(world.objects, world.queue)
    assert await replicator.run_once() == 1
    statuses = (
        "<ObjectReplicationStatuses><member>NONE</member><member>FAILED</member>"
        "</ObjectReplicationStatuses>"
    )
    done = await finished(
        world, with_manifest(request("e", operation=REPLICATE), generator(statuses))
    )
    assert (done.status, done.total_tasks, done.succeeded) == (JobStatus.COMPLETE, 2, 2)
    assert sorted(t[1] for t in await tasks(world, done)) == ["old-1", "old-2"]
    assert await replicator.run_once() == 2
    for key in ("old-1", "old-2", "new"):
        source = await world.objects.head_object("data", key)
        assert source.replication_status == ReplicationStatus.COMPLETED
        assert (await world.objects.head_object("copies", key)).version_id == source.version_id
    # Only what a rule selects is eligible (jobs left awaiting confirmation: counted only).
    await put(world.objects, "data", "late", b"queued as written")
    eligible = "<EligibleForReplication>true</EligibleForReplication>"
    body = with_manifest(request("e", operation=TAG, confirm=True), generator(eligible))
    assert (await finished(world, body)).total_tasks == 4
    await world.objects.set_bucket_replication("data", None)
    body = with_manifest(request("e", operation=TAG, confirm=True), generator(eligible))
    assert (await finished(world, body)).total_tasks == 0
    await world.objects.set_bucket_replication(
        "data", ReplicationConfiguration((ReplicationRule("r1", True, "copies"),))
    )
    assert await replicator.run_once() == 1  # "late"
    # Nothing left to replicate: the next such job has no task.
    again = await finished(
        world, with_manifest(request("e", operation=REPLICATE), generator(statuses))
    )
    assert (again.status, again.total_tasks) == (JobStatus.COMPLETE, 0)


async def test_the_role_must_be_allowed_to_list_the_source(world: World) -> None:
    job = await new_job(world, with_manifest(request("e"), generator()))
    await drain(world.runner(grants=RoleGrants({("s3:ListBucket", "")}, [])))
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None and done.status is JobStatus.FAILED
    assert done.failure_reasons[0]["FailureCode"] == "AccessDenied"


@pytest.mark.parametrize(
    ("manifest", "code"),
    [
        ("<ManifestGenerator/>", "BadRequestException"),
        (
            "<ManifestGenerator><S3JobManifestGenerator><SourceBucket>data</SourceBucket>"
            "<EnableManifestOutput>false</EnableManifestOutput>"
            "</S3JobManifestGenerator></ManifestGenerator>",
            "BadRequestException",
        ),
        (
            generator().replace("<EnableManifestOutput>false", "<EnableManifestOutput>true"),
            "BadRequestException",
        ),
        (
            generator().replace("<EnableManifestOutput>false", "<EnableManifestOutput>maybe"),
            "MalformedXML",
        ),
        (generator("<Colour/>"), "MalformedXML"),
        (generator("<ObjectSizeLessThanBytes>-1</ObjectSizeLessThanBytes>"), "BadRequestException"),
        (generator("<CreatedAfter>yesterday</CreatedAfter>"), "BadRequestException"),
        (
            generator(
                "<ObjectReplicationStatuses><member>PENDING</member></ObjectReplicationStatuses>"
            ),
            "BadRequestException",
        ),
        (
            generator("<MatchAnyStorageClass><member>COLD</member></MatchAnyStorageClass>"),
            "BadRequestException",
        ),
        (
            generator(output=True).replace("S3InventoryReport_CSV_20211130", "CSV"),
            "BadRequestException",
        ),
        (
            generator(output=True).replace(
                "</ManifestOutputLocation>",
                "<ManifestEncryption><SSEKMS><KeyId>k</KeyId></SSEKMS></ManifestEncryption>"
                "</ManifestOutputLocation>",
            ),
            "NotImplemented",
        ),
        (
            inventory_manifest("e").replace("S3InventoryReport_CSV_20161130", "ORC"),
            "BadRequestException",
        ),
    ],
)
def test_manifest_shapes_refused(manifest: str, code: str) -> None:
    with pytest.raises(S3ControlError) as caught:
        parse_create(with_manifest(request("e"), manifest))
    assert caught.value.code == code


def tags_xml(count: int) -> bytes:
    members = "".join(f"<member><Key>k{i}</Key><Value>v</Value></member>" for i in range(count))
    return f"<PutJobTaggingRequest><Tags>{members}</Tags></PutJobTaggingRequest>".encode()


async def test_job_tags(world: World) -> None:
    body = request("e").replace(
        b"</CreateJobRequest>",
        b"<Tags><member><Key>team</Key><Value>data</Value></member></Tags></CreateJobRequest>",
    )
    job = await new_job(world, body)

    async def tags(account: str = "t1") -> list[tuple[str | None, str | None]]:
        answer = await job_tags.get_tags(world.jobs, account, job.job_id)
        root = ET.fromstring(answer.body)
        ns = {"s": batch.NAMESPACE}
        return [
            (m.findtext("s:Key", namespaces=ns), m.findtext("s:Value", namespaces=ns))
            for m in root.findall("s:Tags/s:member", ns)
        ]

    assert await tags() == [("team", "data")]
    await job_tags.put_tags(world.jobs, "t1", job.job_id, tags_xml(50))
    assert len(await tags()) == 50
    assert (await job_tags.delete_tags(world.jobs, "t1", job.job_id)).status == 204
    assert await tags() == []
    for call, code in (
        (job_tags.put_tags(world.jobs, "t1", job.job_id, tags_xml(51)), "BadRequestException"),
        (job_tags.put_tags(world.jobs, "t1", job.job_id, b"<nope"), "MalformedXML"),
        (
            job_tags.put_tags(world.jobs, "t1", job.job_id, b"<PutJobTaggingRequest/>"),
            "BadRequestException",
        ),
        (job_tags.put_tags(world.jobs, "t2", job.job_id, tags_xml(1)), "NotFoundException"),
        (job_tags.get_tags(world.jobs, "t2", job.job_id), "NotFoundException"),
        (job_tags.delete_tags(world.jobs, "t2", job.job_id), "NotFoundException"),
    ):
        with pytest.raises(S3ControlError) as caught:
            await call
        assert caught.value.code == code
