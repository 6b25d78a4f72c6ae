"""Server-side encryption as users ask for it from the command line: the aws CLI's ``--sse-c``
and ``--sse aws:kms`` (uploads in parts, downloads, copies between keys), the KMS keys and
aliases they name made with ``aws kms``, rclone's SSE-KMS and SSE-C (the latter over HTTPS,
since rclone never sends a customer key over plain HTTP), and s3cmd's SSE-KMS.

Every file is downloaded again and compared by SHA-256; HEAD through boto3 checks what the
server says it stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from e2e.clients import RCLONE_REMOTE, Cli, aws_cli, rclone_cli, s3cmd_cli
from e2e.helpers import (
    MIB,
    MakeFile,
    TlsServer,
    boto3_client,
    create_bucket,
    empty_and_delete_bucket,
    sha256_file,
    tree_digests,
    unique_bucket,
)
from e2e.test_kms_api import kms_client
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

# 20 MiB: over the aws CLI's 8 MiB multipart threshold (three parts) and rclone's 5 MiB cutoff.
LARGE = 20 * MIB
CUSTOMER_KEY = "0123456789abcdef0123456789abcdef"  # 32 bytes, as the aws CLI takes it
OTHER_CUSTOMER_KEY = "fedcba9876543210fedcba9876543210"


def _ssec(key: str) -> dict[str, str]:
    """boto3's SSE-C parameters for a raw 32-byte key (boto3 adds the MD5)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


