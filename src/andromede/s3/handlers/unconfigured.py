"""What S3 answers about the bucket configuration no bucket here has (decision 0083):
Transfer Acceleration (server access logging was among them until decision 0084, Object Lock
until decision 0102: handlers/object_lock.py, replication until decision 0112:
handlers/replication.py, event notifications until decision 0132: handlers/notification.py,
Requester Pays until decision 0133: handlers/request_payment.py).

A bucket that never had it has a definite answer on S3, and the tools that read every
configuration of a bucket (Terraform's refresh, inventory scripts, `aws s3api`, backup tools)
expect it rather than a 501: GetBucketAccelerateConfiguration is an empty
``AccelerateConfiguration`` (never enabled). PutBucketAccelerateConfiguration, which would
turn it on, is not implemented (``operations.py``), never silently kept.
"""

from __future__ import annotations

from andromede.http.response import Response
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter

__all__ = ["get_bucket_accelerate_configuration"]


async def get_bucket_accelerate_configuration(ctx: S3Context, svc: S3Services) -> Response:
    return xml_response(XmlWriter("AccelerateConfiguration"))
