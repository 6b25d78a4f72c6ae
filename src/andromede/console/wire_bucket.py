"""S3's calls on one bucket's configuration, for the console's bucket settings page:
versioning, default encryption, the bucket policy, tags, Requester Pays, Object Lock,
lifecycle and event notifications, read and changed; CORS and replication, read.

Each is S3's own call through ``S3Wire.request``, as the signed-in principal, so S3 authorises,
validates, audits and answers it as it would boto3's. Documents are built with ElementTree
(every value escaped) and sent with their Content-MD5, which S3 requires of most of these
PUTs and checks on the others. What S3 answers for "nothing configured" (``NoSuchBucketPolicy``,
``NoSuchTagSet``, ``NoSuchLifecycleConfiguration``…) is read as the empty setting; any other
refusal is S3's ``WireError``, raised.

A change of one tag, one lifecycle rule or one notification rule is S3's whole-document call:
the document is read, changed and put back. Lifecycle and notification rules are put back as
S3 answered them (namespace aside), so the parts the page does not show (tag and size filters,
dates, delete markers) are kept; so are a notification configuration's queue rules and its
``EventBridgeConfiguration``, which the page shows as an On/Off setting of its own. As with
any S3 client, two people changing the same document at once can lose one change: S3 has no
conditional write for bucket configurations.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET

from andromede.console.wire import Answer, S3Wire, WireError
from andromede.console.wire_inventory import BucketInventory
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "BucketSettings",
    "CorsRuleRow",
    "DefaultEncryption",
    "LifecycleRuleRow",
    "NewLifecycleRule",
    "NewNotificationRule",
    "NotificationRuleRow",
    "Notifications",
    "ObjectLockSettings",
    "Replication",
    "ReplicationRuleRow",
]

_S3_NS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
_MINIMUM_SIZE_HEADER: Final = "x-amz-transition-default-minimum-object-size"


@dataclass(frozen=True, slots=True)
class DefaultEncryption:
    algorithm: str  # AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse (DSSE-KMS)
    kms_key_id: str  # "" when S3 picks the key (SSE-S3, or KMS's default for S3)
    bucket_key: bool


@dataclass(frozen=True, slots=True)
class ObjectLockSettings:
    enabled: bool
    mode: str  # GOVERNANCE or COMPLIANCE; "" without a default retention
    days: int | None = None
    years: int | None = None


@dataclass(frozen=True, slots=True)
class LifecycleRuleRow:
    rule_id: str
    status: str
    prefix: str
    expiration: str  # days, or the date S3 expires the objects on
    noncurrent_days: str
    abort_days: str


@dataclass(frozen=True, slots=True)
class NewLifecycleRule:
    rule_id: str
    prefix: str
    expiration_days: int | None
    noncurrent_days: int | None
    abort_days: int | None


@dataclass(frozen=True, slots=True)
class NotificationRuleRow:
    rule_id: str
    topic_arn: str
    events: tuple[str, ...]
    prefix: str
    suffix: str
    # Ceph RGW's filters (decision 0132, increment 3): (name, value) pairs an object must all
    # have among its user metadata (names ``x-amz-meta-*``) and its tags.
    metadata: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Notifications:
    """A bucket's notification configuration as the page shows it: the rules (topics' and
    queues'), and whether every event also goes to EventBridge, which S3 answers as an empty
    ``EventBridgeConfiguration`` element, an On/Off setting rather than a rule."""

    rules: list[NotificationRuleRow]
    eventbridge: bool


@dataclass(frozen=True, slots=True)
class NewNotificationRule:
    rule_id: str  # "": S3 gives one
    topic_arn: str
    events: tuple[str, ...]
    prefix: str  # "": no such filter rule
    suffix: str


@dataclass(frozen=True, slots=True)
class CorsRuleRow:
    origins: str
    methods: str
    headers: str
    max_age: str


@dataclass(frozen=True, slots=True)
class ReplicationRuleRow:
    rule_id: str
    status: str
    priority: str
    prefix: str
    destination: str


@dataclass(frozen=True, slots=True)
class Replication:
    role: str
    rules: list[ReplicationRuleRow]


class BucketSettings:
    """The configuration calls on ``bucket``, as ``principal`` for the request ``origin``."""

    def __init__(self, s3: S3Wire, origin: Scope, principal: Principal, bucket: str) -> None:
        self._s3 = s3
        self._origin = origin
        self._principal = principal
        self._path = f"/{bucket}"
        self._bucket = bucket

    @property
    def inventory(self) -> BucketInventory:
        """The bucket's S3 Inventory calls (decision 0154), as the same principal."""
        return BucketInventory(self._s3, self._origin, self._principal, self._bucket)

    # -- versioning ------------------------------------------------------------------------------
    async def versioning(self) -> str:
        """Enabled, Suspended, or "" for a bucket whose versioning was never enabled."""
        root, _ = await self._get("versioning")
        return _find_text(root, "Status")

    async def put_versioning(self, status: str) -> None:
        root = _document("VersioningConfiguration")
        SubElement(root, "Status").text = status
        await self._put("versioning", _xml(root))

    # -- default encryption ----------------------------------------------------------------------
    async def encryption(self) -> DefaultEncryption:
        found = await self._get_unless(
            "encryption", "ServerSideEncryptionConfigurationNotFoundError"
        )
        if found is None:  # every object is encrypted at rest: no default is SSE-S3
            return DefaultEncryption("AES256", "", bucket_key=False)
        root, _ = found
        return DefaultEncryption(
            _find_text(root, "Rule/ApplyServerSideEncryptionByDefault/SSEAlgorithm") or "AES256",
            _find_text(root, "Rule/ApplyServerSideEncryptionByDefault/KMSMasterKeyID"),
            bucket_key=_find_text(root, "Rule/BucketKeyEnabled") == "true",
        )

    async def put_encryption(self, algorithm: str, kms_key_id: str, *, bucket_key: bool) -> None:
        root = _document("ServerSideEncryptionConfiguration")
        rule = SubElement(root, "Rule")
        default = SubElement(rule, "ApplyServerSideEncryptionByDefault")
        SubElement(default, "SSEAlgorithm").text = algorithm
        if kms_key_id:
            SubElement(default, "KMSMasterKeyID").text = kms_key_id
        SubElement(rule, "BucketKeyEnabled").text = "true" if bucket_key else "false"
        await self._put("encryption", _xml(root))

    async def delete_encryption(self) -> None:
        await self._delete("encryption")

    # -- policy ----------------------------------------------------------------------------------
    async def policy(self) -> str | None:
        """The policy's JSON as S3 keeps it; None without one."""
        try:
            answer = await self._call("GET", "policy")
        except WireError as exc:
            if exc.code == "NoSuchBucketPolicy":
                return None
            raise
        return answer.body.decode("utf-8", "replace")

    async def put_policy(self, text: str) -> None:
        await self._put("policy", text.encode(), content_type=b"application/json")

    async def delete_policy(self) -> None:
        await self._delete("policy")

    # -- tags ------------------------------------------------------------------------------------
    async def tags(self) -> list[tuple[str, str]]:
        found = await self._get_unless("tagging", "NoSuchTagSet")
        if found is None:
            return []
        return [
            (_find_text(tag, "Key"), _find_text(tag, "Value"))
            for tag in found[0].findall("TagSet/Tag")
        ]

    async def put_tags(self, tags: list[tuple[str, str]]) -> None:
        """The bucket's whole tag set: PutBucketTagging, or DeleteBucketTagging for none."""
        if not tags:
            await self._delete("tagging")
            return
        root = _document("Tagging")
        tag_set = SubElement(root, "TagSet")
        for key, value in tags:
            tag = SubElement(tag_set, "Tag")
            SubElement(tag, "Key").text = key
            SubElement(tag, "Value").text = value
        await self._put("tagging", _xml(root))

    # -- Requester Pays (decision 0133) ------------------------------------------------------------
    async def request_payment(self) -> str:
        """Who pays for other accounts' requests: ``BucketOwner`` or ``Requester``."""
        root, _ = await self._get("requestPayment")
        return _find_text(root, "Payer")

    async def put_request_payment(self, payer: str) -> None:
        root = _document("RequestPaymentConfiguration")
        SubElement(root, "Payer").text = payer
        await self._put("requestPayment", _xml(root))

    # -- Object Lock -----------------------------------------------------------------------------
    async def object_lock(self) -> ObjectLockSettings:
        found = await self._get_unless("object-lock", "ObjectLockConfigurationNotFoundError")
        if found is None:
            return ObjectLockSettings(enabled=False, mode="")
        root, _ = found
        retention = "Rule/DefaultRetention"
        return ObjectLockSettings(
            enabled=_find_text(root, "ObjectLockEnabled") == "Enabled",
            mode=_find_text(root, f"{retention}/Mode"),
            days=_whole(_find_text(root, f"{retention}/Days")),
            years=_whole(_find_text(root, f"{retention}/Years")),
        )

    async def put_object_lock(
        self, mode: str | None = None, *, days: int | None = None, years: int | None = None
    ) -> None:
        """Object Lock on, with this default retention (``mode`` and a period) or none. S3
        turns it on for a bucket versioned Enabled, and never off again."""
        root = _document("ObjectLockConfiguration")
        SubElement(root, "ObjectLockEnabled").text = "Enabled"
        if mode is not None:
            retention = SubElement(SubElement(root, "Rule"), "DefaultRetention")
            SubElement(retention, "Mode").text = mode
            if days is not None:
                SubElement(retention, "Days").text = str(days)
            if years is not None:
                SubElement(retention, "Years").text = str(years)
        await self._put("object-lock", _xml(root))

    # -- lifecycle -------------------------------------------------------------------------------
    async def lifecycle(self) -> list[LifecycleRuleRow]:
        rules, _ = await self._lifecycle_rules()
        return [_lifecycle_row(rule) for rule in rules]

    async def add_lifecycle_rule(self, new: NewLifecycleRule) -> None:
        """The rule appended to the bucket's rules, the whole configuration put back."""
        rules, minimum_size = await self._lifecycle_rules()
        await self._put_lifecycle([*rules, _lifecycle_rule(new)], minimum_size)

    async def remove_lifecycle_rule(self, rule_id: str) -> None:
        """The rule ``rule_id`` taken out, the configuration deleted with its last rule; no
        call when the bucket has no rule of that ID (gone already). A rule without an ID is
        named by none."""
        if not rule_id:
            return
        rules, minimum_size = await self._lifecycle_rules()
        kept = [rule for rule in rules if _find_text(rule, "ID") != rule_id]
        if len(kept) == len(rules):
            return
        if kept:
            await self._put_lifecycle(kept, minimum_size)
        else:
            await self._delete("lifecycle")

    async def _lifecycle_rules(self) -> tuple[list[Element], str | None]:
        """The rules as S3 answered them, and the transition size setting it answered with."""
        found = await self._get_unless("lifecycle", "NoSuchLifecycleConfiguration")
        if found is None:
            return [], None
        root, answer = found
        return root.findall("Rule"), answer.headers.get(_MINIMUM_SIZE_HEADER)

    async def _put_lifecycle(self, rules: list[Element], minimum_size: str | None) -> None:
        root = _document("LifecycleConfiguration")
        root.extend(rules)
        # Sent back as S3 answered it, so that changing the rules leaves the setting alone.
        extra = (
            [] if minimum_size is None else [(_MINIMUM_SIZE_HEADER.encode(), minimum_size.encode())]
        )
        await self._put("lifecycle", _xml(root), extra=extra)

    # -- event notifications (decision 0132) -----------------------------------------------------
    async def notification(self) -> Notifications:
        rules, eventbridge = await self._notification_rules()
        return Notifications([_notification_row(rule) for rule in rules], eventbridge is not None)

    async def add_notification_rule(self, new: NewNotificationRule) -> None:
        """The rule appended to the bucket's rules, the whole configuration put back: S3
        checks the topic, the event names and the overlap with the other rules."""
        rules, eventbridge = await self._notification_rules()
        await self._put_notification([*rules, _notification_rule(new)], eventbridge)

    async def remove_notification_rule(self, rule_id: str) -> None:
        """The rule ``rule_id`` taken out (the last one out: an empty configuration, which
        turns notifications off); no call when there is no such rule (gone already)."""
        rules, eventbridge = await self._notification_rules()
        kept = [rule for rule in rules if _find_text(rule, "Id") != rule_id]
        if rule_id and len(kept) != len(rules):
            await self._put_notification(kept, eventbridge)

    async def put_eventbridge(self, *, on: bool) -> None:
        """EventBridge turned on or off, the rules put back as S3 answered them; no call when
        it is so already."""
        rules, eventbridge = await self._notification_rules()
        if on != (eventbridge is not None):
            await self._put_notification(rules, Element("EventBridgeConfiguration") if on else None)

    async def _notification_rules(self) -> tuple[list[Element], Element | None]:
        """The topics' and queues' rules as S3 answered them (an empty configuration when none
        was put: S3 answers no error for it), and its ``EventBridgeConfiguration`` if any.
        Both kinds of rule are put back, so that a change made here never drops the queues'
        rules nor EventBridge, which the S3 API sets beside them."""
        root, _ = await self._get("notification")
        rules = [e for e in root if e.tag in ("TopicConfiguration", "QueueConfiguration")]
        return rules, root.find("EventBridgeConfiguration")

    async def _put_notification(self, rules: list[Element], eventbridge: Element | None) -> None:
        root = _document("NotificationConfiguration")
        root.extend(rules)
        if eventbridge is not None:  # last, in S3's order
            root.append(eventbridge)
        await self._put("notification", _xml(root))

    # -- read only -------------------------------------------------------------------------------
    async def cors(self) -> list[CorsRuleRow]:
        found = await self._get_unless("cors", "NoSuchCORSConfiguration")
        if found is None:
            return []
        return [
            CorsRuleRow(
                origins=_joined(rule, "AllowedOrigin"),
                methods=_joined(rule, "AllowedMethod"),
                headers=_joined(rule, "AllowedHeader"),
                max_age=_find_text(rule, "MaxAgeSeconds"),
            )
            for rule in found[0].findall("CORSRule")
        ]

    async def replication(self) -> Replication | None:
        found = await self._get_unless("replication", "ReplicationConfigurationNotFoundError")
        if found is None:
            return None
        root, _ = found
        rules = [
            ReplicationRuleRow(
                rule_id=_find_text(rule, "ID"),
                status=_find_text(rule, "Status"),
                priority=_find_text(rule, "Priority"),
                prefix=_rule_prefix(rule),
                destination=_find_text(rule, "Destination/Bucket"),
            )
            for rule in root.findall("Rule")
        ]
        return Replication(_find_text(root, "Role"), rules)

    # -- the calls -------------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        subresource: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
    ) -> Answer:
        # The sub-resource is always named: without it a DELETE of the bucket's path is
        # DeleteBucket.
        return await self._s3.request(
            self._origin,
            self._principal,
            method,
            self._path,
            {subresource: ""},
            headers=headers,
            body=body,
        )

    async def _get(self, subresource: str) -> tuple[Element, Answer]:
        answer = await self._call("GET", subresource)
        try:
            root: Element = SafeET.fromstring(answer.body)
        except SafeET.ParseError as exc:
            raise WireError("InternalError", "S3's answer could not be read.", 500) from exc
        for element in root.iter():  # S3's namespace off, so that paths read plain tags
            element.tag = element.tag.rsplit("}", 1)[-1]
        return root, answer

    async def _get_unless(self, subresource: str, absent: str) -> tuple[Element, Answer] | None:
        """The document, or None when S3 answers ``absent``: nothing configured."""
        try:
            return await self._get(subresource)
        except WireError as exc:
            if exc.code == absent:
                return None
            raise

    async def _put(
        self,
        subresource: str,
        body: bytes,
        *,
        content_type: bytes = b"application/xml",
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest())
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"content-md5", md5),
            *(extra or []),
        ]
        await self._call("PUT", subresource, headers=headers, body=body)

    async def _delete(self, subresource: str) -> None:
        await self._call("DELETE", subresource)


