"""Extended S3's dynamic partitioning (decision 0270), pure: a batch's records de-aggregated,
given their partition keys by the ``MetadataExtraction`` processor's JQ query, a delimiter
appended, and grouped by partition, as AWS's "Dynamic Partitioning in Amazon Data Firehose"
describes.

- **De-aggregation** (``RecordDeAggregation``): ``JSON`` splits a record into the JSON
  objects it holds one after another (``{…}{…}`` or one a line); ``DELIMITED`` splits it at
  its delimiter. Each part is then a record of its own.
- **Metadata extraction**: the query (JQ 1.6's language, checked by the ``jq`` library:
  libjq itself; run by a :class:`QueryRunner`, ``firehose.jq_runner``'s sandboxed process)
  is run on each record parsed as JSON and must give an object; each of its keys
  becomes a partition key, its value (a string, a number or a boolean) written as text.
  A record that is not JSON, or whose query fails or gives no object, a key missing or null,
  fails (``DynamicPartitioning.MetadataExtractionFailed``) and goes to the error output.
- **Delimiter** (``AppendDelimiterToRecord``): its bytes appended to every record.
- **Active partitions**: the partitions of a batch beyond ``max_partitions`` (AWS's active
  partitions quota) are not written: their records go to the error output with
  ``DynamicPartitioning.ActivePartitionsLimitExceeded``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from andromede.firehose.errors import InvalidArgument
from andromede.firehose.model import (
    LAMBDA_KEY,
    MIB,
    Partitioning,
    S3Destination,
    check_prefixes,
)

try:  # libjq's binding (the ``jq`` package); without it, MetadataExtraction is refused
    import jq as _jq  # type: ignore[import-not-found,unused-ignore]  # no stubs
except ImportError:  # pragma: no cover (a deployment installed without it)
    _jq = None

__all__ = [
    "EXTRACTION_FAILED",
    "LIMIT_EXCEEDED",
    "Extracted",
    "PartitionedBatch",
    "Piece",
    "QueryRunner",
    "check_destination",
    "compile_query",
    "keys_of",
    "partition_batch",
    "query_keys",
]

EXTRACTION_FAILED: Final = "DynamicPartitioning.MetadataExtractionFailed"
LIMIT_EXCEEDED: Final = "DynamicPartitioning.ActivePartitionsLimitExceeded"
# AWS's least buffer size with dynamic partitioning.
MIN_PARTITIONED_SIZE_MB: Final = 64
_MAX_KEY_VALUE: Final = 512  # a partition key's value, as AWS bounds it
# An object construction's keys (at its top level: ``_top_level``).
_OBJECT_KEY: Final = re.compile(r'[{,]\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*:')
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"')
_LAMBDA_IN_PREFIX: Final = re.compile(r"!\{partitionKeyFromLambda:([^}]*)\}")
_WORD: Final = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*")
# What a tenant's query may not use: the gateway's environment and files, input beyond
# its record, the process's streams, and the unbounded generators and recursion.
_REFUSED_WORDS: Final = frozenset({
    "env", "$ENV", "$__loc__", "$__prog_args", "input", "inputs", "input_filename",
    "input_line_number", "import", "include", "modulemeta", "get_search_list", "builtins",
    "debug", "stderr", "halt", "halt_error", "def", "range", "repeat", "recurse",
    "recurse_down", "while", "until",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Piece:
    """One record after de-aggregation: the buffered record's index and arrival, its bytes."""

    index: int
    arrived: int
    data: bytes


@dataclass(slots=True)
class PartitionedBatch:
    """A batch's pieces by partition (its keys, in order of first appearance), and the
    pieces that failed, with their error code and message."""

    partitions: dict[tuple[tuple[str, str], ...], list[Piece]] = field(default_factory=dict)
    failed: list[tuple[Piece, str, str]] = field(default_factory=list)


