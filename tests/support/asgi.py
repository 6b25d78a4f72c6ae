"""One signed POST driven straight into an ASGI app, as the in-process API harnesses send them
(IAM/STS, EC2 and KMS all answer ``POST /`` on the S3 endpoint)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

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
) -> tuple[int, dict[str, str], bytes]:
    """POST ``body`` with ``headers`` (a signed request's) to ``app`` from ``client`` (or
    another ``method`` to another ``path``); the answer's status, headers (lower-cased names)
    and body."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "scheme": "http",
        "client": client,
        "headers": [(b"host", b"127.0.0.1:9000")]
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
