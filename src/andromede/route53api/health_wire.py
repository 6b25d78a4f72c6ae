"""Route 53 health checks' REST-XML shapes (decision 0285): ``HealthCheckConfig`` and
UpdateHealthCheck's fields read into the core's values (botocore's element names), a
``HealthCheck`` and its observations written as botocore's ``route53`` model names them."""

from __future__ import annotations

from typing import Final
from xml.etree.ElementTree import Element

from andromede.http.xml import XmlWriter
from andromede.route53.health_model import (
    AlarmIdentifier,
    HealthCheck,
    HealthCheckConfig,
    Observation,
)
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError

__all__ = ["read_config", "read_update", "write_health_check", "write_observations"]

# botocore's element → the core's field, and how its text is read.
_INTS: Final = {
    "Port": "port",
    "RequestInterval": "request_interval",
    "FailureThreshold": "failure_threshold",
    "HealthThreshold": "health_threshold",
}
_BOOLS: Final = {
    "MeasureLatency": "measure_latency",
    "Inverted": "inverted",
    "Disabled": "disabled",
    "EnableSNI": "enable_sni",
}
_TEXTS: Final = {
    "IPAddress": "ip_address",
    "ResourcePath": "resource_path",
    "FullyQualifiedDomainName": "fqdn",
    "SearchString": "search_string",
    "InsufficientDataHealthStatus": "insufficient_data",
}
_NOT_YET: Final = {
    "RoutingControlArn": "Application Recovery Controller health checks",
    "HealthCheckSourceId": "Health check sources",
}


def _fields(node: Element) -> dict[str, object]:
    fields: dict[str, object] = {}
    for element, name in _TEXTS.items():
        value = wire.text(node, element)
        if value is not None:
            fields[name] = value
    for element, name in _INTS.items():
        value = wire.text(node, element)
        if value is not None:
            try:
                fields[name] = int(value)
            except ValueError as exc:
                raise Route53WireError(
                    "InvalidInput", f"Invalid value for {element}: {value[:16]}"
                ) from exc
    for element, name in _BOOLS.items():
        value = wire.text(node, element)
        if value is not None:
            if value.lower() not in ("true", "false"):
                raise Route53WireError("InvalidInput", f"Invalid value for {element}")
            fields[name] = value.lower() == "true"
    children = wire.child(node, "ChildHealthChecks")
    if children is not None:
        fields["children"] = tuple(
            (c.text or "").strip() for c in wire.children(children, "ChildHealthCheck")
        )
    regions = wire.child(node, "Regions")
    if regions is not None:
        fields["regions"] = tuple((r.text or "").strip() for r in wire.children(regions, "Region"))
    alarm = wire.child(node, "AlarmIdentifier")
    if alarm is not None:
        fields["alarm"] = AlarmIdentifier(
            wire.text(alarm, "Region", required=True) or "",
            wire.text(alarm, "Name", required=True) or "",
        )
    for element, feature in _NOT_YET.items():
        if wire.child(node, element) is not None:
            raise Route53WireError("InvalidInput", f"{feature} are not supported yet")
    return fields


def read_config(root: Element) -> HealthCheckConfig:
    node = wire.child(root, "HealthCheckConfig")
    if node is None:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'HealthCheckConfig'")
    kind = wire.text(node, "Type", required=True) or ""
    if kind == "RECOVERY_CONTROL":
        raise Route53WireError(
            "InvalidInput", "RECOVERY_CONTROL health checks are not supported yet"
        )
    return HealthCheckConfig(type=kind, **_fields(node))  # type: ignore[arg-type]


def read_update(root: Element) -> tuple[int | None, dict[str, object], list[str]]:
    """UpdateHealthCheck: the version named (if any), the fields given, the elements reset."""
    version_text = wire.text(root, "HealthCheckVersion")
    try:
        version = None if version_text is None else int(version_text)
    except ValueError as exc:
        raise Route53WireError("InvalidInput", "Invalid value for HealthCheckVersion") from exc
    reset = [
        (e.text or "").strip()
        for e in wire.children(wire.child(root, "ResetElements"), "ResettableElementName")
    ]
    return version, _fields(root), reset


def _write_config(xml: XmlWriter, config: HealthCheckConfig) -> None:
    xml.open("HealthCheckConfig")
    xml.element("IPAddress", config.ip_address)
    xml.element("Port", config.port)
    xml.element("Type", config.type)
    xml.element("ResourcePath", config.resource_path)
    xml.element("FullyQualifiedDomainName", config.fqdn)
    xml.element("SearchString", config.search_string)
    xml.element("RequestInterval", config.request_interval)
    xml.element("FailureThreshold", config.failure_threshold)
    xml.element("MeasureLatency", config.measure_latency)
    xml.element("Inverted", config.inverted)
    xml.element("Disabled", config.disabled)
    xml.element("HealthThreshold", config.health_threshold)
    if config.children is not None:
        xml.open("ChildHealthChecks")
        xml.elements("ChildHealthCheck", config.children)
        xml.close("ChildHealthChecks")
    xml.element("EnableSNI", config.enable_sni)
    if config.regions is not None:
        xml.open("Regions")
        xml.elements("Region", config.regions)
        xml.close("Regions")
    if config.alarm is not None:
        xml.open("AlarmIdentifier")
        xml.element("Region", config.alarm.region)
        xml.element("Name", config.alarm.name)
        xml.close("AlarmIdentifier")
    xml.element("InsufficientDataHealthStatus", config.insufficient_data)
    xml.close("HealthCheckConfig")


def write_health_check(xml: XmlWriter, check: HealthCheck) -> None:
    xml.open("HealthCheck")
    xml.element("Id", check.health_check_id)
    xml.element("CallerReference", check.caller_reference)
    _write_config(xml, check.config)
    xml.element("HealthCheckVersion", check.version)
    xml.close("HealthCheck")


def write_observations(xml: XmlWriter, observations: tuple[Observation, ...]) -> None:
    xml.open("HealthCheckObservations")
    for item in observations:
        xml.open("HealthCheckObservation")
        xml.element("Region", item.region)
        xml.element("IPAddress", item.address)
        xml.open("StatusReport")
        xml.element("Status", item.report)
        xml.element("CheckedTime", wire.timestamp(item.checked))
        xml.close("StatusReport")
        xml.close("HealthCheckObservation")
    xml.close("HealthCheckObservations")
