"""EC2 resource ids, client tokens and tags, and the compute records' format version: the
vocabulary every compute record uses (:mod:`andromede.compute.model` re-exports it)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from typing import Final

from andromede.compute.errors import InvalidId, InvalidParameterValue

__all__ = [
    "CLIENT_TOKEN_MAX",
    "FORMAT_VERSION",
    "ID_PREFIXES",
    "MAX_TAGS",
    "Tags",
    "check_client_token",
    "check_id",
    "check_tags",
    "merge_tags",
    "new_id",
    "remove_tags",
    "request_digest",
    "token_id",
]

FORMAT_VERSION: Final = 1

# Key/value pairs in the order they were set; keys unique.
Tags = tuple[tuple[str, str], ...]

# EC2 resource id prefixes (AWS's long form: prefix + 17 lowercase hex digits).
ID_PREFIXES: Final = (
    "i", "ami", "vol", "snap", "sg", "key", "r", "import-ami", "vpc", "subnet", "eni", "iip-assoc",
    "lt", "rtb", "acl", "igw", "rtbassoc", "eipalloc", "eipassoc", "aclassoc", "nat",
    "pcx", "dopt", "sgr", "pl", "fl", "vpce", "eni-attach", "sir", "vpc-cidr-assoc",
    "subnet-cidr-assoc",
)  # fmt: skip
_ID = re.compile(rf"^({'|'.join(map(re.escape, ID_PREFIXES))})-[0-9a-f]{{8}}(?:[0-9a-f]{{9}})?$")
MAX_TAGS: Final = 50  # EC2's limit per resource
_TAG_KEY_MAX = 128
_TAG_VALUE_MAX = 256


def new_id(prefix: str) -> str:
    """A fresh EC2 id: ``i-0123456789abcdef0`` (17 hex digits)."""
    if prefix not in ID_PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


CLIENT_TOKEN_MAX = 64  # EC2's limit on an idempotency token


def check_client_token(token: str) -> str:
    """``token`` if EC2 takes it as a client token (1 to 64 ASCII characters)."""
    if not 1 <= len(token) <= CLIENT_TOKEN_MAX or not token.isascii():
        raise InvalidParameterValue(
            f"The client token must be 1 to {CLIENT_TOKEN_MAX} ASCII characters"
        )
    return token


def request_digest(asked: Mapping[str, object]) -> str:
    """A digest of what an idempotent request asked for: the same client token with another
    digest is IdempotentParameterMismatch."""
    text = json.dumps(dict(asked), sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def token_id(prefix: str, *parts: str) -> str:
    """An id derived from ``parts`` (an account, a client token, an index): the same parts,
    the same id, so that two gateways acting on one idempotent request write the same row and
    the database keeps one. 68 bits of SHA-256, as many as a fresh id has."""
    if prefix not in ID_PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    digest = hashlib.sha256("\0".join((prefix, *parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def check_id(value: str, prefix: str) -> str:
    """``value`` if it is a well-formed id of kind ``prefix``; :class:`InvalidId` otherwise."""
    match = _ID.match(value)
    if match is None or match.group(1) != prefix:
        raise InvalidId(prefix, value)
    return value


def check_tags(tags: Tags) -> Tags:
    """EC2's tag rules: at most 50, keys 1-128 characters not starting with ``aws:``, values up
    to 256."""
    keys = [key for key, _ in tags]
    if len(set(keys)) != len(keys):
        raise InvalidParameterValue("Duplicate tag key")
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"A resource may have at most {MAX_TAGS} tags")
    for key, value in tags:
        if not 1 <= len(key) <= _TAG_KEY_MAX:
            raise InvalidParameterValue(f"Tag key must be 1 to {_TAG_KEY_MAX} characters")
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue("Tag keys starting with 'aws:' are reserved")
        if len(value) > _TAG_VALUE_MAX:
            raise InvalidParameterValue(f"Tag value must be at most {_TAG_VALUE_MAX} characters")
    return tags


def merge_tags(current: Tags, new: Tags) -> Tags:
    """``current`` with ``new`` set (an existing key takes the new value, in place)."""
    merged = dict(current)
    merged.update(new)
    return check_tags(tuple(merged.items()))


def remove_tags(current: Tags, keys: dict[str, str | None]) -> Tags:
    """``current`` without the keys named; a key given with a value goes only if it matches."""
    return tuple(
        (key, value)
        for key, value in current
        if key not in keys or (keys[key] is not None and keys[key] != value)
    )
