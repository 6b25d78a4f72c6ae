"""The Storage Lens configuration's XML (decision 0415): the ``StorageLensConfiguration``
element of S3 Control's model, checked member by member against the model's shapes (names,
types, bounds, required members, enums), rewritten in the model's order for the store, and
read into the few values the metrics export acts on (:class:`LensConfiguration`).

The model's tree is written once here as data (:data:`_CONFIGURATION`): a structure lists its
members in order, a list names its member element, a leaf says what text it takes. An
element the model does not have, a member twice, a missing required one or a bad value is
``MalformedXML`` — the error AWS answers for a document its schema refuses. The choices AWS
leaves to the service are refused as ``InvalidRequest`` naming why: ``AwsOrg`` (no AWS
Organizations here), both ``Include`` and ``Exclude``, Storage Lens groups, the S3 Tables
destination and an export with neither an S3 bucket nor CloudWatch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, cast
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.http.xml import escape
from andromede.s3control.errors import S3ControlError

__all__ = [
    "CONFIG_ID",
    "ExportDestination",
    "LensConfiguration",
    "Node",
    "check_configuration",
    "configuration_of",
    "parse_document",
    "parse_stored",
    "read_configuration",
    "with_arn",
    "xml_of",
]

CONFIG_ID: Final = re.compile(r"[a-zA-Z0-9\-_]{1,64}")
_ACCOUNT: Final = re.compile(r"\d{12}")
_BUCKET_ARN: Final = re.compile(r"arn:[^:]+:s3:.*")
_REGION: Final = re.compile(r"[a-z0-9\-]{5,30}")


@dataclass(frozen=True, slots=True)
class Leaf:
    """A member's text: ``check`` answers whether it is valid."""

    check: Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class ListOf:
    member: str
    item: Leaf


@dataclass(frozen=True, slots=True)
class Struct:
    members: tuple[tuple[str, Leaf | ListOf | Struct], ...]
    required: frozenset[str] = frozenset()


def _boolean(text: str) -> bool:
    return text in ("true", "false")


def _integer(low: int, high: int) -> Leaf:
    return Leaf(lambda text: text.lstrip("-").isdigit() and low <= int(text) <= high)


def _double(low: float, high: float) -> Leaf:
    def check(text: str) -> bool:
        try:
            value = float(text)
        except ValueError:
            return False
        return math.isfinite(value) and low <= value <= high

    return Leaf(check)


def _pattern(pattern: re.Pattern[str], low: int = 0, high: int = 1024) -> Leaf:
    return Leaf(lambda text: low <= len(text) <= high and pattern.fullmatch(text) is not None)


def _one_of(*values: str) -> Leaf:
    return Leaf(lambda text: text in values)


