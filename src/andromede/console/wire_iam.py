"""IAM calls made in process as the console's signed-in principal (the Query protocol of
``wire.QueryWire``): IAM's own authorisation, audit and errors answer them, as they answer
boto3."""

from __future__ import annotations

from andromede.console.wire import QueryWire

__all__ = ["IamWire"]


class IamWire(QueryWire):
    """The IAM calls the console makes."""

    version = "2010-05-08"
