"""Route 53 health checks' pure rules (decision 0285): a health check's configuration as
CreateHealthCheck gives it, checked with AWS's ``InvalidInput`` wording and completed with
AWS's defaults; UpdateHealthCheck's changes (``ResetElements`` included); the status a check
keeps (the last results, ``FailureThreshold`` consecutive ones flipping it, ``Inverted``,
``Disabled``) and a CALCULATED check's status from its children's; and the one reading of
"is this check healthy now, as Route 53's failover reads it" (decision 0371):
:func:`failover_healthy` over what the checkers decided (:func:`alarm_healthy`,
:func:`calculated_healthy`, a probe's result through ``FailureThreshold``), which DNS
answers, EventBridge's endpoints and the console's pages (from :func:`report_healthy` of
GetHealthCheckStatus's reports) all use. No I/O."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from andromede.route53.health_errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = [
    "CALCULATED",
    "CHECKER_REGIONS",
    "CLOUDWATCH_METRIC",
    "ENDPOINT_TYPES",
    "HEALTH_TYPES",
    "AlarmIdentifier",
    "HealthCheck",
    "HealthCheckConfig",
    "HealthStatus",
    "Network",
    "Observation",
    "alarm_healthy",
    "calculated_healthy",
    "check_config",
    "completed",
    "failover_healthy",
    "observed",
    "report_healthy",
    "updated",
]

CALCULATED: Final = "CALCULATED"
CLOUDWATCH_METRIC: Final = "CLOUDWATCH_METRIC"
ENDPOINT_TYPES: Final = frozenset({"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"})
HEALTH_TYPES: Final = ENDPOINT_TYPES | {CALCULATED, CLOUDWATCH_METRIC}
# The Regions AWS's checkers run from (botocore's HealthCheckRegion).
CHECKER_REGIONS: Final = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
RESETTABLE: Final = frozenset(
    {"FullyQualifiedDomainName", "Regions", "ResourcePath", "ChildHealthChecks"}
)
INSUFFICIENT_DATA: Final = frozenset({"Healthy", "Unhealthy", "LastKnownStatus"})
# How many checkers' last observations GetHealthCheckStatus answers.
KEPT_OBSERVATIONS: Final = 16


@dataclass(frozen=True)
class AlarmIdentifier:
    region: str
    name: str


@dataclass(frozen=True)
class HealthCheckConfig:
    """``HealthCheckConfig`` as botocore names it; None where not given (before
    :func:`completed`) or not of the type."""

    type: str
    ip_address: str | None = None
    port: int | None = None
    resource_path: str | None = None
    fqdn: str | None = None
    search_string: str | None = None
    request_interval: int | None = None
    failure_threshold: int | None = None
    measure_latency: bool | None = None
    inverted: bool | None = None
    disabled: bool | None = None
    health_threshold: int | None = None
    children: tuple[str, ...] | None = None
    enable_sni: bool | None = None
    regions: tuple[str, ...] | None = None
    alarm: AlarmIdentifier | None = None
    insufficient_data: str | None = None

    @property
    def https(self) -> bool:
        return self.type.startswith("HTTPS")

    @property
    def is_endpoint(self) -> bool:
        return self.type in ENDPOINT_TYPES


@dataclass(frozen=True)
class Observation:
    """One checker's last result: where it ran from, what it saw, when (ms)."""

    region: str
    address: str
    report: str
    checked: int


@dataclass(frozen=True)
class HealthStatus:
    """What the checkers last decided: ``healthy`` (before ``Inverted``), the run of equal
    results behind it, each checker's last observation, the last failure's."""

    healthy: bool = True
    run: int = 0  # consecutive results against ``healthy`` (a flip at FailureThreshold)
    observations: tuple[Observation, ...] = ()
    last_failures: tuple[Observation, ...] = ()
    checked: int = 0  # ms of the last result, 0: never checked


