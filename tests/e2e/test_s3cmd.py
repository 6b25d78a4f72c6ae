"""s3cmd (from the project venv) against a real ``andromede serve``, path-style, SigV4."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from e2e.clients import Cli, s3cmd_cli
from e2e.helpers import (
    MIB,
    MakeFile,
    empty_and_delete_bucket,
    sha256_file,
    tree_digests,
    unique_bucket,
)
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

S3cmd = Cli


@pytest.fixture
def s3cmd(server: ServerProcess, tmp_path: Path) -> S3cmd:
    """``s3cmd(*args)`` with its own ``-c`` config; fails the test on a non-zero exit."""
    return s3cmd_cli(server, tmp_path)


def test_mb_put_get_ls_sync_del_rb(
    s3cmd: S3cmd, s3: S3Client, make_file: MakeFile, tmp_path: Path
) -> None:
    name = unique_bucket("s3cmd")
    try:
        s3cmd("mb", f"s3://{name}")
        assert f"s3://{name}" in s3cmd("ls").stdout

        single = make_file("single.bin", 77_777)
        s3cmd("put", str(single.path), f"s3://{name}/dir/single.bin")
        listing = s3cmd("ls", f"s3://{name}/dir/").stdout
        assert f"s3://{name}/dir/single.bin" in listing
        back = tmp_path / "single-back.bin"
        s3cmd("get", f"s3://{name}/dir/single.bin", str(back))
        assert sha256_file(back) == single.sha256

        for relative, size in {"x.txt": 10, "y/z.bin": 40_000, "y/w w.bin": 1}.items():
            make_file(f"tree/{relative}", size)
        source = tmp_path / "payload" / "tree"
        s3cmd("sync", f"{source}/", f"s3://{name}/tree/")
        recursive = s3cmd("ls", "--recursive", f"s3://{name}/tree/").stdout
        for relative in tree_digests(source):
            assert f"s3://{name}/tree/{relative}" in recursive
        down = tmp_path / "down"
        down.mkdir()
        s3cmd("sync", f"s3://{name}/tree/", f"{down}/")
        assert tree_digests(down) == tree_digests(source)

        s3cmd("del", f"s3://{name}/dir/single.bin")
        s3cmd("del", "--recursive", "--force", f"s3://{name}/tree/")
        assert s3cmd("ls", "--recursive", f"s3://{name}").stdout.strip() == ""
        s3cmd("rb", f"s3://{name}")
        assert f"s3://{name}" not in s3cmd("ls").stdout
    finally:
        empty_and_delete_bucket(s3, name)


def test_multipart_put(
    s3cmd: S3cmd, s3: S3Client, bucket: str, make_file: MakeFile, tmp_path: Path
) -> None:
    payload = make_file("twelve.bin", 12 * MIB)
    s3cmd("put", "--multipart-chunk-size-mb=5", str(payload.path), f"s3://{bucket}/twelve.bin")
    head = s3.head_object(Bucket=bucket, Key="twelve.bin")
    assert head["ContentLength"] == payload.size
    assert head["ETag"].endswith('-3"'), head["ETag"]
    back = tmp_path / "twelve-back.bin"
    s3cmd("get", f"s3://{bucket}/twelve.bin", str(back))
    assert sha256_file(back) == payload.sha256
