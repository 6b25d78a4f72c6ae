"""Managed rules (decision 0332): rules a service makes on the account's behalf, with AWS's
``ManagedBy`` — the service's principal — and the guard that keeps users' hands off them.

AWS refuses a user's PutRule, PutTargets, EnableRule, DisableRule, TagResource and
UntagResource on such a rule with ``ManagedRuleException``; DeleteRule and RemoveTargets
take ``Force`` to go through anyway. The archive's rule is AWS's first example here: an
archive receives its bus's events through ``Events-Archive-<name>``, managed by
``events.amazonaws.com``, whose pattern is the archive's with replayed events left out.
Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Final

from andromede.events.errors import ManagedRule
from andromede.events.model import Rule

__all__ = [
    "ARCHIVE_RULE_PREFIX",
    "EVENTS_PRINCIPAL",
    "archive_of_rule",
    "archive_rule_name",
    "archive_rule_pattern",
    "refuse_managed",
]

EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
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
    if rule.managed_by != EVENTS_PRINCIPAL or not rule.name.startswith(ARCHIVE_RULE_PREFIX):
        return None
    return rule.name.removeprefix(ARCHIVE_RULE_PREFIX)


def archive_rule_pattern(pattern: str | None) -> str:
    """The archive rule's pattern: the archive's (every event without one) and no replayed
    event — an event a replay sends carries ``replay-name``, which AWS never archives again."""
    document = json.loads(pattern) if pattern else {}
    document["replay-name"] = [{"exists": False}]
    return json.dumps(document, separators=(",", ":"))