@dataclass(frozen=True)
class HealthCheck:
    tenant_id: str
    health_check_id: str
    caller_reference: str
    config: HealthCheckConfig
    created: int  # ms
    version: int = 1  # HealthCheckVersion, one up at each update
    tags: tuple[tuple[str, str], ...] = ()
    status: HealthStatus = field(default_factory=HealthStatus)
    revision: int = 1  # the store's compare-and-set of the definition (tags included)

    @property
    def arn(self) -> str:
        return f"arn:aws:route53:::healthcheck/{self.health_check_id}"

    def reported_healthy(self) -> bool:
        """The status the metric shows: always healthy while disabled, reversed when
        inverted (AWS's rules), the checkers' default status before their first result."""
        reading = failover_healthy(
            disabled=bool(self.config.disabled),
            inverted=bool(self.config.inverted),
            decided=self.status.healthy,
        )
        return reading is not False

    def answered_healthy(self) -> bool:
        """What DNS answers use (decision 0284's lookup): :func:`failover_healthy` of what
        the checkers decided, healthy before their first result (Route 53 answers a record
        whose check has no status yet)."""
        decided = self.status.healthy if self.status.checked else None
        reading = failover_healthy(
            disabled=bool(self.config.disabled),
            inverted=bool(self.config.inverted),
            decided=decided,
        )
        return reading is not False

    def replaced(self, **changes: object) -> HealthCheck:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _public_or_allowed(address: str, allowed: Sequence[Network]) -> bool:
    ip = ipaddress.ip_address(address)
    return (ip.is_global and not ip.is_multicast) or any(ip in net for net in allowed)


def check_config(config: HealthCheckConfig, allowed: Sequence[Network] = ()) -> None:
    """AWS's refusals of a configuration (after :func:`completed` or an update)."""
    kind = config.type
    if kind not in HEALTH_TYPES:
        raise InvalidInput(
            f"Invalid XML ; cvc-enumeration-valid: Value '{kind[:32]}' is not facet-valid with "
            f"respect to enumeration '[{', '.join(sorted(HEALTH_TYPES))}]'."
        )
    if config.is_endpoint:
        if config.alarm is not None or config.insufficient_data is not None:
            raise InvalidInput(
                "Invalid parameter : Basic health checks must not have an metric region specified."
            )
        if config.children or config.health_threshold is not None:
            raise InvalidInput(
                "Invalid parameter : Basic health checks must not have child health checks."
            )
        if not config.ip_address and not config.fqdn:
            raise InvalidInput(
                "Invalid parameter : Health checks must have either an IP address or a fully "
                "qualified domain name."
            )
        if config.ip_address:
            try:
                public = _public_or_allowed(config.ip_address, allowed)
            except ValueError as exc:
                raise InvalidInput(
                    f"Invalid parameter : IP address '{config.ip_address[:45]}' is not valid."
                ) from exc
            if not public:
                raise InvalidInput(
                    f"Invalid parameter : IP address '{config.ip_address}' is in a reserved "
                    "or private range; health checkers cannot reach it."
                )
            if kind == "TCP" and config.fqdn:
                raise InvalidInput(
                    "TCP health checks that have IP address must not have a fully qualified "
                    "domain name specified."
                )
        if kind == "TCP" and config.port is None:
            raise InvalidInput("Invalid parameter : TCP health checks must have a port.")
        if kind == "TCP" and config.resource_path:
            raise InvalidInput(
                "Invalid parameter : TCP health checks must not have a resource path."
            )
        if kind.endswith("_STR_MATCH") and not config.search_string:
            raise InvalidInput(
                f"Invalid parameter : {kind} health checks must have a search string."
            )
        if not kind.endswith("_STR_MATCH") and config.search_string:
            raise InvalidInput(
                f"Invalid parameter : {kind} health checks must not have a search string."
            )
        if config.request_interval not in (None, 10, 30):
            raise InvalidInput("Invalid parameter : RequestInterval must be 10 or 30.")
        if config.failure_threshold is not None and not 1 <= config.failure_threshold <= 10:
            raise InvalidInput("Invalid parameter : FailureThreshold must be between 1 and 10.")
        if config.regions is not None:
            unknown = [r for r in config.regions if r not in CHECKER_REGIONS]
            if unknown:
                raise InvalidInput(f"Invalid parameter : Region {unknown[0][:32]} is not valid.")
            if len(set(config.regions)) < 3:
                raise InvalidInput(
                    "Invalid parameter : A health check must have at least 3 regions."
                )
        if config.enable_sni and not config.https:
            raise InvalidInput("Invalid parameter : SNI is only valid for HTTPS health checks.")
        return
    if config.ip_address or config.fqdn or config.port or config.search_string:
        raise InvalidInput(f"Invalid parameter : {kind} health checks must not have an endpoint.")
    if kind == CALCULATED:
        if config.alarm is not None:
            raise InvalidInput(
                "Invalid parameter : Calculated health checks must not have an alarm."
            )
        if config.health_threshold is not None and not 0 <= config.health_threshold <= 256:
            raise InvalidInput("Invalid parameter : HealthThreshold must be between 0 and 256.")
        if len(config.children or ()) > 256:
            raise InvalidInput("Invalid parameter : At most 256 child health checks.")
        return
    if config.alarm is None:
        raise InvalidInput(
            "Invalid parameter : CloudWatch metric health checks must have an alarm identifier."
        )
    if config.children or config.health_threshold is not None:
        raise InvalidInput(
            "Invalid parameter : CloudWatch metric health checks must not have child health checks."
        )
    if config.insufficient_data not in (None, *INSUFFICIENT_DATA):
        raise InvalidInput("Invalid parameter : InsufficientDataHealthStatus is not valid.")


