"""The SQL store's per-process memos of row texts: sealed headers and keys decoded once per text,
a bucket's policy text handed on as the object already read (decision 0030)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.storage import store_sql
from andromede.storage import store_sql_bucket_rows as bucket_rows
from andromede.storage import store_sql_rows as rows
from andromede.storage.model import (
    ContentHeaders,
    MultipartUpload,
    SealedContext,
    SealedHeaders,
    SegmentKey,
)


def test_sealed_rows_are_decoded_once_and_a_changed_text_is_decoded_anew() -> None:
    wrapped, ciphertext = os.urandom(70), os.urandom(60)
    text = rows._stored_headers_json(ContentHeaders(), SealedHeaders(wrapped, ciphertext))
    _, first = rows._stored_headers_from_json(text)
    _, again = rows._stored_headers_from_json(text)
    assert first is again and first == SealedHeaders(wrapped, ciphertext)
    changed = text.replace(rows._b64(ciphertext), rows._b64(ciphertext[::-1]))
    _, other = rows._stored_headers_from_json(changed)
    assert other == SealedHeaders(wrapped, ciphertext[::-1])
    key = rows._segment_key_json(SegmentKey(wrapped))
    assert rows._segment_key_from_json(key) is rows._segment_key_from_json(list(key))
    size = rows._row_memo_size
    texts = [rows._b64(os.urandom(70)) for _ in range(size + 10)]
    for number, stored in enumerate(texts):  # bounded: the oldest entries go, one by one
        rows._segment_key_from_json([stored])
        if number >= size:
            assert next(iter(rows._decoded_keys)) == texts[number - size + 1]
    assert len(rows._decoded_keys) == size
    assert texts[9] not in rows._decoded_keys and texts[10] in rows._decoded_keys


def test_a_bucket_policy_text_read_again_is_the_remembered_object_until_it_changes() -> None:
    text = '{"Version": "2012-10-17"}'
    digest = bucket_rows.policy_digest(text)
    # By name, not position: the columns follow the order the migrations made them (0115).
    named = {"name": "bkt-policy", "tenant_id": "t", "owner_id": "o", "region": "eu"}
    row = tuple(
        digest if column == "policy_digest" else named.get(column)
        for column in bucket_rows._BUCKET_COLUMNS
    )
    bucket_rows._policy_texts.pop(digest, None)
    assert bucket_rows._known_policy(row) == ""  # not held: to be read from bucket_policies
    first = bucket_rows._fetched_policy(text)
    again = bucket_rows._fetched_policy("".join(['{"Version": ', '"2012-10-17"}']))
    assert again is first is bucket_rows._known_policy(row)
    at = bucket_rows._POLICY_DIGEST_AT
    no_policy = (*row[:at], None, *row[at + 1 :])
    assert bucket_rows._known_policy(no_policy) is None
    assert bucket_rows._fetched_policy(None) is None  # deleted between the two reads
    for number in range(bucket_rows._POLICY_TEXTS_SIZE + 10):  # bounded: the oldest texts go
        bucket_rows._fetched_policy(f'{{"Id": "{number}"}}')
    assert len(bucket_rows._policy_texts) == bucket_rows._POLICY_TEXTS_SIZE
    kept = set(bucket_rows._policy_texts.values())
    assert '{"Id": "9"}' not in kept and '{"Id": "10"}' in kept


def test_the_policy_digest_is_the_sha256_of_the_utf8_text() -> None:
    assert bucket_rows.policy_digest("é") == hashlib.sha256("é".encode()).hexdigest()


async def test_the_row_memos_are_bounded_by_the_stores_setting(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        with pytest.raises(ValueError, match="at least one"):
            store_sql.SqlMetadataStore(db, row_memo_size=0)
        store_sql.SqlMetadataStore(db, row_memo_size=3)
        for _ in range(5):
            rows._segment_key_from_json([rows._b64(os.urandom(70))])
        assert len(rows._decoded_keys) == 3  # a larger memo shrinks to the new bound
        assert store_sql.SqlMetadataStore(db)._db is db  # the default bound again
        assert rows._row_memo_size == rows.DEFAULT_ROW_MEMO_SIZE == 10_000
    finally:
        store_sql.SqlMetadataStore(db)  # the process's default bound, whatever failed above
        await db.close()


def test_sealed_headers_are_written_as_json_would_and_read_back_without_it() -> None:
    wrapped, ciphertext = os.urandom(77), os.urandom(61)
    text = rows._stored_headers_json(ContentHeaders(), SealedHeaders(wrapped, ciphertext))
    as_json = {"sealed": [rows._b64(wrapped), rows._b64(ciphertext)]}
    assert text == json.dumps(as_json, separators=(",", ":"))
    rows._decoded_headers.clear()
    assert rows._stored_headers_from_json(text)[1] == SealedHeaders(wrapped, ciphertext)
    # An upload's row has more after the sealed pair: read through JSON, as before.
    upload = MultipartUpload(
        "bkt",
        "key",
        "up",
        datetime.now(UTC),
        "owner",
        ContentHeaders(),
        kms_key_arn="arn:aws:kms:eu:1:key/k",
        sealed_kms_context=SealedContext(os.urandom(70), os.urandom(40)),
    )
    longer = rows._stored_headers_json(ContentHeaders(), SealedHeaders(wrapped, ciphertext), upload)
    assert longer.startswith(text[:-2]) and longer.endswith('"]}')
    assert rows._stored_headers_from_json(longer)[1] == SealedHeaders(wrapped, ciphertext)
    assert rows._upload_keys_from_json(longer)["sealed_kms_context"] == upload.sealed_kms_context
