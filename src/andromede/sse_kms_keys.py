"""SSE-KMS's keys: the S3 path's view of the customer-managed keys (``kms.CustomerKeyService``).

Storage, S3 and key management are separate bounded contexts; this adapter, at the composition
root, is where SSE-KMS meets the KMS (the object path's data keys are ``object_keys``'s).

:class:`S3KmsKeys` checks the caller's right to use a key through the key policy and IAM, maps
the key errors to S3's (``KMS.NotFoundException``, ``KMS.DisabledException``,
``KMS.KMSInvalidStateException``, AccessDenied) and audits every use of a key from the S3 path.
As on AWS, a request that names no key uses the account's AWS-managed key ``alias/aws/s3``,
made on first use by the platform (``KeyManager: AWS``; its policy lets any principal of the
account use it through S3 — ``kms:ViaService`` — and nobody disable, delete or re-point it).
Keys made before this under the old default alias ``alias/s3/default`` stay ordinary customer
keys, still usable by name.

**The bucket's region** (decision 0142). S3 calls the KMS of the bucket's region, as on AWS:
each use is resolved by the KMS endpoint of that region (``CustomerKeyService.in_region``), so
a key id or alias name names that region's key or alias, a key or alias ARN of another region
is ``KMS.NotFoundException`` ("Invalid arn <region>"), ``alias/aws/s3`` is one key per account
*and* region, and ``kms:ViaService`` is ``s3.<bucket region>.amazonaws.com``. A multi-Region
key is usable in each region where it has a related key (its record there: its policy, its
state). A key already chosen — an object's stored ARN at a read, an upload's at each part —
is resolved in the region its ARN names: objects written before 0142 into a bucket of another
region than the default, under the default region's keys, stay readable.

:class:`ReplicaKmsKeys` seals S3 replicas under a rule's ``ReplicaKmsKeyID``, which must be a
key of the destination bucket's owner *and region*.

**Metering** (decision 0150). Each key use S3 sends to the key service on a customer's behalf
is a KMS request, as on AWS, where S3's GenerateDataKey and Decrypt calls are billed as KMS
requests to the account whose credentials made the S3 request: one ``kms.requests`` for the
S3 caller's account in the key's region, counted only once the use succeeded (a refused or
failed use is no request billed, as the KMS API does not bill 403s). A bucket-key memo hit
sends nothing to the key service, so it counts nothing: that is what S3 Bucket Keys are for.
Not counted: the platform's own making of ``alias/aws/s3`` and an operator's uses under an
access request (the operator's act, not the customer's). A replica's sealing is counted for
the replicating bucket's owner, as AWS bills the replication role's account, and so is the
replicator's read of a source version under a KMS key (its ``kms:Decrypt``). HEAD and
GetObjectAttributes use no key (they decrypt nothing, as on AWS). Each counted use
is audited with ``invoked_by`` ``s3.amazonaws.com``, CloudTrail's ``invokedBy`` for them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.http.requester import act_for
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CmkNotFound,
    CustomerKeyError,
    InvalidKeyArn,
)
from andromede.kms.keys_model import ALIAS_PREFIX, alias_arn, key_arn, parse_key_reference
from andromede.s3.errors import S3Error
from andromede.s3.handlers.encryption import KmsKey
from andromede.s3.request import S3Context
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import KmsKeyDisabled, KmsKeyUnusable

__all__ = ["AWS_MANAGED_S3_KEY_ALIAS", "ReplicaKmsKeys", "S3KmsKeys", "arn_region"]

AWS_MANAGED_S3_KEY_ALIAS = "alias/aws/s3"
_MEMO_SIZE = 10_000
_S3_SERVICE = "s3.amazonaws.com"
_KMS_REQUESTS = "kms.requests"
# The pair S3 binds an object's SSE-KMS data key to.
_S3_ARN_CONTEXT = "aws:s3:arn"


def arn_region(key_ref: str) -> str | None:
    """The region a key ARN or alias ARN names; None for a key id, an alias name or no ARN."""
    if not key_ref.startswith("arn:"):
        return None
    reference = parse_key_reference(key_ref)
    return None if reference is None else reference.region


class S3KmsKeys:
    """SSE-KMS keys for the S3 path (``s3.handlers.encryption.KmsKeyResolver``).

    Uses under an S3 Bucket Key are what make KMS calls rare: a successful check (key state,
    key policy and IAM, audited as one key use) is remembered for ``bucket_key_ttl`` seconds
    per caller, key, region, action, context and connection, as AWS S3 reuses a bucket key for
    a limited time without calling KMS. So disabling the key or revoking a grant reaches
    bucket-key objects within that time, not at once (without a bucket key: at once)."""

    def __init__(
        self,
        keys: CustomerKeyService,
        audit: AuditService,
        *,
        bucket_key_ttl: float = 300.0,
        max_remembered: int = _MEMO_SIZE,
        clock: Callable[[], float] = time.monotonic,
        billing: BillingService | None = None,
    ) -> None:
        self._keys = keys
        self._billing = billing
        self._regional: dict[str, CustomerKeyService] = {keys.region: keys}
        self._audit = audit
        self._bucket_key_ttl = bucket_key_ttl
        self._max_remembered = max_remembered
        self._clock = clock
        self._bucket_key_checks: dict[tuple[object, ...], tuple[float, KmsKey, bool]] = {}

    def _in(self, region: str) -> CustomerKeyService:
        """The KMS endpoint of ``region``: one view per region (bounded by the declared
        regions, which are the only ones a bucket can be in)."""
        found = self._regional.get(region)
        if found is None:
            found = self._regional[region] = self._keys.in_region(region)
        return found

    async def key_for_sse(
        self,
        ctx: S3Context,
        key_ref: str | None,
        context: Mapping[str, str],
        *,
        action: str,
        bucket_key: bool = False,
        owner: str | None = None,
        region: str | None = None,
    ) -> KmsKey:
        region = region or self._keys.region
        if key_ref is not None and owner is not None:
            key_ref = self._owner_qualified(key_ref, owner, region)
        remembered: tuple[object, ...] | None = None
        # An operator's decrypts under an access request are each checked and audited: no
        # bucket-key memo for them (decision 0114).
        if bucket_key and self._bucket_key_ttl > 0 and not ctx.principal.is_operator_access:
            remembered = (
                ctx.principal.arn,
                ctx.source_ip,
                ctx.secure,
                key_ref,
                region,
                action,
                tuple(sorted(context.items())),
            )
            hit = self._bucket_key_checks.get(remembered)
            if hit is not None and hit[0] > self._clock():
                if hit[2]:
                    act_for(ctx.principal.arn, ctx.request_id)
                return hit[1]
        found, external = await self._check(ctx, key_ref, context, action=action, region=region)
        if remembered is not None:
            if len(self._bucket_key_checks) >= self._max_remembered:
                self._bucket_key_checks.clear()
            self._bucket_key_checks[remembered] = (
                self._clock() + self._bucket_key_ttl,
                found,
                external,
            )
        return found

    @staticmethod
    def _owner_qualified(key_ref: str, owner: str, region: str) -> str:
        """A key id or alias name as the ARN it has in ``owner``'s account and the bucket's
        ``region``; an ARN as it is."""
        if key_ref.startswith("arn:"):
            return key_ref
        if key_ref.startswith(ALIAS_PREFIX):
            return alias_arn(region, owner, key_ref)
        return key_arn(region, owner, key_ref)

    @staticmethod
    def _names_aws_s3(key_ref: str, account: str, region: str) -> bool:
        """Whether ``key_ref`` is ``account``'s ``alias/aws/s3`` of ``region``, which S3
        makes at first use."""
        own = alias_arn(region, account, AWS_MANAGED_S3_KEY_ALIAS)
        return key_ref in (AWS_MANAGED_S3_KEY_ALIAS, own)

    async def _check(
        self,
        ctx: S3Context,
        key_ref: str | None,
        context: Mapping[str, str],
        *,
        action: str,
        region: str,
    ) -> tuple[KmsKey, bool]:
        """The key, and whether it is in an external key store: then the rest of the request
        acts for its caller (``http.requester``), whom the customer's proxy is told of at each
        use of the key's data keys. Only then: requests under other keys set nothing."""
        caller = self._caller(ctx, region)
        keys = self._in(region)
        try:
            named_region = None if key_ref is None else arn_region(key_ref)
            if named_region is not None and named_region != region:
                # S3 asks the KMS of the bucket's region, which has no key of another region.
                raise _OtherRegion(named_region)
            if key_ref is None or self._names_aws_s3(key_ref, caller.account_id, region):
                key_ref = await self._aws_managed_key(ctx, caller, keys)
            found = await keys.key_for_sse(caller, key_ref, context, action=action)
        except CustomerKeyError as exc:
            self._record(ctx, action, caller, Outcome.FAILURE, _error_name(exc), region)
            raise _s3_error(exc, key_ref) from None
        self._record(ctx, action, caller, Outcome.SUCCESS, None, region)
        if self._billing is not None and not ctx.principal.is_operator_access:
            # A KMS request the S3 caller's account pays, in the key's region (decision 0150).
            self._billing.count(caller.account_id, region, _KMS_REQUESTS)
        if found.external:
            act_for(ctx.principal.arn, ctx.request_id)
        return KmsKey(arn=found.arn, key_ring_id=found.key_ring_id), found.external

    async def _aws_managed_key(
        self, ctx: S3Context, caller: Caller, keys: CustomerKeyService
    ) -> str:
        """The ARN of the account's ``aws/s3`` key of the bucket's region; its making is
        audited (by the platform, on behalf of the S3 caller)."""
        key, made = await keys.aws_managed_key(caller.account_id, "s3")
        if made:
            platform = Caller(caller.account_id, _S3_SERVICE, None, ctx.source_ip)
            for action in ("kms:CreateKey", "kms:CreateAlias"):
                self._record(ctx, action, platform, Outcome.SUCCESS, None, keys.region, key.arn)
        return key.arn

    @staticmethod
    def _caller(ctx: S3Context, region: str) -> Caller:
        principal = ctx.principal
        if principal.tenant_id is None:  # anonymous callers and operators hold no tenant keys
            raise S3Error("AccessDenied")
        return Caller(
            account_id=principal.tenant_id,
            arn=principal.arn,
            principal=principal,
            source_ip=ctx.source_ip,
            secure=ctx.secure,
            via_service=f"s3.{region}.amazonaws.com",
        )

    def _record(
        self,
        ctx: S3Context,
        action: str,
        caller: Caller,
        outcome: Outcome,
        error: str | None,
        region: str,
        resource_arn: str | None = None,
    ) -> None:
        resources = [resource_arn] if resource_arn else caller.resources or ["*"]
        details = {"via": "s3", "invoked_by": _S3_SERVICE, "region": region}
        if ctx.principal.is_operator_access:  # which operator, under which approval (0114)
            details.update(ctx.principal.audit_details)
        if caller.arn != ctx.principal.arn:  # the aws/s3 key, made on behalf of the S3 caller
            details["on_behalf_of"] = ctx.principal.arn
        if error is not None:
            details["error"] = error
        for resource in resources:
            self._audit.record(
                request_id=ctx.request_id,
                tenant_id=caller.account_id,
                principal=caller.arn,
                action=action,
                resource=resource,
                outcome=outcome,
                details=details,
            )


