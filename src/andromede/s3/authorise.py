"""S3 authorisation: every operation through the IAM policy engine, as AWS evaluates it.

For one request: the caller's identity policies (none for root and anonymous), the bucket's
policy, and — where Object Ownership lets them count — the bucket's or object's ACL, under the
bucket's Block Public Access switches. Explicit deny wins; within the bucket owner's account an
identity allow or a policy/ACL allow suffices; another account needs both sides; otherwise
implicit deny (``andromede.iam.policy.evaluate``). A denial is ``AccessDenied`` and names no
policy, as on AWS. An object's tags (``s3:ExistingObjectTag/<key>``) are opened for the engine
only when a policy of the request tests them (decision 0068); an ABAC bucket's tags
(``aws:ResourceTag/<key>``, decision 0418) come with the bucket's row on every request.

Four AWS rules sit outside the engine and are applied here: the bucket owner's root user may
always read, replace and delete the bucket policy (so a policy cannot lock its owner out), and
no other account may, whatever the policy grants it (``MethodNotAllowed``, as the
Get/Put/DeleteBucketPolicy references say: a grantee cannot rewrite the policy that lets it in);
RestrictPublicBuckets limits a public bucket policy to callers of the owner's account; and an
object another account owns (ObjectWriter, BucketOwnerPreferred) is that account's resource
("How Amazon S3 authorizes a request for an object operation", object context): reading it or
its ACL takes its object ACL — the bucket owner included, unless the writer granted it — and
the bucket policy, which applies only to objects the bucket owner owns, can still deny but no
longer grant.

A request through an access point (decision 0157) must moreover be allowed on the access
point's resource (``arn:aws:s3:<region>:<account>:accesspoint/<name>[/object/<key>]``) by the
caller's policies and the access point's policy, as a resource of the access point's account;
the bucket's side then sees ``s3:DataAccessPointArn``, ``s3:DataAccessPointAccount`` and
``s3:AccessPointNetworkOrigin``, so a bucket policy may delegate to its access points.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl

from andromede.iam.endpoint_origin import origin_for, origin_keys
from andromede.iam.model import Principal, PrincipalPolicies, canonical_id
from andromede.iam.policy import (
    ContextValue,
    Effect,
    PolicyDocument,
    PolicyKind,
    RequestContext,
    evaluate,
    evaluate_gate,
    is_public,
    load_policy,
)
from andromede.iam.policy_context import loaded_policies, principal_context, principal_keys
from andromede.s3.errors import S3Error
from andromede.s3.lock_keys import ALL_KEYS, HOLD_KEYS, RETENTION_KEYS, header_lock_keys
from andromede.s3.operations import S3Operation
from andromede.storage.acl import AccessControlList, Permission
from andromede.storage.model import AccessPointUse, Bucket, ObjectRecord

__all__ = [
    "IdentityPolicies",
    "OperatorAccessCheck",
    "S3Authoriser",
    "bucket_tag_keys",
    "request_condition_keys",
    "request_object_tag_keys",
    "version_action",
]

# The identity-policy and permissions-boundary documents of a principal, from the identity
# service.
IdentityPolicies = Callable[[Principal], Awaitable[PrincipalPolicies]]
# Whether the approved access request behind an operator's credentials grants an action on a
# bucket (None: no bucket) of the principal's tenant now (audit/access_service.py, 0107).
OperatorAccessCheck = Callable[[Principal, str, str | None], Awaitable[bool]]

_O = S3Operation
# Which ACL permission stands for an operation, and on what (AWS's "ACL permission mapping").
_BUCKET_ACL: Final[Mapping[S3Operation, Permission]] = {
    _O.HeadBucket: Permission.READ,
    _O.ListObjects: Permission.READ,
    _O.ListObjectsV2: Permission.READ,
    _O.ListMultipartUploads: Permission.READ,
    _O.PutObject: Permission.WRITE,
    _O.CopyObject: Permission.WRITE,
    _O.DeleteObject: Permission.WRITE,
    _O.DeleteObjects: Permission.WRITE,
    _O.CreateMultipartUpload: Permission.WRITE,
    _O.UploadPart: Permission.WRITE,
    _O.UploadPartCopy: Permission.WRITE,
    _O.CompleteMultipartUpload: Permission.WRITE,
    _O.AbortMultipartUpload: Permission.WRITE,
    _O.ListParts: Permission.WRITE,
    _O.GetBucketAcl: Permission.READ_ACP,
    _O.PutBucketAcl: Permission.WRITE_ACP,
}
_OBJECT_ACL: Final[Mapping[S3Operation, Permission]] = {
    _O.GetObject: Permission.READ,
    _O.HeadObject: Permission.READ,
    _O.GetObjectAcl: Permission.READ_ACP,
    _O.PutObjectAcl: Permission.WRITE_ACP,
}
_POLICY_OPERATIONS: Final = frozenset(
    {_O.GetBucketPolicy, _O.PutBucketPolicy, _O.DeleteBucketPolicy}
)
_LIST_KEYS: Final = (("prefix", "s3:prefix"), ("delimiter", "s3:delimiter"))
# The owner account of an object owned by neither the bucket owner nor the caller: an object
# records only its owner's canonical id, and the engine only asks whether the accounts match.
_FOREIGN_OWNER: Final = "another-account"


# The action a request naming a version (``?versionId=``, "null" included) needs instead of
# its operation's: AWS's "if you include a versionId ... you must have s3:GetObjectVersion ...
# s3:GetObject is not required" (GetObject's reference), and alike for the others. So the right
# to read or delete the current object is not the right to read or destroy its history.
_VERSION_ACTIONS: Final[Mapping[S3Operation, str]] = {
    _O.GetObject: "s3:GetObjectVersion",
    _O.HeadObject: "s3:GetObjectVersion",
    _O.DeleteObject: "s3:DeleteObjectVersion",
    _O.GetObjectAcl: "s3:GetObjectVersionAcl",
    _O.PutObjectAcl: "s3:PutObjectVersionAcl",
    _O.GetObjectTagging: "s3:GetObjectVersionTagging",
    _O.PutObjectTagging: "s3:PutObjectVersionTagging",
    _O.DeleteObjectTagging: "s3:DeleteObjectVersionTagging",
    _O.GetObjectAttributes: "s3:GetObjectVersionAttributes",
}


def version_action(operation: S3Operation, query: Mapping[str, str]) -> str | None:
    """The IAM action ``operation`` needs when the request names a version, else None."""
    if "versionId" not in query:
        return None
    return _VERSION_ACTIONS.get(operation)


def request_condition_keys(
    operation: S3Operation, query: Mapping[str, str], headers: Mapping[str, str]
) -> dict[str, ContextValue]:
    """The S3 condition keys a request carries (``s3:prefix``, ``s3:x-amz-acl``…)."""
    keys: dict[str, ContextValue] = {}
    if operation in (_O.ListObjects, _O.ListObjectsV2):
        for parameter, key in _LIST_KEYS:
            if parameter in query:
                keys[key] = query[parameter]
        if "max-keys" in query and query["max-keys"].isdigit():
            keys["s3:max-keys"] = int(query["max-keys"])
    for header in (
        "x-amz-acl",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
        # s3:if-match / s3:if-none-match: a policy may require conditional writes and deletes
        # (a Null condition on them), as AWS documents.
        "if-match",
        "if-none-match",
    ):
        value = headers.get(header)
        if value is not None:
            keys[f"s3:{header}"] = value.strip()
    version_id = query.get("versionId")
    if version_id is not None:
        keys["s3:versionid"] = version_id
    tagging = headers.get("x-amz-tagging")
    if tagging is not None and operation in _TAGS_ON_WRITE:
        # Read leniently here: a malformed header is refused by the handler, with its reason.
        keys.update(request_object_tag_keys(parse_qsl(tagging, keep_blank_values=True)))
    # Whether the write creates the object (false for the steps of a multipart upload, which
    # take no conditional header): a policy requiring conditional writes exempts those by it.
    if operation in _CREATES_OBJECT:
        keys["s3:ObjectCreationOperation"] = True
    elif operation in _UPLOAD_STEPS:
        keys["s3:ObjectCreationOperation"] = False
    lock_keys = _LOCK_KEYS_OF.get(operation)
    if lock_keys is not None and (
        "x-amz-object-lock-mode" in headers
        or "x-amz-object-lock-retain-until-date" in headers
        or "x-amz-object-lock-legal-hold" in headers
    ):
        keys.update(header_lock_keys(headers, datetime.now(UTC), lock_keys))
    return keys


def request_object_tag_keys(tags: Sequence[tuple[str, str]]) -> dict[str, ContextValue]:
    """``s3:RequestObjectTag/<key>`` and ``s3:RequestObjectTagKeys``: the tags a write sets, for
    policies that govern them (S3's names for IAM's aws:RequestTag and aws:TagKeys)."""
    keys: dict[str, ContextValue] = {f"s3:RequestObjectTag/{key}": value for key, value in tags}
    keys["s3:RequestObjectTagKeys"] = [key for key, _ in tags]
    return keys


def bucket_tag_keys(tags: Sequence[tuple[str, str]]) -> dict[str, ContextValue]:
    """An ABAC bucket's tags as its requests carry them (decision 0418): ``aws:ResourceTag/<key>``,
    and S3's ``s3:BucketTag/<key>``, which CreateBucket's reference names beside it."""
    keys: dict[str, ContextValue] = {}
    for key, value in tags:
        keys[f"aws:ResourceTag/{key}"] = value
        keys[f"s3:BucketTag/{key}"] = value
    return keys


def _existing_object_tag_keys(record: ObjectRecord | None) -> dict[str, ContextValue]:
    if record is None:
        return {}
    return {f"s3:ExistingObjectTag/{key}": value for key, value in record.headers.tags}


def _mentions_existing_tags(policy: PolicyDocument) -> bool:
    def scan() -> bool:
        return any(
            clause.key.lower().startswith(_EXISTING_TAG_PREFIX)
            for statement in policy.statements
            for clause in statement.conditions
        )

    return policy.memoised("andromede.s3.mentions-existing-object-tag", scan)


_EXISTING_TAG_PREFIX: Final = "s3:existingobjecttag/"
# The operations whose request may carry x-amz-tagging.
_TAGS_ON_WRITE: Final = frozenset(
    {_O.PutObject, _O.CopyObject, _O.CreateMultipartUpload, _O.PutObjectTagging}
)
# The operations on an existing object for which AWS sets s3:ExistingObjectTag/<key> (the
# Service Authorization Reference's list, as far as they are implemented here).
_EXISTING_TAG_OPERATIONS: Final = frozenset(
    {
        _O.GetObject,
        _O.HeadObject,
        _O.GetObjectAcl,
        _O.PutObjectAcl,
        _O.GetObjectTagging,
        _O.PutObjectTagging,
        _O.DeleteObjectTagging,
    }
)
# The Object Lock keys each operation's lock headers give (s3/lock_keys.py, decision 0104):
# the writes' (s3:PutObject) all four; the permissions a write's lock headers need besides,
# checked as PutObjectRetention / PutObjectLegalHold, theirs. Those two calls' own bodies give
# theirs in their handlers.
_LOCK_KEYS_OF: Final[Mapping[S3Operation, frozenset[str]]] = {
    _O.PutObject: ALL_KEYS,
    _O.CopyObject: ALL_KEYS,
    _O.CreateMultipartUpload: ALL_KEYS,
    _O.PutObjectRetention: RETENTION_KEYS,
    _O.PutObjectLegalHold: HOLD_KEYS,
}
_CREATES_OBJECT: Final = frozenset({_O.PutObject, _O.CopyObject, _O.CompleteMultipartUpload})
_UPLOAD_STEPS: Final = frozenset({_O.CreateMultipartUpload, _O.UploadPart, _O.UploadPartCopy})


# Parsed bucket policies by text, for the one look-up every request of a bucket with a policy
# makes: a plain dict keyed by the text alone (whose hash the string keeps, the store handing on
# the same text object while it is unchanged) rather than load_policy's keyword-argument cache
# key with its enum. load_policy stays the parser and its cache. Bounded: the oldest goes first,
# popped from an OrderedDict (a dict's first key is found by scanning past the slots deleted
# before it: decision 0039).
_BUCKET_POLICIES_SIZE = 512
_bucket_policies: OrderedDict[str, PolicyDocument] = OrderedDict()


class S3Authoriser:
    def __init__(
        self,
        identity_policies: IdentityPolicies,
        region: str,
        operator_access: OperatorAccessCheck | None = None,
    ) -> None:
        self._identity_policies = identity_policies
        self._region = region
        self._operator_access = operator_access

    async def authorise(
        self,
        principal: Principal,
        operation: S3Operation,
        *,
        bucket: Bucket | None,
        bucket_name: str | None,
        key: str | None,
        keys: Mapping[str, ContextValue],
        source_ip: str | None,
        secure: bool,
        load_object: Callable[[], Awaitable[ObjectRecord | None]] | None = None,
        action: str | None = None,
    ) -> None:
        """AccessDenied unless the policies allow ``operation`` (its IAM action, or ``action``
        when the request names a version: :func:`version_action`) on the resource.

        ``bucket`` is None for ListBuckets and CreateBucket, whose only policies are the
        caller's. ``load_object`` fetches the object when its ACL may count.
        """
        if principal.is_operator:
            # Operators manage the platform and read no tenant data (operator access to tenant
            # data is the customer-approved path below).
            raise S3Error("AccessDenied")
        if principal.is_operator_access:
            await self._authorise_operator_access(principal, action or operation.action, bucket)
            return
        # aws:RequestedRegion: a bucket's requests are signed for its region (s3/app.py checks).
        region = bucket.region if bucket is not None else self._region
        policies = await self._identity_policies(principal)
        if policies.tags or policies.source_identity:  # aws:PrincipalTag, aws:SourceIdentity
            keys = {**keys, **principal_keys(policies)}
        origin = origin_for("s3")
        if origin is not None:
            # Through a VPC endpoint (decision 0160): its keys, and no aws:SourceIp.
            keys, source_ip = {**keys, **origin_keys(origin)}, None
        context = self._context(
            principal, action or operation.action, bucket_name, key, keys, source_ip, secure, region
        )
        if (
            origin is not None
            and not evaluate_gate(
                context, load_policy(origin.policy, kind=PolicyKind.RESOURCE)
            ).allowed
        ):
            raise S3Error("AccessDenied")  # the endpoint's policy does not allow it
        identity, boundary, session = loaded_policies(policies)
        if bucket is None:
            # A root user acts for its own account: the engine allows it with no policy.
            decision = evaluate(
                context,
                identity_policies=identity,
                permissions_boundary=boundary,
                session_policy=session,
            )
            if not decision.allowed:
                raise S3Error("AccessDenied")
            return
        caller_account = principal.tenant_id
        owner = bucket.tenant_id
        if operation in _POLICY_OPERATIONS and principal.is_root and caller_account == owner:
            return  # the owner's root can always manage the bucket policy (no lock-out)
        resource_policy = self._bucket_policy(bucket, caller_account)
        point = bucket.access_point
        point_policy = None
        if point is not None:
            # Through an access point (decision 0157): the s3:DataAccessPoint* keys, for the
            # bucket's policy to delegate on, and the access point's own policy.
            if point.vpc_id is not None and (origin is None or origin.vpc_id != point.vpc_id):
                # A VPC-only access point (decision 0157's addendum): through an endpoint of
                # its VPC only, whoever asks (AWS: AccessDenied).
                raise S3Error("AccessDenied")
            context = dataclasses.replace(context, keys={**context.keys, **_point_keys(point)})
            point_policy = _access_point_policy(point, caller_account)
        record = None
        loaded = False
        if operation in _OBJECT_ACL and bucket.acls_enabled and load_object is not None:
            record, loaded = await load_object(), True
        if (
            operation in _EXISTING_TAG_OPERATIONS
            and load_object is not None
            and (identity or boundary or session or resource_policy or point_policy)
            and any(
                _mentions_existing_tags(policy)
                for policy in (*identity, boundary, session, resource_policy, point_policy)
                if policy is not None
            )
        ):
            # s3:ExistingObjectTag/<key>: the object's tags, opened only when a policy tests
            # them (a Deny keyed on a tag must not find the key missing and fail open).
            if not loaded:
                record = await load_object()
            existing = _existing_object_tag_keys(record)
            if existing:
                context = dataclasses.replace(context, keys={**context.keys, **existing})
        resource_account: str | None = owner
        if record is not None and record.owner_id != bucket.owner_id:
            # Object context: the object's owner, not the bucket's, holds it.
            if principal.tenant_id is not None and canonical_id(principal.tenant_id) == (
                record.owner_id
            ):
                resource_account = principal.tenant_id
            else:
                resource_account = _FOREIGN_OWNER
            if resource_policy is not None:
                resource_policy = _denies_only(resource_policy)
        if point is not None:
            # The access point's side: the caller's policies and the access point's on the
            # access point's resource, as for any resource of the access point's account.
            point_context = dataclasses.replace(
                context, resource=point.arn if key is None else f"{point.arn}/object/{key}"
            )
            if (
                origin is not None
                and not evaluate_gate(
                    point_context, load_policy(origin.policy, kind=PolicyKind.RESOURCE)
                ).allowed
            ):
                # AWS: through an endpoint, its policy must allow the access point as well as
                # the bucket (decision 0157's addendum).
                raise S3Error("AccessDenied")
            decision = evaluate(
                point_context,
                identity_policies=identity,
                permissions_boundary=boundary,
                session_policy=session,
                resource_policy=point_policy,
                resource_account=point.account,
            )
            if not decision.allowed:
                raise S3Error("AccessDenied")
        if bucket.abac_tags:
            # ABAC (decision 0418): the bucket's tags, for the bucket's side only — through an
            # access point, its own side was decided above without them (AWS: the access
            # point's aws:ResourceTag is the access point's tags).
            context = dataclasses.replace(
                context, keys={**context.keys, **bucket_tag_keys(bucket.abac_tags)}
            )
        acl_allows = self._acl_allows(principal, operation, bucket, record)
        decision = evaluate(
            context,
            identity_policies=identity,
            permissions_boundary=boundary,
            session_policy=session,
            resource_policy=resource_policy,
            resource_account=resource_account,
            acl_allows=acl_allows,
        )
        if not decision.allowed:
            raise S3Error("AccessDenied")
        if operation in _POLICY_OPERATIONS and caller_account != owner:
            raise S3Error("MethodNotAllowed")

    async def authorise_kms_read(self, principal: Principal, bucket_name: str) -> None:
        """Before an SSE-KMS object's key is asked for ``kms:Decrypt``: an operator under
        an access request needs the request to include SSE-KMS objects of that bucket (the
        tenant's consent, decision 0114; the key's policy is KMS's to check after). Everyone
        else is KMS's alone to decide. The object's bucket was authorised as the tenant's."""
        if not principal.is_operator_access:
            return
        if self._operator_access is None or not await self._operator_access(
            principal, "kms:Decrypt", bucket_name
        ):
            raise S3Error("AccessDenied")

    async def _authorise_operator_access(
        self, principal: Principal, action: str, bucket: Bucket | None
    ) -> None:
        """An operator under an approved request (decision 0107): the request's scope alone
        decides — the tenant approved it explicitly — and only in the tenant's own buckets.
        The tenant's policies and ACLs, written for its own principals, neither add nor
        remove; the request's state is read again on every request (a revocation is
        immediate)."""
        if self._operator_access is None or (
            bucket is not None and bucket.tenant_id != principal.tenant_id
        ):
            raise S3Error("AccessDenied")
        name = bucket.name if bucket is not None else None
        if not await self._operator_access(principal, action, name):
            raise S3Error("AccessDenied")

    async def authorise_pass_role(
        self, principal: Principal, role_arn: str, *, source_ip: str | None, secure: bool
    ) -> None:
        """AccessDenied unless the caller may hand ``role_arn`` to S3 (``iam:PassRole`` with
        ``iam:PassedToService`` = ``s3.amazonaws.com``), as AWS asks of whoever puts a
        replication configuration: a user allowed s3:PutReplicationConfiguration may not
        make S3 act as a role its own policies do not let it pass. Decided on the caller's
        identity policies, boundary and session policy; a tenant's root passes its roles."""
        policies = await self._identity_policies(principal)
        keys: dict[str, ContextValue] = {"iam:PassedToService": "s3.amazonaws.com"}
        if policies.tags or policies.source_identity:
            keys.update(principal_keys(policies))
        context = principal_context(
            principal,
            action="iam:PassRole",
            resource=role_arn,
            source_ip=source_ip,
            secure=secure,
            region=self._region,
            keys=keys,
        )
        identity, boundary, session = loaded_policies(policies)
        decision = evaluate(
            context,
            identity_policies=identity,
            permissions_boundary=boundary,
            session_policy=session,
        )
        if not decision.allowed:
            raise S3Error(
                "AccessDenied",
                f"User: {principal.arn} is not authorized to perform: iam:PassRole on resource:"
                f" {role_arn}",
            )

    def _context(
        self,
        principal: Principal,
        action: str,
        bucket_name: str | None,
        key: str | None,
        keys: Mapping[str, ContextValue],
        source_ip: str | None,
        secure: bool,
        region: str,
    ) -> RequestContext:
        if bucket_name is None:
            resource = "*"
        elif key is None:
            resource = f"arn:aws:s3:::{bucket_name}"
        else:
            resource = f"arn:aws:s3:::{bucket_name}/{key}"
        return principal_context(
            principal,
            action=action,
            resource=resource,
            source_ip=source_ip,
            secure=secure,
            region=region,
            keys=keys,
        )

    @staticmethod
    def _bucket_policy(bucket: Bucket, caller_account: str | None) -> PolicyDocument | None:
        if bucket.policy is None:
            return None
        policy = _bucket_policies.get(bucket.policy)
        if policy is None:
            policy = load_policy(bucket.policy, kind=PolicyKind.RESOURCE)
            if len(_bucket_policies) >= _BUCKET_POLICIES_SIZE:
                _bucket_policies.popitem(last=False)
            _bucket_policies[bucket.policy] = policy
        block = bucket.effective_public_access_block
        if (
            block is not None
            and block.restrict_public_buckets
            and caller_account != bucket.tenant_id
            and is_public(policy)
        ):
            # RestrictPublicBuckets: a public policy grants only the owner's account. Its deny
            # statements still count, so keep them by evaluating nothing else from it.
            return _denies_only(policy)
        return policy

    @staticmethod
    def _acl_allows(
        principal: Principal,
        operation: S3Operation,
        bucket: Bucket,
        record: ObjectRecord | None,
    ) -> bool:
        if not bucket.acls_enabled:
            return False
        block = bucket.effective_public_access_block
        ignore_public = block is not None and block.ignore_public_acls
        caller = canonical_id(principal.tenant_id) if principal.tenant_id else None
        permission = _BUCKET_ACL.get(operation)
        if permission is not None:
            acl = bucket.acl or AccessControlList.private(bucket.owner_id)
            return acl.grants_permission(caller, permission, ignore_public=ignore_public)
        permission = _OBJECT_ACL.get(operation)
        if permission is None or record is None:
            return False
        acl = record.acl or AccessControlList.private(record.owner_id)
        return acl.grants_permission(caller, permission, ignore_public=ignore_public)


def _point_keys(point: AccessPointUse) -> dict[str, ContextValue]:
    return {
        "s3:DataAccessPointArn": point.arn,
        "s3:DataAccessPointAccount": point.account,
        "s3:AccessPointNetworkOrigin": "Internet" if point.vpc_id is None else "VPC",
    }


def _access_point_policy(
    point: AccessPointUse, caller_account: str | None
) -> PolicyDocument | None:
    """The access point's policy, its Allow statements dropped for other accounts when it is
    public and the access point's (or its bucket's, its account's) RestrictPublicBuckets is on."""
    if point.policy is None:
        return None
    policy = load_policy(point.policy, kind=PolicyKind.RESOURCE)
    if (
        point.public_access_block.restrict_public_buckets
        and caller_account != point.account
        and is_public(policy)
    ):
        return _denies_only(policy)
    return policy


def _denies_only(policy: PolicyDocument) -> PolicyDocument:
    """The policy reduced to its Deny statements (memoised on the parsed document)."""

    def reduce() -> PolicyDocument:
        denies = tuple(s for s in policy.statements if s.effect is Effect.DENY)
        return PolicyDocument(policy.version, policy.id, policy.kind, denies)

    return policy.memoised("andromede.s3.deny-only", reduce)
