"""The in-process SQS app's fixture (``support.sqsapp``)."""

from support.sqsapp import sqs

__all__ = ["sqs"]
