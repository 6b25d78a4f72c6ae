"""Route 53's DNSSEC signing on the wire (decision 0317): CreateKeySigningKey (201 with
``Location``), ActivateKeySigningKey, DeactivateKeySigningKey, DeleteKeySigningKey,
EnableHostedZoneDNSSEC, DisableHostedZoneDNSSEC and GetDNSSEC, in botocore's ``route53``
shapes. CreateKeySigningKey is authorised on the hosted zone its body names, the others on
the zone of their path, as AWS's service authorisation reference gives them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.dnssec import DnssecService
from andromede.route53.dnssec_model import KeySigningKey, ksk_view
from andromede.route53.service import Submitted
from andromede.route53api import wire
from andromede.route53api.inputs import hosted_zone_id
from andromede.route53api.operations import Route
from andromede.route53api.query_logging_handlers import with_zone_of_body

__all__ = ["DNSSEC_HANDLERS", "with_key_zone"]

DnssecHandler = Callable[[DnssecService, str, Route, Mapping[str, str], bytes], Awaitable[Response]]
# The changes answered by their ChangeInfo alone: a key's, named in the path by its zone and
# its name, and the zone's signing, named by the zone.
_KEY_CHANGES: Final[dict[str, Callable[[DnssecService, str, str, str], Awaitable[Submitted]]]] = {
    "ActivateKeySigningKey": DnssecService.activate_key,
    "DeactivateKeySigningKey": DnssecService.deactivate_key,
    "DeleteKeySigningKey": DnssecService.delete_key,
}
_SIGNING_CHANGES: Final[dict[str, Callable[[DnssecService, str, str], Awaitable[Submitted]]]] = {
    "EnableHostedZoneDNSSEC": DnssecService.enable,
    "DisableHostedZoneDNSSEC": DnssecService.disable,
}


def with_key_zone(operation: Route, body: bytes) -> Route:
    """CreateKeySigningKey's route with the zone its body names (for IAM)."""
    return with_zone_of_body(operation, body, "CreateKeySigningKey")


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
        hosted_zone_id(wire.text(root, "HostedZoneId", required=True) or ""),
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


async def change_key(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    change = _KEY_CHANGES[op.name]
    return _changed(
        f"{op.name}Response", await change(service, tenant, hosted_zone_id(op.zone_id), op.key_name)
    )


async def change_signing(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    change = _SIGNING_CHANGES[op.name]
    return _changed(f"{op.name}Response", await change(service, tenant, hosted_zone_id(op.zone_id)))


async def get(
    service: DnssecService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    zone_id = hosted_zone_id(op.zone_id)
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
    **dict.fromkeys(_KEY_CHANGES, change_key),
    **dict.fromkeys(_SIGNING_CHANGES, change_signing),
    "GetDNSSEC": get,
}
