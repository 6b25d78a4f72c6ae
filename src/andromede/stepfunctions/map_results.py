"""``ResultWriter.WriterConfig``: how a distributed Map's children's results are shaped
(decision 0345), as AWS documents it — pure functions.

- ``Transformation`` ``NONE``: each child's execution record (``ExecutionArn``, ``Input``,
  ``Output`` as text, ``Status``, dates…), AWS's default when the results go to S3 without a
  ``WriterConfig``; ``COMPACT``: each child's output as it is, AWS's default without
  ``ResultWriter``; ``FLATTEN``: as ``COMPACT``, a child's array output spliced into the
  results. A failed child's record stays as ``NONE`` gives it whatever the transformation
  (AWS: "returns its execution result unchanged").
- ``OutputType`` ``JSON``: the results a JSON array; ``JSONL``: a JSON value a line (the
  files named ``….jsonl``).

With a ``Resource``, the files go to S3 (``map_items.result_files`` lays them out) and the
state's result is ``{"MapRunArn", "ResultWriterDetails"}``; with ``WriterConfig`` alone
nothing is written and the shaped results, a JSON array in the children's order, are the
state's result."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["extension", "serialised", "shaped", "writer_config"]

NONE: Final = "NONE"
COMPACT: Final = "COMPACT"
FLATTEN: Final = "FLATTEN"


def writer_config(writer: Mapping[str, Any]) -> tuple[str, str]:
    """The ``Transformation`` and ``OutputType`` a ``ResultWriter`` asks for, AWS's defaults
    where not given: ``NONE`` when the results go to S3, ``COMPACT`` when they stay in the
    state's output; ``JSON``."""
    config = writer.get("WriterConfig")
    given = config if isinstance(config, dict) else {}
    default = NONE if "Resource" in writer else COMPACT
    return str(given.get("Transformation", default)), str(given.get("OutputType", "JSON"))


def shaped(
    records: Sequence[Mapping[str, Any]], outputs: Sequence[Any], transformation: str
) -> list[Any]:
    """The results of ``records`` (``outputs[i]`` the output of ``records[i]`` when it
    succeeded) as ``transformation`` shapes them."""
    found: list[Any] = []
    for record, output in zip(records, outputs, strict=True):
        if transformation == NONE or record.get("Status") != "SUCCEEDED":
            found.append(dict(record))
        elif transformation == FLATTEN and isinstance(output, list):
            found.extend(output)
        else:
            found.append(output)
    return found


def serialised(values: Sequence[Any], output_type: str) -> str:
    if output_type == "JSONL":
        return "".join(json.dumps(v, separators=(",", ":")) + "\n" for v in values)
    return json.dumps(list(values), separators=(",", ":"))


def extension(output_type: str) -> str:
    return ".jsonl" if output_type == "JSONL" else ".json"
