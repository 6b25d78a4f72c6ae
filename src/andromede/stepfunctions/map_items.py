"""A distributed Map's items and results as AWS lays them out (decision 0322): pure functions.

- :func:`items_of_object`: an ``ItemReader``'s ``s3:getObject`` object read as its
  ``ReaderConfig.InputType`` says — ``JSON`` (an array: its elements; or, with
  ``ItemsPointer``, the array at that JSON pointer of the object, decision 0352; a top-level
  object: its entries, decision 0358), ``JSONL``
  (a JSON value a line), ``CSV`` (each row an object of the header's names, every value text;
  the header the first row or ``CSVHeaders``); :func:`positioned_items` gives each item's
  place in the object too (``$states.context.Map.Item.Source``, decision 0352);
- :func:`pointed` / :func:`keyed`: an ``ItemsPointer``'s array within a JSON document (RFC
  6901), or the document's own items: an array's elements, an object's entries and their
  keys (decision 0365);
- :func:`listed_item`: an ``s3:listObjectsV2`` object as AWS gives it to an iteration
  (``Etag``, ``Key``, ``LastModified`` in seconds, ``Size``, ``StorageClass``);
- :func:`batches`: ``ItemBatcher``'s batches (``MaxItemsPerBatch``, ``MaxInputBytesPerBatch``
  counting the batch's JSON), each ``{"BatchInput": …, "Items": […]}``;
- :func:`exceeds_tolerance`: whether the failed children pass ``ToleratedFailurePercentage``
  / ``ToleratedFailureCount``;
- :func:`result_files`: ``ResultWriter``'s files (``SUCCEEDED_<n>.json``, ``FAILED_<n>.json``,
  ``PENDING_<n>.json``, then ``manifest.json``) under ``<Prefix>/<map run id>/``.

A reader's failure is ``States.ItemReaderFailed``, as AWS names it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from andromede.stepfunctions import map_results
from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_checks import CSV_DELIMITERS
from andromede.stepfunctions.map_entries import iterated

__all__ = [
    "READER_FAILED",
    "batches",
    "exceeds_tolerance",
    "items_of_object",
    "keyed",
    "listed_item",
    "pointed",
    "positioned_items",
    "result_files",
]

READER_FAILED: Final = "States.ItemReaderFailed"
_RESULT_STATUSES: Final = ("SUCCEEDED", "FAILED", "PENDING")


def items_of_object(text: str, config: Mapping[str, Any]) -> list[Any]:
    return positioned_items(text, config)[0]


def positioned_items(
    text: str, config: Mapping[str, Any]
) -> tuple[list[Any], list[str], list[str] | None]:
    """The object's items, where each is in it — ``index=<n>`` (a JSON array's element or a
    JSON object's entry, from 0), ``line=<n>`` (a JSONL or CSV record's first line, from 1) —
    and, for a JSON object's entries, their keys (``$$.Map.Item.Key``, decision 0365)."""
    kind = config.get("InputType")
    if kind == "JSON":
        try:
            parsed = json.loads(text)
        except ValueError:
            raise StatesError(READER_FAILED, "The object's content is not valid JSON") from None
        found, keys = keyed(parsed, config.get("ItemsPointer"))
        return found, [f"index={i}" for i in range(len(found))], keys
    if kind == "JSONL":
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        try:
            return [json.loads(line) for _, line in lines], [f"line={n}" for n, _ in lines], None
        except ValueError:
            raise StatesError(READER_FAILED, "A line of the object is not valid JSON") from None
    if kind == "CSV":
        return (*_rows(text, config), None)
    raise StatesError(READER_FAILED, f"The InputType {str(kind)[:32]} is not served")


def pointed(document: Any, pointer: Any) -> list[Any]:
    return keyed(document, pointer)[0]


def keyed(document: Any, pointer: Any) -> tuple[list[Any], list[str] | None]:
    """The items ``pointer`` (an RFC 6901 JSON pointer, ``ReaderConfig.ItemsPointer``) selects
    in ``document`` (without a pointer the document itself), and their keys: an array's
    elements (no keys), or a top-level object's entries as ``{"Key", "Value"}`` items in their
    order and their keys (as AWS iterates it, decision 0358; its keys: decision 0365)."""
    if pointer is None:
        found = iterated(document)
        if found is None:
            raise StatesError(READER_FAILED, "The JSON object must be an array of items, or "
                              "an object of entries")  # fmt: skip
        return found
    node = document
    for token in str(pointer).split("/")[1:]:
        name = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and name in node:
            node = node[name]
        elif isinstance(node, list) and name.isdigit() and int(name) < len(node):
            node = node[int(name)]
        else:
            raise StatesError(READER_FAILED, f"The ItemsPointer {str(pointer)[:128]!r} selects "
                              "nothing in the JSON object")  # fmt: skip
    if not isinstance(node, list):  # an object's entries only at the top (what was measured)
        raise StatesError(READER_FAILED, f"The ItemsPointer {str(pointer)[:128]!r} must select "
                          "an array of items")  # fmt: skip
    return node, None


