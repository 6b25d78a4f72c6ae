"""Which VPC endpoint a request came through, if any (decisions 0160, 0174), for every API
that an endpoint serves: S3, KMS, SQS, SNS and STS, and EC2, CloudWatch, Auto Scaling,
CloudWatch Logs and Secrets Manager (0174's session-48 addenda).

A host's endpoint listener knows it from where the connection came — the router's transit
link it arrived on and the instance's translated address (and source port, for an Interface
endpoint), all the kernel's — and its agent attests it to the gateway, whose gate
(``vpc_endpoint_front.py``) checks the attestation and runs the app of the endpoint's service
inside :func:`through_endpoint`; nothing a client can send sets it. Each API's authoriser then
asks :func:`origin_for` its own service — an origin is that service's only, so a call S3 makes
to KMS on the caller's behalf (SSE-KMS: AWS's forward access session) carries none, as on
AWS — and for the request's every decision:

- the keys ``aws:SourceVpce``, ``aws:SourceVpc`` and ``aws:VpcSourceIp`` are set and
  ``aws:SourceIp`` is absent (AWS: a request through a VPC endpoint has no public source
  address) — :func:`~andromede.iam.policy_context.principal_context` does it for every API that
  builds its context there, KMS's authoriser for its own;
- the endpoint's policy must allow the request besides the caller's and the resource's
  (:func:`endpoint_refusal`: an applying allow naming the caller and no applying deny).

A context variable rather than a field of every call: an API authorises in several places
(S3's admission and its handlers, KMS's key resolution and grants, SNS's topic access), each
of which must see the same origin, and the request's task carries its context from the gate
into each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from andromede.iam.policy import (
    ContextValue,
    Outcome,
    PolicyKind,
    RequestContext,
    evaluate_gate,
    load_policy,
)

__all__ = [
    "EndpointOrigin",
    "current_origin",
    "endpoint_refusal",
    "origin_for",
    "origin_keys",
    "through_endpoint",
]


@dataclass(frozen=True, slots=True)
class EndpointOrigin:
    vpc_id: str
    vpc_endpoint_id: str
    # The endpoint's policy document, as stored.
    policy: str
    # The instance's private address (``aws:VpcSourceIp``).
    private_ip: str
    # The endpoint's service, as its actions are prefixed (``s3``, ``kms``, ``sqs``…;
    # ``cloudwatch`` for an endpoint to ``…monitoring``): the gate translates it.
    service: str = "s3"


_ORIGIN: ContextVar[EndpointOrigin | None] = ContextVar("andromede_endpoint_origin", default=None)


def current_origin() -> EndpointOrigin | None:
    return _ORIGIN.get()


def origin_for(service: str) -> EndpointOrigin | None:
    """The endpoint the request came through when it is an endpoint of ``service`` (an
    action's prefix: ``kms``); None otherwise, a call one API makes to another included."""
    origin = _ORIGIN.get()
    return origin if origin is not None and origin.service == service else None


@contextmanager
def through_endpoint(origin: EndpointOrigin) -> Iterator[None]:
    """The request being handled came through ``origin`` until the block ends."""
    token = _ORIGIN.set(origin)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def origin_keys(origin: EndpointOrigin) -> dict[str, ContextValue]:
    return {
        "aws:SourceVpce": origin.vpc_endpoint_id,
        "aws:SourceVpc": origin.vpc_id,
        "aws:VpcSourceIp": origin.private_ip,
    }


def endpoint_refusal(context: RequestContext) -> str | None:
    """Why the VPC endpoint the request came through refuses ``context`` (in the words AWS
    ends its AccessDenied messages with), or None when it came through none of the action's
    service or the endpoint's policy allows it."""
    origin = origin_for(context.action.split(":", 1)[0].lower())
    if origin is None:
        return None
    decision = evaluate_gate(context, load_policy(origin.policy, kind=PolicyKind.RESOURCE))
    if decision.allowed:
        return None
    if decision.outcome is Outcome.EXPLICIT_DENY:
        return "with an explicit deny in a VPC endpoint policy"
    return f"because no VPC endpoint policy allows the {context.action} action"
