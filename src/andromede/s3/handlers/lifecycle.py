"""Get/Put/DeleteBucketLifecycleConfiguration on the S3 API (decision 0082). What the rules do
is ``storage/lifecycle_runner.py``'s.

The document is checked as S3 checks it, with S3's wording: 1 to ``max_lifecycle_rules``
rules, unique IDs of at most 255 characters, a ``Status`` of ``Enabled`` or ``Disabled``, a
filter (``<Filter>``, or the older top-level ``<Prefix>``, not both) holding one condition or
an ``<And>`` of several, at least one action, positive day counts, dates at midnight UTC, no
tag filter beside ``AbortIncompleteMultipartUpload`` or ``ExpiredObjectDeleteMarker``.
Transitions are refused (``NotImplemented``): there is one storage class here, and a rule
that claimed to move objects to another would not be kept.

``write_expiration`` answers ``x-amz-expiration`` for the object handlers (decision 0086), from
the process's view of the rules (``storage/expiration_view.py``), which Put and Delete here
update at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote
from xml.etree.ElementTree import Element

from andromede.http.dates import http_date, iso8601_ms
from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import (
    XmlWriter,
    child_text,
    children,
    only_child,
    parse_xml,
    stripped_child_text,
)
from andromede.storage.lifecycle import Expiry, LifecycleConfiguration, LifecycleRule
from andromede.storage.model import ObjectRecord

__all__ = [
    "delete_bucket_lifecycle",
    "expiration_header",
    "get_bucket_lifecycle_configuration",
    "parse_lifecycle",
    "put_bucket_lifecycle_configuration",
    "write_expiration",
]

_MAX_ID = 255
_MINIMUM_SIZE_HEADER = "x-amz-transition-default-minimum-object-size"
_MINIMUM_SIZES = frozenset({"varies_by_storage_class", "all_storage_classes_128K"})
# S3's default since September 2024, shown when none was put.
_DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"
_TRANSITIONS = ("Transition", "NoncurrentVersionTransition")


async def get_bucket_lifecycle_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config = await svc.objects.get_bucket_lifecycle(ctx.bucket)
    if config is None:
        raise S3Error("NoSuchLifecycleConfiguration", BucketName=ctx.bucket)
    xml = XmlWriter("LifecycleConfiguration")
    for rule in config.rules:
        _write_rule(xml, rule)
    response = xml_response(xml)
    response.header(_MINIMUM_SIZE_HEADER, config.transition_minimum_size or _DEFAULT_MINIMUM_SIZE)
    return response


def _write_rule(xml: XmlWriter, rule: LifecycleRule) -> None:
    xml.open("Rule")
    xml.element("ID", rule.rule_id)
    if rule.legacy_prefix:
        xml.element("Prefix", rule.prefix)
    else:
        xml.open("Filter")
        if rule.filter_and:
            xml.open("And")
        if rule.prefix or not (
            rule.filter_and
            or rule.tags
            or rule.size_greater_than is not None
            or rule.size_less_than is not None
        ):
            xml.element("Prefix", rule.prefix)
        for key, value in rule.tags:
            xml.open("Tag")
            xml.element("Key", key)
            xml.element("Value", value)
            xml.close("Tag")
        xml.element("ObjectSizeGreaterThan", rule.size_greater_than)
        xml.element("ObjectSizeLessThan", rule.size_less_than)
        if rule.filter_and:
            xml.close("And")
        xml.close("Filter")
    xml.element("Status", "Enabled" if rule.enabled else "Disabled")
    if rule.expires or rule.expired_object_delete_marker is not None:
        xml.open("Expiration")
        if rule.expiration_date is not None:
            xml.element("Date", iso8601_ms(rule.expiration_date))
        xml.element("Days", rule.expiration_days)
        xml.element("ExpiredObjectDeleteMarker", rule.expired_object_delete_marker)
        xml.close("Expiration")
    if rule.noncurrent_days is not None:
        xml.open("NoncurrentVersionExpiration")
        xml.element("NoncurrentDays", rule.noncurrent_days)
        xml.element("NewerNoncurrentVersions", rule.newer_noncurrent_versions)
        xml.close("NoncurrentVersionExpiration")
    if rule.abort_after_days is not None:
        xml.open("AbortIncompleteMultipartUpload")
        xml.element("DaysAfterInitiation", rule.abort_after_days)
        xml.close("AbortIncompleteMultipartUpload")
    xml.close("Rule")


async def put_bucket_lifecycle_configuration(ctx: S3Context, svc: S3Services) -> Response:
    minimum = ctx.headers.get(_MINIMUM_SIZE_HEADER)
    if minimum is not None and minimum not in _MINIMUM_SIZES:
        raise S3Error(
            "InvalidRequest",
            f"Invalid {_MINIMUM_SIZE_HEADER}: use varies_by_storage_class or "
            "all_storage_classes_128K",
        )
    body = await ctx.read_xml_body(integrity_required=True)
    rules = parse_lifecycle(body, ctx.settings.max_lifecycle_rules)
    config = LifecycleConfiguration(rules, minimum)
    await svc.objects.set_bucket_lifecycle(ctx.bucket, config)
    if svc.expirations is not None:
        svc.expirations.configured(ctx.bucket, config)
    response = Response()
    response.header(_MINIMUM_SIZE_HEADER, minimum or _DEFAULT_MINIMUM_SIZE)
    return response


async def delete_bucket_lifecycle(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_bucket_lifecycle(ctx.bucket, None)
    if svc.expirations is not None:
        svc.expirations.configured(ctx.bucket, None)
    return Response(status=204)


def write_expiration(response: Response, svc: S3Services, record: ObjectRecord) -> None:
    """``x-amz-expiration`` on an object's PUT, GET, HEAD, copy or completion, when an enabled
    rule will expire it: the earliest such rule, as the pass would apply it (decision 0086).
    ``record``'s headers are opened: a tag filter reads its tags. A bucket without such rules
    costs one dictionary look-up."""
    if svc.expirations is None:
        return
    expiry = svc.expirations.expiry(record)
    if expiry is not None:
        response.header("x-amz-expiration", expiration_header(expiry))


def expiration_header(expiry: Expiry) -> str:
    """S3's form: ``expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="<id>"``, the rule's
    ID URL-encoded (as S3 documents it; SDKs decode it), which also keeps a quote in an ID
    from ending the value early."""
    rule_id = quote(expiry.rule_id or "", safe="")
    return f'expiry-date="{http_date(expiry.at)}", rule-id="{rule_id}"'


def parse_lifecycle(body: bytes, max_rules: int) -> tuple[LifecycleRule, ...]:
    """A ``LifecycleConfiguration`` document's rules, checked as S3 checks them."""
    root = parse_xml(body, "LifecycleConfiguration")
    elements = children(root, "Rule")
    if not elements:
        raise S3Error("MalformedXML")
    if len(elements) > max_rules:
        raise S3Error(
            "InvalidRequest", f"The lifecycle configuration may have at most {max_rules} rules"
        )
    rules = tuple(_parse_rule(element) for element in elements)
    ids = [rule.rule_id for rule in rules if rule.rule_id is not None]
    if len(ids) != len(set(ids)):
        raise S3Error(
            "InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule"
        )
    return rules


