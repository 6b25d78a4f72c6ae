"""A function's resource-based policy (decision 0286): the statement AddPermission makes of
its parameters, as AWS writes it (``Principal`` a service or an account's root, ``Condition``
on ``AWS:SourceArn``, ``AWS:SourceAccount``, ``aws:PrincipalOrgID``), and the policy
document that gains or loses it. The IAM engine evaluates the document with the caller's
identity policies (``awsjson.authorise.resource_refusal``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from andromede.functions.errors import (
    InvalidParameterValue,
    PolicyLengthExceeded,
    ResourceConflict,
    ResourceNotFound,
)

__all__ = ["Permission", "with_statement", "without_statement"]

_SID: Final = re.compile(r"[a-zA-Z0-9_-]{1,100}")
_ACTION: Final = re.compile(r"(lambda:[*]|lambda:[a-zA-Z]+|[*])")
_ACCOUNT: Final = re.compile(r"\d{12}")


@dataclass(frozen=True, slots=True)
class Permission:
    statement_id: str
    action: str
    principal: str
    source_arn: str | None = None
    source_account: str | None = None
    principal_org_id: str | None = None
    function_url_auth_type: str | None = None

    @classmethod
    def of(cls, params: dict[str, Any]) -> Permission:
        sid, action, principal = (
            params.get("StatementId"),
            params.get("Action"),
            params.get("Principal"),
        )
        if not isinstance(sid, str) or _SID.fullmatch(sid) is None:
            raise InvalidParameterValue("StatementId must be 1 to 100 letters, digits, - or _")
        if not isinstance(action, str) or _ACTION.fullmatch(action) is None:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(action)[:64]}' at 'action' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "(lambda:[*]|lambda:[a-zA-Z]+|[*])"
            )
        if not isinstance(principal, str) or not principal or len(principal) > 256:
            raise InvalidParameterValue("Principal must be a service, an account or an ARN")
        optional = {}
        for name in ("SourceArn", "SourceAccount", "PrincipalOrgID", "FunctionUrlAuthType"):
            value = params.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > 1024):
                raise InvalidParameterValue(f"{name} must be a string")
            optional[name] = value
        return cls(
            sid,
            action,
            principal,
            optional["SourceArn"],
            optional["SourceAccount"],
            optional["PrincipalOrgID"],
            optional["FunctionUrlAuthType"],
        )

    def statement(self, resource: str) -> dict[str, Any]:
        principal: dict[str, str] | str
        if self.principal == "*":
            principal = "*"
        elif _ACCOUNT.fullmatch(self.principal):
            principal = {"AWS": f"arn:aws:iam::{self.principal}:root"}
        elif self.principal.startswith("arn:"):
            principal = {"AWS": self.principal}
        else:
            principal = {"Service": self.principal}
        statement: dict[str, Any] = {
            "Sid": self.statement_id,
            "Effect": "Allow",
            "Principal": principal,
            "Action": self.action,
            "Resource": resource,
        }
        condition: dict[str, dict[str, str]] = {}
        if self.source_account is not None:
            condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = self.source_account
        if self.principal_org_id is not None:
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = self.principal_org_id
        if self.function_url_auth_type is not None:
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = (
                self.function_url_auth_type
            )
        if self.source_arn is not None:
            condition["ArnLike"] = {"AWS:SourceArn": self.source_arn}
        if condition:
            statement["Condition"] = condition
        return statement


def with_statement(policy: str | None, statement: dict[str, Any], max_bytes: int) -> str:
    """``policy`` (None for none yet) with ``statement`` added; AWS's errors for a statement
    id already there or a policy grown beyond ``max_bytes``."""
    document: dict[str, Any] = (
        json.loads(policy) if policy else {"Version": "2012-10-17", "Id": "default"}
    )
    document.setdefault("Statement", [])
    if any(s.get("Sid") == statement["Sid"] for s in document["Statement"]):
        raise ResourceConflict(
            f"The statement id ({statement['Sid']}) provided already exists. Please provide a "
            "new statement id, or remove the existing statement."
        )
    document["Statement"].append(statement)
    written = json.dumps(document, separators=(",", ":"))
    if len(written) > max_bytes:
        raise PolicyLengthExceeded(
            f"The final policy size ({len(written)}) is bigger than the limit ({max_bytes})."
        )
    return written


def without_statement(policy: str | None, statement_id: str) -> str | None:
    """``policy`` without the statement; None when none is left."""
    document = json.loads(policy) if policy else {"Statement": []}
    kept = [s for s in document["Statement"] if s.get("Sid") != statement_id]
    if len(kept) == len(document["Statement"]):
        raise ResourceNotFound(
            "Statement " + statement_id[:100] + " is not found in resource policy."
        )
    if not kept:
        return None
    document["Statement"] = kept
    return json.dumps(document, separators=(",", ":"))
