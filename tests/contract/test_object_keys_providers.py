"""The object path over each root-key provider the settings can name (key file, PKCS#11 token):
objects round-trip, provider calls of the token run off the event loop, shredding holds."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.object_keys import key_service, object_cipher
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import EncryptionKeyUnavailable
from andromede.storage.model import ContentHeaders
from andromede.storage.service import BodyIntegrity, ObjectService, StorageLimits
from andromede.storage.store_memory import MemoryMetadataStore

LIMITS = StorageLimits(1 << 24, 1 << 24, 1, 10, 100, 256, 1 << 16, 0.0)


@pytest.fixture(params=["file", "pkcs11"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "file":
        return Settings(data_dir=tmp_path, key_provider="file")
    token = request.getfixturevalue("softhsm").new_token()
    pin_file = tmp_path / "pin"
    pin_file.write_text(token.pin + "\n")
    return Settings(
        data_dir=tmp_path,
        key_provider="pkcs11",
        pkcs11_library=Path(token.library),
        pkcs11_token_label=token.label,
        pkcs11_pin_file=pin_file,
    )


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_objects_round_trip_and_shred(settings: Settings) -> None:
    keys = key_service(settings)
    try:
        svc = ObjectService(
            MemoryMetadataStore(), MemoryBlobStore(), LIMITS, object_cipher(settings, keys)
        )
        await svc.create_bucket("bkt", tenant_id="t1", owner_id="o", region="r")
        data = os.urandom(150_000)
        headers = ContentHeaders(user_metadata={"a": "b"})
        await svc.put_object(
            "bkt", "k", chunks(data), size=len(data), headers=headers, owner_id="o",
            integrity=BodyIntegrity(), encryption=ObjectEncryption("t1"),
        )  # fmt: skip
        record = await svc.head_object("bkt", "k")
        assert record.headers.user_metadata == {"a": "b"}
        got = b"".join([c async for c in svc.read_object(record, 0, len(data) - 1)])
        assert got == data
        keys.destroy_tenant_key("t1")
        with pytest.raises(EncryptionKeyUnavailable):
            await svc.head_object("bkt", "k")
    finally:
        keys.close()
