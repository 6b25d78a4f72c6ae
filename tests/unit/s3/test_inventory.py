"""S3 Inventory in process (decision 0154): the four configuration calls with botocore's own
XML on the wire and S3's checks, and the reports the reporter writes into the destination —
gzip CSV rows, manifest, checksum, Hive symlink — under the destination's bucket policy, each
claimed once across gateways, on a clock the test moves."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import parsers, serialize

from andromede.inventory_grants import S3InventoryGrants
from andromede.settings import Settings
from andromede.sse_kms_keys import ReplicaKmsKeys
from andromede.storage.inventory import configurations_from_text
from andromede.storage.inventory_report import InventoryReport, InventoryReporter
from andromede.wiring.storage import inventory_reporter
from support.s3app import REGION, Client, Reply, in_process_client
from support.sse_kms_kit import make_kit

SOURCE = "shop"
DEST = "shop-inventory"
_MODEL = botocore.session.get_session().get_service_model("s3")

DESTINATION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "InventoryDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{DEST}/*",
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{SOURCE}"},
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"},
            },
        }
    ],
}


def configuration(config_id: str = "daily", **overrides: Any) -> dict[str, Any]:
    made: dict[str, Any] = {
        "Id": config_id,
        "IsEnabled": True,
        "Destination": {
            "S3BucketDestination": {
                "Bucket": f"arn:aws:s3:::{DEST}",
                "Format": "CSV",
                "Prefix": "reports",
            }
        },
        "IncludedObjectVersions": "Current",
        "OptionalFields": ["Size", "ETag", "EncryptionStatus", "IsMultipartUploaded"],
        "Schedule": {"Frequency": "Daily"},
    }
    made.update(overrides)
    return made


def wire_body(config: dict[str, Any]) -> bytes:
    """The body botocore sends for PutBucketInventoryConfiguration."""
    operation = _MODEL.operation_model("PutBucketInventoryConfiguration")
    request = serialize.create_serializer("rest-xml").serialize_to_request(
        {"Bucket": SOURCE, "Id": config["Id"], "InventoryConfiguration": config}, operation
    )
    body = request["body"]
    return body if isinstance(body, bytes) else body.encode()


def parsed(operation_name: str, reply: Reply) -> dict[str, Any]:
    """The reply as botocore reads it."""
    operation = _MODEL.operation_model(operation_name)
    result: dict[str, Any] = parsers.create_parser("rest-xml").parse(
        {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
        operation.output_shape,
    )
    result.pop("ResponseMetadata", None)
    return result


async def put_config(client: Client, config: dict[str, Any], config_id: str | None = None) -> Reply:
    target = config["Id"] if config_id is None else config_id
    return await client.request("PUT", f"/{SOURCE}?inventory&id={target}", wire_body(config))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def reporter(client: Client, clock: Clock, *, file_size: int = 1 << 20) -> InventoryReporter:
    assert client.objects is not None and client.store is not None
    return InventoryReporter(
        client.objects,
        client.store,
        S3InventoryGrants(),
        interval=1.0,
        file_size=file_size,
        claim_seconds=600,
        on_report=lambda report: None,
        clock=clock,
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        for bucket in (SOURCE, DEST):
            assert (await made.request("PUT", f"/{bucket}")).status == 200
        policy = json.dumps(DESTINATION_POLICY).encode()
        assert (await made.request("PUT", f"/{DEST}?policy", policy)).status == 204
        yield made


async def read(client: Client, key: str) -> bytes:
    reply = await client.request("GET", f"/{DEST}/{key}")
    assert reply.status == 200, reply.body
    return reply.body


async def report_files(
    client: Client, report: InventoryReport
) -> tuple[dict[str, Any], list[list[str]]]:
    """The manifest (its checksum checked) and every data file's rows, as a reader finds them."""
    manifest_bytes = await read(client, report.manifest_key)
    checksum_key = report.manifest_key.replace("manifest.json", "manifest.checksum")
    checksum = await read(client, checksum_key)
    assert checksum.decode() == hashlib.md5(manifest_bytes, usedforsecurity=False).hexdigest()
    manifest = json.loads(manifest_bytes)
    rows: list[list[str]] = []
    for entry in manifest["files"]:
        data = await read(client, entry["key"])
        assert len(data) == entry["size"]
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == entry["MD5checksum"]
        rows.extend(csv.reader(io.StringIO(gzip.decompress(data).decode())))
    return manifest, rows