def _document(name: str) -> Element:
    return Element(name, {"xmlns": _S3_NS})


def _xml(root: Element) -> bytes:
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def _find_text(element: Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _joined(element: Element, name: str) -> str:
    return ", ".join((found.text or "").strip() for found in element.findall(name))


def _whole(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _rule_prefix(rule: Element) -> str:
    """A rule's prefix, wherever the rule's form puts it: ``Filter/Prefix``,
    ``Filter/And/Prefix``, or the older ``Prefix`` beside the filter."""
    for path in ("Filter/Prefix", "Filter/And/Prefix", "Prefix"):
        if rule.find(path) is not None:
            return _find_text(rule, path)
    return ""


def _lifecycle_row(rule: Element) -> LifecycleRuleRow:
    return LifecycleRuleRow(
        rule_id=_find_text(rule, "ID"),
        status=_find_text(rule, "Status"),
        prefix=_rule_prefix(rule),
        expiration=_find_text(rule, "Expiration/Days") or _find_text(rule, "Expiration/Date"),
        noncurrent_days=_find_text(rule, "NoncurrentVersionExpiration/NoncurrentDays"),
        abort_days=_find_text(rule, "AbortIncompleteMultipartUpload/DaysAfterInitiation"),
    )


def _lifecycle_rule(new: NewLifecycleRule) -> Element:
    """A rule in S3's element order: ID, Filter, Status, then the actions."""
    rule = Element("Rule")
    if new.rule_id:
        SubElement(rule, "ID").text = new.rule_id
    SubElement(SubElement(rule, "Filter"), "Prefix").text = new.prefix
    SubElement(rule, "Status").text = "Enabled"
    if new.expiration_days is not None:
        SubElement(SubElement(rule, "Expiration"), "Days").text = str(new.expiration_days)
    if new.noncurrent_days is not None:
        noncurrent = SubElement(rule, "NoncurrentVersionExpiration")
        SubElement(noncurrent, "NoncurrentDays").text = str(new.noncurrent_days)
    if new.abort_days is not None:
        abort = SubElement(rule, "AbortIncompleteMultipartUpload")
        SubElement(abort, "DaysAfterInitiation").text = str(new.abort_days)
    return rule


def _notification_filter(rule: Element, name: str) -> str:
    """The value of the rule's ``prefix`` or ``suffix`` filter rule ("" without one); S3 takes
    the names in any case."""
    for found in rule.iterfind("Filter/S3Key/FilterRule"):
        if _find_text(found, "Name").lower() == name:
            return _find_text(found, "Value")
    return ""


def _notification_row(rule: Element) -> NotificationRuleRow:
    return NotificationRuleRow(
        rule_id=_find_text(rule, "Id"),
        # A queue's rule names its queue where a topic's names its topic (decision 0158).
        topic_arn=_find_text(rule, "Topic") or _find_text(rule, "Queue"),
        events=tuple((e.text or "").strip() for e in rule.findall("Event")),
        prefix=_notification_filter(rule, "prefix"),
        suffix=_notification_filter(rule, "suffix"),
        metadata=_notification_pairs(rule, "S3Metadata"),
        tags=_notification_pairs(rule, "S3Tags"),
    )


def _notification_pairs(rule: Element, container: str) -> tuple[tuple[str, str], ...]:
    """The ``Name``/``Value`` pairs of the rule's ``S3Metadata`` or ``S3Tags`` filter, as S3
    shows them back."""
    return tuple(
        (_find_text(found, "Name"), _find_text(found, "Value"))
        for found in rule.iterfind(f"Filter/{container}/FilterRule")
    )


def _notification_rule(new: NewNotificationRule) -> Element:
    """A ``TopicConfiguration`` in S3's element order: Id, Topic, Event…, Filter."""
    rule = Element("TopicConfiguration")
    if new.rule_id:
        SubElement(rule, "Id").text = new.rule_id
    SubElement(rule, "Topic").text = new.topic_arn
    for event in new.events:
        SubElement(rule, "Event").text = event
    filters = [(name, value) for name, value in (("Prefix", new.prefix), ("Suffix", new.suffix))]
    if any(value for _, value in filters):
        key = SubElement(SubElement(rule, "Filter"), "S3Key")
        for name, value in filters:
            if value:
                found = SubElement(key, "FilterRule")
                SubElement(found, "Name").text = name
                SubElement(found, "Value").text = value
    return rule
