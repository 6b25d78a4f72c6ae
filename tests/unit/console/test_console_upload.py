"""Console uploads streamed to S3 a part at a time (console/upload.py): a file larger than
a part goes up as a multipart upload and reads back whole; a failure or a client that goes
away mid-upload leaves no multipart upload behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from support.console import ConsoleHarness, console_harness, csrf, log_in

_PART: int = 5 * 1024 * 1024  # console_upload_part_size's minimum
_BOUNDARY = "console-upload-test-boundary"


async def _root_with_bucket(console: ConsoleHarness, client: httpx.AsyncClient, bucket: str) -> str:
    await console.user_with_password(console.admin_tenant_id, "root")
    assert (await log_in(client, "admin", "root")).status_code == 303
    token = await csrf(client)
    created = await client.post(
        "/buckets", data={"csrf": token, "name": bucket, "region": "eu-fr-1"}
    )
    assert created.status_code == 303
    return token


async def test_a_file_of_several_parts_reads_back_whole(tmp_path: Path) -> None:
    payload = os.urandom(2 * _PART + 12_345)  # two full parts and a short last one
    async with (
        console_harness(tmp_path, console_upload_part_size=_PART) as console,
        console.client() as client,
    ):
        token = await _root_with_bucket(console, client, "large")
        uploaded = await client.post(
            "/buckets/large/upload",
            data={"csrf": token, "prefix": "in/"},
            files={"file": ("large.bin", payload, "application/octet-stream")},
        )
        assert uploaded.status_code == 303, uploaded.text
        assert uploaded.headers["location"] == "/console/buckets/large?prefix=in%2F"
        download = await client.get("/buckets/large/download", params={"key": "in/large.bin"})
        assert download.status_code == 200
        assert download.content == payload
        # A multipart object's ETag names its part count: three parts, not one PutObject.
        assert download.headers["etag"].strip('"').endswith("-3")
        assert download.headers["content-type"] == "application/octet-stream"
        assert await console.multipart_uploads(client, "large") == []


async def test_a_file_of_exactly_one_part_is_one_put(tmp_path: Path) -> None:
    payload = os.urandom(_PART)
    async with (
        console_harness(tmp_path, console_upload_part_size=_PART) as console,
        console.client() as client,
    ):
        token = await _root_with_bucket(console, client, "exact")
        uploaded = await client.post(
            "/buckets/exact/upload",
            data={"csrf": token},
            files={"file": ("exact.bin", payload, "application/octet-stream")},
        )
        assert uploaded.status_code == 303, uploaded.text
        download = await client.get("/buckets/exact/download", params={"key": "exact.bin"})
        assert download.content == payload
        assert "-" not in download.headers["etag"]


async def test_a_bad_form_after_parts_were_sent_leaves_nothing(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_upload_part_size=_PART) as console,
        console.client() as client,
    ):
        token = await _root_with_bucket(console, client, "half")
        two_files = await client.post(
            "/buckets/half/upload",
            data={"csrf": token},
            files=[
                ("file", ("a.bin", os.urandom(_PART + 1024), "application/octet-stream")),
                ("file", ("b.bin", b"b", "text/plain")),
            ],
        )
        assert two_files.status_code == 400
        assert await console.multipart_uploads(client, "half") == []
        assert 'class="object"' not in (await client.get("/buckets/half")).text


async def test_a_client_gone_mid_upload_leaves_nothing(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_upload_part_size=_PART) as console,
        console.client() as client,
    ):
        token = await _root_with_bucket(console, client, "gone")
        head = (
            f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            f"--{_BOUNDARY}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="gone.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        # More than a part: the first part is sent before the client goes.
        sent = [head, *(os.urandom(1024 * 1024) for _ in range(7))]
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if sent:
                return {"type": "http.request", "body": sent.pop(0), "more_body": True}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        cookie = f"andromede_console={client.cookies['andromede_console']}"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/console/buckets/gone/upload",
            "raw_path": b"/console/buckets/gone/upload", "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 9001),
            "headers": [
                (b"host", b"127.0.0.1:9001"), (b"cookie", cookie.encode()),
                (b"content-type", f"multipart/form-data; boundary={_BOUNDARY}".encode()),
            ],
        }  # fmt: skip
        await console.application(scope, receive, send)
        assert not sent  # the whole body was read: a part had gone to S3
        assert await console.multipart_uploads(client, "gone") == []
        assert 'class="object"' not in (await client.get("/buckets/gone")).text


async def test_a_refused_upload_leaves_nothing(tmp_path: Path) -> None:
    """S3's refusal of a multipart upload is shown as a page, as S3 said it."""
    async with (
        console_harness(tmp_path, console_upload_part_size=_PART) as console,
        console.client() as client,
    ):
        token = await _root_with_bucket(console, client, "mine")
        refused = await client.post(
            "/buckets/no-such-bucket-here/upload",
            data={"csrf": token},
            files={"file": ("a.bin", os.urandom(_PART + 1), "application/octet-stream")},
        )
        assert refused.status_code == 404 and "NoSuchBucket" in refused.text


def _form(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A multipart body with the parts in the order given: (name, filename or None, data)."""
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{_BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += data + b"\r\n"
    return body + f"--{_BOUNDARY}--\r\n".encode()


async def test_forms_not_as_the_console_renders_them_are_400(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _root_with_bucket(console, client, "order")
        headers = {"content-type": f"multipart/form-data; boundary={_BOUNDARY}"}
        csrf_field = ("csrf", None, token.encode())
        file_part = ("file", "a.txt", b"a")
        refused = {
            "a field after the file": _form(csrf_field, file_part, ("prefix", None, b"x/")),
            "too many fields": _form(*[("f", None, b"1")] * 9, csrf_field, file_part),
            "a field too large": _form(csrf_field, ("prefix", None, b"x" * 9000), file_part),
            "a body cut short": _form(csrf_field, file_part)[:-10],
        }
        for case, body in refused.items():
            reply = await client.post("/buckets/order/upload", content=body, headers=headers)
            assert reply.status_code == 400, case
        accepted = await client.post(
            "/buckets/order/upload",
            content=_form(csrf_field, ("prefix", None, b"x/"), file_part),
            headers=headers,
        )
        assert accepted.status_code == 303, accepted.text
        listed = await client.get("/buckets/order", params={"prefix": "x/"})
        assert listed.text.count('class="object"') == 1
        assert await console.multipart_uploads(client, "order") == []


async def test_another_tenants_bucket_takes_no_part(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_upload_part_size=_PART) as console:
        async with console.client() as owner:
            await _root_with_bucket(console, owner, "theirs")
            intruder = (await console.identity.create_tenant("intruder")).tenant.id
            await console.user_with_password(intruder, "root")
            async with console.client() as client:
                await log_in(client, "intruder", "root")
                token = await csrf(client)
                refused = await client.post(
                    "/buckets/theirs/upload",
                    data={"csrf": token},
                    files={"file": ("x.bin", os.urandom(2 * _PART + 1), "text/plain")},
                )
            assert refused.status_code == 403 and "AccessDenied" in refused.text
            assert await console.multipart_uploads(owner, "theirs") == []
            assert 'class="object"' not in (await owner.get("/buckets/theirs")).text