def completed(config: HealthCheckConfig) -> HealthCheckConfig:
    """The configuration with AWS's defaults, as GetHealthCheck answers it."""
    base = dataclasses.replace(
        config,
        inverted=bool(config.inverted),
        disabled=bool(config.disabled),
    )
    if config.is_endpoint:
        return dataclasses.replace(
            base,
            port=config.port if config.port is not None else (443 if config.https else 80),
            request_interval=config.request_interval or 30,
            failure_threshold=config.failure_threshold or 3,
            measure_latency=bool(config.measure_latency),
            enable_sni=config.https if config.enable_sni is None else config.enable_sni,
            # Not given: every checker Region, which AWS answers by leaving Regions out.
            regions=config.regions or None,
        )
    if config.type == CALCULATED:
        return dataclasses.replace(
            base,
            children=config.children or (),
            health_threshold=config.health_threshold if config.health_threshold is not None else 1,
        )
    return dataclasses.replace(
        base,
        insufficient_data=config.insufficient_data or "LastKnownStatus",
        regions=None,
    )


def updated(
    config: HealthCheckConfig, changes: Mapping[str, object], reset: Sequence[str]
) -> HealthCheckConfig:
    """UpdateHealthCheck: ``changes`` (the config's field names) over ``config``, then the
    ``ResetElements`` back to their defaults; the type and request interval stay."""
    for element in reset:
        if element not in RESETTABLE:
            raise InvalidInput(
                f"Invalid XML ; cvc-enumeration-valid: Value '{element[:32]}' is not "
                f"facet-valid with respect to enumeration '[{', '.join(sorted(RESETTABLE))}]'."
            )
    fields = {f.name for f in dataclasses.fields(HealthCheckConfig)} - {"type", "request_interval"}
    unknown = set(changes) - fields
    if unknown:
        raise InvalidInput(f"Invalid parameter : {sorted(unknown)[0]} cannot be updated.")
    new = dataclasses.replace(config, **changes)  # type: ignore[arg-type]
    resets: dict[str, object] = {
        "FullyQualifiedDomainName": {"fqdn": None},
        "Regions": {"regions": None},
        "ResourcePath": {"resource_path": None},
        "ChildHealthChecks": {"children": () if config.type == CALCULATED else None},
    }
    for element in reset:
        new = dataclasses.replace(new, **resets[element])  # type: ignore[arg-type]
    return new


