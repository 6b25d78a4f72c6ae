"""STS actions: who am I, and temporary credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.iamapi.protocol import Action, Call, ServiceSpec

__all__ = ["STS"]


async def get_caller_identity(call: Call) -> None:
    principal = call.principal
    call.result.element("Arn", principal.arn)
    # AWS answers the account id as the root user's UserId.
    call.result.element("UserId", principal.tenant_id if principal.is_root else principal.user_id)
    call.result.element("Account", principal.tenant_id)


ACTIONS: Final[Mapping[str, Action]] = {
    "GetCallerIdentity": Action(get_caller_identity, mutating=False),
}

STS = ServiceSpec(
    name="sts",
    namespace="https://sts.amazonaws.com/doc/2011-06-15/",
    version="2011-06-15",
    actions=ACTIONS,
)
