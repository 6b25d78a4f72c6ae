"""Decision 0318: EventBridge's condition keys as AWS's service authorisation reference gives
them, through the app as ``serve`` builds it (the harness of
:mod:`unit.eventsapi.test_events_app`): PutEvents judged entry by entry, a refused entry
failing alone with the error naming the key that refused it; PutRule's
``events:detail.userIdentity.principalId``, ``events:detail.service`` and
``events:detail.eventTypeCode`` from its pattern; ``events:ManagedBy`` absent from every
call on a user's rule (a managed rule's is decision 0332's, in
:mod:`unit.eventsapi.test_events_managed_rules_app`), as the ``Null`` and ``…IfExists``
operators see an absent key; and the attribution of a refusal in isolation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from andromede.eventsapi.put_events_access import condition_values, entry_refusals
from andromede.iam.policy import PrincipalType, RequestContext, evaluate, load_policy
from andromede.iam.policy.context import ContextValue
from andromede.iam.policy.document import PolicyKind
from unit.eventsapi.test_events_app import Harness, events

__all__ = ["events"]


async def _policy(events: Harness, user: str, statements: list[dict[str, Any]]) -> Harness:
    signer = await events.iam_user(user)
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    await events.identity.put_user_policy(events.tenant_id, user, "p", document)
    return signer


def _entry(source: str = "my.app", detail_type: str = "order") -> dict[str, str]:
    return {"Source": source, "DetailType": detail_type, "Detail": '{"n": 1}'}


async def test_put_events_fails_only_the_entries_the_policies_refuse(events: Harness) -> None:
    """An identity policy allowing one detail type (``StringEquals events:detail-type``) and
    denying one source: the allowed entry is put, the other detail type fails with
    ``NotAuthorizedForDetailTypeException``, the denied source with
    ``NotAuthorizedForSourceException``, the rest of the call going on; a caller allowed no
    PutEvents at all is refused the call."""
    user = await _policy(
        events,
        "app",
        [
            {
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": "*",
                "Condition": {"StringEquals": {"events:detail-type": "order"}},
            },
            {
                "Effect": "Deny",
                "Action": "events:PutEvents",
                "Resource": "*",
                "Condition": {"StringEquals": {"events:source": "billing.app"}},
            },
        ],
    )
    answer = await user.ok(
        "PutEvents",
        {"Entries": [_entry(), _entry(detail_type="refund"), _entry("billing.app")]},
    )
    assert answer["FailedEntryCount"] == 2
    put, wrong_type, wrong_source = answer["Entries"]
    assert "EventId" in put
    assert wrong_type["ErrorCode"] == "NotAuthorizedForDetailTypeException"
    assert "detail type" in wrong_type["ErrorMessage"]
    assert wrong_source["ErrorCode"] == "NotAuthorizedForSourceException"

    stranger = await events.iam_user("stranger")
    assert await stranger.error("PutEvents", {"Entries": [_entry()]}) == "AccessDeniedException"
    # A call whose every entry is refused for its source fails entry by entry, not whole.
    only_refused = await user.ok("PutEvents", {"Entries": [_entry("billing.app")]})
    assert only_refused["FailedEntryCount"] == 1
    assert only_refused["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"


async def test_put_rule_gives_the_patterns_detail_keys(events: Harness) -> None:
    """AWS's example: a user may make rules of one principal's CloudTrail events only
    (``ForAllValues:StringEquals`` on ``events:detail.userIdentity.principalId`` with a
    ``Null`` condition), and of AWS Health's ``ABUSE`` service's event type codes."""
    principal = "AIDAJ45Q7YFFAREXAMPLE"
    user = await _policy(
        events,
        "ops",
        [
            {
                "Effect": "Allow",
                "Action": "events:PutRule",
                "Resource": "*",
                "Condition": {
                    "ForAllValues:StringEquals": {
                        "events:detail.userIdentity.principalId": [principal]
                    },
                    "Null": {"events:detail.userIdentity.principalId": "false"},
                },
            },
            {
                "Effect": "Allow",
                "Action": "events:PutRule",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"events:detail.service": "ABUSE"},
                    "StringLike": {"events:detail.eventTypeCode": "AWS_ABUSE_*"},
                },
            },
        ],
    )

    def rule(name: str, detail: object) -> dict[str, str]:
        pattern = {"source": ["my.audit"], "detail": detail}
        return {"Name": name, "EventPattern": json.dumps(pattern)}

    await user.ok("PutRule", rule("mine", {"userIdentity": {"principalId": [principal]}}))
    health = {"service": ["ABUSE"], "eventTypeCode": ["AWS_ABUSE_DOS_REPORT"]}
    await user.ok("PutRule", rule("abuse", health))
    for refused in (
        {"userIdentity": {"principalId": [principal, "AIDAOTHER"]}},
        {"userIdentity": {"principalId": [{"prefix": "AIDA"}]}},  # a filter widens nothing
        {"userIdentity": {"type": ["IAMUser"]}},  # no principal named: the Null refuses
        {"service": ["EC2"], "eventTypeCode": ["AWS_ABUSE_DOS_REPORT"]},
        {"service": ["ABUSE"], "eventTypeCode": ["AWS_EC2_MAINTENANCE"]},
    ):
        assert await user.error("PutRule", rule("other", refused)) == "AccessDeniedException"


async def test_managed_by_is_absent_from_the_rules_of_users(events: Harness) -> None:
    """A rule a user made has no ``ManagedBy``, so ``events:ManagedBy`` is absent from every
    call on it: ``Null`` ``true`` keeps a user to such rules (AWS's way of
    leaving managed rules to their services), ``StringEquals`` on a service refuses,
    ``StringEqualsIfExists`` passes; DescribeRule answers no ``ManagedBy``."""
    rule_actions = [
        "events:PutRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:EnableRule",
        "events:DisableRule",
        "events:DescribeRule",
    ]
    user = await _policy(
        events,
        "dev",
        [
            {
                "Effect": "Allow",
                "Action": rule_actions,
                "Resource": "*",
                "Condition": {"Null": {"events:ManagedBy": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": "events:DeleteRule",
                "Resource": "*",
                "Condition": {"StringEquals": {"events:ManagedBy": "guardduty.amazonaws.com"}},
            },
        ],
    )
    pattern = json.dumps({"source": ["my.app"]})
    await user.ok("PutRule", {"Name": "r", "EventPattern": pattern})
    queue = f"arn:aws:sqs:eu-fr-1:{events.tenant_id}:q"
    await user.ok("PutTargets", {"Rule": "r", "Targets": [{"Id": "q", "Arn": queue}]})
    await user.ok("DisableRule", {"Name": "r"})
    await user.ok("EnableRule", {"Name": "r"})
    assert "ManagedBy" not in await user.ok("DescribeRule", {"Name": "r"})
    await user.ok("RemoveTargets", {"Rule": "r", "Ids": ["q"]})
    assert await user.error("DeleteRule", {"Name": "r"}) == "AccessDeniedException"

    if_exists = await _policy(
        events,
        "lead",
        [
            {
                "Effect": "Allow",
                "Action": "events:DeleteRule",
                "Resource": "*",
                "Condition": {
                    "StringEqualsIfExists": {"events:ManagedBy": "guardduty.amazonaws.com"}
                },
            }
        ],
    )
    await if_exists.ok("DeleteRule", {"Name": "r"})


class _Judge:
    """The engine over fixed identity policies, as the app's judge is."""

    def __init__(self, statements: Sequence[dict[str, Any]]) -> None:
        text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        self.policy = load_policy(text, kind=PolicyKind.IDENTITY)
        self.judged = 0

    async def allows(self, keys: Mapping[str, ContextValue]) -> bool:
        self.judged += 1
        context = RequestContext(
            action="events:PutEvents",
            resource="arn:aws:events:eu-fr-1:000000000001:event-bus/default",
            principal_type=PrincipalType.USER,
            principal_arn="arn:aws:iam::000000000001:user/u",
            principal_account="000000000001",
            keys=dict(keys),
        )
        return evaluate(context, identity_policies=[self.policy]).allowed

    def named_values(self, key: str) -> list[str]:
        return condition_values([self.policy], key)


