"""The in-process Secrets Manager app's fixture (``support.secretsapp``)."""

from support.secretsapp import sm

__all__ = ["sm"]