def compile_query(query: str) -> Any:
    """The JQ program, compiled to check it (``InvalidArgument`` when it does not compile
    or uses what a partitioning query may not: the process's environment, files, input
    beyond its record, unbounded generators, definitions)."""
    if _jq is None:
        raise InvalidArgument(
            "MetadataExtraction: this deployment has no JQ engine (the jq package)."
        )
    bare = _STRING.sub('""', query)
    for word in _WORD.findall(bare):
        if word in _REFUSED_WORDS:
            raise InvalidArgument(
                f"MetadataExtractionQuery: {word} is not allowed in a partitioning query."
            )
    try:
        return _jq.compile(query)
    except ValueError as exc:
        raise InvalidArgument(f"MetadataExtractionQuery is not a valid JQ query: {exc}") from None


def query_keys(query: str) -> frozenset[str]:
    """The partition keys a query makes: AWS's queries are a JQ object construction
    (``{customer_id: .customer_id, year: .ts | strftime("%Y")}``), whose top-level keys are
    read from it once it compiles (it is never run here: it runs sandboxed, at delivery)."""
    compile_query(query)
    text = query.strip()
    keys = frozenset(_OBJECT_KEY.findall(_top_level(text))) if text.startswith("{") else None
    if not text.endswith("}") or not keys:
        raise InvalidArgument(
            "MetadataExtractionQuery must build a JSON object of partition keys, such as "
            "{customer_id: .customer_id}."
        )
    return keys


def _blank_string(match: re.Match[str]) -> str:
    """A string literal emptied, unless it is a plain name (a quoted key: kept)."""
    text = match.group(0)
    return text if re.fullmatch(r'"[A-Za-z_][A-Za-z0-9_]*"', text) else '""'


def _top_level(text: str) -> str:
    """The object construction's text at its own depth: nested braces, brackets and
    parentheses (and strings) blanked, so that only its own keys are read."""
    bare = _STRING.sub(_blank_string, text)
    out, depth = [], 0
    for char in bare:
        if char in "{[(":
            depth += 1
            out.append(char if depth == 1 else " ")
        elif char in "}])":
            out.append(char if depth == 1 else " ")
            depth -= 1
        else:
            out.append(char if depth == 1 else " ")
    return "".join(out)


def check_destination(destination: S3Destination, before: S3Destination | None = None) -> None:
    """A destination's prefixes and processing as AWS checks them (``before``: the stream's
    destination, for an update: dynamic partitioning is chosen at creation only)."""
    partitioning = destination.partitioning
    enabled = partitioning is not None and partitioning.enabled
    if before is not None:
        was = before.partitioning is not None and before.partitioning.enabled
        if was != enabled:
            raise InvalidArgument(
                "Dynamic partitioning can only be enabled when the delivery stream is "
                "created, and cannot be disabled."
            )
    keys: frozenset[str] | None = None
    if partitioning is not None and partitioning.processing and partitioning.query:
        if not enabled:
            raise InvalidArgument(
                "MetadataExtraction processor is only supported when dynamic partitioning is "
                "enabled."
            )
        keys = query_keys(partitioning.query)
    if enabled:
        if destination.size_bytes < MIN_PARTITIONED_SIZE_MB * MIB:
            raise InvalidArgument(
                "BufferingHints.SizeInMBs must be at least 64 when dynamic partitioning is enabled."
            )
        if destination.interval_seconds == 0:
            raise InvalidArgument(
                "Zero buffering (IntervalInSeconds 0) is not available with dynamic partitioning."
            )
        keys = keys or frozenset()
    from_lambda = (
        partitioning is not None and partitioning.processing and partitioning.transform is not None
    )
    check_prefixes(destination.prefix, destination.error_output_prefix, keys, from_lambda)


