"""Decision 0190's pure rules: names, ARNs, the staging labels' moves and ListSecrets'
filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.secrets.errors import InvalidParameter
from andromede.secrets.model import (
    CURRENT,
    PREVIOUS,
    Secret,
    check_name,
    matches,
    move_stage,
    new_arn,
    parse_arn,
)

T0 = datetime(2026, 12, 5, tzinfo=UTC)


def test_names_and_arns() -> None:
    assert check_name("prod/db_pass+1=a.b@c-d") == "prod/db_pass+1=a.b@c-d"
    for bad in ("", "a b", "é", "x" * 513, "a*b"):
        with pytest.raises(InvalidParameter):
            check_name(bad)
    arn = new_arn("eu-fr-1", "123456789012", "prod/db")
    assert arn.startswith("arn:aws:secretsmanager:eu-fr-1:123456789012:secret:prod/db-")
    assert len(arn.rsplit("-", 1)[1]) == 6
    assert parse_arn(arn) == ("eu-fr-1", "123456789012", arn.split(":secret:")[1])
    assert parse_arn("prod/db") is None
    assert arn != new_arn("eu-fr-1", "123456789012", "prod/db")  # random suffixes


def test_current_moves_and_leaves_previous() -> None:
    stages = {"v1": (CURRENT,), "v2": ()}
    moved = move_stage(stages, CURRENT, "v2")
    assert moved == {"v1": (PREVIOUS,), "v2": (CURRENT,)}
    again = move_stage({**moved, "v3": ()}, CURRENT, "v3")
    assert again == {"v1": (), "v2": (PREVIOUS,), "v3": (CURRENT,)}
    custom = move_stage(again, "blue", "v1")
    assert custom["v1"] == ("blue",)
    assert move_stage(custom, "blue", None)["v1"] == ()
    assert move_stage(again, CURRENT, "v3") == again  # already there: nothing moves


def test_filters() -> None:
    secret = Secret(
        "arn", "t", "r", "prod/db", T0, T0, description="Main DATABASE", tags=(("team", "pay"),)
    )
    assert matches(secret, [])
    assert matches(secret, [("name", ["prod"])])
    assert not matches(secret, [("name", ["Prod"])])  # case-sensitive
    assert matches(secret, [("description", ["main d"])])  # folded
    assert matches(secret, [("tag-key", ["te"]), ("tag-value", ["pa"])])
    assert not matches(secret, [("tag-key", ["!te"])])
    assert matches(secret, [("name", ["!dev"])])
    assert matches(secret, [("name", ["dev", "prod"])])  # one value of a filter suffices
    assert matches(secret, [("all", ["DATA"])])
    assert not matches(secret, [("all", ["nothing"])])
