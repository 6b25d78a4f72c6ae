"""The wrapped-key format's parse and the wrap's AAD: what their per-ring memos give is what
the work gives, and a name once found valid does not make another one pass."""

from __future__ import annotations

import struct

import pytest

from andromede.kms import model
from andromede.kms.errors import InvalidWrappedKey
from andromede.kms.model import (
    DATA_KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    data_key_aad,
    encode_wrapped_key,
    parse_wrapped_key,
)

SEALED = bytes(range(NONCE_SIZE + DATA_KEY_SIZE + TAG_SIZE))


def _spelled(owner: bytes, kek_version: int = 1) -> bytes:
    """A wrapped key naming ``owner`` as it is spelled, valid or not."""
    return struct.pack(">BIB", model.WRAPPED_KEY_FORMAT, kek_version, len(owner)) + owner + SEALED


def test_a_wrapped_key_parses_the_same_before_and_after_its_owner_is_remembered() -> None:
    model._valid_owners.clear()
    wrapped = encode_wrapped_key("tenant-a", 3, SEALED)
    first = parse_wrapped_key(wrapped)
    assert first == ("tenant-a", 3, SEALED)
    assert model._valid_owners == {b"tenant-a": "tenant-a"}
    assert parse_wrapped_key(wrapped) == first
    assert parse_wrapped_key(encode_wrapped_key("tenant-a", 4, SEALED)) == ("tenant-a", 4, SEALED)


@pytest.mark.parametrize("owner", [b"not a tenant!", b"tenant-\xe9", b"", b"x" * 65])
def test_an_invalid_owner_is_refused_whatever_was_remembered(owner: bytes) -> None:
    parse_wrapped_key(encode_wrapped_key("tenant-a", 1, SEALED))
    with pytest.raises(InvalidWrappedKey):
        parse_wrapped_key(_spelled(owner))
    assert owner not in model._valid_owners


def test_the_remembered_owners_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "_RING_MEMO_SIZE", 3)
    model._valid_owners.clear()
    for index in range(10):
        assert parse_wrapped_key(_spelled(f"t{index}".encode()))[0] == f"t{index}"
        assert len(model._valid_owners) <= 3


def test_a_wraps_aad_is_its_tenant_version_and_context_remembered_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(model, "_RING_MEMO_SIZE", 2)
    model._ring_aads.clear()
    expected = b"andromede/kms data key v1" + bytes([8]) + b"tenant-a" + struct.pack(">I", 7)
    for _ in range(2):  # computed, then remembered
        assert data_key_aad("tenant-a", 7) == expected
        assert data_key_aad("tenant-a", 7, b"digest") == expected + b"digest"
    assert data_key_aad("tenant-a", 8) != expected
    assert data_key_aad("tenant-b", 7) != expected
    assert len(model._ring_aads) <= 2
    assert data_key_aad("tenant-a", 7) == expected  # after the memo was emptied