# -- the configuration calls --------------------------------------------------------------------


async def test_a_configuration_round_trips_through_botocore(client: Client) -> None:
    missing = await client.request("GET", f"/{SOURCE}?inventory&id=daily")
    assert (missing.status, missing.error_code()) == (404, "NoSuchConfiguration")
    sent = configuration(
        Filter={"Prefix": "orders/"},
        OptionalFields=["ReplicationStatus", "Size", "EncryptionStatus"],
        Schedule={"Frequency": "Weekly"},
    )
    sent["Destination"]["S3BucketDestination"]["Encryption"] = {"SSES3": {}}
    assert (await put_config(client, sent)).status == 200
    got = parsed(
        "GetBucketInventoryConfiguration",
        await client.request("GET", f"/{SOURCE}?inventory&id=daily"),
    )["InventoryConfiguration"]
    # S3's order of the optional fields, whatever order they were asked in.
    assert got == {**sent, "OptionalFields": ["Size", "ReplicationStatus", "EncryptionStatus"]}
    kms = configuration("kms")
    kms["Destination"]["S3BucketDestination"]["Encryption"] = {
        "SSEKMS": {"KeyId": "arn:aws:kms:eu-fr-1:123456789012:key/k-1"}
    }
    assert (await put_config(client, kms)).status == 200
    listed = parsed(
        "ListBucketInventoryConfigurations", await client.request("GET", f"/{SOURCE}?inventory")
    )
    assert [c["Id"] for c in listed["InventoryConfigurationList"]] == ["daily", "kms"]
    assert listed["IsTruncated"] is False
    assert listed["InventoryConfigurationList"][1]["Destination"] == kms["Destination"]
    deleted = await client.request("DELETE", f"/{SOURCE}?inventory&id=daily")
    assert deleted.status == 204
    again = await client.request("DELETE", f"/{SOURCE}?inventory&id=daily")
    assert (again.status, again.error_code()) == (404, "NoSuchConfiguration")
    await client.audit.flush()
    listed = await client.audit_store.list_events(client.tenant_id, after_id=0, limit=500)
    events = [e for _, e in listed if e.action == "s3:PutInventoryConfiguration"]
    assert len(events) == 4  # two puts, two deletes (the second refused)
    assert events[0].details["inventory_id"] == "daily"


async def test_the_list_is_paged_by_a_hundred(client: Client) -> None:
    for n in range(101):
        assert (await put_config(client, configuration(f"c{n:03d}"))).status == 200
    first = parsed(
        "ListBucketInventoryConfigurations", await client.request("GET", f"/{SOURCE}?inventory")
    )
    assert first["IsTruncated"] is True and len(first["InventoryConfigurationList"]) == 100
    token = first["NextContinuationToken"]
    second = parsed(
        "ListBucketInventoryConfigurations",
        await client.request("GET", f"/{SOURCE}?inventory&continuation-token={token}"),
    )
    assert [c["Id"] for c in second["InventoryConfigurationList"]] == ["c100"]
    assert second["ContinuationToken"] == token and second["IsTruncated"] is False


async def test_a_bucket_holds_at_most_the_quota(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, inventory_max_configurations=2) as made:
        for bucket in (SOURCE, DEST):
            await made.request("PUT", f"/{bucket}")
        for name in ("a", "b"):
            assert (await put_config(made, configuration(name))).status == 200
        third = await put_config(made, configuration("c"))
        assert (third.status, third.error_code()) == (400, "TooManyConfigurations")
        # Replacing one of the two is no new configuration.
        assert (await put_config(made, configuration("b", IsEnabled=False))).status == 200


