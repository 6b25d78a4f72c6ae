"""The hypervisor port's calls as JSON, for the agent's socket (:mod:`andromede.hypervisor.agent`).

Every method of :class:`~andromede.compute.driver.HypervisorDriver` but ``put_image`` is listed
in :data:`CALLS` with its parameter types and return type; the codec is driven by those types,
so a call means the same on both sides of the socket and an unknown method or a malformed
argument is refused before the driver sees it. Bytes (volume keys, user data, console output)
travel as base64; the socket is private to the gateway's user (a 0700 directory), never a
network port.

``put_image`` carries an image's bytes, too many for a JSON document: it is a request of its own,
``PUT /v1/images/<image id>`` with the checksum and format in headers (:data:`IMAGE_SHA256`,
:data:`IMAGE_FORMAT`) and the bytes as the streamed body.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from andromede.compute.driver import (
    AttachedVolume,
    HostCapacity,
    InstanceNetwork,
    InstanceSpec,
    InterfaceSpec,
    RuntimeState,
    SupervisedProcesses,
    VolumeSpec,
)
from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancerReport,
    ProbeResult,
    TargetProbe,
)
from andromede.compute.driver_network import (
    WIRE_OMITTED_AT_DEFAULT,
    EndpointRoute,
    FlowCapture,
    HostFlows,
    InstanceFirewall,
    InterfaceRoute,
    NatRoute,
    NetworkPeer,
    NetworkSpec,
    PeeringLink,
    SubnetAcl,
    VpcDns,
)
from andromede.compute.instance_stats import InstanceStats

__all__ = [
    "CALLS",
    "IMAGES_PATH",
    "IMAGE_FORMAT",
    "IMAGE_SHA256",
    "KEEP_ALIVE_SECONDS",
    "Call",
    "WireError",
    "decode",
    "encode",
]

IMAGES_PATH = "/v1/images/"
IMAGE_SHA256 = "x-andromede-image-sha256"
IMAGE_FORMAT = "x-andromede-image-format"
# How long the agent keeps an idle connection open. A client drops its idle connections well
# before (remote.py): were both 5 s (uvicorn's and httpx's defaults), a gateway could send a
# call on a connection the agent was closing that instant, and lose it as "unreachable".
KEEP_ALIVE_SECONDS = 60


class WireError(ValueError):
    """A message that does not match the call's types."""


@dataclass(frozen=True, slots=True)
class Call:
    """One method of the port: its positional parameters, keyword-only ones, and result."""

    parameters: tuple[tuple[str, Any], ...]
    result: Any = None
    keywords: tuple[tuple[str, Any], ...] = ()


