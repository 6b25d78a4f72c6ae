"""Pages of a function's per-qualifier configurations — its asynchronous invocation configs
(decision 0300), URLs (0312) and provisioned concurrency (0314): Lambda's ``MaxItems`` (1 to 50,
50 when absent) and ``Marker`` (the qualifier a page ended on; one the function does not have
is refused, as AWS refuses a marker it did not give), listed once the function is found."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from andromede.functions.errors import InvalidParameterValue

if TYPE_CHECKING:
    from andromede.functions.service import FunctionsService

__all__ = ["MAX_QUALIFIER_PAGE", "function_qualifier_page", "qualifier_page"]

MAX_QUALIFIER_PAGE: Final = 50


class _Qualified(Protocol):
    @property
    def qualifier(self) -> str: ...


Config = TypeVar("Config", bound=_Qualified)


class _FunctionConfigs(Protocol[Config]):
    async def configs(self, tenant_id: str, name: str) -> list[Config]: ...


async def function_qualifier_page(
    functions: FunctionsService,
    store: _FunctionConfigs[Config],
    tenant_id: str,
    name: str,
    marker: object,
    max_items: object,
) -> tuple[list[Config], str | None]:
    """A List operation's page of the function's configurations in ``store``, once the
    function is found (its ResourceNotFound otherwise)."""
    await functions.record(tenant_id, name)
    return qualifier_page(await store.configs(tenant_id, name), marker, max_items)


def qualifier_page(
    found: Sequence[Config], marker: object, max_items: object
) -> tuple[list[Config], str | None]:
    """The page of ``found`` (sorted by qualifier) after ``marker``, and the next marker."""
    size = _page_size(max_items)
    after = None if marker in (None, "") else str(marker)
    rest = list(found)
    if after is not None:
        if after not in {c.qualifier for c in rest}:
            raise InvalidParameterValue("Invalid Marker")
        rest = [c for c in rest if c.qualifier > after]
    page = rest[:size]
    return page, page[-1].qualifier if len(rest) > size else None


def _page_size(value: object) -> int:
    if value is None:
        return MAX_QUALIFIER_PAGE
    try:
        size = int(str(value))
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_QUALIFIER_PAGE:
        raise InvalidParameterValue(f"MaxItems must be between 1 and {MAX_QUALIFIER_PAGE}")
    return size
