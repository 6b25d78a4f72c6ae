"""A batch request's entry ids (SendMessageBatch, DeleteMessageBatch,
ChangeMessageVisibilityBatch): at least one, at most ten, each of SQS's alphabet, none twice."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from andromede.queues.errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    TooManyEntriesInBatchRequest,
)

__all__ = ["check_batch_ids"]

_BATCH_MAX: Final = 10
_BATCH_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")


def check_batch_ids(ids: Sequence[str]) -> None:
    if not ids:
        raise EmptyBatchRequest("There should be at least one entry in the request.")
    if len(ids) > _BATCH_MAX:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {_BATCH_MAX}. You have sent {len(ids)}."
        )
    for entry_id in ids:
        if not _BATCH_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id.")
