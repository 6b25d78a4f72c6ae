"""The aws CLI (awscli v1 from the project venv) against a real ``andromede serve``.

The CLI runs with HOME, its config and its credentials all in the test's tmp folder, and every
``AWS_*`` variable of the machine removed, so nothing leaks in from the developer's setup.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from e2e.clients import Cli, aws_cli
from e2e.helpers import (
    MIB,
    MakeFile,
    empty_and_delete_bucket,
    sha256_bytes,
    sha256_file,
    tree_digests,
    unique_bucket,
)
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

Aws = Cli


@pytest.fixture
def aws(server: ServerProcess, tmp_path: Path) -> Aws:
    """``aws(*args)`` runs the venv's aws CLI against the server and fails on a non-zero exit."""
    return aws_cli(server, tmp_path)


def api(aws: Aws, *args: str) -> Any:
    """``aws s3api ...`` with its JSON output parsed."""
    output = aws("s3api", *args).stdout
    return json.loads(output) if output.strip() else {}


def make_tree(make_file: MakeFile, root: str) -> dict[str, str]:
    """A small tree of files; returns relative path -> sha256."""
    sizes = {
        "a.txt": 10,
        "b.bin": 70_000,
        "sub/c.bin": 1_000,
        "sub/deeper/d.bin": 300_000,
        "sub/deeper/e e.txt": 0,
    }
    return {name: make_file(f"{root}/{name}", size).sha256 for name, size in sizes.items()}


def test_mb_cp_ls_sync_rm_rb(aws: Aws, s3: S3Client, make_file: MakeFile, tmp_path: Path) -> None:
    name = unique_bucket("cli")
    try:
        aws("s3", "mb", f"s3://{name}")
        assert name in aws("s3", "ls").stdout

        single = make_file("single.bin", 40_000)
        aws("s3", "cp", str(single.path), f"s3://{name}/one/single.bin")
        listing = aws("s3", "ls", f"s3://{name}/one/").stdout
        assert "single.bin" in listing
        assert str(single.size) in listing
        back = tmp_path / "single-back.bin"
        aws("s3", "cp", f"s3://{name}/one/single.bin", str(back))
        assert sha256_file(back) == single.sha256

        expected = make_tree(make_file, "tree")
        aws("s3", "sync", str(tmp_path / "payload" / "tree"), f"s3://{name}/tree/")
        recursive = aws("s3", "ls", "--recursive", f"s3://{name}/tree/").stdout
        for relative in expected:
            assert f"tree/{relative}" in recursive
        down = tmp_path / "down"
        aws("s3", "sync", f"s3://{name}/tree/", str(down))
        assert tree_digests(down) == expected
        # A second sync has nothing to do.
        assert (
            aws("s3", "sync", str(tmp_path / "payload" / "tree"), f"s3://{name}/tree/").stdout == ""
        )

        aws("s3", "rm", f"s3://{name}/one/single.bin")
        aws("s3", "rm", "--recursive", f"s3://{name}/tree/")
        assert aws("s3", "ls", "--recursive", f"s3://{name}/", check=False).stdout.strip() == ""
        aws("s3", "rb", f"s3://{name}")
        assert name not in aws("s3", "ls").stdout
    finally:
        empty_and_delete_bucket(s3, name)


def test_multipart_cp_110_mib(aws: Aws, bucket: str, make_file: MakeFile, tmp_path: Path) -> None:
    payload = make_file("large.bin", 110 * MIB)
    aws("s3", "cp", str(payload.path), f"s3://{bucket}/large.bin")
    head = api(aws, "head-object", "--bucket", bucket, "--key", "large.bin")
    assert head["ContentLength"] == payload.size
    assert "-" in head["ETag"], "a 110 MiB aws s3 cp must be a multipart upload"
    back = tmp_path / "large-back.bin"
    aws("s3", "cp", f"s3://{bucket}/large.bin", str(back))
    assert sha256_file(back) == payload.sha256


