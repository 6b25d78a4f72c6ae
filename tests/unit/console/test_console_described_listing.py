"""``list_pages.describe_listed``: the listing pages' shared reading (DynamoDB tables, Kinesis
and Firehose streams, metric streams). A refused listing is the page's refusal unless an
action's came first; a refused description is only that row's; the cursor is the listing's."""

from __future__ import annotations

from typing import Any, cast

import pytest

from andromede.console.list_pages import describe_listed
from andromede.console.wire import WireError


class _Console:
    def error_text(self, request: object, exc: WireError) -> str:
        return f"{exc.message} ({exc.code})"


async def _listing(names: list[str], cursor: str | None) -> tuple[list[str], str | None]:
    return names, cursor


async def _refused_listing() -> tuple[list[str], str | None]:
    raise WireError("AccessDeniedException", "no listing", 403)


async def _describe(name: str) -> str:
    if name == "secret":
        raise WireError("AccessDeniedException", "not this one", 403)
    return name.upper()


async def test_each_name_is_described_and_a_refused_one_is_that_rows_only() -> None:
    described = await describe_listed(
        cast(Any, _Console()), cast(Any, None), _listing(["a", "secret", "b"], "b"), _describe,
        error=None, status=200,
    )  # fmt: skip
    assert described.rows == ["A", "B"]
    assert described.refused == [("secret", "not this one (AccessDeniedException)")]
    assert described.names == ["a", "secret", "b"] and described.cursor == "b"
    assert (described.error, described.status) == (None, 200)


@pytest.mark.parametrize(
    ("error", "status", "shown"),
    [
        (None, 200, ("no listing (AccessDeniedException)", 403)),
        ("the action's own refusal", 400, ("the action's own refusal", 400)),
    ],
)
async def test_a_refused_listing_is_the_pages_refusal_after_an_actions_own(
    error: str | None, status: int, shown: tuple[str, int]
) -> None:
    described = await describe_listed(
        cast(Any, _Console()), cast(Any, None), _refused_listing(), _describe,
        error=error, status=status,
    )  # fmt: skip
    assert (described.error, described.status) == shown
    assert described.rows == [] and described.cursor is None
