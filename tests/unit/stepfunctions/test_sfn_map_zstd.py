"""Decision 0358: a distributed Map reads ZSTD inputs (``.zst`` / ``.zstd``: a ``CSV``,
``JSON`` or ``JSONL`` object, the objects ``LOAD_AND_FLATTEN`` reads, an inventory's or an
Athena manifest's data files) through pyarrow's streaming decompressor, a corrupt or cut
stream failing ``States.ItemReaderFailed`` in words and a decompression bomb held to the
reader's bounds; and the reader's ``VersionId`` and ``ExpectedBucketOwner`` given with the
reads they concern."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncGenerator
from typing import Any

import pyarrow as pa
import pytest

from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_readers import Named
from andromede.stepfunctions.map_unzip import ZSTD, compression_of, decompressed
from unit.stepfunctions.test_sfn_distributed_map import Host, distributed, run
from unit.stepfunctions.test_sfn_jsonata_map import jsonata_map
from unit.stepfunctions.test_sfn_jsonata_map import run as run_jsonata

GET = "arn:aws:states:::s3:getObject"
LIST = "arn:aws:states:::s3:listObjectsV2"
WITH_SOURCE = {"v.$": "$$.Map.Item.Value", "at.$": "$$.Map.Item.Source"}


def zstd(data: bytes) -> bytes:
    return bytes(pa.compress(data, codec="zstd", asbytes=True))


def reader(key: str, **config: Any) -> dict[str, Any]:
    return {"Resource": GET, "ReaderConfig": config, "Parameters": {"Bucket": "b", "Key": key}}


def test_the_compression_is_the_keys_suffix() -> None:
    assert [compression_of(k) for k in ("a.jsonl.zst", "a.csv.zstd", "a.gz", "a.json", "zst")] \
        == [ZSTD, ZSTD, "GZIP", None, None]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "body", "config", "expected"),
    [
        ("in.jsonl.zst", b'{"n": 1}\n\n{"n": 2}\n', {"InputType": "JSONL"},
         [({"n": 1}, "line=1"), ({"n": 2}, "line=3")]),
        ("in.csv.zstd", b'k,note\na,"two\nlines"\nb,x\n',
         {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
         [({"k": "a", "note": "two\nlines"}, "line=2"), ({"k": "b", "note": "x"}, "line=4")]),
        ("in.json.zst", json.dumps({"data": [{"id": "a"}, {"id": "b"}]}).encode(),
         {"InputType": "JSON", "ItemsPointer": "/data"},
         [({"id": "a"}, "index=0"), ({"id": "b"}, "index=1")]),
    ],
)  # fmt: skip
async def test_a_zstd_object_is_read_as_its_input_type(
    key: str, body: bytes, config: dict[str, Any], expected: list[tuple[Any, str]]
) -> None:
    host = Host({})
    host.blobs[f"b/{key}"] = zstd(body)
    output, _ = await run(distributed(ItemReader=reader(key, **config),
                                      ItemSelector=WITH_SOURCE), {}, host)  # fmt: skip
    assert output == [{"v": item, "at": f"s3://b/{key}#{place}"} for item, place in expected]


async def test_max_items_stops_a_zstd_object_before_its_end() -> None:
    host = Host({})
    host.blobs["b/big.jsonl.zst"] = zstd(b"".join(b'{"n": %d}\n' % i for i in range(20_000)))
    output, _ = await run(distributed(ItemReader=reader("big.jsonl.zst", InputType="JSONL",
                                                        MaxItems=2)), {}, host)  # fmt: skip
    assert output == [{"n": 0}, {"n": 1}]
    assert host.chunks_read < len(host.blobs["b/big.jsonl.zst"]) / 5  # not read to its end


async def test_zstd_objects_listed_and_flattened_and_in_the_manifests() -> None:
    host = Host({})
    for key, body in (("logs/a.jsonl.zst", b'{"n": 1}\n'), ("logs/b.jsonl.gz", b'{"n": 2}\n'),
                      ("logs/c.jsonl.zstd", b'{"n": 3}\n{"n": 4}\n')):  # fmt: skip
        host.objects[f"b/{key}"] = "(compressed)"
        host.blobs[f"b/{key}"] = gzip.compress(body) if key.endswith(".gz") else zstd(body)
    flat = {
        "Resource": LIST,
        "Parameters": {"Bucket": "b", "Prefix": "logs/"},
        "ReaderConfig": {"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN"},
    }
    output, _ = await run(distributed(ItemReader=flat), {}, host)
    assert output == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]
    # An S3 Inventory's data file, and an Athena UNLOAD's, compressed with ZSTD.
    host.blobs["b/inv/data/0.csv.zst"] = zstd(b'"src","k1","1"\n"src","k2","2"\n')
    host.objects["b/inv/manifest.json"] = json.dumps({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::b", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size", "files": [{"key": "inv/data/0.csv.zst"}]})  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader("inv/manifest.json",
                                                        ManifestType="S3_INVENTORY"),
                                      ItemSelector=WITH_SOURCE), {}, host)  # fmt: skip
    assert output[1] == {"v": {"Bucket": "src", "Key": "k2", "Size": "2"},
                         "at": "s3://b/inv/data/0.csv.zst#line=2"}  # fmt: skip
    host.blobs["b/athena/part-0.zst"] = zstd(b'{"row": 1}\n{"row": 2}\n')
    host.objects["b/athena/manifest.csv"] = "s3://b/athena/part-0.zst\n"
    athena = reader("athena/manifest.csv", ManifestType="ATHENA_DATA", InputType="JSONL")
    output, _ = await run(distributed(ItemReader=athena), {}, host)
    assert output == [{"row": 1}, {"row": 2}]


@pytest.mark.parametrize(
    ("blob", "cause"),
    [
        (b"plain text, not a zstd frame", "The object s3://b/bad.jsonl.zst is not valid ZSTD"),
        (zstd(b"".join(b'{"n": %d}\n' % i for i in range(5000)))[:-40],
         "The ZSTD object s3://b/bad.jsonl.zst ends before its end"),
        (zstd(b'{"n": 1}\n') + b"\x28\xb5\x2f\xfd trailing", "is not valid ZSTD"),
        (zstd(b"\xff\xfe not UTF-8\n"), "A data file is not UTF-8 text"),
        (zstd(b" " * 5_000_000), "A record of the object is larger than 1024 bytes"),
    ],
)  # fmt: skip
async def test_a_corrupt_cut_or_exploding_zstd_object_fails_in_words(
    blob: bytes, cause: str
) -> None:
    host = Host({})
    host.blobs["b/bad.jsonl.zst"] = blob
    error, _ = await asyncio.wait_for(
        run(distributed(ItemReader=reader("bad.jsonl.zst", InputType="JSONL")), {}, host), 60
    )
    assert isinstance(error, StatesError), error
    assert error.error == "States.ItemReaderFailed" and cause in error.cause, error.cause


async def test_a_json_bomb_is_held_to_the_record_bound() -> None:
    host = Host({})
    host.blobs["b/bomb.json.zst"] = zstd(b"[\n" + b"0,\n" * 3_000_000 + b"0]")
    error, _ = await run(distributed(ItemReader=reader("bomb.json.zst", InputType="JSON")), {},
                         host)  # fmt: skip
    assert isinstance(error, StatesError)
    assert "The JSON object is larger than 1024 bytes" in error.cause


async def test_the_decompressor_gives_bounded_pieces_and_closes_its_source() -> None:
    """200 MB of zeros from 6 KB of ZSTD: a piece at most ``most`` bytes, and closing the
    reader after two closes the object's chunks (no thread left reading)."""
    blob = zstd(b"\0" * 200_000_000)
    closed: list[bool] = []

    async def chunks() -> AsyncGenerator[bytes]:
        try:
            for start in range(0, len(blob), 512):
                yield blob[start : start + 512]
        finally:
            closed.append(True)

    pieces = decompressed(chunks(), ZSTD, 4096, "s3://b/bomb.zst")
    sizes = [len(await anext(pieces)), len(await anext(pieces))]
    await pieces.aclose()
    assert sizes == [4096, 4096] and closed == [True]


