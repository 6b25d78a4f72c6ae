"""PutEvents' authorisation entry by entry (decision 0318).

AWS judges PutEvents on the bus with each entry's ``events:source`` and ``events:detail-type``
(and ``events:eventBusInvocation`` false: decision 0273) and answers an entry its policies
refuse in its own place, the others going on: ``NotAuthorizedForSourceException`` ("You do
not have permissions to publish events with this source onto this event bus"),
``NotAuthorizedForDetailTypeException`` (the same of its detail type), or
``AccessDeniedException``. A caller allowed no such event at all on the bus is refused the
call, as an unauthorised PutEvents is.

Which of the two keys refused an entry is not in the engine's answer (a refusal is an
implicit deny, or a Deny statement); :func:`entry_refusals` finds it by judging the entry
again with another value of one key — the values the caller's policies and the bus's policy
compare that key with, and one they name nowhere — the other key kept: a source that would
pass with the entry's detail type means the source is what refused it. These second
judgements only name an error; they never let an entry in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.iam.policy import PolicyDocument
from andromede.iam.policy.context import ContextValue

__all__ = [
    "ACCESS_DENIED",
    "BusJudge",
    "EntryRefusal",
    "condition_values",
    "entry_refusals",
    "put_events_keys",
]

ACCESS_DENIED: Final = "AccessDeniedException"
_SOURCE: Final = "events:source"
_DETAIL_TYPE: Final = "events:detail-type"
# A value no policy names: an entry that passes with it was refused for the value it had
# (a Deny naming that source, say).
_UNNAMED: Final = "\x00"
# The values of one key tried, at most: the second judgements are bounded whatever the
# policies hold (they run only for an entry refused).
_MAX_PROBES: Final = 16


@dataclass(frozen=True, slots=True)
class EntryRefusal:
    code: str
    message: str


_REFUSALS: Final = {
    _SOURCE: EntryRefusal(
        "NotAuthorizedForSourceException",
        "You do not have permissions to publish events with this source onto this event bus.",
    ),
    _DETAIL_TYPE: EntryRefusal(
        "NotAuthorizedForDetailTypeException",
        "You do not have permissions to publish events with this detail type onto this "
        "event bus.",
    ),
    ACCESS_DENIED: EntryRefusal(ACCESS_DENIED, "You do not have sufficient access to perform "
                                "this action."),
}  # fmt: skip


class BusJudge(Protocol):
    """The caller's policies and one bus's policy for ``events:PutEvents`` on that bus."""

    async def allows(self, keys: Mapping[str, ContextValue]) -> bool:
        """Whether the request with these condition keys is allowed."""
        ...

    def named_values(self, key: str) -> Sequence[str]:
        """The values the policies compare ``key`` with (distinct, in their order)."""
        ...


def put_events_keys(source: str, detail_type: str) -> dict[str, ContextValue]:
    """The condition keys AWS gives PutEvents for one entry (its service authorisation
    reference: ``events:source``, ``events:detail-type``, ``events:eventBusInvocation``;
    no ``events:detail.*``, which are PutRule's)."""
    return {"events:eventBusInvocation": False, _SOURCE: source, _DETAIL_TYPE: detail_type}


async def entry_refusals(
    judge: BusJudge, kinds: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], EntryRefusal] | None:
    """The (source, detail type) pairs of one bus's entries that the policies refuse, each
    with its error; None when they refuse every pair and no single key explains it (the
    caller may put no such event here: the call is refused)."""
    refused = [kind for kind in kinds if not await judge.allows(put_events_keys(*kind))]
    if not refused:
        return {}
    sources = _probes(judge.named_values(_SOURCE))
    detail_types = _probes(judge.named_values(_DETAIL_TYPE))
    found = {kind: await _refusal(judge, kind, sources, detail_types) for kind in refused}
    if len(refused) == len(kinds) and all(r.code == ACCESS_DENIED for r in found.values()):
        return None
    return found


async def _refusal(
    judge: BusJudge, kind: tuple[str, str], sources: list[str], detail_types: list[str]
) -> EntryRefusal:
    source, detail_type = kind
    for other in sources:
        if other != source and await judge.allows(put_events_keys(other, detail_type)):
            return _REFUSALS[_SOURCE]
    for other in detail_types:
        if other != detail_type and await judge.allows(put_events_keys(source, other)):
            return _REFUSALS[_DETAIL_TYPE]
    # Both refuse: the source is named, as it is judged first.
    for other_source in sources:
        for other_type in detail_types:
            if await judge.allows(put_events_keys(other_source, other_type)):
                return _REFUSALS[_SOURCE]
    return _REFUSALS[ACCESS_DENIED]


def _probes(named: Sequence[str]) -> list[str]:
    return [*list(dict.fromkeys(named))[: _MAX_PROBES - 1], _UNNAMED]


def condition_values(documents: Sequence[PolicyDocument | None], key: str) -> list[str]:
    """The values ``documents``' conditions compare ``key`` with (its name case-insensitive,
    as IAM's), ``Null``'s ``true``/``false`` left out."""
    wanted = key.lower()
    values: dict[str, None] = {}
    for document in documents:
        if document is None:
            continue
        for statement in document.statements:
            for clause in statement.conditions:
                if clause.key.lower() == wanted and clause.base_operator != "Null":
                    values.update(dict.fromkeys(clause.values))
    return list(values)
