"""IAM handlers for server certificates (decision 0205): Upload, Get, List, Update, Delete and
the tag calls, in botocore's shapes. The private key goes in and never comes out.

Authorisation happened before (see ``iam.py``'s table), on the certificate's ARN
``arn:aws:iam::<account>:server-certificate<path><name>`` (the path read from the stored
certificate, or the request's for an upload).
"""

from __future__ import annotations

import contextlib

from andromede.http.xml import XmlWriter
from andromede.iam.errors import NoSuchEntity
from andromede.iam.model import ServerCertificate, server_certificate_arn
from andromede.iamapi.iam_common import (
    RESOURCE_TAGS,
    request_tags,
    write_entity_tags,
    write_tag_list,
    write_truncation,
)
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "delete_server_certificate",
    "get_server_certificate",
    "list_server_certificate_tags",
    "list_server_certificates",
    "server_certificate_resource",
    "tag_server_certificate",
    "untag_server_certificate",
    "update_server_certificate",
    "upload_server_certificate",
]

_NAME = "ServerCertificateName"
_DEFAULT_ITEMS = 100
_MAX_ITEMS = 1000


async def server_certificate_resource(call: Call) -> str:
    """The named certificate's ARN (with its stored path), or for an upload or an unknown
    name the ARN it would have."""
    name = call.required(_NAME)
    with contextlib.suppress(NoSuchEntity):
        found = await call.identity.get_server_certificate(call.tenant_id, name)
        call.context[RESOURCE_TAGS] = found.tags
        return found.arn
    return server_certificate_arn(call.tenant_id, call.get("Path") or "/", name)


def _write_metadata(xml: XmlWriter, certificate: ServerCertificate, element: str) -> None:
    xml.open(element)
    xml.element("Path", certificate.path)
    xml.element("ServerCertificateName", certificate.name)
    xml.element("ServerCertificateId", certificate.certificate_id)
    xml.element("Arn", certificate.arn)
    xml.element("UploadDate", iso8601(certificate.uploaded_at))
    xml.element("Expiration", iso8601(certificate.expiration))
    xml.close(element)


async def upload_server_certificate(call: Call) -> None:
    uploaded = await call.identity.upload_server_certificate(
        call.tenant_id,
        call.required(_NAME),
        call.required("CertificateBody"),
        call.required("PrivateKey"),
        call.get("CertificateChain"),
        call.get("Path") or "/",
        request_tags(call),
    )
    _write_metadata(call.result, uploaded, "ServerCertificateMetadata")
    write_entity_tags(call.result, uploaded.tags)


async def get_server_certificate(call: Call) -> None:
    found = await call.identity.get_server_certificate(call.tenant_id, call.required(_NAME))
    xml = call.result
    xml.open("ServerCertificate")
    _write_metadata(xml, found, "ServerCertificateMetadata")
    xml.element("CertificateBody", found.body)
    if found.chain is not None:
        xml.element("CertificateChain", found.chain)
    write_entity_tags(xml, found.tags)
    xml.close("ServerCertificate")


async def list_server_certificates(call: Call) -> None:
    found = await call.identity.list_server_certificates(
        call.tenant_id,
        call.get("PathPrefix") or "/",
        call.get("Marker"),
        call.integer("MaxItems", minimum=1, maximum=_MAX_ITEMS, default=_DEFAULT_ITEMS),
    )
    call.result.open("ServerCertificateMetadataList")
    for certificate in found.items:
        _write_metadata(call.result, certificate, "member")
    call.result.close("ServerCertificateMetadataList")
    write_truncation(call.result, found.marker)


async def update_server_certificate(call: Call) -> None:
    await call.identity.update_server_certificate(
        call.tenant_id,
        call.required(_NAME),
        call.get("NewServerCertificateName"),
        call.get("NewPath"),
    )


async def delete_server_certificate(call: Call) -> None:
    await call.identity.delete_server_certificate(call.tenant_id, call.required(_NAME))


async def tag_server_certificate(call: Call) -> None:
    await call.identity.tag_server_certificate(
        call.tenant_id, call.required(_NAME), request_tags(call)
    )


async def untag_server_certificate(call: Call) -> None:
    await call.identity.untag_server_certificate(
        call.tenant_id, call.required(_NAME), call.members("TagKeys")
    )


async def list_server_certificate_tags(call: Call) -> None:
    found = await call.identity.get_server_certificate(call.tenant_id, call.required(_NAME))
    write_tag_list(call, found.tags)
