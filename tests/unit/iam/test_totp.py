"""TOTP against RFC 6238's published test vectors (appendix B), and the accepting window."""

from __future__ import annotations

import pytest

from andromede.iam import totp

SHA1_SEED = b"12345678901234567890"
SHA256_SEED = b"12345678901234567890123456789012"
SHA512_SEED = b"1234567890123456789012345678901234567890123456789012345678901234"

# (unix time, SHA-1, SHA-256, SHA-512) codes of 8 digits, RFC 6238 appendix B.
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("when", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc6238_vectors(when: int, sha1: str, sha256: str, sha512: str) -> None:
    step = totp.time_step(when)
    assert totp.totp(SHA1_SEED, step, 8, "sha1") == sha1
    assert totp.totp(SHA256_SEED, step, 8, "sha256") == sha256
    assert totp.totp(SHA512_SEED, step, 8, "sha512") == sha512


def test_six_digit_code_is_the_last_six_of_the_eight() -> None:
    assert totp.totp(SHA1_SEED, totp.time_step(59)) == "287082"


def test_window_is_one_step_either_side() -> None:
    now = 1111111111.0
    step = totp.time_step(now)
    for offset in (-1, 0, 1):
        code = totp.totp(SHA1_SEED, step + offset)
        assert totp.matching_step(SHA1_SEED, code, now) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(SHA1_SEED, totp.totp(SHA1_SEED, step + offset), now) is None
    assert totp.matching_step(SHA1_SEED, "000000x", now) is None


def test_a_used_step_is_not_matched_again() -> None:
    now = 1111111111.0
    step = totp.time_step(now)
    code = totp.totp(SHA1_SEED, step)
    assert totp.matching_step(SHA1_SEED, code, now, after=step) is None
    assert totp.matching_step(SHA1_SEED, code, now, after=step - 1) == step


def test_base32_round_trip_and_uri() -> None:
    seed = totp.new_seed()
    assert len(seed) == 20
    text = totp.seed_to_base32(seed)
    assert "=" not in text and totp.seed_from_base32(text.lower()) == seed
    uri = totp.otpauth_uri(seed, "phone@123456789012", "Andromede")
    assert uri.startswith("otpauth://totp/Andromede%3Aphone%40123456789012?secret=")
    assert f"secret={text}&" in uri and "period=30" in uri and "digits=6" in uri
