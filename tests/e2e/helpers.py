"""Helpers shared by the end-to-end tests: random payloads with their digests, unique bucket
names, the client binaries the suite must use, and a boto3 client bound to a running server."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import awscrt.checksums
import boto3
import crc32c
import pytest
from botocore.config import Config

from support.aws_cli import run_aws_cli
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CreateBucketConfigurationTypeDef, ObjectIdentifierTypeDef

__all__ = [
    "MIB",
    "VENV_BIN",
    "MakeFile",
    "Payload",
    "boto3_client",
    "checksum",
    "client_binary",
    "composite_checksum",
    "create_bucket",
    "delegate_to_access_points",
    "empty_and_delete_bucket",
    "sha256_bytes",
    "sha256_file",
    "unique_bucket",
    "write_random",
]

MIB = 1024 * 1024
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Payload:
    """A file written for a test and the SHA-256 of its bytes, to compare what comes back."""

    path: Path
    size: int
    sha256: str


MakeFile = Callable[[str, int], Payload]


@dataclass(frozen=True)
class TlsServer:
    """A second ``andromede serve``, over HTTPS with a certificate from a throw-away CA."""

    process: ServerProcess
    ca_pem: Path


def sha256_file(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_random(path: Path, size: int) -> Payload:
    """Random bytes in 1 MiB blocks: incompressible, and never the whole file in memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as stream:
        remaining = size
        while remaining:
            block = os.urandom(min(MIB, remaining))
            digest.update(block)
            stream.write(block)
            remaining -= len(block)
    return Payload(path=path, size=size, sha256=digest.hexdigest())


def raw_checksum(algorithm: str, data: bytes) -> bytes:
    """The big-endian digest S3 sends (base64) in ``x-amz-checksum-<algorithm>``."""
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return int(crc32c.crc32c(data)).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return int(awscrt.checksums.crc64nvme(data)).to_bytes(8, "big")
    if algorithm == "SHA1":
        return hashlib.sha1(data).digest()  # noqa: S324 - the S3 checksum, not a security use
    if algorithm == "SHA256":
        return hashlib.sha256(data).digest()
    if algorithm == "SHA512":
        return hashlib.sha512(data).digest()
    if algorithm == "MD5":
        return hashlib.md5(data, usedforsecurity=False).digest()
    xxhash = {
        "XXHASH64": awscrt.checksums.XXHash.new_xxhash64,
        "XXHASH3": awscrt.checksums.XXHash.new_xxhash3_64,
        "XXHASH128": awscrt.checksums.XXHash.new_xxhash3_128,
    }.get(algorithm)
    if xxhash is not None:
        state = xxhash()
        state.update(data)
        return bytes(state.finalize())
    raise ValueError(algorithm)


def checksum(algorithm: str, data: bytes) -> str:
    """Full-object checksum of ``data`` as S3 writes it."""
    return base64.b64encode(raw_checksum(algorithm, data)).decode()


def composite_checksum(algorithm: str, parts: list[bytes]) -> str:
    """S3's COMPOSITE multipart checksum: the checksum of the concatenated raw part checksums,
    then ``-<part count>``."""
    joined = b"".join(raw_checksum(algorithm, part) for part in parts)
    return f"{checksum(algorithm, joined)}-{len(parts)}"


def unique_bucket(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def client_binary(name: str, in_venv: bool) -> Path:
    """The client the suite must use: the venv's for PyPI tools, PATH's for system packages."""
    if in_venv:
        path = VENV_BIN / name
        if not path.exists():
            pytest.skip(f"{name} not installed in the venv ({path})")
        return path
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed (run scripts/install-system-deps.sh)")
    return Path(found)


def boto3_client(server: ServerProcess, verify: bool | str | None = None) -> S3Client:
    """A boto3 client with DEFAULT checksum settings; only the addressing style is pinned,
    because the server answers path-style on 127.0.0.1."""
    access_key, secret_key = server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        "s3",
        endpoint_url=server.endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        verify=verify,
    )


def create_bucket(client: S3Client, name: str) -> None:
    """CreateBucket in the served region, as a client outside us-east-1 must send it."""
    # The stubs list AWS's regions only; ours is a plain string.
    configuration = cast("CreateBucketConfigurationTypeDef", {"LocationConstraint": REGION})
    client.create_bucket(Bucket=name, CreateBucketConfiguration=configuration)


def delegate_to_access_points(client: Any, bucket: str, account: str) -> None:
    """The bucket policy AWS recommends with access points: anything any principal is
    allowed through one of ``account``'s access points, which then decide."""
    resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    delegate = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "*",
        "Resource": resources,
        "Condition": {"StringEquals": {"s3:DataAccessPointAccount": account}},
    }
    client.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [delegate]})
    )


def empty_and_delete_bucket(client: S3Client, bucket: str) -> None:
    """Teardown: abort uploads, delete every object, delete the bucket. Errors surface as
    teardown errors, since a server that cannot clean up is a finding too."""
    existing = {entry["Name"] for entry in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        return
    for uploads in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in uploads.get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": entry["Key"]} for entry in page.get("Contents", [])
        ]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=bucket)


def tree_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by path relative to it."""
    return {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in root.rglob("*")
        if path.is_file()
    }


def run_cli(
    name: str, argv: list[str], env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a client command line; with ``check``, fail the test with its output on error.
    The aws CLI is forked from a process that imported it (``support.aws_cli``)."""
    if name == "aws":
        result = run_aws_cli(argv, env, timeout=240)
    else:
        result = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=240, check=False
        )
    if check and result.returncode != 0:
        pytest.fail(
            f"{name} {' '.join(argv[1:])} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result
