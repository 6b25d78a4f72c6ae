"""Route 53's DNSSEC signing on the wire (decision 0317): CreateKeySigningKey (201 with
``Location``), ActivateKeySigningKey, DeactivateKeySigningKey, DeleteKeySigningKey,
EnableHostedZoneDNSSEC, DisableHostedZoneDNSSEC and GetDNSSEC, in botocore's ``route53``
shapes. CreateKeySigningKey is authorised on the hosted zone its body names, the others on
the zone of their path, as AWS's service authorisation reference gives them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.dnssec import DnssecService
from andromede.route53.dnssec_model import KeySigningKey, ksk_view
from andromede.route53.service import Submitted
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.operations import Route

__all__ = ["DNSSEC_HANDLERS", "with_key_zone"]

DnssecHandler = Callable[[DnssecService, str, Route, Mapping[str, str], bytes], Awaitable[Response]]
_ZONE_ID: Final = re.compile(r"^[A-Z0-9]{1,32}$")


def _zone_id(raw: str) -> str:
    zone_id = raw.strip().removeprefix("/hostedzone/")
    if not _ZONE_ID.match(zone_id):
        raise Route53WireError(
            "InvalidInput", f"The input is not valid: invalid hosted zone id {zone_id[:64]}"
        )
    return zone_id


def with_key_zone(operation: Route, body: bytes) -> Route:
    """CreateKeySigningKey's route with the zone its body names (for IAM)."""
    if operation.name != "CreateKeySigningKey":
        return operation
    root = wire.document(body, "CreateKeySigningKeyRequest")
    return dataclasses.replace(
        operation, zone_id=_zone_id(wire.text(root, "HostedZoneId", required=True) or "")
    )


def _write_key(xml: XmlWriter, zone_name: str, ksk: KeySigningKey, element: str) -> None:
    xml.open(element)
    xml.element("Name", ksk.name)
    xml.element("KmsArn", ksk.kms_arn)
    for field, value in ksk_view(zone_name, ksk).items():
        xml.element(field, value)
    xml.element("Status", ksk.status.value)
    xml.element("StatusMessage", ksk.status_message or None)
    xml.element("CreatedDate", wire.timestamp(ksk.created))
    xml.element("LastModifiedDate", wire.timestamp(ksk.modified))
    xml.close(element)


async def create(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateKeySigningKeyRequest")
    ksk, submitted = await service.create_key(
        tenant,
        _zone_id(wire.text(root, "HostedZoneId", required=True) or ""),
        wire.text(root, "Name", required=True) or "",
        wire.text(root, "KeyManagementServiceArn", required=True) or "",
        wire.text(root, "Status", required=True) or "",
        wire.text(root, "CallerReference", required=True) or "",
    )
    zone = await service.zones.zone(tenant, ksk.zone_id)
    xml = wire.writer("CreateKeySigningKeyResponse")
    wire.change_info(xml, submitted)
    _write_key(xml, zone.name, ksk, "KeySigningKey")
    return wire.answer(xml, 201, f"/2013-04-01/keysigningkey/{ksk.zone_id}/{ksk.name}")


def _changed(root: str, submitted: Submitted) -> Response:
    xml = wire.writer(root)
    wire.change_info(xml, submitted)
    return wire.answer(xml)


async def activate(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    return _changed(
        "ActivateKeySigningKeyResponse",
        await service.activate_key(tenant, _zone_id(op.zone_id), op.key_name),
    )


async def deactivate(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    return _changed(
        "DeactivateKeySigningKeyResponse",
        await service.deactivate_key(tenant, _zone_id(op.zone_id), op.key_name),
    )


async def delete(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    return _changed(
        "DeleteKeySigningKeyResponse",
        await service.delete_key(tenant, _zone_id(op.zone_id), op.key_name),
    )


async def enable(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    return _changed(
        "EnableHostedZoneDNSSECResponse", await service.enable(tenant, _zone_id(op.zone_id))
    )


async def disable(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    return _changed(
        "DisableHostedZoneDNSSECResponse", await service.disable(tenant, _zone_id(op.zone_id))
    )


async def get(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    zone_id = _zone_id(op.zone_id)
    state = await service.state(tenant, zone_id)
    zone = await service.zones.zone(tenant, zone_id)
    xml = wire.writer("GetDNSSECResponse")
    xml.open("Status")
    xml.element("ServeSignature", state.serve_signature.value)
    xml.element("StatusMessage", state.status_message or None)
    xml.close("Status")
    xml.open("KeySigningKeys")
    for ksk in state.keys:
        _write_key(xml, zone.name, ksk, "member")
    xml.close("KeySigningKeys")
    return wire.answer(xml)


DNSSEC_HANDLERS: Final[dict[str, DnssecHandler]] = {
    "CreateKeySigningKey": create,
    "ActivateKeySigningKey": activate,
    "DeactivateKeySigningKey": deactivate,
    "DeleteKeySigningKey": delete,
    "EnableHostedZoneDNSSEC": enable,
    "DisableHostedZoneDNSSEC": disable,
    "GetDNSSEC": get,
}
