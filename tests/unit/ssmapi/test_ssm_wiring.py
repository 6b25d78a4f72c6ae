"""Parameter Store's wiring (decision 0241): the shared port routes ``ssm`` by its credential
scope, and an unsigned call by its ``AmazonSSM.`` target, refused in Systems Manager's JSON
words rather than answered as S3; ``serve`` completes the app with the image library's public
images (available, public ones only), its EventBridge events and its policy upkeep."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from andromede.api_routing import api_service
from andromede.compute.model import Image, ImageState
from andromede.compute.service import ComputeService
from andromede.events.service import EventsService
from andromede.settings import Settings
from andromede.wiring.ssm import ssm_events
from support.ssmapp import REGION, Harness


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


class Library:
    """ComputeService.describe_images, as the operator's image library answers it."""

    def __init__(self, images: list[Image]) -> None:
        self.images = images
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def describe_images(
        self, tenant_id: str, ids: Sequence[str], *, owners: Sequence[str] = ()
    ) -> list[Image]:
        self.asked.append((tenant_id, tuple(owners)))
        return [i for i in self.images if "amazon" in owners and i.public]


class Bus:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def route(self, tenant_id: str, bus: str, events: list[dict[str, Any]]) -> int:
        self.sent.extend(events)
        return 0


def image(image_id: str, name: str, owner: str | None, state: ImageState) -> Image:
    return Image(image_id=image_id, name=name, owner_id=owner, state=state, disk_format="raw",
                 size_bytes=1, virtual_size_gib=1, sha256="0" * 64,
                 created_at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip


async def test_serve_completes_parameter_store_with_images_events_and_upkeep(
    ssm: Harness, tmp_path: Path
) -> None:
    library = Library([
        image("ami-0000000000000000a", "debian-12", None, ImageState.AVAILABLE),
        image("ami-0000000000000000b", "debian-13", None, ImageState.PENDING),
        image("ami-0000000000000000c", "mine", ssm.tenant_id, ImageState.AVAILABLE),
    ])  # fmt: skip
    bus = Bus()
    settings = Settings(data_dir=tmp_path, region=REGION, ssm_policy_interval=0.05)
    task = ssm_events(settings, ssm.app, cast(ComputeService, library), cast(EventsService, bus))
    try:
        listed = await ssm.ok("GetParametersByPath", {"Path": "/aws/service", "Recursive": True})
        assert {p["Value"] for p in listed["Parameters"]} == {"ami-0000000000000000a"}
        soon = (datetime.now(UTC) + timedelta(milliseconds=300)).isoformat()
        expiring = json.dumps([{"Type": "Expiration", "Version": "1.0",
                                "Attributes": {"Timestamp": soon}}])  # fmt: skip
        await ssm.ok("PutParameter", {"Name": "/x", "Value": "v", "Type": "String",
                                      "Tier": "Advanced", "Policies": expiring})  # fmt: skip
        for _ in range(100):  # the upkeep's next rounds
            if len(bus.sent) == 2:
                break
            await asyncio.sleep(0.05)
        assert [e["detail-type"] for e in bus.sent] == [
            "Parameter Store Change", "Parameter Store Policy Action",
        ]  # fmt: skip
        await ssm.fails("GetParameter", {"Name": "/x"}, "ParameterNotFound")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