@pytest.fixture
def aws(server: ServerProcess, tmp_path: Path) -> Cli:
    return aws_cli(server, tmp_path)


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_aws_cli_sse_c_parts_download_and_copy_to_another_key(
    aws: Cli, s3: S3Client, bucket: str, make_file: MakeFile, tmp_path: Path
) -> None:
    payload = make_file("large.bin", LARGE)
    with_key = ("--sse-c", "AES256", "--sse-c-key", CUSTOMER_KEY)
    aws("s3", "cp", str(payload.path), f"s3://{bucket}/large.bin", *with_key, "--only-show-errors")
    head = s3.head_object(Bucket=bucket, Key="large.bin", **_ssec(CUSTOMER_KEY))
    assert head["SSECustomerAlgorithm"] == "AES256"
    assert head["ETag"].endswith('-3"'), "the aws CLI uploads 20 MiB in three parts"
    assert "ServerSideEncryption" not in head

    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/large.bin", str(back), *with_key, "--only-show-errors")
    assert sha256_file(back) == payload.sha256
    # Without the key, or with another, the CLI's HEAD is refused as on AWS (400, 403).
    missing = aws("s3", "cp", f"s3://{bucket}/large.bin", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and "(400)" in missing.stderr
    wrong = aws(
        "s3",
        "cp",
        f"s3://{bucket}/large.bin",
        str(tmp_path / "y"),
        "--sse-c",
        "AES256",
        "--sse-c-key",
        OTHER_CUSTOMER_KEY,
        check=False,
    )
    assert wrong.returncode != 0 and "(403)" in wrong.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()

    # A copy over 8 MiB goes part by part (UploadPartCopy), read with one key, written with
    # another.
    aws(
        "s3",
        "cp",
        f"s3://{bucket}/large.bin",
        f"s3://{bucket}/copy.bin",
        "--sse-c-copy-source",
        "AES256",
        "--sse-c-copy-source-key",
        CUSTOMER_KEY,
        "--sse-c",
        "AES256",
        "--sse-c-key",
        OTHER_CUSTOMER_KEY,
        "--only-show-errors",
    )
    copied = tmp_path / "copied.bin"
    aws(
        "s3",
        "cp",
        f"s3://{bucket}/copy.bin",
        str(copied),
        "--sse-c",
        "AES256",
        "--sse-c-key",
        OTHER_CUSTOMER_KEY,
        "--only-show-errors",
    )
    assert sha256_file(copied) == payload.sha256
    old_key = aws(
        "s3", "cp", f"s3://{bucket}/copy.bin", str(tmp_path / "z"), *with_key, check=False
    )
    assert old_key.returncode != 0 and "(403)" in old_key.stderr


def test_aws_cli_sse_kms_alias_bucket_default_and_key_states(
    aws: Cli, s3: S3Client, bucket: str, make_file: MakeFile, tmp_path: Path
) -> None:
    first = _json(aws("kms", "create-key", "--description", "cli e2e"))["KeyMetadata"]
    second = _json(aws("kms", "create-key", "--description", "cli e2e, second"))["KeyMetadata"]
    alias = f"alias/cli-{uuid.uuid4().hex[:12]}"
    aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", first["KeyId"])
    try:
        payload = make_file("large.bin", LARGE)
        aws(
            "s3",
            "cp",
            str(payload.path),
            f"s3://{bucket}/named.bin",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            alias,
            "--only-show-errors",
        )
        head = s3.head_object(Bucket=bucket, Key="named.bin")
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", first["Arn"])

        # The bucket default names the alias; it is answered as put (Terraform compares it).
        by_default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": alias}
        rules = {"Rules": [{"ApplyServerSideEncryptionByDefault": by_default}]}
        aws(
            "s3api",
            "put-bucket-encryption",
            "--bucket",
            bucket,
            "--server-side-encryption-configuration",
            json.dumps(rules),
        )
        got = _json(aws("s3api", "get-bucket-encryption", "--bucket", bucket))
        default = got["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert default["ApplyServerSideEncryptionByDefault"] == by_default
        small = make_file("small.txt", 1000)
        aws("s3", "cp", str(small.path), f"s3://{bucket}/by-default.txt", "--only-show-errors")
        assert s3.head_object(Bucket=bucket, Key="by-default.txt")["SSEKMSKeyId"] == first["Arn"]
        # Two layers (DSSE-KMS): the CLI's ``s3`` commands do not offer it, ``s3api`` does.
        aws(
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            "dual.txt",
            "--body",
            str(small.path),
            "--server-side-encryption",
            "aws:kms:dsse",
            "--ssekms-key-id",
            alias,
        )
        dual = _json(aws("s3api", "head-object", "--bucket", bucket, "--key", "dual.txt"))
        assert (dual["ServerSideEncryption"], dual["SSEKMSKeyId"]) == ("aws:kms:dsse", first["Arn"])
        aws("s3", "cp", f"s3://{bucket}/dual.txt", str(tmp_path / "dual.txt"), "--only-show-errors")
        assert sha256_file(tmp_path / "dual.txt") == small.sha256
        # Re-pointed, the alias takes the next write to the other key; older objects keep theirs.
        aws("kms", "update-alias", "--alias-name", alias, "--target-key-id", second["KeyId"])
        aws("s3", "cp", str(small.path), f"s3://{bucket}/after.txt", "--only-show-errors")
        assert s3.head_object(Bucket=bucket, Key="after.txt")["SSEKMSKeyId"] == second["Arn"]

        # A disabled key stops reads with KMS's error; enabled again, the object reads whole.
        aws("kms", "disable-key", "--key-id", first["KeyId"])
        back = tmp_path / "back.bin"
        refused = aws("s3", "cp", f"s3://{bucket}/named.bin", str(back), check=False)
        assert refused.returncode != 0
        assert "KMS.DisabledException" in refused.stderr or "(400)" in refused.stderr
        aws("kms", "enable-key", "--key-id", first["KeyId"])
        aws("s3", "cp", f"s3://{bucket}/named.bin", str(back), "--only-show-errors")
        assert sha256_file(back) == payload.sha256
        get = s3.get_object(Bucket=bucket, Key="by-default.txt")
        assert hashlib.sha256(get["Body"].read()).hexdigest() == small.sha256
    finally:
        aws("kms", "delete-alias", "--alias-name", alias, check=False)
        for key in (first, second):
            aws(
                "kms",
                "schedule-key-deletion",
                "--key-id",
                key["KeyId"],
                "--pending-window-in-days",
                "7",
                check=False,
            )


@pytest.fixture
def kms_key(server: ServerProcess) -> Iterator[dict[str, Any]]:
    kms = kms_client(server, *server.credentials())
    metadata: dict[str, Any] = kms.create_key(Description="client e2e")["KeyMetadata"]
    yield metadata
    kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)


def _tree(make_file: MakeFile, root: str) -> Path:
    make_file(f"{root}/large.bin", 12 * MIB)  # three 5 MiB parts
    make_file(f"{root}/small.txt", 3000)
    make_file(f"{root}/sub/empty", 0)
    return make_file(f"{root}/sub/mid.bin", 70_000).path.parent.parent


def test_rclone_and_s3cmd_sse_kms(
    server: ServerProcess,
    s3: S3Client,
    bucket: str,
    kms_key: dict[str, Any],
    make_file: MakeFile,
    tmp_path: Path,
) -> None:
    rclone = rclone_cli(server, tmp_path / "rclone")
    source = _tree(make_file, "tree")
    remote = f"{RCLONE_REMOTE}:{bucket}/tree"
    sse = ("--s3-server-side-encryption", "aws:kms", "--s3-sse-kms-key-id", kms_key["Arn"])
    rclone("copy", str(source), remote, *sse)
    for name in ("large.bin", "small.txt", "sub/empty", "sub/mid.bin"):
        head = s3.head_object(Bucket=bucket, Key=f"tree/{name}")
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms_key["Arn"])
    assert s3.head_object(Bucket=bucket, Key="tree/large.bin")["ETag"].endswith('-3"')
    rclone("check", str(source), remote)
    down = tmp_path / "down"
    rclone("copy", remote, str(down))
    assert tree_digests(down) == tree_digests(source)

    # s3cmd names the key by its id; a 20 MiB file goes in 15 MiB parts.
    s3cmd = s3cmd_cli(server, tmp_path / "s3cmd")
    payload = make_file("large.bin", LARGE)
    s3cmd(
        "put",
        str(payload.path),
        f"s3://{bucket}/kms.bin",
        f"--server-side-encryption-kms-id={kms_key['KeyId']}",
    )
    head = s3.head_object(Bucket=bucket, Key="kms.bin")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms_key["Arn"])
    assert head["ETag"].endswith('-2"'), head["ETag"]
    back = tmp_path / "back.bin"
    s3cmd("get", f"s3://{bucket}/kms.bin", str(back))
    assert sha256_file(back) == payload.sha256