def _raw(body: str) -> bytes:
    return f"<InventoryConfiguration>{body}</InventoryConfiguration>".encode()


_DEST_XML = (
    "<Destination><S3BucketDestination><Bucket>arn:aws:s3:::shop-inventory</Bucket>"
    "<Format>{fmt}</Format></S3BucketDestination></Destination>"
)


def _xml(
    config_id: str = "x", fmt: str = "CSV", versions: str = "Current", frequency: str = "Daily"
) -> bytes:
    return _raw(
        f"<Id>{config_id}</Id><IsEnabled>true</IsEnabled>{_DEST_XML.format(fmt=fmt)}"
        f"<IncludedObjectVersions>{versions}</IncludedObjectVersions>"
        f"<Schedule><Frequency>{frequency}</Frequency></Schedule>"
    )


@pytest.mark.parametrize(
    ("query_id", "body", "status", "code"),
    [
        ("x", _xml(fmt="TSV"), 400, "MalformedXML"),
        ("x", _xml(versions="Some"), 400, "MalformedXML"),
        ("x", _xml(frequency="Hourly"), 400, "MalformedXML"),
        ("y", _xml(), 400, "InvalidArgument"),  # the body's id is not the query's
        ("bad%20id", _xml("bad id"), 400, "InvalidArgument"),
        ("x", _xml().replace(b"arn:aws:s3:::shop-inventory", b"shop-inventory"), 400,
         "InvalidArgument"),
        ("x", _xml().replace(b"shop-inventory", b"nowhere"), 400, "InvalidArgument"),
        ("x", _xml().replace(b"<Format>", b"<Prefix>p</Prefix><Format>").replace(
            b"</S3BucketDestination>", b"<Encryption><SSE-KMS><KeyId>alias/k</KeyId></SSE-KMS>"
            b"</Encryption></S3BucketDestination>"), 400, "InvalidArgument"),
        ("x", _xml().replace(b"<IsEnabled>true", b"<IsEnabled>yes"), 400, "MalformedXML"),
        ("x", _xml().replace(b"<Schedule>", b"<OptionalFields><Field>Colour</Field>"
                             b"</OptionalFields><Schedule>"), 400, "MalformedXML"),
        ("x", b"<InventoryConfiguration><Id>x", 400, "MalformedXML"),
    ],
)  # fmt: skip
async def test_bad_configurations_get_s3s_errors(
    client: Client, query_id: str, body: bytes, status: int, code: str
) -> None:
    reply = await client.request("PUT", f"/{SOURCE}?inventory&id={query_id}", body)
    assert (reply.status, reply.error_code()) == (status, code)
    assert (
        parsed(
            "ListBucketInventoryConfigurations", await client.request("GET", f"/{SOURCE}?inventory")
        ).get("InventoryConfigurationList", [])
        == []
    )


async def test_another_tenant_may_not_read_or_write_the_configurations(client: Client) -> None:
    assert (await put_config(client, configuration())).status == 200
    other = await client.other_tenant("rival")
    for method, body in (("GET", b""), ("PUT", wire_body(configuration())), ("DELETE", b"")):
        reply = await other.request(method, f"/{SOURCE}?inventory&id=daily", body)
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")


# -- the reports --------------------------------------------------------------------------------