class ReplicaKmsKeys:
    """S3 replication's replica keys (``storage.replication.ReplicaKeys``) over the
    customer-managed keys: the rule's ``ReplicaKmsKeyID`` (a key ARN or an alias ARN, resolved
    at each copy) must be a key of the destination bucket's owner and region, and usable. The
    caller who put the configuration was checked for the key then (``kms:DescribeKey``, as for
    a bucket's default key); each copy is a use by the platform for the owner, audited as S3's
    ``kms:GenerateDataKey`` on the key, failures included, with the replica's ARN. Reading the
    source version decrypts it under its own key: ``kms:Decrypt``, audited and metered the
    same way for the source bucket's owner (decision 0150's addendum)."""

    def __init__(
        self,
        keys: CustomerKeyService,
        audit: AuditService | None,
        billing: BillingService | None = None,
    ) -> None:
        self._keys = keys
        self._audit = audit
        self._billing = billing

    async def replica_encryption(
        self,
        tenant_id: str,
        key_ref: str,
        *,
        bucket: str,
        key: str,
        dual_layer: bool,
        region: str,
        payer: str | None = None,
    ) -> ObjectEncryption:
        s3_arn = f"arn:aws:s3:::{bucket}/{key}"
        reference = parse_key_reference(key_ref)
        try:
            if reference is None or reference.account != tenant_id:
                # Another account's key is never used without a caller its policy admits.
                raise CmkNotFound(f"Key '{key_ref[:256]}' does not exist")
            if reference.region != region:
                # The replica is sealed by the KMS of the destination's region (decision 0142).
                raise _OtherRegion(reference.region or "")
            found = await self._keys.key_for_service_use(key_ref, alias_arn=True)
        except CustomerKeyError as exc:
            self._record(tenant_id, key_ref, s3_arn, _error_name(exc), region)
            if isinstance(exc, CmkDisabled):
                raise KmsKeyDisabled(str(exc)) from None
            raise KmsKeyUnusable(
                f"The replica KMS key cannot be used: {_error_name(exc)}"
            ) from None
        self._record(tenant_id, found.arn, s3_arn, None, region)
        if self._billing is not None:
            # The replicating bucket's owner pays, as AWS bills the replication role's account
            # for S3's KMS calls (decision 0150); the key's owner when it is not known.
            self._billing.count(payer or tenant_id, region, _KMS_REQUESTS)
        return ObjectEncryption(
            tenant_id=tenant_id,
            kms_key_arn=found.arn,
            kms_key_ring=found.key_ring_id,
            kms_context={_S3_ARN_CONTEXT: s3_arn},
            dual_layer=dual_layer,
        )

    async def source_decryption(
        self, payer: str | None, key_arn: str, *, bucket: str, key: str
    ) -> None:
        s3_arn = f"arn:aws:s3:::{bucket}/{key}"
        reference = parse_key_reference(key_arn)
        region = (reference.region if reference is not None else None) or self._keys.region
        tenant_id = payer or (reference.account if reference is not None else None)
        try:
            # The key the version was written under, whosever it is (a grant may have let the
            # writer use another account's key): the platform's use for the bucket's owner,
            # as the replica's sealing is, under the configuration its owner put.
            await self._keys.key_for_service_use(key_arn)
        except CustomerKeyError as exc:
            self._record(tenant_id, key_arn, s3_arn, _error_name(exc), region, source=True)
            if isinstance(exc, CmkDisabled):
                raise KmsKeyDisabled(str(exc)) from None
            raise KmsKeyUnusable(
                f"The source object's KMS key cannot be used: {_error_name(exc)}"
            ) from None
        self._record(tenant_id, key_arn, s3_arn, None, region, source=True)
        if self._billing is not None and tenant_id is not None:
            self._billing.count(tenant_id, region, _KMS_REQUESTS)

    def _record(
        self,
        tenant_id: str | None,
        resource: str,
        s3_arn: str,
        error: str | None,
        region: str,
        *,
        source: bool = False,
    ) -> None:
        if self._audit is None:
            return
        details = {
            "via": "s3",
            "invoked_by": _S3_SERVICE,
            "replication": "source" if source else "replica",
            "region": region,
            _S3_ARN_CONTEXT: s3_arn,
        }
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=tenant_id,
            principal=_S3_SERVICE,
            action="kms:Decrypt" if source else "kms:GenerateDataKey",
            resource=resource[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )


