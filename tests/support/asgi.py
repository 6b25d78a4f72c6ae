"""One signed request driven straight into an ASGI app, as the in-process API harnesses send
them: a POST to ``/`` (IAM/STS, EC2, KMS, SQS, CloudWatch on the S3 endpoint) or any method to
a REST API's path (Lambda, Pipes, Route 53), its answer read back whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote

__all__ = ["post"]

AsgiApp = Callable[..., Awaitable[None]]


async def post(
    app: AsgiApp,
    headers: Mapping[str, str],
    body: bytes,
    client: tuple[str, int],
    *,
    method: str = "POST",
    path: str = "/",
    query: bytes = b"",
    host: str = "127.0.0.1:9000",
    scheme: str = "http",
) -> tuple[int, dict[str, str], bytes]:
    """POST ``body`` with ``headers`` (a signed request's) to ``app`` from ``client`` (or
    another ``method`` to another ``path``, percent-encoded as sent; for ``host`` over
    ``scheme``); the answer's status, headers (lower-cased names) and body."""
    scope = {
        "type": "http",
        "method": method,
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query,
        "scheme": scheme,
        "client": client,
        "headers": [(b"host", host.encode())]
        + [
            (name.lower().encode(), str(value).encode())
            for name, value in headers.items()
            if name.lower() != "host"
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    answer = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], answer, b"".join(m.get("body", b"") for m in sent[1:])
