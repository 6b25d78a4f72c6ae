"""The console's pages end to end in process: login, buckets, objects, keys, logout."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from support.console import ConsoleHarness, console_harness, csrf, log_in

# Larger than the console's upload chunk (256 KiB) and S3's encryption chunk (64 KiB).
_BIG = os.urandom(700 * 1024 + 13)


async def _root(console: ConsoleHarness, client: httpx.AsyncClient) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    logged = await log_in(client, "admin", "root")
    assert logged.status_code == 303, logged.text
    assert logged.headers["location"] == "/console/buckets"


async def test_bucket_and_object_life(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await _root(console, client)
        token = await csrf(client)
        created = await client.post(
            "/buckets", data={"csrf": token, "name": "photos", "region": "eu-fr-1"}
        )
        assert created.status_code == 303
        listing = await client.get("/buckets")
        assert listing.status_code == 200 and "photos" in listing.text and "eu-fr-1" in listing.text

        uploaded = await client.post(
            "/buckets/photos/upload",
            data={"csrf": token, "prefix": "2026/"},
            files={"file": ("big.bin", _BIG, "application/octet-stream")},
        )
        assert uploaded.status_code == 303, uploaded.text
        top = await client.get("/buckets/photos")
        assert "2026/" in top.text and "big.bin" not in top.text
        folder = await client.get("/buckets/photos", params={"prefix": "2026/"})
        assert "big.bin" in folder.text and str(len(_BIG)) in folder.text
        assert "SSE-S3" in folder.text

        download = await client.get("/buckets/photos/download", params={"key": "2026/big.bin"})
        assert download.status_code == 200
        assert download.content == _BIG
        assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''big.bin"

        not_empty = await client.post("/buckets/photos/delete", data={"csrf": token})
        assert not_empty.status_code == 409
        assert "BucketNotEmpty" in not_empty.text and "not empty" in not_empty.text

        deleted = await client.post(
            "/buckets/photos/delete-object", data={"csrf": token, "key": "2026/big.bin"}
        )
        assert deleted.status_code == 303
        assert deleted.headers["location"] == "/console/buckets/photos?prefix=2026%2F"
        gone = await client.post("/buckets/photos/delete", data={"csrf": token})
        assert gone.status_code == 303
        assert "photos" not in (await client.get("/buckets")).text


async def test_objects_are_paged_by_the_setting(tmp_path: Path) -> None:
    page_size = 3
    async with (
        console_harness(tmp_path, console_page_size=page_size) as console,
        console.client() as client,
    ):
        await _root(console, client)
        token = await csrf(client)
        await client.post("/buckets", data={"csrf": token, "name": "many", "region": "eu-fr-1"})
        for index in range(page_size + 2):
            reply = await client.post(
                "/buckets/many/upload",
                data={"csrf": token},
                files={"file": (f"o{index:04d}", b"x", "text/plain")},
            )
            assert reply.status_code == 303
        first = await client.get("/buckets/many")
        assert first.text.count('class="object"') == page_size
        assert 'rel="next"' in first.text
        next_url = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
        second = await client.get(f"http://127.0.0.1:9001{next_url.replace('&amp;', '&')}")
        assert second.text.count('class="object"') == 2
        assert 'rel="next"' not in second.text


async def test_kms_keys(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await _root(console, client)
        token = await csrf(client, "/keys")
        created = await client.post("/keys", data={"csrf": token, "description": "backups"})
        assert created.status_code == 303
        page = await client.get("/keys")
        assert "backups" in page.text and "Enabled" in page.text
        key_id = page.text.split("<code>")[1].split("</code>")[0]
        assert (
            await client.post(f"/keys/{key_id}/disable", data={"csrf": token})
        ).status_code == 303
        assert "Disabled" in (await client.get("/keys")).text
        assert (
            await client.post(f"/keys/{key_id}/enable", data={"csrf": token})
        ).status_code == 303
        too_short = await client.post(
            f"/keys/{key_id}/schedule-deletion", data={"csrf": token, "days": "3"}
        )
        assert too_short.status_code == 400 and "ValidationException" in too_short.text
        scheduled = await client.post(
            f"/keys/{key_id}/schedule-deletion", data={"csrf": token, "days": "7"}
        )
        assert scheduled.status_code == 303
        assert "PendingDeletion" in (await client.get("/keys")).text


async def test_a_user_without_permission_sees_s3s_refusal(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        buckets = await client.get("/buckets")
        token = await csrf(client)
        create = await client.post(
            "/buckets", data={"csrf": token, "name": "nope", "region": "eu-fr-1"}
        )
        keys = await client.get("/keys")
    assert buckets.status_code == 403 and "AccessDenied" in buckets.text
    assert create.status_code == 403 and "Access denied" in create.text
    # KMS answers AccessDeniedException with 400, as AWS KMS does.
    assert keys.status_code == 400 and "AccessDeniedException" in keys.text


async def test_a_user_with_a_policy_is_let_in(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "dev")
    policy = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["s3:ListAllMyBuckets", "s3:CreateBucket"], "Resource": "*"}]}'
    )
    await console.identity.put_user_policy(tenant, "dev", "buckets", policy)
    async with console.client() as client:
        assert (await log_in(client, "admin", "dev")).status_code == 303
        token = await csrf(client)
        created = await client.post(
            "/buckets", data={"csrf": token, "name": "devs", "region": "eu-fr-1"}
        )
        listed = await client.get("/buckets")
    assert created.status_code == 303
    assert listed.status_code == 200 and "devs" in listed.text


async def test_an_empty_key_never_names_the_bucket(console: ConsoleHarness) -> None:
    """``/bucket/`` is the bucket: a DELETE of it would be DeleteBucket, a GET ListObjects."""
    async with console.client() as client:
        await _root(console, client)
        token = await csrf(client)
        await client.post("/buckets", data={"csrf": token, "name": "kept", "region": "eu-fr-1"})
        deleted = await client.post("/buckets/kept/delete-object", data={"csrf": token, "key": ""})
        download = await client.get("/buckets/kept/download", params={"key": ""})
        listing = await client.get("/buckets")
    assert deleted.status_code == 404 and "NoSuchKey" in deleted.text
    assert download.status_code == 404 and "ListBucketResult" not in download.text
    assert "kept" in listing.text
