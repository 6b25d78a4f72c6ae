"""OperatorAccessService: operator access requests, the tenant's decision on them, the
credentials they give, and the check S3 makes on every request made with those (decision 0107).

Every step is an event of the **tenant's** transparency log, naming the operator and the
request: opened, approved, refused, revoked, lapsed (pending past ``request_ttl``, decision
0114), credentials issued, credentials refused (the request pending, refused, revoked or
expired). Each S3 request made with the credentials is
audited by the S3 app in the same log (``s3/app.py``), whatever it is, reads included.

Who may do what: an operator opens requests and asks for credentials for its own approved
ones; the tenant's principals list its tenant's requests and approve, refuse or revoke them,
as their IAM policies allow (``andromede:ApproveOperatorAccess``…), which the management API
asks the policy engine before it calls here (decision 0113). An operator has no tenant, so
it can never approve a request, its own included. A request of another tenant, or another
operator's, is :class:`NoSuchAccessRequest`, as one that does not exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from andromede.audit.access import (
    ACCESS_TRANSITIONS,
    AccessMode,
    AccessRequest,
    AccessState,
    Actor,
    new_access_request_id,
)
from andromede.audit.access_store import AccessRequestStore
from andromede.audit.errors import (
    AccessDecisionForbidden,
    AccessRequestLapsed,
    AccessRequestNotGranting,
    InvalidAccessRequest,
    InvalidAccessTransition,
    NoSuchAccessRequest,
)
from andromede.audit.model import Outcome
from andromede.audit.service import AuditService

__all__ = ["DEFAULT_REQUEST_TTL", "LAPSE_PRINCIPAL", "MIN_DURATION", "OperatorAccessService"]

MIN_DURATION = 60  # seconds: shorter than a minute is no time to do anything
DEFAULT_REQUEST_TTL = 7 * 86_400  # a week to decide: a support ticket outlives a weekend
# Who the tenant's log names for a lapse: nobody decided; the platform's own rule did.
LAPSE_PRINCIPAL = "andromede.operator-access"
_MAX_BUCKETS = 100  # a tenant's bucket quota is AWS's 100 by default; past it, ask for all


class OperatorAccessService:
    def __init__(
        self,
        store: AccessRequestStore,
        audit: AuditService,
        *,
        max_duration: int,
        reason_max_length: int,
        request_ttl: int = DEFAULT_REQUEST_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._audit = audit
        self._max_duration = max_duration
        self._reason_max_length = reason_max_length
        self._request_ttl = request_ttl
        self._clock = clock

    def now(self) -> datetime:
        """The service's time, which says whether a request has expired."""
        return self._clock()

    def lapses_at(self, request: AccessRequest) -> datetime | None:
        """When a pending request lapses undecided (None: it is not pending)."""
        return request.lapses_at(self._request_ttl)

    # -- the operator's side ------------------------------------------------------------------
    async def open(
        self,
        operator: Actor,
        tenant_id: str,
        *,
        buckets: Sequence[str] | None,
        mode: AccessMode,
        reason: str,
        duration_seconds: int,
        request_id: str,
        include_kms: bool = False,
    ) -> AccessRequest:
        if operator.operator_id is None:
            raise AccessDecisionForbidden("only platform operators open access requests")
        if not MIN_DURATION <= duration_seconds <= self._max_duration:
            raise InvalidAccessRequest(
                f"the duration is {MIN_DURATION} to {self._max_duration} seconds "
                "(operator_access_max_duration)"
            )
        reason = reason.strip()
        if not reason or len(reason) > self._reason_max_length:
            raise InvalidAccessRequest(
                f"the reason is 1 to {self._reason_max_length} characters "
                "(operator_access_reason_max_length)"
            )
        if buckets is not None and not 1 <= len(set(buckets)) <= _MAX_BUCKETS:
            raise InvalidAccessRequest(
                f"name 1 to {_MAX_BUCKETS} buckets, or none for every bucket"
            )
        request = AccessRequest(
            id=new_access_request_id(),
            tenant_id=tenant_id,
            operator_id=operator.operator_id,
            operator_name=operator.operator_name or "",
            buckets=None if buckets is None else tuple(sorted(set(buckets))),
            mode=mode,
            reason=reason,
            duration_seconds=duration_seconds,
            status=AccessState.PENDING,
            created_at=self._clock(),
            include_kms=include_kms,
        )
        await self._store.create(request)
        self._record(
            request,
            "OpenOperatorAccess",
            operator.arn,
            request_id,
            details={
                "reason": request.reason,
                "mode": request.mode.value,
                "buckets": "*" if request.buckets is None else ",".join(request.buckets),
                "duration_seconds": str(request.duration_seconds),
                "include_kms": str(request.include_kms).lower(),
            },
        )
        return request

    async def operator_requests(self, operator: Actor) -> list[AccessRequest]:
        return await self._current_all(
            await self._store.list(operator_id=operator.operator_id or "")
        )

    async def granting(
        self, operator: Actor, access_request_id: str, *, request_id: str
    ) -> AccessRequest:
        """The operator's own request, if it grants now: the caller then issues the S3
        credentials (identity's, ending at ``expires_at``) and reports them
        (:meth:`credentials_issued`). A request that grants nothing is refused and audited."""
        request = await self._store.get(access_request_id)
        if (
            request is None
            or operator.operator_id is None
            or request.operator_id != operator.operator_id
        ):
            raise NoSuchAccessRequest(f"no access request {access_request_id}")
        request = await self._current(request)
        now = self._clock()
        state = request.state(now)
        if state is not AccessState.APPROVED or request.expires_at is None:
            self._record(
                request,
                "GetOperatorAccessCredentials",
                operator.arn,
                request_id,
                outcome=Outcome.FAILURE,
                details={"state": state.value},
            )
            raise AccessRequestNotGranting(
                f"the access request is {state.value}: it grants nothing"
            )
        return request

    def credentials_issued(
        self, request: AccessRequest, operator: Actor, access_key_id: str, *, request_id: str
    ) -> None:
        self._record(
            request,
            "GetOperatorAccessCredentials",
            operator.arn,
            request_id,
            details={"access_key_id": access_key_id},
        )

    # -- the tenant's side --------------------------------------------------------------------
    async def tenant_requests(self, tenant_id: str) -> list[AccessRequest]:
        return await self._current_all(await self._store.list(tenant_id=tenant_id))

    async def pending_count(self, tenant_id: str) -> int:
        """How many requests await the tenant's decision (lapsed ones are not)."""
        requests = await self.tenant_requests(tenant_id)
        return sum(1 for r in requests if r.status is AccessState.PENDING)

    async def get(self, caller: Actor, access_request_id: str) -> AccessRequest:
        """The request, if the caller is its operator or of its tenant."""
        request = await self._store.get(access_request_id)
        if request is None or not (
            (caller.operator_id is not None and request.operator_id == caller.operator_id)
            or (caller.tenant_id is not None and caller.tenant_id == request.tenant_id)
        ):
            raise NoSuchAccessRequest(f"no access request {access_request_id}")
        return await self._current(request)

    async def approve(
        self, caller: Actor, access_request_id: str, *, request_id: str
    ) -> AccessRequest:
        """Start the clock: the request grants for its duration from now."""
        request = await self._decidable(caller, access_request_id)
        now = self._clock()
        approved = replace(
            request,
            status=AccessState.APPROVED,
            decided_at=now,
            decided_by=caller.arn,
            expires_at=now + timedelta(seconds=request.duration_seconds),
        )
        await self._move(request, approved, now)
        self._record(
            approved,
            "ApproveOperatorAccess",
            caller.arn,
            request_id,
            details={"expires_at": _iso(approved.expires_at)},
        )
        return approved

    async def refuse(
        self, caller: Actor, access_request_id: str, *, request_id: str
    ) -> AccessRequest:
        request = await self._decidable(caller, access_request_id)
        now = self._clock()
        refused = replace(
            request, status=AccessState.REFUSED, decided_at=now, decided_by=caller.arn
        )
        await self._move(request, refused, now)
        self._record(refused, "RefuseOperatorAccess", caller.arn, request_id)
        return refused

    async def revoke(
        self, caller: Actor, access_request_id: str, *, request_id: str
    ) -> AccessRequest:
        """End an approved request now; its credentials stop working at their next request."""
        request = await self._decidable(caller, access_request_id)
        now = self._clock()
        revoked = replace(
            request, status=AccessState.REVOKED, revoked_at=now, revoked_by=caller.arn
        )
        await self._move(request, revoked, now)
        self._record(revoked, "RevokeOperatorAccess", caller.arn, request_id)
        return revoked

    # -- S3's check, on every request of the credentials ----------------------------------
    async def allows(
        self,
        access_request_id: str,
        *,
        tenant_id: str,
        operator_id: str,
        action: str,
        bucket: str | None,
    ) -> bool:
        """Whether the request behind an operator's credentials grants ``action`` on
        ``bucket`` of ``tenant_id`` now: read on every request, so that a revocation takes
        effect at once, on every gateway."""
        request = await self._store.get(access_request_id)
        return (
            request is not None
            and request.tenant_id == tenant_id
            and request.operator_id == operator_id
            and request.grants(self._clock())
            and request.allows(action, bucket)
        )

    # -- lapsing ----------------------------------------------------------------------------
    async def lapse_due(self) -> int:
        """Store as expired every pending request past its time to live, each lapse an event
        of its tenant's log (the sweeper's round; reads lapse what they touch anyway). Every
        gateway may run it: a request lapses once, whoever gets there first."""
        cutoff = self._clock() - timedelta(seconds=self._request_ttl)
        lapsed = 0
        for request in await self._store.pending_before(cutoff):
            if (await self._current(request)) is not request:
                lapsed += 1
        return lapsed

    async def _current_all(self, requests: list[AccessRequest]) -> list[AccessRequest]:
        return [await self._current(r) for r in requests]

    async def _current(self, request: AccessRequest) -> AccessRequest:
        """The request as it stands: a pending one past its time to live is first stored as
        expired and its lapse recorded — once, by the gateway whose compare-and-set wins."""
        if not request.lapsed(self._clock(), self._request_ttl):
            return request
        lapsed_at = request.lapses_at(self._request_ttl)
        lapsed = replace(request, status=AccessState.EXPIRED, decided_at=lapsed_at)
        if not await self._store.replace(lapsed, AccessState.PENDING):
            return await self._store.get(request.id) or lapsed  # decided or lapsed meanwhile
        self._record(
            lapsed,
            "LapseOperatorAccess",
            LAPSE_PRINCIPAL,
            secrets.token_hex(8).upper(),
            details={"lapsed_at": _iso(lapsed_at), "ttl_seconds": str(self._request_ttl)},
        )
        return lapsed

    # -- internals ----------------------------------------------------------------------------
    async def _decidable(self, caller: Actor, access_request_id: str) -> AccessRequest:
        request = await self.get(caller, access_request_id)
        # Which of the tenant's principals may decide is IAM's question, the API's to ask.
        if caller.operator_id is not None or caller.tenant_id is None:
            raise AccessDecisionForbidden("only the tenant decides on operator access")
        return request

    async def _move(self, current: AccessRequest, new: AccessRequest, now: datetime) -> None:
        state = current.state(now)
        if current.status is AccessState.EXPIRED:  # stored so only when it lapsed pending
            raise AccessRequestLapsed(
                f"the access request lapsed undecided at {_iso(current.decided_at)}: the tenant"
                f" has {self._request_ttl} seconds to decide (operator_access_request_ttl);"
                " the operator opens a new request if access is still needed"
            )
        if new.status not in ACCESS_TRANSITIONS[state]:
            raise InvalidAccessTransition(
                f"the access request is {state.value}: it cannot become {new.status.value}"
            )
        if not await self._store.replace(new, current.status):
            raise InvalidAccessTransition("the access request was decided meanwhile; read it again")

    def _record(
        self,
        request: AccessRequest,
        action: str,
        principal: str,
        request_id: str,
        *,
        outcome: Outcome = Outcome.SUCCESS,
        details: dict[str, str] | None = None,
    ) -> None:
        self._audit.record(
            request_id=request_id,
            tenant_id=request.tenant_id,
            principal=principal,
            action=f"andromede:{action}",
            resource=f"operator-access/{request.id}",
            outcome=outcome,
            details={
                "access_request": request.id,
                "operator": request.operator_name,
                **(details or {}),
            },
        )


def _iso(when: datetime | None) -> str:
    return "" if when is None else when.astimezone(UTC).isoformat(timespec="seconds")
