"""Which VPC endpoint an S3 request came through, if any (decision 0160).

A host's endpoint listener knows it from where the connection came — the router's transit
link it arrived on and the instance's translated address, both the kernel's — and its agent
attests it to the gateway, whose gate (``vpc_endpoint_front.py``) checks the attestation and
runs the S3 app inside :func:`through_endpoint`; nothing a client can send sets it. The
authoriser reads it with :func:`current_origin` for every decision of the request: the keys
``aws:SourceVpce``, ``aws:SourceVpc`` and ``aws:VpcSourceIp`` are set, ``aws:SourceIp`` is
absent (AWS: a request through a VPC endpoint has no public source address), and the
endpoint's policy must allow the request besides the caller's and the bucket's.

A context variable rather than a field of every call: the S3 app authorises in a dozen
places (admission, handlers that authorise once the body is read, a listing's fallback),
each of which must see the same origin, and the request's task carries its context from
the gate into each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from andromede.iam.policy import ContextValue

__all__ = ["EndpointOrigin", "current_origin", "origin_keys", "through_endpoint"]


@dataclass(frozen=True, slots=True)
class EndpointOrigin:
    vpc_id: str
    vpc_endpoint_id: str
    # The endpoint's policy document, as stored.
    policy: str
    # The instance's private address (``aws:VpcSourceIp``).
    private_ip: str


_ORIGIN: ContextVar[EndpointOrigin | None] = ContextVar("andromede_s3_endpoint", default=None)


def current_origin() -> EndpointOrigin | None:
    return _ORIGIN.get()


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
