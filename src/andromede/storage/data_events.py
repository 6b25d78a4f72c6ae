"""A bucket's data-events setting (decision 0109): whether the tenant's own data reads become
events of its transparency log. Kept as a bucket document of this kind, present only when on,
and read with the bucket on every request (``Bucket.data_reads_logged``)."""

from __future__ import annotations

from typing import Final

__all__ = ["DATA_EVENTS_DOCUMENT"]

DATA_EVENTS_DOCUMENT: Final = "data-events"