def _rows(text: str, config: Mapping[str, Any]) -> tuple[list[Any], list[str]]:
    delimiter = CSV_DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    first_line = 1
    for row in reader:  # each record and the line it starts on
        rows.append((first_line, row))
        first_line = reader.line_num + 1
    if config.get("CSVHeaderLocation") == "GIVEN":
        headers = [str(h) for h in config.get("CSVHeaders") or []]
    elif rows:
        headers, rows = rows[0][1], rows[1:]
    else:
        headers = []
    if len(set(headers)) != len(headers):
        raise StatesError(READER_FAILED, "The CSV headers must be unique")
    items: list[Any] = []
    places: list[str] = []
    for line, row in rows:  # AWS: fields beyond the headers are skipped, missing ones are ""
        if not row:
            continue
        items.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(headers)})
        places.append(f"line={line}")
    return items, places


def listed_item(key: str, etag: str, modified_ms: int, size: int, storage: str) -> dict[str, Any]:
    return {
        "Etag": etag if etag.startswith('"') else f'"{etag}"',
        "Key": key,
        "LastModified": modified_ms // 1000,
        "Size": size,
        "StorageClass": storage or "STANDARD",
    }


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def batches(
    items: Sequence[Any], most_items: int | None, most_bytes: int | None, batch_input: Any
) -> list[dict[str, Any]]:
    """The items grouped in order; an item larger than ``most_bytes`` alone is
    ``States.Runtime`` as AWS's."""
    found: list[dict[str, Any]] = []
    current: list[Any] = []
    base = _size({"Items": []} if batch_input is None else {"BatchInput": batch_input,
                                                            "Items": []})  # fmt: skip
    used = base
    for item in items:
        size = _size(item) + (1 if current else 0)
        if most_bytes is not None and base + size > most_bytes:
            raise StatesError(
                "States.Runtime", f"An item is larger than MaxInputBytesPerBatch ({most_bytes})"
            )
        full = most_items is not None and len(current) >= most_items
        if current and (full or (most_bytes is not None and used + size > most_bytes)):
            found.append(_batch(current, batch_input))
            current, used = [], base
            size = _size(item)
        current.append(item)
        used += size
    if current:
        found.append(_batch(current, batch_input))
    return found


def _batch(items: list[Any], batch_input: Any) -> dict[str, Any]:
    if batch_input is None:
        return {"Items": items}
    return {"BatchInput": batch_input, "Items": items}


def exceeds_tolerance(failed: int, total: int, percentage: float | None, count: int | None) -> bool:
    """AWS's rule: the run fails once the failed children pass either threshold given (none
    given: the first failure)."""
    if percentage is None and count is None:
        return failed > 0
    over_count = count is not None and failed > count
    over_share = percentage is not None and total > 0 and failed * 100 > percentage * total
    return over_count or over_share


def result_files(
    prefix: str, run_id: str, bucket: str, map_run_arn: str,
    children: Mapping[str, Sequence[Mapping[str, Any]]], per_file: int,
    transformation: str = "NONE", output_type: str = "JSON",
    outputs: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[list[tuple[str, str]], str, str]:  # fmt: skip
    """The objects ``ResultWriter`` writes (key, body), the manifest's key and body; the
    manifest lists every result file by status with its size. ``WriterConfig``'s
    ``transformation`` and ``output_type`` shape each file (``map_results``); ``outputs``
    are the children's outputs beside their records."""
    base = f"{prefix.rstrip('/')}/{run_id}/" if prefix else f"{run_id}/"
    files: list[tuple[str, str]] = []
    listed: dict[str, list[dict[str, Any]]] = {status: [] for status in _RESULT_STATUSES}
    for status in _RESULT_STATUSES:
        records = list(children.get(status, ()))
        given = list((outputs or {}).get(status, ())) or [None] * len(records)
        for number, start in enumerate(range(0, len(records), per_file)):
            key = f"{base}{status}_{number}{map_results.extension(output_type)}"
            part = slice(start, start + per_file)
            values = map_results.shaped(records[part], given[part], transformation)
            body = map_results.serialised(values, output_type)
            files.append((key, body))
            listed[status].append({"Key": key, "Size": len(body.encode())})
    manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": listed}
    return files, f"{base}manifest.json", json.dumps(manifest, separators=(",", ":"))