def _pieces(index: int, arrived: int, data: bytes, partitioning: Partitioning) -> list[Piece]:
    if partitioning.deaggregation == "DELIMITED":
        parts = data.split(partitioning.deaggregation_delimiter)
        if parts and parts[-1] == b"":
            parts.pop()
        return [Piece(index, arrived, part) for part in parts]
    if partitioning.deaggregation == "JSON":
        text = data.decode("utf-8", errors="strict")
        decoder, position = json.JSONDecoder(), 0
        found: list[Piece] = []
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                return found
            _, end = decoder.raw_decode(text, position)
            found.append(Piece(index, arrived, text[position:end].encode()))
            position = end
    return [Piece(index, arrived, data)]


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the query gave on one record (its first output), or why it gave nothing."""

    value: Any = None
    error: str | None = None


class QueryRunner(Protocol):
    """Where the JQ queries run (``firehose.jq_runner``: a sandboxed process, so that a
    tenant's query can neither block a gateway nor read its environment)."""

    async def run(self, query: str, documents: Sequence[bytes]) -> list[Extracted]:
        """The query on each document (JSON text), in order."""
        ...


def keys_of(made: Any) -> tuple[tuple[str, str], ...]:
    """A query's object as partition keys (``ValueError`` when it cannot be one)."""
    if not isinstance(made, dict):
        raise ValueError("the query gave no object")
    keys = []
    for name, value in made.items():
        if value is None or isinstance(value, (dict, list)):
            raise ValueError(f"the partition key {name!r} is {json.dumps(value)[:64]}")
        text = value if isinstance(value, str) else json.dumps(value)
        if not text or len(text) > _MAX_KEY_VALUE:
            raise ValueError(f"the partition key {name!r} is empty or too long")
        keys.append((str(name), text))
    return tuple(keys)


async def partition_batch(
    arrivals: Sequence[int],
    opened: Sequence[bytes],
    partitioning: Partitioning,
    max_partitions: int,
    runner: QueryRunner,
    lambda_keys: Sequence[Mapping[str, str]] | None = None,
    prefix: str = "",
) -> PartitionedBatch:
    """The batch's records (each buffered record's arrival and bytes) processed and grouped;
    ``lambda_keys``: each record's partition keys from its Lambda processor's metadata
    (decision 0315), those ``prefix`` uses required of each record."""
    batch = PartitionedBatch()
    wanted = frozenset(_LAMBDA_IN_PREFIX.findall(prefix))
    pieces: list[Piece] = []
    for index, (arrived, data) in enumerate(zip(arrivals, opened, strict=True)):
        try:
            pieces.extend(_pieces(index, arrived, data, partitioning))
        except (UnicodeDecodeError, ValueError) as exc:
            why = f"The record could not be de-aggregated: {exc}"[:512]
            batch.failed.append((Piece(index, arrived, data), EXTRACTION_FAILED, why))
    query = partitioning.query
    extracted = (
        await runner.run(query, [p.data for p in pieces])
        if query and pieces
        else [Extracted({}) for _ in pieces]
    )
    for piece, result in zip(pieces, extracted, strict=True):
        try:
            if result.error is not None:
                raise ValueError(result.error)
            keys = keys_of(result.value)
            if lambda_keys is not None and partitioning.enabled:
                keys += _from_lambda(lambda_keys[piece.index], wanted)
        except ValueError as exc:
            why = f"Metadata extraction failed: {exc}"[:512]
            batch.failed.append((piece, EXTRACTION_FAILED, why))
            continue
        if partitioning.append_delimiter is not None:
            piece = Piece(piece.index, piece.arrived, piece.data + partitioning.append_delimiter)
        bucket = batch.partitions.get(keys)
        if bucket is None:
            if len(batch.partitions) >= max_partitions:
                batch.failed.append((piece, LIMIT_EXCEEDED,
                                     "The active partitions limit was exceeded."))  # fmt: skip
                continue
            bucket = batch.partitions[keys] = []
        bucket.append(piece)
    return batch


def _from_lambda(given: Mapping[str, str], wanted: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """A record's keys from its Lambda processor (decision 0315): those the prefix uses, each
    required (``ValueError`` when missing)."""
    keys = []
    for name in sorted(wanted):
        value = given.get(name)
        if not value or len(value) > _MAX_KEY_VALUE:
            raise ValueError(
                f"the Lambda function gave no partition key {name[:64]!r} (or an empty or too "
                "long one)"
            )
        keys.append((f"{LAMBDA_KEY}{name}", value))
    return tuple(keys)
