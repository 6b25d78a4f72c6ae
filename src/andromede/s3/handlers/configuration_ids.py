"""What S3's id-addressed bucket configurations (inventory, decision 0154; metrics, decision
0187) share: the ``id`` of the query checked as S3 checks it (1 to 64 letters, digits, ``-``,
``_`` or ``.``), and their lists' pages of 100 after a ``continuation-token``, which is the last
id of the page before."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Protocol, TypeVar

from andromede.s3.errors import S3Error
from andromede.s3.request import S3Context

__all__ = ["CONFIGURATION_ID", "configuration_id", "configurations_page"]

CONFIGURATION_ID: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_LIST_PAGE: Final = 100  # S3 lists 100 configurations a page


class _Identified(Protocol):
    @property
    def config_id(self) -> str: ...


_C = TypeVar("_C", bound=_Identified)


def configuration_id(ctx: S3Context, kind: str) -> str:
    """The query's ``id``: ``InvalidArgument`` when missing (S3's "<kind> configuration id is
    required") or not an id."""
    config_id = ctx.query.get("id")
    if not config_id:
        raise S3Error("InvalidArgument", f"{kind} configuration id is required", ArgumentName="id")
    if not CONFIGURATION_ID.fullmatch(config_id):
        raise S3Error("InvalidArgument", "Invalid ID", ArgumentName="id", ArgumentValue=config_id)
    return config_id


def configurations_page(configs: Sequence[_C], token: str | None) -> tuple[list[_C], bool]:
    """The page of ``configs`` (sorted by id here) after ``token``, and whether more follow;
    a token that is no id is S3's ``InvalidArgument``."""
    ordered = sorted(configs, key=lambda c: c.config_id)
    if token is not None:
        if not CONFIGURATION_ID.fullmatch(token):
            raise S3Error(
                "InvalidArgument",
                "The continuation token provided is incorrect",
                ArgumentName="continuation-token",
            )
        ordered = [c for c in ordered if c.config_id > token]
    return ordered[:_LIST_PAGE], len(ordered) > _LIST_PAGE
