"""Firehose's CloudWatch error logging (decision 0270): the JSON error record AWS writes into
a destination's ``CloudWatchLoggingOptions`` log group and stream when a delivery fails, and
the port it is written through (the wiring's, as the destination's role).

AWS's record (its "Monitoring Amazon Data Firehose using CloudWatch Logs")::

    {"deliveryStreamARN": "arn:aws:firehose:…:deliverystream/name",
     "destination": "arn:aws:s3:::bucket", "deliveryStreamVersionId": 1,
     "message": "The specified bucket does not exist.", "errorCode": "S3.NoSuchBucket"}

``destination`` is the bucket's ARN for S3 and its backup, the endpoint's URL for an HTTP
endpoint.
"""

from __future__ import annotations

import json
from typing import Protocol

from andromede.firehose.model import DeliveryStream, LoggingOptions

__all__ = ["ErrorLogs", "error_record"]


def error_record(stream: DeliveryStream, destination: str, code: str, message: str) -> str:
    return json.dumps(
        {
            "deliveryStreamARN": stream.arn,
            "destination": destination,
            "deliveryStreamVersionId": stream.version,
            "message": message,
            "errorCode": code,
        },
        separators=(",", ":"),
    )


class ErrorLogs(Protocol):
    async def write(
        self, stream: DeliveryStream, options: LoggingOptions, role_arn: str, record: str,
        when: int,
    ) -> None:  # fmt: skip
        """``record`` into the options' log group and stream of the stream's account, as
        ``role_arn`` (allowed ``logs:PutLogEvents`` on the stream); a refusal is said in
        the platform's log, never raised."""
        ...
