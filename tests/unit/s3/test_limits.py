"""Every S3 limit is a setting: each is enforced at the value configured, in process."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import defusedxml.ElementTree as ElementTree

from support.s3app import in_process_client

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


async def test_max_part_size_and_max_parts(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_part_size=10, max_parts=3) as client:
        await client.request("PUT", "/limits")
        created = await client.request("POST", "/limits/mp?uploads")
        upload_id = ElementTree.fromstring(created.body).findtext(f"{NS}UploadId")
        ok = await client.request("PUT", f"/limits/mp?partNumber=3&uploadId={upload_id}", b"x" * 10)
        assert ok.status == 200
        big = await client.request(
            "PUT", f"/limits/mp?partNumber=1&uploadId={upload_id}", b"x" * 11
        )
        assert (big.status, big.error_code()) == (400, "EntityTooLarge")
        four = await client.request("PUT", f"/limits/mp?partNumber=4&uploadId={upload_id}", b"x")
        assert (four.status, four.error_code()) == (400, "InvalidArgument")


async def test_max_list_keys_caps_max_keys(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_list_keys=2) as client:
        await client.request("PUT", "/limits")
        for key in ("a", "b", "c"):
            await client.request("PUT", f"/limits/{key}", b"x")
        listed = await client.request("GET", "/limits?list-type=2&max-keys=1000")
        root = ElementTree.fromstring(listed.body)
        assert [k.text for k in root.iter(f"{NS}Key")] == ["a", "b"]
        assert root.findtext(f"{NS}MaxKeys") == "2"
        assert root.findtext(f"{NS}IsTruncated") == "true"


async def test_max_xml_body_size(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_xml_body_size=200) as client:
        await client.request("PUT", "/limits")
        objects = "".join(f"<Object><Key>key-{n}</Key></Object>" for n in range(10))
        body = f"<Delete>{objects}</Delete>".encode()
        reply = await client.request("POST", "/limits?delete", body)
        assert (reply.status, reply.error_code()) == (400, "MalformedXML")
        one = b"<Delete><Object><Key>key-0</Key></Object></Delete>"
        md5 = base64.b64encode(hashlib.md5(one, usedforsecurity=False).digest()).decode()
        small = await client.request("POST", "/limits?delete", one, {"Content-MD5": md5})
        assert small.status == 200


async def test_presign_max_expiry(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, presign_max_expiry=60) as client:
        await client.request("PUT", "/limits")
        await client.request("PUT", "/limits/k", b"x")
        signer = client.raw_signer()
        fine = await client.request(
            "GET", signer.presign("GET", "/limits/k", expires=60), sign=False
        )
        assert (fine.status, fine.body) == (200, b"x")
        long = await client.request(
            "GET", signer.presign("GET", "/limits/k", expires=61), sign=False
        )
        assert long.status in (400, 403)
        assert long.error_code() in ("AuthorizationQueryParametersError", "AccessDenied")


async def test_clock_skew(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, clock_skew=60) as client:
        signer = client.raw_signer()
        now = datetime.now(UTC)
        for offset, expected in ((timedelta(seconds=30), 200), (timedelta(seconds=120), 403)):
            headers = signer.sign("GET", "/", payload_hash="UNSIGNED-PAYLOAD", when=now - offset)
            reply = await client.request("GET", "/", headers=headers, sign=False)
            assert reply.status == expected
        assert reply.error_code() == "RequestTimeTooSkewed"


async def test_body_read_timeout(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, body_read_timeout=0.2) as client:
        await client.request("PUT", "/limits")
        reply = await client.request("PUT", "/limits/slow", b"x" * 100, stall=True)
        assert (reply.status, reply.error_code()) == (400, "RequestTimeout")
        missing = await client.request("HEAD", "/limits/slow")
        assert missing.status == 404  # nothing half-written became visible


async def test_max_header_size(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_header_size=2048) as client:
        fine = await client.request("GET", "/", headers={"x-amz-meta-a": "x" * 100})
        assert fine.status == 200
        big = await client.request("GET", "/", headers={"x-padding": "x" * 3000})
        assert (big.status, big.error_code()) == (400, "RequestHeaderSectionTooLarge")


async def test_rate_limit_per_key(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, rate_limit_per_key=2) as client:
        statuses = [(await client.request("GET", "/")).status for _ in range(3)]
        assert statuses == [200, 200, 503]
        slow = await client.request("GET", "/")
        assert (slow.status, slow.error_code()) == (503, "SlowDown")
