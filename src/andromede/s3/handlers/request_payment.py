"""Get/PutBucketRequestPayment: who pays for a bucket's requests (decision 0133). What a
Requester Pays bucket then refuses and whom it bills is ``s3/request_payment.py``'s.

``Payer`` is ``BucketOwner`` (every bucket's default) or ``Requester``, stored with the bucket
row that every request reads. Anything else, or a document that is not one
``RequestPaymentConfiguration`` with one ``Payer``, is ``MalformedXML``, as on S3.
"""

from __future__ import annotations

from typing import Final

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, addressed_bucket, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, children, parse_xml

__all__ = ["get_bucket_request_payment", "put_bucket_request_payment"]

_PAYERS: Final = {"BucketOwner": False, "Requester": True}


async def get_bucket_request_payment(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await addressed_bucket(ctx, svc)
    xml = XmlWriter("RequestPaymentConfiguration")
    xml.element("Payer", "Requester" if bucket.requester_pays else "BucketOwner")
    return xml_response(xml)


async def put_bucket_request_payment(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(), "RequestPaymentConfiguration")
    payers = children(root, "Payer")
    if len(payers) != 1:
        raise S3Error("MalformedXML")
    requester_pays = _PAYERS.get((payers[0].text or "").strip())
    if requester_pays is None:
        raise S3Error("MalformedXML")
    await svc.objects.set_bucket_requester_pays(ctx.bucket, requester_pays)
    return Response(status=200)
