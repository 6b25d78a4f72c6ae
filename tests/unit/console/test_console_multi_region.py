"""The console's Multi-Region Access Point pages (decision 0391), with two Regions: created
over a bucket of each through S3 Control's own call, listed, shown (alias, ARN, Regions,
dials, policy), a Region dialled to 0 as S3 Control's routes then say, every Region passive
refused in S3 Control's words, two buckets of one Region refused, deleted once confirmed; in
French too."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from andromede.storage.multi_region_access_points import (
    MultiRegionAccessPointStore,
    SqlMultiRegionAccessPointStore,
)
from support.console import ConsoleHarness, console_harness, csrf, sign_in_root

PAGE = "/multi-region-access-points"
_REGIONS = [{"name": "eu-fr-1"}, {"name": "eu-de-1"}]


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, regions=_REGIONS) as harness:
        yield harness


def _store(console: ConsoleHarness) -> MultiRegionAccessPointStore:
    """The store the running S3 Control writes (SQL: every worker reads the same rows)."""
    running = console.application._running
    assert running is not None
    return SqlMultiRegionAccessPointStore(running.db)


async def _buckets(client: httpx.AsyncClient, token: str) -> None:
    for name, region in (("mr-fr", "eu-fr-1"), ("mr-de", "eu-de-1"), ("mr-fr2", "eu-fr-1")):
        made = await client.post("/buckets", data={"csrf": token, "name": name, "region": region})
        assert made.status_code == 303, made.text


def _bucket_fields(page: httpx.Response, *names: str) -> dict[str, str]:
    """The create form's checkbox of each bucket named, ticked."""
    fields = {}
    for name in names:
        found = re.search(rf'name="(bucket_\d+)" value="{name}"', page.text)
        assert found is not None, page.text
        fields[found[1]] = name
    return fields


async def test_created_shown_dialled_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client)
        await _buckets(client, token)
        buckets = await client.get("/buckets")
        assert 'href="/console/multi-region-access-points"' in buckets.text
        empty = await client.get(PAGE)
        assert empty.status_code == 200, empty.text
        assert 'id="no-mraps"' in empty.text and "mr-de (eu-de-1)" in empty.text

        two_french = await client.post(
            PAGE,
            data={"csrf": token, "name": "bad", **_bucket_fields(empty, "mr-fr", "mr-fr2")},
        )
        assert two_french.status_code == 400 and "Only one bucket per Region" in two_french.text
        none = await client.post(PAGE, data={"csrf": token, "name": "bad"})
        assert none.status_code == 400 and "Choose at least one bucket." in none.text

        created = await client.post(
            PAGE, data={"csrf": token, "name": "docs", **_bucket_fields(empty, "mr-fr", "mr-de")}
        )
        assert created.status_code == 303, created.text
        assert created.headers["location"].split("?")[0] == f"/console{PAGE}/docs"
        held = await _store(console).get(tenant, "docs")
        assert held is not None
        assert {(r.bucket, r.region) for r in held.routes} == {
            ("mr-fr", "eu-fr-1"),
            ("mr-de", "eu-de-1"),
        }
        listed = await client.get(PAGE)
        assert 'id="mrap-docs"' in listed.text and held.alias in listed.text

        shown = await client.get(f"{PAGE}/docs")
        assert shown.status_code == 200, shown.text
        assert held.alias in shown.text
        assert f"arn:aws:s3::{tenant}:accesspoint/{held.alias}" in shown.text
        assert 'id="mrap-no-policy"' in shown.text
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
                  "Principal": "*", "Action": "s3:PutObject",
                  "Resource": f"{held.arn}/object/*"}]}  # fmt: skip
        assert await _store(console).set_policy(tenant, "docs", json.dumps(policy))
        assert "s3:PutObject" in (await client.get(f"{PAGE}/docs")).text

        dialled = await client.post(
            f"{PAGE}/docs/routes", data={"csrf": token, "dial_eu-fr-1": "0", "dial_eu-de-1": "100"}
        )
        assert dialled.status_code == 303, dialled.text
        held = await _store(console).get(tenant, "docs")
        assert held is not None
        assert {r.region: r.dial for r in held.routes} == {"eu-fr-1": 0, "eu-de-1": 100}
        page = await client.get(f"{PAGE}/docs")
        selected = re.search(r'id="dial-eu-fr-1">\s*<option value="100">[^<]*</option>\s*'
                             r'<option value="0" selected>', page.text)  # fmt: skip
        assert selected is not None, page.text
        all_passive = await client.post(
            f"{PAGE}/docs/routes", data={"csrf": token, "dial_eu-fr-1": "0", "dial_eu-de-1": "0"}
        )
        assert all_passive.status_code == 400
        assert "At least one Region of the routing configuration must be active" in (
            all_passive.text
        )
        fifty = await client.post(f"{PAGE}/docs/routes", data={"csrf": token, "dial_eu-de-1": "50"})
        assert fifty.status_code == 400

        unticked = await client.post(f"{PAGE}/docs/delete", data={"csrf": token})
        assert unticked.status_code == 400
        assert await _store(console).get(tenant, "docs") is not None
        deleted = await client.post(f"{PAGE}/docs/delete", data={"csrf": token, "confirm": "yes"})
        assert deleted.status_code == 303, deleted.text
        assert await _store(console).get(tenant, "docs") is None
        missing = await client.get(f"{PAGE}/docs")
        assert missing.status_code == 404
        forged = await client.post(PAGE, data={"csrf": "forged", "name": "x"})
        assert forged.status_code == 403