def _parse_rule(element: Element) -> LifecycleRule:
    for transition in _TRANSITIONS:
        if children(element, transition):
            raise S3Error(
                "NotImplemented",
                f"{transition} is not implemented: this server has one storage class, STANDARD",
            )
    rule_id = stripped_child_text(element, "ID")
    if rule_id is not None and len(rule_id) > _MAX_ID:
        raise S3Error("InvalidArgument", "ID length should not exceed allowed limit of 255")
    status = stripped_child_text(element, "Status")
    if status not in ("Enabled", "Disabled"):
        raise S3Error("MalformedXML")
    legacy = only_child(element, "Prefix")
    filter_element = only_child(element, "Filter")
    # Exactly one of them, as S3 requires.
    if legacy is not None and filter_element is not None:
        raise S3Error("MalformedXML")
    if filter_element is not None:
        selection = _parse_filter(filter_element)
    elif legacy is not None:
        selection = _Selection(prefix=legacy.text or "")
    else:
        raise S3Error("MalformedXML")
    expiration = only_child(element, "Expiration")
    noncurrent = only_child(element, "NoncurrentVersionExpiration")
    abort = only_child(element, "AbortIncompleteMultipartUpload")
    if expiration is None and noncurrent is None and abort is None:
        raise S3Error("InvalidRequest", "At least one action needs to be specified in a rule")
    days = date = marker = None
    if expiration is not None:
        days, date, marker = _parse_expiration(expiration)
        if marker is not None and selection.tags:
            raise S3Error(
                "InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with Tag filter"
            )
    noncurrent_days = newer = None
    if noncurrent is not None:
        noncurrent_days = _positive(noncurrent, "NoncurrentDays", "NoncurrentVersionExpiration")
        if noncurrent_days is None:
            raise S3Error("MalformedXML")
        newer = _positive(noncurrent, "NewerNoncurrentVersions", "NoncurrentVersionExpiration")
    abort_days = None
    if abort is not None:
        if selection.tags:
            raise S3Error(
                "InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags."
            )
        abort_days = _positive(abort, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
        if abort_days is None:
            raise S3Error("MalformedXML")
    return LifecycleRule(
        rule_id=rule_id,
        enabled=status == "Enabled",
        prefix=selection.prefix,
        tags=selection.tags,
        size_greater_than=selection.greater_than,
        size_less_than=selection.less_than,
        legacy_prefix=legacy is not None,
        filter_and=selection.combined,
        expiration_days=days,
        expiration_date=date,
        expired_object_delete_marker=marker,
        abort_after_days=abort_days,
        noncurrent_days=noncurrent_days,
        newer_noncurrent_versions=newer,
    )


class _Selection:
    def __init__(
        self,
        *,
        prefix: str = "",
        tags: tuple[tuple[str, str], ...] = (),
        greater_than: int | None = None,
        less_than: int | None = None,
        combined: bool = False,
    ) -> None:
        self.prefix = prefix
        self.tags = tags
        self.greater_than = greater_than
        self.less_than = less_than
        self.combined = combined


_CONDITIONS = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


def _parse_filter(element: Element) -> _Selection:
    combined = only_child(element, "And")
    present = [name for name in _CONDITIONS if children(element, name)]
    if combined is not None:
        if present:
            raise S3Error("MalformedXML")
        return _conditions(combined, combined=True)
    if len(present) > 1 or any(len(children(element, name)) > 1 for name in present):
        raise S3Error("MalformedXML")  # several conditions need an <And>
    return _conditions(element, combined=False)


def _conditions(element: Element, *, combined: bool) -> _Selection:
    prefix_element = only_child(element, "Prefix")
    tags: list[tuple[str, str]] = []
    for tag in children(element, "Tag"):
        key = child_text(tag, "Key")
        value = child_text(tag, "Value")
        if key is None or value is None:
            raise S3Error("MalformedXML")
        tags.append((key, value))
    if len({key for key, _ in tags}) != len(tags):
        raise S3Error("InvalidRequest", "Duplicate Tag Keys are not allowed.")
    greater = _size(element, "ObjectSizeGreaterThan")
    less = _size(element, "ObjectSizeLessThan")
    if greater is not None and less is not None and greater >= less:
        raise S3Error(
            "InvalidRequest",
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan in an And filter",
        )
    return _Selection(
        prefix="" if prefix_element is None else (prefix_element.text or ""),
        tags=tuple(tags),
        greater_than=greater,
        less_than=less,
        combined=combined,
    )


def _parse_expiration(element: Element) -> tuple[int | None, datetime | None, bool | None]:
    raw_date = stripped_child_text(element, "Date")
    raw_marker = stripped_child_text(element, "ExpiredObjectDeleteMarker")
    given = [
        raw
        for raw in (stripped_child_text(element, "Days"), raw_date, raw_marker)
        if raw is not None
    ]
    if len(given) != 1:
        raise S3Error("MalformedXML")  # one of Days, Date and ExpiredObjectDeleteMarker
    days = _positive(element, "Days", "Expiration")
    date = None
    if raw_date is not None:
        date = _midnight(raw_date)
    marker = None
    if raw_marker is not None:
        if raw_marker not in ("true", "false"):
            raise S3Error("MalformedXML")
        marker = raw_marker == "true"
    return days, date, marker


def _midnight(raw: str) -> datetime:
    text = raw.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise S3Error("MalformedXML") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise S3Error("InvalidArgument", "'Date' must be at midnight GMT")
    return moment


def _positive(element: Element, name: str, action: str) -> int | None:
    raw = stripped_child_text(element, name)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        raise S3Error("MalformedXML")
    value = int(raw)
    if value <= 0:
        raise S3Error("InvalidArgument", f"'{name}' for {action} action must be a positive integer")
    return value


def _size(element: Element, name: str) -> int | None:
    raw = stripped_child_text(element, name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise S3Error("InvalidArgument", f"'{name}' must be a non-negative integer")
    return int(raw)
