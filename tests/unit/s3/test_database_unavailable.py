"""A metadata database out of reach is a 503 ServiceUnavailable that clients retry, never a 500."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.db.errors import DatabaseUnavailable
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.s3.errors import to_s3_error
from andromede.storage.errors import BlobError, BlobStoreUnavailable
from andromede.storage.store_memory import MemoryMetadataStore
from support.s3app import in_process_client


def test_database_unavailable_maps_to_service_unavailable() -> None:
    error = to_s3_error(DatabaseUnavailable("the metadata database is unavailable"))
    assert error is not None
    assert (error.code, error.status) == ("ServiceUnavailable", 503)


def test_blob_store_unavailable_maps_to_service_unavailable_not_internal_error() -> None:
    error = to_s3_error(BlobStoreUnavailable("the RADOS cluster does not answer"))
    assert error is not None
    assert (error.code, error.status) == ("ServiceUnavailable", 503)
    assert to_s3_error(BlobError("a disk error")) is None  # still an internal error


async def test_requests_answer_503_while_the_database_is_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with in_process_client(tmp_path) as client:
        assert (await client.request("PUT", "/bucket1")).status == 200
        assert (await client.request("PUT", "/bucket1/k", b"data")).status == 200

        async def unavailable(self: MemoryMetadataStore, *args: Any, **kwargs: Any) -> Any:
            raise DatabaseUnavailable("the metadata database is unavailable")

        with monkeypatch.context() as patch:
            for method in (
                "get_bucket",
                "get_object",
                "get_bucket_and_object",
                "put_object",
                "list_objects",
            ):
                patch.setattr(MemoryMetadataStore, method, unavailable)
            for method, path, body in (
                ("GET", "/bucket1/k", b""),
                ("PUT", "/bucket1/k2", b"more"),
                ("GET", "/bucket1", b""),
            ):
                reply = await client.request(method, path, body)
                assert reply.status == 503, (method, path, reply.body)
                assert reply.error_code() == "ServiceUnavailable"
                assert b"postgresql" not in reply.body

        # Authentication reads the access key from the database too (a key not in its cache).
        stranger = dataclasses.replace(
            client, credentials=Credentials("AKIAAAAAAAAAAAAAAAAA", "s" * 40)
        )
        with monkeypatch.context() as patch:
            patch.setattr(MemoryIdentityStore, "get_access_key", unavailable)
            reply = await stranger.request("GET", "/bucket1/k")
            assert (reply.status, reply.error_code()) == (503, "ServiceUnavailable")

        # Back: the same client carries on.
        got = await client.request("GET", "/bucket1/k")
        assert (got.status, got.body) == (200, b"data")
