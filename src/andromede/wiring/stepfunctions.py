"""AWS Step Functions' wiring (decision 0271): the state machines' service over the metadata
database, their definitions sealed under each account's key ring (``wiring.queues.KeySealer``,
the sealer SQS's messages use), a machine's role judged by the identity service (it must be
the account's and trust ``states.amazonaws.com``), and the API app under ``states``, its SigV4
service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.http.ratelimit import RateLimiter
from andromede.iam.errors import IamError
from andromede.iam.service import IdentityService
from andromede.kms.service import KeyService
from andromede.replication_grants import role_trusts
from andromede.settings import Settings
from andromede.stepfunctions.service import (
    STATES_PRINCIPAL,
    RoleCheck,
    StateMachineLimits,
    StateMachinesService,
)
from andromede.stepfunctions.store_sql import SqlStateMachineStore
from andromede.stepfunctionsapi.app import StatesApp
from andromede.wiring.queues import KeySealer

__all__ = ["states_api", "states_limits", "trusting_roles"]


def states_limits(settings: Settings) -> StateMachineLimits:
    return StateMachineLimits(
        max_state_machines=settings.stepfunctions_max_state_machines,
        max_definition_size=settings.stepfunctions_max_definition_size,
    )


def trusting_roles(identity: IdentityService) -> RoleCheck:
    """Whether a role is the account's and trusts Step Functions, as the identity service
    knows it."""

    async def trusted(tenant_id: str, role_arn: str) -> bool:
        try:
            role = await identity.get_role_by_arn(role_arn)
        except IamError:
            return False
        return role.tenant_id == tenant_id and role_trusts(
            role.assume_role_policy_document, STATES_PRINCIPAL
        )

    return trusted


def states_api(
    apis: MutableMapping[str, Any],
    settings: Settings,
    db: Database,
    keys: KeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
) -> Callable[[str], Awaitable[int]]:
    """The Step Functions app of ``serve`` put into ``apis`` (under ``states``), and what
    closing a tenant deletes of it (its state machines)."""
    service = StateMachinesService(
        SqlStateMachineStore(db, KeySealer(keys)),
        settings.region,
        trusting_roles(identity),
        states_limits(settings),
    )
    apis[StatesApp.name] = StatesApp(service, identity, audit, settings, rate_limiter)
    return service.store.forget_tenant
