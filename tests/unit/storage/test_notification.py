"""A bucket's notification configuration and the S3 event messages it queues (decision 0132):
rule matching by event type and key filter, S3's overlap rule, the stored form, and the
message's fields as AWS documents them (eventVersion 2.1, the key URL-encoded, a sequencer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from andromede.storage.notification import (
    EventBatch,
    EventSource,
    NotificationConfiguration,
    TopicRule,
    attribute_filtered_removals,
    event_time,
    overlapping,
)

NOW = datetime(2026, 12, 4, 21, 50, 44, 123456, tzinfo=UTC)
ARN = "arn:aws:sns:eu-paris-1:t1:events"


def rule(
    events: tuple[str, ...] = ("s3:ObjectCreated:*",),
    prefix: str | None = None,
    suffix: str | None = None,
    rule_id: str = "r",
) -> TopicRule:
    return TopicRule(rule_id, ARN, events, prefix, suffix)


@pytest.mark.parametrize(
    ("configured", "event", "selected"),
    [
        ("s3:ObjectCreated:*", "ObjectCreated:Put", True),
        ("s3:ObjectCreated:*", "ObjectCreated:CompleteMultipartUpload", True),
        ("s3:ObjectCreated:*", "ObjectRemoved:Delete", False),
        ("s3:ObjectCreated:Put", "ObjectCreated:Copy", False),
        ("s3:ObjectRemoved:*", "ObjectRemoved:DeleteMarkerCreated", True),
        ("s3:ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated", False),
    ],
)
def test_event_types_select_as_on_s3(configured: str, event: str, selected: bool) -> None:
    assert rule((configured,)).selects(event, "k") is selected


def test_the_key_filter_takes_a_prefix_and_a_suffix() -> None:
    filtered = rule(prefix="images/", suffix=".jpg")
    assert filtered.selects("ObjectCreated:Put", "images/cat.jpg")
    assert not filtered.selects("ObjectCreated:Put", "images/cat.png")
    assert not filtered.selects("ObjectCreated:Put", "docs/cat.jpg")


@pytest.mark.parametrize(
    ("first", "second", "ambiguous"),
    [
        (rule(), rule(), True),  # no filter overlaps everything
        (rule(prefix="a/"), rule(prefix="b/"), False),
        (rule(prefix="a/"), rule(prefix="a/b/"), True),
        (rule(suffix=".jpg"), rule(suffix="g"), True),
        (rule(suffix=".jpg"), rule(suffix=".png"), False),
        (rule(prefix="a/", suffix=".jpg"), rule(prefix="a/", suffix=".png"), False),
        # Other event types: no event could belong to both.
        (rule(), rule(("s3:ObjectRemoved:*",)), False),
        (rule(("s3:ObjectCreated:Put",)), rule(("s3:ObjectCreated:*",)), True),
    ],
)
def test_overlapping_rules_are_found(first: TopicRule, second: TopicRule, ambiguous: bool) -> None:
    assert overlapping([first, second]) is ambiguous


def test_the_stored_form_round_trips_with_a_format_version() -> None:
    config = NotificationConfiguration((rule(prefix="a/"), rule(rule_id="two", suffix=".x")))
    text = config.to_text()
    assert json.loads(text)["format_version"] == 1
    assert NotificationConfiguration.from_text(text) == config
    with pytest.raises(ValueError, match="format"):
        NotificationConfiguration.from_text('{"format_version": 99, "topics": []}')


def test_the_message_is_s3s_event_record() -> None:
    made = EventBatch.of(
        NotificationConfiguration((rule(rule_id="created"),)),
        EventSource("ObjectCreated:Put", "arn:aws:iam::t1:user/ana", "192.0.2.7", "req-9"),
        tenant_id="t1",
        bucket="photos",
        owner_id="owner-1",
        region="eu-paris-1",
        key="summer/red flower+é.jpg",
        now=NOW,
        bound=10,
        size=42,
        etag="d41d8cd98f00b204e9800998ecf8427e",
    )
    assert made is not None
    (event,) = made.events
    assert (event.tenant_id, event.topic_arn) == ("t1", ARN)
    (record,) = json.loads(event.message("v-1"))["Records"]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "eu-paris-1"
    assert record["eventTime"] == "2026-12-04T21:50:44.123Z"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["userIdentity"] == {"principalId": "arn:aws:iam::t1:user/ana"}
    assert record["requestParameters"] == {"sourceIPAddress": "192.0.2.7"}
    assert record["responseElements"]["x-amz-request-id"] == "req-9"
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    assert s3["configurationId"] == "created"
    assert s3["bucket"] == {
        "name": "photos",
        "ownerIdentity": {"principalId": "owner-1"},
        "arn": "arn:aws:s3:::photos",
    }
    obj = s3["object"]
    # URL-encoded as S3 does it: a space is '+', '+' itself '%2B', the slash kept.
    assert obj["key"] == "summer/red+flower%2B%C3%A9.jpg"
    assert (obj["size"], obj["eTag"], obj["versionId"]) == (
        42,
        "d41d8cd98f00b204e9800998ecf8427e",
        "v-1",
    )
    assert int(obj["sequencer"], 16) > 0 and len(obj["sequencer"]) >= 16
    # Unversioned: no versionId at all.
    assert "versionId" not in json.loads(event.message(None))["Records"][0]["s3"]["object"]


def test_no_rule_no_batch() -> None:
    config = NotificationConfiguration((rule(prefix="logs/"),))
    source = EventSource("ObjectCreated:Put", "p", "", "r")
    common = {
        "tenant_id": "t1",
        "bucket": "b",
        "owner_id": "o",
        "region": "eu",
        "now": NOW,
        "bound": 1,
    }
    assert EventBatch.of(config, source, key="other/k", **common) is None  # type: ignore[arg-type]
    assert EventBatch.of(None, source, key="logs/k", **common) is None  # type: ignore[arg-type]
    assert EventBatch.of(config, None, key="logs/k", **common) is None  # type: ignore[arg-type]


def test_event_time_has_milliseconds() -> None:
    assert event_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000Z"


# Increment 3: RGW's S3Metadata and S3Tags filters.
def filtered(
    metadata: tuple[tuple[str, str], ...] = (),
    tags: tuple[tuple[str, str], ...] = (),
    events: tuple[str, ...] = ("s3:ObjectCreated:*",),
    rule_id: str = "r",
) -> TopicRule:
    return TopicRule(rule_id, ARN, events, metadata=metadata, tags=tags)


@pytest.mark.parametrize(
    ("user_metadata", "tags", "selected"),
    [
        # Every pair present, other entries beside them: selected (RGW's "all must match").
        ({"color": "blue", "size": "xl"}, (("team", "ops"), ("env", "prod")), True),
        ({"color": "blue"}, (("team", "ops"),), True),
        # One pair missing or of another value: not selected.
        ({"color": "red"}, (("team", "ops"),), False),
        ({}, (("team", "ops"),), False),
        ({"color": "blue"}, (("team", "dev"),), False),
        ({"color": "blue"}, (), False),
        # Tag keys are case-sensitive, as S3's.
        ({"color": "blue"}, (("Team", "ops"),), False),
    ],
)
def test_metadata_and_tag_filters_need_every_pair(
    user_metadata: dict[str, str], tags: tuple[tuple[str, str], ...], selected: bool
) -> None:
    # The filter's metadata name in any case, as an HTTP header's.
    rule_ = filtered((("X-Amz-Meta-Color", "blue"),), (("team", "ops"),))
    assert rule_.selects("ObjectCreated:Put", "k", user_metadata, tags) is selected


def test_a_rule_without_attribute_filters_takes_any_object() -> None:
    assert filtered().selects("ObjectCreated:Put", "k", {}, ())
    assert filtered().selects("ObjectCreated:Put", "k")


def test_the_batch_applies_the_attribute_filters() -> None:
    config = NotificationConfiguration((filtered(tags=(("team", "ops"),)),))
    source = EventSource("ObjectCreated:Put", "arn:aws:iam::t1:root", "192.0.2.7", "req")
    common: dict[str, Any] = {
        "tenant_id": "t1",
        "bucket": "b",
        "owner_id": "o",
        "region": "eu-paris-1",
        "key": "k",
        "now": NOW,
        "bound": 10,
    }
    assert EventBatch.of(config, source, tags=(("team", "dev"),), **common) is None
    made = EventBatch.of(config, source, tags=(("team", "ops"),), **common)
    assert made is not None and len(made.events) == 1


@pytest.mark.parametrize(
    ("events", "refused"),
    [
        (("s3:ObjectCreated:*", "s3:ObjectTagging:*", "s3:ObjectAcl:Put"), []),
        (("s3:ObjectRemoved:Delete",), ["ObjectRemoved:Delete"]),
        (
            ("s3:ObjectCreated:Put", "s3:LifecycleExpiration:*"),
            ["LifecycleExpiration:Delete", "LifecycleExpiration:DeleteMarkerCreated"],
        ),
    ],
)
def test_removals_are_named_when_a_rule_filters_on_attributes(
    events: tuple[str, ...], refused: list[str]
) -> None:
    assert attribute_filtered_removals(filtered(tags=(("a", "b"),), events=events)) == refused
    # Without attribute filters a removal is as any other event.
    assert attribute_filtered_removals(filtered(events=events)) == []


@pytest.mark.parametrize(
    ("first", "second", "ambiguous"),
    [
        # One name asked two values: no object matches both.
        (
            filtered((("x-amz-meta-c", "a"),)),
            filtered((("X-Amz-Meta-C", "b"),), rule_id="2"),
            False,
        ),
        (filtered(tags=(("t", "a"),)), filtered(tags=(("t", "b"),), rule_id="2"), False),
        # Other names, or one asking nothing: an object can carry both.
        (filtered((("x-amz-meta-c", "a"),)), filtered((("x-amz-meta-d", "b"),), rule_id="2"), True),
        (filtered(tags=(("t", "a"),)), filtered(rule_id="2"), True),
        # Tag keys are case-sensitive: "T" and "t" can both be on one object.
        (filtered(tags=(("t", "a"),)), filtered(tags=(("T", "b"),), rule_id="2"), True),
    ],
)
def test_attribute_filters_in_the_overlap_rule(
    first: TopicRule, second: TopicRule, ambiguous: bool
) -> None:
    assert overlapping([first, second]) is ambiguous


def test_attribute_filters_are_stored_in_format_2_and_a_plain_rule_stays_in_1() -> None:
    config = NotificationConfiguration(
        (filtered((("x-amz-meta-color", "blue"),), (("team", "ops"), ("env", "")), rule_id="a"),)
    )
    text = config.to_text()
    assert json.loads(text)["format_version"] == 2
    assert NotificationConfiguration.from_text(text) == config
    plain = NotificationConfiguration((filtered(rule_id="p"),))
    assert json.loads(plain.to_text())["format_version"] == 1
    assert NotificationConfiguration.from_text(plain.to_text()) == plain
