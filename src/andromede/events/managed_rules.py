"""Managed rules (decision 0332): rules a service makes on the account's behalf, with AWS's
``ManagedBy`` — the service's principal — and the guard that keeps users' hands off them.

AWS refuses a user's PutRule, PutTargets, EnableRule, DisableRule, TagResource and
UntagResource on such a rule with ``ManagedRuleException``; DeleteRule and RemoveTargets
take ``Force`` to go through anyway. The archive's rule is AWS's first example here: an
archive receives its bus's events through ``Events-Archive-<name>``, whose pattern is the
archive's with replayed events left out. Decision 0341: its ``ManagedBy`` is the one AWS
shows, ``prod.vhs.events.aws.internal`` (0332's ``events.amazonaws.com`` still recognised),
and it has AWS's one target — id the rule's name, ARN ``arn:aws:events:<region>:::`` (the
archive service's, no account), an input transformer naming the archive — which EventBridge
never delivers to: the archive service keeps the bus's events itself (decision 0196).
Pure: no I/O.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Final

from andromede.events.errors import ManagedRule
from andromede.events.model import Rule, Target

__all__ = [
    "ARCHIVE_MANAGER",
    "ARCHIVE_RULE_PREFIX",
    "EARLIER_ARCHIVE_MANAGER",
    "archive_of_rule",
    "archive_rule_name",
    "archive_rule_pattern",
    "archive_target",
    "archive_target_arn",
    "is_archive_target",
    "refuse_managed",
]

# What AWS's DescribeRule answers as an archive rule's ManagedBy (decision 0341).
ARCHIVE_MANAGER: Final = "prod.vhs.events.aws.internal"
# Decision 0332 wrote this one; an archive rule made then keeps it until its UpdateArchive.
EARLIER_ARCHIVE_MANAGER: Final = "events.amazonaws.com"
ARCHIVE_RULE_PREFIX: Final = "Events-Archive-"

# AWS's ManagedRuleException's own words (its API reference's description of the error).
_REFUSED: Final = (
    "This rule was created by an AWS service on behalf of your account. It is managed by "
    "that service. If you see this error in response to DeleteRule or RemoveTargets, you can "
    "use the Force parameter in those calls to delete the rule or remove targets from the "
    "rule. You cannot modify these managed rules by using DisableRule, EnableRule, "
    "PutTargets, PutRule, TagResource, or UntagResource."
)


def refuse_managed(rule: Rule | None, *, force: bool = False) -> None:
    """ManagedRule when ``rule`` is a service's and the user's call does not ``force`` it."""
    if rule is not None and rule.managed_by is not None and not force:
        raise ManagedRule(_REFUSED)


def archive_rule_name(archive: str) -> str:
    """The managed rule of archive ``archive`` (an archive's name is at most 48 characters,
    so this fits a rule's 64)."""
    return ARCHIVE_RULE_PREFIX + archive


def archive_of_rule(rule: Rule) -> str | None:
    """The archive whose managed rule ``rule`` is, or None."""
    managers = (ARCHIVE_MANAGER, EARLIER_ARCHIVE_MANAGER)
    if rule.managed_by not in managers or not rule.name.startswith(ARCHIVE_RULE_PREFIX):
        return None
    return rule.name.removeprefix(ARCHIVE_RULE_PREFIX)


def archive_rule_pattern(pattern: str | None) -> str:
    """The archive rule's pattern: the archive's (every event without one) and no replayed
    event — an event a replay sends carries ``replay-name``, which AWS never archives again."""
    document = json.loads(pattern) if pattern else {}
    document["replay-name"] = [{"exists": False}]
    return json.dumps(document, separators=(",", ":"))


def archive_target_arn(region: str) -> str:
    """The ARN AWS gives an archive rule's target: EventBridge's own, no account."""
    return f"arn:aws:events:{region}:::"


def is_archive_target(arn: str) -> bool:
    """Whether ``arn`` is an archive rule's target, which no delivery goes to."""
    return arn.startswith("arn:aws:events:") and arn.endswith(":::")


def archive_target(name: str, archive_arn: str, region: str, created: datetime) -> Target:
    """The one target of archive ``name``'s rule, as ListTargetsByRule shows it on AWS: the
    archive's ARN suffixed by an id of this archive's incarnation (one made again under the
    same name is another), the event and its ingestion time as the transformer's input."""
    incarnation = uuid.uuid5(uuid.NAMESPACE_URL, f"{archive_arn}@{created.isoformat()}")
    template = (
        f'{{"archive-arn": "{archive_arn}:{incarnation}", "event": <aws.events.event.json>, '
        '"ingestion-time": <aws.events.event.ingestion-time>}'
    )
    rule = archive_rule_name(name)
    arn = archive_target_arn(region)
    transformer = {"InputPathsMap": {}, "InputTemplate": template}
    return Target(rule, arn, {"Id": rule, "Arn": arn, "InputTransformer": transformer})