async def test_a_report_lists_the_current_objects_with_their_fields(client: Client) -> None:
    await client.request("PUT", f"/{SOURCE}/orders/a b.txt", b"hello")
    key = os.urandom(32)
    sse_c = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(
            hashlib.md5(key, usedforsecurity=False).digest()
        ).decode(),
    }
    sealed = await client.request(
        "PUT", f"/{SOURCE}/orders/secret", b"classified", sse_c, source_ip="127.0.0.1"
    )
    assert sealed.status == 200
    await client.request("PUT", f"/{SOURCE}/other/c", b"x")
    assert (await put_config(client, configuration(Filter={"Prefix": "orders/"}))).status == 200
    clock = Clock()
    [report] = await reporter(client, clock).run_once()
    assert report.delivered and report.rows == 2 and report.files == 1
    assert report.manifest_key == "reports/shop/daily/2026-12-05T10-00Z/manifest.json"
    manifest, rows = await report_files(client, report)
    assert manifest["sourceBucket"] == SOURCE
    assert manifest["destinationBucket"] == f"arn:aws:s3:::{DEST}"
    assert manifest["version"] == "2016-11-30" and manifest["fileFormat"] == "CSV"
    assert manifest["creationTimestamp"] == str(int(clock.now.timestamp() * 1000))
    assert manifest["fileSchema"] == (
        "Bucket, Key, Size, ETag, IsMultipartUploaded, EncryptionStatus"
    )
    assert manifest["files"][0]["key"].startswith("reports/shop/daily/data/")
    assert manifest["files"][0]["key"].endswith(".csv.gz")
    hello = hashlib.md5(b"hello", usedforsecurity=False).hexdigest()
    classified = hashlib.md5(b"classified", usedforsecurity=False).hexdigest()
    assert rows == [
        ["shop", "orders/a+b.txt", "5", hello, "false", "SSE-S3"],
        ["shop", "orders/secret", "10", classified, "false", "SSE-C"],
    ]
    symlink = await read(client, "reports/shop/daily/hive/dt=2026-12-05-10-00/symlink.txt")
    assert symlink.decode() == f"s3://{DEST}/{manifest['files'][0]['key']}\n"
    # The report's files are the destination owner's objects, sealed as every object.
    head = await client.request("HEAD", f"/{DEST}/{report.manifest_key}")
    assert head.headers["x-amz-server-side-encryption"] == "AES256"


async def test_a_report_of_every_version_shows_markers_and_noncurrent_versions(
    client: Client,
) -> None:
    versioning = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert (await client.request("PUT", f"/{SOURCE}?versioning", versioning)).status == 200
    first = await client.request("PUT", f"/{SOURCE}/k", b"one")
    second = await client.request("PUT", f"/{SOURCE}/k", b"two!")
    marker = await client.request("DELETE", f"/{SOURCE}/k")
    config = configuration(
        IncludedObjectVersions="All", OptionalFields=["Size", "LastModifiedDate", "ObjectOwner"]
    )
    assert (await put_config(client, config)).status == 200
    [report] = await reporter(client, Clock()).run_once()
    manifest, rows = await report_files(client, report)
    assert manifest["fileSchema"] == (
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ObjectOwner"
    )
    ids = [r[2] for r in rows]
    assert ids == [
        marker.headers["x-amz-version-id"],
        second.headers["x-amz-version-id"],
        first.headers["x-amz-version-id"],
    ]
    assert [(r[3], r[4], r[5]) for r in rows] == [
        ("true", "true", ""),
        ("false", "false", "4"),
        ("false", "false", "3"),
    ]
    assert all(r[6].endswith("Z") and len(r[6]) == 24 for r in rows)  # 2026-12-05T10:00:00.000Z
    assert all(r[7] for r in rows)


async def test_reports_are_cut_into_files_of_the_size_setting(client: Client) -> None:
    for _ in range(300):
        await client.request("PUT", f"/{SOURCE}/{os.urandom(24).hex()}", b"")
    assert (await put_config(client, configuration())).status == 200
    [report] = await reporter(client, Clock(), file_size=4096).run_once()
    manifest, rows = await report_files(client, report)
    assert len(manifest["files"]) == report.files > 1
    assert len(rows) == report.rows == 300
    assert len({r[1] for r in rows}) == 300


