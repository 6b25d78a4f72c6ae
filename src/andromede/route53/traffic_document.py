"""Route 53's traffic policy documents (decision 0330): AWS's "Traffic policy document format"
read and judged with its ``InvalidTrafficPolicyDocument`` errors, and a document
materialised into the record sets of one instance. No I/O.

A document is JSON: ``AWSPolicyFormatVersion`` (2015-10-01 or 2023-05-09), ``RecordType``
(a type a routing policy answers), one of ``StartEndpoint`` / ``StartRule``, ``Endpoints``
(``value``, or an account's load balancer: ``elastic-load-balancer``,
``application-load-balancer``, ``network-load-balancer``) and ``Rules`` of the types our
record sets route by: ``failover``, ``geo``, ``geoproximity`` (decision 0339: each of its
``GeoproximityLocations`` a ``Region`` — ``aws:route53:<region>`` — or ``Latitude`` and
``Longitude``, and a ``Bias``), ``latency``, ``weighted``, ``multivalue``. The endpoints no
record set here routes to (CloudFront, S3 website, Elastic Beanstalk) are refused by name.

Materialised as AWS's traffic flow does: the start node at the instance's name; a rule
becomes one record set per branch with the rule's routing (set identifiers
``<rule>-<n>``), a branch that is an endpoint holding its value (or an alias to its load
balancer), a branch that is another rule an alias to that rule's own record sets at a name
of the instance's below the zone's apex (``_tp<n>-<instance>.<zone>``), their health
evaluated as ``EvaluateTargetHealth`` says. Every set carries the instance's id."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from andromede.route53.errors import InvalidChangeBatch, InvalidInput, Route53Error
from andromede.route53.geoproximity import GeoProximity
from andromede.route53.model import (
    POLICY_TYPES,
    AliasTarget,
    RecordSet,
    check_record,
    value_problem,
)

__all__ = [
    "BALANCER_TYPES",
    "InvalidTrafficPolicyDocument",
    "PolicyDocument",
    "materialise",
    "parse_document",
]

FORMAT_VERSIONS: Final = frozenset({"2015-10-01", "2023-05-09"})
BALANCER_TYPES: Final = frozenset(
    {"elastic-load-balancer", "application-load-balancer", "network-load-balancer"}
)
_NOT_HERE_ENDPOINTS: Final = frozenset({"cloudfront", "s3-website", "elastic-beanstalk"})
_RULE_TYPES: Final = frozenset(
    {"failover", "geo", "geoproximity", "latency", "weighted", "multivalue"}
)
_REGION_PREFIX: Final = "aws:route53:"
_MAX_DEPTH: Final = 10  # nested rules followed from the start
_GEO_KEYS: Final = (
    ("Continent", "ContinentCode"),
    ("Country", "CountryCode"),
    ("Subdivision", "SubdivisionCode"),
)
# A balancer's alias zone, by Region (the wiring gives the load balancers' canonical one).
BalancerZone = Callable[[str], str]


class InvalidTrafficPolicyDocument(Route53Error):
    pass


def _refused(words: str) -> InvalidTrafficPolicyDocument:
    return InvalidTrafficPolicyDocument(f"Invalid Traffic Policy Document: {words}")


@dataclass(frozen=True)
class PolicyDocument:
    record_type: str
    start: str  # an endpoint's or a rule's id
    start_rule: bool  # StartRule (else StartEndpoint)
    endpoints: Mapping[str, Mapping[str, Any]]
    rules: Mapping[str, Mapping[str, Any]]


def _object(value: object, words: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _refused(f"{words} must be a JSON object")
    return value


def parse_document(text: str, max_chars: int, max_sets: int) -> PolicyDocument:
    """The document, judged whole: any fault is ``InvalidTrafficPolicyDocument``, a document
    materialising into more than ``max_sets`` record sets too."""
    if len(text) > max_chars:
        raise _refused(f"the document is longer than {max_chars} characters")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _refused("the document is not valid JSON") from exc
    root = _object(raw, "The document")
    version = root.get("AWSPolicyFormatVersion")
    if version not in FORMAT_VERSIONS:
        raise _refused(f"AWSPolicyFormatVersion must be one of {sorted(FORMAT_VERSIONS)}")
    record_type = root.get("RecordType")
    if not isinstance(record_type, str) or record_type not in POLICY_TYPES:
        raise _refused(f"RecordType must be one of {sorted(POLICY_TYPES)}")
    starts = [k for k in ("StartEndpoint", "StartRule") if k in root]
    if len(starts) != 1:
        raise _refused("the document must have exactly one of StartEndpoint and StartRule")
    endpoints = {k: _object(v, f"Endpoint {k}") for k, v in
                 _object(root.get("Endpoints", {}), "Endpoints").items()}  # fmt: skip
    rules = {k: _object(v, f"Rule {k}") for k, v in
             _object(root.get("Rules", {}), "Rules").items()}  # fmt: skip
    unknown = set(root) - {"AWSPolicyFormatVersion", "RecordType", "StartEndpoint",
                           "StartRule", "Endpoints", "Rules"}  # fmt: skip
    if unknown:
        raise _refused(f"unknown field {sorted(unknown)[0][:64]}")
    start = root[starts[0]]
    held = endpoints if starts[0] == "StartEndpoint" else rules
    if not isinstance(start, str) or start not in held:
        raise _refused(f"{starts[0]} {str(start)[:64]} is not defined in the document")
    document = PolicyDocument(record_type, start, starts[0] == "StartRule", endpoints, rules)
    for endpoint_id, endpoint in endpoints.items():
        _check_endpoint(document, endpoint_id, endpoint)
    for rule_id, rule in rules.items():
        _check_rule(document, rule_id, rule)
    _check_reachable(document)
    # Each set it makes is one ChangeResourceRecordSets would take (its routing fields).
    materialise(document, "Z", "check.", "check.", 0, "check", lambda region: "Z", max_sets)
    return document


def _check_endpoint(
    document: PolicyDocument, endpoint_id: str, endpoint: Mapping[str, Any]
) -> None:
    kind, value = endpoint.get("Type"), endpoint.get("Value")
    if kind in _NOT_HERE_ENDPOINTS:
        raise _refused(f"endpoints of type {kind} are not supported here yet ({endpoint_id[:64]})")
    if kind != "value" and kind not in BALANCER_TYPES:
        raise _refused(f"Endpoint {endpoint_id[:64]} has an unknown Type {str(kind)[:32]}")
    if not isinstance(value, str) or not value:
        raise _refused(f"Endpoint {endpoint_id[:64]} must have a Value")
    if kind in BALANCER_TYPES and document.record_type not in {"A", "AAAA"}:
        raise _refused(f"Endpoint {endpoint_id[:64]} of type {kind} needs RecordType A or AAAA")
    if kind == "value":
        problem = value_problem(RecordSet("x.", document.record_type, 0, (value,)))
        if problem is not None:
            raise _refused(f"Endpoint {endpoint_id[:64]}: {problem}")


def _branches(rule: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], dict[str, Any]]]:
    """Each branch of ``rule`` and the routing it gives its record set."""
    kind = rule["RuleType"]
    if kind == "failover":
        return [
            (_object(rule.get(side), f"failover {side}"), {"failover": side.upper()})
            for side in ("Primary", "Secondary")
        ]
    if kind == "geo":
        found: list[tuple[Mapping[str, Any], dict[str, Any]]] = []
        for entry in _list(rule, "Locations"):
            if entry.get("IsDefault") is True:
                found.append((entry, {"geo_location": (("CountryCode", "*"),)}))
                continue
            geo = tuple((k, str(entry[f])) for f, k in _GEO_KEYS if f in entry)
            if not geo:
                raise _refused("a geo location needs Continent, Country or IsDefault")
            found.append((entry, {"geo_location": geo}))
        return found
    if kind == "latency":
        return [(e, {"region": str(e.get("Region", ""))}) for e in _list(rule, "Regions")]
    if kind == "geoproximity":
        return [(e, {"geoproximity": _geoproximity(e)})
                for e in _list(rule, "GeoproximityLocations")]  # fmt: skip
    if kind == "weighted":
        found = []
        for entry in _list(rule, "Items"):
            try:
                weight = int(entry.get("Weight", ""))
            except (TypeError, ValueError) as exc:
                raise _refused("a weighted item needs a Weight from 0 to 255") from exc
            if not 0 <= weight <= 255:
                raise _refused("a weighted item needs a Weight from 0 to 255")
            found.append((entry, {"weight": weight}))
        return found
    return [(e, {"multivalue": True}) for e in _list(rule, "Items")]  # multivalue


def _geoproximity(entry: Mapping[str, Any]) -> GeoProximity:
    """A geoproximity location: its Region (``aws:route53:`` before it) or its coordinates
    (numbers or strings, as AWS's editor writes either), and its bias; the ranges are the
    set's own (``check_record``)."""
    region, latitude, longitude = entry.get("Region"), entry.get("Latitude"), entry.get("Longitude")
    if (region is None) == (latitude is None and longitude is None):
        raise _refused("a geoproximity location needs exactly one of Region and Latitude/Longitude")
    bias = entry.get("Bias", 0)
    try:
        bias_value = int(bias)
    except (TypeError, ValueError) as exc:
        raise _refused("a geoproximity location's Bias is an integer from -99 to 99") from exc
    if isinstance(bias, bool) or not -99 <= bias_value <= 99:
        raise _refused("a geoproximity location's Bias is an integer from -99 to 99")
    if region is not None:
        return GeoProximity(aws_region=str(region).removeprefix(_REGION_PREFIX), bias=bias_value)
    return GeoProximity(
        latitude=None if latitude is None else str(latitude),
        longitude=None if longitude is None else str(longitude),
        bias=bias_value,
    )


def _list(rule: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    found = rule.get(key)
    if not isinstance(found, list) or not found:
        raise _refused(f"a {rule['RuleType']} rule needs a non-empty {key}")
    return [_object(entry, f"{key} entry") for entry in found]


def _reference(document: PolicyDocument, branch: Mapping[str, Any]) -> tuple[str, str]:
    endpoint, rule = branch.get("EndpointReference"), branch.get("RuleReference")
    if (endpoint is None) == (rule is None):
        raise _refused("each branch needs exactly one of EndpointReference and RuleReference")
    if endpoint is not None:
        if endpoint not in document.endpoints:
            raise _refused(f"EndpointReference {str(endpoint)[:64]} is not defined")
        return "endpoint", str(endpoint)
    if rule not in document.rules:
        raise _refused(f"RuleReference {str(rule)[:64]} is not defined")
    return "rule", str(rule)


def _check_rule(document: PolicyDocument, rule_id: str, rule: Mapping[str, Any]) -> None:
    kind = rule.get("RuleType")
    if kind not in _RULE_TYPES:
        raise _refused(f"Rule {rule_id[:64]} has an unknown RuleType {str(kind)[:32]}")
    for branch, _routing in _branches(rule):
        kind_of, target = _reference(document, branch)
        if kind == "multivalue" and (
            kind_of != "endpoint" or document.endpoints[target].get("Type") != "value"
        ):
            raise _refused(f"a multivalue rule's items must be value endpoints ({rule_id[:64]})")
        health = branch.get("HealthCheck")
        if health is not None and not isinstance(health, str):
            raise _refused("HealthCheck must be a health check's id")


def _check_reachable(document: PolicyDocument) -> None:
    """No rule reaches itself, nor nests deeper than AWS's editor allows: each rule walked
    once (its depth below it remembered), however many branches name it."""
    below: dict[str, int] = {}  # rule → the deepest nesting under it, once walked

    def walk(rule_id: str, path: tuple[str, ...]) -> int:
        if rule_id in path:
            raise _refused(f"Rule {rule_id[:64]} refers to itself")
        if rule_id not in below:
            branches = _branches(document.rules[rule_id])
            references = {_reference(document, branch) for branch, _ in branches}
            targets = sorted(target for kind, target in references if kind == "rule")
            depths = [walk(target, (*path, rule_id)) for target in targets]
            below[rule_id] = 1 + max(depths, default=0)
        if len(path) + below[rule_id] > _MAX_DEPTH:
            raise _refused(f"rules nest deeper than {_MAX_DEPTH}")
        return below[rule_id]

    if document.start_rule:
        walk(document.start, ())


def materialise(
    document: PolicyDocument,
    zone_id: str,
    zone_name: str,
    name: str,
    ttl: int,
    instance_id: str,
    balancer_zone: BalancerZone,
    max_sets: int,
) -> tuple[RecordSet, ...]:
    """The record sets of instance ``instance_id`` at ``name`` in the zone (see the module's
    docstring), each checked as ChangeResourceRecordSets checks a set; refused past
    ``max_sets`` (a rule nested under many branches is made once for each: the count is
    bounded before it grows)."""
    made: list[RecordSet] = []
    counter = [0]

    def bounded() -> None:
        if len(made) + counter[0] > max_sets:
            raise _refused(f"the policy makes more than {max_sets} record sets")

    def endpoint_set(at: str, endpoint_id: str) -> RecordSet:
        endpoint = document.endpoints[endpoint_id]
        if endpoint["Type"] == "value":
            return RecordSet(at, document.record_type, ttl, (str(endpoint["Value"]),))
        region = str(endpoint.get("Region", ""))
        target = AliasTarget(balancer_zone(region), _absolute(str(endpoint["Value"])), True)
        return RecordSet(at, document.record_type, 0, (), alias=target)

    def rule_sets(at: str, rule_id: str) -> None:
        rule = document.rules[rule_id]
        for index, (branch, routing) in enumerate(_branches(rule), start=1):
            kind, target = _reference(document, branch)
            bounded()
            if kind == "endpoint":
                base = endpoint_set(at, target)
            else:
                counter[0] += 1
                inner = f"_tp{counter[0]}-{instance_id.lower()}.{zone_name}"
                rule_sets(inner, target)
                evaluate = branch.get("EvaluateTargetHealth", True) is not False
                base = RecordSet(at, document.record_type, 0, (),
                                 alias=AliasTarget(zone_id, inner, evaluate))  # fmt: skip
            health = branch.get("HealthCheck")
            made.append(
                replace(
                    base,
                    set_identifier=f"{rule_id[:100]}-{index}",
                    health_check_id=None if health is None else str(health),
                    traffic_policy_instance_id=instance_id,
                    **routing,
                )
            )

    if document.start_rule:
        rule_sets(name, document.start)
    else:
        made.append(replace(endpoint_set(name, document.start),
                            traffic_policy_instance_id=instance_id))  # fmt: skip
    for record in made:
        try:
            check_record(record)
        except (InvalidInput, InvalidChangeBatch) as exc:
            raise _refused(str(exc)) from exc
    return tuple(made)


def _absolute(name: str) -> str:
    return name.lower() if name.endswith(".") else name.lower() + "."