async def test_a_refusal_is_named_after_the_key_that_refuses() -> None:
    """StringLike sources, a NotEquals detail type, both keys wrong (the source named), a
    policy allowing nothing (no single key explains it: None, the call refused)."""
    judge = _Judge(
        [
            {
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": "*",
                "Condition": {
                    "StringLike": {"events:source": "com.shop.*"},
                    "StringNotEquals": {"events:detail-type": "internal"},
                },
            }
        ]
    )
    found = await entry_refusals(
        judge,
        [("com.shop.cart", "order"), ("other", "order"), ("com.shop.x", "internal"),
         ("other", "internal")],
    )  # fmt: skip
    assert found is not None
    assert {kind: refusal.code for kind, refusal in found.items()} == {
        ("other", "order"): "NotAuthorizedForSourceException",
        ("com.shop.x", "internal"): "NotAuthorizedForDetailTypeException",
        ("other", "internal"): "NotAuthorizedForSourceException",
    }
    nothing = _Judge([{"Effect": "Allow", "Action": "events:PutRule", "Resource": "*"}])
    assert await entry_refusals(nothing, [("a", "b"), ("c", "d")]) is None
    # The second judgements are bounded whatever the policies name.
    many = _Judge(
        [
            {
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "events:source": [f"s{n}" for n in range(40)],
                        "events:detail-type": [f"t{n}" for n in range(40)],
                    },
                    "Bool": {"events:eventBusInvocation": "true"},
                },
            }
        ]
    )
    assert await entry_refusals(many, [("x", "y")]) is None
    assert many.judged <= 1 + 16 + 16 + 16 * 16
