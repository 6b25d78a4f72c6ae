"""rclone (Debian package, ``provider = Other``) against a real ``andromede serve``.

The tree has small files and one file over 50 MiB, which rclone uploads in 5 MiB parts
(``--s3-upload-cutoff 5M --s3-chunk-size 5M``). Every transfer is checked by downloading again
and comparing SHA-256 locally, besides ``rclone check``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from e2e.clients import RCLONE_REMOTE, Cli, rclone_cli
from e2e.helpers import MIB, MakeFile, tree_digests
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

Rclone = Cli
REMOTE = RCLONE_REMOTE


@pytest.fixture
def rclone(server: ServerProcess, tmp_path: Path) -> Rclone:
    """``rclone(*args)`` with a config file of its own; fails the test on a non-zero exit."""
    return rclone_cli(server, tmp_path)


def lsf(rclone: Rclone, where: str) -> set[str]:
    output = rclone("lsf", "-R", "--files-only", where).stdout
    return {line for line in output.splitlines() if line}


def test_copy_check_lsf_sync_delete(
    rclone: Rclone, s3: S3Client, bucket: str, make_file: MakeFile, tmp_path: Path
) -> None:
    small = {
        "readme.txt": 120,
        "a/one.bin": 4_000,
        "a/two.bin": 65_536,
        "a/b/three.bin": 200_000,
        "a/b/c/four.txt": 1,
        "accents/élan.txt": 500,
        "spaces/with space.bin": 3_000,
    }
    for name, size in small.items():
        make_file(f"tree/{name}", size)
    make_file("tree/large/over-50-mib.bin", 52 * MIB + 123)
    source = tmp_path / "payload" / "tree"
    remote = f"{REMOTE}:{bucket}/tree"

    rclone("copy", str(source), remote)
    assert lsf(rclone, remote) == set(tree_digests(source))
    large = s3.head_object(Bucket=bucket, Key="tree/large/over-50-mib.bin")
    assert large["ETag"].endswith('-11"'), "rclone must upload the large file in 5 MiB parts"
    rclone("check", str(source), remote)

    down = tmp_path / "down"
    rclone("copy", remote, str(down))
    assert tree_digests(down) == tree_digests(source)

    # Change the source: one file removed, one replaced, one added; sync mirrors it.
    (source / "a" / "one.bin").unlink()
    (source / "readme.txt").write_bytes(os.urandom(333))
    (source / "new" / "added.bin").parent.mkdir()
    (source / "new" / "added.bin").write_bytes(os.urandom(10_000))
    rclone("sync", str(source), remote)
    assert lsf(rclone, remote) == set(tree_digests(source))
    rclone("check", str(source), remote)
    shutil.rmtree(down)
    rclone("copy", remote, str(down))
    assert tree_digests(down) == tree_digests(source)

    rclone("delete", remote, "--include", "*.txt")
    remaining = lsf(rclone, remote)
    assert remaining == {name for name in tree_digests(source) if not name.endswith(".txt")}

    # check must notice a difference: it is not a test that cannot fail.
    mismatch = rclone("check", str(source), remote, check=False)
    assert mismatch.returncode != 0
