"""Get/Put/DeleteBucketReplication on the S3 API (decision 0112). The rules' meaning is
``storage/replication.py``'s.

The document is checked as S3 checks it, with S3's wording: 1 to ``max_replication_rules``
rules; unique IDs of at most 255 characters (one is drawn when a rule has none, as S3 does);
a ``Status`` of ``Enabled`` or ``Disabled``; the V1 schema (top-level ``<Prefix>``, or no
filter) or the V2 one (``<Filter>`` with a prefix, a tag or an ``<And>``), not both in one
configuration; in V2, ``DeleteMarkerReplication`` given, ``Disabled`` beside a tag filter, and
priorities unique. Then the buckets: the source must have versioning Enabled; each destination
must exist and be another bucket; one of another tenant only when its owner consents
(increment 4: the configuration's ``Role``, a role of the source's account that trusts S3, is
allowed ``s3:ReplicateObject`` there by its own policies and the destination's bucket policy,
checked before anything else of that bucket is looked at); it must have versioning Enabled,
and Object Lock when the source has it; its region must be one the tenant's allow-list admits
(AccessDenied, as an SCP restricting regions answers). The regions a configuration moves data
between are added to the request's audit event (residency: the tenant asked for that
movement).

Versions under a KMS key are replicated as on S3 (decision 0112, increment 3): only by a rule
whose ``SourceSelectionCriteria`` has ``SseKmsEncryptedObjects`` Enabled, and then under the
``ReplicaKmsKeyID`` of its destination's ``EncryptionConfiguration``, which must be given with
it ("ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects tag is present.", and the
converse), be a KMS key ARN or alias ARN ("Invalid ReplicaKmsKeyID ARN."), name a key of the
destination bucket's owner, and be one the caller may describe (checked now, as for a
bucket's default key; AWS checks only at the copy).

``ExistingObjectReplication`` (V2 rules only, as on S3; increment 7): with it Enabled, the
versions the bucket held before are copied too, by the worker's pass over them.

``SourceSelectionCriteria/ReplicaModifications`` (V2 rules only, as on S3; decision 0127): with
it Enabled, tag, ACL, retention and legal-hold changes made on the bucket's replicas that the
rule selects go back to the rule's destination, the bucket they came from in a two-way setup.

Elements this server would not honour are refused with ``NotImplemented``, never kept silently:
Replication Time Control and metrics,
``AccessControlTranslation``, ``Account``, and a storage class other than ``STANDARD`` (the one
class here).
"""

from __future__ import annotations

import secrets
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, addressed_bucket, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, only_child, parse_xml
from andromede.s3.xml import stripped_child_text as text_of
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import Bucket
from andromede.storage.replication import (
    ReplicationConfiguration,
    ReplicationRule,
    bucket_from_arn,
)
from andromede.storage.versioning import VersioningStatus

__all__ = [
    "delete_bucket_replication",
    "get_bucket_replication",
    "parse_replication",
    "put_bucket_replication",
]

_MAX_ID = 255
_STATUSES = ("Enabled", "Disabled")
# S3's storage classes; STANDARD is the one this server has.
_STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    }
)
_UNSUPPORTED_DESTINATION_ELEMENTS = (
    "Account",
    "AccessControlTranslation",
    "ReplicationTime",
    "Metrics",
)


async def get_bucket_replication(ctx: S3Context, svc: S3Services) -> Response:
    config = await svc.objects.get_bucket_replication(ctx.bucket)
    if config is None:
        raise S3Error("ReplicationConfigurationNotFoundError", BucketName=ctx.bucket)
    xml = XmlWriter("ReplicationConfiguration")
    xml.element("Role", config.role)
    for rule in config.rules:
        _write_rule(xml, rule)
    return xml_response(xml)


