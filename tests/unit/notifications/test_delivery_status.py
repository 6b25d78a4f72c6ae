"""SNS's delivery status records and their choice (decision 0212), pure: AWS's JSON for an
http delivery (the endpoint's path and query never in it, the published message's MD5, the
dwell time from the queueing), which role a success or a failure is logged as, the sample
rate's draw, confirmations never logged, and a writer's refusal or failure leaving the
delivery alone; the real worker telling what a real HTTP receiver answered, delivered or
given up."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from andromede.notifications.delivery_status import (
    DeliveryOutcome,
    DeliveryStatusLogger,
    log_group,
    status_record,
)
from andromede.notifications.pubsub_types import Delivery
from andromede.notifications.subscriptions import Subscription
from unit.notifications.test_delivery import Receiver, receiver
from unit.notifications.test_subscriber_delivery import TENANT, setup

__all__ = ["receiver"]

TOPIC = "arn:aws:sns:eu-test-1:111122223333:orders"
ROLE = "arn:aws:iam::111122223333:role/sns-logs"
QUEUED = datetime(2026, 12, 6, 9, 0, 0, 250_000, tzinfo=UTC)


def _delivery(
    protocol: str, endpoint: str, feedback: dict[str, str], kind: str = "Notification"
) -> Delivery:
    subscription = Subscription(
        f"{TOPIC}:0b6c9d3e-1111-4222-8333-944455556666",
        TOPIC,
        "111122223333",
        "111122223333",
        protocol,
        endpoint,
        {},
        None,
        QUEUED,
    )
    body = json.dumps({"Type": kind, "Message": "hello"})
    headers = {"x-amz-sns-message-type": kind, "x-amz-sns-message-id": "m-1"}
    return Delivery(subscription, body, headers, feedback=feedback, queued_at=QUEUED)


def test_an_http_record_in_aws_shape() -> None:
    delivery = _delivery("https", "https://hooks.example.com:8443/in?token=s3cret", {})
    outcome = DeliveryOutcome(True, 202, "OK", 2, QUEUED + timedelta(milliseconds=1500))
    record = json.loads(status_record(delivery, outcome))
    assert record["status"] == "SUCCESS"
    assert record["notification"] == {
        "messageMD5Sum": hashlib.md5(b"hello", usedforsecurity=False).hexdigest(),
        "messageId": "m-1",
        "topicArn": TOPIC,
        "timestamp": "2026-12-06 09:00:00.250",
    }
    shown = record["delivery"]
    assert shown["destination"] == "https://hooks.example.com:8443"
    assert (shown["statusCode"], shown["providerResponse"]) == (202, "OK")
    assert (shown["attempts"], shown["dwellTimeMs"]) == (2, 1500)
    assert "s3cret" not in status_record(delivery, outcome)
    assert log_group(TOPIC, True) == "sns/eu-test-1/111122223333/orders"
    assert log_group(TOPIC, False) == "sns/eu-test-1/111122223333/orders/Failure"


class _Logs:
    def __init__(self, answer: str | None = None, fail: bool = False) -> None:
        self.written: list[tuple[str, str, str]] = []
        self._answer = answer
        self._fail = fail

    async def write(
        self, tenant_id: str, role_arn: str, group: str, stream: str, event: tuple[int, str]
    ) -> str | None:
        if self._fail:
            raise RuntimeError("logs down")
        self.written.append((role_arn, group, json.loads(event[1])["status"]))
        return self._answer


async def test_which_deliveries_are_logged_and_as_whom() -> None:
    logs = _Logs()
    draws = iter([0.49, 0.5])
    logger = DeliveryStatusLogger(logs, draw=lambda: next(draws))
    feedback = {
        "HTTPSuccessFeedbackRoleArn": ROLE,
        "HTTPSuccessFeedbackSampleRate": "50",
        "HTTPFailureFeedbackRoleArn": ROLE + "-failures",
    }
    at = QUEUED + timedelta(seconds=1)
    delivered = DeliveryOutcome(True, 200, "", 1, at)
    given_up = DeliveryOutcome(False, 500, "the endpoint answered 500", 3, at)
    http = _delivery("http", "http://hooks.example.com/", feedback)
    await logger(http, delivered)  # drawn 0.49 < 0.50: logged
    await logger(http, delivered)  # drawn 0.50: not
    await logger(http, given_up)  # failures are all logged
    # Not the protocol's attributes, a confirmation, an email subscription: nothing.
    await logger(_delivery("sqs", "arn:aws:sqs:eu-test-1:111122223333:q", feedback), given_up)
    await logger(_delivery("http", "http://h/", feedback, "SubscriptionConfirmation"), given_up)
    await logger(_delivery("email", "a@example.com", feedback), given_up)
    assert logs.written == [
        (ROLE, "sns/eu-test-1/111122223333/orders", "SUCCESS"),
        (ROLE + "-failures", "sns/eu-test-1/111122223333/orders/Failure", "FAILURE"),
    ]
    assert logger.written == 2
    for refusing in (_Logs("Access error"), _Logs(fail=True)):
        quiet = DeliveryStatusLogger(refusing, draw=lambda: 0.0)
        await quiet(http, given_up)  # never raises: the delivery stands
        assert quiet.written == 0


async def test_a_firehose_delivery_is_logged_as_the_firehose_attributes_say() -> None:
    """Decision 0226: ``Firehose…`` attributes for firehose subscriptions, the stream's ARN
    as the destination; the ``HTTP…`` ones do not apply to them."""
    logs = _Logs()
    logger = DeliveryStatusLogger(logs, draw=lambda: 0.99)
    stream = "arn:aws:firehose:eu-test-1:111122223333:deliverystream/archive"
    feedback = {
        "FirehoseSuccessFeedbackRoleArn": ROLE,
        "FirehoseSuccessFeedbackSampleRate": "100",
        "HTTPFailureFeedbackRoleArn": ROLE + "-http",
    }
    at = QUEUED + timedelta(seconds=1)
    firehose = _delivery("firehose", stream, feedback)
    await logger(firehose, DeliveryOutcome(True, 200, "", 1, at))
    await logger(firehose, DeliveryOutcome(False, None, "AccessDenied: no", 10, at))
    assert logs.written == [(ROLE, "sns/eu-test-1/111122223333/orders", "SUCCESS")]
    record = json.loads(status_record(firehose, DeliveryOutcome(True, 200, "", 1, at)))
    assert record["delivery"]["destination"] == stream


async def test_the_worker_tells_what_an_http_endpoint_answered(receiver: Receiver) -> None:
    pubsub, deliverer, _, _, clock, topic = await setup()
    told: list[tuple[Delivery, DeliveryOutcome]] = []

    async def on_status(delivery: Delivery, outcome: DeliveryOutcome) -> None:
        told.append((delivery, outcome))

    deliverer.on_status = on_status
    await pubsub.subscribe(TENANT, topic, "http", f"http://127.0.0.1:{receiver.port}/in", {})
    await deliverer.deliver_once()
    await pubsub.confirm(topic, json.loads(receiver.requests[0][2])["Token"])
    assert told == []  # the topic logs nothing yet; a confirmation never
    await pubsub._topics.set_attribute(TENANT, topic, "HTTPFailureFeedbackRoleArn", ROLE)
    await pubsub.publish(TENANT, topic, "taken", None, {}, None)
    await deliverer.deliver_once()
    ((delivery, outcome),) = told
    assert delivery.feedback == {"HTTPFailureFeedbackRoleArn": ROLE}
    assert (outcome.success, outcome.status_code, outcome.attempts) == (True, 200, 1)
    receiver.status = 410
    await pubsub.publish(TENANT, topic, "refused", None, {}, None)
    for _ in range(10):  # the platform's attempts, each after its backoff
        await deliverer.deliver_once()
        clock.now += timedelta(hours=1)
    _, failed = told[-1]
    assert (failed.success, failed.status_code, failed.attempts) == (False, 410, 10)
    assert failed.provider_response == "the endpoint answered 410"
