"""What a stream source's parameters keep, as AWS keeps them and Terraform's
``aws_pipes_pipe`` reads them back (decision 0274): no ``MaximumRetryAttempts`` unless given,
and an empty ``DeadLetterConfig`` (sent by every UpdatePipe of a pipe without one) is none."""

from __future__ import annotations

import pytest

from andromede.pipes.errors import InvalidPipe
from andromede.pipes.model import check_source

TENANT = "123456789012"
REGION = "eu-fr-1"
STREAM = f"arn:aws:dynamodb:{REGION}:{TENANT}:table/orders/stream/2026-12-06T00:00:00.000"
DEAD = f"arn:aws:sqs:{REGION}:{TENANT}:dead"


def test_a_retry_limit_is_kept_only_when_given() -> None:
    made = check_source(
        STREAM,
        {"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}},
        TENANT,
        REGION,
        previous=None,
    )
    assert "MaximumRetryAttempts" not in made["DynamoDBStreamParameters"]
    given = {"DynamoDBStreamParameters": {"StartingPosition": "LATEST", "MaximumRetryAttempts": 3}}
    assert (
        check_source(STREAM, given, TENANT, REGION, previous=None)["DynamoDBStreamParameters"][
            "MaximumRetryAttempts"
        ]
        == 3
    )
    with pytest.raises(InvalidPipe):
        check_source(
            STREAM,
            {
                "DynamoDBStreamParameters": {
                    "StartingPosition": "LATEST",
                    "MaximumRetryAttempts": -2,
                }
            },
            TENANT,
            REGION,
            previous=None,
        )


def test_an_empty_dead_letter_config_removes_the_queue() -> None:
    made = check_source(
        STREAM,
        {
            "DynamoDBStreamParameters": {
                "StartingPosition": "LATEST",
                "DeadLetterConfig": {"Arn": DEAD},
            }
        },
        TENANT,
        REGION,
        previous=None,
    )
    assert made["DynamoDBStreamParameters"]["DeadLetterConfig"] == {"Arn": DEAD}
    updated = check_source(
        STREAM,
        {"DynamoDBStreamParameters": {"DeadLetterConfig": {}, "MaximumRetryAttempts": 0}},
        TENANT,
        REGION,
        previous=made,
    )
    assert "DeadLetterConfig" not in updated["DynamoDBStreamParameters"]
    assert updated["DynamoDBStreamParameters"]["StartingPosition"] == "LATEST"
    with pytest.raises(InvalidPipe):  # an ARN that is no queue is still refused
        check_source(
            STREAM,
            {"DynamoDBStreamParameters": {"DeadLetterConfig": {"Arn": STREAM}}},
            TENANT,
            REGION,
            previous=made,
        )


def test_no_filter_is_no_filter_criteria() -> None:
    pattern = '{"eventName": ["INSERT"]}'
    made = check_source(
        STREAM,
        {
            "DynamoDBStreamParameters": {"StartingPosition": "LATEST"},
            "FilterCriteria": {"Filters": [{"Pattern": pattern}]},
        },
        TENANT,
        REGION,
        previous=None,
    )
    assert made["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    cleared = check_source(STREAM, {"FilterCriteria": {}}, TENANT, REGION, previous=made)
    assert "FilterCriteria" not in cleared
    assert cleared["DynamoDBStreamParameters"]["StartingPosition"] == "LATEST"
