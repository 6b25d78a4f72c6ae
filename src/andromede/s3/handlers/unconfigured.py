"""What S3 answers about the bucket configurations no bucket here has (decision 0083):
Transfer Acceleration and Requester Pays (server access logging was among them until decision
0084, Object Lock until decision 0102: handlers/object_lock.py, replication until decision
0112: handlers/replication.py, event notifications until decision 0132:
handlers/notification.py).

A bucket that never had one of them has a definite answer on S3, and the tools that read
every configuration of a bucket (Terraform's refresh, inventory scripts, `aws s3api`, backup
tools) expect it rather than a 501:
- GetBucketAccelerateConfiguration: an empty ``AccelerateConfiguration`` (never enabled);
- GetBucketRequestPayment: ``BucketOwner`` pays.

Writes that ask for the state the bucket is in are taken (the owner paying). Writes that
would turn a feature on are refused, never silently kept: requester-pays with
``NotImplemented``.
"""

from __future__ import annotations

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, parse_xml

__all__ = [
    "get_bucket_accelerate_configuration",
    "get_bucket_request_payment",
    "put_bucket_request_payment",
]


async def get_bucket_accelerate_configuration(ctx: S3Context, svc: S3Services) -> Response:
    return xml_response(XmlWriter("AccelerateConfiguration"))


async def get_bucket_request_payment(ctx: S3Context, svc: S3Services) -> Response:
    xml = XmlWriter("RequestPaymentConfiguration")
    xml.element("Payer", "BucketOwner")
    return xml_response(xml)


async def put_bucket_request_payment(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(), "RequestPaymentConfiguration")
    payer = child_text(root, "Payer")
    if payer is None or payer.strip() not in ("BucketOwner", "Requester"):
        raise S3Error("MalformedXML")
    if payer.strip() == "Requester":
        raise S3Error("NotImplemented", "Requester Pays buckets are not implemented")
    return Response()
