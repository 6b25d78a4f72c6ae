"""Throughput of the chunked object encryption against the raw AES-256-GCM ceiling.

    python -m bench.kms_throughput [--mib 64] [--repeat 5]

One core, in memory: the figures say how much of what AES-GCM itself allows the chunk format
(nonce/AAD per chunk, buffering, one output buffer per call) keeps. Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.chunks import CHUNK_SIZE, HEADER_SIZE, ChunkDecryptor, ChunkEncryptor, plan_range

MIB = 1 << 20


def best_mib_per_s(size: int, repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return size / MIB / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    size = args.mib * MIB
    data = os.urandom(size)
    view = memoryview(data)
    key = os.urandom(32)

    aead = AESGCM(key)
    nonce, aad = bytes(12), bytes(40)
    stride = CHUNK_SIZE + 16
    per_mib = MIB // CHUNK_SIZE
    reused_out, reused_plain = bytearray(stride), bytearray(CHUNK_SIZE)
    sealed = bytearray(size // CHUNK_SIZE * stride)
    sealed_view = memoryview(sealed)
    for index, offset in enumerate(range(0, size, CHUNK_SIZE)):
        target = sealed_view[index * stride : (index + 1) * stride]
        aead.encrypt_into(nonce, view[offset : offset + CHUNK_SIZE], aad, target)

    # The pure ceiling: AES-GCM over distinct 64 KiB chunks into one reused output buffer.
    def raw_seal() -> None:
        for offset in range(0, size, CHUNK_SIZE):
            aead.encrypt_into(nonce, view[offset : offset + CHUNK_SIZE], aad, reused_out)

    def raw_open() -> None:
        for index in range(size // CHUNK_SIZE):
            chunk = sealed_view[index * stride : (index + 1) * stride]
            aead.decrypt_into(nonce, chunk, aad, reused_plain)

    # The same, but with a fresh output buffer per MiB as a streaming encryptor must return.
    def raw_seal_fresh_output() -> None:
        for base in range(0, size, MIB):
            out = memoryview(bytearray(per_mib * stride))
            for index in range(per_mib):
                offset = base + index * CHUNK_SIZE
                target = out[index * stride : (index + 1) * stride]
                aead.encrypt_into(nonce, view[offset : offset + CHUNK_SIZE], aad, target)

    def raw_open_fresh_output() -> None:
        for base in range(0, size // CHUNK_SIZE, per_mib):
            out = memoryview(bytearray(MIB))
            for index in range(per_mib):
                chunk = sealed_view[(base + index) * stride : (base + index + 1) * stride]
                aead.decrypt_into(
                    nonce, chunk, aad, out[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
                )

    def encrypt(piece: int) -> Callable[[], object]:
        # Separate bytes objects, as an ASGI server hands the body over (cut outside the clock).
        pieces = [data[offset : offset + piece] for offset in range(0, size, piece)]

        def run() -> bytearray:
            encryptor = ChunkEncryptor(key, "bench-object")
            out = bytearray()
            for part in pieces:
                out = encryptor.update(part)
            return encryptor.finish() + out

        return run

    blob = ChunkEncryptor(key, "bench-object")
    stored = blob.update(data) + blob.finish()
    stored_view = memoryview(stored)
    plan = plan_range(size, 0, size)

    def decrypt(piece: int) -> Callable[[], object]:
        def run() -> None:
            decryptor = ChunkDecryptor(key, "bench-object", stored_view[:HEADER_SIZE], plan)
            body = stored_view[plan.ciphertext_start : plan.ciphertext_end]
            for offset in range(0, len(body), piece):
                decryptor.update(body[offset : offset + piece])
            decryptor.finish()

        return run

    rows = [
        ("raw AES-256-GCM seal, 64 KiB chunks (ceiling)", raw_seal),
        ("raw AES-256-GCM open, 64 KiB chunks (ceiling)", raw_open),
        ("raw seal, fresh output buffer per MiB", raw_seal_fresh_output),
        ("raw open, fresh output buffer per MiB", raw_open_fresh_output),
        ("ChunkEncryptor, 1 MiB pieces", encrypt(MIB)),
        ("ChunkEncryptor, 64 KiB pieces", encrypt(CHUNK_SIZE)),
        ("ChunkEncryptor, 16 KiB pieces", encrypt(16 << 10)),
        ("ChunkDecryptor, 16-chunk pieces (1 MiB + 256 B)", decrypt(16 * stride)),
        ("ChunkDecryptor, 1 MiB pieces", decrypt(MIB)),
        ("ChunkDecryptor, 64 KiB pieces", decrypt(CHUNK_SIZE)),
        ("ChunkDecryptor, 16 KiB pieces", decrypt(16 << 10)),
        (
            "MD5 (what every PUT already pays)",
            lambda: hashlib.md5(data, usedforsecurity=False).digest(),
        ),
    ]
    print(f"{args.mib} MiB in memory, best of {args.repeat}, one core")
    for name, run in rows:
        print(f"  {name:<48} {best_mib_per_s(size, args.repeat, run):8.0f} MiB/s")

    # A whole-object PUT and GET as the object path does them, minus HTTP: 64 KiB bytes pieces
    # hashed (MD5 for the ETag) and written to a file (no fsync: the disk is not the question);
    # read back in ~1 MiB blocks (16 whole chunks when encrypted) from the page cache.
    pieces = [data[offset : offset + CHUNK_SIZE] for offset in range(0, size, CHUNK_SIZE)]
    with tempfile.TemporaryDirectory() as scratch:
        plain_path, sealed_path = Path(scratch) / "plain", Path(scratch) / "sealed"

        def put(encrypted: bool) -> Callable[[], object]:
            def run() -> None:
                md5 = hashlib.md5(usedforsecurity=False)
                encryptor = ChunkEncryptor(key, "bench-object") if encrypted else None
                with open(sealed_path if encrypted else plain_path, "wb") as file:
                    for part in pieces:
                        md5.update(part)
                        file.write(encryptor.update(part) if encryptor else part)
                    if encryptor:
                        file.write(encryptor.finish())

            return run

        def get(encrypted: bool) -> Callable[[], object]:
            def run() -> None:
                with open(sealed_path if encrypted else plain_path, "rb") as file:
                    if not encrypted:
                        while file.read(MIB):
                            pass
                        return
                    decryptor = ChunkDecryptor(key, "bench-object", file.read(HEADER_SIZE), plan)
                    while block := file.read(16 * stride):
                        decryptor.update(block)
                    decryptor.finish()

            return run

        print("whole object, in process (MD5 + file write / page-cache read):")
        for name, plain_run, sealed_run in (
            ("PUT", put(False), put(True)),
            ("GET", get(False), get(True)),
        ):
            plain_run(), sealed_run()  # write the files once, warm the cache
            plain_rate = best_mib_per_s(size, args.repeat, plain_run)
            sealed_rate = best_mib_per_s(size, args.repeat, sealed_run)
            print(
                f"  {name}: {plain_rate:6.0f} MiB/s plain, {sealed_rate:6.0f} MiB/s encrypted"
                f" ({(1 - sealed_rate / plain_rate) * 100:+.1f}% slower)"
            )


if __name__ == "__main__":
    main()
