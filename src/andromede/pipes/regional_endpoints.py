"""What a pipe of a Region other than the deployment's default may read, call and write
(decision 0408). Pure: no I/O.

A pipe's source, enrichment, target and log destinations are of its own Region on AWS (the
checks of ``pipes.model`` refuse another Region's ARN). This deployment serves DynamoDB,
EventBridge and SQS in every declared Region (decisions 0265, 0349, 0400, 0414) but SNS,
Kinesis, Firehose, Lambda, Step Functions and CloudWatch Logs in the default Region only: a
pipe of another Region may read its Region's DynamoDB streams and SQS queues, send to its
Region's event buses, API destinations and SQS queues, be enriched by its Region's API
destinations, and name its Region's SQS queue as a stream's dead-letter queue. Anything else
is refused by name at CreatePipe and UpdatePipe (``ValidationException`` naming the Region
that serves it), never accepted and left idle, nor served from the default Region under
another Region's ARN.
"""

from __future__ import annotations

from typing import Final

from andromede.pipes.errors import InvalidPipe
from andromede.pipes.model import Pipe, endpoint_kind

__all__ = ["check_regional"]

_SOURCES: Final = frozenset({"dynamodb", "sqs"})
_TARGETS: Final = frozenset({"event-bus", "api-destination", "sqs"})
_ENRICHMENTS: Final = frozenset({"api-destination"})


def _refused(what: str, arn: str, pipe: Pipe, home: str, served: str) -> InvalidPipe:
    return InvalidPipe(
        f"{what} {arn[:256]} is not served in Region {pipe.region}: this deployment serves it "
        f"in Region {home} only; a pipe of {pipe.region} {served} (decisions 0408, 0414).",
        what.lower(),
    )


def check_regional(pipe: Pipe, home: str) -> None:
    """InvalidPipe unless what ``pipe`` (of a Region other than ``home``) names is served in
    its Region."""
    if pipe.region == home:
        return
    if endpoint_kind(pipe.source) not in _SOURCES:
        raise _refused(
            "Source", pipe.source, pipe, home, "reads its Region's DynamoDB streams and queues"
        )
    # A stream's dead-letter queue is an SQS queue of the pipe's Region (``pipes.model``).
    served = "sends to its Region's event buses, API destinations and queues"
    if endpoint_kind(pipe.target) not in _TARGETS:
        raise _refused("Target", pipe.target, pipe, home, served)
    if pipe.enrichment and endpoint_kind(pipe.enrichment) not in _ENRICHMENTS:
        raise _refused(
            "Enrichment",
            pipe.enrichment,
            pipe,
            home,
            "is enriched by its Region's API destinations",
        )
    if pipe.log_configuration:
        raise InvalidPipe(
            f"LogConfiguration is not served in Region {pipe.region}: this deployment serves "
            f"CloudWatch Logs and Firehose in Region {home} only (decision 0408).",
            "logConfiguration",
        )
