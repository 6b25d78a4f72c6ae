"""AWS general-purpose bucket naming rules."""

from __future__ import annotations

import pytest

from andromede.storage.bucket_names import is_valid_bucket_name, validate_bucket_name
from andromede.storage.errors import InvalidBucketName

VALID = [
    "abc",
    "my-bucket",
    "my.bucket.name",
    "a1b2c3",
    "123",
    "docexamplebucket1",
    "a" * 63,
    "1.2.3",
    "256.1.1.1.1",
]

INVALID = [
    "ab",  # too short
    "a" * 64,  # too long
    "My-Bucket",  # upper case
    "my_bucket",  # underscore
    "-bucket",  # starts with hyphen
    "bucket-",  # ends with hyphen
    ".bucket",
    "bucket.",
    "my..bucket",
    "my.-bucket",
    "my-.bucket",
    "192.168.5.4",  # IP address shaped
    "xn--bucket",
    "sthree-bucket",
    "amzn-s3-demo-bucket",
    "bucket-s3alias",
    "bucket--ol-s3",
    "bucket.mrap",
    "bucket--x-s3",
    "bucket--table-s3",
    "bucket\n",
    "bück",
    "",
]


@pytest.mark.parametrize("name", VALID)
def test_valid(name: str) -> None:
    assert is_valid_bucket_name(name)
    validate_bucket_name(name)


@pytest.mark.parametrize("name", INVALID)
def test_invalid(name: str) -> None:
    assert not is_valid_bucket_name(name)
    with pytest.raises(InvalidBucketName):
        validate_bucket_name(name)