def _write_rule(xml: XmlWriter, rule: ReplicationRule) -> None:
    xml.open("Rule")
    xml.element("ID", rule.rule_id)
    xml.element("Priority", rule.priority)
    if rule.legacy_prefix:
        xml.element("Prefix", rule.prefix)
    elif rule.filtered:
        xml.open("Filter")
        if rule.filter_and:
            xml.open("And")
        if rule.prefix or not (rule.filter_and or rule.tags):
            xml.element("Prefix", rule.prefix)
        for key, value in rule.tags:
            xml.open("Tag")
            xml.element("Key", key)
            xml.element("Value", value)
            xml.close("Tag")
        if rule.filter_and:
            xml.close("And")
        xml.close("Filter")
    xml.element("Status", "Enabled" if rule.enabled else "Disabled")
    xml.open("Destination")
    xml.element("Bucket", f"arn:aws:s3:::{rule.destination_bucket}")
    xml.element("StorageClass", rule.storage_class)
    if rule.replica_kms_key_id is not None:
        xml.open("EncryptionConfiguration")
        xml.element("ReplicaKmsKeyID", rule.replica_kms_key_id)
        xml.close("EncryptionConfiguration")
    xml.close("Destination")
    if rule.sse_kms_objects is not None or rule.replica_modifications is not None:
        xml.open("SourceSelectionCriteria")
        if rule.sse_kms_objects is not None:
            xml.open("SseKmsEncryptedObjects")
            xml.element("Status", "Enabled" if rule.sse_kms_objects else "Disabled")
            xml.close("SseKmsEncryptedObjects")
        if rule.replica_modifications is not None:
            xml.open("ReplicaModifications")
            xml.element("Status", "Enabled" if rule.replica_modifications else "Disabled")
            xml.close("ReplicaModifications")
        xml.close("SourceSelectionCriteria")
    if rule.existing_objects is not None:
        xml.open("ExistingObjectReplication")
        xml.element("Status", "Enabled" if rule.existing_objects else "Disabled")
        xml.close("ExistingObjectReplication")
    if rule.delete_marker_replication is not None:
        xml.open("DeleteMarkerReplication")
        xml.element("Status", "Enabled" if rule.delete_marker_replication else "Disabled")
        xml.close("DeleteMarkerReplication")
    xml.close("Rule")


async def put_bucket_replication(ctx: S3Context, svc: S3Services) -> Response:
    body = await ctx.read_xml_body(integrity_required=True)
    config = parse_replication(body, ctx.settings.max_replication_rules)
    if config.role is not None and not ctx.principal.is_root:
        await svc.authoriser.authorise_pass_role(
            ctx.principal, config.role, source_ip=ctx.source_ip, secure=ctx.secure
        )
    source = await addressed_bucket(ctx, svc)
    if source.versioning is not VersioningStatus.ENABLED:
        raise S3Error(
            "InvalidRequest",
            "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
        )
    destinations = {}
    for name in sorted(config.destinations):
        destinations[name] = await _destination(ctx, svc, source, config, name)
    for rule in config.rules:
        if rule.replica_kms_key_id is not None:
            await _check_replica_key(
                ctx, svc, destinations[rule.destination_bucket], rule.replica_kms_key_id
            )
    regions = {destination.region for destination in destinations.values()}
    await svc.objects.set_bucket_replication(ctx.bucket, config)
    # Residency: the tenant asked for its data to move to these regions (decision 0112).
    ctx.audit_details["source_region"] = source.region
    ctx.audit_details["destination_regions"] = ",".join(sorted(regions))
    return Response()


