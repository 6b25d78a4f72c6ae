"""SNS's HTTP/S delivery policies (decision 0168), pure: the documents SNS takes and those it
refuses (its ranges, its phase sums, its one-hour ceiling), the four-phase retry schedule and
its backoff curves, and which policy applies to a subscription (its own parts over its
topic's, the topic's alone when it disables overrides, the platform's schedule else)."""

from __future__ import annotations

import json

import pytest

from andromede.notifications.deliverypolicy import (
    RetryPolicy,
    check_subscription_policy,
    check_topic_policy,
    effective_policy,
)
from andromede.notifications.errors import InvalidTopic
from andromede.notifications.subscriptions import check_subscription_attributes

PLATFORM = RetryPolicy(2, 3600, 9, backoff="exponential")


def healthy(**fields: object) -> str:
    return json.dumps({"healthyRetryPolicy": fields})


def test_aws_documented_example_is_taken() -> None:
    text = json.dumps(
        {
            "healthyRetryPolicy": {
                "minDelayTarget": 1,
                "maxDelayTarget": 60,
                "numRetries": 50,
                "numNoDelayRetries": 3,
                "numMinDelayRetries": 2,
                "numMaxDelayRetries": 35,
                "backoffFunction": "exponential",
            },
            "throttlePolicy": {"maxReceivesPerSecond": 10},
            "requestPolicy": {"headerContentType": "application/json"},
        }
    )
    assert check_subscription_policy(text) == text
    topic = json.dumps(
        {
            "http": {
                "defaultHealthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 5},
                "disableSubscriptionOverrides": False,
                "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
            }
        }
    )
    assert check_topic_policy(topic) == topic


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{oops", "not JSON"),
        ("[]", "JSON object"),
        (healthy(minDelayTarget=0), "minDelayTarget"),
        (healthy(minDelayTarget=30, maxDelayTarget=20), "minDelayTarget"),
        (healthy(minDelayTarget=1, maxDelayTarget=3601), "maxDelayTarget"),
        (healthy(numRetries=101), "numRetries"),
        (healthy(numRetries=-1), "numRetries"),
        (healthy(numRetries=2, numNoDelayRetries=2, numMinDelayRetries=1), "at least"),
        (healthy(numNoDelayRetries=-1, numRetries=3), "negative"),
        (healthy(backoffFunction="cubic"), "backoffFunction"),
        (healthy(minDelayTarget="5"), "integer"),
        (healthy(minDelayTarget=True), "integer"),
        (healthy(colour=1), "unknown field"),
        (
            healthy(minDelayTarget=3600, maxDelayTarget=3600, numRetries=2),
            "3600 seconds in all",
        ),
        (json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 0}}), "maxReceivesPerSecond"),
        (json.dumps({"requestPolicy": {"headerContentType": "text/html"}}), "headerContentType"),
        (json.dumps({"retry": {}}), "unknown field"),
    ],
)
def test_subscription_policies_sns_refuses(text: str, fragment: str) -> None:
    with pytest.raises(InvalidTopic) as caught:
        check_subscription_policy(text)
    assert "DeliveryPolicy" in str(caught.value) and fragment in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (json.dumps({"sqs": {}}), "only the http protocol"),
        (json.dumps({"http": {"healthyRetryPolicy": {}}}), "unknown field"),
        (json.dumps({"http": {"disableSubscriptionOverrides": "yes"}}), "true or false"),
        (
            json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 200}}}),
            "numRetries",
        ),
    ],
)
def test_topic_policies_sns_refuses(text: str, fragment: str) -> None:
    with pytest.raises(InvalidTopic) as caught:
        check_topic_policy(text)
    assert fragment in str(caught.value)


def test_only_http_subscriptions_take_one() -> None:
    text = healthy(numRetries=1)
    assert check_subscription_attributes({"DeliveryPolicy": text}, "https") == {
        "DeliveryPolicy": text
    }
    with pytest.raises(InvalidTopic, match=r"\[sqs\] does not support"):
        check_subscription_attributes({"DeliveryPolicy": text}, "sqs")


def test_the_four_phases() -> None:
    policy = RetryPolicy(
        min_delay=2,
        max_delay=20,
        retries=10,
        no_delay_retries=2,
        min_delay_retries=2,
        max_delay_retries=2,
        backoff="linear",
    )
    schedule = policy.schedule()
    assert schedule[:2] == [0.0, 0.0]  # immediate
    assert schedule[2:4] == [2.0, 2.0]  # pre-backoff, minDelayTarget apart
    assert schedule[4:8] == [6.5, 11.0, 15.5, 20.0]  # backoff: linear from min to max
    assert schedule[8:] == [20.0, 20.0]  # post-backoff, maxDelayTarget apart
    assert RetryPolicy().schedule() == [20.0, 20.0, 20.0]  # SNS's default


def test_backoff_curves_rise_in_sns_order() -> None:
    def halfway(function: str) -> float:
        return RetryPolicy(1, 101, 10, backoff=function).delay(5)

    # At mid-phase: geometric rises first, exponential last (SNS's graph).
    assert halfway("geometric") > halfway("linear") > halfway("arithmetic")
    assert halfway("arithmetic") > halfway("exponential")
    for function in ("arithmetic", "exponential", "geometric", "linear"):
        curve = RetryPolicy(1, 101, 10, backoff=function).schedule()
        assert curve == sorted(curve) and curve[-1] == 101.0 and curve[0] >= 1.0


def test_which_policy_applies() -> None:
    topic = json.dumps(
        {
            "http": {
                "defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1,
                                              "maxDelayTarget": 1},
                "defaultThrottlePolicy": {"maxReceivesPerSecond": 3},
            }
        }
    )  # fmt: skip
    own = json.dumps(
        {
            "healthyRetryPolicy": {"numRetries": 1},
            "requestPolicy": {"headerContentType": "application/json"},
        }
    )
    assert effective_policy(None, None, PLATFORM).retry == PLATFORM
    assert not effective_policy(None, None, PLATFORM).custom_retry
    content_only = json.dumps({"requestPolicy": {"headerContentType": "application/xml"}})
    assert not effective_policy(None, content_only, PLATFORM).custom_retry
    mixed = effective_policy(topic, own, PLATFORM)
    assert mixed.retry.retries == 1 and mixed.custom_retry  # the subscription's part wins
    assert mixed.max_per_second == 3  # the topic's default fills the rest
    assert mixed.content_type == "application/json"
    locked = json.loads(topic)
    locked["http"]["disableSubscriptionOverrides"] = True
    forced = effective_policy(json.dumps(locked), own, PLATFORM)
    assert forced.retry.retries == 5 and forced.content_type == "text/plain; charset=UTF-8"
    shown = json.loads(mixed.document())
    assert shown["healthyRetryPolicy"]["numRetries"] == 1
    assert shown["throttlePolicy"] == {"maxReceivesPerSecond": 3}
    assert (
        json.loads(effective_policy(topic, None, PLATFORM).topic_document())["http"][
            "defaultHealthyRetryPolicy"
        ]["numRetries"]
        == 5
    )
    # A document kept before it was checked counts as absent.
    assert effective_policy("{bad", "{bad", PLATFORM).retry == PLATFORM
