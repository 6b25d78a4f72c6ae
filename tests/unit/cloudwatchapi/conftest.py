"""The in-process CloudWatch app's fixture (``support.cloudwatchapp``)."""

from support.cloudwatchapp import cloudwatch

__all__ = ["cloudwatch"]
