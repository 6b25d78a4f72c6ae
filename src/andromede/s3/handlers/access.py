"""Bucket access configuration: Object Ownership controls, Block Public Access, and ACLs.

New buckets start as AWS's do since April 2023: ``BucketOwnerEnforced`` (ACLs disabled) and every
Block Public Access switch on. The authoriser reads all of it with the bucket on each request.

ACLs come as a canned ``x-amz-acl``, as ``x-amz-grant-*`` headers, or as an
``AccessControlPolicy`` document. With ``BucketOwnerEnforced`` only ACLs that give the bucket
owner full control and nobody anything are accepted (they change nothing); any other gets
``AccessControlListNotSupported``, as on AWS. BlockPublicAcls refuses public ones.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.iam.policy import (
    S3_BUCKET_POLICY_MAX,
    MalformedPolicy,
    PolicyDocument,
    PolicyKind,
    is_public,
    load_policy,
    parse_policy,
)
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, event_source, write_owner, xml_response
from andromede.s3.handlers.version_reads import (
    delete_marker_not_allowed,
    named_version_id,
    read_version,
)
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage import errors as storage_errors
from andromede.storage.acl import (
    CANNED_ACLS,
    AccessControlList,
    Grant,
    GranteeType,
    Permission,
    acl_refusal,
    canned_acl,
)
from andromede.storage.model import Bucket, ObjectOwnership, PublicAccessBlock

__all__ = [
    "acl_from_request",
    "delete_bucket_ownership_controls",
    "delete_bucket_policy",
    "delete_public_access_block",
    "get_bucket_acl",
    "get_bucket_ownership_controls",
    "get_bucket_policy",
    "get_bucket_policy_status",
    "get_object_acl",
    "get_public_access_block",
    "parse_object_ownership",
    "put_bucket_acl",
    "put_bucket_ownership_controls",
    "put_bucket_policy",
    "put_object_acl",
    "put_public_access_block",
]

_PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def parse_object_ownership(value: str) -> ObjectOwnership:
    try:
        return ObjectOwnership(value.strip())
    except ValueError as exc:
        raise S3Error(
            "InvalidArgument", f"Invalid x-amz-object-ownership header: {value[:64]}"
        ) from exc


async def get_bucket_ownership_controls(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    if bucket.object_ownership is None:
        raise S3Error("OwnershipControlsNotFoundError")
    xml = XmlWriter("OwnershipControls")
    xml.open("Rule")
    xml.element("ObjectOwnership", bucket.object_ownership.value)
    xml.close("Rule")
    return xml_response(xml)


async def put_bucket_ownership_controls(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(integrity_required=True), "OwnershipControls")
    rules = children(root, "Rule")
    if len(rules) != 1:
        raise S3Error("MalformedXML")
    raw = child_text(rules[0], "ObjectOwnership")
    if raw is None:
        raise S3Error("MalformedXML")
    try:
        ownership = ObjectOwnership(raw.strip())
    except ValueError as exc:
        raise S3Error("MalformedXML") from exc
    await svc.objects.set_object_ownership(ctx.bucket, ownership)
    return Response()


async def delete_bucket_ownership_controls(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_object_ownership(ctx.bucket, None)
    return Response(status=204)


async def get_public_access_block(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    block = bucket.public_access_block
    if block is None:
        raise S3Error("NoSuchPublicAccessBlockConfiguration")
    xml = XmlWriter("PublicAccessBlockConfiguration")
    xml.element("BlockPublicAcls", block.block_public_acls)
    xml.element("IgnorePublicAcls", block.ignore_public_acls)
    xml.element("BlockPublicPolicy", block.block_public_policy)
    xml.element("RestrictPublicBuckets", block.restrict_public_buckets)
    return xml_response(xml)


async def put_public_access_block(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(
        await ctx.read_xml_body(integrity_required=True), "PublicAccessBlockConfiguration"
    )
    flags: list[bool] = []
    for name in _PAB_FIELDS:
        raw = child_text(root, name)
        # A switch the document leaves out is off, as on AWS.
        value = (raw or "false").strip().lower()
        if value not in ("true", "false"):
            raise S3Error("MalformedXML")
        flags.append(value == "true")
    await svc.objects.set_public_access_block(ctx.bucket, PublicAccessBlock(*flags))
    return Response()


async def delete_public_access_block(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_public_access_block(ctx.bucket, None)
    return Response(status=204)


# -- ACLs ------------------------------------------------------------------------------------

_XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"
_GRANT_HEADERS = {
    "x-amz-grant-full-control": Permission.FULL_CONTROL,
    "x-amz-grant-read": Permission.READ,
    "x-amz-grant-write": Permission.WRITE,
    "x-amz-grant-read-acp": Permission.READ_ACP,
    "x-amz-grant-write-acp": Permission.WRITE_ACP,
}
# AWS documents quoted values (id="…"); the aws CLI's examples send them bare (uri=http://…).
_GRANTEE_RE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^",\s]+))\s*')
_CANONICAL_ID_RE = re.compile(r"[0-9a-f]{64}")


def acl_from_request(
    ctx: S3Context,
    bucket: Bucket,
    *,
    owner_id: str,
    body: bytes | None = None,
    creating_bucket: bool = False,
) -> AccessControlList | None:
    """The ACL a write asks for (header, grant headers, or body), None when it asks none.

    Applies the bucket's Object Ownership and Block Public Access rules (see the module doc).
    """
    canned = ctx.headers.get("x-amz-acl")
    grant_headers = {n: v for n, v in ctx.headers.items() if n in _GRANT_HEADERS}
    sources = sum((canned is not None, bool(grant_headers), bool(body and body.strip())))
    if sources == 0:
        return None
    if sources > 1:
        raise S3Error(
            "InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed"
        )
    if canned is not None:
        name = canned.strip()
        if name not in CANNED_ACLS:
            raise S3Error("InvalidArgument", ArgumentName="x-amz-acl", ArgumentValue=name[:64])
        acl = canned_acl(name, owner_id, bucket.owner_id)
    elif grant_headers:
        acl = AccessControlList(owner_id, _grants_from_headers(grant_headers))
    else:
        acl = _acl_from_xml(body or b"", owner_id)
    block = bucket.effective_public_access_block
    refusal = acl_refusal(
        acl,
        bucket_owner_id=bucket.owner_id,
        acls_enabled=bucket.acls_enabled,
        block_public_acls=block is not None and block.block_public_acls,
    )
    if refusal == "owner-only":
        return None
    if refusal == "AccessControlListNotSupported" and creating_bucket:
        raise S3Error("InvalidBucketAclWithObjectOwnership")
    if refusal is not None:
        raise S3Error(refusal)
    return acl


def _require_acl_input(ctx: S3Context, body: bytes) -> None:
    """PutBucketAcl/PutObjectAcl must say what ACL to set, one way or another."""
    if "x-amz-acl" in ctx.headers or body.strip():
        return
    if any(name in _GRANT_HEADERS for name in ctx.headers):
        return
    raise S3Error("MissingSecurityHeader", MissingHeaderName="x-amz-acl")


def _grants_from_headers(headers: dict[str, str]) -> tuple[Grant, ...]:
    grants: list[Grant] = []
    for name, value in headers.items():
        permission = _GRANT_HEADERS[name]
        for item in value.split(","):
            match = _GRANTEE_RE.fullmatch(item)
            if match is None:
                raise S3Error("InvalidArgument", ArgumentName=name, ArgumentValue=item[:64])
            kind, quoted, bare = match.groups()
            grants.append(_grant(kind, quoted if quoted is not None else bare, permission))
    return tuple(grants)


def _grant(kind: str, grantee: str, permission: Permission) -> Grant:
    if kind == "emailAddress":
        raise S3Error(
            "UnresolvableGrantByEmailAddress",
            "The e-mail address you provided does not match any account on record.",
        )
    if kind == "id":
        if not _CANONICAL_ID_RE.fullmatch(grantee):
            raise S3Error("InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID")
        return Grant(GranteeType.CANONICAL_USER, grantee, permission)
    if not grantee.startswith("http://acs.amazonaws.com/groups/"):
        raise S3Error("InvalidArgument", "Invalid group uri", ArgumentName="Group/URI")
    return Grant(GranteeType.GROUP, grantee, permission)


def _acl_from_xml(body: bytes, owner_id: str) -> AccessControlList:
    root = parse_xml(body, "AccessControlPolicy")
    owners = children(root, "Owner")
    if owners and (child_text(owners[0], "ID") or "") != owner_id:
        raise S3Error("AccessDenied")  # AWS: an ACL cannot change the owner
    lists = children(root, "AccessControlList")
    grants: list[Grant] = []
    for grant in children(lists[0], "Grant") if lists else []:
        raw_permission = (child_text(grant, "Permission") or "").strip()
        try:
            permission = Permission(raw_permission)
        except ValueError as exc:
            raise S3Error("MalformedACLError") from exc
        grantees = children(grant, "Grantee")
        if len(grantees) != 1:
            raise S3Error("MalformedACLError")
        grants.append(_grant_from_xml(grantees[0], permission))
    return AccessControlList(owner_id, tuple(grants))


def _grant_from_xml(grantee: Element, permission: Permission) -> Grant:
    kind = grantee.get(_XSI, "")
    if kind == "CanonicalUser":
        return _grant("id", (child_text(grantee, "ID") or "").strip(), permission)
    if kind == "Group":
        return _grant("uri", (child_text(grantee, "URI") or "").strip(), permission)
    if kind == "AmazonCustomerByEmail":
        return _grant("emailAddress", "", permission)
    raise S3Error("MalformedACLError")


def _write_acl(xml: XmlWriter, acl: AccessControlList) -> None:
    write_owner(xml, acl.owner_id)
    xml.open("AccessControlList")
    for grant in acl.grants:
        xml.open("Grant")
        xml.raw(
            '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:type="{grant.grantee_type.value}">'
        )
        if grant.grantee_type is GranteeType.CANONICAL_USER:
            xml.element("ID", grant.grantee)
            xml.element("DisplayName", grant.grantee[:12])
        else:
            xml.element("URI", grant.grantee)
        xml.close("Grantee")
        xml.element("Permission", grant.permission.value)
        xml.close("Grant")
    xml.close("AccessControlList")


def _acl_response(acl: AccessControlList) -> Response:
    xml = XmlWriter("AccessControlPolicy")
    _write_acl(xml, acl)
    return xml_response(xml)


async def get_bucket_acl(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    # Enforced buckets still answer reads: the owner has full control, nobody else anything.
    acl = bucket.acl if bucket.acls_enabled and bucket.acl is not None else None
    return _acl_response(acl or AccessControlList.private(bucket.owner_id))


async def put_bucket_acl(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    body = await ctx.read_xml_body()
    acl = acl_from_request(ctx, bucket, owner_id=bucket.owner_id, body=body)
    _require_acl_input(ctx, body)
    await svc.objects.set_bucket_acl(ctx.bucket, acl)
    return Response()


async def get_object_acl(ctx: S3Context, svc: S3Services) -> Response:
    """The ACL of the object, or of the version named (decision 0099)."""
    bucket = await svc.objects.get_bucket(ctx.bucket)
    record = await read_version(ctx, svc)
    acl = record.acl if bucket.acls_enabled and record.acl is not None else None
    return _acl_response(acl or AccessControlList.private(record.owner_id))


async def put_object_acl(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    record = await read_version(ctx, svc)
    body = await ctx.read_xml_body()
    acl = acl_from_request(ctx, bucket, owner_id=record.owner_id, body=body)
    _require_acl_input(ctx, body)
    version_id = named_version_id(ctx, bucket)
    try:
        await svc.objects.set_object_acl(
            ctx.bucket,
            ctx.key,
            acl,
            version_id=version_id,
            read=record,
            notify=(bucket, event_source(ctx, "ObjectAcl:Put")),
        )
    except storage_errors.DeleteMarkerFound as found:
        raise delete_marker_not_allowed(ctx, found.marker) from None
    return Response()


# -- bucket policies -------------------------------------------------------------------------


def validate_bucket_policy(text: bytes, bucket: str) -> PolicyDocument:
    """Parse a bucket policy as S3 does: the policy grammar, at most 20 KiB, S3 actions only,
    and resources inside this bucket (``MalformedPolicy`` with AWS's messages otherwise)."""
    if not text.strip():
        raise S3Error(
            "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'"
        )
    try:
        policy = parse_policy(text, kind=PolicyKind.RESOURCE, max_size=S3_BUCKET_POLICY_MAX)
    except MalformedPolicy as exc:
        raise S3Error("MalformedPolicy", exc.message) from exc
    own = f"arn:aws:s3:::{bucket}"
    for statement in policy.statements:
        for action in statement.actions:
            if action != "*" and not action.lower().startswith("s3:"):
                raise S3Error("MalformedPolicy", "Policy has invalid action")
        for resource in statement.resources or ():
            if resource != own and not resource.startswith(own + "/"):
                raise S3Error("MalformedPolicy", "Policy has invalid resource")
    return policy


async def put_bucket_policy(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    body = await ctx.read_xml_body()
    policy = validate_bucket_policy(body, ctx.bucket)
    block = bucket.effective_public_access_block
    if block is not None and block.block_public_policy and is_public(policy):
        raise S3Error("AccessDenied")
    await svc.objects.set_bucket_policy(ctx.bucket, body.decode("utf-8"))
    return Response(status=204)


async def get_bucket_policy(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    if bucket.policy is None:
        raise S3Error("NoSuchBucketPolicy")
    return Response(headers=[("Content-Type", "application/json")], body=bucket.policy.encode())


async def delete_bucket_policy(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.get_bucket(ctx.bucket)
    await svc.objects.set_bucket_policy(ctx.bucket, None)
    return Response(status=204)


async def get_bucket_policy_status(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    if bucket.policy is None:
        raise S3Error("NoSuchBucketPolicy")
    public = is_public(load_policy(bucket.policy, kind=PolicyKind.RESOURCE))
    xml = XmlWriter("PolicyStatus")
    xml.element("IsPublic", public)
    return xml_response(xml)
