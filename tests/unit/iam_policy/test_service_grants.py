"""One resource-policy question for the platform's own deliveries (``service_may``): a
service principal with the confused-deputy keys it sets, against the resource's policy alone."""

from __future__ import annotations

import json

from andromede.iam.policy.service_grants import service_may

QUEUE = "arn:aws:sqs:eu-west-1:111122223333:events"
BUCKET = "arn:aws:s3:::photos"


def _policy(condition: dict[str, dict[str, str]], *, service: str = "s3.amazonaws.com") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sqs:SendMessage",
                    "Resource": QUEUE,
                    "Condition": condition,
                }
            ],
        }
    )


def _may(text: str | None, **overrides: str) -> bool:
    asked = {
        "service": "s3.amazonaws.com",
        "action": "sqs:SendMessage",
        "resource": QUEUE,
        "resource_account": "111122223333",
        "source_arn": BUCKET,
        "source_account": "111122223333",
    } | overrides
    return service_may(text, region="eu-west-1", **asked)


def test_the_source_arn_and_account_decide() -> None:
    pinned = _policy({"ArnEquals": {"aws:SourceArn": BUCKET}})
    assert _may(pinned)
    assert not _may(pinned, source_arn="arn:aws:s3:::someone-elses")
    by_account = _policy({"StringEquals": {"aws:SourceAccount": "111122223333"}})
    assert _may(by_account)
    assert not _may(by_account, source_account="444455556666")


def test_only_the_named_service_and_action() -> None:
    pinned = _policy({"ArnEquals": {"aws:SourceArn": BUCKET}})
    assert not _may(pinned, service="sns.amazonaws.com")
    assert not _may(pinned, action="sqs:ReceiveMessage")


def test_no_policy_or_a_broken_one_allows_nothing() -> None:
    assert not _may(None)
    assert not _may("")
    assert not _may("{not json")


def test_further_keys_the_service_sets() -> None:
    acl = _policy({"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}})
    assert not _may(acl)
    assert service_may(
        acl,
        service="s3.amazonaws.com",
        action="sqs:SendMessage",
        resource=QUEUE,
        resource_account="111122223333",
        source_arn=BUCKET,
        source_account="111122223333",
        keys={"s3:x-amz-acl": "bucket-owner-full-control"},
    )
