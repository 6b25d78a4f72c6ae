"""A dead-letter queue's ``RedriveAllowPolicy`` (decision 0165). Pure: no I/O.

``{"redrivePermission": "allowAll" | "denyAll" | "byQueue", "sourceQueueArns": [...]}``: which
source queues may name this queue as their dead-letter queue — every queue of the account
(``allowAll``, the default when the attribute is not set), none, or the 1 to 10 queue ARNs
listed (``byQueue`` only). It is checked when a source queue's RedrivePolicy names the queue
(CreateQueue, SetQueueAttributes), as SQS does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from andromede.queues.errors import InvalidAttributeValue

__all__ = ["MAX_SOURCE_QUEUES", "RedriveAllowPolicy", "redrive_allowed"]

MAX_SOURCE_QUEUES: Final = 10
_PERMISSIONS: Final = ("allowAll", "denyAll", "byQueue")


def _invalid(reason: str) -> InvalidAttributeValue:
    return InvalidAttributeValue(
        f"Value for parameter RedriveAllowPolicy is invalid. Reason: {reason}"
    )


@dataclass(frozen=True, slots=True)
class RedriveAllowPolicy:
    permission: str
    sources: tuple[str, ...] = ()

    @staticmethod
    def parse(text: str) -> RedriveAllowPolicy:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise _invalid("Redrive allow policy is not a valid JSON map.") from exc
        if not isinstance(data, dict):
            raise _invalid("Redrive allow policy is not a valid JSON map.")
        unknown = set(data) - {"redrivePermission", "sourceQueueArns"}
        if unknown:
            raise _invalid(f"Unknown field {sorted(unknown)[0][:64]}.")
        permission = data.get("redrivePermission")
        if permission not in _PERMISSIONS:
            raise _invalid("redrivePermission must be one of allowAll, denyAll, byQueue.")
        sources = data.get("sourceQueueArns")
        if permission != "byQueue":
            if sources is not None:
                raise _invalid(
                    "Only specify sourceQueueArns when redrivePermission is set to byQueue."
                )
            return RedriveAllowPolicy(str(permission))
        if (
            not isinstance(sources, list)
            or not all(isinstance(arn, str) and arn.startswith("arn:") for arn in sources)
            or not 1 <= len(sources) <= MAX_SOURCE_QUEUES
        ):
            raise _invalid(
                f"sourceQueueArns must list 1 to {MAX_SOURCE_QUEUES} queue ARNs when "
                "redrivePermission is byQueue."
            )
        return RedriveAllowPolicy("byQueue", tuple(sources))

    def allows(self, source_arn: str) -> bool:
        if self.permission == "allowAll":
            return True
        return self.permission == "byQueue" and source_arn in self.sources


def redrive_allowed(dead_letter_attributes: Mapping[str, str], source_arn: str) -> bool:
    """Whether a dead-letter queue (its attributes) lets ``source_arn`` use it."""
    text = dead_letter_attributes.get("RedriveAllowPolicy")
    return not text or RedriveAllowPolicy.parse(text).allows(source_arn)
