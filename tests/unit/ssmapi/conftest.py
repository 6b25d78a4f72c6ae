"""The in-process Parameter Store app's fixture (``support.ssmapp``)."""

from support.ssmapp import ssm

__all__ = ["ssm"]
