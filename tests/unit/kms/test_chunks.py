"""The chunked blob format: round trips, ranges, sizes, and every tampering we can think of."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from andromede.kms.chunks import (
    FORMAT_FRESH_KEY,
    FORMAT_SALTED,
    HEADER_SIZE,
    NO_SALT,
    TAG_SIZE,
    ChunkDecryptor,
    ChunkEncryptor,
    blob_salt,
    chunk_count,
    ciphertext_size,
    decrypt_blob,
    derive_chunk_key,
    encrypt_blob,
    format_of_salt,
    open_single_chunk,
    plaintext_size,
    plan_range,
    seal_single_chunk,
)
from andromede.kms.errors import IntegrityError, UnsupportedFormatVersion

KEY = bytes(range(32))
C = 16  # small chunks so that a few dozen bytes span several of them
STRIDE = C + TAG_SIZE


def chunk_at(blob: bytes | bytearray, index: int) -> slice:
    return slice(HEADER_SIZE + index * STRIDE, HEADER_SIZE + (index + 1) * STRIDE)


def four_chunk_blob(
    object_id: str = "object-a", key: bytes = KEY, *, fresh: bool = False
) -> tuple[bytes, bytes]:
    plaintext = os.urandom(3 * C + 2)
    return plaintext, bytes(encrypt_blob(key, object_id, plaintext, chunk_size=C, fresh_key=fresh))


# Both formats: 1 derives a salted chunk key, 2 seals under the (fresh) data key itself.
both_formats = pytest.mark.parametrize("fresh", [False, True], ids=["salted", "fresh-key"])


def decrypt_pieces(
    blob: bytes,
    object_id: str,
    size: int,
    start: int,
    stop: int,
    pieces: list[int],
    chunk_size: int = C,
) -> bytes:
    plan = plan_range(size, start, stop, chunk_size)
    decryptor = ChunkDecryptor(KEY, object_id, blob[:HEADER_SIZE], plan)
    body = memoryview(blob)[plan.ciphertext_start : plan.ciphertext_end]
    out = bytearray()
    for piece in pieces:
        out += decryptor.update(body[:piece])
        body = body[piece:]
    out += decryptor.update(body)
    decryptor.finish()
    return bytes(out)


# --- sizes -----------------------------------------------------------------------------------


def test_sizes_of_small_objects() -> None:
    assert chunk_count(0, C) == 1
    assert ciphertext_size(0, C) == HEADER_SIZE + TAG_SIZE
    assert chunk_count(C, C) == 1  # an exact multiple has no extra empty chunk
    assert chunk_count(C + 1, C) == 2
    assert ciphertext_size(2 * C, C) == HEADER_SIZE + 2 * C + 2 * TAG_SIZE
    assert plaintext_size(HEADER_SIZE + TAG_SIZE, C) == 0


@given(size=st.integers(0, 10_000), chunk_size=st.integers(1, 300))
def test_size_arithmetic_round_trips(size: int, chunk_size: int) -> None:
    assert plaintext_size(ciphertext_size(size, chunk_size), chunk_size) == size


@given(stored=st.integers(0, 5_000), chunk_size=st.integers(1, 100))
def test_every_stored_size_is_either_exact_or_refused(stored: int, chunk_size: int) -> None:
    try:
        size = plaintext_size(stored, chunk_size)
    except IntegrityError:
        return
    assert ciphertext_size(size, chunk_size) == stored


def test_the_default_chunk_size_overhead() -> None:
    assert ciphertext_size(1024 * 1024) == HEADER_SIZE + 1024 * 1024 + 16 * TAG_SIZE


# --- round trips and ranges ------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    plaintext=st.binary(max_size=600),
    chunk_size=st.integers(1, 64),
    pieces=st.lists(st.integers(0, 200), max_size=20),
    kind=st.sampled_from(["bytes", "memoryview", "reused bytearray"]),
    fresh=st.booleans(),
)
def test_any_pieces_round_trip(
    plaintext: bytes, chunk_size: int, pieces: list[int], kind: str, fresh: bool
) -> None:
    encryptor = ChunkEncryptor(KEY, b"id", chunk_size=chunk_size, fresh_key=fresh)
    blob = bytearray()
    rest = memoryview(plaintext)
    scratch = bytearray(200)  # like a readinto() buffer: overwritten by the next piece
    for piece in [*pieces, len(plaintext)]:
        part, rest = rest[:piece], rest[piece:]
        if kind == "bytes":  # immutable: the encryptor may hold a view instead of copying
            blob += encryptor.update(bytes(part))
        elif kind == "memoryview":
            blob += encryptor.update(part)
        else:
            fed = memoryview(scratch if len(part) <= len(scratch) else bytearray(len(part)))
            fed[: len(part)] = part
            blob += encryptor.update(fed[: len(part)])
            fed[: len(part)] = b"\xff" * len(part)  # the caller reuses its buffer at once
    blob += encryptor.finish()
    assert encryptor.plaintext_size == len(plaintext)
    assert len(blob) == ciphertext_size(len(plaintext), chunk_size)
    assert decrypt_blob(KEY, b"id", blob, chunk_size=chunk_size) == plaintext


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    plaintext=st.binary(min_size=1, max_size=300),
    chunk_size=st.integers(1, 40),
    pieces=st.lists(st.integers(1, 70), max_size=10),
    fresh=st.booleans(),
)
def test_any_range_decrypts_to_the_slice(
    data: st.DataObject, plaintext: bytes, chunk_size: int, pieces: list[int], fresh: bool
) -> None:
    start = data.draw(st.integers(0, len(plaintext) - 1))
    stop = data.draw(st.integers(start + 1, len(plaintext)))
    blob = bytes(encrypt_blob(KEY, "obj", plaintext, chunk_size=chunk_size, fresh_key=fresh))
    got = decrypt_pieces(blob, "obj", len(plaintext), start, stop, pieces, chunk_size)
    assert got == plaintext[start:stop]


def test_a_range_reads_only_the_chunks_it_touches() -> None:
    plan = plan_range(10 * C, C + 3, 2 * C + 1, C)
    assert (plan.first_chunk, plan.last_chunk) == (1, 2)
    assert plan.ciphertext_start == HEADER_SIZE + STRIDE
    assert plan.ciphertext_end == HEADER_SIZE + 3 * STRIDE
    assert (plan.skip, plan.length) == (3, C - 2)
    assert not plan.last_chunk_is_final
    assert plan_range(10 * C, 9 * C, 10 * C, C).last_chunk_is_final


@both_formats
def test_the_empty_object_round_trips_and_its_range_is_its_final_chunk(fresh: bool) -> None:
    blob = bytes(encrypt_blob(KEY, "empty", b"", chunk_size=C, fresh_key=fresh))
    assert len(blob) == HEADER_SIZE + TAG_SIZE
    assert decrypt_blob(KEY, "empty", blob, chunk_size=C) == b""
    plan = plan_range(0, 0, 0, C)
    assert plan.last_chunk_is_final and plan.ciphertext_end == len(blob)


@pytest.mark.parametrize(("start", "stop"), [(0, 0), (-1, 3), (5, 4), (0, 51), (50, 51)])
def test_bad_ranges_are_caller_errors(start: int, stop: int) -> None:
    with pytest.raises(ValueError, match="range"):
        plan_range(50, start, stop, C)


def test_the_encryptor_holds_at_most_one_chunk() -> None:
    encryptor = ChunkEncryptor(KEY, "id", chunk_size=C)
    assert len(encryptor.update(b"x" * C)) == HEADER_SIZE  # a full chunk may be the final one
    assert len(encryptor.update(b"x")) == STRIDE  # now it is known not to be
    assert len(encryptor.update(b"x" * (5 * C))) == 5 * STRIDE
    assert len(encryptor.finish()) == 1 + TAG_SIZE
    with pytest.raises(RuntimeError):
        encryptor.update(b"more")


def test_the_same_data_key_and_plaintext_give_different_salted_blobs() -> None:
    # Format 1's per-blob salt: reusing a data key never reuses a (chunk key, nonce) pair. (Format
    # 2 relies on its caller's fresh key per blob instead: see test_sealed_blobs' spent keys.)
    first = encrypt_blob(KEY, "id", b"same bytes", chunk_size=C)
    second = encrypt_blob(KEY, "id", b"same bytes", chunk_size=C)
    assert first[HEADER_SIZE:] != second[HEADER_SIZE:]


# --- tampering: always IntegrityError, never wrong bytes ------------------------------------


@both_formats
def test_every_single_bit_flip_is_detected(fresh: bool) -> None:
    _, blob = four_chunk_blob(fresh=fresh)
    for position in range(len(blob)):
        for bit in (0, 7):
            tampered = bytearray(blob)
            tampered[position] ^= 1 << bit
            with pytest.raises(IntegrityError):
                decrypt_blob(KEY, "object-a", tampered, chunk_size=C)


@both_formats
def test_swapping_two_chunks_is_detected(fresh: bool) -> None:
    _, blob = four_chunk_blob(fresh=fresh)
    tampered = bytearray(blob)
    tampered[chunk_at(blob, 0)], tampered[chunk_at(blob, 1)] = (
        blob[chunk_at(blob, 1)],
        blob[chunk_at(blob, 0)],
    )
    with pytest.raises(IntegrityError, match="chunk 0"):
        decrypt_blob(KEY, "object-a", tampered, chunk_size=C)


@pytest.mark.parametrize("other_id", ["object-b", "object-a"])
def test_a_chunk_from_another_blob_under_the_same_data_key_is_detected(other_id: str) -> None:
    # Same data key (only format 1 may reuse one), same or other object id (an overwrite).
    _, blob = four_chunk_blob("object-a")
    _, other = four_chunk_blob(other_id)
    for index in range(3):
        tampered = bytearray(blob)
        tampered[chunk_at(blob, index)] = other[chunk_at(other, index)]
        with pytest.raises(IntegrityError):
            decrypt_blob(KEY, "object-a", tampered, chunk_size=C)


@both_formats
def test_a_blob_presented_under_another_object_id_is_detected(fresh: bool) -> None:
    _, blob = four_chunk_blob("object-a", fresh=fresh)
    with pytest.raises(IntegrityError):
        decrypt_blob(KEY, "object-b", blob, chunk_size=C)


@both_formats
def test_the_wrong_data_key_is_detected(fresh: bool) -> None:
    _, blob = four_chunk_blob(fresh=fresh)
    with pytest.raises(IntegrityError):
        decrypt_blob(bytes(32), "object-a", blob, chunk_size=C)


@both_formats
def test_dropping_a_middle_chunk_is_detected(fresh: bool) -> None:
    _, blob = four_chunk_blob(fresh=fresh)
    tampered = blob[: chunk_at(blob, 1).start] + blob[chunk_at(blob, 1).stop :]
    with pytest.raises(IntegrityError):
        decrypt_blob(KEY, "object-a", tampered, chunk_size=C)


@both_formats
def test_dropping_the_final_chunk_is_detected(fresh: bool) -> None:
    plaintext = os.urandom(3 * C)  # three full chunks: dropping one leaves a plausible size
    blob = bytes(encrypt_blob(KEY, "object-a", plaintext, chunk_size=C, fresh_key=fresh))
    tampered = blob[: chunk_at(blob, 2).start]
    assert plaintext_size(len(tampered), C) == 2 * C
    with pytest.raises(IntegrityError, match="chunk 1"):
        decrypt_blob(KEY, "object-a", tampered, chunk_size=C)


@both_formats
def test_every_truncation_is_detected(fresh: bool) -> None:
    plaintext, blob = four_chunk_blob(fresh=fresh)
    size = len(plaintext)
    for cut in range(len(blob)):
        with pytest.raises(IntegrityError):
            decrypt_blob(KEY, "object-a", blob[:cut], chunk_size=C)
        # Also when the true size comes from the metadata and the blob is short.
        if cut >= HEADER_SIZE:
            with pytest.raises(IntegrityError):
                decrypt_pieces(blob[:cut], "object-a", size, 0, size, [])


@both_formats
def test_truncating_an_empty_object_to_its_header_is_detected(fresh: bool) -> None:
    blob = bytes(encrypt_blob(KEY, "empty", b"", chunk_size=C, fresh_key=fresh))
    decryptor = ChunkDecryptor(KEY, "empty", blob[:HEADER_SIZE], plan_range(0, 0, 0, C))
    assert decryptor.update(b"") == b""
    with pytest.raises(IntegrityError, match="truncated"):
        decryptor.finish()


@both_formats
@pytest.mark.parametrize("garbage_size", [1, TAG_SIZE, STRIDE])
def test_appended_garbage_is_detected(garbage_size: int, fresh: bool) -> None:
    garbage = os.urandom(garbage_size)
    plaintext, blob = four_chunk_blob(fresh=fresh)
    with pytest.raises(IntegrityError):
        decrypt_blob(KEY, "object-a", blob + garbage, chunk_size=C)
    plan = plan_range(len(plaintext), 0, len(plaintext), C)
    decryptor = ChunkDecryptor(KEY, "object-a", blob[:HEADER_SIZE], plan)
    with pytest.raises(IntegrityError, match="more ciphertext"):
        decryptor.update((blob + garbage)[plan.ciphertext_start :])


@both_formats
def test_an_unknown_version_byte_is_refused(fresh: bool) -> None:
    _, blob = four_chunk_blob(fresh=fresh)
    for version in (0, 3, 255):
        with pytest.raises(UnsupportedFormatVersion):
            decrypt_blob(KEY, "object-a", bytes([version]) + blob[1:], chunk_size=C)


def test_a_blob_relabelled_as_the_other_format_is_detected() -> None:
    # Salted, relabelled as fresh-key: the salt is where format 2 has zeros.
    _, salted = four_chunk_blob()
    with pytest.raises(IntegrityError, match="salt"):
        decrypt_blob(KEY, "object-a", bytes([FORMAT_FRESH_KEY]) + salted[1:], chunk_size=C)
    # ... and with the salt zeroed as well: the chunk key (and the AAD) differ.
    relabelled = bytes([FORMAT_FRESH_KEY]) + salted[1:5] + bytes(32) + salted[HEADER_SIZE:]
    with pytest.raises(IntegrityError, match="chunk 0"):
        decrypt_blob(KEY, "object-a", relabelled, chunk_size=C)
    # Fresh-key, relabelled as salted (its zero salt then names an HKDF-derived key).
    _, fresh = four_chunk_blob(fresh=True)
    with pytest.raises(IntegrityError, match="chunk 0"):
        decrypt_blob(KEY, "object-a", bytes([FORMAT_SALTED]) + fresh[1:], chunk_size=C)


def test_a_fresh_key_blob_is_sealed_under_the_data_key_itself() -> None:
    # Format 2 is what it says: an independent AES-GCM decryption with the data key and the
    # documented nonce and AAD opens it (and its header's salt field is zero).
    plaintext = b"sealed under the key itself"
    blob = bytes(encrypt_blob(KEY, "obj", plaintext, chunk_size=64, fresh_key=True))
    assert blob[:HEADER_SIZE] == bytes([2]) + (64).to_bytes(4, "big") + bytes(32)
    assert blob_salt(blob[:HEADER_SIZE], 64) == NO_SALT
    nonce = (0).to_bytes(8, "big") + b"\x01" + bytes(3)
    aad = bytes([2]) + (64).to_bytes(4, "big") + (3).to_bytes(4, "big") + b"obj" + nonce[:9]
    assert AESGCM(KEY).decrypt(nonce, blob[HEADER_SIZE:], aad) == plaintext


@both_formats
def test_a_wrong_plaintext_size_from_the_metadata_is_detected(fresh: bool) -> None:
    plaintext, blob = four_chunk_blob(fresh=fresh)
    for claimed in (len(plaintext) - 1, len(plaintext) + 1, 3 * C):
        with pytest.raises(IntegrityError):
            decrypt_pieces(blob, "object-a", claimed, 0, claimed, [])


@both_formats
def test_a_range_fed_another_chunk_is_detected(fresh: bool) -> None:
    plaintext, blob = four_chunk_blob(fresh=fresh)
    plan = plan_range(len(plaintext), C, C + 4, C)
    decryptor = ChunkDecryptor(KEY, "object-a", blob[:HEADER_SIZE], plan)
    with pytest.raises(IntegrityError, match="chunk 1"):
        decryptor.update(blob[chunk_at(blob, 2)])


@both_formats
def test_a_range_that_ends_at_the_object_end_must_end_with_the_final_chunk(fresh: bool) -> None:
    # Chunk 2 (full, not final) offered as if it were the object's last chunk.
    plaintext = os.urandom(3 * C)
    blob = bytes(encrypt_blob(KEY, "object-a", plaintext, chunk_size=C, fresh_key=fresh))
    plan = plan_range(2 * C, C, 2 * C, C)
    assert plan.last_chunk_is_final
    decryptor = ChunkDecryptor(KEY, "object-a", blob[:HEADER_SIZE], plan)
    with pytest.raises(IntegrityError, match="chunk 1"):
        decryptor.update(blob[chunk_at(blob, 1)])


@given(
    data=st.data(),
    plaintext=st.binary(max_size=120),
    chunk_size=st.integers(1, 40),
    fresh=st.booleans(),
)
def test_a_range_in_one_chunk_opens_in_one_call_as_through_a_decryptor(
    data: st.DataObject, plaintext: bytes, chunk_size: int, fresh: bool
) -> None:
    blob = bytes(encrypt_blob(KEY, "obj", plaintext, chunk_size=chunk_size, fresh_key=fresh))
    if plaintext:
        start = data.draw(st.integers(0, len(plaintext) - 1))
        last = start // chunk_size  # a stop in the same chunk
        stop = data.draw(st.integers(start + 1, min(len(plaintext), (last + 1) * chunk_size)))
    else:
        start = stop = 0
    plan = plan_range(len(plaintext), start, stop, chunk_size)
    salt = blob_salt(blob[:HEADER_SIZE], chunk_size)
    stored = memoryview(blob)[plan.ciphertext_start : plan.ciphertext_end]
    got = open_single_chunk(derive_chunk_key(KEY, salt), "obj", plan, stored, format_of_salt(salt))
    assert got == plaintext[start:stop]
    decryptor = ChunkDecryptor(KEY, "obj", blob[:HEADER_SIZE], plan)
    assert decryptor.update(stored) == got


@both_formats
def test_a_single_chunk_opened_in_one_call_is_verified_as_any_other(fresh: bool) -> None:
    plaintext, blob = four_chunk_blob(fresh=fresh)
    aead = derive_chunk_key(KEY, salt := blob_salt(blob[:HEADER_SIZE], C))
    version = format_of_salt(salt)
    assert version == (FORMAT_FRESH_KEY if fresh else FORMAT_SALTED)
    first = plan_range(len(plaintext), 0, C, C)
    assert (
        open_single_chunk(aead, "object-a", first, blob[chunk_at(blob, 0)], version)
        == plaintext[:C]
    )
    tampered = bytearray(blob[chunk_at(blob, 0)])
    tampered[3] ^= 1
    with pytest.raises(IntegrityError):
        open_single_chunk(aead, "object-a", first, tampered, version)
    with pytest.raises(IntegrityError):  # another blob's id
        open_single_chunk(aead, "object-b", first, blob[chunk_at(blob, 0)], version)
    with pytest.raises(IntegrityError):  # another position's chunk
        open_single_chunk(aead, "object-a", first, blob[chunk_at(blob, 1)], version)
    with pytest.raises(IntegrityError):  # truncated, or more than the chunk
        open_single_chunk(aead, "object-a", first, blob[chunk_at(blob, 0)][:-1], version)
    with pytest.raises(IntegrityError):
        open_single_chunk(
            aead, "object-a", first, blob[HEADER_SIZE : HEADER_SIZE + STRIDE + 1], version
        )
    # A full chunk offered as the object's final one (the metadata's size cut short).
    with pytest.raises(IntegrityError):
        open_single_chunk(
            aead, "object-a", plan_range(C, 0, C, C), blob[chunk_at(blob, 0)], version
        )
    with pytest.raises(ValueError, match="more than one chunk"):
        open_single_chunk(aead, "object-a", plan_range(len(plaintext), 0, C + 1, C), blob, version)


# Written by the code before chunk keys could be cached (commit 4c4da16): the format must not
# change, objects already stored have to keep reading back.
BLOB_BEFORE_CHUNK_KEY_CACHE = bytes.fromhex(
    "010000001095e1704768165c42d01c403598360cd19d6d459f1191545062db5411fc51313e64a14844ab50"
    "cc4cbb6f05c5881cb780818ee549cd1fb428d316d3ca267768fad3f4ee3713f10a398b28433563a597a67a"
    "bcfeceb97e60c7eb2c71b8d722f612d8b99e608540242990c99ee767504721ce59bc900fa813"
)


def test_a_blob_written_by_an_earlier_release_still_decrypts() -> None:
    plain = decrypt_blob(
        KEY, "blob-before-the-chunk-key-cache", BLOB_BEFORE_CHUNK_KEY_CACHE, chunk_size=C
    )
    assert plain == b"forty bytes of plaintext, in 3 chunks.."


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(max_size=40), chunk_size=st.integers(1, 40), fresh=st.booleans())
def test_a_one_chunk_blob_sealed_in_one_call_is_the_encryptors_byte_for_byte(
    plaintext: bytes, chunk_size: int, fresh: bool
) -> None:
    if len(plaintext) > chunk_size:
        with pytest.raises(ValueError, match="longer than one chunk"):
            seal_single_chunk(derive_chunk_key(KEY, bytes(32)), bytes(32), "obj", plaintext, 1)
        plaintext = plaintext[:chunk_size]
    salts: list[bytes] = []

    def recording(data_key: object, salt: bytes) -> object:
        salts.append(salt)
        return derive_chunk_key(KEY, salt)

    encryptor = ChunkEncryptor(
        KEY,
        "obj",
        chunk_size=chunk_size,
        chunk_key=recording,  # type: ignore[arg-type]
        fresh_key=fresh,
    )
    streamed = bytes(encryptor.update(plaintext) + encryptor.finish())
    (salt,) = salts
    assert (salt == NO_SALT) == fresh
    whole = seal_single_chunk(derive_chunk_key(KEY, salt), salt, "obj", plaintext, chunk_size)
    assert whole == streamed
    assert decrypt_blob(KEY, "obj", whole, chunk_size=chunk_size) == plaintext


@pytest.mark.parametrize("salt", [os.urandom(32), NO_SALT], ids=["salted", "fresh-key"])
def test_a_blob_sealed_in_one_call_is_bound_like_any_other(salt: bytes) -> None:
    blob = seal_single_chunk(derive_chunk_key(KEY, salt), salt, "object-a", b"hello", C)
    assert decrypt_blob(KEY, "object-a", blob, chunk_size=C) == b"hello"
    with pytest.raises(IntegrityError):
        decrypt_blob(KEY, "object-b", blob, chunk_size=C)
    with pytest.raises(IntegrityError):  # the final flag is bound: not a chunk followed by more
        decrypt_blob(KEY, "object-a", blob + blob[HEADER_SIZE:], chunk_size=C)
    with pytest.raises(ValueError, match="32 bytes"):
        seal_single_chunk(derive_chunk_key(KEY, salt), os.urandom(16), "object-a", b"hello", C)
