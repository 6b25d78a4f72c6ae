"""``andromede serve`` on PostgreSQL (ANDROMEDE_DATABASE_URL) with boto3, and --migrate-only.

The password in the URL must never reach the output or the log.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from andromede.db.database import create_engine
from e2e.helpers import boto3_client
from support.server import ANDROMEDE, running_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def migrate_only(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANDROMEDE), "serve", "--migrate-only", "--data-dir", str(data_dir)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def schema_version(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


def test_migrate_only_on_postgresql(postgres_empty_url: str, tmp_path: Path) -> None:
    password = sa.make_url(postgres_empty_url).password
    assert password
    result = migrate_only(tmp_path / "data", {"ANDROMEDE_DATABASE_URL": postgres_empty_url})
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    assert "***" in result.stdout + result.stderr
    assert schema_version(postgres_empty_url) is not None
    again = migrate_only(tmp_path / "data", {"ANDROMEDE_DATABASE_URL": postgres_empty_url})
    assert again.returncode == 0, again.stderr


def test_migrate_only_on_sqlite(tmp_path: Path) -> None:
    result = migrate_only(tmp_path / "data", {})
    assert result.returncode == 0, result.stderr
    assert schema_version(f"sqlite:///{tmp_path / 'data' / 'metadata.sqlite3'}") is not None
    assert not (tmp_path / "data" / "admin-credentials").exists()  # migrations only


def test_boto3_against_a_server_on_postgresql(postgres_empty_url: str, tmp_path: Path) -> None:
    password = sa.make_url(postgres_empty_url).password
    assert password
    env = {"ANDROMEDE_DATABASE_URL": postgres_empty_url, "ANDROMEDE_WORKERS": "2"}
    with running_server(tmp_path / "data", extra_env=env) as server:
        s3 = boto3_client(server)
        s3.create_bucket(Bucket="pg-bucket")
        bodies = {f"dir/key-{n}": os.urandom(4096 + n) for n in range(5)}
        for key, body in bodies.items():
            s3.put_object(Bucket="pg-bucket", Key=key, Body=body)
        for key, body in bodies.items():
            assert s3.get_object(Bucket="pg-bucket", Key=key)["Body"].read() == body
        listed = s3.list_objects_v2(Bucket="pg-bucket", Prefix="dir/")
        assert [o["Key"] for o in listed["Contents"]] == sorted(bodies)
        # Small objects live in their PostgreSQL rows (decision 0028), encrypted.
        engine = create_engine(postgres_empty_url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(sa.text("SELECT inline_data FROM objects")).scalars().all()
        finally:
            engine.dispose()
        assert len(stored) == len(bodies) and all(stored)
        assert not any(body[:64] in bytes(data) for body in bodies.values() for data in stored)
        for key in bodies:
            s3.delete_object(Bucket="pg-bucket", Key=key)
        assert s3.list_objects_v2(Bucket="pg-bucket").get("KeyCount") == 0
        s3.delete_bucket(Bucket="pg-bucket")
        with pytest.raises(ClientError):
            s3.head_bucket(Bucket="pg-bucket")
        assert server.log_path is not None
        log = server.log_path.read_text()
    assert password not in log
    # The rows live in PostgreSQL, not in a SQLite file of the data folder.
    assert not (tmp_path / "data" / "metadata.sqlite3").exists()
    engine = create_engine(postgres_empty_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM tenants")) == 1
    finally:
        engine.dispose()


def test_two_gateways_share_one_postgresql(postgres_empty_url: str, tmp_path: Path) -> None:
    # Two servers on one PostgreSQL (and, on this one machine, one data folder for the blobs and
    # the secrets key): what one writes the other serves, and racing completes of one multipart
    # upload through both end with exactly one object.
    data_dir = tmp_path / "data"
    env = {"ANDROMEDE_DATABASE_URL": postgres_empty_url, "ANDROMEDE_WORKERS": "1"}
    with running_server(data_dir, extra_env=env) as first:
        with running_server(data_dir, extra_env=env) as second:
            one, two = boto3_client(first), boto3_client(second)
            one.create_bucket(Bucket="shared")
            body = os.urandom(100_000)
            one.put_object(Bucket="shared", Key="written-by-one", Body=body)
            assert two.get_object(Bucket="shared", Key="written-by-one")["Body"].read() == body

            upload_id = one.create_multipart_upload(Bucket="shared", Key="mp")["UploadId"]
            part_1 = os.urandom(5 * 1024 * 1024)
            part_2 = os.urandom(1000)
            etags = [
                one.upload_part(
                    Bucket="shared", Key="mp", UploadId=upload_id, PartNumber=1, Body=part_1
                )["ETag"],
                two.upload_part(
                    Bucket="shared", Key="mp", UploadId=upload_id, PartNumber=2, Body=part_2
                )["ETag"],
            ]
            layout = {"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]}

            def complete(client: S3Client) -> str:
                try:
                    client.complete_multipart_upload(
                        Bucket="shared", Key="mp", UploadId=upload_id, MultipartUpload=layout
                    )
                except ClientError as exc:
                    return str(exc.response["Error"]["Code"])
                return "ok"

            with ThreadPoolExecutor(2) as pool:
                outcomes = sorted(pool.map(complete, (one, two)))
            assert outcomes == ["NoSuchUpload", "ok"]
            assert one.get_object(Bucket="shared", Key="mp")["Body"].read() == part_1 + part_2
            two.delete_object(Bucket="shared", Key="mp")
            two.delete_object(Bucket="shared", Key="written-by-one")
            assert one.list_objects_v2(Bucket="shared")["KeyCount"] == 0
            one.delete_bucket(Bucket="shared")
