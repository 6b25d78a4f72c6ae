"""Who may act on an SNS topic (decision 0168): the caller's IAM policies and the topic's
``Policy``, decided as AWS decides a resource policy, and AddPermission/RemovePermission,
which edit that policy as SNS does.

- **Within the topic's account** an allow in either the caller's identity policies or the
  topic's policy suffices (the root acts unopposed); an explicit deny in either wins.
- **From another account** both must allow: the caller's identity policies (its root's
  freedom included) *and* a statement of the topic's policy naming the caller, its role or
  its account (``Principal: {"AWS": "<account>"}`` or an ARN) or ``"*"``, with its
  conditions. A refusal the topic's side makes answers ``NotFound``, as for a topic that does
  not exist (decision 0132: another account learns nothing of a topic not shared with it);
  one the caller's own policies make answers ``AccessDenied``, as within its account.
- **Tags** (decision 0175): the topic's tags are the context's ``aws:ResourceTag/<key>``,
  and a call setting tags passes its ``aws:RequestTag/<key>`` and ``aws:TagKeys``.
- **Audit.** A call across accounts is also recorded in the topic owner's log
  (:data:`~andromede.iamapi.protocol.RESOURCE_ACCOUNT`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.policy import (
    ContextValue,
    MalformedPolicy,
    Outcome,
    PolicyDocument,
    PolicyKind,
    PolicySource,
    evaluate,
    load_policy,
    parse_policy,
)
from andromede.iam.policy.evaluate import REASON_NO_IDENTITY_GRANT
from andromede.iam.policy_context import loaded_policies, principal_context, principal_keys
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import RESOURCE_ACCOUNT, Call
from andromede.notifications.errors import InvalidTopic
from andromede.notifications.model import Topic, parse_topic_arn
from andromede.notifications.service import TopicService

__all__ = [
    "TOPIC_ACTIONS",
    "TopicAccess",
    "add_permission",
    "check_topic_policy",
    "default_topic_policy",
    "remove_permission",
    "request_tag_keys",
    "resource_tag_keys",
]

# The actions a topic's policy (and AddPermission) may grant: those that name a topic.
TOPIC_ACTIONS: Final = (
    "AddPermission",
    "DeleteTopic",
    "GetTopicAttributes",
    "ListSubscriptionsByTopic",
    "Publish",
    "RemovePermission",
    "SetTopicAttributes",
    "Subscribe",
)
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT = re.compile(r"\d{12}")


def _policy(topic: Topic | None) -> PolicyDocument | None:
    text = None if topic is None else topic.policy
    if not text:
        return None
    try:
        return load_policy(text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy:  # kept before it was checked: grants nothing
        return None


class TopicAccess:
    def __init__(self, topics: TopicService, region: str) -> None:
        self._topics = topics
        self._region = region

    @property
    def region(self) -> str:
        return self._region

    async def authorise(
        self,
        call: Call,
        action: str,
        arn: str,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> str:
        """The topic's account, once ``call``'s caller may do ``action`` (``sns:Publish``) on
        the topic ``arn``; NotFound or AccessDenied otherwise (see the module). ``keys``: the
        request's own condition keys (``aws:RequestTag/<key>``, ``aws:TagKeys``)."""
        call.context["resource"] = arn
        try:
            _, account, _ = parse_topic_arn(arn)
        except InvalidTopic as exc:
            raise QueryError("InvalidParameter", str(exc)) from exc
        principal = call.principal
        caller = call.tenant_id
        if principal.is_anonymous or principal.is_operator:
            raise _denied(principal.arn, action, arn)
        topic = await self._topics.topic(arn)
        policies = await call.identity.policies_for(principal)
        context = principal_context(
            principal,
            action=action,
            resource=arn,
            source_ip=call.source_ip or None,
            secure=call.secure,
            region=self._region,
            keys={**principal_keys(policies), **resource_tag_keys(topic), **(keys or {})},
        )
        refusal = endpoint_refusal(context)
        if refusal is not None:  # the SNS endpoint's policy (decision 0174)
            raise _denied(principal.arn, action, arn, refusal)
        identity, boundary, session = loaded_policies(policies)
        decision = evaluate(
            context,
            identity_policies=identity,
            permissions_boundary=boundary,
            session_policy=session,
            resource_policy=_policy(topic),
            resource_account=account,
        )
        if decision.allowed:
            if account != caller:
                call.context[RESOURCE_ACCOUNT] = account
            return account
        if account != caller:
            by_topic = (
                decision.outcome is Outcome.EXPLICIT_DENY
                and decision.statement is not None
                and decision.statement.source is PolicySource.RESOURCE
            )
            if by_topic or (
                decision.outcome is Outcome.IMPLICIT_DENY
                and decision.reason != REASON_NO_IDENTITY_GRANT
            ):
                raise QueryError("NotFound", "Topic does not exist")
        raise _denied(principal.arn, action, arn)


