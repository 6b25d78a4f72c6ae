"""Regions on Ceph: one ``andromede serve`` with two regions, each on a RADOS pool of its own.

Objects written through boto3 into a bucket of each region (single PUTs, a multipart upload, a
copy between the regions) are then looked up with librados in both pools: every blob that the
metadata names for a bucket is in its region's pool, and none is in the other.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from support.ceph import USER, CephCluster
from support.server import REGION, ServerProcess, running_server

FR, DE = REGION, "eu-de-1"


@dataclass
class RegionalServer:
    server: ServerProcess
    pools: dict[str, str]  # region -> pool
    inline_in_fr: bool  # whether eu-fr-1's small objects are kept in the metadata database


def _create_pool(cluster: CephCluster, pool: str) -> None:
    cluster.ceph("osd", "pool", "create", pool, "8", "8", "replicated")
    cluster.ceph("osd", "pool", "set", pool, "size", "1", "--yes-i-really-mean-it")
    cluster.ceph("osd", "pool", "application", "enable", pool, "andromede")


@pytest.fixture(scope="module", params=[False, True], ids=["blobs-only", "inline-in-fr"])
def regional_server(
    request: pytest.FixtureRequest,
    ceph_cluster: CephCluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RegionalServer]:
    suffix = uuid.uuid4().hex[:8]
    pools = {FR: f"regions-fr-{suffix}", DE: f"regions-de-{suffix}"}
    for pool in pools.values():
        _create_pool(ceph_cluster, pool)
    regions = [
        {"name": FR, "jurisdiction": "FR", "ceph_pool": pools[FR]},
        {"name": DE, "jurisdiction": "DE", "ceph_pool": pools[DE]},
    ]
    env = {
        "ANDROMEDE_BLOB_BACKEND": "rados",
        "ANDROMEDE_CEPH_CONF": str(ceph_cluster.conf),
        "ANDROMEDE_CEPH_KEYRING": str(ceph_cluster.keyring),
        "ANDROMEDE_CEPH_USER": USER,
        "ANDROMEDE_REGIONS": json.dumps(regions),
        "ANDROMEDE_RADOS_STRIPE_SIZE": str(1024 * 1024),
        "ANDROMEDE_WORKERS": "1",
    }
    if request.param:
        # The metadata database is declared under eu-fr-1's jurisdiction, not eu-de-1's.
        env["ANDROMEDE_INLINE_OBJECT_REGIONS"] = json.dumps([FR])
    try:
        data_dir = tmp_path_factory.mktemp("rados-regions") / "data"
        with running_server(data_dir, extra_env=env) as server:
            yield RegionalServer(server, pools, inline_in_fr=request.param)
    finally:
        for pool in pools.values():
            ceph_cluster.ceph("osd", "pool", "delete", pool, pool, "--yes-i-really-really-mean-it")


def pool_blob_ids(cluster: CephCluster, pool: str) -> set[str]:
    """The blob ids in ``pool``, listed with librados (a blob is ``<id>`` and ``<id>.<n>``)."""
    import rados  # the system binding, linked into the venv (the fixture checked)

    client = rados.Rados(
        conffile=str(cluster.conf),
        name="client.admin",
        conf={"keyring": str(cluster.admin_keyring)},
    )
    client.connect(timeout=20)
    try:
        ioctx = client.open_ioctx(pool)
        try:
            ioctx.set_namespace(rados.LIBRADOS_ALL_NSPACES)
            return {obj.key.split(".")[0] for obj in ioctx.list_objects()}
        finally:
            ioctx.close()
    finally:
        client.shutdown()


def bucket_blob_ids(data_dir: Path, bucket: str) -> set[str]:
    """The blob ids the metadata names for the objects of ``bucket`` (not kept inline)."""
    with sqlite3.connect(data_dir / "metadata.sqlite3") as db:
        rows = db.execute(
            "SELECT segments FROM objects WHERE bucket = ? AND inline_data IS NULL", (bucket,)
        ).fetchall()
    return {segment["blob_id"] for (text,) in rows for segment in json.loads(text)}


def inline_keys(data_dir: Path, bucket: str) -> set[str]:
    """The keys of ``bucket`` whose bytes are in their metadata row."""
    with sqlite3.connect(data_dir / "metadata.sqlite3") as db:
        rows = db.execute(
            "SELECT key FROM objects WHERE bucket = ? AND inline_data IS NOT NULL", (bucket,)
        ).fetchall()
    return {key for (key,) in rows}


def client(server: ServerProcess, region: str) -> Any:
    access_key, secret_key = server.credentials()
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_each_regions_data_is_only_in_its_own_pool(
    regional_server: RegionalServer, ceph_cluster: CephCluster, tmp_path: Path
) -> None:
    server, pools = regional_server.server, regional_server.pools
    s3 = client(server, FR)
    french, german = f"fr-{uuid.uuid4().hex[:10]}", f"de-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=french)
    s3.create_bucket(Bucket=german, CreateBucketConfiguration={"LocationConstraint": DE})
    s3.put_object(Bucket=french, Key="a", Body=b"a" * 70_000)
    s3.put_object(Bucket=german, Key="b", Body=b"b" * 3_000_000)  # three 1 MiB stripes
    big = tmp_path / "big"
    big.write_bytes(bytes(range(256)) * (44 * 1024))  # 11 MiB: three parts
    s3.upload_file(
        str(big),
        german,
        "big",
        Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20),
    )
    s3.copy_object(Bucket=german, Key="copy", CopySource={"Bucket": french, "Key": "a"})
    german_client = client(server, DE)
    assert german_client.get_object(Bucket=german, Key="copy")["Body"].read() == b"a" * 70_000

    in_fr, in_de = pool_blob_ids(ceph_cluster, pools[FR]), pool_blob_ids(ceph_cluster, pools[DE])
    french_blobs = bucket_blob_ids(server.data_dir, french)
    german_blobs = bucket_blob_ids(server.data_dir, german)
    assert len(french_blobs) == 1 and len(german_blobs) == 1 + 3 + 1
    assert french_blobs <= in_fr and not french_blobs & in_de
    assert german_blobs <= in_de and not german_blobs & in_fr
    assert not in_fr & in_de
    local = server.data_dir / "objects"
    assert not local.exists() or not any(p.is_file() for p in local.rglob("*"))


def test_small_objects_stay_in_the_database_only_in_the_regions_named(
    regional_server: RegionalServer, ceph_cluster: CephCluster
) -> None:
    # Decision 0028: a small object's bytes go to the metadata database only in a region that
    # inline_object_regions names; elsewhere they are a blob in the region's pool like any other.
    server, pools = regional_server.server, regional_server.pools
    s3 = client(server, FR)
    french, german = f"fr-{uuid.uuid4().hex[:10]}", f"de-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=french)
    s3.create_bucket(Bucket=german, CreateBucketConfiguration={"LocationConstraint": DE})
    s3.put_object(Bucket=french, Key="small", Body=b"petit")
    german_client = client(server, DE)
    german_client.put_object(Bucket=german, Key="small", Body=b"klein")
    german_client.copy_object(
        Bucket=german, Key="copy", CopySource={"Bucket": french, "Key": "small"}
    )
    assert s3.get_object(Bucket=french, Key="small")["Body"].read() == b"petit"
    assert german_client.get_object(Bucket=german, Key="copy")["Body"].read() == b"petit"

    in_fr, in_de = pool_blob_ids(ceph_cluster, pools[FR]), pool_blob_ids(ceph_cluster, pools[DE])
    assert inline_keys(server.data_dir, german) == set()
    german_blobs = bucket_blob_ids(server.data_dir, german)
    assert len(german_blobs) == 2 and german_blobs <= in_de
    french_blobs = bucket_blob_ids(server.data_dir, french)
    if regional_server.inline_in_fr:
        assert inline_keys(server.data_dir, french) == {"small"} and french_blobs == set()
    else:
        assert inline_keys(server.data_dir, french) == set()
        assert len(french_blobs) == 1 and french_blobs <= in_fr
