"""A Batch Operations job's ``Operation`` (decision 0152 and its addenda): parsed from
CreateJob into the job's document, and written back in DescribeJob. What the operations do is
the worker's (``storage/batch_operations.py``); only the shape and its bounds are checked here.

Served: S3PutObjectTagging, S3DeleteObjectTagging, S3PutObjectCopy, S3PutObjectAcl,
S3PutObjectRetention, S3PutObjectLegalHold, S3ReplicateObject. S3InitiateRestoreObject,
LambdaInvoke (and S3ComputeObjectChecksum, S3DeleteObject…) are refused 501 NotImplemented,
never accepted and left undone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from andromede.http.xml import XmlWriter
from andromede.s3control.errors import S3ControlError
from andromede.storage.acl import ALL_USERS, AUTHENTICATED_USERS, CANNED_ACLS, LOG_DELIVERY
from andromede.storage.batch_runner import OPERATION_ACTIONS, bucket_of_arn

__all__ = [
    "bad",
    "child",
    "local",
    "parse_operation",
    "parse_tags",
    "text",
    "write_operation",
    "write_tags",
]

_MAX_OBJECT_TAGS = 10
_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
_PERMISSIONS = frozenset({"FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP"})


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def bad(message: str) -> S3ControlError:
    return S3ControlError("BadRequestException", message)


def child(parent: Element, name: str) -> Element | None:
    for node in parent:
        if local(node.tag) == name:
            return node
    return None


def text(parent: Element, name: str, *, required: bool = False) -> str | None:
    node = child(parent, name)
    if node is None or not (node.text or "").strip():
        if required:
            raise bad(f"{name} is required")
        return None
    return (node.text or "").strip()


def _only(node: Element, served: set[str]) -> None:
    for element in node:
        if local(element.tag) not in served:
            raise S3ControlError("MalformedXML")


def parse_tags(tag_set: Element, limit: int = _MAX_OBJECT_TAGS) -> list[list[str]]:
    """A ``TagSet``/``Tags`` list of ``Key``/``Value`` pairs: keys 1-128 characters, values at
    most 256, each key once, at most ``limit`` tags (BadRequestException otherwise)."""
    tags = []
    for tag in tag_set:
        key = text(tag, "Key", required=True) or ""
        value_node = child(tag, "Value")
        value = "" if value_node is None else (value_node.text or "")
        if len(key) > 128 or len(value) > 256:
            raise bad("A tag's key is at most 128 characters, its value 256")
        tags.append([key, value])
    if len(tags) > limit or len({k for k, _ in tags}) != len(tags):
        raise bad(f"At most {limit} tags, each key once")
    return tags


def parse_operation(node: Element | None) -> dict[str, Any]:
    chosen = [] if node is None else list(node)
    if len(chosen) != 1:
        raise bad("Operation must name exactly one operation")
    element = chosen[0]
    name = local(element.tag)
    if name not in OPERATION_ACTIONS:
        raise S3ControlError("NotImplemented", f"The {name} operation is not supported")
    operation: dict[str, Any] = {"name": name}
    if name == "S3PutObjectTagging":
        tag_set = child(element, "TagSet")
        operation["tags"] = [] if tag_set is None else parse_tags(tag_set)
    elif name == "S3PutObjectCopy":
        operation.update(_copy(element))
    elif name == "S3PutObjectAcl":
        operation.update(_acl(element))
    elif name == "S3PutObjectRetention":
        operation.update(_retention(element))
    elif name == "S3PutObjectLegalHold":
        _only(element, {"LegalHold"})
        hold = child(element, "LegalHold")
        status = None if hold is None else text(hold, "Status", required=True)
        if status not in ("ON", "OFF"):
            raise bad("LegalHold's Status must be ON or OFF")
        operation["legal_hold"] = status
    elif name == "S3ReplicateObject":
        _only(element, set())
    return operation


# S3PutObjectCopy's elements served; any other (ACLs, new metadata, Object Lock, SSE-KMS,
# conditions, redirects…) is refused rather than silently ignored.
_COPY_SERVED = {"TargetResource", "TargetKeyPrefix", "MetadataDirective", "NewObjectTagging",
                "StorageClass"}  # fmt: skip


def _copy(node: Element) -> dict[str, Any]:
    for element in node:
        if local(element.tag) not in _COPY_SERVED:
            raise S3ControlError(
                "NotImplemented", f"S3PutObjectCopy's {local(element.tag)} is not supported"
            )
    target = text(node, "TargetResource", required=True) or ""
    if bucket_of_arn(target) is None:
        raise bad("TargetResource must be a bucket's ARN (arn:aws:s3:::bucket)")
    if (text(node, "MetadataDirective") or "COPY") != "COPY":
        raise S3ControlError("NotImplemented", "Only the COPY metadata directive is supported")
    if (text(node, "StorageClass") or "STANDARD") != "STANDARD":
        raise bad("Only the STANDARD storage class is served")
    prefix = text(node, "TargetKeyPrefix")
    tags_node = child(node, "NewObjectTagging")
    tags = None if tags_node is None else parse_tags(tags_node)
    return {"target": target, "prefix": prefix, "tags": tags}


def _acl(node: Element) -> dict[str, Any]:
    """``AccessControlPolicy``: a ``CannedAccessControlList`` or an ``AccessControlList``
    (owner and grants to canonical ids or S3's groups), not both."""
    _only(node, {"AccessControlPolicy"})
    policy = child(node, "AccessControlPolicy")
    if policy is None:
        raise bad("S3PutObjectAcl needs an AccessControlPolicy")
    _only(policy, {"AccessControlList", "CannedAccessControlList"})
    canned = text(policy, "CannedAccessControlList")
    acl = child(policy, "AccessControlList")
    if canned is not None and acl is None:
        if canned not in CANNED_ACLS:
            raise bad(f"{canned[:64]} is not a canned ACL")
        return {"canned": canned}
    if acl is None or canned is not None:
        raise bad("Give either CannedAccessControlList or AccessControlList")
    owner_node = child(acl, "Owner")
    owner = None if owner_node is None else text(owner_node, "ID")
    grants_node = child(acl, "Grants")
    grants: list[list[str]] = []
    for member in [] if grants_node is None else list(grants_node):
        grantee = child(member, "Grantee")
        permission = text(member, "Permission", required=True) or ""
        if grantee is None or permission not in _PERMISSIONS:
            raise bad("A grant needs a Grantee and a Permission")
        kind = text(grantee, "TypeIdentifier", required=True)
        identifier = text(grantee, "Identifier", required=True) or ""
        if kind == "id":
            grants.append(["CanonicalUser", identifier, permission])
        elif kind == "uri" and identifier in _GROUPS:
            grants.append(["Group", identifier, permission])
        elif kind == "emailAddress":
            raise S3ControlError("NotImplemented", "Grants to e-mail addresses are not served")
        else:
            raise bad("A grantee is an id or one of S3's group URIs")
    return {"owner": owner, "grants": grants}


def _retention(node: Element) -> dict[str, Any]:
    _only(node, {"BypassGovernanceRetention", "Retention"})
    bypass = (text(node, "BypassGovernanceRetention") or "false").lower()
    if bypass not in ("true", "false"):
        raise S3ControlError("MalformedXML")
    retention = child(node, "Retention")
    if retention is None:
        raise bad("S3PutObjectRetention needs a Retention")
    _only(retention, {"Mode", "RetainUntilDate"})
    mode = text(retention, "Mode")
    until_text = text(retention, "RetainUntilDate")
    if (mode is None) != (until_text is None):
        raise bad("Retention needs both Mode and RetainUntilDate, or neither (to remove it)")
    if mode is not None and mode not in ("GOVERNANCE", "COMPLIANCE"):
        raise bad("Mode must be GOVERNANCE or COMPLIANCE")
    until = None
    if until_text is not None:
        try:
            parsed = datetime.fromisoformat(until_text)
        except ValueError as exc:
            raise bad("RetainUntilDate must be an ISO 8601 timestamp") from exc
        until = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return {
        "bypass_governance": bypass == "true",
        "mode": mode,
        "retain_until": None if until is None else until.isoformat(),
    }


def write_tags(xml: XmlWriter, name: str, tags: list[list[str]]) -> None:
    """A list of tags as ``member`` elements (botocore's shape)."""
    xml.open(name)
    for key, value in tags:
        xml.open("member")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("member")
    xml.close(name)


def write_operation(xml: XmlWriter, operation: dict[str, Any]) -> None:
    """DescribeJob's ``Operation``, as CreateJob took it."""
    name = operation["name"]
    xml.open("Operation")
    xml.open(name)
    if name == "S3PutObjectTagging":
        write_tags(xml, "TagSet", operation["tags"])
    elif name == "S3PutObjectCopy":
        xml.element("TargetResource", operation["target"])
        xml.element("TargetKeyPrefix", operation.get("prefix"))
        xml.element("MetadataDirective", "COPY")
        if operation.get("tags") is not None:
            write_tags(xml, "NewObjectTagging", operation["tags"])
    elif name == "S3PutObjectAcl":
        xml.open("AccessControlPolicy")
        if operation.get("canned"):
            xml.element("CannedAccessControlList", operation["canned"])
        else:
            xml.open("AccessControlList")
            xml.open("Grants")
            for kind, grantee, permission in operation["grants"]:
                xml.open("member")
                xml.open("Grantee")
                xml.element("Identifier", grantee)
                xml.element("TypeIdentifier", "id" if kind == "CanonicalUser" else "uri")
                xml.close("Grantee")
                xml.element("Permission", permission)
                xml.close("member")
            xml.close("Grants")
            if operation.get("owner"):
                xml.open("Owner")
                xml.element("ID", operation["owner"])
                xml.close("Owner")
            xml.close("AccessControlList")
        xml.close("AccessControlPolicy")
    elif name == "S3PutObjectRetention":
        xml.element("BypassGovernanceRetention", bool(operation["bypass_governance"]))
        xml.open("Retention")
        if operation.get("mode"):
            until = datetime.fromisoformat(operation["retain_until"])
            xml.element("RetainUntilDate", until.strftime("%Y-%m-%dT%H:%M:%SZ"))
            xml.element("Mode", operation["mode"])
        xml.close("Retention")
    elif name == "S3PutObjectLegalHold":
        xml.open("LegalHold")
        xml.element("Status", operation["legal_hold"])
        xml.close("LegalHold")
    xml.close(name)
    xml.close("Operation")