def resource_tag_keys(topic: Topic | None) -> dict[str, ContextValue]:
    """``aws:ResourceTag/<key>`` of each of the topic's tags."""
    return {} if topic is None else {f"aws:ResourceTag/{k}": v for k, v in topic.tags.items()}


def request_tag_keys(tags: list[tuple[str, str]], keys: list[str]) -> dict[str, ContextValue]:
    """A tagging call's ``aws:RequestTag/<key>`` and ``aws:TagKeys`` (the tags set, or the
    keys removed)."""
    found: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in tags}
    named = [k for k, _ in tags] or keys
    if named:
        found["aws:TagKeys"] = named
    return found


def _denied(principal_arn: str, action: str, arn: str, why: str = "") -> QueryError:
    # An endpoint's refusal (``why``) is SNS's own AuthorizationError (decision 0174).
    return QueryError(
        "AuthorizationError" if why else "AccessDenied",
        f"User: {principal_arn} is not authorized to perform: {action} on resource: {arn}"
        + (f" {why}" if why else ""),
    )


def check_topic_policy(text: str) -> None:
    """InvalidParameter for a topic ``Policy`` that is no valid resource policy (SNS checks
    it when it is set)."""
    if not text:
        return
    try:
        parse_policy(text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise QueryError("InvalidParameter", f"Invalid parameter: Policy Error: {exc}") from exc


# What SNS shows as a new topic's Policy (Terraform's provider parses it on every read, and
# writes it back when an aws_sns_topic_policy is destroyed).
_DEFAULT_ACTIONS: Final = (
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
    "SNS:Receive",
)


def default_topic_policy(topic: Topic) -> str:
    """AWS's default policy of a topic without one, shown by GetTopicAttributes only: it is
    not evaluated (a topic without a policy is the owner's account's alone, each caller by
    its IAM policies), so the display grants nothing the platform would not."""
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": list(_DEFAULT_ACTIONS),
                    "Resource": topic.arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": topic.tenant_id}},
                }
            ],
        },
        separators=(",", ":"),
    )


def _document(topic: Topic) -> dict[str, object]:
    """The topic's policy as a JSON object to edit: a new one when it has none."""
    if topic.policy:
        try:
            data = json.loads(topic.policy)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("Statement", []), list):
            return data
        if isinstance(data, dict) and isinstance(data.get("Statement"), dict):
            return {**data, "Statement": [data["Statement"]]}
        raise QueryError("InvalidParameter", "Invalid parameter: Policy Error: not editable")
    return {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": []}


def _statements(document: dict[str, object]) -> list[dict[str, object]]:
    found = document.get("Statement", [])
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


def add_permission(topic: Topic, label: str, accounts: list[str], actions: list[str]) -> str:
    """The topic's policy with a statement ``label`` letting ``accounts`` do ``actions``
    (SNS's AddPermission); InvalidParameter for a value SNS refuses."""
    if not _LABEL.fullmatch(label):
        raise QueryError(
            "InvalidParameter",
            "Invalid parameter: Label: 1 to 80 letters, digits, hyphens or underscores",
        )
    if not accounts or not actions:
        raise QueryError(
            "InvalidParameter", "Invalid parameter: AWSAccountId and ActionName are required"
        )
    for account in accounts:
        if not _ACCOUNT.fullmatch(account):
            raise QueryError("InvalidParameter", "Invalid parameter: AWSAccountId")
    for action in actions:
        if action not in TOPIC_ACTIONS:
            raise QueryError(
                "InvalidParameter",
                "Invalid parameter: Policy statement action out of service scope!",
            )
    document = _document(topic)
    statements = _statements(document)
    if any(s.get("Sid") == label for s in statements):
        raise QueryError("InvalidParameter", "Invalid parameter: Statement already exists")
    principals = [f"arn:aws:iam::{account}:root" for account in dict.fromkeys(accounts)]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": [f"SNS:{a}" for a in dict.fromkeys(actions)],
            "Resource": topic.arn,
        }
    )
    return json.dumps({**document, "Statement": statements}, separators=(",", ":"))


def remove_permission(topic: Topic, label: str) -> str:
    """The topic's policy without the statement ``label`` (SNS's RemovePermission); empty
    when none is left (the topic is its owner's alone again)."""
    document = _document(topic)
    statements = _statements(document)
    kept = [s for s in statements if s.get("Sid") != label]
    if len(kept) == len(statements):
        raise QueryError("InvalidParameter", "Invalid parameter: Label does not exist")
    if not kept:
        return ""
    return json.dumps({**document, "Statement": kept}, separators=(",", ":"))
