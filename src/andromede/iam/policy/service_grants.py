"""Whether a resource policy lets an AWS service principal act for a source resource: the
question each of the platform's own deliveries asks before it writes into a customer's
resource — S3 sending bucket events into a queue or a topic, SNS sending a topic's messages
into a queue, S3 writing an inventory report into a bucket.

On AWS these are requests by the service principal (``s3.amazonaws.com``,
``sns.amazonaws.com``) with ``aws:SourceArn`` and ``aws:SourceAccount`` naming what the
delivery is for, so that a policy can let one bucket or topic in without letting in every
customer of the service (the "confused deputy" keys). The request is evaluated against the
resource's policy alone, as the delivery has no identity policies; a missing policy, or one
that does not parse, allows nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from andromede.iam.policy.context import PrincipalType, RequestContext
from andromede.iam.policy.document import PolicyKind, load_policy
from andromede.iam.policy.errors import MalformedPolicy
from andromede.iam.policy.evaluate import evaluate

__all__ = ["service_may"]


def service_may(
    policy_text: str | None,
    *,
    service: str,
    action: str,
    resource: str,
    resource_account: str,
    source_arn: str,
    source_account: str,
    region: str | None = None,
    keys: Mapping[str, str] | None = None,
) -> bool:
    """Whether ``policy_text`` (a resource policy) lets ``service`` do ``action`` on
    ``resource``, for ``source_arn`` of ``source_account``; ``keys``: further condition keys
    the service sets for this action (``s3:x-amz-acl`` for an inventory's PutObject)."""
    if not policy_text:
        return False
    try:
        policy = load_policy(policy_text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy:
        return False
    context = RequestContext(
        action=action,
        resource=resource,
        principal_type=PrincipalType.SERVICE,
        principal_arn=service,
        secure_transport=True,
        requested_region=region,
        keys={**(keys or {}), "aws:SourceArn": source_arn, "aws:SourceAccount": source_account},
    )
    return evaluate(context, resource_policy=policy, resource_account=resource_account).allowed
