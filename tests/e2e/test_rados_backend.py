"""``andromede serve`` with object data on Ceph RADOS (``blob_backend = rados``): real clients
write and read through it, and the bytes are in the configured pool, not on local disk."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from e2e.helpers import REGION, create_bucket, empty_and_delete_bucket
from support.ceph import POOL, USER, CephCluster
from support.server import ServerProcess, running_server


@pytest.fixture(scope="module")
def rados_server(
    ceph_cluster: CephCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {
        "ANDROMEDE_BLOB_BACKEND": "rados",
        "ANDROMEDE_CEPH_CONF": str(ceph_cluster.conf),
        "ANDROMEDE_CEPH_KEYRING": str(ceph_cluster.keyring),
        "ANDROMEDE_CEPH_USER": USER,
        "ANDROMEDE_CEPH_POOL": POOL,
        "ANDROMEDE_RADOS_STRIPE_SIZE": str(1024 * 1024),
    }
    with running_server(tmp_path_factory.mktemp("rados") / "data", extra_env=env) as server:
        yield server


def client(server: ServerProcess) -> object:
    access_key, secret_key = server.credentials()
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def pool_objects(cluster: CephCluster) -> set[str]:
    listing = subprocess.run(
        ["rados", "--conf", str(cluster.conf), "--name", "client.admin",
         "--keyring", str(cluster.admin_keyring), "-p", POOL, "--all", "ls"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return {line.split("\t")[-1] for line in listing.splitlines() if line.strip()}


def test_objects_round_trip_through_rados(
    rados_server: ServerProcess, ceph_cluster: CephCluster, tmp_path: Path
) -> None:
    s3 = client(rados_server)
    bucket = f"rados-{uuid.uuid4().hex[:12]}"
    create_bucket(s3, bucket)  # type: ignore[arg-type]
    try:
        before = pool_objects(ceph_cluster)
        small = os.urandom(5_000)
        s3.put_object(Bucket=bucket, Key="small", Body=small)  # type: ignore[attr-defined]
        large = tmp_path / "large"
        large.write_bytes(os.urandom(9 * 1024 * 1024 + 17))  # several 1 MiB stripes, 2 parts
        s3.upload_file(  # type: ignore[attr-defined]
            str(large), bucket, "large",
            Config=TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                  multipart_chunksize=5 * 1024 * 1024),
        )  # fmt: skip
        got = s3.get_object(Bucket=bucket, Key="small")["Body"].read()  # type: ignore[attr-defined]
        assert got == small
        downloaded = tmp_path / "down"
        s3.download_file(bucket, "large", str(downloaded))  # type: ignore[attr-defined]
        assert (
            hashlib.sha256(downloaded.read_bytes()).digest()
            == hashlib.sha256(large.read_bytes()).digest()
        )
        ranged = s3.get_object(  # type: ignore[attr-defined]
            Bucket=bucket, Key="large", Range="bytes=1048570-3145740"
        )["Body"].read()
        assert ranged == large.read_bytes()[1048570:3145741]
        # The data went to the pool: new RADOS objects, and no blob files on local disk.
        assert len(pool_objects(ceph_cluster) - before) >= 3
        local_blobs = rados_server.data_dir / "objects"
        assert not local_blobs.exists() or not any(p.is_file() for p in local_blobs.rglob("*"))
    finally:
        empty_and_delete_bucket(s3, bucket)  # type: ignore[arg-type]
