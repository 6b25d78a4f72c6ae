"""S3 bucket naming rules (AWS's general-purpose bucket rules), as a pure check.

A valid name is 3 to 63 characters of lower-case letters, digits, dots and hyphens; it begins
and ends with a letter or a digit; it is not shaped like an IPv4 address; it has no two adjacent
dots (nor a dot beside a hyphen, which would make an invalid DNS label in virtual-host-style
addressing); and it avoids the prefixes and suffixes AWS reserves for its own access points and
bucket types.
"""

from __future__ import annotations

import re

from andromede.storage.errors import InvalidBucketName

__all__ = ["is_valid_bucket_name", "validate_bucket_name"]

_SHAPE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_BAD_SEQUENCES = ("..", ".-", "-.")


def _problem(name: str) -> str | None:
    if not _SHAPE.fullmatch(name):
        return (
            "must be 3 to 63 lower-case letters, digits, dots or hyphens, "
            "beginning and ending with a letter or a digit"
        )
    for sequence in _BAD_SEQUENCES:
        if sequence in name:
            return f"must not contain {sequence!r}"
    if _IPV4.fullmatch(name):
        return "must not be formatted as an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"must not begin with {prefix!r}"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with {suffix!r}"
    return None


def is_valid_bucket_name(name: str) -> bool:
    return _problem(name) is None


def validate_bucket_name(name: str) -> None:
    """Raise :class:`InvalidBucketName` saying which rule ``name`` breaks."""
    problem = _problem(name)
    if problem is not None:
        raise InvalidBucketName(f"The specified bucket name is not valid: it {problem}.")
