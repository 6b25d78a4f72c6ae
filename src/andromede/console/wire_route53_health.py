"""Route 53 health checks' calls (decision 0285) the console's health check pages make
(decision 0290), through the zones' wire (``wire_route53.Route53Wire``: the same REST-XML
app, its authorisation ``route53:<Operation>`` on ``healthcheck/<id>``, audit and errors):
ListHealthChecks, GetHealthCheck, CreateHealthCheck, UpdateHealthCheck, DeleteHealthCheck,
GetHealthCheckStatus and GetHealthCheckLastFailureReason. Each answer is read into the rows
the pages show; the configuration is sent as typed, and Route 53 checks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote
from xml.etree.ElementTree import Element, SubElement

from andromede.console.wire_route53 import Route53Wire, _child, _children, _document, _text
from andromede.http.response import Scope
from andromede.iam.model import Principal
from andromede.route53.health_model import (
    CALCULATED,
    HealthCheckConfig,
    calculated_healthy,
    failover_healthy,
    report_healthy,
)

__all__ = [
    "CHECK_TYPES",
    "HealthCheckCalls",
    "HealthCheckRow",
    "Observation",
    "check_status",
]

# The types a check is made of here (RECOVERY_CONTROL is not served, decision 0285).
CHECK_TYPES: Final = (
    "HTTP",
    "HTTPS",
    "HTTP_STR_MATCH",
    "HTTPS_STR_MATCH",
    "TCP",
    "CALCULATED",
    "CLOUDWATCH_METRIC",
)
# HealthCheckConfig's elements in botocore's order, as the form's fields name them.
_CONFIG_ORDER: Final = (
    ("IPAddress", "ip_address"),
    ("Port", "port"),
    ("Type", "type"),
    ("ResourcePath", "resource_path"),
    ("FullyQualifiedDomainName", "fqdn"),
    ("SearchString", "search_string"),
    ("RequestInterval", "request_interval"),
    ("FailureThreshold", "failure_threshold"),
    ("MeasureLatency", "measure_latency"),
    ("Inverted", "inverted"),
    ("Disabled", "disabled"),
    ("HealthThreshold", "health_threshold"),
    ("ChildHealthChecks", "children"),
    ("EnableSNI", "enable_sni"),
    ("AlarmIdentifier", "alarm"),
    ("InsufficientDataHealthStatus", "insufficient_data"),
)


@dataclass(frozen=True, slots=True)
class HealthCheckRow:
    """A health check as GetHealthCheck and ListHealthChecks give it (texts as written)."""

    health_check_id: str
    version: str
    type: str
    ip_address: str = ""
    port: str = ""
    fqdn: str = ""
    resource_path: str = ""
    search_string: str = ""
    request_interval: str = ""
    failure_threshold: str = ""
    inverted: bool = False
    disabled: bool = False
    health_threshold: str = ""
    children: tuple[str, ...] = ()
    alarm: tuple[str, str] | None = None  # (Region, name)
    insufficient_data: str = ""

    @property
    def endpoint(self) -> str:
        """What the check looks at: ``http://host:port/path``, ``host:port`` for TCP, its
        children or alarm otherwise."""
        host = self.fqdn or self.ip_address
        if self.type == "TCP":
            return f"{host}:{self.port}"
        if self.type.startswith("HTTP"):
            scheme = "https" if self.type.startswith("HTTPS") else "http"
            return f"{scheme}://{host}:{self.port}{self.resource_path}"
        if self.type == "CALCULATED":
            return ", ".join(self.children)
        return self.alarm[1] if self.alarm else ""


@dataclass(frozen=True, slots=True)
class Observation:
    """One checker's last report (GetHealthCheckStatus, GetHealthCheckLastFailureReason)."""

    region: str
    ip_address: str
    status: str
    checked: str


def check_status(
    check: HealthCheckRow,
    observations: Sequence[Observation],
    children: Mapping[str, bool] | None = None,
) -> str:
    """Healthy, Unhealthy or Unknown: the check as Route 53's failover reads it
    (``health_model.failover_healthy``, decision 0371) from Route 53's own answers — what
    the checkers decided is the newest report of GetHealthCheckStatus (raw, as AWS's), a
    calculated check's is its children's statuses (``children``, each as DNS answers it;
    one missing counts unhealthy) against its threshold; then disabled is healthy and
    inverted reverses it. Unknown before the first report, or for a calculated check whose
    children were not read (``children`` None)."""
    decided: bool | None = None
    if check.type == CALCULATED:
        if children is not None:
            threshold = int(check.health_threshold) if check.health_threshold.isdigit() else 1
            config = HealthCheckConfig(
                CALCULATED, children=check.children, health_threshold=threshold
            )
            decided = calculated_healthy(config, children)
    elif observations:
        decided = report_healthy(max(observations, key=lambda o: o.checked).status)
    reading = failover_healthy(disabled=check.disabled, inverted=check.inverted, decided=decided)
    return "Unknown" if reading is None else ("Healthy" if reading else "Unhealthy")


