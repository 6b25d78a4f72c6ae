"""The account-level Block Public Access handlers (S3 Control's Get/Put/Delete
PublicAccessBlock): parse, call the object service, serialise (decision 0152)."""

from __future__ import annotations

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.s3control.documents import local_name, request_document
from andromede.s3control.errors import S3ControlError
from andromede.storage.model import PublicAccessBlock
from andromede.storage.service import ObjectService

__all__ = ["NAMESPACE", "delete_block", "get_block", "parse_block", "put_block"]

NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
_SWITCHES = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def parse_block(body: bytes) -> PublicAccessBlock:
    """A ``PublicAccessBlockConfiguration`` document; a switch left out is off, as on S3."""
    root = request_document(body, "PublicAccessBlockConfiguration")
    flags = dict.fromkeys(_SWITCHES, False)
    for child in root:
        name = local_name(child.tag)
        if name not in flags:
            raise S3ControlError("MalformedXML")
        value = (child.text or "").strip().lower()
        if value not in ("true", "false"):
            raise S3ControlError("MalformedXML")
        flags[name] = value == "true"
    return PublicAccessBlock(*(flags[name] for name in _SWITCHES))


async def get_block(objects: ObjectService, account: str) -> Response:
    block = await objects.get_account_public_access_block(account)
    if block is None:
        raise S3ControlError("NoSuchPublicAccessBlockConfiguration")
    xml = XmlWriter("PublicAccessBlockConfiguration", namespace=NAMESPACE)
    xml.element("BlockPublicAcls", block.block_public_acls)
    xml.element("IgnorePublicAcls", block.ignore_public_acls)
    xml.element("BlockPublicPolicy", block.block_public_policy)
    xml.element("RestrictPublicBuckets", block.restrict_public_buckets)
    return Response(headers=[("Content-Type", "application/xml")], body=xml.document())


async def put_block(objects: ObjectService, account: str, body: bytes) -> Response:
    await objects.put_account_public_access_block(account, parse_block(body))
    return Response(status=200)


async def delete_block(objects: ObjectService, account: str) -> Response:
    await objects.put_account_public_access_block(account, None)
    return Response(status=204)
