"""The DynamoDB calls of a table page's resource policy sections (decision 0266): a table's
and its stream's policy read (GetResourcePolicy), written (PutResourcePolicy with the revision
read and ``ConfirmRemoveSelfResourceAccess``) and removed (DeleteResourcePolicy), in process
as the signed-in principal through DynamoDB's JSON protocol, as ``wire_dynamodb``'s calls.
The policy text travels as typed: DynamoDB checks it and refuses it in its words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from andromede.console.wire import JsonWire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["DynamoPoliciesWire", "HeldPolicy"]


@dataclass(frozen=True, slots=True)
class HeldPolicy:
    """GetResourcePolicy's answer: the policy as written and its revision."""

    text: str
    revision: str


class DynamoPoliciesWire(JsonWire):
    """Resource-based policies (``DynamoDB_20120810`` JSON 1.0)."""

    target_prefix = "DynamoDB_20120810."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalServerError"

    async def policy(self, origin: Scope, principal: Principal, arn: str) -> HeldPolicy | None:
        """The resource's policy; None when it has none (``PolicyNotFoundException``)."""
        try:
            answer = await self._json(origin, principal, "GetResourcePolicy", {"ResourceArn": arn})
        except WireError as exc:
            if exc.code == "PolicyNotFoundException":
                return None
            raise
        return HeldPolicy(str(answer.get("Policy", "")), str(answer.get("RevisionId", "")))

    async def put_policy(
        self, origin: Scope, principal: Principal, arn: str, text: str, *,
        expected_revision: str, confirm_self_lockout: bool,
    ) -> str:  # fmt: skip
        """PutResourcePolicy at the revision read (``NO_POLICY`` where there was none, so a
        policy written meanwhile is not overwritten); the new revision."""
        payload: dict[str, Any] = {
            "ResourceArn": arn,
            "Policy": text,
            "ExpectedRevisionId": expected_revision or "NO_POLICY",
        }
        if confirm_self_lockout:
            payload["ConfirmRemoveSelfResourceAccess"] = True
        answer = await self._json(origin, principal, "PutResourcePolicy", payload)
        return str(answer.get("RevisionId", ""))

    async def delete_policy(
        self, origin: Scope, principal: Principal, arn: str, *, expected_revision: str
    ) -> None:
        """DeleteResourcePolicy, at the revision read when there is one."""
        payload: dict[str, Any] = {"ResourceArn": arn}
        if expected_revision:
            payload["ExpectedRevisionId"] = expected_revision
        await self._json(origin, principal, "DeleteResourcePolicy", payload)
