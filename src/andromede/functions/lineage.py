"""Lambda's recursive loop detection (decision 0328): the lineage an event carries from one
invocation to the next, and the rule that stops a loop.

AWS tracks an event through Lambda and the services a function writes to with the X-Ray
trace header (``X-Amzn-Trace-Id``, ``Root=…;Parent=…;Sampled=…;Lineage=…``). Here the same
header carries it: the runtime gives each invocation its header as ``_X_AMZN_TRACE_ID`` (the
AWS SDKs send it with every call the function makes, as botocore's
``add_recursion_detection_header`` does), SQS keeps it as the message's ``AWSTraceHeader``,
and the next invocation reads it back from the event's source.

The ``Lineage`` field counts, for each function the chain has passed through, how many times
it ran: ``<8 hex of the function's ARN hash>:<count>``, entries joined by ``,`` (characters
botocore leaves unquoted), the most recent last and at most :data:`MAX_ENTRIES` kept. A
function whose count has reached :data:`MAX_CHAIN` is not run again in that chain when its
``RecursiveLoop`` is ``Terminate`` (AWS's default): AWS's fixed 16, a constant as AWS offers
no way to change it beyond ``Allow``."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ALLOW",
    "MAX_CHAIN",
    "RECURSIVE_LOOPS",
    "TERMINATE",
    "Lineage",
    "function_key",
    "furthest",
]

MAX_CHAIN: Final = 16  # AWS: "more than 16 times in the same chain of requests"
MAX_ENTRIES: Final = 8  # functions remembered in one chain (the header stays small)
ALLOW: Final = "Allow"
TERMINATE: Final = "Terminate"
RECURSIVE_LOOPS: Final = (ALLOW, TERMINATE)
_FIELD: Final = "Lineage"


def function_key(tenant_id: str, name: str) -> str:
    """The function's mark in a lineage: its account and name hashed (the header travels
    through queues and topics other accounts may read: no name in clear)."""
    return hashlib.sha256(f"{tenant_id}:{name}".encode()).hexdigest()[:8]


def _root() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True)
class Lineage:
    """A trace header read: its other fields as given, and the counts of its lineage."""

    fields: tuple[str, ...]  # ``Root=…``, ``Parent=…``… in their order, Lineage left out
    counts: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, header: str | None) -> Lineage:
        """The lineage of a trace header (a new root when none, or none readable)."""
        if not header:
            return cls((_root(),))
        fields: list[str] = []
        counts: list[tuple[str, int]] = []
        for part in header.strip().split(";"):
            name, _, value = part.strip().partition("=")
            if name != _FIELD:
                if name:
                    fields.append(part.strip())
                continue
            for entry in value.split(","):
                key, _, count = entry.partition(":")
                if len(key) == 8 and count.isdigit() and len(count) <= 4:
                    counts.append((key.lower(), int(count)))
        if not any(f.startswith("Root=") for f in fields):
            fields.insert(0, _root())
        return cls(tuple(fields), tuple(counts[-MAX_ENTRIES:]))

    def count(self, key: str) -> int:
        """How many times the function marked ``key`` has run in this chain."""
        return next((n for k, n in self.counts if k == key), 0)

    def loops(self, key: str) -> bool:
        """Whether running the function again would exceed AWS's chain."""
        return self.count(key) >= MAX_CHAIN

    def passed(self, key: str) -> Lineage:
        """The lineage once the function marked ``key`` has run once more."""
        kept = [(k, n) for k, n in self.counts if k != key]
        kept.append((key, self.count(key) + 1))
        return Lineage(self.fields, tuple(kept[-MAX_ENTRIES:]))

    def header(self) -> str:
        lineage = ",".join(f"{k}:{n}" for k, n in self.counts)
        return ";".join([*self.fields, *([f"{_FIELD}={lineage}"] if lineage else [])])


def furthest(headers: Iterable[str | None]) -> str | None:
    """Of a batch's trace headers, the one furthest along its chain (its highest count), so
    that a loop cannot hide in a batch (decision 0351: a pipe's batch; decision 0328 chooses
    so for the SQS mapping's); None when none is given."""
    best: tuple[int, str | None] = (-1, None)
    for header in headers:
        if header:
            lineage = Lineage.parse(header)
            reached = max((n for _, n in lineage.counts), default=0)
            if reached > best[0]:
                best = (reached, header)
    return best[1]