def test_s3api_objects(aws: Aws, bucket: str, make_file: MakeFile, tmp_path: Path) -> None:
    payload = make_file("obj.bin", 123_457)
    put = api(
        aws,
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "dir/obj.bin",
        "--body",
        str(payload.path),
        "--content-type",
        "application/x-e2e",
        "--metadata",
        "colour=blue",
    )
    assert put["ETag"].startswith('"')
    head = api(aws, "head-object", "--bucket", bucket, "--key", "dir/obj.bin")
    assert head["ContentLength"] == payload.size
    assert head["ContentType"] == "application/x-e2e"
    assert head["Metadata"] == {"colour": "blue"}
    assert head["ETag"] == put["ETag"]

    out = tmp_path / "obj-out.bin"
    got = api(aws, "get-object", "--bucket", bucket, "--key", "dir/obj.bin", str(out))
    assert got["ContentLength"] == payload.size
    assert sha256_file(out) == payload.sha256

    api(aws, "put-object", "--bucket", bucket, "--key", "other", "--body", str(payload.path))
    listed = api(aws, "list-objects-v2", "--bucket", bucket)
    assert [entry["Key"] for entry in listed["Contents"]] == ["dir/obj.bin", "other"]
    assert all(entry["Size"] == payload.size for entry in listed["Contents"])
    prefixed = api(aws, "list-objects-v2", "--bucket", bucket, "--prefix", "dir/")
    assert [entry["Key"] for entry in prefixed["Contents"]] == ["dir/obj.bin"]

    api(aws, "delete-object", "--bucket", bucket, "--key", "other")
    missing = aws("s3api", "head-object", "--bucket", bucket, "--key", "other", check=False)
    assert missing.returncode != 0
    assert "404" in missing.stderr

    # S3 Select (decision 0234): the CLI writes the Records events' bytes to its outfile.
    table = tmp_path / "t.csv"
    table.write_bytes(b"a,b\n1,x\n2,y\n")
    api(aws, "put-object", "--bucket", bucket, "--key", "t.csv", "--body", str(table))
    selected = tmp_path / "selected.csv"
    aws(
        "s3api",
        "select-object-content",
        "--bucket",
        bucket,
        "--key",
        "t.csv",
        "--expression",
        "SELECT s.b FROM S3Object s WHERE s.a = '2'",
        "--expression-type",
        "SQL",
        "--input-serialization",
        '{"CSV": {"FileHeaderInfo": "USE"}}',
        "--output-serialization",
        '{"CSV": {}}',
        str(selected),
    )
    assert selected.read_bytes() == b"y\n"


def test_s3api_multipart_upload(aws: Aws, bucket: str, make_file: MakeFile, tmp_path: Path) -> None:
    first = make_file("part1.bin", 5 * MIB)
    second = make_file("part2.bin", 700_000)
    upload_id = api(aws, "create-multipart-upload", "--bucket", bucket, "--key", "mpu")["UploadId"]
    etags = []
    for number, part in enumerate((first, second), start=1):
        response = api(
            aws,
            "upload-part",
            "--bucket",
            bucket,
            "--key",
            "mpu",
            "--upload-id",
            upload_id,
            "--part-number",
            str(number),
            "--body",
            str(part.path),
        )
        etags.append(response["ETag"])
    parts = api(aws, "list-parts", "--bucket", bucket, "--key", "mpu", "--upload-id", upload_id)
    assert [part["PartNumber"] for part in parts["Parts"]] == [1, 2]
    uploads = api(aws, "list-multipart-uploads", "--bucket", bucket)
    assert [entry["UploadId"] for entry in uploads["Uploads"]] == [upload_id]

    manifest = tmp_path / "parts.json"
    manifest.write_text(
        json.dumps({"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    )
    complete = api(
        aws,
        "complete-multipart-upload",
        "--bucket",
        bucket,
        "--key",
        "mpu",
        "--upload-id",
        upload_id,
        "--multipart-upload",
        f"file://{manifest}",
    )
    assert complete["ETag"].endswith('-2"')
    attributes = api(
        aws,
        "get-object-attributes",
        "--bucket",
        bucket,
        "--key",
        "mpu",
        "--object-attributes",
        "ETag",
        "ObjectSize",
        "ObjectParts",
    )
    assert attributes["ETag"] == complete["ETag"].strip('"')
    assert attributes["ObjectSize"] == 5 * MIB + 700_000
    assert attributes["ObjectParts"]["TotalPartsCount"] == 2
    assert attributes["LastModified"]

    out = tmp_path / "mpu-out.bin"
    api(aws, "get-object", "--bucket", bucket, "--key", "mpu", str(out))
    expected = sha256_bytes(first.path.read_bytes() + second.path.read_bytes())
    assert sha256_file(out) == expected

    aborted = api(aws, "create-multipart-upload", "--bucket", bucket, "--key", "gone")["UploadId"]
    api(aws, "abort-multipart-upload", "--bucket", bucket, "--key", "gone", "--upload-id", aborted)
    assert not api(aws, "list-multipart-uploads", "--bucket", bucket).get("Uploads")


def test_presign_then_urllib_get(aws: Aws, bucket: str, make_file: MakeFile) -> None:
    payload = make_file("shared.bin", 64_000)
    aws("s3", "cp", str(payload.path), f"s3://{bucket}/shared.bin")
    url = aws("s3", "presign", f"s3://{bucket}/shared.bin", "--expires-in", "300").stdout.strip()
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=30) as response:
        assert sha256_bytes(response.read()) == payload.sha256
