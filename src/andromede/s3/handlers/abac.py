"""GetBucketAbac and PutBucketAbac (decision 0418): a general purpose bucket's attribute-based
access control status, ``<AbacStatus><Status>Enabled|Disabled</Status></AbacStatus>``.

Disabled by default, as on AWS. While Enabled, the bucket's tags take part in every access
decision on it and its objects (``s3/authorise.py``) and are changed only through S3 Control's
TagResource and UntagResource: PutBucketTagging and DeleteBucketTagging are refused
(``handlers/tagging.py``).
"""

from __future__ import annotations

from typing import Final

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, addressed_bucket, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml

__all__ = ["get_bucket_abac", "put_bucket_abac"]

_ENABLED: Final = "Enabled"
_DISABLED: Final = "Disabled"


async def get_bucket_abac(ctx: S3Context, svc: S3Services) -> Response:
    """The status, read with the bucket the request was authorised on."""
    bucket = await addressed_bucket(ctx, svc)
    xml = XmlWriter("AbacStatus")
    xml.element("Status", _ENABLED if bucket.abac_enabled else _DISABLED)
    return xml_response(xml)


async def put_bucket_abac(ctx: S3Context, svc: S3Services) -> Response:
    """``Status`` is optional in the model; a document without one changes nothing. Any other
    value than the two is MalformedXML, as S3 answers an enumeration it does not know."""
    root = parse_xml(await ctx.read_xml_body(integrity_required=False), "AbacStatus")
    if len(children(root, "Status")) > 1:
        raise S3Error("MalformedXML")
    status = child_text(root, "Status")
    if status is None:
        return Response()
    status = status.strip()
    if status not in (_ENABLED, _DISABLED):
        raise S3Error("MalformedXML")
    await svc.objects.set_bucket_abac(ctx.bucket, status == _ENABLED)
    return Response()