def _check(node: Any) -> HealthCheckRow:
    config = _child(node, "HealthCheckConfig")
    alarm = _child(config, "AlarmIdentifier")
    children = _children(_child(config, "ChildHealthChecks"), "ChildHealthCheck")
    return HealthCheckRow(
        health_check_id=_text(node, "Id"),
        version=_text(node, "HealthCheckVersion"),
        type=_text(config, "Type"),
        ip_address=_text(config, "IPAddress"),
        port=_text(config, "Port"),
        fqdn=_text(config, "FullyQualifiedDomainName"),
        resource_path=_text(config, "ResourcePath"),
        search_string=_text(config, "SearchString"),
        request_interval=_text(config, "RequestInterval"),
        failure_threshold=_text(config, "FailureThreshold"),
        inverted=_text(config, "Inverted") == "true",
        disabled=_text(config, "Disabled") == "true",
        health_threshold=_text(config, "HealthThreshold"),
        children=tuple((c.text or "").strip() for c in children),
        alarm=None if alarm is None else (_text(alarm, "Region"), _text(alarm, "Name")),
        insufficient_data=_text(config, "InsufficientDataHealthStatus"),
    )


def _observations(root: Any) -> list[Observation]:
    listed = _children(_child(root, "HealthCheckObservations"), "HealthCheckObservation")
    return [
        Observation(
            region=_text(o, "Region"),
            ip_address=_text(o, "IPAddress"),
            status=_text(_child(o, "StatusReport"), "Status"),
            checked=_text(_child(o, "StatusReport"), "CheckedTime"),
        )
        for o in listed
    ]


def _write_fields(parent: Element, fields: Mapping[str, object], *, update: bool) -> None:
    """The fields given (a text, a bool, children's ids, an alarm (Region, name)), in
    botocore's order; an update sends no type (AWS's model has none)."""
    for element, name in _CONFIG_ORDER:
        value = fields.get(name)
        if value is None or (update and element == "Type"):
            continue
        if element == "ChildHealthChecks" and isinstance(value, list | tuple):
            listed = SubElement(parent, element)
            for child in value:
                SubElement(listed, "ChildHealthCheck").text = str(child)
        elif element == "AlarmIdentifier" and isinstance(value, tuple):
            alarm = SubElement(parent, element)
            SubElement(alarm, "Region").text = str(value[0])
            SubElement(alarm, "Name").text = str(value[1])
        elif isinstance(value, bool):
            SubElement(parent, element).text = "true" if value else "false"
        else:
            SubElement(parent, element).text = str(value)


class HealthCheckCalls:
    """The health check calls the console makes, as ``principal``, through ``wire``."""

    def __init__(self, wire: Route53Wire) -> None:
        self._wire = wire

    @staticmethod
    def _path(health_check_id: str) -> str:
        return f"/healthcheck/{quote(health_check_id, safe='')}"

    async def page(
        self, origin: Scope, principal: Principal, *, marker: str, limit: int
    ) -> tuple[list[HealthCheckRow], str]:
        """One page of ListHealthChecks after ``marker``, and the next page's marker ("")."""
        root, following = await self._wire.marker_page(
            origin, principal, "/healthcheck", marker=marker, limit=limit
        )
        return [
            _check(c) for c in _children(_child(root, "HealthChecks"), "HealthCheck")
        ], following

    async def get(
        self, origin: Scope, principal: Principal, health_check_id: str
    ) -> HealthCheckRow:
        root = await self._wire.request(origin, principal, "GET", self._path(health_check_id))
        return _check(_child(root, "HealthCheck"))

    async def create(
        self, origin: Scope, principal: Principal, fields: Mapping[str, object]
    ) -> str:
        """The new check's id. Each form sent is a new caller reference, as each click of
        AWS's console is."""
        root = _document("CreateHealthCheckRequest")
        SubElement(root, "CallerReference").text = f"console-{uuid.uuid4()}"
        _write_fields(SubElement(root, "HealthCheckConfig"), fields, update=False)
        answer = await self._wire.request(origin, principal, "POST", "/healthcheck", body=root)
        return _text(_child(answer, "HealthCheck"), "Id")

    async def update(
        self,
        origin: Scope,
        principal: Principal,
        health_check_id: str,
        *,
        version: str,
        fields: Mapping[str, object],
        reset: Sequence[str] = (),
    ) -> None:
        """UpdateHealthCheck of the version the page showed (Route 53's
        ``HealthCheckVersionMismatch`` when it has moved on), the elements ``reset`` to
        their defaults."""
        root = _document("UpdateHealthCheckRequest")
        SubElement(root, "HealthCheckVersion").text = version
        _write_fields(root, fields, update=True)
        if reset:
            listed = SubElement(root, "ResetElements")
            for element in reset:
                SubElement(listed, "ResettableElementName").text = element
        path = self._path(health_check_id)
        await self._wire.request(origin, principal, "POST", path, body=root)

    async def delete(self, origin: Scope, principal: Principal, health_check_id: str) -> None:
        await self._wire.request(origin, principal, "DELETE", self._path(health_check_id))

    async def status(
        self, origin: Scope, principal: Principal, health_check_id: str
    ) -> list[Observation]:
        path = f"{self._path(health_check_id)}/status"
        return _observations(await self._wire.request(origin, principal, "GET", path))

    async def last_failures(
        self, origin: Scope, principal: Principal, health_check_id: str
    ) -> list[Observation]:
        path = f"{self._path(health_check_id)}/lastfailurereason"
        return _observations(await self._wire.request(origin, principal, "GET", path))
