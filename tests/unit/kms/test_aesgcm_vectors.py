"""NIST CAVP AES-GCM vectors (gcmEncryptExtIV256 / gcmDecrypt256) against the primitive we call.

The vectors ship in the ``cryptography_vectors`` package. The chunk format uses 256-bit keys,
96-bit IVs and 128-bit tags only, so exactly those vectors are run, FAIL cases of decrypt too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cryptography_vectors
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VECTORS = Path(cryptography_vectors.__file__).parent / "ciphers" / "AES" / "GCM"


def load_vectors(name: str) -> list[dict[str, str]]:
    """Parse a CAVP .rsp file: ``[Name = value]`` section headers, then ``Key = value`` records."""
    vectors: list[dict[str, str]] = []
    section: dict[str, str] = {}
    record: dict[str, str] | None = None
    for raw in (VECTORS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            key, _, value = line.strip("[]").partition("=")
            section[key.strip()] = value.strip()
            continue
        if line == "FAIL":
            assert record is not None
            record["FAIL"] = "1"
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == "Count":
            record = {**section, "Count": value}
            vectors.append(record)
        else:
            assert record is not None
            record[key] = value
    return vectors


def supported(vectors: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    for vector in vectors:
        if vector["Keylen"] == "256" and vector["IVlen"] == "96" and vector["Taglen"] == "128":
            yield vector


ENCRYPT = list(supported(load_vectors("gcmEncryptExtIV256.rsp")))
DECRYPT = list(supported(load_vectors("gcmDecrypt256.rsp")))


def test_the_vector_files_hold_what_we_expect() -> None:
    # 25 sections (5 plaintext x 5 AAD lengths) of 15 vectors each, and decrypt has FAIL cases.
    assert len(ENCRYPT) == 375
    assert len(DECRYPT) == 375
    assert 0 < sum("FAIL" in vector for vector in DECRYPT) < len(DECRYPT)


@pytest.mark.parametrize(
    "vector", ENCRYPT, ids=lambda v: f"{v['PTlen']}-{v['AADlen']}-{v['Count']}"
)
def test_encrypt_matches_nist(vector: dict[str, str]) -> None:
    aead = AESGCM(bytes.fromhex(vector["Key"]))
    sealed = aead.encrypt(
        bytes.fromhex(vector["IV"]), bytes.fromhex(vector["PT"]), bytes.fromhex(vector["AAD"])
    )
    assert sealed == bytes.fromhex(vector["CT"]) + bytes.fromhex(vector["Tag"])
    # The in-place variant the chunk format uses gives the same bytes.
    out = bytearray(len(sealed))
    aead.encrypt_into(
        bytes.fromhex(vector["IV"]), bytes.fromhex(vector["PT"]), bytes.fromhex(vector["AAD"]), out
    )
    assert out == sealed


@pytest.mark.parametrize(
    "vector", DECRYPT, ids=lambda v: f"{v['PTlen']}-{v['AADlen']}-{v['Count']}"
)
def test_decrypt_matches_nist(vector: dict[str, str]) -> None:
    aead = AESGCM(bytes.fromhex(vector["Key"]))
    iv, aad = bytes.fromhex(vector["IV"]), bytes.fromhex(vector["AAD"])
    sealed = bytes.fromhex(vector["CT"]) + bytes.fromhex(vector["Tag"])
    out = bytearray(len(sealed) - 16)
    if "FAIL" in vector:
        with pytest.raises(InvalidTag):
            aead.decrypt(iv, sealed, aad)
        with pytest.raises(InvalidTag):
            aead.decrypt_into(iv, sealed, aad, out)
    else:
        assert aead.decrypt(iv, sealed, aad) == bytes.fromhex(vector["PT"])
        aead.decrypt_into(iv, sealed, aad, out)
        assert out == bytes.fromhex(vector["PT"])
