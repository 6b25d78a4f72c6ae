"""EC2 calls made in process as the console's signed-in principal (the Query protocol of
``wire.QueryWire``): EC2's own authorisation, audit and errors answer them, as they answer
boto3."""

from __future__ import annotations

from andromede.console.wire import QueryWire

__all__ = ["Ec2Wire"]


class Ec2Wire(QueryWire):
    """The EC2 calls the console makes."""

    version = "2016-11-15"
