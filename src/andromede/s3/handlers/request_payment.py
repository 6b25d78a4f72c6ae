"""Get/PutBucketRequestPayment: who pays for a bucket's requests (decision 0133). What a
Requester Pays bucket then refuses and whom it bills is ``s3/request_payment.py``'s.

``Payer`` is ``BucketOwner`` (every bucket's default) or ``Requester``, stored with the bucket
row that every request reads. Anything else, or a document that is not one
``RequestPaymentConfiguration`` with one ``Payer``, is ``MalformedXML``, as on S3. A bucket
that is a server access log target (its owner's buckets of its region log into it) cannot
become Requester Pays: ``InvalidRequest`` (decision 0133's addendum), refused by the store in
its write, so that a concurrent PutBucketLogging cannot slip between a check and the change
(decision 0150). AWS documents the rule, not its error: InvalidRequest is S3's code for a
request that the bucket's state does not allow. The source buckets are not named: the caller
may be another account that the owner's policy lets configure this bucket, not list the
owner's buckets.
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
    # S3 takes no Requester Pays bucket as a log target, "or vice versa" (decision 0133):
    # PutBucketLogging refuses such a target, and the store refuses to make a target one
    # (BucketIsLogTarget: InvalidRequest), checking in the write itself (decision 0150).
    await svc.objects.set_bucket_requester_pays(ctx.bucket, requester_pays)
    return Response(status=200)
