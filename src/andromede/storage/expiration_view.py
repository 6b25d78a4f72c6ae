"""This process's view of which buckets have lifecycle rules that expire objects, parsed, for
the ``x-amz-expiration`` header of PUT, GET, HEAD, CopyObject and CompleteMultipartUpload
(decision 0086).

Every small request asks it, so asking costs a bucket without such rules one dictionary
look-up and no database read. The view is re-read from the store every ``period`` (another
gateway's, or another worker's, Put/DeleteBucketLifecycleConfiguration reaches this one within
it) and told at once of this process's own changes, including a bucket's deletion. It only
answers the header: the pass (``lifecycle_runner.py``) reads the rules from the store itself,
and both decide by ``earliest_expiry``'s code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from andromede.errors import AndromedeError
from andromede.storage.lifecycle import (
    LIFECYCLE_DOCUMENT,
    Expiry,
    LifecycleConfiguration,
    LifecycleRule,
    earliest_expiry,
)
from andromede.storage.model import ObjectRecord
from andromede.storage.store import MetadataStore

__all__ = ["MAX_REFRESH_PERIOD", "ExpirationView"]

# The longest a change made on another gateway (or another worker of this one) takes to show
# in this one's headers. S3 documents a few minutes of propagation for lifecycle changes; a
# minute keeps within that at the cost of one read of the lifecycle documents a minute.
MAX_REFRESH_PERIOD: Final = 60.0

_BUCKETS_PER_READ: Final = 500

_log = logging.getLogger(__name__)

_Rules = tuple[LifecycleRule, ...]


class ExpirationView:
    """Which buckets have enabled lifecycle rules expiring objects by ``Days`` or ``Date``, and
    those rules. Buckets with none are absent: ``expiry`` looks them up and answers None."""

    def __init__(self, store: MetadataStore, *, period: float) -> None:
        self._store = store
        self._period = period
        self._rules: dict[str, _Rules] = {}
        # Each bucket's document as last read, with its rules, so that a refresh parses only
        # the documents that changed.
        self._parsed: dict[str, tuple[str, _Rules]] = {}
        # While a refresh reads the store: this process's changes made meanwhile, which win
        # over what the read found (it may have read the bucket before the change committed).
        self._changed: dict[str, _Rules] | None = None

    def expiry(self, record: ObjectRecord) -> Expiry | None:
        """When the bucket's rules expire this object (its headers opened: its tags are
        theirs), and under which rule; None when none does."""
        rules = self._rules.get(record.bucket)
        if rules is None:
            return None
        return earliest_expiry(
            rules, record.key, record.size, record.last_modified, record.headers.tags
        )

    def configured(self, bucket: str, config: LifecycleConfiguration | None) -> None:
        """This process changed ``bucket``'s lifecycle configuration (None: removed it, or
        deleted the bucket): effective now."""
        rules = () if config is None else config.expirations
        if self._changed is not None:
            self._changed[bucket] = rules
        if rules:
            self._rules[bucket] = rules
        else:
            self._rules.pop(bucket, None)

    async def refresh(self) -> None:
        """Re-read every bucket's rules from the store (another process may have changed
        them)."""
        self._changed = {}
        try:
            rules: dict[str, _Rules] = {}
            parsed: dict[str, tuple[str, _Rules]] = {}
            after: str | None = None
            while page := await self._store.list_bucket_documents(
                LIFECYCLE_DOCUMENT, after, _BUCKETS_PER_READ
            ):
                for bucket, text in page:
                    known = self._parsed.get(bucket)
                    if known is not None and known[0] == text:
                        expiring = known[1]
                    else:
                        try:
                            expiring = LifecycleConfiguration.from_text(text).expirations
                        except (ValueError, KeyError, TypeError):
                            _log.warning("unreadable lifecycle configuration of %s", bucket)
                            continue
                    parsed[bucket] = (text, expiring)
                    if expiring:
                        rules[bucket] = expiring
                after = page[-1][0]
            for bucket, changed in self._changed.items():
                if changed:
                    rules[bucket] = changed
                else:
                    rules.pop(bucket, None)
            self._rules = rules
            self._parsed = parsed
        finally:
            self._changed = None

    async def run_forever(self) -> None:
        """Refresh every ``period`` (the first read is the caller's, before serving)."""
        while True:
            await asyncio.sleep(self._period)
            try:
                await self.refresh()
            except AndromedeError:
                # The database away: the view keeps what it knew, and the next refresh retries.
                _log.warning("lifecycle view refresh failed; the next one retries", exc_info=True)
