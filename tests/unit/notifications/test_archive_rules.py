"""Decision 0175's pure rules: ArchivePolicy and ReplayPolicy as SNS takes them, the
BeginningArchiveTime that follows the retention, an archived record's round trip, and the
tags' key and value rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from andromede.notifications.archive import (
    ArchivedMessage,
    ReplayWindow,
    beginning_archive_time,
    check_archive_policy,
    check_replay_policy,
    format_time,
    retention_days,
)
from andromede.notifications.errors import InvalidTopic, TagLimitExceeded
from andromede.notifications.tags import check_tags, untagged

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ('{"MessageRetentionPeriod": 1}', 1),
        ('{"MessageRetentionPeriod": "365"}', 365),
        ("{}", None),
        ("", None),
    ],
)
def test_archive_policies_taken(text: str, days: int | None) -> None:
    kept = check_archive_policy(text)
    assert retention_days(None if kept == "{}" else kept) == days


@pytest.mark.parametrize(
    "text",
    [
        '{"MessageRetentionPeriod": 0}',
        '{"MessageRetentionPeriod": 366}',
        '{"MessageRetentionPeriod": true}',
        '{"MessageRetentionPeriod": "7 days"}',
        '{"MessageRetentionPeriod": 7, "Other": 1}',
        "[7]",
        "not json",
    ],
)
def test_archive_policies_refused(text: str) -> None:
    with pytest.raises(InvalidTopic):
        check_archive_policy(text)


def test_the_beginning_follows_the_retention() -> None:
    started = format_time(NOW)
    assert beginning_archive_time(started, 3, NOW + timedelta(days=1)) == started
    later = NOW + timedelta(days=10)
    assert beginning_archive_time(started, 3, later) == format_time(later - timedelta(days=3))


def test_replay_policies() -> None:
    start = NOW - timedelta(hours=1)
    policy = f'{{"PointType": "Timestamp", "StartingPoint": "{format_time(start)}"}}'
    assert check_replay_policy(policy, NOW) == ReplayWindow(start, None)
    ended = (
        '{"PointType": "Timestamp", "StartingPoint": "2026-12-05T10:00:00Z", '
        '"EndingPoint": "2026-12-05T11:00:00+00:00"}'
    )
    window = check_replay_policy(ended, NOW)
    assert window is not None and window.end == NOW - timedelta(hours=1)
    assert check_replay_policy("{}", NOW) is None
    refused = [
        '{"PointType": "Timestamp", "StartingPoint": "2026-12-05T13:00:00Z"}',  # future
        '{"PointType": "Timestamp", "StartingPoint": 1733400000}',
        '{"PointType": "Timestamp", "StartingPoint": "2026-12-05T10:00:00Z", "Extra": 1}',
        '{"StartingPoint": "2026-12-05T10:00:00Z"}',
        '"text"',
    ]
    for text in refused:
        with pytest.raises(InvalidTopic):
            check_replay_policy(text, NOW)


def test_an_archived_record_round_trips() -> None:
    message = ArchivedMessage(
        "id-1", "10000000000000000001", "g", "d", "body", None, {"k": ("String", "v")}, None, NOW
    )
    assert ArchivedMessage.of_record(message.record()) == message
    with pytest.raises(ValueError, match="format"):
        ArchivedMessage.of_record('{"format_version": 9}')


def test_tag_rules() -> None:
    assert check_tags({"a": "1"}, [("b", ""), ("a", "2")], limit=2) == {"a": "2", "b": ""}
    with pytest.raises(TagLimitExceeded):
        check_tags({"a": "1"}, [("b", "2")], limit=1)
    for key, value in (("", "v"), ("aws:x", "v"), ("k" * 129, "v"), ("k", "v" * 257), ("k#", "v")):
        with pytest.raises(InvalidTopic):
            check_tags({}, [(key, value)], limit=50)
    assert untagged({"a": "1", "b": "2"}, ["a", "zz"]) == {"b": "2"}
