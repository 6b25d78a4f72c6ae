"""One Region's view of a store that the deployment's Regions share: how a regional
resource's name is kept in a store keyed by (account, name), shared by DynamoDB's tables
(decision 0265) and EventBridge's buses (decision 0349).

The deployment's default Region (``home``) keeps its resources under their own names, as
before other Regions were served; any other Region's are kept under ``~<region>~<name>``.
``~`` is outside the names' alphabets, so no name of one Region meets one of another, and it
sorts after every name character, so a Region's names are one contiguous run of the store's
order (a listing pages within it). No migration: the prefix lives in the existing key.

Neutral ground below the bounded contexts: each context's view (:class:`RegionalView`'s
subclasses) renames its own records on the way in and out.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

__all__ = ["RegionalView", "region_of_stored", "stored_name"]

_MARK: Final = "~"

StoreT = TypeVar("StoreT")


def stored_name(region: str, home: str, name: str) -> str:
    """The name ``name`` of ``region`` is kept under in the store."""
    return name if region == home else f"{_MARK}{region}{_MARK}{name}"


def region_of_stored(stored: str) -> str | None:
    """The Region a stored name is of; None: the default Region's (kept under its own)."""
    if not stored.startswith(_MARK):
        return None
    region, mark, _ = stored[1:].partition(_MARK)
    return region if mark else None


class RegionalView(Generic[StoreT]):
    """``store`` as ``region`` sees it: the renaming its subclasses apply."""

    def __init__(self, store: StoreT, region: str, home: str) -> None:
        self.inner = store
        self.region = region
        self._home = home
        self._prefix = "" if region == home else f"{_MARK}{region}{_MARK}"

    def _in(self, name: str) -> str:
        return self._prefix + name

    def _out(self, name: str) -> str:
        return name.removeprefix(self._prefix)

    def _mine(self, name: str) -> bool:
        return name.startswith(self._prefix) if self._prefix else not name.startswith(_MARK)
