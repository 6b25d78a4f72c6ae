"""The SQL metadata store's bucket rows: their decoding by position into a :class:`Bucket`
with its settings (each distinct settings text decoded once), the bucket policy texts known by
their digest (decision 0034), and the encoding of the access settings a bucket row keeps.
Split off ``store_sql`` for size.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.types import utc_from_stored
from andromede.storage.acl import AccessControlList
from andromede.storage.model import (
    BUCKET_ACCESS_FIELDS,
    Bucket,
    BucketEncryption,
    ObjectOwnership,
    PublicAccessBlock,
    VersioningStatus,
    build_bucket,
)
from andromede.storage.notification import NotificationConfiguration
from andromede.storage.object_lock import ObjectLockConfiguration
from andromede.storage.replication import ReplicationConfiguration
from andromede.storage.store_sql_rows import _OBJECT_COLUMNS, _remember

__all__ = ["policy_digest"]

_B = tables.buckets
_BP = tables.bucket_policies
_O = tables.objects

_BUCKET_COLUMNS = (
    "name",
    "tenant_id",
    "owner_id",
    "region",
    "created_at",
    "object_ownership",
    "public_access_block",
    "acl",
    "encryption",
    "policy_digest",
    "versioning",
    "object_lock",
    "request_payer",
)
_OWNERSHIPS = {o.value: o for o in ObjectOwnership}
_VERSIONING = {v.value: v for v in VersioningStatus}
# ``buckets.request_payer`` of a Requester Pays bucket (decision 0133); NULL: the owner pays.
_REQUESTER = "Requester"
_POLICY_TEXTS_SIZE = 4096  # the bucket-policy texts' bound (below)
# A bucket's policy text, read inside a job (_policy_in) or alone (store_sql_statements).
_GET_POLICY = sa.select(_BP.c.policy).where(_BP.c.bucket == sa.bindparam("bucket"))


def _bucket_from_row(row: Sequence[Any], policy: str | None) -> Bucket:
    """The bucket of a row of ``_BUCKETS`` (its columns in ``_BUCKET_COLUMNS`` order, then its
    data-events document), with the text of the policy its ``policy_digest`` names
    (``_known_policy``, else read by ``_fetch_policy`` or ``_policy_in``)."""
    (
        name,
        tenant_id,
        owner_id,
        region,
        created_at,
        ownership,
        block,
        acl,
        encryption,
        _,
        versioning,
        object_lock,
        request_payer,
        data_events,
        replication,
        notification,
        account_block,
        abac,
        abac_tags,
    ) = row
    # Positionally, in the bucket's field order (every request: see slots_builder).
    return build_bucket(
        name,
        tenant_id,
        owner_id,
        region,
        utc_from_stored(created_at),
        None if ownership is None else _OWNERSHIPS[ownership],
        policy,
        None if block is None else _public_access_block(block),
        None if acl is None else AccessControlList.from_json(acl),
        None if encryption is None else _bucket_encryption(encryption),
        None if versioning is None else _VERSIONING[versioning],
        None if object_lock is None else _lock_configuration(object_lock),
        data_events is not None and _data_reads_logged(data_events),
        None if replication is None else _replication(replication),
        None if notification is None else _notification(notification),
        request_payer == _REQUESTER,
        None if account_block is None else _public_access_block(account_block),
        None,  # access_point: set per request, never stored (decision 0157)
        None if abac is None else () if abac_tags is None else _tag_set(abac_tags),
    )


@functools.lru_cache(maxsize=1024)
def _tag_set(text: str) -> tuple[tuple[str, str], ...]:
    """A bucket's tags (``bucket_tags.tags``) as an ABAC bucket's every request reads them
    (decision 0418), parsed once per text."""
    return tuple((key, value) for key, value in json.loads(text))


@functools.lru_cache(maxsize=16)
def _data_reads_logged(document: str) -> bool:
    """A bucket's data-events document (decision 0109): ``{"read": true}``; no row is off."""
    selected = json.loads(document)
    return isinstance(selected, dict) and selected.get("read") is True


@functools.lru_cache(maxsize=256)
def _replication(document: str) -> ReplicationConfiguration:
    """A bucket's replication configuration (decision 0112), parsed once per text: every PUT
    to a replicating bucket reads it with the bucket."""
    return ReplicationConfiguration.from_text(document)


