"""Decision 0186's PutLogEvents batch rules and position tokens, as AWS states them: at most
10,000 events and 1,048,576 bytes counting 26 bytes an event, in chronological order within
24 hours, else refused whole; events older than 14 days, than the group's retention, or
more than 2 hours ahead rejected by index, the rest accepted."""

from __future__ import annotations

import pytest

from andromede.logs.errors import InvalidParameter
from andromede.logs.model import (
    InputEvent,
    Position,
    check_batch,
    check_group_name,
    check_stream_name,
    parse_position_token,
    position_token,
)

NOW = 1_800_000_000_000
DAY = 86_400_000
HOUR = 3_600_000


def test_all_accepted() -> None:
    events = [InputEvent(NOW - 1000, "a"), InputEvent(NOW, "b")]
    result = check_batch(events, now=NOW, retention_days=None, max_events=2, max_bytes=1_048_576)
    assert result.accepted == events and result.rejected_info() == {}


def test_size_counts_26_bytes_an_event() -> None:
    message = "x" * (1_048_576 - 26)
    check_batch(
        [InputEvent(NOW, message)], now=NOW, retention_days=None, max_events=1, max_bytes=1_048_576
    )
    with pytest.raises(InvalidParameter, match="Upload too large"):
        check_batch(
            [InputEvent(NOW, message + "é")],
            now=NOW,
            retention_days=None,
            max_events=1,
            max_bytes=1_048_576,
        )


@pytest.mark.parametrize(
    ("events", "words"),
    [
        ([], "at least one"),
        ([InputEvent(NOW, "a")] * 3, "less than or equal to 2"),
        ([InputEvent(NOW, "b"), InputEvent(NOW - 1, "a")], "chronological"),
        ([InputEvent(NOW - DAY - 1, "a"), InputEvent(NOW, "b")], "24 hours"),
        ([InputEvent(NOW, "")], "empty"),
    ],
)
def test_refused_whole(events: list[InputEvent], words: str) -> None:
    with pytest.raises(InvalidParameter, match=words):
        check_batch(events, now=NOW, retention_days=None, max_events=2, max_bytes=1_048_576)


def rules(
    events: list[InputEvent], retention: int | None = None
) -> tuple[dict[str, int], list[str]]:
    result = check_batch(
        events, now=NOW, retention_days=retention, max_events=10, max_bytes=1_048_576
    )
    return result.rejected_info(), [e.message for e in result.accepted]


def test_rejected_indexes() -> None:
    assert rules(
        [
            InputEvent(NOW - 14 * DAY - 2, "too old"),
            InputEvent(NOW - 14 * DAY - 1, "too old too"),
            InputEvent(NOW - 14 * DAY + 5, "kept"),
        ]
    ) == ({"tooOldLogEventEndIndex": 1}, ["kept"])
    assert rules(
        [
            InputEvent(NOW - DAY - 5, "expired under 1 day"),
            InputEvent(NOW - 1000, "kept"),
        ],
        retention=1,
    ) == ({"expiredLogEventEndIndex": 0}, ["kept"])
    assert rules(
        [
            InputEvent(NOW - 1000, "kept"),
            InputEvent(NOW + 2 * HOUR, "kept: exactly 2 h ahead"),
            InputEvent(NOW + 2 * HOUR + 1, "too new"),
        ]
    ) == ({"tooNewLogEventStartIndex": 2}, ["kept", "kept: exactly 2 h ahead"])
    assert rules([InputEvent(NOW + 3 * HOUR, "too new")]) == ({"tooNewLogEventStartIndex": 0}, [])


def test_tokens_round_trip_and_refuse_others() -> None:
    token = position_token("f", Position(NOW, 42))
    assert token.startswith("f/") and parse_position_token(token) == ("f", Position(NOW, 42))
    assert parse_position_token(position_token("b", Position(0, 1)))[0] == "b"
    for bad in ("", "x/1/2", "f/1", "f/a/2", "f/1/2/3"):
        with pytest.raises(InvalidParameter, match="nextToken"):
            parse_position_token(bad)


def test_names() -> None:
    assert check_group_name("/aws/lambda/my-fn_1.#x") == "/aws/lambda/my-fn_1.#x"
    for bad in ("", "a" * 513, "bad name", "é", 5):
        with pytest.raises(InvalidParameter, match="logGroupName"):
            check_group_name(bad)
    assert check_stream_name("2026/12/05/[$LATEST]abc") == "2026/12/05/[$LATEST]abc"
    for bad in ("", "a:b", "a*", "x" * 513):
        with pytest.raises(InvalidParameter, match="logStreamName"):
            check_stream_name(bad)