async def test_each_report_is_made_once_per_period_by_one_gateway(client: Client) -> None:
    await client.request("PUT", f"/{SOURCE}/a", b"a")
    assert (await put_config(client, configuration())).status == 200
    weekly = configuration("weekly", Schedule={"Frequency": "Weekly"})
    assert (await put_config(client, weekly)).status == 200
    clock = Clock()  # Saturday 2026-12-05
    first, second = reporter(client, clock), reporter(client, clock)
    made = await first.run_once()
    assert sorted(r.config_id for r in made) == ["daily", "weekly"]
    assert await second.run_once() == [] and await first.run_once() == []
    clock.now += timedelta(days=1)  # Sunday: a new day, and a new week
    assert sorted(r.config_id for r in await second.run_once()) == ["daily", "weekly"]
    clock.now += timedelta(days=1)  # Monday: the same week
    assert [r.config_id for r in await first.run_once()] == ["daily"]


async def test_a_claim_whose_gateway_died_is_taken_over_once_it_runs_out(client: Client) -> None:
    assert client.store is not None
    assert (await put_config(client, configuration())).status == 200
    clock = Clock()
    dead = reporter(client, clock)
    text = await client.store.get_bucket_document(SOURCE, "inventory")
    assert text is not None
    bucket = await client.objects.get_bucket(SOURCE) if client.objects else None
    assert bucket is not None
    [config] = configurations_from_text(text)
    assert await dead._claim_run(bucket, config, text)  # claimed, then the gateway died
    other = reporter(client, clock)
    assert await other.run_once() == []
    clock.now += timedelta(seconds=601)
    assert [r.config_id for r in await other.run_once()] == ["daily"]


async def test_without_the_destinations_consent_nothing_is_delivered(client: Client) -> None:
    assert (await client.request("DELETE", f"/{DEST}?policy")).status == 204
    await client.request("PUT", f"/{SOURCE}/a", b"a")
    assert (await put_config(client, configuration())).status == 200
    [report] = await reporter(client, Clock()).run_once()
    assert not report.delivered
    listing = await client.request("GET", f"/{DEST}?list-type=2")
    assert b"<Key>" not in listing.body
    # A policy for another source bucket is no consent either.
    other = json.loads(json.dumps(DESTINATION_POLICY))
    other["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"] = "arn:aws:s3:::elsewhere"
    assert (
        await client.request("PUT", f"/{DEST}?policy", json.dumps(other).encode())
    ).status == 204
    clock = Clock()
    clock.now += timedelta(days=1)
    [refused] = await reporter(client, clock).run_once()
    assert not refused.delivered


async def test_a_disabled_configuration_makes_no_report(client: Client) -> None:
    assert (await put_config(client, configuration(IsEnabled=False))).status == 200
    assert await reporter(client, Clock()).run_once() == []


async def test_a_report_asked_under_sse_kms_is_sealed_under_that_key(tmp_path: Path) -> None:
    async with make_kit(tmp_path, allow_insecure_sse=True) as kit:
        client = kit.client
        for bucket in (SOURCE, DEST):
            assert (await client.request("PUT", f"/{bucket}")).status == 200
        policy = json.dumps(DESTINATION_POLICY).encode()
        assert (await client.request("PUT", f"/{DEST}?policy", policy)).status == 204
        await client.request("PUT", f"/{SOURCE}/a", b"a")
        key = await kit.keys.create_key(kit.caller)
        config = configuration()
        config["Destination"]["S3BucketDestination"]["Encryption"] = {"SSEKMS": {"KeyId": key.arn}}
        assert (await put_config(client, config)).status == 200
        clock = Clock()
        made = InventoryReporter(
            kit.objects,
            kit.objects._store,  # the kit's metadata store, which its object service holds
            S3InventoryGrants(),
            interval=1.0,
            file_size=1 << 20,
            claim_seconds=600,
            on_report=lambda report: None,
            kms_keys=ReplicaKmsKeys(kit.keys, None, kit.billing),
            clock=clock,
        )
        [report] = await made.run_once()
        assert report.delivered
        head = await client.request("HEAD", f"/{DEST}/{report.manifest_key}")
        assert head.headers["x-amz-server-side-encryption"] == "aws:kms"
        assert head.headers["x-amz-server-side-encryption-aws-kms-key-id"] == key.arn
        manifest = json.loads((await client.request("GET", f"/{DEST}/{report.manifest_key}")).body)
        data = await client.request("GET", f"/{DEST}/{manifest['files'][0]['key']}")
        assert data.headers["x-amz-server-side-encryption"] == "aws:kms"
        assert gzip.decompress(data.body).decode().startswith('"shop","a"')
        # The key disabled: the next report is not written under another one.
        await kit.keys.disable_key(kit.caller, key.key_id)
        clock.now += timedelta(days=1)
        [refused] = await made.run_once()
        assert not refused.delivered