async def test_the_pages_in_french(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await sign_in_root(console, client)
        page = await client.get(PAGE)
        assert page.status_code == 200, page.text
        assert "Points d’accès multi-Régions" in page.text  # noqa: RUF001 - French apostrophe
        assert "Aucun point d’accès multi-Régions." in page.text  # noqa: RUF001


def _switches(page: httpx.Response) -> dict[str, bool]:
    """The create form's Block Public Access checkboxes: ticked or not."""
    found = re.findall(r'name="(\w+)" value="yes" id="mrap-switch-\w+"( checked)?', page.text)
    return {name: bool(checked) for name, checked in found}


def _operation(page: httpx.Response) -> tuple[str, str]:
    named = re.search(r'id="mrap-operation-name">([^<]*)<', page.text)
    status = re.search(r'id="mrap-operation-status">([^<]*)<', page.text)
    assert named is not None and status is not None, page.text
    return named[1], status[1]


async def test_block_public_access_policy_and_operations(console: ConsoleHarness) -> None:
    """Decision 0401: the Block Public Access switches chosen at creation (all on unless
    unticked), the policy edited through PutMultiRegionAccessPointPolicy (refusals shown
    with the policy as typed) and shown with its status, and each asynchronous call's
    operation as DescribeMultiRegionAccessPointOperation answers its token."""
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client)
        await _buckets(client, token)
        empty = await client.get(PAGE)
        every = {
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        }
        assert _switches(empty) == dict.fromkeys(every, True)
        refused = await client.post(
            PAGE, data={"csrf": token, "name": "bad", "BlockPublicAcls": "yes",
                        **_bucket_fields(empty, "mr-fr", "mr-fr2")},
        )  # fmt: skip
        assert refused.status_code == 400
        assert _switches(refused) == {s: s == "BlockPublicAcls" for s in every}

        strict = await client.post(
            PAGE, data={"csrf": token, "name": "strict", **dict.fromkeys(every, "yes"),
                        **_bucket_fields(empty, "mr-fr")},
        )  # fmt: skip
        assert strict.status_code == 303, strict.text
        location = strict.headers["location"]
        assert location.startswith(f"/console{PAGE}/strict?operation=arn%3Aaws%3As3%3A")
        shown = await client.get(location.removeprefix("/console"))
        assert _operation(shown) == ("CreateMultiRegionAccessPoint", "SUCCEEDED")
        assert "Block new public ACLs (<code>BlockPublicAcls</code>): On" in shown.text
        held = await _store(console).get(tenant, "strict")
        assert held is not None and held.public_access_block.block_public_policy
        strict_arn = held.arn

        opened = await client.post(
            PAGE, data={"csrf": token, "name": "open", "BlockPublicAcls": "yes",
                        **_bucket_fields(empty, "mr-fr", "mr-de")},
        )  # fmt: skip
        assert opened.status_code == 303, opened.text
        held = await _store(console).get(tenant, "open")
        assert held is not None
        block = held.public_access_block
        assert block.block_public_acls and not block.block_public_policy
        assert not block.ignore_public_acls and not block.restrict_public_buckets
        assert "(<code>BlockPublicPolicy</code>): Off" in (await client.get(f"{PAGE}/open")).text

        def public_to(arn: str) -> str:
            return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                               "Principal": "*", "Action": "s3:GetObject",
                               "Resource": f"{arn}/object/*"}]})  # fmt: skip

        public = public_to(held.arn)
        blocked = await client.post(
            f"{PAGE}/strict/policy", data={"csrf": token, "policy": public_to(strict_arn)}
        )
        assert blocked.status_code == 403, blocked.text
        assert "AccessDenied" in blocked.text
        assert 'id="mrap-policy-text"' in blocked.text and "s3:GetObject" in blocked.text
        strict_held = await _store(console).get(tenant, "strict")
        assert strict_held is not None and strict_held.policy is None
        malformed = await client.post(
            f"{PAGE}/open/policy", data={"csrf": token, "policy": "{not json"}
        )
        assert malformed.status_code == 400, malformed.text
        assert "{not json</textarea>" in malformed.text
        forged = await client.post(f"{PAGE}/open/policy", data={"csrf": "x", "policy": public})
        assert forged.status_code == 403
        held = await _store(console).get(tenant, "open")
        assert held is not None and held.policy is None

        put = await client.post(f"{PAGE}/open/policy", data={"csrf": token, "policy": public})
        assert put.status_code == 303, put.text
        held = await _store(console).get(tenant, "open")
        assert held is not None and held.policy is not None
        assert json.loads(held.policy) == json.loads(public)
        page = await client.get(put.headers["location"].removeprefix("/console"))
        assert _operation(page) == ("PutMultiRegionAccessPointPolicy", "SUCCEEDED")
        assert 'id="mrap-policy-status">This policy is public.' in page.text
        private = public_to(strict_arn).replace(
            '"Principal": "*"', f'"Principal": {{"AWS": "{tenant}"}}'
        )
        assert (await client.post(
            f"{PAGE}/strict/policy", data={"csrf": token, "policy": private}
        )).status_code == 303  # fmt: skip
        page = await client.get(f"{PAGE}/strict")
        assert 'id="mrap-policy-status">This policy is not public.' in page.text
        assert 'id="mrap-operation' not in page.text  # no token, no operation shown

        stranger = await client.get(
            f"{PAGE}/open",
            params={"operation": f"arn:aws:s3:eu-fr-1:{tenant}:async-request/mrap/put-policy/0"},
        )
        assert stranger.status_code == 200
        assert (
            'id="mrap-operation-error"' in stranger.text and "NoSuchAsyncRequest" in stranger.text
        )

        deleted = await client.post(f"{PAGE}/open/delete", data={"csrf": token, "confirm": "yes"})
        assert deleted.status_code == 303, deleted.text
        listed = await client.get(deleted.headers["location"].removeprefix("/console"))
        assert _operation(listed) == ("DeleteMultiRegionAccessPoint", "SUCCEEDED")
        assert 'id="mrap-open"' not in listed.text
