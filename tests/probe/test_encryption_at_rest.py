"""Encryption at rest, seen from the disk of a real server.

- No plaintext at rest: objects, metadata, tags and website redirects carrying a random canary
  are stored (single PUT, multipart, copy, SSE-C, SSE-KMS with the canary in the encryption
  context), then every byte under the data folder (SQLite database, WAL, blobs, keystore) is
  searched for the canary and its hex and base64 forms, while the server runs and after it
  stopped: zero hits.
- Objects a release before encryption at rest stored in clear are encrypted at the next start.
- Crypto-shredding through the server: a copy of the database taken before the tenant key is
  destroyed, restored afterwards, gives clients AccessDenied on every object, never bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.model import ContentHeaders, ObjectRecord, Segment
from andromede.storage.store_sql import SqlMetadataStore
from probe.probe_support import SWEEP_ENV, blob_files, wait_until
from support.rawclient import boto3_client_for, raw_client_for
from support.server import running_server

pytestmark = pytest.mark.probe

MIB = 1024 * 1024


def encodings(canary: bytes) -> list[bytes]:
    """The canary as the disk could hold it: raw, hex (both cases), base64 at each alignment."""
    found = [canary, binascii.hexlify(canary), binascii.hexlify(canary).upper()]
    for shift in range(3):
        padded = base64.b64encode(b"\0" * shift + canary)
        # Drop the characters that depend on the neighbouring bytes at both ends.
        found.append(padded[(shift * 4 + 2) // 3 + 1 : -4])
    return found


def hits(data_dir: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        found.extend(f"{path.relative_to(data_dir)}: {n[:16]!r}" for n in needles if n in content)
    return found


def test_no_plaintext_at_rest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    canary = os.urandom(12).hex().encode()  # printable, so it can go in metadata too
    needles = encodings(canary)
    body = os.urandom(100_000) + canary + os.urandom(200_000)
    sse_c_key = os.urandom(32)
    with running_server(data_dir, extra_env={"ANDROMEDE_ALLOW_INSECURE_SSE": "1"}) as server:
        s3 = boto3_client_for(server)
        s3.create_bucket(Bucket="canary")
        metadata = {"secret": canary.decode()}
        s3.put_object(
            Bucket="canary",
            Key="single",
            Body=body,
            Metadata=metadata,
            ContentDisposition=f'attachment; filename="{canary.decode()}.bin"',
            Tagging=f"secret={canary.decode()}",
            WebsiteRedirectLocation=f"/moved/{canary.decode()}.html",
        )
        s3.put_object(
            Bucket="canary",
            Key="customer",
            Body=body,
            Metadata=metadata,
            SSECustomerAlgorithm="AES256",
            SSECustomerKey=sse_c_key,  # type: ignore[arg-type]
        )
        upload = s3.create_multipart_upload(Bucket="canary", Key="multi", Metadata=metadata)
        etags = []
        for number, part in enumerate((canary * (5 * MIB // len(canary) + 1), body), start=1):
            etags.append(
                s3.upload_part(
                    Bucket="canary",
                    Key="multi",
                    UploadId=upload["UploadId"],
                    PartNumber=number,
                    Body=part,
                )["ETag"]
            )
        s3.complete_multipart_upload(
            Bucket="canary",
            Key="multi",
            UploadId=upload["UploadId"],
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
            },
        )
        pending = s3.create_multipart_upload(
            Bucket="canary",
            Key="pending",
            Metadata=metadata,
            Tagging=f"secret={canary.decode()}",
            WebsiteRedirectLocation=f"https://{canary.decode()}.example/",
        )
        s3.upload_part(
            Bucket="canary",
            Key="pending",
            UploadId=pending["UploadId"],
            PartNumber=1,
            Body=body,
        )
        s3.copy_object(
            Bucket="canary", Key="copy", CopySource={"Bucket": "canary", "Key": "single"}
        )
        context = base64.b64encode(b'{"secret":"%s"}' % canary).decode()
        for bucket_key in (False, True):
            s3.put_object(
                Bucket="canary",
                Key=f"kms-{bucket_key}",
                Body=body,
                ServerSideEncryption="aws:kms",
                SSEKMSEncryptionContext=context,
                BucketKeyEnabled=bucket_key,
            )
            assert s3.get_object(Bucket="canary", Key=f"kms-{bucket_key}")["Body"].read() == body
        # Two layers, a small object kept in its row and a large one in a blob.
        for dual_key, dual_body in (("dsse-small", canary * 100), ("dsse", body)):
            s3.put_object(
                Bucket="canary",
                Key=dual_key,
                Body=dual_body,
                Metadata=metadata,
                ServerSideEncryption="aws:kms:dsse",
                SSEKMSEncryptionContext=context,
            )
            assert s3.get_object(Bucket="canary", Key=dual_key)["Body"].read() == dual_body
        s3.create_multipart_upload(
            Bucket="canary",
            Key="kms-pending",
            ServerSideEncryption="aws:kms",
            SSEKMSEncryptionContext=context,
        )
        # Tags set afterwards are resealed with the headers (decision 0068).
        s3.put_object_tagging(
            Bucket="canary",
            Key="customer",
            Tagging={"TagSet": [{"Key": "secret", "Value": canary.decode()}]},
        )
        assert s3.get_object_tagging(Bucket="canary", Key="single")["TagSet"] == [
            {"Key": "secret", "Value": canary.decode()}
        ]
        got = s3.get_object(Bucket="canary", Key="single")
        assert got["Body"].read() == body and got["Metadata"] == metadata
        assert got["ServerSideEncryption"] == "AES256"
        assert s3.head_object(Bucket="canary", Key="copy")["Metadata"] == metadata
        assert hits(data_dir, needles) == []  # the WAL still holds the latest writes here
    assert hits(data_dir, needles) == []
    # The check can fail: the canary is found where it is written in clear.
    (data_dir / "control").write_bytes(b"x" + base64.b64encode(b"\0" + canary) + b"x")
    assert hits(data_dir, needles) != []


def test_crypto_shredding_survives_a_restored_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backup = tmp_path / "backup"
    objects = {f"doc-{n}": os.urandom(70_000 * (n + 1)) for n in range(3)}
    with running_server(data_dir) as server:
        raw = raw_client_for(server)
        assert raw.request("PUT", "/shred").status == 200
        for key, content in objects.items():
            assert raw.request("PUT", f"/shred/{key}", body=content).status == 200
        assert raw.request("GET", "/shred/doc-0").body == objects["doc-0"]
    # A backup of everything but the keys, taken while the tenant's data was readable.
    shutil.copytree(data_dir, backup, ignore=shutil.ignore_patterns("keys"))

    keys = KeyService(LocalKeyFileProvider(data_dir / "keys"))
    tenants = keys.list_tenants()
    assert len(tenants) == 1
    keys.destroy_tenant_key(tenants[0])
    keys.close()

    # Restore the database (and blobs) from the backup; the keys folder stays as it is now.
    for path in backup.iterdir():
        target = data_dir / path.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy2(path, target)
    for wal in data_dir.glob("metadata.sqlite3-*"):
        if not (backup / wal.name).exists():
            wal.unlink()

    with running_server(data_dir) as server:
        raw = raw_client_for(server)
        listing = raw.request("GET", "/shred")
        assert listing.status == 200  # bucket and key names are not what was shredded
        for key, content in objects.items():
            got = raw.request("GET", f"/shred/{key}")
            assert (got.status, got.code) == (403, "AccessDenied"), key
            assert content[:64] not in got.body
            assert raw.request("HEAD", f"/shred/{key}").status == 403
            ranged = raw.request("GET", f"/shred/{key}", headers={"Range": "bytes=0-99"})
            assert ranged.status == 403
        # The tenant cannot get a new key under the same id: new writes are refused too.
        assert raw.request("PUT", "/shred/new", body=b"data").status == 403


def test_objects_stored_in_clear_are_encrypted_at_the_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data = os.urandom(150_000)
    with running_server(data_dir) as server:
        raw = raw_client_for(server)
        assert raw.request("PUT", "/legacy").status == 200
    # What a release before encryption at rest left: a plaintext blob and a format-1 row.
    asyncio.run(_store_legacy_object(data_dir, data))
    assert [p for p in blob_files(data_dir) if p.read_bytes() == data]
    with running_server(data_dir, extra_env=SWEEP_ENV) as server:
        raw = raw_client_for(server)
        got = raw.request("GET", "/legacy/old")
        assert got.status == 200 and got.body == data
        assert got.header("x-amz-server-side-encryption") == "AES256"
        assert got.header("x-amz-meta-kept") == "yes"
        # The plaintext blob goes through the deletion queue (orphan_grace, 0 here).
        assert wait_until(
            lambda: not [p for p in blob_files(data_dir) if data[:1000] in p.read_bytes()], 15
        )


async def _store_legacy_object(data_dir: Path, data: bytes) -> None:
    url = f"sqlite:///{data_dir / 'metadata.sqlite3'}"
    db = open_database(url)
    try:
        blobs = LocalBlobStore(data_dir / "objects", fsync=False)
        writer = await blobs.create("0" * 32)
        await writer.write(data)
        await writer.commit()
        await SqlMetadataStore(db).put_object(
            ObjectRecord(
                bucket="legacy", key="old", size=len(data), etag="e" * 32,
                last_modified=datetime.now(UTC),
                headers=ContentHeaders(user_metadata={"kept": "yes"}),
                segments=(Segment(blob_id="0" * 32, size=len(data)),),
                owner_id="o", format_version=1,
            )
        )  # fmt: skip
    finally:
        await db.close()
