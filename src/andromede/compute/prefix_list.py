"""A customer-managed prefix list's record and EC2's rules for it, pure (decision 0149).

A **managed prefix list** (``pl-…``) names a set of CIDR blocks of one address family (IPv4
or IPv6) once, so that many security group rules can reference it. It holds at most
``MaxEntries`` entries (a CIDR and an optional description), and every change of its entries
makes a **new version**: the list keeps its current version's entries and, in
:attr:`ManagedPrefixList.history`, the entries of earlier versions (the most recent ones, as
many as the operator keeps), which GetManagedPrefixListEntries' ``TargetVersion`` reads and
RestoreManagedPrefixListVersion copies into a new version. A change names the version it was
computed from (``CurrentVersion``), so two writers cannot both win.

A security group rule referencing a list stands for one rule per entry of its current
version: the hosts are given plain CIDRs (:func:`andromede.compute.network.merge_firewall`).
Against a group's rules quota, EC2 counts such a reference as the list's ``MaxEntries`` rules,
whatever it holds now (:func:`rules_weight`).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from andromede.compute.errors import (
    InvalidParameterValue,
    PrefixListMaxEntriesExceeded,
    PrefixListModification,
    PrefixListVersionMismatch,
)
from andromede.compute.model import FORMAT_VERSION, Rule, Tags

__all__ = [
    "ADDRESS_FAMILIES",
    "MAX_CHANGES",
    "ManagedPrefixList",
    "PrefixListEntry",
    "PrefixListState",
    "PrefixListVersion",
    "check_entries",
    "check_family",
    "check_max_entries",
    "check_name",
    "modified",
    "resized",
    "restored",
    "rules_weight",
]

ADDRESS_FAMILIES: Final = ("IPv4", "IPv6")
# EC2: at most 100 entries added or removed by one ModifyManagedPrefixList.
MAX_CHANGES: Final = 100
_NAME_MAX: Final = 255
_DESCRIPTION_MAX: Final = 255
# Names EC2 keeps for the AWS-managed lists.
_RESERVED_NAME: Final = "com.amazonaws"


class PrefixListState(enum.StrEnum):
    """EC2's states of a managed prefix list. Every change is done when its call answers, so
    a list is always in a ``-complete`` state; a deleted list is gone (not found)."""

    CREATE_COMPLETE = "create-complete"
    MODIFY_COMPLETE = "modify-complete"
    RESTORE_COMPLETE = "restore-complete"


@dataclass(frozen=True, slots=True)
class PrefixListEntry:
    cidr: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class PrefixListVersion:
    version: int
    entries: tuple[PrefixListEntry, ...]


@dataclass(frozen=True, slots=True)
class ManagedPrefixList:
    prefix_list_id: str
    tenant_id: str
    name: str
    address_family: str  # "IPv4" or "IPv6"
    max_entries: int
    # The current version and its entries, in the order they were added.
    version: int
    entries: tuple[PrefixListEntry, ...]
    state: PrefixListState = PrefixListState.CREATE_COMPLETE
    # Earlier versions, oldest first: the most recent ``prefix_list_versions_kept``.
    history: tuple[PrefixListVersion, ...] = ()
    tags: Tags = ()
    # CreateManagedPrefixList's ClientToken and a digest of its request.
    client_token: str | None = None
    request_digest: str = ""
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.prefix_list_id

    @property
    def cidrs(self) -> tuple[str, ...]:
        return tuple(entry.cidr for entry in self.entries)

    def entries_at(self, version: int | None) -> tuple[PrefixListEntry, ...]:
        """The entries of ``version`` (None: the current one); InvalidParameterValue for a
        version the list never had or no longer keeps."""
        if version is None or version == self.version:
            return self.entries
        for kept in self.history:
            if kept.version == version:
                return kept.entries
        raise InvalidParameterValue(
            f"The prefix list {self.prefix_list_id} has no version {version}"
            + (" kept" if 0 < version < self.version else "")
        )


def check_name(name: str) -> str:
    if not 1 <= len(name) <= _NAME_MAX:
        raise InvalidParameterValue(f"A prefix list name is 1 to {_NAME_MAX} characters")
    if name.lower().startswith(_RESERVED_NAME):
        raise InvalidParameterValue(f"The prefix list name cannot start with '{_RESERVED_NAME}'")
    return name


def check_family(family: str) -> str:
    if family not in ADDRESS_FAMILIES:
        raise InvalidParameterValue(
            f"Value ({family[:32]}) for parameter AddressFamily is invalid."
            " Valid values are IPv4 and IPv6"
        )
    return family


def check_max_entries(max_entries: int, ceiling: int) -> int:
    if not 1 <= max_entries <= ceiling:
        raise InvalidParameterValue(
            f"The maximum number of entries must be between 1 and {ceiling}"
        )
    return max_entries


def _entry(cidr: str, description: str, family: str) -> PrefixListEntry:
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise InvalidParameterValue(f"The CIDR block {cidr[:64]} is malformed") from None
    if (network.version == 6) != (family == "IPv6"):
        raise InvalidParameterValue(
            f"The CIDR block {cidr[:64]} is not of the prefix list's address family ({family})"
        )
    if len(description) > _DESCRIPTION_MAX:
        raise InvalidParameterValue(
            f"An entry's description is at most {_DESCRIPTION_MAX} characters"
        )
    return PrefixListEntry(str(network), description)


def check_entries(given: Sequence[tuple[str, str]], family: str) -> tuple[PrefixListEntry, ...]:
    """Entries as EC2 takes them: CIDRs of the list's family (host bits clear), each once,
    descriptions of at most 255 characters; normalised as EC2 answers them."""
    entries: dict[str, PrefixListEntry] = {}
    for cidr, description in given:
        entry = _entry(cidr, description, family)
        if entry.cidr in entries:
            raise InvalidParameterValue(f"The CIDR {entry.cidr} is given more than once")
        entries[entry.cidr] = entry
    return tuple(entries.values())


def _check_version(plist: ManagedPrefixList, current: int | None) -> None:
    if current is not None and current != plist.version:
        raise PrefixListVersionMismatch("The prefix list has the incorrect version number.")


def _next_version(
    plist: ManagedPrefixList, entries: tuple[PrefixListEntry, ...], kept: int
) -> tuple[int, tuple[PrefixListVersion, ...]]:
    history = (*plist.history, PrefixListVersion(plist.version, plist.entries))
    return plist.version + 1, history[-kept:] if kept > 0 else ()


def modified(
    plist: ManagedPrefixList,
    *,
    current_version: int | None,
    add: Sequence[tuple[str, str]],
    remove: Sequence[str],
    name: str | None,
    kept: int,
) -> ManagedPrefixList:
    """ModifyManagedPrefixList without ``MaxEntries``: the list renamed and/or with entries
    added and removed. A change of entries needs ``CurrentVersion`` and makes a new version; a
    new name alone does not (EC2)."""
    changed = plist if name is None else replace(plist, name=check_name(name))
    if not add and not remove:
        _check_version(plist, current_version)
        return replace(changed, state=PrefixListState.MODIFY_COMPLETE)
    if current_version is None:
        raise InvalidParameterValue("CurrentVersion is required to change a prefix list's entries")
    _check_version(plist, current_version)
    if len(add) > MAX_CHANGES or len(remove) > MAX_CHANGES:
        raise InvalidParameterValue(
            f"The request cannot contain more than {MAX_CHANGES} entry additions or removals"
        )
    added = check_entries(add, plist.address_family)
    removed = [_entry(cidr, "", plist.address_family).cidr for cidr in remove]
    both = {e.cidr for e in added} & set(removed)
    if both:
        raise InvalidParameterValue(
            f"Request cannot contain Cidr {min(both)} in both AddPrefixListEntries and"
            " RemovePrefixListEntries"
        )
    held = {entry.cidr for entry in plist.entries}
    for cidr in removed:
        if cidr not in held:
            raise PrefixListModification(
                f"The request cannot be completed. The CIDR '{cidr}' does not exist."
            )
    for entry in added:
        if entry.cidr in held:
            raise PrefixListModification(
                f"The request cannot be completed. The CIDR '{entry.cidr}' already exists."
            )
    entries = (*(e for e in plist.entries if e.cidr not in removed), *added)
    if len(entries) > plist.max_entries:
        raise PrefixListMaxEntriesExceeded(
            f"The prefix list {plist.prefix_list_id} would exceed its maximum number of entries"
            f" ({plist.max_entries})."
        )
    version, history = _next_version(plist, entries, kept)
    return replace(
        changed,
        entries=entries,
        version=version,
        history=history,
        state=PrefixListState.MODIFY_COMPLETE,
    )


def resized(
    plist: ManagedPrefixList, max_entries: int, ceiling: int, current_version: int | None
) -> ManagedPrefixList:
    """ModifyManagedPrefixList's ``MaxEntries`` (alone, as EC2 wants it): never below the
    entries held; the version stays."""
    _check_version(plist, current_version)
    check_max_entries(max_entries, ceiling)
    if max_entries < len(plist.entries):
        raise PrefixListModification(
            f"The maximum number of entries ({max_entries}) cannot be less than the number of"
            f" entries in the prefix list ({len(plist.entries)})."
        )
    return replace(plist, max_entries=max_entries, state=PrefixListState.MODIFY_COMPLETE)


def restored(
    plist: ManagedPrefixList, previous_version: int, current_version: int, kept: int
) -> ManagedPrefixList:
    """RestoreManagedPrefixListVersion: a new version holding ``previous_version``'s entries."""
    _check_version(plist, current_version)
    if previous_version >= plist.version or previous_version < 1:
        raise InvalidParameterValue(
            f"The version to restore ({previous_version}) must be earlier than the current"
            f" version ({plist.version})"
        )
    entries = plist.entries_at(previous_version)
    if len(entries) > plist.max_entries:
        raise PrefixListMaxEntriesExceeded(
            f"Version {previous_version} holds more entries than the prefix list's maximum"
            f" ({plist.max_entries})."
        )
    version, history = _next_version(plist, entries, kept)
    return replace(
        plist,
        entries=entries,
        version=version,
        history=history,
        state=PrefixListState.RESTORE_COMPLETE,
    )


def rules_weight(rules: Sequence[Rule], max_entries: Mapping[str, int]) -> int:
    """How many rules ``rules`` count for against a group's quota, as EC2 counts them: one
    each, a prefix list's reference as many as the list's ``MaxEntries``."""
    return sum(
        max_entries.get(rule.prefix_list_id, 1) if rule.prefix_list_id else 1 for rule in rules
    )