_BOOL = Leaf(_boolean)
_ANY = Leaf(lambda text: len(text) <= 1024)
_ENABLED = Struct((("IsEnabled", _BOOL),))
_ENABLED_REQUIRED = Struct((("IsEnabled", _BOOL),), frozenset({"IsEnabled"}))
_GROUP_ARN = _pattern(re.compile(r"arn:[a-z\-]+:s3:[a-z0-9\-]+:\d{12}:storage\-lens\-group/.*"), 4)
_ENCRYPTION = Struct(
    (
        ("SSE-S3", Struct(())),
        ("SSE-KMS", Struct((("KeyId", _ANY),), frozenset({"KeyId"}))),
    )
)
_S3_DESTINATION = Struct(
    (
        ("Format", _one_of("CSV", "Parquet")),
        ("OutputSchemaVersion", _one_of("V_1")),
        ("AccountId", _pattern(_ACCOUNT)),
        ("Arn", _pattern(_BUCKET_ARN, 1, 128)),
        ("Prefix", _ANY),
        ("Encryption", _ENCRYPTION),
    ),
    frozenset({"Format", "OutputSchemaVersion", "AccountId", "Arn"}),
)
_TABLE_DESTINATION = Struct(
    (("IsEnabled", _BOOL), ("Encryption", _ENCRYPTION)), frozenset({"IsEnabled"})
)
_SELECTION = Struct(
    (
        ("Delimiter", Leaf(lambda text: len(text) <= 1)),
        ("MaxDepth", _integer(1, 10)),
        ("MinStorageBytesPercentage", _double(1, 100)),
    )
)
_PREFIX_LEVEL = Struct(
    (
        (
            "StorageMetrics",
            Struct((("IsEnabled", _BOOL), ("SelectionCriteria", _SELECTION))),
        ),
    ),
    frozenset({"StorageMetrics"}),
)
_ADVANCED: Final = (
    ("AdvancedCostOptimizationMetrics", _ENABLED),
    ("AdvancedDataProtectionMetrics", _ENABLED),
    ("DetailedStatusCodesMetrics", _ENABLED),
    ("AdvancedPerformanceMetrics", _ENABLED),
)
_BUCKET_LEVEL = Struct((("ActivityMetrics", _ENABLED), ("PrefixLevel", _PREFIX_LEVEL), *_ADVANCED))
_ACCOUNT_LEVEL = Struct(
    (
        ("ActivityMetrics", _ENABLED),
        ("BucketLevel", _BUCKET_LEVEL),
        *_ADVANCED,
        (
            "StorageLensGroupLevel",
            Struct(
                (
                    (
                        "SelectionCriteria",
                        Struct(
                            (
                                ("Include", ListOf("Arn", _GROUP_ARN)),
                                ("Exclude", ListOf("Arn", _GROUP_ARN)),
                            )
                        ),
                    ),
                )
            ),
        ),
    ),
    frozenset({"BucketLevel"}),
)
_COST_AND_USAGE_SELECTION = Struct((("MinDepth", _integer(1, 15)), ("MaxDepth", _integer(1, 15))))
_COST_AND_USAGE = Struct(
    (
        (
            "PrefixLevel",
            Struct(
                (("IsEnabled", _BOOL), ("SelectionCriteria", _COST_AND_USAGE_SELECTION)),
                frozenset({"IsEnabled"}),
            ),
        ),
    )
)
_SCOPE = Struct(
    (
        ("Buckets", ListOf("Arn", _pattern(_BUCKET_ARN, 1, 128))),
        ("Regions", ListOf("Region", _pattern(_REGION))),
    )
)
_CONFIGURATION: Final = Struct(
    (
        ("Id", _pattern(CONFIG_ID)),
        ("AccountLevel", _ACCOUNT_LEVEL),
        ("Include", _SCOPE),
        ("Exclude", _SCOPE),
        (
            "DataExport",
            Struct(
                (
                    ("S3BucketDestination", _S3_DESTINATION),
                    ("CloudWatchMetrics", _ENABLED_REQUIRED),
                    ("StorageLensTableDestination", _TABLE_DESTINATION),
                )
            ),
        ),
        (
            "ExpandedPrefixesDataExport",
            Struct(
                (
                    ("S3BucketDestination", _S3_DESTINATION),
                    ("StorageLensTableDestination", _TABLE_DESTINATION),
                )
            ),
        ),
        ("CostAndUsageReportsPublish", _COST_AND_USAGE),
        ("IsEnabled", _BOOL),
        ("AwsOrg", Struct((("Arn", _ANY),), frozenset({"Arn"}))),
        ("StorageLensArn", _ANY),
        ("PrefixDelimiter", Leaf(lambda text: len(text) <= 1)),
        ("IntAccessTiers", _ENABLED),
    ),
    frozenset({"Id", "AccountLevel", "IsEnabled"}),
)

# A checked element: its name and either its text or its children, in the model's order.
Node = tuple[str, "str | tuple[Node, ...]"]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _checked(element: Element, spec: Leaf | ListOf | Struct) -> str | tuple[Node, ...]:
    name = _local(element.tag)
    if isinstance(spec, Leaf):
        text = (element.text or "").strip()
        if len(element) or not spec.check(text):
            raise S3ControlError("MalformedXML", f"The value of {name} is not valid")
        return text
    if (element.text or "").strip():
        raise S3ControlError("MalformedXML", f"{name} holds text")
    if isinstance(spec, ListOf):
        items: list[Node] = []
        for child in element:
            if _local(child.tag) != spec.member:
                raise S3ControlError("MalformedXML", f"{name} holds only {spec.member}")
            items.append((spec.member, _checked(child, spec.item)))
        return tuple(items)
    found: dict[str, Element] = {}
    known = dict(spec.members)
    for child in element:
        child_name = _local(child.tag)
        if child_name not in known or child_name in found:
            raise S3ControlError("MalformedXML", f"{child_name[:64]} is not valid in {name}")
        found[child_name] = child
    missing = sorted(spec.required - found.keys())
    if missing:
        raise S3ControlError("MalformedXML", f"{name} needs {missing[0]}")
    return tuple(
        (member, _checked(found[member], member_spec))
        for member, member_spec in spec.members
        if member in found
    )


def parse_document(body: bytes, root_name: str) -> Element:
    """The request's root element, named ``root_name`` (MalformedXML)."""
    if not body.strip():
        raise S3ControlError("MalformedXML")
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise S3ControlError("MalformedXML") from exc
    if _local(root.tag) != root_name:
        raise S3ControlError("MalformedXML")
    return root


def check_configuration(element: Element) -> Node:
    """A ``StorageLensConfiguration`` element checked against the model (MalformedXML)."""
    return ("StorageLensConfiguration", _checked(element, _CONFIGURATION))


def with_arn(node: Node, arn: str) -> Node:
    """The configuration with ``StorageLensArn`` set to ``arn``, in the model's order."""
    name, members = node
    if isinstance(members, str):  # never: a configuration is a structure
        return node
    kept = {member[0]: member for member in members if member[0] != "StorageLensArn"}
    kept["StorageLensArn"] = ("StorageLensArn", arn)
    order = [member for member, _ in _CONFIGURATION.members]
    return (name, tuple(kept[m] for m in order if m in kept))


