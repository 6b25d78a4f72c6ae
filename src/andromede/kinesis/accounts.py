"""A Kinesis account's own settings (decision 0260): the minimum throughput billing
commitment of DescribeAccountSettings / UpdateAccountSettings, and how a request changes it.

AWS: a commitment, once ENABLED, holds at least 24 hours; disabling it earlier schedules its
end at the earliest allowed time (``ENABLED_UNTIL_EARLIEST_ALLOWED_END``), which enabling it
again cancels; past that time it reads DISABLED. The transitions are :func:`commit`'s, pure;
the store keeps the result per account under a revision (compare-and-set). What the
commitment changes here: it is recorded and answered as AWS answers it; the bill does not
yet price on-demand streams at its rates (decision 0260's "Not done")."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Final

__all__ = ["COMMITMENT_MS", "BillingCommitment", "CommitmentStatus", "commit"]

COMMITMENT_MS: Final = 24 * 3_600_000  # AWS: a commitment's minimum duration, 24 hours


class CommitmentStatus(enum.Enum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    ENABLED_UNTIL_EARLIEST_ALLOWED_END = "ENABLED_UNTIL_EARLIEST_ALLOWED_END"


@dataclass(frozen=True, slots=True)
class BillingCommitment:
    """An account's minimum throughput billing commitment; times in ms (None: never set).
    ``revision`` guards its row's writes; 0 for an account that never changed it."""

    tenant_id: str
    status: CommitmentStatus = CommitmentStatus.DISABLED
    started_at: int | None = None
    ended_at: int | None = None
    earliest_end: int | None = None
    revision: int = 0

    def as_of(self, now: int) -> BillingCommitment:
        """As it stands at ``now``: a scheduled end passed is DISABLED."""
        scheduled = CommitmentStatus.ENABLED_UNTIL_EARLIEST_ALLOWED_END
        if self.status is scheduled and self.earliest_end is not None and now >= self.earliest_end:
            return dataclasses.replace(self, status=CommitmentStatus.DISABLED)
        return self


def commit(current: BillingCommitment, enable: bool, now: int) -> BillingCommitment:
    """``current`` once UpdateAccountSettings asks ENABLED (``enable``) or DISABLED at ``now``;
    the revision is the caller's to advance."""
    held = current.as_of(now)
    if enable:
        if held.status is CommitmentStatus.ENABLED:
            return held
        if held.status is CommitmentStatus.ENABLED_UNTIL_EARLIEST_ALLOWED_END:
            # Enabling again before the scheduled end cancels it: the same commitment goes on.
            return dataclasses.replace(held, status=CommitmentStatus.ENABLED, ended_at=None)
        return dataclasses.replace(
            held, status=CommitmentStatus.ENABLED, started_at=now, ended_at=None,
            earliest_end=now + COMMITMENT_MS,
        )  # fmt: skip
    if held.status is not CommitmentStatus.ENABLED:
        return held  # disabled already, or its end is scheduled
    if held.earliest_end is not None and now < held.earliest_end:
        return dataclasses.replace(
            held, status=CommitmentStatus.ENABLED_UNTIL_EARLIEST_ALLOWED_END,
            ended_at=held.earliest_end,
        )  # fmt: skip
    return dataclasses.replace(held, status=CommitmentStatus.DISABLED, ended_at=now)