def observed(
    status: HealthStatus, healthy: bool, observation: Observation, threshold: int
) -> HealthStatus:
    """The status after one more result: it flips after ``threshold`` consecutive results
    against it (AWS's FailureThreshold, both ways); a first result sets it at once."""
    observations = (
        observation,
        *(o for o in status.observations if o.address != observation.address),
    )[:KEPT_OBSERVATIONS]
    failures = status.last_failures
    if not healthy:
        failures = (
            observation,
            *(o for o in failures if o.address != observation.address),
        )[:KEPT_OBSERVATIONS]
    if status.checked == 0:
        return HealthStatus(healthy, 0, observations, failures, observation.checked)
    if healthy == status.healthy:
        return HealthStatus(healthy, 0, observations, failures, observation.checked)
    run = status.run + 1
    if run >= threshold:
        return HealthStatus(healthy, 0, observations, failures, observation.checked)
    return HealthStatus(status.healthy, run, observations, failures, observation.checked)


def calculated_healthy(config: HealthCheckConfig, children: Mapping[str, bool]) -> bool:
    """A CALCULATED check is healthy while at least ``HealthThreshold`` of its children are
    (a child deleted counts unhealthy; a threshold above their number: never healthy)."""
    wanted = config.health_threshold if config.health_threshold is not None else 1
    healthy = sum(1 for child in config.children or () if children.get(child, False))
    return healthy >= wanted


# How a checker's report begins (GetHealthCheckStatus's ``Status``): a probe's or a
# calculated check's ``Success``/``Failure``; an alarm check's answer to missing data says
# the ``InsufficientDataHealthStatus`` it applied (``Healthy``/``Unhealthy``).
SUCCESS: Final = "Success"
FAILURE: Final = "Failure"
_HEALTHY_REPORTS: Final = (SUCCESS, "Healthy")
_UNHEALTHY_REPORTS: Final = (FAILURE, "Unhealthy")


def alarm_healthy(state: str | None, insufficient_data: str) -> bool | None:
    """A CLOUDWATCH_METRIC check's result from its alarm's state (None: the alarm is gone):
    OK healthy, ALARM unhealthy, otherwise ``InsufficientDataHealthStatus`` — None for
    ``LastKnownStatus``, which keeps the status the check had (AWS: healthy for a new one,
    as a check without a result is answered)."""
    if state == "OK":
        return True
    if state == "ALARM":
        return False
    if insufficient_data in ("Healthy", "Unhealthy"):
        return insufficient_data == "Healthy"
    return None


def report_healthy(report: str) -> bool | None:
    """A checker's report read back as the result it made: ``Success`` or an alarm's
    ``Healthy`` for missing data, healthy; ``Failure`` or ``Unhealthy``, not; None for a
    text of another shape. GetHealthCheckStatus answers these raw (before ``Inverted``), as
    AWS's checkers report what they observed."""
    if report.startswith(_HEALTHY_REPORTS):
        return True
    if report.startswith(_UNHEALTHY_REPORTS):
        return False
    return None


def failover_healthy(*, disabled: bool, inverted: bool, decided: bool | None) -> bool | None:
    """Whether Route 53's failover reads a check healthy now (decision 0371), from what its
    checkers decided (``decided``: a probe's results through ``FailureThreshold``, an
    alarm's :func:`alarm_healthy`, a calculated check's :func:`calculated_healthy`; None
    before any result): healthy while disabled whatever was decided, the decision reversed
    when inverted; None (unknown) before the first result — DNS then answers the record as
    healthy, a page says Unknown."""
    if disabled:
        return True
    if decided is None:
        return None
    return decided != inverted