def xml_of(node: Node) -> str:
    """A checked element as XML, without a namespace (the response's own applies)."""
    name, value = node
    if isinstance(value, str):
        return f"<{name}>{escape(value)}</{name}>"
    return f"<{name}>{''.join(xml_of(child) for child in value)}</{name}>"


def _child(node: Node | None, name: str) -> Node | None:
    if node is None or isinstance(node[1], str):
        return None
    return next((child for child in node[1] if child[0] == name), None)


def _path(node: Node | None, *names: str) -> Node | None:
    for name in names:
        node = _child(node, name)
    return node


def _text(node: Node | None) -> str | None:
    return node[1] if node is not None and isinstance(node[1], str) else None


def _items(node: Node | None) -> tuple[str, ...]:
    if node is None or isinstance(node[1], str):
        return ()
    return tuple(text for child in node[1] if (text := _text(child)) is not None)


def _enabled(node: Node | None) -> bool:
    return _text(_child(node, "IsEnabled")) == "true"


@dataclass(frozen=True, slots=True)
class ExportDestination:
    """The S3 bucket a configuration's metrics export goes to."""

    format: str  # "CSV" or "Parquet"
    account_id: str
    bucket: str
    prefix: str
    kms_key: str | None  # SSE-KMS's key; None: SSE-S3


@dataclass(frozen=True, slots=True)
class LensConfiguration:
    """What the metrics export reads of a configuration."""

    config_id: str
    is_enabled: bool
    activity_metrics: bool  # the account level's ActivityMetrics
    bucket_activity_metrics: bool  # the bucket level's ActivityMetrics
    include_buckets: tuple[str, ...]
    include_regions: tuple[str, ...]
    exclude_buckets: tuple[str, ...]
    exclude_regions: tuple[str, ...]
    destination: ExportDestination | None
    cloudwatch: bool

    def covers(self, bucket: str, region: str) -> bool:
        """Whether the configuration's scope takes the bucket (named by its ARN in it)."""
        arn = f"arn:aws:s3:::{bucket}"
        if self.include_buckets or self.include_regions:
            return arn in self.include_buckets or region in self.include_regions
        return arn not in self.exclude_buckets and region not in self.exclude_regions


def _refused(reason: str) -> S3ControlError:
    return S3ControlError("InvalidRequest", reason)


def read_configuration(node: Node) -> LensConfiguration:
    """The values the export acts on; the service's refusals (InvalidRequest)."""
    if _child(node, "AwsOrg") is not None:
        raise _refused("AwsOrg is not supported: this platform has no AWS Organizations")
    if _child(node, "Include") is not None and _child(node, "Exclude") is not None:
        raise _refused("A configuration has either Include or Exclude, not both")
    if _path(node, "AccountLevel", "StorageLensGroupLevel") is not None:
        raise _refused("StorageLensGroupLevel is not supported: Storage Lens groups are not served")
    for export in ("DataExport", "ExpandedPrefixesDataExport"):
        if _enabled(_path(node, export, "StorageLensTableDestination")):
            raise _refused("StorageLensTableDestination is not supported: no S3 Tables here")
    data_export = _child(node, "DataExport")
    s3 = _child(data_export, "S3BucketDestination")
    cloudwatch = _child(data_export, "CloudWatchMetrics")
    if data_export is not None and s3 is None and cloudwatch is None:
        raise _refused("DataExport needs an S3BucketDestination or CloudWatchMetrics")
    destination = None
    if s3 is not None:
        arn = _text(_child(s3, "Arn")) or ""
        bucket = arn.removeprefix("arn:aws:s3:::")
        if bucket == arn or not bucket or "/" in bucket:
            raise _refused("The export destination's Arn is a bucket's: arn:aws:s3:::<bucket>")
        destination = ExportDestination(
            format=_text(_child(s3, "Format")) or "CSV",
            account_id=_text(_child(s3, "AccountId")) or "",
            bucket=bucket,
            prefix=_text(_child(s3, "Prefix")) or "",
            kms_key=_text(_path(s3, "Encryption", "SSE-KMS", "KeyId")),
        )
    return LensConfiguration(
        config_id=_text(_child(node, "Id")) or "",
        is_enabled=_enabled(node),
        activity_metrics=_enabled(_path(node, "AccountLevel", "ActivityMetrics")),
        bucket_activity_metrics=_enabled(
            _path(node, "AccountLevel", "BucketLevel", "ActivityMetrics")
        ),
        include_buckets=_items(_path(node, "Include", "Buckets")),
        include_regions=_items(_path(node, "Include", "Regions")),
        exclude_buckets=_items(_path(node, "Exclude", "Buckets")),
        exclude_regions=_items(_path(node, "Exclude", "Regions")),
        destination=destination,
        cloudwatch=_enabled(cloudwatch),
    )


def parse_stored(document: str) -> Node:
    """A stored document read back (it was checked when put)."""
    return check_configuration(parse_document(document.encode(), "StorageLensConfiguration"))


def configuration_of(document: str) -> LensConfiguration:
    return read_configuration(parse_stored(document))
