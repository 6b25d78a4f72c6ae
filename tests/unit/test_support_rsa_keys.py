"""The test IdPs' RSA keys (tests/support/rsa_keys.py): every key held at once distinct, a key
nothing holds any more given again."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from support.rsa_keys import rsa_private_key


def _public(key: rsa.RSAPrivateKey) -> int:
    return key.public_key().public_numbers().n


def test_keys_held_at_once_are_distinct_and_a_dropped_one_is_given_again() -> None:
    held = [rsa_private_key() for _ in range(3)]
    assert len({_public(key) for key in held}) == 3
    dropped = _public(held.pop())
    again = rsa_private_key()
    assert _public(again) == dropped
    assert _public(rsa_private_key()) not in {_public(key) for key in [*held, again]}


def test_each_size_is_its_own() -> None:
    small = rsa_private_key(2048)
    assert small.key_size == 2048
    assert rsa_private_key(3072).key_size == 3072
