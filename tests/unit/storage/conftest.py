"""A storage stack per backend pair: memory twins, and SQLite + local disk; SSE-C keys."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.encryption import CustomerKey
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from support.schema import migrated_sqlite


@dataclass
class Stack:
    store: MetadataStore
    blobs: MemoryBlobStore | LocalBlobStore


@pytest.fixture(params=["memory", "sqlite+local"])
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    if request.param == "memory":
        yield Stack(MemoryMetadataStore(), MemoryBlobStore())
        return
    url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    try:
        yield Stack(SqlMetadataStore(db), LocalBlobStore(tmp_path / "data", fsync=False))
    finally:
        await db.close()


def customer_key() -> CustomerKey:
    """A fresh SSE-C key, as a client sends it (key and its MD5, base64)."""
    key = os.urandom(32)
    md5 = base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode()
    return CustomerKey.parse("AES256", base64.b64encode(key).decode(), md5)
