"""Server access logging: a bucket's logging configuration, where its access records go
(decision 0084). Their delivery is ``storage/access_log_delivery.py``'s.

S3's rules, which log tools (and Athena-style queries over the log format) rely on:
- the target bucket is the source's owner's, in the same region; it may be the source itself;
- records are delivered in batches, as objects named ``<TargetPrefix>YYYY-mm-DD-HH-MM-SS-
  <unique>`` (``SimplePrefix``), or ``<TargetPrefix><account>/<region>/<bucket>/YYYY/mm/DD/
  YYYY-mm-DD-HH-MM-SS-<unique>`` (``PartitionedPrefix``);
- delivery is best effort: records of a process that dies before a delivery are lost, as S3
  says of its own.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = ["LOGGING_DOCUMENT", "MISSING_TARGET", "REQUESTER_PAYS_TARGET", "LoggingTarget"]

# The kind under which a bucket's logging configuration is stored among its documents.
LOGGING_DOCUMENT: Final = "logging"
# S3's messages for a target PutBucketLogging cannot take (InvalidTargetBucketForLogging).
MISSING_TARGET: Final = "The target bucket for logging does not exist"
REQUESTER_PAYS_TARGET: Final = "The target bucket for logging may not be a Requester Pays bucket."


@dataclass(frozen=True, slots=True)
class LoggingTarget:
    """Where a bucket's access records go (its ``LoggingEnabled``)."""

    bucket: str
    prefix: str = ""
    partitioned: bool = False
    partition_date_source: str = "EventTime"  # or DeliveryTime

    def to_text(self) -> str:
        return json.dumps(
            {
                "bucket": self.bucket,
                "prefix": self.prefix,
                "partitioned": self.partitioned,
                "date_source": self.partition_date_source,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_text(cls, text: str) -> LoggingTarget:
        data = json.loads(text)
        return cls(
            bucket=str(data["bucket"]),
            prefix=str(data.get("prefix") or ""),
            partitioned=bool(data.get("partitioned")),
            partition_date_source=str(data.get("date_source") or "EventTime"),
        )

    def object_key(
        self, *, account: str, region: str, source: str, first_event: datetime, now: datetime
    ) -> str:
        """The key of a log object delivered ``now`` whose first record is ``first_event``."""
        moment = first_event if self.partition_date_source == "EventTime" else now
        name = now.strftime("%Y-%m-%d-%H-%M-%S-") + secrets.token_hex(8).upper()
        if not self.partitioned:
            return self.prefix + name
        day = moment.strftime("%Y/%m/%d")
        return f"{self.prefix}{account}/{region}/{source}/{day}/{name}"
