"""A console upload leaves no plaintext on the server's disk: a real ``andromede serve`` with
its ``TMPDIR`` in the test's folder takes a file full of a random canary through the console
(login, CSRF, the upload form, as a browser sends it), and neither the temporary folder nor
the data folder holds the canary, raw, hex or base64 — looked for while the upload is under
way (the files the server holds open, deleted ones too) and after it.

Starlette's ``request.form()``, which the console used before, spooled a file past 1 MiB to
an unlinked temporary file in ``TMPDIR``; the look through ``/proc/PID/fd`` finds those.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from e2e.iam_helpers import client_for, new_tenant
from probe.test_encryption_at_rest import encodings, hits
from support.console import csrf, log_in
from support.server import running_server

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
PASSWORD = "Sovereign-Cloud-2026"


def _open_file_hits(pids: list[int], folders: list[Path], needles: list[bytes]) -> list[str]:
    """The canary in any file a server process holds open under ``folders`` (read through
    /proc, so an unlinked temporary file counts)."""
    found = []
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if not any(target.startswith(str(folder)) for folder in folders):
                continue
            try:
                content = fd.read_bytes()
            except OSError:
                continue
            found.extend(f"pid {pid} {target}: {n[:16]!r}" for n in needles if n in content)
    return found


async def test_a_console_upload_leaves_no_plaintext_on_disk(tmp_path: Path) -> None:
    # A short folder of its own, not under tmp_path: the fork server's unix socket goes in
    # TMPDIR, and a socket path is at most 107 bytes (xdist's tmp_path is longer than that).
    temporary = Path(tempfile.mkdtemp(prefix="andromede-up-"))
    try:
        await _upload_and_scan(tmp_path, temporary)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


async def _upload_and_scan(tmp_path: Path, temporary: Path) -> None:
    data_dir = tmp_path / "data"
    canary = os.urandom(12).hex().encode()
    needles = encodings(canary)
    # The canary every 64 KiB, over three parts of 5 MiB (a multipart upload).
    body = b"".join(os.urandom(64 * 1024) + canary for _ in range(180))
    extra_env = {"TMPDIR": str(temporary), "ANDROMEDE_CONSOLE_UPLOAD_PART_SIZE": str(5 * MIB)}
    with running_server(data_dir, extra_env=extra_env) as server:
        tenant = new_tenant(server, "upload")
        iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
        iam.create_user(UserName="alice")
        iam.put_user_policy(
            UserName="alice",
            PolicyName="storage",
            PolicyDocument='{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',
        )
        iam.create_login_profile(UserName="alice", Password=PASSWORD)
        bucket = f"canary-{uuid.uuid4().hex[:12]}"
        during: list[str] = []

        boundary = uuid.uuid4().hex

        async def form(token: str) -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="canary.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            for offset in range(0, len(body), MIB):
                yield body[offset : offset + MIB]
                if offset == 3 * MIB:  # past Starlette's 1 MiB spool, short of a part
                    await asyncio.sleep(1.0)
                    folders = [temporary, data_dir]
                    during.extend(_open_file_hits(server.pids(), folders, needles))
                    during.extend(hits(temporary, needles))
            yield f"\r\n--{boundary}--\r\n".encode()

        async with httpx.AsyncClient(
            base_url=f"{server.api_endpoint}/console", timeout=120
        ) as client:
            assert (await log_in(client, tenant.account, "alice", PASSWORD)).status_code == 303
            token = await csrf(client)
            created = await client.post(
                "/buckets", data={"csrf": token, "name": bucket, "region": "eu-fr-1"}
            )
            assert created.status_code == 303, created.text
            uploaded = await client.post(
                f"/buckets/{bucket}/upload",
                content=form(token),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            )
            assert uploaded.status_code == 303, uploaded.text
            download = await client.get(f"/buckets/{bucket}/download", params={"key": "canary.bin"})
            assert download.content == body
        assert during == []
        assert hits(temporary, needles) == []
        assert hits(data_dir, needles) == []
    assert hits(data_dir, needles) == []
