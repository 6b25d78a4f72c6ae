"""Two gateways on one PostgreSQL and one Ceph cluster, and one of them killed with ``kill -9``
in the middle of uploads and downloads (issue 6, "Many gateways").

What must hold on the survivor afterwards: every object whose upload was acknowledged is there,
whole; every object it lists reads back whole (nothing half-written is visible); and a client that
retries on the survivor what failed on the dead gateway succeeds.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from support.ceph import POOL, USER, CephCluster
from support.server import REGION, ServerProcess, free_port, running_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "shared"


def client(server: ServerProcess) -> S3Client:
    access_key, secret_key = server.credentials()
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=5,
            read_timeout=20,
        ),
    )


@pytest.fixture
def gateway_env(postgres_empty_url: str, ceph_cluster: CephCluster) -> dict[str, str]:
    return {
        "ANDROMEDE_DATABASE_URL": postgres_empty_url,
        "ANDROMEDE_BLOB_BACKEND": "rados",
        "ANDROMEDE_CEPH_CONF": str(ceph_cluster.conf),
        "ANDROMEDE_CEPH_KEYRING": str(ceph_cluster.keyring),
        "ANDROMEDE_CEPH_USER": USER,
        "ANDROMEDE_CEPH_POOL": POOL,
        "ANDROMEDE_RADOS_STRIPE_SIZE": str(256 * 1024),
        "ANDROMEDE_WORKERS": "1",
    }


@pytest.fixture
def survivor(gateway_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    # One data folder for both gateways: on one machine it carries the keys they must share.
    with running_server(tmp_path / "data", extra_env=gateway_env) as server:
        yield server


def test_write_on_one_gateway_read_and_delete_on_the_other(
    survivor: ServerProcess, gateway_env: dict[str, str]
) -> None:
    other = ServerProcess(data_dir=survivor.data_dir, port=free_port(), extra_env=gateway_env)
    other.start()
    try:
        one, two = client(survivor), client(other)
        one.create_bucket(
            Bucket=BUCKET,
            CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
        )
        body = os.urandom(700_000)
        one.put_object(Bucket=BUCKET, Key="k", Body=body)
        assert two.get_object(Bucket=BUCKET, Key="k")["Body"].read() == body
        assert [o["Key"] for o in two.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["k"]
        upload = two.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
        parts = [os.urandom(5 * 1024 * 1024), os.urandom(3000)]
        etags = [
            gateway.upload_part(
                Bucket=BUCKET, Key="mp", UploadId=upload, PartNumber=n + 1, Body=part
            )["ETag"]
            for n, (gateway, part) in enumerate(zip((one, two), parts, strict=True))
        ]
        one.complete_multipart_upload(
            Bucket=BUCKET,
            Key="mp",
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]
            },
        )
        assert two.get_object(Bucket=BUCKET, Key="mp")["Body"].read() == b"".join(parts)
        two.delete_object(Bucket=BUCKET, Key="k")
        two.delete_object(Bucket=BUCKET, Key="mp")
        assert one.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    finally:
        other.stop()


def test_kill_9_of_a_gateway_under_load_loses_nothing_acknowledged(
    survivor: ServerProcess, gateway_env: dict[str, str]
) -> None:
    victim = ServerProcess(data_dir=survivor.data_dir, port=free_port(), extra_env=gateway_env)
    victim.start()
    try:
        safe, doomed = client(survivor), client(victim)
        safe.create_bucket(
            Bucket=BUCKET,
            CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
        )
        seeds = {f"seed/{n}": os.urandom(300_000) for n in range(6)}
        for key, body in seeds.items():
            safe.put_object(Bucket=BUCKET, Key=key, Body=body)

        lock = threading.Lock()
        acknowledged: dict[str, str] = {}
        attempted: dict[str, bytes] = {}
        bad_reads: list[str] = []
        stop = threading.Event()

        def upload(worker: int) -> None:
            rng = random.Random(worker)
            index = 0
            while not stop.is_set():
                key = f"up/{worker}/{index}"
                body = os.urandom(rng.choice((3_000, 200_000, 900_000)))
                with lock:
                    attempted[key] = body
                try:
                    doomed.put_object(Bucket=BUCKET, Key=key, Body=body)
                except Exception:  # the gateway died under this request
                    time.sleep(0.05)
                else:
                    with lock:
                        acknowledged[key] = hashlib.sha256(body).hexdigest()
                index += 1

        def download(worker: int) -> None:
            rng = random.Random(100 + worker)
            while not stop.is_set():
                key = rng.choice(list(seeds))
                try:
                    got = doomed.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                except Exception:  # the gateway died: the client retries later
                    time.sleep(0.05)
                    continue
                if got != seeds[key]:  # a response cut short is an exception, never other bytes
                    bad_reads.append(key)

        threads = [threading.Thread(target=upload, args=(n,)) for n in range(3)]
        threads += [threading.Thread(target=download, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(3.0)
        victim.kill()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not bad_reads
        assert len(acknowledged) >= 5, "the load did not get going before the kill"

        for key, digest in acknowledged.items():
            body = safe.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == digest, key
        listed: list[dict[str, Any]] = []
        for page in safe.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="up/"):
            listed.extend(page.get("Contents", []))
        for entry in listed:  # nothing half-written is visible
            body = safe.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
            assert body == attempted[entry["Key"]]
        # Clients retry on the survivor what failed on the dead gateway; it succeeds.
        unacknowledged = [key for key in attempted if key not in acknowledged]
        for key in unacknowledged[:10]:
            safe.put_object(Bucket=BUCKET, Key=key, Body=attempted[key])
            assert safe.get_object(Bucket=BUCKET, Key=key)["Body"].read() == attempted[key]
    finally:
        victim.kill()