CALLS: dict[str, Call] = {
    "capacity": Call((), HostCapacity),
    "create_volume": Call((("spec", VolumeSpec),)),
    "delete_volume": Call((("volume_id", str),)),
    "grow_volume": Call((("volume_id", str), ("key", bytes), ("size_gib", int))),
    "snapshot_volume": Call(
        (("volume_id", str), ("key", bytes), ("snapshot_id", str), ("snapshot_key", bytes))
    ),
    "copy_snapshot": Call(
        (("source_id", str), ("source_key", bytes), ("snapshot_id", str), ("snapshot_key", bytes))
    ),
    "delete_snapshot": Call((("snapshot_id", str),)),
    "has_image": Call((("image_id", str), ("sha256", str)), bool),
    "forget_image": Call((("image_id", str),)),
    "start": Call((("spec", InstanceSpec),), InstanceNetwork),
    "set_firewall": Call((("instance_id", str), ("firewall", InstanceFirewall))),
    "set_elastic_ip": Call((("instance_id", str), ("address", str | None))),
    "set_network_peers": Call(
        (("network_id", str), ("peers", tuple[NetworkPeer, ...])),
        keywords=(("network", NetworkSpec | None),),
    ),
    "set_network_acl": Call((("network_id", str), ("acl", SubnetAcl))),
    "set_nat_routes": Call((("router_id", str), ("routes", tuple[NatRoute, ...]))),
    "set_endpoint_routes": Call((("router_id", str), ("routes", tuple[EndpointRoute, ...]))),
    "set_interface_routes": Call((("router_id", str), ("routes", tuple[InterfaceRoute, ...]))),
    "set_peering_links": Call((("links", tuple[PeeringLink, ...]),)),
    "set_vpc_dns": Call((("router_id", str), ("dns", VpcDns))),
    "stop": Call((("instance_id", str),), keywords=(("timeout", float),)),
    "reboot": Call((("instance_id", str),)),
    "kill": Call((("instance_id", str),)),
    "release": Call((("instance_id", str),)),
    "attach_interface": Call((("instance_id", str), ("interface", InterfaceSpec))),
    "detach_interface": Call(
        (("instance_id", str), ("interface_id", str)), keywords=(("force", bool),)
    ),
    "attach_volume": Call((("instance_id", str), ("volume", AttachedVolume))),
    "detach_volume": Call((("instance_id", str), ("volume_id", str))),
    "state": Call((("instance_id", str),), RuntimeState),
    "running": Call((), dict[str, RuntimeState]),
    "console_output": Call((("instance_id", str),), bytes),
    "network": Call((("instance_id", str),), InstanceNetwork | None),
    "collect_flows": Call((("captures", tuple[FlowCapture, ...]),), HostFlows),
    "collect_metrics": Call((), tuple[InstanceStats, ...]),
    "supervised_processes": Call((), dict[str, SupervisedProcesses]),
    "set_load_balancers": Call((("listeners", tuple[BalancedListener, ...]),), BalancerReport),
    "probe_targets": Call((("probes", tuple[TargetProbe, ...]),), tuple[ProbeResult, ...]),
}


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` (dataclasses, enums, bytes, paths, tuples, dicts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get(WIRE_OMITTED_AT_DEFAULT) and getattr(value, f.name) == f.default)
        }
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    raise WireError(f"cannot encode {type(value).__name__}")


def decode(kind: Any, value: Any) -> Any:
    """``value`` (from JSON) as an instance of ``kind``, checked all the way down."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return decode(option, value)
            except (WireError, ValueError, TypeError):
                continue
        raise WireError(f"a value matches none of {kind}")  # never echoed: it may be a key
    if origin is tuple:
        kinds, items = typing.get_args(kind), _expect(list, value)
        if len(kinds) == 2 and kinds[1] is Ellipsis:
            return tuple(decode(kinds[0], item) for item in items)
        if len(items) != len(kinds):  # a fixed tuple: (address, port), a rule's four fields
            raise WireError(f"expected {len(kinds)} items, got {len(items)}")
        return tuple(decode(k, item) for k, item in zip(kinds, items, strict=True))
    if origin is dict:
        key_kind, item_kind = typing.get_args(kind)
        return {
            decode(key_kind, key): decode(item_kind, item)
            for key, item in _expect(dict, value).items()
        }
    if kind is Any:
        return value
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    if kind is bytes:
        try:
            return base64.b64decode(_expect(str, value), validate=True)
        except ValueError as exc:
            raise WireError("bad base64") from exc
    if kind is Path:
        return Path(_expect(str, value))
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WireError(f"expected a number, got {type(value).__name__}")
        return float(value)
    if kind in (str, int, bool):
        return _expect(kind, value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        fields = _expect(dict, value)
        hints = typing.get_type_hints(kind)
        known = {f.name for f in dataclasses.fields(kind)}
        if set(fields) - known:
            raise WireError(f"unknown fields for {kind.__name__}: {sorted(set(fields) - known)}")
        return kind(**{name: decode(hints[name], item) for name, item in fields.items()})
    raise WireError(f"cannot decode {kind!r}")


def _expect(kind: type, value: Any) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value