async def delete_bucket_replication(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_bucket_replication(ctx.bucket, None)
    return Response(status=204)


async def _destination(
    ctx: S3Context,
    svc: S3Services,
    source: Bucket,
    config: ReplicationConfiguration,
    name: str,
) -> Bucket:
    """The destination bucket ``name`` of ``source``'s rules, checked as S3 checks it; one
    of another tenant only when its owner consents, checked before anything else of it is
    looked at, so a refusal says nothing of another tenant's bucket but that it exists."""
    if name == source.name:
        raise S3Error(
            "InvalidRequest", "Destination bucket cannot be the same as the source bucket."
        )
    try:
        destination = await svc.objects.get_bucket(name)
    except NoSuchBucket:
        raise S3Error("InvalidRequest", "Destination bucket must exist.") from None
    if destination.tenant_id != source.tenant_id:
        await _check_grant(svc, source, config, destination)
    if destination.versioning is not VersioningStatus.ENABLED:
        raise S3Error("InvalidRequest", "Destination bucket must have versioning enabled.")
    if source.object_lock is not None and destination.object_lock is None:
        raise S3Error(
            "InvalidRequest",
            "Destination bucket must have Object Lock enabled to replicate from a bucket "
            "with Object Lock.",
        )
    if ctx.settings.region_settings(destination.region) is None:
        raise S3Error(
            "InvalidRequest",
            f"Destination bucket is in a region no longer declared: {destination.region}",
        )
    if svc.allowed_regions is not None:
        allowed = await svc.allowed_regions(source.tenant_id)
        if allowed and destination.region not in allowed:
            # The operator's guardrail for the tenant, as CreateBucket applies it (0013).
            raise S3Error(
                "AccessDenied", f"Your account may not replicate data to {destination.region}"
            )
    return destination


async def _check_replica_key(
    ctx: S3Context, svc: S3Services, destination: Bucket, key_ref: str
) -> None:
    """A rule's ``ReplicaKmsKeyID``: a key of the destination bucket's owner (the replica is
    theirs, and the copy uses the key on their behalf, with no caller whose rights another
    account's key policy could grant) and of its region (the replica is sealed there, by that
    region's KMS, as AWS asks: decision 0142), which the caller may describe now (another
    tenant's key: through that key's policy, as AWS asks the destination account's)."""
    owner = destination.tenant_id
    account, region = _kms_arn_account_region(key_ref)
    if account != owner:
        raise S3Error(
            "InvalidRequest",
            "ReplicaKmsKeyID must name a KMS key of the destination bucket's owner.",
        )
    if region != destination.region:
        raise S3Error(
            "InvalidRequest",
            "ReplicaKmsKeyID must name a KMS key in the destination bucket's region "
            f"({destination.region}).",
        )
    if svc.kms_keys is None:
        raise S3Error("NotImplemented", "SSE-KMS is not available on this server")
    await svc.kms_keys.key_for_sse(
        ctx, key_ref, {}, action="kms:DescribeKey", owner=owner, region=destination.region
    )


async def _check_grant(
    svc: S3Services, source: Bucket, config: ReplicationConfiguration, destination: Bucket
) -> None:
    """Another tenant's bucket (increment 4): the configuration's ``Role`` (a role of the
    source's account that trusts S3) must be allowed ``s3:ReplicateObject`` on the objects each
    rule copies there by its own policies and by the destination's bucket policy. AWS checks
    only at the copy; the copies check again (``storage/replicator.py``)."""
    grants = svc.replication_grants
    for rule in config.rules:
        if rule.destination_bucket != destination.name:
            continue
        if grants is None or not await grants.allows(
            config.role,
            source.tenant_id,
            destination,
            "s3:ReplicateObject",
            f"{rule.prefix}*",
            source_bucket=source.name,
        ):
            raise S3Error(
                "InvalidRequest",
                "Destination bucket must be owned by the source bucket's owner, or allow the "
                "configuration's Role s3:ReplicateObject in its bucket policy (the Role a "
                "role of the source's account that trusts s3.amazonaws.com and whose "
                "policies allow it too).",
            )


def _kms_arn_account_region(arn: str) -> tuple[str | None, str | None]:
    """The account and region of a KMS key ARN or alias ARN
    (``arn:aws:kms:region:account:key/id``, ``…:alias/name``); (None, None) when ``arn`` is
    neither."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or parts[2] != "kms":
        return None, None
    region, account, resource = parts[3], parts[4], parts[5]
    if not region or not account or resource.endswith("/"):
        return None, None
    if not resource.startswith(("key/", "alias/")):
        return None, None
    return account, region


def parse_replication(body: bytes, max_rules: int) -> ReplicationConfiguration:
    """A ``ReplicationConfiguration`` document, checked as S3 checks it."""
    root = parse_xml(body, "ReplicationConfiguration")
    role = text_of(root, "Role")
    elements = children(root, "Rule")
    if not elements:
        raise S3Error("MalformedXML")
    if len(elements) > max_rules:
        raise S3Error(
            "InvalidRequest",
            f"The replication configuration may have at most {max_rules} rules",
        )
    rules = tuple(_parse_rule(element) for element in elements)
    ids = [rule.rule_id for rule in rules]
    if len(ids) != len(set(ids)):
        raise S3Error("InvalidRequest", "Rule Id must be unique.")
    v2 = [rule for rule in rules if rule.is_v2]
    if v2 and len(v2) != len(rules):
        raise S3Error(
            "InvalidRequest",
            "A replication configuration may not mix rules with Filter and rules without.",
        )
    priorities = [rule.priority or 0 for rule in v2]
    if len(priorities) != len(set(priorities)):
        raise S3Error("InvalidRequest", "Found duplicate priority, priorities must be unique.")
    return ReplicationConfiguration(rules=rules, role=role or None)


def _parse_rule(element: Element) -> ReplicationRule:
    existing = _status_of(only_child(element, "ExistingObjectReplication"))
    rule_id = text_of(element, "ID") or secrets.token_urlsafe(36)[:48]
    if len(rule_id) > _MAX_ID:
        raise S3Error("InvalidArgument", "ID length should not exceed allowed limit of 255")
    status = text_of(element, "Status")
    if status not in _STATUSES:
        raise S3Error("MalformedXML")
    priority = _priority(element)
    legacy = only_child(element, "Prefix")
    filter_element = only_child(element, "Filter")
    if legacy is not None and filter_element is not None:
        raise S3Error("MalformedXML")
    prefix = "" if legacy is None else (legacy.text or "")
    tags: tuple[tuple[str, str], ...] = ()
    combined = False
    if filter_element is not None:
        prefix, tags, combined = _parse_filter(filter_element)
    markers = _delete_markers(element)
    if filter_element is not None:
        if markers is None:
            raise S3Error(
                "InvalidRequest",
                "DeleteMarkerReplication must be specified for this version of Cross Region "
                "Replication configuration schema.",
            )
        if markers and tags:
            raise S3Error(
                "InvalidRequest",
                "Delete marker replication is not supported if any Tag filter is specified.",
            )
    if existing is not None and filter_element is None:
        raise S3Error(
            "InvalidRequest",
            "ExistingObjectReplication cannot be used for this version of Cross Region "
            "Replication configuration schema. Please refer to S3 Developer Guide for more "
            "information.",
        )
    sse_kms, modifications = _source_selection(element, v2=filter_element is not None)
    destination_element = only_child(element, "Destination")
    destination, storage_class = _parse_destination(destination_element)
    replica_key = _replica_kms_key(destination_element, sse_kms)
    return ReplicationRule(
        rule_id=rule_id,
        enabled=status == "Enabled",
        destination_bucket=destination,
        prefix=prefix,
        tags=tags,
        legacy_prefix=legacy is not None,
        filtered=filter_element is not None,
        filter_and=combined,
        priority=priority,
        delete_marker_replication=markers,
        storage_class=storage_class,
        sse_kms_objects=sse_kms,
        replica_modifications=modifications,
        replica_kms_key_id=replica_key,
        existing_objects=existing,
    )


def _source_selection(element: Element, *, v2: bool) -> tuple[bool | None, bool | None]:
    """``SourceSelectionCriteria``: whether versions under a KMS key are selected
    (``SseKmsEncryptedObjects``) and whether changes made on the bucket's replicas go back to
    their source (``ReplicaModifications``, V2 only, decision 0127); None for what is not
    given."""
    criteria = only_child(element, "SourceSelectionCriteria")
    if criteria is None:
        return None, None
    sse_kms = _status_of(only_child(criteria, "SseKmsEncryptedObjects"))
    modifications = _status_of(only_child(criteria, "ReplicaModifications"))
    if sse_kms is None and modifications is None:
        raise S3Error("InvalidRequest", "SourceSelectionCriteria cannot be empty.")
    if modifications is not None and not v2:
        raise S3Error(
            "InvalidRequest",
            "ReplicaModifications cannot be used for this version of Cross Region Replication "
            "configuration schema. Please refer to S3 Developer Guide for more information.",
        )
    return sse_kms, modifications


def _status_of(element: Element | None) -> bool | None:
    """An element's ``Status`` (Enabled: True); None when there is no element."""
    if element is None:
        return None
    status = text_of(element, "Status")
    if status not in _STATUSES:
        raise S3Error("MalformedXML")
    return status == "Enabled"


def _replica_kms_key(destination: Element | None, sse_kms: bool | None) -> str | None:
    """The destination's ``EncryptionConfiguration/ReplicaKmsKeyID``, which goes with
    ``SseKmsEncryptedObjects``, each requiring the other, as on S3."""
    encryption = None if destination is None else only_child(destination, "EncryptionConfiguration")
    key_ref = None if encryption is None else text_of(encryption, "ReplicaKmsKeyID")
    if encryption is not None and sse_kms is None:
        raise S3Error(
            "InvalidRequest",
            "SseKmsEncryptedObjects must be specified if EncryptionConfiguration is present.",
        )
    if sse_kms is not None and not key_ref:
        raise S3Error(
            "InvalidRequest",
            "ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects tag is present.",
        )
    if key_ref is not None and _kms_arn_account_region(key_ref)[0] is None:
        raise S3Error(
            "InvalidArgument",
            "Invalid ReplicaKmsKeyID ARN.",
            ArgumentName="ReplicaKmsKeyID",
            ArgumentValue=key_ref[:256],
        )
    return key_ref or None


def _priority(element: Element) -> int | None:
    raw = text_of(element, "Priority")
    if raw is None:
        return None
    if not raw.isdigit():
        raise S3Error("MalformedXML")
    return int(raw)


def _delete_markers(element: Element) -> bool | None:
    found = only_child(element, "DeleteMarkerReplication")
    if found is None:
        return None
    status = text_of(found, "Status")
    if status not in _STATUSES:
        raise S3Error("MalformedXML")
    return status == "Enabled"


def _parse_filter(element: Element) -> tuple[str, tuple[tuple[str, str], ...], bool]:
    combined = only_child(element, "And")
    if combined is not None:
        if children(element, "Prefix") or children(element, "Tag"):
            raise S3Error("MalformedXML")
        prefix, tags = _conditions(combined)
        return prefix, tags, True
    tag_count = len(children(element, "Tag"))
    if tag_count > 1 or (tag_count and children(element, "Prefix")):
        raise S3Error("MalformedXML")  # several conditions need an <And>
    prefix, tags = _conditions(element)
    return prefix, tags, False


def _conditions(element: Element) -> tuple[str, tuple[tuple[str, str], ...]]:
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
    return ("" if prefix_element is None else (prefix_element.text or "")), tuple(tags)


def _parse_destination(element: Element | None) -> tuple[str, str | None]:
    if element is None:
        raise S3Error("MalformedXML")
    for name in _UNSUPPORTED_DESTINATION_ELEMENTS:
        if children(element, name):
            raise S3Error("NotImplemented", f"Destination {name} is not implemented")
    arn = text_of(element, "Bucket")
    if not arn:
        raise S3Error("MalformedXML")
    bucket = bucket_from_arn(arn)
    if bucket is None:
        raise S3Error("InvalidArgument", "Invalid bucket ARN.", ArgumentName="Bucket")
    storage_class = text_of(element, "StorageClass")
    if storage_class is not None:
        if storage_class not in _STORAGE_CLASSES:
            raise S3Error("MalformedXML")
        if storage_class != "STANDARD":
            raise S3Error(
                "NotImplemented",
                f"Storage class {storage_class} is not implemented: this server has one, STANDARD",
            )
    return bucket, storage_class