async def test_version_id_and_expected_owner_go_with_the_reads_they_concern() -> None:
    host = Host({})
    host.blobs["b/in.jsonl.zst"] = zstd(b'{"n": 1}\n')
    named = {"Bucket": "b", "Key": "in.jsonl.zst", "VersionId": "v-1",
             "ExpectedBucketOwner": "000000000001"}  # fmt: skip
    definition = distributed(ItemReader={"Resource": GET, "Parameters": named,
                                         "ReaderConfig": {"InputType": "JSONL"}})  # fmt: skip
    output, _ = await run(definition, {}, host)
    assert output == [{"n": 1}]
    assert host.named == {"b/in.jsonl.zst": Named("v-1", "000000000001")}
    # The manifest is the object named; its data files elsewhere are read as themselves, the
    # data files of the named bucket under its owner.
    host.objects["b/m.csv"] = "s3://other/part-0.jsonl\ns3://b/part-1.jsonl\n"
    host.blobs["other/part-0.jsonl"] = b'{"n": 2}\n'
    host.blobs["b/part-1.jsonl"] = b'{"n": 3}\n'
    host.named.clear()
    athena = {
        "Resource": GET,
        "Parameters": {**named, "Key": "m.csv"},
        "ReaderConfig": {"ManifestType": "ATHENA_DATA", "InputType": "JSONL"},
    }
    output, _ = await run(distributed(ItemReader=athena), {}, host)
    assert output == [{"n": 2}, {"n": 3}]
    assert host.named == {"b/m.csv": Named("v-1", "000000000001"), "other/part-0.jsonl": None,
                          "b/part-1.jsonl": Named(None, "000000000001")}  # fmt: skip
    # A listing, and the objects it flattens, under the owner (a listing has no version).
    host.objects["b/logs/x.jsonl"] = '{"n": 4}\n'
    host.blobs["b/logs/x.jsonl"] = b'{"n": 4}\n'
    host.named.clear()
    listing = {
        "Resource": LIST,
        "Parameters": {"Bucket": "b", "Prefix": "logs/", "ExpectedBucketOwner": "000000000001"},
        "ReaderConfig": {"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN"},
    }
    output, _ = await run(distributed(ItemReader=listing), {}, host)
    assert output == [{"n": 4}]
    assert host.named == {"b/": Named(None, "000000000001"),
                          "b/logs/x.jsonl": Named(None, "000000000001")}  # fmt: skip
    # Neither given: the reads carry nothing, as before.
    host.named.clear()
    await run(distributed(ItemReader=reader("logs/x.jsonl", InputType="JSONL")), {}, host)
    assert host.named == {"b/logs/x.jsonl": None}


