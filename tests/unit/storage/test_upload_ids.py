"""Multipart upload ids: random, URL-safe, and never starting with ``-``, which the aws CLI
would take for an option (``--upload-id -abc``: "expected one argument")."""

from __future__ import annotations

import re
import secrets

import pytest

from andromede.storage.service import new_upload_id


def test_an_id_drawn_with_a_leading_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["-MWCE57vZggsZ4-grA90rqAQui1Ts94L", "MWCE57vZggsZ4-grA90rqAQui1Ts94L"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda _: next(drawn))
    assert new_upload_id() == "MWCE57vZggsZ4-grA90rqAQui1Ts94L"


def test_ids_are_url_safe_unique_and_never_start_with_a_dash() -> None:
    # One id in 64 would start with "-" if nothing prevented it: 2,000 ids show it.
    ids = [new_upload_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{31}", upload_id) for upload_id in ids)
