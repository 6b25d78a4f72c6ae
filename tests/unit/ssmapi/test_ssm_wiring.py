"""Parameter Store's routing on the shared port (decision 0241): ``ssm`` by its credential
scope, and an unsigned call by its ``AmazonSSM.`` target, refused in Systems Manager's JSON
words rather than answered as S3."""

from __future__ import annotations

import dataclasses
from typing import Any

from andromede.api_routing import api_service
from support.ssmapp import Harness


async def test_the_shared_port_routes_ssm_and_refuses_an_unsigned_call(ssm: Harness) -> None:
    signed: dict[str, Any] = {
        "type": "http", "method": "POST", "path": "/", "query_string": b"",
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AKIA/20261206/eu-fr-1/ssm/"
                     b"aws4_request, SignedHeaders=host, Signature=00")],
    }  # fmt: skip
    assert api_service(signed) == "ssm"
    unsigned = {**signed, "headers": [(b"x-amz-target", b"AmazonSSM.GetParameter")]}
    assert api_service(unsigned) == "ssm"
    anonymous = dataclasses.replace(ssm, credentials=None)
    reply = await anonymous.call("GetParameter", {"Name": "/a"})
    assert reply.status in (400, 403), reply.body
    assert reply.json()["__type"] == "MissingAuthenticationTokenException"