@functools.lru_cache(maxsize=256)
def _notification(document: str) -> NotificationConfiguration:
    """A bucket's event notification configuration (decision 0132), parsed once per text."""
    return NotificationConfiguration.from_text(document)


# Bucket policy texts by their SHA-256 (``buckets.policy_digest``), as read from
# bucket_policies. A bucket row names its policy by digest: while this process holds that text,
# a request reads neither the text (up to 20 KiB) nor a second row, and the same str object,
# whose hash Python keeps, goes on to the authoriser, which finds the parsed policy by it. A
# change made by any gateway changes the digest, so the next read fetches the new text
# (docs/decisions/0034-bucket-policy-out-of-the-bucket-row.md). Bounded by _POLICY_TEXTS_SIZE.
_policy_texts: OrderedDict[str, str] = OrderedDict()
_POLICY_DIGEST_AT = _BUCKET_COLUMNS.index("policy_digest")


def policy_digest(text: str) -> str:
    """The digest a bucket row keeps of its policy text (migration 0017 computes the same)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _known_policy(row: Sequence[Any]) -> str | None:
    """The policy text of a bucket row when it has none or this process holds it; else ''."""
    digest = row[_POLICY_DIGEST_AT]
    if digest is None:
        return None
    return _policy_texts.get(digest, "")  # a policy is never '': PutBucketPolicy refuses it


def _fetched_policy(text: str | None) -> str | None:
    """A policy text just read from bucket_policies, remembered by its digest (a gateway that
    changed it between the bucket's read and this one: the newer text, under its own)."""
    if text is None:
        return None  # deleted meanwhile
    digest = policy_digest(text)
    known = _policy_texts.get(digest)
    if known is not None:
        return known
    _remember(_policy_texts, digest, text, _POLICY_TEXTS_SIZE)
    return text


def _policy_in(conn: Connection, row: Sequence[Any]) -> str | None:
    """``_known_policy``, reading the text through ``conn`` when this process lacks it."""
    known = _known_policy(row)
    if known != "":
        return known
    return _fetched_policy(conn.scalar(_GET_POLICY, {"bucket": row[0]}))


def _policy_rows(conn: Connection, name: str, policy: str | None) -> None:
    """Store ``policy`` as ``name``'s text (None: remove it), in the job that sets the bucket
    row's ``policy_digest``."""
    conn.execute(_BP.delete().where(_BP.c.bucket == name))
    if policy is not None:
        conn.execute(_BP.insert().values(bucket=name, policy=policy))


# Every request reads its bucket: its settings, immutable values of a few distinct texts, are
# decoded once per text rather than per request (JSON parsing showed in small GETs' profiles).
@functools.lru_cache(maxsize=64)
def _public_access_block(text: str) -> PublicAccessBlock:
    return PublicAccessBlock.from_json(text)


@functools.lru_cache(maxsize=1024)
def _bucket_encryption(text: str) -> BucketEncryption:
    return BucketEncryption.from_json(text)


@functools.lru_cache(maxsize=64)
def _lock_configuration(text: str) -> ObjectLockConfiguration:
    return ObjectLockConfiguration.from_json(text)


def _check_column_order() -> None:
    """The positional decoders (above, and ``store_sql_rows``'s) match the tables (checked
    once, at import)."""
    for table, expected in ((_O, _OBJECT_COLUMNS), (_B, _BUCKET_COLUMNS)):
        actual = tuple(column.name for column in table.c)
        if actual != expected:
            raise RuntimeError(f"{table.name} columns {actual} are not the decoder's {expected}")


_check_column_order()


def _bucket_access_values(changes: Mapping[str, object]) -> dict[str, object]:
    unknown = set(changes) - BUCKET_ACCESS_FIELDS
    if unknown:
        raise ValueError(f"not bucket access fields: {sorted(unknown)}")
    values: dict[str, object] = {}
    for name, value in changes.items():
        if isinstance(
            value,
            PublicAccessBlock | AccessControlList | BucketEncryption,
        ):
            value = value.to_json()
        elif isinstance(value, ObjectOwnership):
            value = value.value
        values[name] = value
    return values
