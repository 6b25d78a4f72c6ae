"""Who the work in progress was asked for: the principal and the id of the wire request being
served, for a service deep below the wire layer that tells a third party on whose behalf it
acts, where no argument reaches — the customer's XKS proxy, whose ``requestMetadata`` names
the caller (``awsPrincipalArn``) and the request (``kmsRequestId``) of every use of their key
(decision 0094).

A context variable, set by the wire layer and read by whoever talks to the third party, and
nobody in between: the object path (storage's cipher, called from a dozen places) carries no
argument for it, and a request that uses no external key pays nothing. The ASGI server runs
each request in a task of its own, whose context is a copy of the server's: what a request
sets ends with it, and work started afterwards by a background loop (upkeep, a lifecycle pass)
sees nothing — the platform's own work. A task a request starts inherits it: work done for
that request still names its caller.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

__all__ = ["Requester", "act_for", "requester"]


@dataclass(frozen=True, slots=True)
class Requester:
    """The authenticated principal of a wire request, and that request's id."""

    principal_arn: str
    request_id: str


_current: Final[ContextVar[Requester | None]] = ContextVar("andromede_requester", default=None)


def act_for(principal_arn: str, request_id: str) -> None:
    """From now on in this request, the work done is on behalf of ``principal_arn``."""
    _current.set(Requester(principal_arn, request_id))


def requester() -> Requester | None:
    """The request being served here and who made it; None for the platform's own work."""
    return _current.get()