async def test_the_replication_status_of_each_version_is_reported(client: Client) -> None:
    enabled = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    for bucket in (SOURCE, "shop-copy"):
        if bucket != SOURCE:
            assert (await client.request("PUT", f"/{bucket}")).status == 200
        assert (await client.request("PUT", f"/{bucket}?versioning", enabled)).status == 200
    replication = (
        b"<ReplicationConfiguration><Role>arn:aws:iam::1:role/replication</Role><Rule>"
        b"<ID>docs</ID><Priority>1</Priority><Filter><Prefix>docs/</Prefix></Filter>"
        b"<Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::shop-copy</Bucket>"
        b"</Destination><DeleteMarkerReplication><Status>Disabled</Status>"
        b"</DeleteMarkerReplication></Rule></ReplicationConfiguration>"
    )
    digest = base64.b64encode(hashlib.md5(replication, usedforsecurity=False).digest()).decode()
    put = await client.request(
        "PUT", f"/{SOURCE}?replication", replication, {"Content-MD5": digest}
    )
    assert put.status == 200, put.body
    await client.request("PUT", f"/{SOURCE}/docs/a", b"a")
    await client.request("PUT", f"/{SOURCE}/tmp/b", b"b")
    config = configuration(OptionalFields=["ReplicationStatus"])
    assert (await put_config(client, config)).status == 200
    [report] = await reporter(client, Clock()).run_once()
    _, rows = await report_files(client, report)
    # The copy is queued (no replicator runs here): PENDING, as HEAD answers it.
    assert [(r[1], r[2]) for r in rows] == [("docs/a", "PENDING"), ("tmp/b", "")]
    head = await client.request("HEAD", f"/{SOURCE}/docs/a")
    assert head.headers["x-amz-replication-status"] == "PENDING"


async def test_the_served_reporter_takes_its_settings_and_audits_each_report(
    client: Client, tmp_path: Path
) -> None:
    assert client.objects is not None and client.store is not None
    settings = Settings(
        data_dir=tmp_path, region=REGION, inventory_file_size=2048, inventory_interval=0.1
    )
    made = inventory_reporter(settings, client.objects, client.store, client.audit, None)
    for _ in range(200):
        await client.request("PUT", f"/{SOURCE}/{os.urandom(24).hex()}", b"")
    assert (await put_config(client, configuration())).status == 200
    [report] = await made.run_once()
    assert report.delivered and report.files > 1
    await client.audit.flush()
    listed = await client.audit_store.list_events(client.tenant_id, after_id=0, limit=1000)
    [event] = [e for _, e in listed if e.details.get("operation") == "InventoryReport"]
    assert event.principal == "s3.amazonaws.com" and event.action == "s3:PutObject"
    assert event.resource == f"arn:aws:s3:::{DEST}/{report.manifest_key}"
    assert event.details["rows"] == "200" and event.details["files"] == str(report.files)
