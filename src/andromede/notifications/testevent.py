"""S3's ``s3:TestEvent`` (decision 0132, increment 4): the message S3 sends each destination
of a notification configuration it has just accepted, so that the receiver's owner sees the
endpoint reached before any object is written. Its shape is not an event record but S3's
own, documented in "Event message structure":
``{"Service":"Amazon S3","Event":"s3:TestEvent","Time":...,"Bucket":...,"RequestId":...,
"HostId":...}``. It goes through the queue and the worker of every other event (at least
once, the same address checks at each delivery)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Final

__all__ = ["MESSAGE_FORMAT_VERSION", "TEST_EVENT", "test_event_message"]

TEST_EVENT = "s3:TestEvent"
# A queued row's format: a message ready to push as it is, as the writes' events
# (``andromede.storage.notification.EVENT_FORMAT_VERSION``, which this context does not import).
MESSAGE_FORMAT_VERSION: Final = 1


def test_event_message(bucket: str, request_id: str, host_id: str, now: datetime) -> str:
    """The test message of ``bucket``'s configuration put by request ``request_id``."""
    moment = now.astimezone(UTC)
    time = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return json.dumps(
        {
            "Service": "Amazon S3",
            "Event": TEST_EVENT,
            "Time": time,
            "Bucket": bucket,
            "RequestId": request_id,
            "HostId": host_id,
        },
        separators=(",", ":"),
    )
