"""The body-hash rule shared by the APIs whose clients sign the body's hash without sending it."""

from __future__ import annotations

import hashlib

import pytest

from andromede.iam.authn import BodyHashMismatch, headers_with_body_hash


def test_the_server_supplies_the_body_hash() -> None:
    signed = headers_with_body_hash({"host": "h"}, b"Action=ListUsers")
    assert signed == {
        "host": "h",
        "x-amz-content-sha256": hashlib.sha256(b"Action=ListUsers").hexdigest(),
    }


def test_a_hash_the_client_sent_must_be_the_bodys() -> None:
    right = hashlib.sha256(b"{}").hexdigest()
    assert (
        headers_with_body_hash({"x-amz-content-sha256": f" {right} "}, b"{}")[
            "x-amz-content-sha256"
        ]
        == right
    )
    with pytest.raises(BodyHashMismatch):
        headers_with_body_hash({"x-amz-content-sha256": right}, b"{} tampered")
