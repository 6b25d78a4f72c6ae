"""Authorisation of SQS calls, and of S3's bucket events into a queue.

A call on a queue is decided as AWS decides it within one account: the caller's identity
policies and the queue's ``Policy`` (a resource policy, the queue's account the resource's),
either allowing, an explicit deny in any winning; the tenant root acts for its own account
unopposed. A queue is only ever reached in the caller's own account (a URL naming another
answers QueueDoesNotExist), so the root's freedom never reaches another tenant.

Through an Interface VPC endpoint to SQS (decision 0174) the endpoint's policy must allow the
call too, and the queue's and the caller's policies see ``aws:SourceVpce``, ``aws:SourceVpc``
and ``aws:VpcSourceIp`` (``principal_context``), not ``aws:SourceIp``.

S3 delivering a bucket's events is the service principal ``s3.amazonaws.com`` asking
``sqs:SendMessage`` on the queue, with ``aws:SourceArn`` the bucket's ARN and
``aws:SourceAccount`` the bucket owner's account: only the queue's policy can allow it, as on
AWS ("Unable to validate the following destination configurations" otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal
from andromede.iam.policy import (
    MalformedPolicy,
    PolicyKind,
    load_policy,
    parse_policy,
)
from andromede.iam.policy.service_grants import service_may
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.queues.errors import InvalidAttributeValue
from andromede.queues.model import Queue
from andromede.sqsapi.errors import SqsWireError

__all__ = ["S3_PRINCIPAL", "KeyUser", "SqsAuthoriser", "check_policy", "s3_may_send"]

S3_PRINCIPAL = "s3.amazonaws.com"


@dataclass(frozen=True, slots=True)
class KeyUser:
    """Who a send or receive uses a queue's KMS key for (decision 0165): the request's
    principal, where it came from and the request's id, for the key policy's conditions and
    the key use's audit record. The queue service hands it untouched to the KMS sealer."""

    principal: Principal
    source_ip: str | None
    secure: bool
    request_id: str


def check_policy(text: str) -> None:
    """InvalidAttributeValue for a Policy that is no valid resource policy."""
    if not text:
        return
    try:
        parse_policy(text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise InvalidAttributeValue(f"Invalid value for the parameter Policy: {exc}") from exc


def s3_may_send(queue: Queue, bucket_arn: str, bucket_account: str) -> bool:
    """Whether the queue's policy lets S3 send it the events of ``bucket_arn``."""
    return service_may(
        queue.attributes.get("Policy"),
        service=S3_PRINCIPAL,
        action="sqs:SendMessage",
        resource=queue.arn,
        resource_account=queue.tenant_id,
        source_arn=bucket_arn,
        source_account=bucket_account,
        region=queue.region,
    )


class SqsAuthoriser:
    def __init__(self, identity: IdentityService, region: str) -> None:
        self._identity = identity
        self._region = region

    async def authorise(
        self,
        principal: Principal,
        action: str,
        resource: str,
        queue: Queue | None,
        *,
        source_ip: str | None,
        secure: bool,
    ) -> None:
        """AccessDenied unless ``principal`` may do ``action`` on ``resource`` (a queue's ARN,
        or ``*``), its identity policies or ``queue``'s policy allowing."""
        if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
            raise _denied(action, resource)
        policies = await self._identity.policies_for(principal)
        context = principal_context(
            principal,
            action=action,
            resource=resource,
            source_ip=source_ip,
            secure=secure,
            region=self._region,
            keys=principal_keys(policies),
        )
        if endpoint_refusal(context) is not None:
            raise _denied(action, resource)  # the SQS endpoint's policy (decision 0174)
        text = None if queue is None else queue.attributes.get("Policy")
        if not policies_allow(
            context,
            policies,
            resource_policy=None if not text else load_policy(text, kind=PolicyKind.RESOURCE),
            resource_account=None if queue is None else queue.tenant_id,
        ):
            raise _denied(action, resource)


def _denied(action: str, resource: str) -> SqsWireError:
    return SqsWireError(
        "AccessDenied", f"Access to the resource {resource} is denied for action {action}."
    )
