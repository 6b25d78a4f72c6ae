"""What one SNS call counts as ``sns.requests`` (decision 0169).

AWS bills every SNS API call as a request, and a publish by its payload: "each 64 KB chunk of
published data is billed as 1 request" (a 256 KiB Publish is 4). A PublishBatch is one call,
its chunks those of the whole batch's payload. The payload is the message, its subject and
its message attributes (names, data types and values); any other call counts one. The caller's
account pays, the account whose credentials made the call, in the gateway's region; refusals
(403) and server faults are not billed, as for KMS and SQS, nor are unsigned calls (a
subscription's confirmation or unsubscribe link), which no account makes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from andromede.billing.model import payload_requests
from andromede.billing.service import BillingService
from andromede.iam.model import Principal
from andromede.iamapi.app import QueryMeter

__all__ = ["sns_meter", "sns_payload_bytes"]

_PUBLISHES = frozenset({"Publish", "PublishBatch"})
# A parameter carrying published data, alone or as an entry of PublishBatch.
_PAYLOAD = re.compile(
    r"^(?:PublishBatchRequestEntries\.member\.\d+\.)?"
    r"(?:Message|Subject|MessageAttributes\.entry\.\d+\."
    r"(?:Name|Value\.DataType|Value\.StringValue|Value\.BinaryValue))$"
)


def sns_payload_bytes(action: str, params: Mapping[str, str]) -> int:
    """The published data of a Publish or PublishBatch call, in bytes (0 for other calls)."""
    if action not in _PUBLISHES:
        return 0
    return sum(len(value.encode()) for name, value in params.items() if _PAYLOAD.match(name))


def sns_meter(billing: BillingService, region: str) -> QueryMeter:
    """The SNS Query app's meter: each call billed to its caller's account."""

    def meter(
        action: str,
        principal: Principal,
        status: int,
        params: Mapping[str, str],
        facts: Mapping[str, Any],
    ) -> None:
        del facts  # the caller pays, whichever topic the call named
        if principal.tenant_id is None or status >= 500 or status == 403:
            return
        requests = payload_requests(sns_payload_bytes(action, params))
        billing.count(principal.tenant_id, region, "sns.requests", requests)

    return meter