def test_rclone_sse_c_over_https(
    tls_server: TlsServer, make_file: MakeFile, tmp_path: Path
) -> None:
    rclone = rclone_cli(tls_server.process, tmp_path / "rclone", ca_pem=tls_server.ca_pem)
    s3 = boto3_client(tls_server.process, verify=str(tls_server.ca_pem))
    bucket = unique_bucket("rclone-ssec")
    create_bucket(s3, bucket)
    try:
        source = _tree(make_file, "tree")
        remote = f"{RCLONE_REMOTE}:{bucket}/tree"
        customer = ("--s3-sse-customer-algorithm", "AES256", "--s3-sse-customer-key", CUSTOMER_KEY)
        rclone("copy", str(source), remote, *customer)
        head = s3.head_object(Bucket=bucket, Key="tree/large.bin", **_ssec(CUSTOMER_KEY))
        assert head["SSECustomerAlgorithm"] == "AES256"
        assert (
            head["SSECustomerKeyMD5"]
            == base64.b64encode(
                hashlib.md5(CUSTOMER_KEY.encode(), usedforsecurity=False).digest()
            ).decode()
        )
        down = tmp_path / "down"
        rclone("copy", remote, str(down), *customer)
        assert tree_digests(down) == tree_digests(source)
        # Without the key nothing is served: AWS's 400 InvalidRequest for each object.
        without_key = tmp_path / "without-key"
        refused = rclone("copy", remote, str(without_key), check=False)
        assert refused.returncode != 0 and "InvalidRequest" in refused.stderr
        assert tree_digests(without_key) == {}
    finally:
        empty_and_delete_bucket(s3, bucket)