class _OtherRegion(CmkNotFound):
    """A key or alias ARN of another region than the bucket's: not found by the KMS of the
    bucket's region. S3 answers it ``KMS.NotFoundException`` "Invalid arn <region>"."""

    def __init__(self, region: str) -> None:
        super().__init__(f"Invalid arn {region[:64]}")


def _error_name(exc: CustomerKeyError) -> str:
    """The audited error: a key of another region is the KMS's NotFound, as any missing key."""
    return CmkNotFound.__name__ if isinstance(exc, _OtherRegion) else type(exc).__name__


def _s3_error(exc: CustomerKeyError, key_ref: str | None) -> S3Error:
    if isinstance(exc, CmkAccessDenied):
        return S3Error("AccessDenied")
    if isinstance(exc, CmkDisabled):
        return S3Error("KMS.DisabledException", str(exc))
    if isinstance(exc, CmkInvalidState):
        return S3Error("KMS.KMSInvalidStateException", str(exc))
    if isinstance(exc, _OtherRegion):
        return S3Error("KMS.NotFoundException", str(exc))
    if isinstance(exc, InvalidKeyArn | CmkNotFound):
        return S3Error("KMS.NotFoundException", f"Invalid keyId {(key_ref or '')[:256]}")
    return S3Error("InvalidArgument", str(exc))
