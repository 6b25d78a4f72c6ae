"""The answers' exchange between a serve's workers (decision 0384's "Workers"): an answer
passed on arrives whole, with its own headers and not the sender's credentials; a body cut
short is delivered as cut, never as whole; the owner's refusal comes back; a worker that is
gone is an invalid route; the socket and the folder go with the last worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.s3objectlambda.errors import ObjectLambdaError
from andromede.s3objectlambda.exchange import AnswerExchange, exchange_folder, route_owner


class Owner:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        self.failures: list[str] = []

    async def deliver(self, headers: dict[str, str], chunks: AsyncIterator[bytes]) -> None:
        self.headers.append(headers)
        if headers.get("x-amz-request-token") == "wrong":
            raise ObjectLambdaError("InvalidRequest", "The route or token is not valid")
        received = b""
        try:
            async for chunk in chunks:
                received += chunk
        except ObjectLambdaError as exc:
            self.failures.append(exc.code)
            raise
        self.bodies.append(received)


async def _body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _appeared(path: Path) -> None:
    for _ in range(400):
        if path.exists():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_routes_name_their_worker(tmp_path: Path) -> None:
    assert route_owner("io-1f2e3d4c-0123456789abcdef01234567") == "1f2e3d4c"
    assert route_owner("io-route-abc") is None
    assert route_owner("") is None
    folder = exchange_folder(tmp_path)
    assert folder == exchange_folder(tmp_path / ".")
    assert len(str(folder / "0123456789abcdef.sock")) < 107


async def test_answers_passed_between_workers(tmp_path: Path) -> None:
    folder = tmp_path / "ol"
    owner = Owner()
    holding = AnswerExchange(folder, "aaaa01", owner.deliver, timeout=10)
    other = AnswerExchange(folder, "bbbb02", Owner().deliver, timeout=10)
    ends = [asyncio.create_task(e.serve()) for e in (holding, other)]
    try:
        await _appeared(holding.path)
        await _appeared(other.path)
        headers = {
            "x-amz-request-route": "io-aaaa01-00000000",
            "x-amz-request-token": "t",
            "x-amz-fwd-status": "200",
            "content-length": "10",
            "authorization": "AWS4-HMAC-SHA256 Credential=secret",
            "x-amz-security-token": "session secret",
        }
        big = b"x" * 200_000  # more than one frame
        await other.forward("aaaa01", headers, _body(b"hello", big, b"world"))
        assert owner.bodies == [b"hello" + big + b"world"]
        assert owner.headers[0] == {
            "x-amz-request-route": "io-aaaa01-00000000",
            "x-amz-request-token": "t",
            "x-amz-fwd-status": "200",
            "content-length": "10",
        }
        with pytest.raises(ObjectLambdaError) as refused:
            await other.forward("aaaa01", {"x-amz-request-token": "wrong"}, _body(b"x" * 99))
        assert (refused.value.code, refused.value.status) == ("InvalidRequest", 400)
        with pytest.raises(ObjectLambdaError) as gone:
            await other.forward("cccc03", headers, _body(b"x"))
        assert gone.value.code == "InvalidRequest"

        # A sender lost before the end mark: the owner's caller gets a cut answer.
        reader, writer = await asyncio.open_unix_connection(str(holding.path))
        writer.write(b'{"headers": {}}\n' + b"5\nhello")
        writer.write_eof()
        reply = json.loads(await reader.readline())
        writer.close()
        assert reply["code"] == "RequestTimeout"
        assert owner.failures == ["RequestTimeout"]
        assert len(owner.bodies) == 1
    finally:
        for end in ends:
            end.cancel()
        await asyncio.gather(*ends, return_exceptions=True)
    assert not folder.exists()


async def test_a_folder_open_to_others_is_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    exchange = AnswerExchange(folder, "aaaa01", Owner().deliver, timeout=10)
    await asyncio.wait_for(exchange.serve(), 10)  # returns at once: nothing listens
    assert not exchange.path.exists()


async def test_refusals_reported_to_the_routes_worker(tmp_path: Path) -> None:
    """Decision 0411: an answer refused before it could be passed on is reported to its
    route's worker, which counts it; a malformed report is dropped; a worker gone raises."""
    folder = tmp_path / "ol"
    reports: list[tuple[str, int]] = []
    holding = AnswerExchange(folder, "aaaa01", Owner().deliver, timeout=10,
        report=lambda route, status: reports.append((route, status)))  # fmt: skip
    other = AnswerExchange(folder, "bbbb02", Owner().deliver, timeout=10)
    ends = [asyncio.create_task(e.serve()) for e in (holding, other)]
    try:
        await _appeared(holding.path)
        await _appeared(other.path)
        await other.report("aaaa01", "io-aaaa01-00000000", 403)
        assert reports == [("io-aaaa01-00000000", 403)]
        reader, writer = await asyncio.open_unix_connection(str(holding.path))
        writer.write(b'{"report": {"route": "io-aaaa01-00000000", "status": "403"}}\n')
        assert json.loads(await reader.readline()) == {"code": None}
        writer.close()
        assert len(reports) == 1  # a status not a number: not counted
        with pytest.raises(OSError):
            await other.report("cccc03", "io-cccc03-00000000", 403)
    finally:
        for end in ends:
            end.cancel()
        await asyncio.gather(*ends, return_exceptions=True)
