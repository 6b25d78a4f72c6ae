"""The instance's metadata options as the metadata service applies them (decision 0145):
IMDSv1 reads only with ``HttpTokens=optional`` (a bad token is still refused), nothing at all
with ``HttpEndpoint=disabled``, ``tags/instance/`` only with ``InstanceMetadataTags=enabled``;
and, over compute, a ModifyInstanceMetadataOptions holding from the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.model import MetadataOptions
from andromede.compute.service import ComputeService
from andromede.compute.store_memory import MemoryComputeStore
from andromede.imds.app import ImdsLimits, MetadataApp
from andromede.imds.credentials import CredentialsCache
from andromede.imds.directory import ComputeInstanceDirectory
from andromede.imds.tokens import TokenAuthority
from support.computekit import TENANT
from support.metadata import WEB, WEB_ADDRESS, Metadata
from unit.imds.test_directory import compute_over, launch

TOKEN = "X-aws-ec2-metadata-token"
PATH = "/latest/meta-data/instance-id"


async def test_tokens_required_refuses_imdsv1(metadata: Metadata) -> None:
    assert WEB.tokens_required  # the default: IMDSv2 only, as every instance had before
    async with metadata.client() as client:
        assert (await client.get(PATH)).status_code == 401
    assert (await metadata.get(PATH)).text == WEB.instance_id


async def test_tokens_optional_answers_imdsv1_but_not_a_bad_token(metadata: Metadata) -> None:
    metadata.instances.by_ip[WEB_ADDRESS] = replace(WEB, tokens_required=False)
    async with metadata.client() as client:
        plain = await client.get(PATH)
        assert (plain.status_code, plain.text) == (200, WEB.instance_id)
        # As on EC2: a token given must be valid, even when none is needed.
        assert (await client.get(PATH, headers={TOKEN: "not-a-token"})).status_code == 401
    assert (await metadata.get(PATH)).text == WEB.instance_id  # IMDSv2 still works


async def test_endpoint_disabled_answers_nothing(metadata: Metadata) -> None:
    metadata.instances.by_ip[WEB_ADDRESS] = replace(WEB, endpoint_enabled=False)
    async with metadata.client() as client:
        minted = await client.put(
            "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        assert minted.status_code == 403
        assert (await client.get(PATH)).status_code == 403
        assert WEB.instance_id not in (await client.get("/latest/meta-data/")).text


async def test_tags_are_shown_only_when_enabled(metadata: Metadata) -> None:
    assert (await metadata.get("/latest/meta-data/tags/instance/")).status_code == 404
    assert "tags/" not in (await metadata.get("/latest/meta-data/")).text
    tags = (("Name", "web-1"), ("team", "payments"), ("a/b", "unreachable"))
    metadata.instances.by_ip[WEB_ADDRESS] = replace(WEB, tags=tags)
    assert "tags/" in (await metadata.get("/latest/meta-data/")).text.splitlines()
    listed = await metadata.get("/latest/meta-data/tags/instance")
    assert listed.text.splitlines() == ["Name", "team"]
    assert (await metadata.get("/latest/meta-data/tags/instance/Name")).text == "web-1"
    assert (await metadata.get("/latest/meta-data/tags/instance/team")).text == "payments"
    assert (await metadata.get("/latest/meta-data/tags/instance/other")).status_code == 404


@pytest.fixture
def driver() -> MemoryDriver:
    return MemoryDriver("host-a")


@pytest.fixture
async def compute(tmp_path: Path, driver: MemoryDriver) -> AsyncIterator[ComputeService]:
    service = compute_over(MemoryComputeStore(), driver, tmp_path)
    yield service
    await service.close()


async def test_the_directory_reads_the_options_at_each_request(
    compute: ComputeService, driver: MemoryDriver, tmp_path: Path
) -> None:
    instance = await launch(
        compute,
        tmp_path,
        instance_tags=(("Name", "web-1"),),
        metadata_options=MetadataOptions(http_tokens="optional", instance_metadata_tags="enabled"),
    )
    assert instance.public_ip is not None
    directory = ComputeInstanceDirectory(compute.store, driver, "eu-fr-1")
    found = await directory.by_address(instance.public_ip)
    assert found is not None
    assert (found.tokens_required, found.endpoint_enabled) == (False, True)
    assert found.tags == (("Name", "web-1"),)
    assert found.put_response_hop_limit == 1  # EC2's default (decision 0148)
    await compute.set_metadata_options(
        TENANT,
        instance.instance_id,
        http_tokens="required",
        http_endpoint="disabled",
        instance_metadata_tags="disabled",
        hop_limit=2,
    )
    found = await directory.by_address(instance.public_ip)
    assert found is not None
    assert (found.tokens_required, found.endpoint_enabled, found.tags) == (True, False, None)
    assert found.put_response_hop_limit == 2


async def test_a_guest_of_an_instance_with_imdsv1_reads_without_a_token(
    compute: ComputeService, driver: MemoryDriver, tmp_path: Path
) -> None:
    # The whole path a guest takes, over compute's records: launched with tokens optional.
    instance = await launch(
        compute, tmp_path, metadata_options=MetadataOptions(http_tokens="optional")
    )
    assert instance.public_ip is not None
    directory = ComputeInstanceDirectory(compute.store, driver, "eu-fr-1")

    async def no_credentials(_: object) -> None:
        return None

    cache = CredentialsCache(no_credentials, refresh_margin=60)
    app = MetadataApp(directory, cache, TokenAuthority(), ImdsLimits())
    transport = httpx.ASGITransport(app=app, client=(instance.public_ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://169.254.169.254") as c:
        answer = await c.get(PATH)
        assert (answer.status_code, answer.text) == (200, instance.instance_id)
        await compute.set_metadata_options(TENANT, instance.instance_id, http_tokens="required")
        assert (await c.get(PATH)).status_code == 401