async def test_a_jsonata_readers_arguments_compute_the_version() -> None:
    host = Host({"b/in.json": "[1, 2]"})
    definition = jsonata_map(
        processor={"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        ItemReader={"Resource": GET, "ReaderConfig": {"InputType": "JSON"},
                    "Arguments": {"Bucket": "b", "Key": "in.json",
                                  "VersionId": "{% $states.input.version %}"}})  # fmt: skip
    output, _ = await run_jsonata(definition, {"version": "v-7"}, host)
    assert output == [1, 2]
    assert host.named == {"b/in.json": Named("v-7", None)}


@pytest.mark.parametrize("key", ["in.json", "in.json.zst"])
async def test_a_top_level_json_object_is_iterated_by_its_entries(key: str) -> None:
    """As AWS reads it (measured by Floci, its PR 1588): each entry a ``{"Key", "Value"}``
    item, in the object's order, its ``$$.Map.Item.Value`` the entry's value and its key
    ``$$.Map.Item.Key`` (decision 0365); a JSON scalar is still refused."""
    body = json.dumps({"b": {"x": 1}, "a": [2]})
    host = Host({f"b/{key}": body})
    host.blobs[f"b/{key}"] = zstd(body.encode()) if key.endswith(".zst") else body.encode()
    output, _ = await run(distributed(ItemReader=reader(key, InputType="JSON"),
                                      ItemSelector={**WITH_SOURCE, "k.$": "$$.Map.Item.Key"}),
                          {}, host)  # fmt: skip
    assert output == [{"v": {"x": 1}, "k": "b", "at": f"s3://b/{key}#index=0"},
                      {"v": [2], "k": "a", "at": f"s3://b/{key}#index=1"}]  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader(key, InputType="JSON")), {}, host)
    assert output == [{"Key": "b", "Value": {"x": 1}}, {"Key": "a", "Value": [2]}]
    host.objects[f"b/{key}"] = "7"
    host.blobs[f"b/{key}"] = zstd(b"7") if key.endswith(".zst") else b"7"
    error, _ = await run(distributed(ItemReader=reader(key, InputType="JSON")), {}, host)
    assert isinstance(error, StatesError)
    assert "must be an array of items, or an object of entries" in error.cause


async def test_a_reading_cancelled_while_its_thread_waits_for_a_chunk_ends_cleanly() -> None:
    """A Map run stopped while Arrow's thread waits for the object's next chunk: the thread's
    read is let finish, then the chunks are closed; nothing hangs."""
    blob = zstd(b"".join(b'{"n": %d}\n' % i for i in range(50_000)))
    asked = asyncio.Event()
    closed: list[bool] = []

    async def chunks() -> AsyncGenerator[bytes]:
        try:
            yield blob[:16]
            asked.set()
            await asyncio.sleep(3600)  # the next chunk never comes
            yield blob[16:]
        finally:
            closed.append(True)

    async def read_all() -> None:
        async for _ in decompressed(chunks(), ZSTD, 4096, "s3://b/slow.zst"):
            pass

    task = asyncio.create_task(read_all())
    await asyncio.wait_for(asked.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 60)
    assert closed == [True]
