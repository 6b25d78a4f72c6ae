"""Route 53 traffic policies' calls (decision 0330) the console's traffic policy page makes
(decision 0340), through the zones' wire (``wire_route53.Route53Wire``: the same REST-XML
app, its authorisation ``route53:<Operation>`` on ``trafficpolicy/<id>`` and
``trafficpolicyinstance/<id>``, audit and errors): ListTrafficPolicies,
ListTrafficPolicyVersions, CreateTrafficPolicy, CreateTrafficPolicyVersion,
UpdateTrafficPolicyComment, DeleteTrafficPolicy, ListTrafficPolicyInstances,
CreateTrafficPolicyInstance, UpdateTrafficPolicyInstance and DeleteTrafficPolicyInstance (and
GetHostedZone for a name relative to its zone). A document is sent as pasted: Route 53
judges it (``InvalidTrafficPolicyDocument`` and its reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote
from xml.etree.ElementTree import SubElement

from andromede.console.wire_route53 import Route53Wire, _child, _children, _document, _text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "InstancePage",
    "InstanceRow",
    "PolicyPage",
    "PolicyRow",
    "TrafficCalls",
    "VersionRow",
    "pretty_document",
]

_VERSIONS: Final = 100  # ListTrafficPolicyVersions' largest page


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One version of a policy as ListTrafficPolicyVersions gives it."""

    version: int
    comment: str
    document: str


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One of ListTrafficPolicies' summaries, with its versions (the first 100)."""

    policy_id: str
    name: str
    type: str
    latest_version: int
    version_count: int  # ListTrafficPolicies' TrafficPolicyCount: the policy's versions
    versions: tuple[VersionRow, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyPage:
    policies: list[PolicyRow]
    next_marker: str


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One of ListTrafficPolicyInstances' instances."""

    instance_id: str
    zone_id: str
    name: str
    ttl: int
    state: str
    message: str
    policy_id: str
    policy_version: int
    policy_type: str


@dataclass(frozen=True, slots=True)
class InstancePage:
    instances: list[InstanceRow]
    next_marker: tuple[str, str, str] | None  # (zone id, name, type) of the next page


def pretty_document(document: str) -> str:
    """A document indented for reading, or as stored where it is no JSON."""
    try:
        return json.dumps(json.loads(document), indent=2)
    except ValueError:
        return document


def _number(node: Any, name: str) -> int:
    text = _text(node, name)
    return int(text) if text.isdigit() else 0


def _instance(node: Any) -> InstanceRow:
    return InstanceRow(
        instance_id=_text(node, "Id"),
        zone_id=_text(node, "HostedZoneId"),
        name=_text(node, "Name"),
        ttl=_number(node, "TTL"),
        state=_text(node, "State"),
        message=_text(node, "Message"),
        policy_id=_text(node, "TrafficPolicyId"),
        policy_version=_number(node, "TrafficPolicyVersion"),
        policy_type=_text(node, "TrafficPolicyType"),
    )


class TrafficCalls:
    """The traffic policy calls the console makes, as ``principal``, through ``wire``."""

    def __init__(self, wire: Route53Wire) -> None:
        self._wire = wire

    @staticmethod
    def _policy_path(policy_id: str, version: int | None = None) -> str:
        path = f"/trafficpolicy/{quote(policy_id, safe='')}"
        return path if version is None else f"{path}/{version}"

    @staticmethod
    def _instance_path(instance_id: str) -> str:
        return f"/trafficpolicyinstance/{quote(instance_id, safe='')}"

    async def policies(
        self, origin: Scope, principal: Principal, *, marker: str, limit: int
    ) -> PolicyPage:
        """One page of ListTrafficPolicies after ``marker``, each policy with its versions."""
        query = {"maxitems": str(limit)}
        if marker:
            query["trafficpolicyid"] = marker
        root = await self._wire.request(origin, principal, "GET", "/trafficpolicies", query=query)
        listed = _children(_child(root, "TrafficPolicySummaries"), "TrafficPolicySummary")
        policies = []
        for summary in listed:
            policy_id = _text(summary, "Id")
            policies.append(
                PolicyRow(
                    policy_id=policy_id,
                    name=_text(summary, "Name"),
                    type=_text(summary, "Type"),
                    latest_version=_number(summary, "LatestVersion"),
                    version_count=_number(summary, "TrafficPolicyCount"),
                    versions=tuple(await self.versions(origin, principal, policy_id)),
                )
            )
        more = _text(root, "IsTruncated") == "true"
        return PolicyPage(policies, _text(root, "TrafficPolicyIdMarker") if more else "")

    async def versions(
        self, origin: Scope, principal: Principal, policy_id: str
    ) -> list[VersionRow]:
        """The policy's first 100 versions, oldest first."""
        path = f"/trafficpolicies/{quote(policy_id, safe='')}/versions"
        query = {"maxitems": str(_VERSIONS)}
        root = await self._wire.request(origin, principal, "GET", path, query=query)
        return [
            VersionRow(_number(p, "Version"), _text(p, "Comment"), _text(p, "Document"))
            for p in _children(_child(root, "TrafficPolicies"), "TrafficPolicy")
        ]

    async def create(
        self, origin: Scope, principal: Principal, name: str, document: str, comment: str
    ) -> str:
        """The new policy's id."""
        root = _document("CreateTrafficPolicyRequest")
        SubElement(root, "Name").text = name
        SubElement(root, "Document").text = document
        if comment:
            SubElement(root, "Comment").text = comment
        answer = await self._wire.request(origin, principal, "POST", "/trafficpolicy", body=root)
        return _text(_child(answer, "TrafficPolicy"), "Id")

    async def create_version(
        self, origin: Scope, principal: Principal, policy_id: str, document: str, comment: str
    ) -> int:
        """The new version's number."""
        root = _document("CreateTrafficPolicyVersionRequest")
        SubElement(root, "Document").text = document
        if comment:
            SubElement(root, "Comment").text = comment
        path = self._policy_path(policy_id)
        answer = await self._wire.request(origin, principal, "POST", path, body=root)
        return _number(_child(answer, "TrafficPolicy"), "Version")

    async def update_comment(
        self, origin: Scope, principal: Principal, policy_id: str, version: int, comment: str
    ) -> None:
        root = _document("UpdateTrafficPolicyCommentRequest")
        SubElement(root, "Comment").text = comment
        path = self._policy_path(policy_id, version)
        await self._wire.request(origin, principal, "POST", path, body=root)

    async def delete(
        self, origin: Scope, principal: Principal, policy_id: str, version: int
    ) -> None:
        path = self._policy_path(policy_id, version)
        await self._wire.request(origin, principal, "DELETE", path)

    async def instances(
        self,
        origin: Scope,
        principal: Principal,
        *,
        marker: tuple[str, str, str] | None,
        limit: int,
    ) -> InstancePage:
        """One page of ListTrafficPolicyInstances after ``marker`` (zone id, name, type)."""
        query = {"maxitems": str(limit)}
        if marker is not None:
            query["hostedzoneid"], query["trafficpolicyinstancename"] = marker[0], marker[1]
            query["trafficpolicyinstancetype"] = marker[2]
        path = "/trafficpolicyinstances"
        root = await self._wire.request(origin, principal, "GET", path, query=query)
        listed = _children(_child(root, "TrafficPolicyInstances"), "TrafficPolicyInstance")
        following = None
        if _text(root, "IsTruncated") == "true":
            following = (
                _text(root, "HostedZoneIdMarker"),
                _text(root, "TrafficPolicyInstanceNameMarker"),
                _text(root, "TrafficPolicyInstanceTypeMarker"),
            )
        return InstancePage([_instance(i) for i in listed], following)

    async def zone_name(self, origin: Scope, principal: Principal, zone_id: str) -> str:
        """The zone's name with its final dot (GetHostedZone)."""
        return (await self._wire.zone(origin, principal, zone_id)).zone.name

    async def create_instance(
        self,
        origin: Scope,
        principal: Principal,
        *,
        zone_id: str,
        name: str,
        ttl: str,
        policy_id: str,
        version: str,
    ) -> str:
        """The new instance's id. The TTL and version are sent as typed: Route 53 refuses
        one that is no number."""
        root = _document("CreateTrafficPolicyInstanceRequest")
        SubElement(root, "HostedZoneId").text = zone_id
        SubElement(root, "Name").text = name
        SubElement(root, "TTL").text = ttl
        SubElement(root, "TrafficPolicyId").text = policy_id
        SubElement(root, "TrafficPolicyVersion").text = version
        path = "/trafficpolicyinstance"
        answer = await self._wire.request(origin, principal, "POST", path, body=root)
        return _text(_child(answer, "TrafficPolicyInstance"), "Id")

    async def update_instance(
        self,
        origin: Scope,
        principal: Principal,
        instance_id: str,
        *,
        ttl: str,
        policy_id: str,
        version: str,
    ) -> None:
        root = _document("UpdateTrafficPolicyInstanceRequest")
        SubElement(root, "TTL").text = ttl
        SubElement(root, "TrafficPolicyId").text = policy_id
        SubElement(root, "TrafficPolicyVersion").text = version
        path = self._instance_path(instance_id)
        await self._wire.request(origin, principal, "POST", path, body=root)

    async def delete_instance(self, origin: Scope, principal: Principal, instance_id: str) -> None:
        await self._wire.request(origin, principal, "DELETE", self._instance_path(instance_id))
