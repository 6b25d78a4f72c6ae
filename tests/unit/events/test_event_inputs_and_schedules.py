"""Decision 0192: what a target receives of an event (Input, InputPath, InputTransformer,
AWS's documented examples), the target checks of PutTargets, and schedule expressions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from andromede.events.errors import ValidationError
from andromede.events.schedule import Cron, Rate, parse_schedule
from andromede.events.targets import check_target
from andromede.events.transform import check_transformer, render_input

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "count": 3, "tags": ["a"]},
}
RULE = "arn:aws:events:us-east-1:123456789012:rule/r"


def render(**given: Any) -> str:
    args: dict[str, Any] = {"constant": None, "input_path": None, "transformer": None}
    args.update(given)
    return render_input(EVENT, rule_arn=RULE, rule_name="r", **args)


def test_whole_event_constant_and_input_path() -> None:
    assert json.loads(render()) == EVENT
    assert render(constant='{"fixed": true}') == '{"fixed": true}'
    assert json.loads(render(input_path="$.detail")) == EVENT["detail"]
    assert json.loads(render(input_path="$.detail.state")) == "RUNNING"
    assert json.loads(render(input_path="$.resources[0]")) == EVENT["resources"][0]
    assert json.loads(render(input_path="$['detail']['count']")) == 3
    assert render(input_path="$.detail.nothing") == ""


def test_transformer_json_and_text_templates() -> None:
    paths = {"instance": "$.detail.instance-id", "state": "$.detail.state", "n": "$.detail.count"}
    text = render(
        transformer={
            "InputPathsMap": paths,
            "InputTemplate": '"instance <instance> is in <state>"',
        }
    )
    assert json.loads(text) == "instance i-0123456789 is in RUNNING"
    body = render(
        transformer={
            "InputPathsMap": {**paths, "tags": "$.detail.tags", "gone": "$.detail.gone"},
            "InputTemplate": '{"instance": "<instance>", "n": <n>, "tags": <tags>, "g": <gone>,'
            ' "rule": "<aws.events.rule-name>", "arn": "<aws.events.rule-arn>",'
            ' "whole": <aws.events.event.json>, "other": "<unknown>"}',
        }
    )
    assert json.loads(body) == {
        "instance": "i-0123456789",
        "n": 3,
        "tags": ["a"],
        "g": None,
        "rule": "r",
        "arn": RULE,
        "whole": EVENT,
        "other": "<unknown>",
    }
    plain = render(
        transformer={
            "InputPathsMap": {**paths, "gone": "$.gone"},
            "InputTemplate": "<instance> is <state> (<gone>)",
        }
    )
    assert plain == "i-0123456789 is RUNNING ()"


def test_transformer_string_values_stay_valid_json() -> None:
    event = {**EVENT, "detail": {"quote": 'say "hi"\n'}}
    out = render_input(
        event,
        constant=None,
        input_path=None,
        transformer={"InputPathsMap": {"q": "$.detail.quote"}, "InputTemplate": '{"q": "<q>"}'},
        rule_arn=RULE,
        rule_name="r",
    )
    assert json.loads(out) == {"q": 'say "hi"\n'}


@pytest.mark.parametrize(
    "transformer",
    [
        {"InputTemplate": ""},
        {"InputPathsMap": {"a": "detail"}, "InputTemplate": "<a>"},
        {"InputPathsMap": {"aws.events.x": "$.a"}, "InputTemplate": "<a>"},
        {"InputPathsMap": {"a": "$.a..b"}, "InputTemplate": "<a>"},
        {"InputPathsMap": {f"k{i}": "$.a" for i in range(101)}, "InputTemplate": "x"},
    ],
)
def test_bad_transformers(transformer: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        check_transformer(transformer)


QUEUE = "arn:aws:sqs:us-east-1:123456789012:q"


def target(**spec: Any) -> Any:
    return check_target(
        {"Id": "t1", "Arn": QUEUE, **spec}, tenant_id="123456789012", region="us-east-1"
    )


def test_target_checks() -> None:
    found = target(RetryPolicy={"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60})
    assert (found.maximum_retry_attempts, found.maximum_event_age) == (3, 60)
    assert target().maximum_retry_attempts == 185
    fifo = check_target(
        {"Id": "f", "Arn": QUEUE + ".fifo", "SqsParameters": {"MessageGroupId": "g"}},
        tenant_id="123456789012",
        region="us-east-1",
    )
    assert fifo.message_group_id == "g"
    topic = "arn:aws:sns:us-east-1:123456789012:topic"
    assert check_target({"Id": "s", "Arn": topic}, tenant_id="123456789012", region="us-east-1")
    assert target(DeadLetterConfig={"Arn": QUEUE + "-dlq"}).dead_letter_arn == QUEUE + "-dlq"


@pytest.mark.parametrize(
    "spec",
    [
        {"Id": "bad id!", "Arn": QUEUE},
        {"Id": "t", "Arn": "arn:aws:lambda:us-east-1:123456789012:layer:f"},  # decision 0293
        {"Id": "t", "Arn": "arn:aws:sqs:eu-west-1:123456789012:q"},
        {"Id": "t", "Arn": "arn:aws:sqs:us-east-1:999999999999:q"},
        {"Id": "t", "Arn": "not-an-arn"},
        {"Id": "t", "Arn": QUEUE, "Input": "{}", "InputPath": "$.detail"},
        {"Id": "t", "Arn": QUEUE, "Input": "not json"},
        {"Id": "t", "Arn": QUEUE + ".fifo"},
        {"Id": "t", "Arn": QUEUE, "SqsParameters": {"MessageGroupId": "g"}},
        {"Id": "t", "Arn": QUEUE, "RetryPolicy": {"MaximumRetryAttempts": 186}},
        {"Id": "t", "Arn": QUEUE, "RetryPolicy": {"MaximumEventAgeInSeconds": 59}},
        {
            "Id": "t",
            "Arn": QUEUE,
            "DeadLetterConfig": {"Arn": "arn:aws:sns:us-east-1:123456789012:t"},
        },
        {"Id": "t", "Arn": QUEUE, "EcsParameters": {}},
    ],
)
def test_target_refusals(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        check_target(spec, tenant_id="123456789012", region="us-east-1")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_rates() -> None:
    assert parse_schedule("rate(1 minute)") == Rate(60)
    assert parse_schedule("rate(5 minutes)") == Rate(300)
    assert parse_schedule("rate(2 hours)") == Rate(7200)
    assert parse_schedule("rate(1 day)") == Rate(86400)
    rate = Rate(300)
    created = at("2026-12-05T10:00:30")
    assert rate.slot(created, created + timedelta(seconds=299)) is None
    assert rate.slot(created, created + timedelta(seconds=300)) == 1
    assert rate.slot(created, created + timedelta(seconds=901)) == 3


@pytest.mark.parametrize(
    "text",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(0 12 * * ?)",
        "cron(60 12 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 ? * MON#6 *)",
        "cron(0 12 5-1 * ? *)",
        "every minute",
    ],
)
def test_bad_schedules(text: str) -> None:
    with pytest.raises(ValidationError, match="ScheduleExpression is not valid"):
        parse_schedule(text)


def cron(text: str) -> Cron:
    found = parse_schedule(text)
    assert isinstance(found, Cron)
    return found


def test_cron_examples_of_aws() -> None:
    # 10:15 UTC every day.
    daily = cron("cron(15 10 * * ? *)")
    assert daily.matches(at("2026-12-05T10:15:00"))
    assert not daily.matches(at("2026-12-05T10:16:00"))
    # 18:00 Monday to Friday.
    weekdays = cron("cron(0 18 ? * MON-FRI *)")
    assert weekdays.matches(at("2026-12-04T18:00:00"))  # a Friday
    assert not weekdays.matches(at("2026-12-05T18:00:00"))  # a Saturday
    # 8:00 on the first day of the month.
    assert cron("cron(0 8 1 * ? *)").matches(at("2026-12-01T08:00:00"))
    # Every 10 minutes, Monday to Friday.
    every10 = cron("cron(0/10 * ? * MON-FRI *)")
    assert every10.matches(at("2026-12-07T03:20:00"))
    assert not every10.matches(at("2026-12-07T03:25:00"))
    # Every 5 minutes between 8:00 and 17:55 on weekdays.
    office = cron("cron(0/5 8-17 ? * MON-FRI *)")
    assert office.matches(at("2026-12-07T17:55:00"))
    assert not office.matches(at("2026-12-07T18:00:00"))
    # 9:00 on the first Monday of each month.
    first_monday = cron("cron(0 9 ? * 2#1 *)")
    assert first_monday.matches(at("2026-12-07T09:00:00"))
    assert not first_monday.matches(at("2026-12-14T09:00:00"))


def test_cron_last_days_and_weekday_nearest() -> None:
    assert cron("cron(0 0 L * ? *)").matches(at("2026-02-28T00:00:00"))
    assert not cron("cron(0 0 L * ? *)").matches(at("2026-02-27T00:00:00"))
    # The last Friday of December 2026 is the 25th.
    assert cron("cron(0 0 ? DEC 6L *)").matches(at("2026-12-25T00:00:00"))
    assert not cron("cron(0 0 ? DEC FRIL *)").matches(at("2026-12-18T00:00:00"))
    # 2026-11-15 is a Sunday: 15W is Monday the 16th.
    assert cron("cron(0 0 15W * ? *)").matches(at("2026-11-16T00:00:00"))
    assert not cron("cron(0 0 15W * ? *)").matches(at("2026-11-15T00:00:00"))
    # 2026-08-01 is a Saturday: 1W is Monday the 3rd, never the month before.
    assert cron("cron(0 0 1W * ? *)").matches(at("2026-08-03T00:00:00"))
    # Years bound it.
    assert not cron("cron(0 0 * * ? 2027)").matches(at("2026-12-05T00:00:00"))
    assert cron("cron(0 0 1,15 JAN,DEC ? 2026-2030)").matches(at("2026-12-15T00:00:00"))


def test_cron_slot_is_the_minute() -> None:
    every = cron("cron(* * * * ? *)")
    moment = at("2026-12-05T10:15:42")
    assert every.slot(moment, moment) == int(moment.timestamp()) // 60
